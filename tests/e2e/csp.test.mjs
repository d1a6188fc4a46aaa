// offline-sync under a Content-Security-Policy (issue: drop-in for real PWAs). A worker's CSP comes
// from its script's response: the demo server sends it with every static file (`--header`). With
// 'wasm-unsafe-eval' the engine starts; without it, the worker says so once and gets out of the way,
// and the app still reaches the network.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { ROOT, launch, openPage, until, json, startServer as startDemoServer } from './harness.mjs';

const WITH_WASM = "default-src 'self'; script-src 'self' 'wasm-unsafe-eval'";
const WITHOUT_WASM = "default-src 'self'; script-src 'self'";
const COULD_NOT_START = 'offline-sync: could not start; requests go to the network unprotected.';

/** The demo server with dist/ and the CSP test page, every static file sent with `csp`. */
const startServer = (csp) => startDemoServer({
  site: join(ROOT, 'tests', 'e2e', 'fixture', 'csp'),
  args: ['--header', `Content-Security-Policy: ${csp}`],
});

/** A server with `csp`, a fresh browser, and the test page with the worker in control. */
async function withSession(csp, fn) {
  const server = await startServer(csp);
  const browser = await launch();
  try {
    const sw = await fetch(`${server.base}/sw.js`);
    assert.equal(sw.headers.get('content-security-policy'), csp, 'the worker script carries the policy');
    const s = await openPage(browser.context, server.base);
    await fn({ ...s, server, context: browser.context, workerConsole: browser.workerConsole });
  } finally {
    await browser.close();
    await server.stop();
  }
}

test("with 'wasm-unsafe-eval' the worker starts, queues offline and replays", async () => {
  await withSession(WITH_WASM, async (s) => {
    const online = await s.fetch('/api/tasks', json({ id: 'online', title: 'sent' }));
    assert.equal(online.status, 201);
    await s.context.setOffline(true);
    const queued = await s.fetch('/api/tasks', json({ id: 'offline', title: 'queued under CSP' }));
    assert.equal(queued.status, 202, JSON.stringify(queued));
    assert.equal(queued.json.queued, true);
    assert.equal((await s.status()).pending, 1);
    await s.context.setOffline(false);
    await s.sync();
    await until('the queued task at the server', async () => (await s.server.tasks()).some((t) => t.id === 'offline'));
    assert.equal((await s.settled()).pending, 0);
    const log = await s.server.log();
    assert.deepEqual(log.map((r) => r.path), ['/api/tasks', '/api/tasks']);
    for (const r of log) assert.match(r.idempotencyKey ?? '', /^[0-9a-f-]{36}$/, 'keyed by the engine');
    const errors = s.workerConsole.filter((m) => m.type === 'error');
    assert.deepEqual(errors, [], 'the engine started without complaint');
  });
});

test("without 'wasm-unsafe-eval' the worker says it could not start, and the app still reaches the network", async () => {
  await withSession(WITHOUT_WASM, async (s) => {
    // The page hears it from the worker: Playwright does not always capture a worker's console, so
    // the console line is checked only when it was captured.
    const refused = await s.page.evaluate(() => window.offlineSync.status().then(
      () => 'answered as if it ran',
      (e) => e.message,
    ));
    assert.match(refused, /^offline-sync: could not start in this worker \(.*(WebAssembly|wasm)/i, refused);
    const replay = await s.page.evaluate(() => window.offlineSync.replay().then(() => 'replayed', (e) => e.message));
    assert.equal(replay, refused, 'every question gets the same answer');
    // The worker is there and in control (sw.js's own install/activate ran), but it protects nothing.
    assert.match(await s.page.evaluate(() => navigator.serviceWorker.controller?.scriptURL), /\/sw\.js$/);
    const online = await s.fetch('/api/tasks', json({ id: 'unprotected', title: 'straight to the server' }));
    assert.equal(online.status, 201, 'the server answered');
    assert.equal(online.json.id, 'unprotected');
    assert.deepEqual((await s.server.tasks()).map((t) => t.id), ['unprotected']);
    assert.equal((await s.server.log())[0].idempotencyKey, null, 'no engine: no key');
    await s.context.setOffline(true);
    const offline = await s.page.evaluate(() => fetch('/api/tasks', { method: 'POST', body: '{}' }).then((r) => r.status, (e) => e.name));
    assert.equal(offline, 'TypeError', 'offline, nothing answers for the worker: the fetch fails as without it');
    await s.context.setOffline(false);
    const said = s.workerConsole.filter((m) => m.text.startsWith(COULD_NOT_START));
    assert.ok(said.length <= 1, `said at most once: ${JSON.stringify(said)}`);
    for (const m of said) assert.match(m.text, /WebAssembly|wasm/i, `the cause is named: ${m.text}`);
  });
});
