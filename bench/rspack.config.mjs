// Build of `npm run bench` (nest-cli project "bench"): the orchestrator and the
// kinds of child process it spawns, as separate bundles so that the plain
// BullMQ children load neither Nest nor the library, the @nestjs/bullmq
// children (a WorkerHost processor) load Nest but not the library's worker,
// and the memory reference (the same stack without the library) does not load
// the library.
import { resolve } from 'node:path';
import { workspaceConfig } from '../rspack.workspace.mjs';

const source = (file) => resolve(import.meta.dirname, 'src', file);

export default (defaults) => ({
  ...workspaceConfig(defaults),
  entry: {
    main: source('main.ts'),
    'lib-roles': source('roles/lib-roles.ts'),
    'plain-roles': source('roles/plain-roles.ts'),
    'stack-roles': source('roles/stack-roles.ts'),
    'nest-bullmq-roles': source('roles/nest-bullmq-roles.ts'),
  },
  output: { ...defaults.output, filename: 'bench/[name].js' },
});
