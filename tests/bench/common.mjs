// What run.mjs and drain-cdp.mjs share: how Chromium is started, the sync tags, small helpers.

export const CHROMIUM = '/usr/bin/chromium';
export const CHROMIUM_ARGS = [
  '--headless', '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run',
  '--disable-background-networking', '--disable-component-update', '--disable-sync',
];
export const SYNC_TAG = { ours: 'offline-sync', workbox: 'workbox-background-sync:sync-queue' };

export const sleep = (ms) => new Promise((r) => setTimeout(r, ms));
export const sorted = (xs) => [...xs].sort((a, b) => a - b);
export function median(xs) {
  const s = sorted(xs);
  const m = s.length >> 1;
  return s.length % 2 ? s[m] : (s[m - 1] + s[m]) / 2;
}

/** Bounded polling: `check` must become truthy within `ms`. */
export async function until(what, check, ms = 10_000, every = 20) {
  const end = Date.now() + ms;
  let last;
  while (Date.now() < end) {
    last = await check();
    if (last) return last;
    await sleep(every);
  }
  throw new Error(`timed out after ${ms} ms waiting for ${what} (last: ${JSON.stringify(last)})`);
}
