#!/usr/bin/env node
// offline-sync against workbox-background-sync, side by side: one headless Chromium, one machine,
// one run. See README.md beside this file for what each figure means.
//
//   node tests/bench/run.mjs          (BENCH_RUNS=n to change the number of runs; 5 by default)
//
// Scenarios, in this order in every run: pass-through (3), cold start (4), page load after idle (6),
// then for each worker enqueue offline (1) and drain on going back online (2); the size (5) is read
// from the files.
// offline-sync runs with its default options ("ours"), and again with `batchUrl` ("batch") for the
// enqueue and drain and with `queueFirst` ("qf") for the pass-through. The drain's floor is the
// same POSTs sent one after another from the page with no worker. The page load after idle also
// times "a bare worker": dist/sw.js over site/bare-worker.js, one fetch listener and nothing else.
//
// Worker A is offline-sync's built dist/sw.js + dist/offline-sync.js, copied to target/bench/ at the
// start so that a rebuild during the run cannot change it. Worker B is workbox-sw.js, bundled here
// with esbuild. Each run gives every worker (and the "no worker" page) a fresh origin, so their
// registrations and IndexedDB never meet and every run starts from empty storage.
import { execFileSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { copyFileSync, existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { cpus, loadavg, tmpdir, totalmem } from 'node:os';
import { dirname, join } from 'node:path';
import { performance } from 'node:perf_hooks';
import { fileURLToPath } from 'node:url';
import { gzipSync } from 'node:zlib';
import { CHROMIUM, CHROMIUM_ARGS, SYNC_TAG, bounded as within, ensureNpm, median, rotated, sleep, sorted, until } from './common.mjs';

const HERE = dirname(fileURLToPath(import.meta.url));
const ROOT = join(HERE, '..', '..');
const OUT = join(ROOT, 'target', 'bench');

// --- settings -----------------------------------------------------------------------------------
const intEnv = (name, fallback, min = 1) => {
  const v = process.env[name];
  if (v === undefined || v === '') return fallback;
  const n = Number(v);
  if (!Number.isInteger(n) || n < min) {
    console.error(`${name}=${v}: expected an integer >= ${min}`);
    process.exit(2);
  }
  return n;
};
const RUNS = intEnv('BENCH_RUNS', 5);
const ENQUEUE = intEnv('BENCH_ENQUEUE', 1000); // offline POSTs per run and worker; the drain replays them
const INFLIGHT = 16;
const PASS = intEnv('BENCH_PASS', 500); // sequential online POSTs per run and worker
const WARMUP = 20; // online POSTs before each pass-through series, not timed
const COLD = intEnv('BENCH_COLD', 5);
const AUTO_SYNC_WAIT_MS = 5_000; // cold starts per run and worker; the run's figure is their median
const STEP_MS = intEnv('BENCH_STEP_S', 180) * 1000; // the longest any single step may take
const TOTAL_MS = intEnv('BENCH_TIMEOUT_S', Math.max(600, RUNS * 300)) * 1000; // the whole benchmark, whatever happens

const DEBUG = !!process.env.BENCH_DEBUG;
const debug = (...args) => { if (DEBUG) console.log(`[${(performance.now() / 1000).toFixed(2)}]`, ...args); };
const NAME = { ours: 'offline-sync', batch: 'offline-sync (batchUrl)', qf: 'offline-sync (queueFirst)', workbox: 'workbox', bare: 'a bare worker', none: 'no worker' };
const KINDS = ['ours', 'batch', 'qf', 'workbox', 'bare', 'none'];

// --- small helpers ------------------------------------------------------------------------------
/** Nearest-rank percentile. */
const percentile = (xs, p) => sorted(xs)[Math.min(xs.length - 1, Math.ceil((p / 100) * xs.length) - 1)];
const summary = (xs) => ({ median: median(xs), min: Math.min(...xs), max: Math.max(...xs), values: xs });


/** A promise that must settle within `ms`. */
const bounded = (what, promise, ms = STEP_MS) => within(what, promise, ms);

/** A check that the figure measures what it claims; a failed one stops the benchmark. */
function expect(cond, what) {
  if (!cond) throw new Error(`check failed: ${what}`);
}

const fmtMs = (v) => (Math.abs(v) >= 100 ? v.toFixed(0) : Math.abs(v) >= 10 ? v.toFixed(1) : v.toFixed(2));
const fmtBytes = (v) => (v >= 1e6 ? `${(v / 1e6).toFixed(2)} MB` : v >= 1e3 ? `${(v / 1e3).toFixed(1)} KB` : `${v} B`);
const fmtRatio = (v) => v.toFixed(2);

// --- the workers --------------------------------------------------------------------------------
async function prepareWorkers() {
  mkdirSync(OUT, { recursive: true });
  for (const f of ['sw.js', 'offline-sync.js']) {
    if (!existsSync(join(ROOT, 'dist', f))) {
      throw new Error(`dist/${f} is missing: run ./build.sh first`);
    }
  }
  // A snapshot of dist/, so that a rebuild while the benchmark runs cannot mix two builds.
  const ours = { sw: join(OUT, 'sw.js'), engine: join(OUT, 'offline-sync.js') };
  copyFileSync(join(ROOT, 'dist', 'sw.js'), ours.sw);
  copyFileSync(join(ROOT, 'dist', 'offline-sync.js'), ours.engine);

  const { build } = await import('esbuild');
  const workbox = join(OUT, 'workbox-sw.js');
  await build({
    entryPoints: [join(HERE, 'workbox-sw.js')],
    outfile: workbox,
    bundle: true,
    minify: true,
    format: 'iife',
    platform: 'browser',
    target: 'es2020',
    define: { 'process.env.NODE_ENV': '"production"' },
    logLevel: 'warning',
  });
  // `gzip -9`, as build.sh reports it (Node's zlib at level 9 comes out a few hundred bytes larger).
  const gz = (files) => {
    const input = Buffer.concat(files.map((f) => readFileSync(f)));
    try {
      return execFileSync('gzip', ['-9', '-c'], { input, maxBuffer: 64 << 20 }).length;
    } catch {
      return gzipSync(input, { level: 9 }).length;
    }
  };
  const raw = (files) => files.reduce((sum, f) => sum + readFileSync(f).length, 0);
  const sha = (files) => createHash('sha256').update(Buffer.concat(files.map((f) => readFileSync(f)))).digest('hex').slice(0, 16);
  const oursFiles = [ours.sw, ours.engine];
  return {
    files: { '/index.html': join(HERE, 'site', 'index.html'), '/sw.js': ours.sw, '/offline-sync.js': ours.engine, '/workbox-sw.js': workbox },
    size: {
      ours: { gzip: gz(oursFiles), raw: raw(oursFiles), sha256: sha(oursFiles) },
      workbox: { gzip: gz([workbox]), raw: raw([workbox]), sha256: sha([workbox]) },
    },
  };
}

// --- the browser --------------------------------------------------------------------------------
async function launchBrowser() {
  const { chromium } = await import('playwright-core');
  const profile = mkdtempSync(join(tmpdir(), 'offline-sync-bench-'));
  const context = await chromium.launchPersistentContext(profile, {
    executablePath: CHROMIUM,
    headless: true,
    args: CHROMIUM_ARGS,
  });
  const pages = {};
  for (const kind of KINDS) {
    const page = context.pages().find((p) => !Object.values(pages).some((x) => x.page === p) && p.url() === 'about:blank')
      ?? (await context.newPage());
    // Counts the page's answers to /api/ that a service worker gave, and those it did not.
    const answers = { fromWorker: 0, fromNetwork: 0, failed: 0 };
    page.on('response', (r) => {
      if (!new URL(r.url()).pathname.startsWith('/api/')) return;
      if (r.fromServiceWorker()) answers.fromWorker++; else answers.fromNetwork++;
    });
    page.on('requestfailed', (r) => { if (new URL(r.url()).pathname.startsWith('/api/')) answers.failed++; });
    const cdp = await context.newCDPSession(page);
    const registrations = new Map(); // scopeURL -> registrationId
    const versions = new Map(); // versionId -> {registrationId, runningStatus, status}
    cdp.on('ServiceWorker.workerRegistrationUpdated', ({ registrations: list }) => {
      for (const r of list) if (!r.isDeleted) registrations.set(r.scopeURL, r.registrationId);
    });
    cdp.on('ServiceWorker.workerVersionUpdated', ({ versions: list }) => {
      for (const v of list) versions.set(v.versionId, v);
    });
    await cdp.send('ServiceWorker.enable');
    pages[kind] = { kind, page, cdp, answers, registrations, versions };
  }
  let chromiumVersion;
  try {
    chromiumVersion = (await pages.none.cdp.send('Browser.getVersion')).product;
  } catch {
    chromiumVersion = execFileSync(CHROMIUM, ['--version'], { encoding: 'utf8' }).trim();
  }
  return {
    context,
    pages,
    chromiumVersion,
    close: async () => {
      await context.close().catch(() => {});
      rmSync(profile, { recursive: true, force: true });
    },
  };
}

/** Points a page at a fresh origin and waits until its worker (if any) controls it. */
async function openOrigin(tab, origin) {
  tab.origin = origin;
  await tab.page.goto(`${origin.base}/index.html?sw=${tab.kind}`);
  await bounded(`${tab.kind}: the page to be ready`, tab.page.evaluate(() => window.ready), 30_000);
  if (tab.kind === 'none') {
    expect(await tab.page.evaluate(() => !navigator.serviceWorker.controller), 'no worker: nothing controls the page');
    return;
  }
  const scope = `${origin.base}/`;
  tab.registrationId = await until(`${tab.kind}: the registration over CDP`, () => tab.registrations.get(scope), 10_000);
  expect(await tab.page.evaluate(() => !!navigator.serviceWorker.controller), `${tab.kind}: the worker controls the page`);
}

const workerVersions = (tab) => [...tab.versions.values()].filter((v) => v.registrationId === tab.registrationId);

// --- the scenarios ------------------------------------------------------------------------------

/** 3. Online POSTs one after another, through the worker or straight to the server. */
async function passThrough(tab) {
  const { page, origin, answers } = tab;
  debug(tab.kind, 'pass-through');
  await page.bringToFront();
  await page.evaluate((n) => window.sequential(n, 1_000_000), WARMUP);
  origin.reset();
  Object.assign(answers, { fromWorker: 0, fromNetwork: 0, failed: 0 });
  const { ms, statuses } = await bounded(`${tab.kind}: pass-through`, page.evaluate((n) => window.sequential(n, 0), PASS));
  expect(statuses[201] === PASS, `${tab.kind}: every pass-through POST answered 201 (${JSON.stringify(statuses)})`);
  expect(origin.arrivals.length === PASS, `${tab.kind}: the server got ${PASS} POSTs (got ${origin.arrivals.length})`);
  // Playwright's answers come in a little after the page's; wait for them.
  await until(`${tab.kind}: Playwright to see every answer`, () => answers.fromWorker + answers.fromNetwork >= PASS, 5_000);
  if (tab.kind === 'none') {
    expect(answers.fromWorker === 0, `no worker: no answer came from a worker (${JSON.stringify(answers)})`);
  } else {
    expect(answers.fromWorker === PASS, `${tab.kind}: every pass-through answer came from the worker (${JSON.stringify(answers)})`);
  }
  if (tab.kind === 'ours' || tab.kind === 'qf') {
    const keyed = origin.arrivals.filter((a) => a.key).length;
    expect(keyed === PASS, `offline-sync: every pass-through POST carried an Idempotency-Key (${keyed}/${PASS})`);
  }
  return { median: median(ms), p99: percentile(ms, 99) };
}

/** Stops only this tab's worker (stopAllWorkers would do the same to the others). */
async function stopWorker(tab) {
  for (const v of workerVersions(tab).filter((v) => v.status === 'activated')) {
    await tab.cdp.send('ServiceWorker.stopWorker', { versionId: v.versionId });
  }
  await until(`${tab.kind}: its worker to stop`, () => {
    const vs = workerVersions(tab).filter((v) => v.status === 'activated');
    return vs.length > 0 && vs.every((v) => v.runningStatus === 'stopped');
  }, 10_000, 5);
}

const workerRunning = (tab) => workerVersions(tab).some((v) => v.runningStatus === 'running' || v.runningStatus === 'starting');

/** 4. From a stopped worker to the answer of one online POST through it. */
async function coldStart(tab) {
  const { page, origin, answers } = tab;
  debug(tab.kind, 'cold start');
  await page.bringToFront();
  // A worker left stopped makes Playwright's setOffline hang on it, so every worker stopped here
  // is started again by the POST that follows.
  await stopWorker(tab);
  origin.reset();
  const before = answers.fromWorker;
  const r = await bounded(`${tab.kind}: cold start`, page.evaluate(() => window.post(2_000_000)), 30_000);
  expect(r.ok && r.status === 201, `${tab.kind}: the cold-start POST answered 201 (${JSON.stringify(r)})`);
  expect(origin.arrivals.length === 1, `${tab.kind}: the cold-start POST reached the server once`);
  await until(`${tab.kind}: the cold-start answer to be seen`, () => answers.fromWorker > before || answers.fromNetwork > 0, 5_000);
  expect(answers.fromWorker === before + 1, `${tab.kind}: the cold-start answer came from the worker`);
  expect(workerRunning(tab), `${tab.kind}: the worker was started again`);
  return r.ms;
}

/**
 * 6. A page load after idle: the page's worker stopped (none for "no worker"), the page loaded
 * again; the time from the navigation's start to its response's first byte. Whether the load
 * started the worker is noted: offline-sync's static routes send GETs past a stopped worker.
 */
async function pageLoad(tab, notes) {
  const { page, origin } = tab;
  debug(tab.kind, 'page load after idle');
  await page.bringToFront();
  if (tab.kind !== 'none') await stopWorker(tab);
  await bounded(`${tab.kind}: the page load`, page.goto(`${origin.base}/index.html?sw=${tab.kind}`), 30_000);
  const ttfb = await page.evaluate(() => performance.getEntriesByType('navigation')[0].responseStart);
  await bounded(`${tab.kind}: the page to be ready again`, page.evaluate(() => window.ready), 30_000);
  if (tab.kind === 'none') return ttfb;
  notes.add(`${NAME[tab.kind]}: its worker was ${workerRunning(tab) ? 'running' : 'still stopped'} after a page load after idle`);
  // A worker left stopped makes Playwright's setOffline hang on it: start it again.
  if (!workerRunning(tab)) {
    await tab.cdp.send('ServiceWorker.startWorker', { scopeURL: `${origin.base}/` });
    await until(`${tab.kind}: its worker to start again`, () => workerRunning(tab), 10_000, 5);
  }
  return ttfb;
}

/**
 * 1 and 2. Offline: ENQUEUE POSTs, 16 in flight. Then back online: one sync event drains them.
 * With `outage: 'server'`, the browser stays online and the server cuts every API connection
 * instead; once it serves again, one sync event (sent over CDP: the browser sees no change)
 * drains the queue.
 */
async function enqueueAndDrain(tab, context, notes, { outage = 'browser' } = {}) {
  const { page, cdp, origin, answers } = tab;
  await page.bringToFront();
  expect(((await page.evaluate(() => window.queueLength())) ?? 0) === 0, `${tab.kind}: the queue is empty before the enqueue`);
  origin.reset();
  Object.assign(answers, { fromWorker: 0, fromNetwork: 0, failed: 0 });
  const usageBefore = await page.evaluate(() => window.estimate());

  debug(tab.kind, 'outage:', outage);
  const goDown = () => (outage === 'browser' ? context.setOffline(true) : origin.setDown(true));
  const comeBack = () => (outage === 'browser' ? context.setOffline(false) : origin.setDown(false));
  await goDown();
  let enq;
  try {
    enq = await bounded(`${tab.kind}: enqueue`, page.evaluate(([n, k]) => window.enqueue(n, k), [ENQUEUE, INFLIGHT]));
  } catch (e) {
    await comeBack();
    throw e;
  }
  // Every request settled: ours answers 202 {queued: true}; workbox lets the page's fetch reject.
  if (tab.kind !== 'workbox') {
    expect(enq.statuses[202] === ENQUEUE && enq.queuedTrue === ENQUEUE,
      `offline-sync: every offline POST answered 202 {queued: true} (${JSON.stringify(enq)})`);
  } else {
    const rejected = Object.values(enq.errors).reduce((a, b) => a + b, 0);
    expect(rejected === ENQUEUE, `workbox: every offline POST rejected in the page (${JSON.stringify(enq)})`);
  }
  expect(origin.arrivals.length === 0, `${tab.kind}: nothing reached the server while offline`);
  // Ours answers 202 once the entry is on disk; workbox's fetch rejects once its plugin's write is
  // made, which may not have committed yet: that gets a moment.
  const count = () => page.evaluate(() => window.queueLength());
  if (tab.kind === 'workbox') await until('workbox: its queue to hold every entry', async () => (await count()) === ENQUEUE, 5_000).catch(() => {});
  const queued = await count();
  expect(queued === ENQUEUE, `${tab.kind}: ${ENQUEUE} entries in the worker's IndexedDB after the enqueue (found ${queued})`);
  // The quota manager's figure can lag a write a little: read it until it holds still.
  let usage = await page.evaluate(() => window.estimate());
  for (let i = 0; i < 20; i++) {
    await sleep(100);
    const again = await page.evaluate(() => window.estimate());
    if (again.indexedDB === usage.indexedDB) break;
    usage = again;
  }

  // Back online. Chromium fires the worker's pending sync registration by itself when the emulated
  // network returns (seen with Chromium 156): that one sync event is the drain, and the clock starts
  // at setOffline(false). A CDP dispatchSyncEvent on top of it would start a second, concurrent
  // replay in workbox (it has no single flight across sync events), so it is sent only if the
  // browser has not started a replay within AUTO_SYNC_WAIT_MS.
  debug(tab.kind, 'enqueued', enq.ms, 'ms; coming back');
  const tOnline = performance.now();
  await comeBack();
  let dispatched = null;
  let t0 = tOnline;
  const auto = outage === 'browser' && await until('', () => origin.arrivals.length > 0, AUTO_SYNC_WAIT_MS, 5).then(() => true, () => false);
  if (!auto) {
    if (outage === 'browser') notes.add(`${NAME[tab.kind]}: Chromium did not fire the sync by itself on going online; the drain was started with CDP dispatchSyncEvent and timed from it`);
    t0 = performance.now();
    dispatched = cdp.send('ServiceWorker.dispatchSyncEvent', {
      origin: origin.base, registrationId: tab.registrationId, tag: SYNC_TAG[tab.kind], lastChance: false,
    });
  }
  await until(`${tab.kind}: the server to receive ${ENQUEUE} replays`, () => origin.arrivals.length >= ENQUEUE, STEP_MS, 5);
  const drainMs = origin.arrivals[ENQUEUE - 1].t - t0;
  if (dispatched) await bounded(`${tab.kind}: dispatchSyncEvent`, dispatched, 30_000);
  await until(`${tab.kind}: its queue to be empty`, async () => (await page.evaluate(() => window.queueLength())) === 0, 30_000, 50);
  await sleep(200); // anything sent twice would arrive now
  const ns = new Set(origin.arrivals.map((a) => a.n));
  expect(ns.size === ENQUEUE && [...ns].every((n) => Number.isInteger(n) && n >= 0 && n < ENQUEUE),
    `${tab.kind}: the server got each of the ${ENQUEUE} queued POSTs (${ns.size} distinct)`);
  const duplicates = origin.arrivals.length - ENQUEUE;
  if (duplicates) notes.add(`${NAME[tab.kind]}: ${duplicates} replay(s) arrived twice in a drain`);
  if (tab.kind !== 'workbox') {
    const keys = new Set(origin.arrivals.map((a) => a.key).filter(Boolean));
    expect(keys.size === ENQUEUE, `offline-sync: each replay carried its own Idempotency-Key (${keys.size})`);
  }
  return {
    enqueueMs: enq.ms,
    idbBytes: usage.indexedDB,
    idbBytesBefore: usageBefore.indexedDB,
    drainMs,
    firstReplayMs: origin.arrivals[0].t - t0,
    autoSync: auto,
  };
}

// --- one run ------------------------------------------------------------------------------------
async function oneRun(run, browser, files, notes) {
  const { startOrigin } = await import('./server.mjs');
  const origins = {};
  try {
    for (const kind of KINDS) {
      origins[kind] = await startOrigin(kind === 'bare' ? { ...files, '/offline-sync.js': join(HERE, 'site', 'bare-worker.js') } : files);
      await openOrigin(browser.pages[kind], origins[kind]);
    }
    // Alternate which worker goes first, so that neither always gets the warmer machine.
    const order = run % 2 === 0 ? ['ours', 'workbox'] : ['workbox', 'ours'];
    const tabs = browser.pages;
    const out = { order };

    // 3. pass-through, with the no-worker page as the baseline.
    out.pass = {};
    // Queue-first (offline-sync's option) only here: what it costs online is the question.
    for (const kind of ['none', ...order, 'qf']) out.pass[kind] = await passThrough(tabs[kind]);

    // 4. cold start, alternating between the two workers.
    out.cold = { ours: [], workbox: [] };
    for (let i = 0; i < COLD; i++) for (const kind of order) out.cold[kind].push(await coldStart(tabs[kind]));
    out.none = { post: median(await tabs.none.page.evaluate(async (n) => (await window.sequential(n, 3_000_000)).ms, COLD)) };

    // 6. page load after idle: the two workers, a bare one under the same static routes as
    // offline-sync, and no worker; the order turns by one each round, as a tab's place in it shows.
    out.load = { ours: [], workbox: [], bare: [], none: [] };
    const loads = [...order, 'bare', 'none'];
    for (let i = 0; i < COLD; i++) for (const kind of rotated(loads, i)) out.load[kind].push(await pageLoad(tabs[kind], notes));

    // 1 + 2. enqueue offline, then drain; and the drain's floor, the same POSTs one after another
    // with no worker.
    out.queue = {};
    for (const kind of [...order, 'batch']) out.queue[kind] = await enqueueAndDrain(tabs[kind], browser.context, notes);
    // The same with the server down while the browser thinks it is online.
    out.down = {};
    for (const kind of order) out.down[kind] = await enqueueAndDrain(tabs[kind], browser.context, notes, { outage: 'server' });
    await tabs.none.page.bringToFront();
    tabs.none.origin.reset();
    const t0 = performance.now();
    await bounded('no worker: the floor', tabs.none.page.evaluate((n) => window.sequential(n, 4_000_000), ENQUEUE));
    out.floorMs = performance.now() - t0;
    expect(tabs.none.origin.arrivals.length === ENQUEUE, `no worker: the floor's ${ENQUEUE} POSTs reached the server`);
    return out;
  } finally {
    // Retire this run's workers: unregistered, they stop, and later runs start from nothing.
    for (const kind of KINDS.filter((k) => k !== 'none')) {
      if (!origins[kind]) continue;
      await bounded(`${kind}: unregistering`, browser.pages[kind].page.evaluate(async () => {
        for (const r of await navigator.serviceWorker.getRegistrations()) await r.unregister();
      }), 10_000).catch((e) => console.error(e.message));
    }
    for (const o of Object.values(origins)) await o.close();
  }
}

// --- the report ---------------------------------------------------------------------------------
function machine() {
  let cpu = 'unknown';
  try {
    cpu = readFileSync('/proc/cpuinfo', 'utf8').match(/^model name\s*:\s*(.+)$/m)?.[1].trim() ?? cpu;
  } catch {}
  return { cpu, cores: cpus().length, memoryGB: +(totalmem() / 2 ** 30).toFixed(1), node: process.version };
}

function gitState() {
  try {
    const commit = execFileSync('git', ['rev-parse', 'HEAD'], { cwd: ROOT, encoding: 'utf8' }).trim();
    const dirty = execFileSync('git', ['status', '--porcelain', '--', 'sw', 'shim'], { cwd: ROOT, encoding: 'utf8' }).trim() !== '';
    return { commit, swOrShimDirty: dirty };
  } catch {
    return null;
  }
}

/** One row: per-run values of each side; the ratio is taken pair by pair, then its median. */
function row(id, label, unit, ours, workbox, none = null, fmt = fmtMs) {
  const ratios = ours.map((o, i) => o / workbox[i]);
  return {
    id, label, unit,
    ours: summary(ours),
    workbox: summary(workbox),
    none: none && summary(none),
    ratio: summary(ratios),
    fmt,
  };
}

function table(rows) {
  const cell = (s, fmt) => (fmt(s.min) === fmt(s.max) ? fmt(s.median) : `${fmt(s.median)} [${fmt(s.min)}–${fmt(s.max)}]`);
  const lines = rows.map((r) => [
    r.unit === 'ms' ? `${r.label} (ms)` : r.label,
    cell(r.ours, r.fmt),
    cell(r.workbox, r.fmt),
    r.ratio.median.toFixed(2),
    r.none ? cell(r.none, r.fmt) : '—',
  ]);
  const head = ['scenario', 'offline-sync median [min–max]', 'workbox median [min–max]', 'ratio', 'no worker'];
  const widths = head.map((h, i) => Math.max(h.length, ...lines.map((l) => l[i].length)));
  const fmtLine = (l) => `| ${l.map((c, i) => (i === 0 ? c.padEnd(widths[i]) : c.padStart(widths[i]))).join(' | ')} |`;
  return [fmtLine(head), `|${widths.map((w, i) => (i === 0 ? '-'.repeat(w + 2) : '-'.repeat(w + 1) + ':')).join('|')}|`, ...lines.map(fmtLine)].join('\n');
}

/** Closes the browser and removes its profile; set once the browser runs. */
let cleanup = async () => {};

// --- main ---------------------------------------------------------------------------------------
async function main() {
  const started = performance.now();
  const loadBefore = loadavg();
  ensureNpm();
  console.log(`==> offline-sync vs workbox-background-sync: ${RUNS} run(s), ${ENQUEUE} queued POSTs, ${PASS} pass-through POSTs, ${COLD} cold starts per run and worker`);
  const { files, size } = await prepareWorkers();
  const browser = await launchBrowser();
  cleanup = browser.close;
  const notes = new Set();
  const runs = [];
  try {
    for (let run = 0; run < RUNS; run++) {
      const t = performance.now();
      const r = await oneRun(run, browser, files, notes);
      runs.push(r);
      const q = r.queue;
      console.log(`run ${run + 1}/${RUNS} (${((performance.now() - t) / 1000).toFixed(1)} s, ${r.order[0]} first): ` +
        `enqueue ${fmtMs(q.ours.enqueueMs)} / ${fmtMs(q.workbox.enqueueMs)} ms, drain ${fmtMs(q.ours.drainMs)} / ${fmtMs(q.workbox.drainMs)} ms ` +
        `(first request after ${fmtMs(q.ours.firstReplayMs)} ms; batchUrl ${fmtMs(q.batch.drainMs)} ms; floor ${fmtMs(r.floorMs)} ms), ` +
        `pass-through median ${fmtMs(r.pass.ours.median)} / ${fmtMs(r.pass.workbox.median)} / ${fmtMs(r.pass.none.median)} ms, ` +
        `cold ${fmtMs(median(r.cold.ours))} / ${fmtMs(median(r.cold.workbox))} ms, ` +
        `page load after idle ${fmtMs(median(r.load.ours))} / ${fmtMs(median(r.load.workbox))} / ${fmtMs(median(r.load.none))} ms (offline-sync / workbox [/ no worker]), a bare worker ${fmtMs(median(r.load.bare))} ms`);
    }
  } finally {
    await browser.close();
  }

  const pick = (f) => ({ ours: runs.map((r) => f(r, 'ours')), workbox: runs.map((r) => f(r, 'workbox')) });
  const col = (f) => { const p = pick(f); return [p.ours, p.workbox]; };
  const rows = [
    row('enqueue', `enqueue ${ENQUEUE} offline POSTs, ${INFLIGHT} in flight`, 'ms', ...col((r, k) => r.queue[k].enqueueMs)),
    row('enqueue-idb', 'IndexedDB used after the enqueue', 'bytes', ...col((r, k) => r.queue[k].idbBytes), null, fmtBytes),
    row('drain', `drain ${ENQUEUE} entries, one sync event (no worker: the same POSTs one after another)`, 'ms', ...col((r, k) => r.queue[k].drainMs), runs.map((r) => r.floorMs)),
    row('drain-floor', 'drain against the floor (offline-sync / no worker; workbox / no worker)', 'ratio', runs.map((r) => r.queue.ours.drainMs / r.floorMs), runs.map((r) => r.queue.workbox.drainMs / r.floorMs), null, fmtRatio),
    row('first-replay', 'drain: the first replayed request after the sync', 'ms', ...col((r, k) => r.queue[k].firstReplayMs)),
    row('drain-batch', 'drain, with batchUrl (offline-sync only)', 'ms', runs.map((r) => r.queue.batch.drainMs), runs.map((r) => r.queue.workbox.drainMs)),
    row('enqueue-down', `enqueue ${ENQUEUE} POSTs, ${INFLIGHT} in flight, server down, browser online`, 'ms', ...col((r, k) => r.down[k].enqueueMs)),
    row('drain-down', 'drain them on one sync once the server is back', 'ms', ...col((r, k) => r.down[k].drainMs)),
    row('pass-median', 'pass-through added latency, median', 'ms', ...col((r, k) => r.pass[k].median - r.pass.none.median), runs.map((r) => r.pass.none.median)),
    row('pass-qf', 'pass-through added latency, median, queue-first', 'ms', runs.map((r) => r.pass.qf.median - r.pass.none.median), runs.map((r) => r.pass.workbox.median - r.pass.none.median), runs.map((r) => r.pass.none.median)),
    row('pass-p99', 'pass-through added latency, p99', 'ms', ...col((r, k) => r.pass[k].p99 - r.pass.none.p99), runs.map((r) => r.pass.none.p99)),
    row('cold', `cold start to first answer (median of ${COLD})`, 'ms', ...col((r, k) => median(r.cold[k])), runs.map((r) => r.none.post)),
    row('load', `page load after idle: time to the navigation's first byte (median of ${COLD})`, 'ms', ...col((r, k) => median(r.load[k])), runs.map((r) => median(r.load.none))),
    row('load-floor', 'page load after idle against no worker', 'ratio', runs.map((r) => median(r.load.ours) / median(r.load.none)), runs.map((r) => median(r.load.workbox) / median(r.load.none)), null, fmtRatio),
    row('load-bare', 'page load after idle against a bare worker (no worker: the bare one against none)', 'ratio', runs.map((r) => median(r.load.ours) / median(r.load.bare)), runs.map((r) => median(r.load.workbox) / median(r.load.bare)), runs.map((r) => median(r.load.bare) / median(r.load.none)), fmtRatio),
    row('size', 'gzipped size of what the worker loads', 'bytes', Array(RUNS).fill(size.ours.gzip), Array(RUNS).fill(size.workbox.gzip), null, fmtBytes),
  ];
  const elapsed = (performance.now() - started) / 1000;
  const report = {
    date: new Date().toISOString(),
    machine: { ...machine(), loadavg1mAtStart: loadBefore[0], loadavg1mAtEnd: loadavg()[0] },
    chromium: browser.chromiumVersion,
    versions: {
      playwrightCore: JSON.parse(readFileSync(join(HERE, 'node_modules', 'playwright-core', 'package.json'))).version,
      esbuild: JSON.parse(readFileSync(join(HERE, 'node_modules', 'esbuild', 'package.json'))).version,
      workboxBackgroundSync: JSON.parse(readFileSync(join(HERE, 'node_modules', 'workbox-background-sync', 'package.json'))).version,
      offlineSync: gitState(),
    },
    settings: { runs: RUNS, enqueue: ENQUEUE, inflight: INFLIGHT, bodyBytes: 1024, passThrough: PASS, warmup: WARMUP, coldStarts: COLD },
    size,
    rows: rows.map(({ fmt, ...r }) => r),
    runs,
    notes: [...notes],
    seconds: +elapsed.toFixed(1),
  };
  writeFileSync(join(OUT, 'latest.json'), JSON.stringify(report, null, 2) + '\n');

  console.log(`\n${report.date} · ${report.machine.cpu}, ${report.machine.cores} cores · ${report.chromium} · ${RUNS} run(s)`);
  console.log(`ratio = offline-sync / workbox, per run, then the median; below 1 means offline-sync is faster or smaller.`);
  console.log(`no worker: the same POST without a worker (pass-through baseline; an online POST for cold start).\n`);
  console.log(table(rows));
  for (const n of notes) console.log(`note: ${n}`);
  console.log(`\nsizes: offline-sync ${size.ours.raw} bytes raw, ${size.ours.gzip} gzipped; workbox ${size.workbox.raw} raw, ${size.workbox.gzip} gzipped`);
  console.log(`wrote target/bench/latest.json; the benchmark took ${elapsed.toFixed(1)} s`);
}

const guard = setTimeout(async () => {
  console.error(`the benchmark did not finish within ${TOTAL_MS / 1000} s; stopping`);
  await bounded('closing the browser', cleanup(), 10_000).catch(() => {});
  process.exit(1);
}, TOTAL_MS);
for (const signal of ['SIGINT', 'SIGTERM']) {
  process.once(signal, async () => {
    await bounded('closing the browser', cleanup(), 10_000).catch(() => {});
    process.exit(130);
  });
}
guard.unref();
main().then(
  () => process.exit(0),
  (error) => {
    console.error(error?.stack ?? error);
    process.exit(1);
  },
);
