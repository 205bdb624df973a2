import { readFileSync, readdirSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { cycles, folderOf, importGraph, sourceFiles } from './import-graph.js';

const ROOT = join(import.meta.dirname, '../..');
const SRC = join(ROOT, 'libs/tasks/src');
const DOC = readFileSync(join(ROOT, 'docs/architecture.md'), 'utf8');

/** The rows of the first markdown table after `heading` (or after `intro` text), cells trimmed. */
function tableAfter(marker: string): string[][] {
  const at = DOC.indexOf(marker);
  if (at < 0) throw new Error(`docs/architecture.md has no "${marker}"`);
  const lines = DOC.slice(at).split('\n');
  const first = lines.findIndex((line) => line.startsWith('|'));
  const rows: string[][] = [];
  for (const line of lines.slice(first)) {
    if (!line.startsWith('|')) break;
    rows.push(line.split('|').slice(1, -1).map((cell) => cell.trim()));
  }
  return rows.slice(2);
}

const codeNames = (cell: string): string[] => [...cell.matchAll(/`([^`]+)`/g)].map((m) => m[1].replace(/\/$/, ''));

/** Folder → layer, as docs/architecture.md draws them. */
function layers(): Map<string, number> {
  const map = new Map<string, number>();
  for (const [layer, folders] of tableAfter('## Layers of the library')) {
    for (const folder of codeNames(folders)) {
      expect(map.has(folder), `${folder}/ is placed twice`).toBe(false);
      map.set(folder, Number(layer));
    }
  }
  return map;
}

const CLIMB_MARKER = 'Imports that climb';

describe('the library folders stack as docs/architecture.md draws them', () => {
  const edges = importGraph(SRC);
  const layerOf = layers();
  const folders = readdirSync(SRC).filter((name) => statSync(join(SRC, name)).isDirectory());

  it('places every folder of libs/tasks/src in one layer, and no folder that is not there', () => {
    expect([...layerOf.keys()].sort()).toEqual([...folders].sort());
  });

  it('has no import from a lower layer to a higher one but the few the page explains', () => {
    const climbing = edges
      .filter((edge) => folderOf(edge.from) !== '.' && layerOf.get(folderOf(edge.to))! > layerOf.get(folderOf(edge.from))!)
      .map((edge) => `${edge.from} -> ${edge.to}`);
    const explained = tableAfter(CLIMB_MARKER).map(([from, to, why]) => {
      expect(why, `the climb ${from} -> ${to} needs its reason`).toMatch(/\w{3,}/);
      return `${codeNames(from)[0]} -> ${codeNames(to)[0]}`;
    });
    expect(explained.length).toBeLessThanOrEqual(3);
    expect([...new Set(climbing)].sort()).toEqual(explained.sort());
  });

  it('has no import cycle, not even through type-only imports', () => {
    expect(cycles(edges)).toEqual([]);
  });

  it('has no folder of one file but those the page names with a reason', () => {
    const single = folders.filter((folder) => sourceFiles(join(SRC, folder)).length === 1);
    const named = [...DOC.matchAll(/^`([a-z-]+)\/` holds one file, [^\n]{10,}$/gm)].map((m) => m[1]);
    expect(single.sort()).toEqual(named.sort());
  });

  it('reads real imports: the graph holds the wiring of the module', () => {
    // Guards the parser itself: were it to find nothing, every rule above would pass.
    expect(edges.length).toBeGreaterThan(200);
    expect(edges).toContainEqual(expect.objectContaining({ from: 'module/tasks.module.ts', to: 'client/task-client.ts' }));
  });
});
