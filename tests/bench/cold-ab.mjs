#!/usr/bin/env node
// Cold start of two builds of offline-sync side by side: for telling whether a change to the
// engine moves the cold start, which run.mjs's five cold starts a run cannot resolve.
//
//   node tests/bench/cold-ab.mjs A/offline-sync.js B/offline-sync.js [pairs, 40 by default]
//
// Each build gets its own origin and tab in one headless Chromium, both under dist/sw.js with the
// default options. Each pair stops both workers (CDP) and times one online POST through each,
// the order alternating pair by pair; it prints the medians.
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { startOrigin } from './server.mjs';
import { CHROMIUM, CHROMIUM_ARGS, bounded, median, sleep } from './common.mjs';

const [A, B, pairsArg = '40'] = process.argv.slice(2);
const PAIRS = Number(pairsArg);
if (!A || !B || !existsSync(A) || !existsSync(B) || !Number.isInteger(PAIRS) || PAIRS < 1) {
  console.error('usage: node tests/bench/cold-ab.mjs A/offline-sync.js B/offline-sync.js [pairs]');
  process.exit(2);
}
const HERE = new URL('.', import.meta.url).pathname;

const { chromium } = await import('playwright-core');
const browser = await chromium.launch({ executablePath: CHROMIUM, headless: true, args: CHROMIUM_ARGS });
const tabs = [];
try {
  for (const engine of [A, B]) {
    const origin = await startOrigin({
      '/index.html': join(HERE, 'site', 'index.html'),
      '/sw.js': join(HERE, '..', '..', 'dist', 'sw.js'),
      '/offline-sync.js': engine,
    });
    const context = await browser.newContext();
    const page = await context.newPage();
    await page.goto(`${origin.base}/index.html?sw=ours`);
    await bounded(`${engine}: the worker to control the page`, page.evaluate(() => window.ready), 30_000);
    const cdp = await context.newCDPSession(page);
    await cdp.send('ServiceWorker.enable');
    tabs.push({ engine, origin, page, cdp, ms: [] });
  }
  let n = 7_000_000;
  for (let i = 0; i < PAIRS; i++) {
    for (const tab of i % 2 ? [...tabs].reverse() : tabs) {
      await tab.page.bringToFront();
      await tab.cdp.send('ServiceWorker.stopAllWorkers');
      await sleep(250);
      const r = await bounded(`${tab.engine}: the cold-start POST`, tab.page.evaluate((k) => window.post(k), n++), 30_000);
      if (!r.ok || r.status !== 201) throw new Error(`${tab.engine}: the cold-start POST failed: ${JSON.stringify(r)}`);
      tab.ms.push(r.ms);
    }
  }
  for (const tab of tabs) {
    console.log(`${tab.engine}: cold start to the first answer, median of ${PAIRS}: ${median(tab.ms).toFixed(1)} ms`);
  }
} finally {
  await browser.close();
  for (const tab of tabs) await tab.origin.close();
}
