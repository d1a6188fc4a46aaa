// What run.mjs and drain-cdp.mjs share beyond tests/common.mjs: Chromium's path, the sync tags,
// the median.
export { CHROMIUM_ARGS, sleep, until } from '../common.mjs';

export const CHROMIUM = '/usr/bin/chromium';
export const SYNC_TAG = { ours: 'offline-sync', workbox: 'workbox-background-sync:sync-queue' };

export const sorted = (xs) => [...xs].sort((a, b) => a - b);
export function median(xs) {
  const s = sorted(xs);
  const m = s.length >> 1;
  return s.length % 2 ? s[m] : (s[m - 1] + s[m]) / 2;
}

/** `promise`, or an error saying `what` gave no answer once `ms` have passed (its timer cleared). */
export function bounded(what, promise, ms) {
  let timer;
  return Promise.race([
    promise.finally(() => clearTimeout(timer)),
    new Promise((_, reject) => { timer = setTimeout(() => reject(new Error(`${what}: no answer within ${ms} ms`)), ms); }),
  ]);
}
