#!/usr/bin/env node
// `make dev`: makes sure .env.dev (git-ignored) holds an API_AUTH_SECRET, the
// secret the example api signs its access tokens with, and creates it with a
// random one if not. The secret is never printed. `make dev` then runs the
// apps with `node --env-file-if-exists=.env.dev`, where a variable already set
// in the environment wins; scripts/mint-token.mjs reads the same file.
import { randomBytes } from 'node:crypto';
import { appendFileSync, existsSync, readFileSync, writeFileSync } from 'node:fs';
import { dirname, relative, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseEnv } from 'node:util';

const ROOT = resolve(dirname(fileURLToPath(import.meta.url)), '..');
const ENV_FILE = resolve(ROOT, process.argv[2] ?? '.env.dev');
const name = relative(process.cwd(), ENV_FILE) || ENV_FILE;

if (process.env.API_AUTH_SECRET) {
  console.log(`API_AUTH_SECRET is set in the environment: the api uses it (${name} is not read for it).`);
  process.exit(0);
}
const line = `API_AUTH_SECRET=${randomBytes(48).toString('base64url')}\n`;
if (!existsSync(ENV_FILE)) {
  writeFileSync(ENV_FILE, `# Local settings for \`make dev\` (git-ignored). Written by scripts/dev-env.mjs.\n${line}`, { mode: 0o600 });
  console.log(`Created ${name} with a random API_AUTH_SECRET. Mint a token with: node scripts/mint-token.mjs <userId>`);
} else if (!parseEnv(readFileSync(ENV_FILE, 'utf8')).API_AUTH_SECRET) {
  const text = readFileSync(ENV_FILE, 'utf8');
  appendFileSync(ENV_FILE, `${text === '' || text.endsWith('\n') ? '' : '\n'}${line}`);
  console.log(`Added a random API_AUTH_SECRET to ${name}.`);
}
