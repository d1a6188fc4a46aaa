// What the benchmark's scripts share beyond tests/common.mjs: Chromium's path, the sync tags,
// the median, the turn order, their npm packages.
import { execFileSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';

export { CHROMIUM_ARGS, sleep, until } from '../common.mjs';

const HERE = new URL('.', import.meta.url).pathname;

/** npm install here, only when package.json changed since the last install. */
export function ensureNpm() {
  const stamp = join(HERE, 'node_modules', '.offline-sync-stamp');
  const want = createHash('sha256').update(readFileSync(join(HERE, 'package.json'))).digest('hex');
  if (existsSync(stamp) && readFileSync(stamp, 'utf8').trim() === want) return;
  console.log('==> installing npm packages in tests/bench');
  execFileSync('npm', ['install', '--no-audit', '--no-fund', '--loglevel=error'], { cwd: HERE, stdio: 'inherit' });
  writeFileSync(stamp, want + '\n');
}

export const CHROMIUM = '/usr/bin/chromium';
export const SYNC_TAG = { ours: 'offline-sync', workbox: 'workbox-background-sync:sync-queue' };

export const sorted = (xs) => [...xs].sort((a, b) => a - b);
export function median(xs) {
  const s = sorted(xs);
  const m = s.length >> 1;
  return s.length % 2 ? s[m] : (s[m - 1] + s[m]) / 2;
}

/** `xs` turned by `i` places: round `i` of a rotating order, each item leading in turn. */
export const rotated = (xs, i) => [...xs.slice(i % xs.length), ...xs.slice(0, i % xs.length)];

/** `promise`, or an error saying `what` gave no answer once `ms` have passed (its timer cleared). */
export function bounded(what, promise, ms) {
  let timer;
  return Promise.race([
    promise.finally(() => clearTimeout(timer)),
    new Promise((_, reject) => { timer = setTimeout(() => reject(new Error(`${what}: no answer within ${ms} ms`)), ms); }),
  ]);
}
