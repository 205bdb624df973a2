#!/usr/bin/env node
// Mints an access token for the example api, for development and tests:
//
//   node scripts/mint-token.mjs alice                        # a user token for alice, valid 15 minutes
//   node scripts/mint-token.mjs ops --role operator          # an operator token (GET /cron/runs, POST /cron/:name/trigger)
//   node scripts/mint-token.mjs alice --ttl 3600             # valid 1 hour (at most 86400)
//   node scripts/mint-token.mjs alice --secret-file my.env   # API_AUTH_SECRET from another env file
//
//   curl -H "Authorization: Bearer $(node scripts/mint-token.mjs alice)" http://127.0.0.1:3000/jobs/1
//
// Signs with API_AUTH_SECRET from the environment or, when it is not set, from
// .env.dev (written by `make dev`; --secret-file names another), the secret the
// api reads. It prints the token only, never the secret. The format is the
// api's (apps/api/src/auth/tokens.ts, which test/api/tokens.spec.ts holds this
// script to): a JWT with the header {"alg":"HS256","typ":"JWT"} and the claims
// { sub, role, iat, exp }.
import { createHmac } from 'node:crypto';
import { existsSync, readFileSync } from 'node:fs';
import { dirname, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs, parseEnv } from 'node:util';

const ROOT = resolve(dirname(fileURLToPath(import.meta.url)), '..');
const USER_ID = /^[A-Za-z0-9_-]{1,64}$/;
const MAX_TTL_SECONDS = 86_400;
const USAGE = 'Usage: node scripts/mint-token.mjs <userId> [--role user|operator] [--ttl seconds] [--secret-file path]';

function fail(message) {
  process.stderr.write(`mint-token: ${message}\n`);
  process.exit(2);
}

let parsed;
try {
  parsed = parseArgs({
    allowPositionals: true,
    options: {
      role: { type: 'string', default: 'user' },
      ttl: { type: 'string', default: '900' },
      'secret-file': { type: 'string', default: resolve(ROOT, '.env.dev') },
      help: { type: 'boolean', short: 'h', default: false },
    },
  });
} catch (error) {
  fail(`${error.message}\n${USAGE}`);
}
const { values, positionals } = parsed;
if (values.help) {
  process.stdout.write(`${USAGE}\n`);
  process.exit(0);
}
if (positionals.length !== 1) fail(USAGE);
const [sub] = positionals;
if (!USER_ID.test(sub)) fail('the user id must be 1-64 characters of letters, digits, "-" or "_".');
if (values.role !== 'user' && values.role !== 'operator') fail('--role must be "user" or "operator".');
const ttl = /^\d{1,6}$/.test(values.ttl) ? Number(values.ttl) : NaN;
if (!(ttl >= 1 && ttl <= MAX_TTL_SECONDS)) fail(`--ttl must be a whole number of seconds from 1 to ${MAX_TTL_SECONDS}.`);

const envFile = resolve(values['secret-file']);
let secret = process.env.API_AUTH_SECRET;
if (!secret && existsSync(envFile)) secret = parseEnv(readFileSync(envFile, 'utf8')).API_AUTH_SECRET;
if (!secret) {
  fail(`API_AUTH_SECRET is not set, and ${envFile} has none: export the api's secret, or run \`make dev\` once to create .env.dev.`);
}
if (Buffer.byteLength(secret, 'utf8') < 32) fail('API_AUTH_SECRET is too short: the api refuses secrets under 32 bytes.');

const encode = (value) => Buffer.from(JSON.stringify(value), 'utf8').toString('base64url');
const iat = Math.floor(Date.now() / 1000);
const unsigned = `${encode({ alg: 'HS256', typ: 'JWT' })}.${encode({ sub, role: values.role, iat, exp: iat + ttl })}`;
const signature = createHmac('sha256', Buffer.from(secret, 'utf8')).update(unsigned).digest('base64url');
process.stdout.write(`${unsigned}.${signature}\n`);
