// The drain after a server outage, with no Playwright in the path: Chromium driven over raw CDP,
// so nothing instruments the workers' requests. Same page, server and worker files as run.mjs
// (run that first: it writes target/bench/). Prints each run and the medians; not a test.
//
//   node --experimental-websocket tests/bench/drain-cdp.mjs     # BENCH_RUNS=n, BENCH_ENQUEUE=n
import { spawn } from 'node:child_process';
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { CHROMIUM, CHROMIUM_ARGS, SYNC_TAG as TAG, median, sleep, until } from './common.mjs';
import { startOrigin } from './server.mjs';

const HERE = dirname(fileURLToPath(import.meta.url));
const OUT = join(HERE, '..', '..', 'target', 'bench');
const RUNS = Number(process.env.BENCH_RUNS ?? 3);
const N = Number(process.env.BENCH_ENQUEUE ?? 1000);
const PORT = 9341;
const FILES = {
  '/index.html': join(HERE, 'site', 'index.html'),
  '/sw.js': join(OUT, 'sw.js'),
  '/offline-sync.js': join(OUT, 'offline-sync.js'),
  '/workbox-sw.js': join(OUT, 'workbox-sw.js'),
};
for (const file of Object.values(FILES)) {
  if (!existsSync(file)) throw new Error(`${file} is missing: run tests/bench/run.mjs first`);
}


const profile = mkdtempSync(join(tmpdir(), 'offline-sync-cdp-'));
const chromium = spawn(CHROMIUM, [
  ...CHROMIUM_ARGS,
  `--user-data-dir=${profile}`, `--remote-debugging-port=${PORT}`, 'about:blank',
], { stdio: 'ignore' });
let version;
await until('Chromium', async () => {
  version = await fetch(`http://127.0.0.1:${PORT}/json/version`).then((r) => r.json(), () => null);
  return version;
}, 15_000);

const ws = new WebSocket(version.webSocketDebuggerUrl);
await new Promise((resolve) => ws.addEventListener('open', resolve));
let lastId = 0;
const waiting = new Map();
const registrations = new Map();
ws.addEventListener('message', ({ data }) => {
  const m = JSON.parse(data);
  if (m.id && waiting.has(m.id)) {
    waiting.get(m.id)(m);
    waiting.delete(m.id);
  } else if (m.method === 'ServiceWorker.workerRegistrationUpdated') {
    for (const r of m.params.registrations) if (!r.isDeleted) registrations.set(r.scopeURL, r.registrationId);
  }
});
const send = (method, params = {}, sessionId) => new Promise((resolve, reject) => {
  const id = ++lastId;
  waiting.set(id, (m) => (m.error ? reject(new Error(`${method}: ${m.error.message}`)) : resolve(m.result)));
  ws.send(JSON.stringify({ id, method, params, sessionId }));
});

const { targetId } = await send('Target.createTarget', { url: 'about:blank' });
const { sessionId: page } = await send('Target.attachToTarget', { targetId, flatten: true });
await send('Page.enable', {}, page);
await send('ServiceWorker.enable', {}, page);
const evaluate = async (expression) => {
  const { result, exceptionDetails } = await send('Runtime.evaluate', { expression, awaitPromise: true, returnByValue: true }, page);
  if (exceptionDetails) throw new Error(`${expression}: ${exceptionDetails.exception?.description ?? exceptionDetails.text}`);
  return result.value;
};
async function open(origin, kind) {
  await send('Page.navigate', { url: `${origin.base}/index.html?sw=${kind}` }, page);
  await until('the page', () => evaluate('window.ready !== undefined').catch(() => false), 15_000);
  await evaluate('window.ready');
}

/** Queues N entries while the server cuts every connection, then times one sync to the last arrival. */
async function drain(kind) {
  const origin = await startOrigin(FILES);
  try {
    await open(origin, kind);
    origin.setDown(true);
    const enqueued = await evaluate(`window.enqueue(${N}, 16)`);
    await until('the queue', async () => (await evaluate('window.queueLength()')) === N, 60_000);
    // A sync the browser fired during the outage may still be failing its way out.
    await sleep(1000);
    origin.setDown(false);
    origin.reset();
    const registrationId = registrations.get(`${origin.base}/`);
    const t0 = performance.now();
    await send('ServiceWorker.dispatchSyncEvent', { origin: origin.base, registrationId, tag: TAG[kind], lastChance: false }, page);
    await until('the drain', () => origin.arrivals.length >= N, 120_000);
    const last = origin.arrivals[N - 1].t;
    const keys = new Set(origin.arrivals.map((a) => a.n));
    if (keys.size !== N) throw new Error(`${kind}: ${keys.size} distinct bodies arrived of ${N}`);
    return { ms: last - t0, enqueueMs: enqueued.ms };
  } finally {
    await send('Page.navigate', { url: 'about:blank' }, page);
    await origin.close();
  }
}

async function floor() {
  const origin = await startOrigin(FILES);
  try {
    await open(origin, 'none');
    const t0 = performance.now();
    await evaluate(`window.sequential(${N})`);
    if (origin.arrivals.length !== N) throw new Error(`floor: ${origin.arrivals.length} arrivals of ${N}`);
    return performance.now() - t0;
  } finally {
    await origin.close();
  }
}

const rows = [];
try {
  for (let run = 0; run < RUNS; run++) {
    const order = run % 2 ? ['workbox', 'ours'] : ['ours', 'workbox'];
    const got = {};
    for (const kind of order) got[kind] = (await drain(kind)).ms;
    got.floor = await floor();
    rows.push(got);
    console.log(`run ${run + 1}: offline-sync ${got.ours.toFixed(0)} ms, workbox ${got.workbox.toFixed(0)} ms, floor ${got.floor.toFixed(0)} ms`);
  }
  const ratio = median(rows.map((r) => r.ours / r.workbox));
  const overFloor = median(rows.map((r) => r.ours / r.floor));
  console.log(`drain of ${N} after the server was down, no Playwright (${version.Browser}), median of ${RUNS}:`);
  console.log(`  offline-sync ${median(rows.map((r) => r.ours)).toFixed(0)} ms, workbox ${median(rows.map((r) => r.workbox)).toFixed(0)} ms, floor ${median(rows.map((r) => r.floor)).toFixed(0)} ms`);
  console.log(`  ratio ${ratio.toFixed(2)}, offline-sync / floor ${overFloor.toFixed(2)}, workbox / floor ${median(rows.map((r) => r.workbox / r.floor)).toFixed(2)}`);
} finally {
  ws.close();
  const exited = new Promise((resolve) => chromium.once('exit', resolve));
  chromium.kill();
  await Promise.race([exited, sleep(10_000)]);
  rmSync(profile, { recursive: true, force: true, maxRetries: 5 });
}
