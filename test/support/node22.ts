import { execFileSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { ROOT } from './processes.js';

/**
 * A Node.js 22 binary, the older major the package's engines allow
 * (^22.13 || >=24.11), installed once from the npm registry's `node` package
 * into .tools/node22 (ignored by git), as scripts/ensure-node.sh does for 24.
 */
export function node22(): string {
  const dir = join(ROOT, '.tools/node22');
  const bin = join(dir, 'node_modules/.bin/node');
  if (!existsSync(bin)) {
    execFileSync('npm', ['install', '--prefix', dir, '--no-save', '--no-audit', '--no-fund', '--loglevel=error', 'node@22'], {
      stdio: ['ignore', 'inherit', 'inherit'],
    });
  }
  const version = execFileSync(bin, ['--version'], { encoding: 'utf8' }).trim();
  const [major, minor] = version.slice(1).split('.').map(Number);
  if (major !== 22 || (minor as number) < 13) throw new Error(`${bin} is ${version}, expected 22.13 or later`);
  return bin;
}
