// What the Node-side suites and the benchmark share: how Chromium is started, and bounded polling.
// Plain ES module with no dependencies, imported by path from tests/e2e, tests/webdriver and
// tests/bench.

/** The flags every headless Chromium here starts with (with a fresh user-data-dir of its own). */
export const CHROMIUM_ARGS = [
  '--headless', '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run',
  '--disable-background-networking', '--disable-component-update', '--disable-sync',
];

export const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

/** Bounded polling: `check` must become truthy within `ms`, or this throws saying `what`. */
export async function until(what, check, ms = 10_000, every = 50) {
  const end = Date.now() + ms;
  let last;
  while (Date.now() < end) {
    last = await check();
    if (last) return last;
    await sleep(every);
  }
  throw new Error(`timed out after ${ms} ms waiting for ${what} (last: ${JSON.stringify(last)})`);
}
