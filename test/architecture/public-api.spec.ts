import { execFileSync, spawnSync } from 'node:child_process';
import { readFileSync, readdirSync, writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { join, relative } from 'node:path';
import { pathToFileURL } from 'node:url';
import ts from 'typescript';
import { describe, expect, it } from 'vitest';
import { TasksConfigurationError, TasksModule } from 'nestjs-tasks';
import { EventPublisher } from 'nestjs-tasks/extras';
import { CronRunStore, TaskWorkerHost, buildCronMetadata } from '#nestjs-tasks-internal';

// The names each public entry of nestjs-tasks exports, held to the reviewed
// list libs/tasks/public-api.json: a name added to or dropped from an entry
// fails here until the list says so, in the same change. The internals the
// repository's own tests drive are reachable only through the workspace's
// '#nestjs-tasks-internal', never through the package.

const ROOT = join(import.meta.dirname, '../..');
const LIB = join(ROOT, 'libs/tasks');
const REVIEWED_FILE = join(LIB, 'public-api.json');
const INTERNAL_ENTRY = '#nestjs-tasks-internal';

interface EntryNames {
  /** Names a program can import at run time (classes, functions, constants, enums). */
  runtime: string[];
  /** Names that exist for the type checker only (interfaces, type aliases, type-only exports). */
  types: string[];
}

type Reviewed = Record<string, EntryNames>;

type ConditionalTarget = { import: { types: string; default: string }; require: { types: string; default: string } };
const manifest = JSON.parse(readFileSync(join(LIB, 'package.json'), 'utf8')) as {
  name: string;
  exports: Record<string, string | ConditionalTarget>;
  tshy: { exports: Record<string, string> };
};

/** The package's entries as a consumer imports them ('nestjs-tasks', 'nestjs-tasks/extras', ...), with their build. */
const entries = Object.entries(manifest.exports)
  .filter(([subpath]) => subpath !== './package.json')
  .map(([subpath, target]) => {
    const { import: esm, require: cjs } = target as ConditionalTarget;
    return { specifier: subpath === '.' ? manifest.name : `${manifest.name}/${subpath.slice(2)}`, esm, cjs };
  });

const readReviewed = (): Reviewed => {
  const { $comment: _comment, ...reviewed } = JSON.parse(readFileSync(REVIEWED_FILE, 'utf8')) as Reviewed & { $comment?: string };
  return reviewed as Reviewed;
};

type Declared = Map<string, { checker: ts.TypeChecker; symbols: ts.Symbol[] }>;
let declared: Declared | undefined;

/** The exported symbols of each entry's built declarations, through the TypeScript compiler (one program for every test). */
function declaredExports(): Declared {
  declared ??= compileDeclarations();
  return declared;
}

function compileDeclarations(): Declared {
  const files = entries.map(({ esm }) => join(LIB, esm.types));
  const program = ts.createProgram(files, {
    module: ts.ModuleKind.NodeNext,
    moduleResolution: ts.ModuleResolutionKind.NodeNext,
    target: ts.ScriptTarget.ES2023,
    skipLibCheck: true,
    noEmit: true,
  });
  const checker = program.getTypeChecker();
  return new Map(
    entries.map(({ specifier }, i) => {
      const source = program.getSourceFile(files[i] as string);
      if (!source) throw new Error(`${files[i]} is missing: run npm run build:lib`);
      const module = checker.getSymbolAtLocation(source);
      if (!module) throw new Error(`${files[i]} exports nothing`);
      return [specifier, { checker, symbols: checker.getExportsOfModule(module) }];
    }),
  );
}

async function actualNames(): Promise<Reviewed> {
  const exported = declaredExports();
  const require = createRequire(join(LIB, 'package.json'));
  const actual: Reviewed = {};
  for (const { specifier, esm, cjs } of entries) {
    const runtime = Object.keys((await import(pathToFileURL(join(LIB, esm.default)).href)) as object).sort();
    const commonjs = Object.keys(require(join(LIB, cjs.default)) as object).sort();
    expect(commonjs, `the CommonJS build of ${specifier} exports other names than its ESM build`).toEqual(runtime);
    const names = (exported.get(specifier)?.symbols ?? []).map((symbol) => symbol.name);
    const undeclared = runtime.filter((name) => !names.includes(name));
    expect(undeclared, `${specifier} exports these at run time, but its declarations do not`).toEqual([]);
    actual[specifier] = { runtime, types: names.filter((name) => !runtime.includes(name)).sort() };
  }
  return actual;
}

/** What changed between the reviewed list and the build, one line per name. */
function differences(reviewed: Reviewed, actual: Reviewed): string[] {
  const lines: string[] = [];
  for (const specifier of new Set([...Object.keys(reviewed), ...Object.keys(actual)])) {
    for (const kind of ['runtime', 'types'] as const) {
      const before = new Set(reviewed[specifier]?.[kind] ?? []);
      const after = new Set(actual[specifier]?.[kind] ?? []);
      for (const name of after) if (!before.has(name)) lines.push(`  + ${specifier}: ${name} (${kind}) is exported but not in the reviewed list`);
      for (const name of before) if (!after.has(name)) lines.push(`  - ${specifier}: ${name} (${kind}) is in the reviewed list but no longer exported`);
    }
  }
  return lines;
}

describe('the public entries of nestjs-tasks', () => {
  it('export exactly the reviewed names (libs/tasks/public-api.json)', async () => {
    const actual = await actualNames();
    if (process.env.UPDATE_PUBLIC_API === '1') {
      const comment =
        'The names each public entry of nestjs-tasks exports, reviewed. test/architecture/public-api.spec.ts fails on any other; ' +
        'UPDATE_PUBLIC_API=1 npx vitest run test/architecture/public-api.spec.ts rewrites this file from the build, for review.';
      writeFileSync(REVIEWED_FILE, `${JSON.stringify({ $comment: comment, ...actual }, null, 2)}\n`);
    }
    const changes = differences(readReviewed(), actual);
    expect(
      changes,
      `The public API changed without review:\n${changes.join('\n')}\n` +
        `If the change is meant, update ${relative(ROOT, REVIEWED_FILE)} in the same commit ` +
        `(UPDATE_PUBLIC_API=1 npx vitest run test/architecture/public-api.spec.ts writes it from the build) ` +
        'and "Public entries" in docs/architecture.md.',
    ).toEqual([]);
  });

  it('are the rows of "Public entries" in docs/architecture.md, with their counts', () => {
    const doc = readFileSync(join(ROOT, 'docs/architecture.md'), 'utf8');
    const start = doc.indexOf('## Public entries');
    const section = doc.slice(start, doc.indexOf('\n## ', start + 1));
    const rows = section
      .split('\n')
      .filter((line) => line.startsWith('| `'))
      .map((line) => line.split('|').slice(1, -1).map((cell) => cell.trim()));
    const documented = Object.fromEntries(rows.map((cells) => [cells[0]?.replace(/`/g, ''), cells.at(-1)]));
    const counted = Object.fromEntries(
      Object.entries(readReviewed()).map(([specifier, { runtime, types }]) => [specifier, `${runtime.length + types.length} (${runtime.length} + ${types.length})`]),
    );
    expect(documented).toEqual(counted);
  });

  it('document every exported name with JSDoc', () => {
    const undocumented: string[] = [];
    for (const [specifier, { checker, symbols }] of declaredExports()) {
      for (const exported of symbols) {
        const symbol = exported.flags & ts.SymbolFlags.Alias ? checker.getAliasedSymbol(exported) : exported;
        if (symbol.getDocumentationComment(checker).length === 0) undocumented.push(`${specifier}: ${exported.name}`);
      }
    }
    expect(undocumented, 'these exported names have no JSDoc on their declaration').toEqual([]);
  });

  it('are the only subpaths of the package: the reviewed entries and package.json, in the manifest and in tshy', () => {
    const reviewed = Object.keys(readReviewed()).map((specifier) => (specifier === manifest.name ? '.' : `./${specifier.slice(manifest.name.length + 1)}`));
    const expected = ['./package.json', ...reviewed].sort();
    expect(Object.keys(manifest.exports).sort()).toEqual(expected);
    expect(Object.keys(manifest.tshy.exports).sort()).toEqual(expected);
  });

  it('ship without the internal entry: the packed tarball holds no dist/*/internal.*', () => {
    const packed = JSON.parse(
      execFileSync('npm', ['pack', '--dry-run', '--json', '--ignore-scripts', '--workspace', manifest.name], { cwd: ROOT, encoding: 'utf8' }),
    ) as { files: { path: string }[] }[];
    const paths = packed[0]?.files.map((file) => file.path) ?? [];
    expect(paths).toContain('dist/esm/index.js');
    expect(paths.filter((path) => /(^|\/)internal\./.test(path))).toEqual([]);
  });

  it('leave the internals and the build layout unreachable to an application, from ESM and from CommonJS', () => {
    const hidden = ['testing', 'internal', 'dist/esm/internal.js', 'dist/commonjs/internal.js', 'dist/esm/index.js', 'src/internal.ts'].map(
      (subpath) => `${manifest.name}/${subpath}`,
    );
    // A child Node process, as an application resolves (vitest's resolver is not Node's).
    const script = `
      const specifiers = ${JSON.stringify(hidden)};
      const reached = [];
      const { createRequire } = await import('node:module');
      const require = createRequire(process.cwd() + '/');
      for (const specifier of specifiers) {
        try { await import(specifier); reached.push('import ' + specifier); } catch (error) { if (error.code !== 'ERR_PACKAGE_PATH_NOT_EXPORTED') throw error; }
        try { require(specifier); reached.push('require ' + specifier); } catch (error) { if (error.code !== 'ERR_PACKAGE_PATH_NOT_EXPORTED') throw error; }
      }
      process.stdout.write(JSON.stringify(reached));
    `;
    const reached = JSON.parse(execFileSync(process.execPath, ['--input-type=module', '-e', script], { cwd: ROOT, encoding: 'utf8' })) as string[];
    expect(reached).toEqual([]);
  });
});

describe('the internal entry of the workspace', () => {
  it('shares every module with the public entries in vitest: the classes TasksModule provides are the internal ones', () => {
    const providers = TasksModule.forRoot({}).providers ?? [];
    expect(providers).toContain(TaskWorkerHost);
    expect(providers).toContain(CronRunStore);
    expect(providers).toContain(EventPublisher);
    expect(() => buildCronMetadata('identity check', 'x', '* * * * *', 0)).toThrow(TasksConfigurationError);
  });

  it.each(['import', 'require'])('shares every module with the public entries in a Node process (%s)', (system) => {
    // What the built fixtures and bench do at run time: 'nestjs-tasks' from node_modules, the internals through package.json "imports".
    const load =
      system === 'import'
        ? `const pub = await import('nestjs-tasks'); const extras = await import('nestjs-tasks/extras'); const internal = await import('${INTERNAL_ENTRY}');`
        : `const { createRequire } = await import('node:module'); const require = createRequire(process.cwd() + '/');
           const pub = require('nestjs-tasks'); const extras = require('nestjs-tasks/extras'); const internal = require('${INTERNAL_ENTRY}');`;
    const script = `${load}
      const providers = pub.TasksModule.forRoot({}).providers;
      let thrown;
      try { internal.buildCronMetadata('identity check', 'x', '* * * * *', 0); } catch (error) { thrown = error; }
      process.stdout.write(JSON.stringify({
        worker: providers.includes(internal.TaskWorkerHost),
        tracker: providers.includes(internal.CronRunStore),
        publisher: providers.includes(extras.EventPublisher),
        error: thrown instanceof pub.TasksConfigurationError,
      }));`;
    const seen = JSON.parse(execFileSync(process.execPath, ['--input-type=module', '-e', script], { cwd: ROOT, encoding: 'utf8' })) as object;
    expect(seen).toEqual({ worker: true, tracker: true, publisher: true, error: true });
  });

  it('stays out of the built fixtures and bench: their rspack configuration leaves it to Node, so no bundle holds a copy of the library', async () => {
    const nestCli = JSON.parse(readFileSync(join(ROOT, 'nest-cli.json'), 'utf8')) as {
      projects: Record<string, { root: string; compilerOptions?: { builder?: { options?: { configPath?: string } } } }>;
    };
    const defaults = { externals: [], output: {} };
    for (const [name, project] of Object.entries(nestCli.projects)) {
      if (!/^(test|bench)/.test(project.root)) continue;
      const configPath = project.compilerOptions?.builder?.options?.configPath;
      expect(configPath, `nest-cli.json project ${name} reaches internals, so it needs an rspack configuration that keeps ${INTERNAL_ENTRY} external`).toBeDefined();
      const factory = ((await import(pathToFileURL(join(ROOT, configPath as string)).href)) as { default: (d: typeof defaults) => { externals: unknown[] } }).default;
      expect(factory(defaults).externals, `the rspack configuration of ${name}`).toContainEqual({ [INTERNAL_ENTRY]: `module ${INTERNAL_ENTRY}` });
    }
    // The fixtures, built by test/global-setup.ts: their source maps name every module bundled, and none is the library's.
    const fixtures = join(ROOT, 'dist/test/fixtures');
    const maps = readdirSync(fixtures, { recursive: true, encoding: 'utf8' }).filter((file) => file.endsWith('.js.map'));
    expect(maps.length).toBeGreaterThan(0);
    for (const file of maps) {
      const { sources } = JSON.parse(readFileSync(join(fixtures, file), 'utf8')) as { sources: string[] };
      expect(sources.filter((source) => source.includes('libs/tasks/')), `dist/test/fixtures/${file} bundles library modules`).toEqual([]);
    }
  });

  it('is not used by the example apps and their library, which show what an application can import', () => {
    const found = spawnSync('git', ['grep', '-l', INTERNAL_ENTRY, '--', 'apps', 'libs/jobs'], { cwd: ROOT, encoding: 'utf8' });
    expect(found.status, found.stderr).toBe(1); // git grep: 1 = no match
    expect(found.stdout).toBe('');
  });
});
