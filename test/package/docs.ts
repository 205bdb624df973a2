import { readFile, readdir } from 'node:fs/promises';
import { join } from 'node:path';
import { ROOT } from '../support/processes.js';

/** The Markdown a user reads: docs/*.md and the package's README (its registry page). */
export async function userDocs(): Promise<{ file: string; text: string }[]> {
  const docs = (await readdir(join(ROOT, 'docs'))).filter((name) => name.endsWith('.md')).map((name) => join('docs', name));
  const files = [...docs.sort(), 'libs/tasks/README.md'];
  return Promise.all(files.map(async (file) => ({ file, text: await readFile(join(ROOT, file), 'utf8') })));
}

/** The fenced blocks of one language (```bash, ```ts) of a Markdown text, in order. */
export function fencedBlocks(markdown: string, language: string): string[] {
  const blocks: string[] = [];
  const fence = /^```(\S*)[^\n]*\n([\s\S]*?)^```/gm;
  for (let match = fence.exec(markdown); match; match = fence.exec(markdown)) {
    if (match[1] === language) blocks.push(match[2] as string);
  }
  return blocks;
}

/** Every distinct `npm install …` line of the docs' bash blocks, with the files that show it. */
export async function documentedInstallLines(): Promise<Map<string, string[]>> {
  const lines = new Map<string, string[]>();
  for (const { file, text } of await userDocs()) {
    for (const block of fencedBlocks(text, 'bash')) {
      for (const line of block.split('\n').map((l) => l.trim())) {
        if (!/^npm (install|i) /.test(line)) continue;
        lines.set(line, [...(lines.get(line) ?? []), file]);
      }
    }
  }
  return lines;
}

/** The documented `src/data-source.ts`: the ts block whose first line is `// src/data-source.ts`. */
export async function documentedDataSource(): Promise<{ file: string; source: string }> {
  const found: { file: string; source: string }[] = [];
  for (const { file, text } of await userDocs()) {
    for (const block of fencedBlocks(text, 'ts')) {
      if (block.startsWith('// src/data-source.ts\n')) found.push({ file, source: block });
    }
  }
  if (found.length !== 1) {
    throw new Error(`Expected one \`// src/data-source.ts\` block in the docs, found ${found.length} (${found.map((f) => f.file).join(', ')})`);
  }
  return found[0] as { file: string; source: string };
}

/**
 * The complete spec files docs/testing.md gives for an app of one's own: its ts
 * blocks whose first line is `// src/<path>.spec.ts`, each with that path.
 */
export async function documentedAppSpecs(): Promise<{ path: string; source: string }[]> {
  const page = await readFile(join(ROOT, 'docs/testing.md'), 'utf8');
  return fencedBlocks(page, 'ts').flatMap((source) => {
    const path = /^\/\/ (src\/\S+\.spec\.ts)\n/.exec(source)?.[1];
    return path === undefined ? [] : [{ path, source }];
  });
}

/** The documented TypeORM CLI command that applies the migrations through dist/data-source.js. */
export async function documentedMigrationCommand(): Promise<string> {
  for (const { text } of await userDocs()) {
    for (const block of fencedBlocks(text, 'bash')) {
      for (const line of block.split('\n').map((l) => l.trim())) {
        if (line.endsWith('npx typeorm migration:run -d dist/data-source.js')) return line;
      }
    }
  }
  throw new Error('No `npx typeorm migration:run -d dist/data-source.js` line in the docs');
}
