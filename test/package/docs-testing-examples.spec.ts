import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { ROOT } from '../support/processes.js';
import { fencedBlocks } from './docs.js';

// docs/testing.md shows the example app's kit specs whole: the blocks are the
// files, so what the page teaches is what the suite runs (without Redis or Postgres).
const SPECS = [
  'libs/jobs/src/uploads/upload.tasks.kit.spec.ts',
  'libs/jobs/src/maintenance/maintenance.jobs.kit.spec.ts',
];

describe('docs/testing.md', () => {
  it.each(SPECS)('shows %s as it is', async (spec) => {
    const page = await readFile(join(ROOT, 'docs/testing.md'), 'utf8');
    const blocks = fencedBlocks(page, 'ts').filter((block) =>
      block.startsWith(`// ${spec}\n`),
    );
    expect(
      blocks,
      `docs/testing.md needs one ts block starting with \`// ${spec}\`, a copy of that file`,
    ).toHaveLength(1);
    expect(
      blocks[0],
      `the block of ${spec} in docs/testing.md differs from the file: copy the file into it`,
    ).toBe(await readFile(join(ROOT, spec), 'utf8'));
  });
});
