// Ways into an existing PWA, and the operator's view (issue: drop-in for real PWAs).
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { startServer, openSession, until, decode, json } from './harness.mjs';

let server;
before(async () => { server = await startServer(); });
after(async () => { await server?.stop(); });

const session = (query) => openSession(server, query);

/** Starts a fetch in the page without waiting for it; resolves to its outcome later. */
const startFetch = (s, url, init) => s.page.evaluate(([url, init]) => {
  window.pendingFetch = fetch(url, init).then((r) => `status ${r.status}`, (e) => `failed: ${e.name}`);
}, [url, init]);

test('queue-first: online mutations are stored before they leave and removed on the answer', async () => {
  const s = await session('?queueFirst=true');
  try {
    const res = await s.fetch('/api/tasks', json({ id: 'qf', title: 'queue first' }));
    assert.equal(res.status, 201, 'online, the page still gets the server answer');
    assert.equal((await s.status()).pending, 0, 'removed on the answer');
    assert.equal((await s.events('offline-sync:queued')).length, 0);
  } finally { await s.close(); }
});

test('queue-first: a body over maxBodyBytes is sent as it is online, and refused with 413 offline', async () => {
  const s = await session('?queueFirst=true&maxBodyBytes=1000');
  try {
    const sent = await s.fetch('/api/tasks', json({ id: 'big', title: 'x'.repeat(2000) }));
    assert.equal(sent.status, 201, 'online it cannot be stored first, so it goes without');
    assert.ok((await server.tasks()).some((t) => t.id === 'big'));
    assert.equal((await s.status()).pending, 0);
    await s.context.setOffline(true);
    const refused = await s.fetch('/api/tasks', json({ id: 'big2', title: 'x'.repeat(2000) }));
    assert.equal(refused.status, 413);
    assert.match(refused.json.error, /over maxBodyBytes \(1000\)/);
    assert.equal((await s.status()).pending, 0, 'nothing was queued');
  } finally { await s.close(); }
});

// The page stays open in neither case: Chromium re-sends the fetch of a page that is still there to
// the restarted worker, which is why pages should set their own Idempotency-Key (the README says so).
// The server holds the request 3 s, so it is still out after the page has gone.
test('queue-first: a worker killed while the request is out loses nothing; network-first does', async () => {
  for (const [query, kept] of [['?queueFirst=true', true], ['', false]]) {
    const s = await session(query);
    try {
      await server.faults({ delayMs: 3000 });
      const title = `killed mid-request ${query}`;
      await startFetch(s, '/api/tasks', json({ title }));
      await new Promise((r) => setTimeout(r, 700)); // the request is out, held by the server
      // The page goes first, so nobody can send it again (a page still there would have its
      // fetch re-sent to the restarted worker); the worker's own request is still out when it dies.
      await s.page.goto('about:blank');
      await s.stopWorker();
      await server.faults({});
      const other = await s.context.newPage();
      await other.goto(`${server.base}/index.html${query}`);
      await other.waitForFunction(() => window.ready);
      const pending = await other.evaluate(() => window.ready.then(() => window.offlineSync.pending()));
      if (!kept) {
        assert.equal(pending.length, 0, 'network-first had nothing stored while the request was out');
        continue;
      }
      assert.equal(pending.length, 1, 'queue-first had it stored before it left');
      await other.evaluate(() => window.offlineSync.replay());
      await until('the task', async () => (await server.tasks()).some((t) => t.title === title));
      assert.equal((await server.tasks()).filter((t) => t.title === title).length, 1, 'applied once');
    } finally { await s.close(); }
  }
});

test('a hand-written worker hands over the requests it chooses with offlineSyncWorker.handle()', async () => {
  const s = await session('?worker=/own-worker.js');
  try {
    await s.context.setOffline(true);
    const chosen = { method: 'POST', headers: { 'content-type': 'application/json', 'x-offline': 'yes' }, body: JSON.stringify({ id: 'chosen', title: 'by the app' }) };
    assert.equal((await s.fetch('/api/tasks', chosen)).status, 202, 'the app chose this one');
    const other = await s.page.evaluate(() => fetch('/api/tasks', { method: 'POST', body: '{}' }).then((r) => r.status, () => 'failed'));
    assert.equal(other, 'failed', 'with fetchListener: false, offline-sync touches nothing by itself');
    assert.equal((await s.pending()).length, 1);
    await s.context.setOffline(false);
    await s.sync();
    await until('the chosen task at the server', async () => (await server.tasks()).some((t) => t.id === 'chosen'));
    const [arrival] = await server.log();
    assert.equal(arrival.headers['x-offline'], 'yes');
    assert.match(arrival.idempotencyKey, /^[0-9a-f-]{36}$/);
  } finally { await s.close(); }
});

test('without Uint8Array.fromBase64 the loader reads the inlined wasm with its own loop', async () => {
  const s = await session('?worker=/no-base64-worker.js');
  try {
    await s.context.setOffline(true);
    assert.equal((await s.fetch('/api/tasks', json({ id: 'old-browser', title: 'queued' }))).status, 202);
    await s.context.setOffline(false);
    await s.sync();
    await until('the task at the server', async () => (await server.tasks()).some((t) => t.id === 'old-browser'));
    assert.deepEqual(s.workerConsole.filter((m) => m.type === 'error').map((m) => m.text), []);
  } finally { await s.close(); }
});

test('debug logs each decision to the console; without it the worker is silent', async () => {
  for (const [query, expectLogs] of [['?debug=true', true], ['', false]]) {
    const s = await session(query);
    try {
      await s.fetch('/api/tasks', json({ id: `d${expectLogs}`, title: 'sent' }));
      await s.context.setOffline(true);
      await s.fetch('/api/tasks', json({ id: `e${expectLogs}`, title: 'queued' }));
      const logs = s.workerConsole.filter((m) => m.type === 'log').map((m) => m.text);
      if (expectLogs) {
        assert.ok(logs.some((l) => /^offline-sync: sent POST .*\/api\/tasks → 201$/.test(l)), JSON.stringify(logs));
        assert.ok(logs.some((l) => /^offline-sync: queued POST .*\/api\/tasks as entry \d+ \(1 pending\)$/.test(l)), JSON.stringify(logs));
      } else {
        assert.deepEqual(logs, []);
      }
    } finally { await s.close(); }
  }
});
