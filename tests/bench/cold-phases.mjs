#!/usr/bin/env node
// Where a cold start's time goes, phase by phase, with no profiler slowing the worker down: for
// telling what any synchronous start of a module this size costs before a line of ours runs.
//
//   node tests/bench/cold-phases.mjs [rounds, 30 by default]
//
// It needs ./build.sh's dist/ and target/wasm-out/, and the workbox bundle run.mjs makes
// (node tests/bench/run.mjs once, BENCH_RUNS=1 is enough).
//
// Four workers, each on its own origin and tab in one Chromium profile on disk, under the same
// small wrapper script: it notes the time when it starts, when its importScripts returns and when
// the first fetch event reaches it, and answers a message with those marks. What it imports:
//   offline-sync   dist/offline-sync.js, as shipped;
//   module only    the same wasm module inlined the same way, then turned into bytes and compiled
//                  (`new WebAssembly.Module`), and nothing else: the least a synchronous start of
//                  this module does;
//   bytes only     the module's string and nothing else;
//   workbox        the benchmark's workbox bundle (target/bench/workbox-sw.js, made by run.mjs).
// Each round stops every worker (CDP) before each tab's online POST, the order rotating, and the
// medians of each phase are printed: the worker's start after the POST (the browser's), the import,
// from its end to the first fetch event, and the whole answer as the page saw it.
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { execFileSync } from 'node:child_process';
import { startOrigin } from './server.mjs';
import { CHROMIUM, CHROMIUM_ARGS, bounded, ensureNpm, median, rotated, sleep } from './common.mjs';

const ROUNDS = Number(process.argv[2] ?? 30);
const HERE = new URL('.', import.meta.url).pathname;
const ROOT = join(HERE, '..', '..');
const WASM = join(ROOT, 'target', 'wasm-out', 'offline_sync.opt.wasm');
const WORKBOX = join(ROOT, 'target', 'bench', 'workbox-sw.js');
if (!Number.isInteger(ROUNDS) || ROUNDS < 1 || !existsSync(WASM) || !existsSync(join(ROOT, 'dist', 'offline-sync.js'))) {
  console.error('usage: node tests/bench/cold-phases.mjs [rounds]   (after ./build.sh and one run.mjs)');
  process.exit(2);
}
if (!existsSync(WORKBOX)) {
  console.error('cold-phases: target/bench/workbox-sw.js is missing: run node tests/bench/run.mjs once first');
  process.exit(2);
}

ensureNpm();
const { chromium } = await import('playwright-core');
const dir = mkdtempSync(join(tmpdir(), 'offline-sync-cold-phases-'));
const profile = mkdtempSync(join(tmpdir(), 'offline-sync-cold-phases-profile-'));
const origins = [];
let context;
const cleanup = async () => {
  await context?.close().catch(() => {});
  rmSync(profile, { recursive: true, force: true });
  rmSync(dir, { recursive: true, force: true });
  for (const origin of origins) await origin.close();
};
process.once('SIGINT', () => cleanup().then(() => process.exit(130)));
try {
  const wrapper = join(dir, 'sw.js');
  writeFileSync(wrapper, `self.marks = { timeOrigin: performance.timeOrigin, started: performance.now() };
self.addEventListener('fetch', () => { self.marks.fetch ??= performance.now(); });
self.addEventListener('message', (event) => { if (event.data === 'marks') event.ports[0].postMessage(self.marks); });
importScripts('imported.js');
self.marks.imported = performance.now();
self.addEventListener('install', () => self.skipWaiting());
self.addEventListener('activate', (event) => event.waitUntil(self.clients.claim()));
`);
  // The module inlined by the build's own tool, behind a stub that names it once.
  const inlined = (name, stub) => {
    const stubFile = join(dir, `${name}.stub.js`);
    writeFileSync(stubFile, stub);
    const file = join(dir, `${name}.js`);
    writeFileSync(file, execFileSync('node', [join(ROOT, 'shim', 'inline-bytes.mjs'), WASM, stubFile]));
    return file;
  };
  const imported = {
    'offline-sync': join(ROOT, 'dist', 'offline-sync.js'),
    'module only': inlined('module', 'new WebAssembly.Module(Uint8Array.fromBase64(btoa(OFFLINE_SYNC_WASM)));'),
    'bytes only': inlined('bytes', 'self.bytes = OFFLINE_SYNC_WASM;'),
    workbox: WORKBOX,
  };
  context = await chromium.launchPersistentContext(profile, { executablePath: CHROMIUM, headless: true, args: CHROMIUM_ARGS });
  const tabs = [];
  for (const [name, script] of Object.entries(imported)) {
    const origin = await startOrigin({ '/index.html': join(HERE, 'site', 'index.html'), '/sw.js': wrapper, '/imported.js': script });
    origins.push(origin);
    const page = await context.newPage();
    await page.goto(`${origin.base}/index.html?sw=ours`);
    await bounded(`${name}: the worker to control the page`, page.evaluate(() => window.ready), 30_000);
    const cdp = await context.newCDPSession(page);
    await cdp.send('ServiceWorker.enable');
    tabs.push({ name, page, cdp, rows: [] });
  }
  let n = 9_000_000;
  for (let i = 0; i < ROUNDS; i++) {
    for (const tab of rotated(tabs, i)) {
      await tab.page.bringToFront();
      await tab.cdp.send('ServiceWorker.stopAllWorkers');
      await sleep(250);
      const r = await bounded(`${tab.name}: the cold-start POST`, tab.page.evaluate(async (k) => {
        const sent = performance.timeOrigin + performance.now();
        return { sent, ...(await window.post(k)) };
      }, n++), 30_000);
      if (!r.ok || r.status !== 201) throw new Error(`${tab.name}: the cold-start POST failed: ${JSON.stringify(r)}`);
      const marks = await bounded(`${tab.name}: the worker's marks`, tab.page.evaluate(() => new Promise((resolve) => {
        const channel = new MessageChannel();
        channel.port1.onmessage = (event) => resolve(event.data);
        navigator.serviceWorker.controller.postMessage('marks', [channel.port2]);
      })), 10_000);
      const start = marks.timeOrigin - r.sent;
      if (start + marks.started < 0 || marks.fetch === undefined) {
        throw new Error(`${tab.name}: the worker had not stopped before the POST (its marks are from an earlier start)`);
      }
      tab.rows.push({
        'worker start': start + marks.started,
        import: marks.imported - marks.started,
        'to the fetch event': marks.fetch - marks.imported,
        answer: r.ms,
      });
    }
  }
  console.log(`cold start phases, ms, medians of ${ROUNDS} (${readFileSync(WASM).length} bytes of wasm):`);
  console.log(['', ...Object.keys(tabs[0].rows[0])].map((h) => h.padStart(20)).join(''));
  for (const tab of tabs) {
    const keys = Object.keys(tab.rows[0]);
    console.log([tab.name, ...keys.map((k) => median(tab.rows.map((row) => row[k])).toFixed(2))].map((c) => c.padStart(20)).join(''));
  }
} finally {
  await cleanup();
}
