#!/usr/bin/env node
// Runs the built apps together (`make dev`): each as `node dist/apps/<app>/main.js`,
// every output line prefixed with the app's name and its JSON log lines made
// readable (scripts/lib/pretty-log-lines.mjs; the apps themselves still write JSON,
// as in production). Ctrl-C (or SIGTERM) stops them all gracefully, a second
// Ctrl-C kills them; if one app exits, the others are stopped too and this exits non-zero.
//
//   node scripts/run-apps.mjs                      # api worker scheduler
//   node scripts/run-apps.mjs worker worker api    # any mix, the same app twice too
//   DEV_LOGS=json node scripts/run-apps.mjs        # the raw JSON lines, e.g. for jq
import { spawn } from 'node:child_process';
import { existsSync } from 'node:fs';
import { dirname, relative, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { logLineFormatter } from './lib/pretty-log-lines.mjs';

const ROOT = resolve(dirname(fileURLToPath(import.meta.url)), '..');
const apps = process.argv.slice(2).length > 0 ? process.argv.slice(2) : ['api', 'worker', 'scheduler'];
// How long an app may take to stop after SIGTERM before it is killed: the
// worker's own drain grace (TASKS_SHUTDOWN_GRACE_MS, 25 s by default) plus margin.
const STOP_TIMEOUT_MS = Number(process.env.TASKS_SHUTDOWN_GRACE_MS || 25_000) + 10_000;

const useColor = process.stdout.isTTY && !process.env.NO_COLOR;
const COLORS = [36, 33, 35, 32, 34, 31];
const seen = new Map();
const labels = apps.map((app) => {
  const n = (seen.get(app) ?? 0) + 1;
  seen.set(app, n);
  return apps.filter((a) => a === app).length > 1 ? `${app}-${n}` : app;
});
const width = Math.max(...labels.map((l) => l.length), 'dev'.length);
const prefix = (label, i) => {
  const text = `${label.padEnd(width)} |`;
  return useColor ? `\x1b[${COLORS[i % COLORS.length]}m${text}\x1b[0m` : text;
};
const say = (message) => process.stdout.write(`${prefix('dev', 5)} ${message}\n`);
const format = logLineFormatter({ colorize: useColor, json: process.env.DEV_LOGS === 'json' });

for (const app of new Set(apps)) {
  const entry = resolve(ROOT, 'dist/apps', app, 'main.js');
  if (!existsSync(entry)) {
    console.error(`${relative(ROOT, entry)} does not exist: build first (npm run build), or check the app name.`);
    process.exit(2);
  }
}

let stopping = false;
let exitCode = 0;
const children = apps.map((app, i) => {
  const label = labels[i];
  const entry = resolve(ROOT, 'dist/apps', app, 'main.js');
  // Own process group: a Ctrl-C in the terminal reaches only this runner, which
  // sends each app exactly one SIGTERM (a second signal would cut Nest's graceful shutdown short).
  const child = spawn(process.execPath, [...process.execArgv, entry], {
    cwd: ROOT,
    env: process.env,
    stdio: ['ignore', 'pipe', 'pipe'],
    detached: true,
  });
  const state = { label, child, exited: false };
  for (const stream of [child.stdout, child.stderr]) pipeLines(stream, prefix(label, i));
  child.on('error', (error) => {
    say(`${label} could not start: ${error.message}`);
    state.exited = true;
    exitCode = 1;
    stop();
    finishIfDone();
  });
  child.on('exit', (code, signal) => {
    state.exited = true;
    const how = signal ? `signal ${signal}` : `code ${code}`;
    if (!stopping) {
      say(`${label} exited (${how}); stopping the others`);
      exitCode = 1;
      stop();
    } else {
      say(`${label} stopped (${how})`);
      if (code !== 0 && code !== null && signal === null) exitCode = 1;
    }
    finishIfDone();
  });
  say(`started ${label} (pid ${child.pid}): node ${relative(ROOT, entry)}`);
  return state;
});

function pipeLines(stream, tag) {
  let buffer = '';
  const write = (line) => {
    for (const shown of format(line)) process.stdout.write(`${tag} ${shown}\n`);
  };
  stream.setEncoding('utf8');
  stream.on('data', (chunk) => {
    buffer += chunk;
    let newline;
    while ((newline = buffer.indexOf('\n')) >= 0) {
      write(buffer.slice(0, newline));
      buffer = buffer.slice(newline + 1);
    }
  });
  stream.on('end', () => {
    if (buffer) write(buffer);
    buffer = '';
  });
}

function signalAll(signal) {
  for (const { child, exited } of children) {
    if (exited) continue;
    try {
      child.kill(signal);
    } catch {
      // already gone
    }
  }
}

let killTimer;
function stop() {
  if (stopping) return;
  stopping = true;
  signalAll('SIGTERM');
  killTimer = setTimeout(() => {
    say(`still running after ${STOP_TIMEOUT_MS} ms: killing`);
    signalAll('SIGKILL');
  }, STOP_TIMEOUT_MS);
  killTimer.unref();
}

function finishIfDone() {
  if (children.every((c) => c.exited)) {
    clearTimeout(killTimer);
    process.exit(exitCode);
  }
}

for (const signal of ['SIGINT', 'SIGTERM', 'SIGHUP']) {
  process.on(signal, () => {
    if (stopping) {
      say(`${signal} again: killing`);
      signalAll('SIGKILL');
      return;
    }
    say(`${signal}: stopping ${children.filter((c) => !c.exited).map((c) => c.label).join(', ')} (Ctrl-C again to kill)`);
    stop();
  });
}

// If whoever started us dies without a signal (its terminal closed, SIGKILL),
// the apps in their own process groups would live on: stop them.
const parent = process.ppid;
setInterval(() => {
  if (process.ppid !== parent && !stopping) {
    say('parent process is gone: stopping');
    stop();
  }
}, 1_000).unref();

// Last resort if this runner itself crashes.
process.on('exit', () => signalAll('SIGKILL'));
