#!/usr/bin/env node
// Two builds of offline-sync side by side after idle: for telling whether a change to the engine
// moves the cold start or the page load, which run.mjs's five of each a run cannot resolve.
//
//   node tests/bench/cold-ab.mjs A/offline-sync.js B/offline-sync.js [rounds, 42 by default] [cold|load]
//
// Each build gets its own origin and tab in one headless Chromium, both under dist/sw.js with the
// default options, in one profile on disk as run.mjs and a user have. Each round stops both
// workers (CDP), then `cold` times one online POST through each (the cold start to the first
// answer) and `load` loads each page again and reads its navigation's first byte, beside a third
// tab with no worker. It prints the medians. The order rotates round by round, so that over a
// multiple of the number of tabs (42 rounds by default) each holds each place as often: a tab
// brought to the front just before its load was seen slower than one loaded twice in a row.
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { startOrigin } from './server.mjs';
import { CHROMIUM, CHROMIUM_ARGS, bounded, ensureNpm, median, rotated, sleep } from './common.mjs';

const [A, B, roundsArg = '42', scenario = 'cold'] = process.argv.slice(2);
const ROUNDS = Number(roundsArg);
if (!A || !B || !existsSync(A) || !existsSync(B) || !Number.isInteger(ROUNDS) || ROUNDS < 1 || !['cold', 'load'].includes(scenario)) {
  console.error('usage: node tests/bench/cold-ab.mjs A/offline-sync.js B/offline-sync.js [rounds] [cold|load]');
  process.exit(2);
}
const HERE = new URL('.', import.meta.url).pathname;

ensureNpm();
const { chromium } = await import('playwright-core');
const profile = mkdtempSync(join(tmpdir(), 'offline-sync-cold-ab-'));
const origins = [];
const tabs = [];
let context;
const cleanup = async () => {
  await context?.close().catch(() => {});
  rmSync(profile, { recursive: true, force: true });
  for (const origin of origins) await origin.close();
};
process.once('SIGINT', () => cleanup().then(() => process.exit(130)));
try {
  context = await chromium.launchPersistentContext(profile, { executablePath: CHROMIUM, headless: true, args: CHROMIUM_ARGS });
  for (const engine of scenario === 'load' ? [A, B, null] : [A, B]) {
    const origin = await startOrigin({
      '/index.html': join(HERE, 'site', 'index.html'),
      '/sw.js': join(HERE, '..', '..', 'dist', 'sw.js'),
      ...(engine && { '/offline-sync.js': engine }),
    });
    origins.push(origin);
    const name = engine ?? 'no worker';
    const url = `${origin.base}/index.html?sw=${engine ? 'ours' : 'none'}`;
    const page = await context.newPage();
    await page.goto(url);
    await bounded(`${name}: the worker to control the page`, page.evaluate(() => window.ready), 30_000);
    const cdp = await context.newCDPSession(page);
    await cdp.send('ServiceWorker.enable');
    tabs.push({ engine, name, url, origin, page, cdp, ms: [] });
  }
  let n = 7_000_000;
  for (let i = 0; i < ROUNDS; i++) {
    for (const tab of rotated(tabs, i)) {
      await tab.page.bringToFront();
      // Every worker of the profile: also the other build's, which Chromium may have started again
      // after its load. Each is stopped anew before its own turn.
      if (tab.engine) await tab.cdp.send('ServiceWorker.stopAllWorkers');
      await sleep(250);
      if (scenario === 'cold') {
        const r = await bounded(`${tab.name}: the cold-start POST`, tab.page.evaluate((k) => window.post(k), n++), 30_000);
        if (!r.ok || r.status !== 201) throw new Error(`${tab.name}: the cold-start POST failed: ${JSON.stringify(r)}`);
        tab.ms.push(r.ms);
      } else {
        await bounded(`${tab.name}: the page load`, tab.page.goto(tab.url), 30_000);
        tab.ms.push(await tab.page.evaluate(() => performance.getEntriesByType('navigation')[0].responseStart));
        await bounded(`${tab.name}: the page to be ready again`, tab.page.evaluate(() => window.ready), 30_000);
      }
    }
  }
  const what = scenario === 'cold' ? 'cold start to the first answer' : "page load after idle, the navigation's first byte";
  for (const tab of tabs) console.log(`${tab.name}: ${what}, median of ${ROUNDS}: ${median(tab.ms).toFixed(1)} ms`);
} finally {
  await cleanup();
}
