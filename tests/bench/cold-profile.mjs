#!/usr/bin/env node
// Where a cold start's time goes inside the worker: V8's CPU profile of offline-sync's worker from
// its start to shortly after its first answer, over raw CDP (a session attached to the running
// worker, whose profiler carries on through the stop and the next start).
//
//   node --experimental-websocket tests/bench/cold-profile.mjs ENGINE.js [cold starts, 5 by default]
//
// ENGINE.js is a dist/offline-sync.js; built from a module that keeps its names (see README.md
// beside this file), the wasm functions are named. Prints, per cold start, the samples in time
// order (runs of the same function folded into one line: from–to ms, samples, name), then each
// function's self time, the mean of the cold starts. The profiler slows everything down: read
// the order and the proportions, not the milliseconds.
import { existsSync } from 'node:fs';
import { createServer } from 'node:net';
import { join } from 'node:path';
import { startOrigin } from './server.mjs';
import { CHROMIUM, CHROMIUM_ARGS, bounded, ensureNpm, sleep } from './common.mjs';

const [ENGINE, startsArg = '5'] = process.argv.slice(2);
const STARTS = Number(startsArg);
if (!ENGINE || !existsSync(ENGINE) || !Number.isInteger(STARTS) || STARTS < 1) {
  console.error('usage: node --experimental-websocket tests/bench/cold-profile.mjs ENGINE.js [cold starts]');
  process.exit(2);
}
const HERE = new URL('.', import.meta.url).pathname;
const freePort = () => new Promise((resolve) => {
  const probe = createServer().listen(0, '127.0.0.1', () => {
    const { port } = probe.address();
    probe.close(() => resolve(port));
  });
});

const origin = await startOrigin({
  '/index.html': join(HERE, 'site', 'index.html'),
  '/sw.js': join(HERE, '..', '..', 'dist', 'sw.js'),
  '/offline-sync.js': ENGINE,
});
const port = await freePort();
ensureNpm();
const { chromium } = await import('playwright-core');
const browser = await chromium.launch({
  executablePath: CHROMIUM, headless: true, args: [...CHROMIUM_ARGS, `--remote-debugging-port=${port}`],
});
try {
  const page = await (await browser.newContext()).newPage();
  await page.goto(`${origin.base}/index.html?sw=ours`);
  await bounded('the worker to control the page', page.evaluate(() => window.ready), 30_000);
  const pageCdp = await page.context().newCDPSession(page);
  await pageCdp.send('ServiceWorker.enable');

  // The browser's own CDP endpoint: Playwright's sessions cannot hold a new worker at its start.
  const { webSocketDebuggerUrl } = await (await fetch(`http://127.0.0.1:${port}/json/version`)).json();
  const ws = new WebSocket(webSocketDebuggerUrl);
  await bounded('the CDP connection', new Promise((resolve) => ws.addEventListener('open', resolve, { once: true })), 10_000);
  let seq = 0;
  const waiting = new Map();
  const send = (sessionId, method, params = {}) => bounded(method, new Promise((resolve) => {
    const id = ++seq;
    waiting.set(id, resolve);
    ws.send(JSON.stringify({ id, method, params, ...(sessionId ? { sessionId } : {}) }));
  }), 10_000);
  let profiling = null;
  ws.addEventListener('message', async ({ data }) => {
    const message = JSON.parse(data);
    if (message.id && waiting.has(message.id)) {
      waiting.get(message.id)(message.result ?? message.error);
      waiting.delete(message.id);
      return;
    }
    if (message.method !== 'Target.attachedToTarget') return;
    const { sessionId, targetInfo } = message.params;
    if (targetInfo.type === 'service_worker') {
      await send(sessionId, 'Profiler.enable');
      await send(sessionId, 'Profiler.setSamplingInterval', { interval: 50 });
      profiling = sessionId;
    }
    await send(sessionId, 'Runtime.runIfWaitingForDebugger');
  });
  // Attached once, to the running worker: the session and its profiler outlive the worker's
  // stops and starts.
  await send(null, 'Target.setAutoAttach', { autoAttach: true, waitForDebuggerOnStart: true, flatten: true });
  const worker = await bounded('the worker to be attached', (async () => {
    while (!profiling) await sleep(20);
    return profiling;
  })(), 10_000);

  const selfMs = new Map();
  let profiles = 0;
  for (let i = 0; i < STARTS; i++) {
    await send(worker, 'Profiler.start');
    await pageCdp.send('ServiceWorker.stopAllWorkers');
    await sleep(300);
    const r = await bounded('the cold-start POST', page.evaluate((k) => window.post(k), 8_000_000 + i), 30_000);
    if (!r.ok || r.status !== 201) throw new Error(`the cold-start POST failed: ${JSON.stringify(r)}`);
    await sleep(50);
    const { profile } = await send(worker, 'Profiler.stop');
    profiles++;
    const nodes = new Map(profile.nodes.map((n) => [n.id, n.callFrame]));
    const runs = [];
    let at = 0;
    profile.samples.forEach((sample, k) => {
      at += profile.timeDeltas[k] / 1000;
      const frame = nodes.get(sample);
      const name = frame.functionName || `(anonymous ${frame.url.split('/').pop()})`;
      const ms = (profile.timeDeltas[k + 1] ?? 0) / 1000;
      selfMs.set(name, (selfMs.get(name) ?? 0) + ms);
      if (name === '(idle)') return;
      const last = runs[runs.length - 1];
      if (last && last.name === name) Object.assign(last, { to: at, n: last.n + 1 });
      else runs.push({ from: at, to: at, n: 1, name });
    });
    console.log(`cold start ${i + 1}: the page's POST took ${r.ms.toFixed(1)} ms`);
    for (const run of runs) console.log(`  ${run.from.toFixed(1)}–${run.to.toFixed(1)} ×${run.n} ${run.name.slice(0, 100)}`);
  }
  if (profiles) {
    console.log(`\nself time, mean of ${profiles} cold start(s):`);
    for (const [name, ms] of [...selfMs].sort((a, b) => b[1] - a[1]).slice(0, 40)) {
      console.log(`${(ms / profiles).toFixed(2).padStart(8)} ms  ${name.slice(0, 110)}`);
    }
  }
  ws.close();
} finally {
  await browser.close();
  await origin.close();
}
