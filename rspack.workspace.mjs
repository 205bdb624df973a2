// rspack build of the test fixtures and the bench (their nest-cli.json projects
// point here): Nest's defaults, except that '#nestjs-tasks-internal' (the
// library's internals, through the "imports" of package.json) stays out of the
// bundle, as 'nestjs-tasks' itself does. Bundled, it would be a second copy of
// the library beside the one in node_modules: other classes and injection
// tokens than those TasksModule provides. Left to Node, it resolves to
// libs/tasks/dist next to the package's own entries, so there is one copy.
// test/architecture/public-api.spec.ts checks the built bundles.
export const INTERNAL_ENTRY = '#nestjs-tasks-internal';

/** Nest's rspack configuration `defaults`, with the internal entry external. */
export function workspaceConfig(defaults) {
  return { ...defaults, externals: [{ [INTERNAL_ENTRY]: `module ${INTERNAL_ENTRY}` }, ...defaults.externals] };
}

export default workspaceConfig;
