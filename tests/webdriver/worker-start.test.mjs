// Where Background Sync is missing, the worker also replays when it starts.
// - Firefox stops an idle service worker after `dom.serviceWorkers.idle_timeout` ms (30 s by
//   default); this session sets it to 1 s, so the worker that queued the entry is gone by the time
//   the server is back. The next event that starts it is a GET, which the worker does not
//   intercept and which therefore cannot trigger a replay itself.
// - WebKit has no such setting. There a new worker starts: the page registers the worker again
//   with another option, which is another script URL, so the browser installs an update.
// Either way, a delivery can only come from the start-up replay: no `online`, no ask, no mutation.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { BROWSER, startServer, openBrowser, until, decode } from './harness.mjs';

const IDLE_MS = 1_000;

let server;
let page;
before(async () => {
  server = await startServer();
  page = await openBrowser(server.base, {
    prefs: { 'dom.serviceWorkers.idle_timeout': IDLE_MS, 'dom.serviceWorkers.idle_extended_timeout': IDLE_MS },
  });
});
after(async () => {
  await page?.close();
  await server?.stop();
});

test('a worker that starts with entries waiting replays them by itself', async () => {
  await server.down();
  const body = JSON.stringify({ id: 'ff-start', title: 'delivered by the start-up replay' });
  const res = await page.fetch('/api/tasks', { method: 'POST', headers: { 'content-type': 'application/json' }, body });
  assert.equal(res.status, 202, `answer: ${res.text}`);
  // The 202 does not wait for the news: the queued event follows it.
  await until('the queued event', async () => (await page.events('offline-sync:queued')).length === 1);

  if (BROWSER === 'firefox') {
    // Let the idle worker be stopped (a few idle timeouts), then bring the server back.
    await new Promise((r) => setTimeout(r, 4 * IDLE_MS));
    await server.up();
    assert.equal((await server.log()).length, 0, 'nothing was sent before the worker started again');
    // A plain GET: the worker starts for its fetch event, lets it through, and replays on start.
    const list = await page.fetch('/api/tasks');
    assert.equal(list.status, 200);
  } else {
    await server.up();
    assert.equal((await server.log()).length, 0, 'nothing was sent before a worker started');
    await page.browser.navigate(`${server.base}/index.html?maxAttempts=6`);
    await until('the page registered again', () => page.browser.execute('return typeof window.ready === "object";'));
    await page.evaluate(() => window.ready);
  }
  const [arrival] = await until('the start-up replay at the server', async () => {
    const a = (await server.log()).filter((r) => r.method === 'POST');
    return a.length > 0 && a;
  });
  assert.equal(arrival.outcome, 'applied');
  assert.equal(decode(arrival.bodyBase64).toString(), body);
  assert.match(arrival.idempotencyKey, /^[0-9a-f-]{36}$/);
  const status = await until('pending 0', async () => { const s = await page.status(); return s.pending === 0 && !s.syncing && s; });
  assert.equal(status.lastError, null);
  // In WebKit the page was loaded again, perhaps after the news went out.
  if (BROWSER === 'firefox') {
    const replayed = await until('the replayed event', async () => (await page.events('offline-sync:replayed'))[0]);
    assert.equal(JSON.parse(replayed.body).id, 'ff-start');
  }
});
