import { execFileSync } from 'node:child_process';
import { resolve } from 'node:path';

// End-to-end tests run the built apps, so build them from the current sources once per run.
export default function setup(): void {
  const root = resolve(import.meta.dirname, '..');
  execFileSync('npm', ['run', 'build', '--silent'], { cwd: root, stdio: 'inherit' });
}
