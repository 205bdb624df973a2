import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { ROOT } from '../support/processes.js';
import { fencedBlocks } from './docs.js';

// docs/testing.md shows the example app's specs whole: the blocks are the
// files, so what the page teaches is what the suite runs. The kit's specs run
// without Redis or Postgres; the real-stack one on both, with a worker process.
const SPECS = [
  'libs/jobs/src/uploads/upload.tasks.kit.spec.ts',
  'libs/jobs/src/maintenance/maintenance.jobs.kit.spec.ts',
  'test/testing/jobs.real-stack.spec.ts',
];

// A file may go on below this line with checks of the repository's own (that
// its teardown left nothing): the page shows it down to the line.
const SHOWN_DOWN_TO = '// docs/testing.md shows this file down to here.';

/** What the page must show of a spec file: all of it, or what comes before SHOWN_DOWN_TO. */
function shownPart(file: string): string {
  const end = file.indexOf(`\n${SHOWN_DOWN_TO}`);
  return end < 0 ? file : file.slice(0, end + 1);
}

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
      `the block of ${spec} in docs/testing.md differs from the file: copy the file into it (down to "${SHOWN_DOWN_TO}" when it has that line)`,
    ).toBe(shownPart(await readFile(join(ROOT, spec), 'utf8')));
  });
});
