// The worker's core cases in the browsers without Background Sync, driven over WebDriver
// (selenium-webdriver): Firefox ESR (geckodriver) and WebKitGTK, Safari's engine (WebKitWebDriver),
// chosen by BROWSER. What runs here are the fallback replay paths: the page's `online` event, an
// explicit replay(), and a mutation that gets through. "Offline" is the demo server being stopped
// (connection refused is a network failure for the worker); "back online" is the server started
// again on the same port with the same SQLite file. The tests share one browser and run in order.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { BROWSER, startServer, openBrowser, until, decode } from './harness.mjs';

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/;

let server;
let page;
before(async () => {
  server = await startServer();
  page = await openBrowser(server.base);
});
after(async () => {
  await page?.close();
  await server?.stop();
});

const json = (value, headers = {}) => ({
  method: 'POST',
  headers: { 'content-type': 'application/json', ...headers },
  body: JSON.stringify(value),
});

/** Mutations the server applied (its log also holds the GETs these tests make). */
const applied = async () => (await server.log()).filter((r) => r.method !== 'GET' && r.outcome === 'applied');

/** The four status fields this suite is about (the worker may report more). */
const core = ({ pending, syncing, lastSyncAt, lastError }) => ({ pending, syncing, lastSyncAt, lastError });

async function goOffline() {
  await server.down();
  assert.equal(await server.reachable(), false, 'nothing answers on the port while the server is down');
}

async function comeBack() {
  await server.up();
  assert.equal(await server.reachable(), true);
}

test(`${BROWSER} has no Background Sync, so the fallback paths are what run`, async () => {
  const found = await page.evaluate(async () => {
    const registration = await navigator.serviceWorker.ready;
    return {
      syncManager: typeof SyncManager,
      registrationSync: 'sync' in registration,
      controlled: !!navigator.serviceWorker.controller,
      userAgent: navigator.userAgent,
    };
  });
  assert.equal(found.syncManager, 'undefined');
  assert.equal(found.registrationSync, false);
  assert.equal(found.controlled, true, 'the worker controls the page');
  assert.match(found.userAgent, BROWSER === 'firefox' ? /Firefox\// : /AppleWebKit\/.*Safari\//);
  assert.deepEqual(core(await page.status()), { pending: 0, syncing: false, lastSyncAt: null, lastError: null });
});

const firstBody = JSON.stringify({ id: 'ff-1', title: 'queued in Firefox ✓' });
let firstId;

test('a. server down: the POST is stored and answered 202; pending() and status() list it', async () => {
  await goOffline();
  const res = await page.fetch('/api/tasks', { method: 'POST', headers: { 'content-type': 'application/json', 'x-trace': 'ff' }, body: firstBody });
  assert.equal(res.status, 202, `answer: ${res.text}`);
  assert.equal(res.json.queued, true);
  assert.equal(res.json.pending, 1);
  assert.equal(typeof res.json.id, 'number');
  firstId = res.json.id;

  const entries = await page.pending();
  assert.equal(entries.length, 1);
  assert.deepEqual([entries[0].id, entries[0].method, entries[0].url], [firstId, 'POST', `${server.base}/api/tasks`]);
  assert.equal(entries[0].lastStatus, null);
  const status = await page.status();
  assert.equal(status.pending, 1);
  assert.equal(status.syncing, false);
});

test('b. back online: the page\'s online event makes the worker replay; same body, an Idempotency-Key', async () => {
  await comeBack();
  assert.equal((await server.tasks()).some((t) => t.id === 'ff-1'), false, 'not delivered before the online event');
  assert.equal((await applied()).length, 0);

  await page.online();
  const [arrival] = await until('the replayed POST at the server', async () => { const a = await applied(); return a.length > 0 && a; });
  assert.equal(`${arrival.method} ${arrival.path}`, 'POST /api/tasks');
  assert.equal(decode(arrival.bodyBase64).toString(), firstBody, 'the body arrives byte for byte');
  assert.equal(arrival.headers['content-type'], 'application/json');
  assert.equal(arrival.headers['x-trace'], 'ff');
  assert.match(arrival.idempotencyKey, UUID);
  assert.equal(arrival.headers['idempotency-key'], arrival.idempotencyKey);
  assert.equal(arrival.status, 201);
  assert.equal((await server.tasks()).filter((t) => t.id === 'ff-1').length, 1);

  const status = await until('pending 0', async () => { const s = await page.status(); return s.pending === 0 && !s.syncing && s; });
  assert.equal(status.lastError, null);
  assert.ok(status.lastSyncAt > 0);
  assert.deepEqual(await page.pending(), []);
  const replayed = await until('the replayed event in the page', async () => (await page.events('offline-sync:replayed'))[0]);
  assert.deepEqual([replayed.id, replayed.method, replayed.url, replayed.status], [firstId, 'POST', `${server.base}/api/tasks`, 201]);
  assert.equal(JSON.parse(replayed.body).id, 'ff-1', 'the page sees the server\'s answer');
  assert.equal(replayed.bodyTruncated, false);
});

test('c. replay() on request: two queued while down are delivered in order, keys kept', async () => {
  await goOffline();
  const second = await page.fetch('/api/tasks', json({ id: 'ff-2', title: 'second' }));
  const third = await page.fetch('/api/tasks', json({ id: 'ff-3', title: 'third' }, { 'idempotency-key': 'ff-page-chose-this' }));
  assert.deepEqual([second.status, second.json.pending], [202, 1]);
  assert.deepEqual([third.status, third.json.pending], [202, 2]);
  assert.ok(third.json.id > second.json.id, 'ids grow in arrival order');
  assert.deepEqual((await page.pending()).map((e) => e.id), [second.json.id, third.json.id]);

  await comeBack();
  const status = await page.replay();
  assert.equal(status.pending, 0);
  assert.equal(status.syncing, false);
  assert.equal(status.lastError, null);
  assert.ok(status.lastSyncAt > 0);

  const log = await applied();
  assert.deepEqual(log.map((r) => JSON.parse(decode(r.bodyBase64)).id), ['ff-2', 'ff-3'], 'in the order they were made, once each');
  assert.match(log[0].idempotencyKey, UUID);
  assert.equal(log[1].idempotencyKey, 'ff-page-chose-this', 'a key the page set is kept');
  const ids = (await server.tasks()).map((t) => t.id);
  for (const id of ['ff-1', 'ff-2', 'ff-3']) assert.equal(ids.filter((x) => x === id).length, 1, `${id} stored once`);
  assert.deepEqual(await page.pending(), []);
});

test('d. queued and status messages reach the page', async () => {
  const queued = await page.events('offline-sync:queued');
  assert.deepEqual(queued.map((e) => [e.method, e.url, e.pending]), [
    ['POST', `${server.base}/api/tasks`, 1],
    ['POST', `${server.base}/api/tasks`, 1],
    ['POST', `${server.base}/api/tasks`, 2],
  ]);
  assert.equal(queued[0].id, firstId);

  const statuses = await page.events('offline-sync:status');
  for (const s of statuses) {
    for (const key of ['pending', 'syncing', 'lastSyncAt', 'lastError']) assert.ok(key in s, `a status message has ${key}`);
  }
  assert.ok(statuses.some((s) => s.pending === 1 && !s.syncing), 'a status after the first queued entry');
  assert.ok(statuses.some((s) => s.pending === 2), 'a status after the third');
  assert.ok(statuses.some((s) => s.syncing), 'a status said a replay was under way');
  const last = statuses.at(-1);
  assert.deepEqual([last.pending, last.syncing, last.lastError], [0, false, null]);

  const replayed = await page.events('offline-sync:replayed');
  assert.deepEqual(replayed.map((e) => JSON.parse(e.body).id), ['ff-1', 'ff-2', 'ff-3']);
  assert.deepEqual(await page.events('offline-sync:failed'), []);
  assert.deepEqual(await page.events('offline-sync:expired'), []);
});

test('e. a mutation that gets through makes the worker replay what waits behind it', async () => {
  await goOffline();
  const waiting = await page.fetch('/api/tasks', json({ id: 'ff-4', title: 'waited' }));
  assert.equal(waiting.status, 202);
  await comeBack();
  assert.equal((await applied()).some((r) => JSON.parse(decode(r.bodyBase64)).id === 'ff-4'), false, 'not sent by itself');
  const through = await page.fetch('/api/tasks', json({ id: 'ff-5', title: 'straight through' }));
  assert.equal(through.status, 201, 'the server answered it');
  await until('the waiting entry at the server', async () => (await server.tasks()).some((t) => t.id === 'ff-4'));
  const status = await until('pending 0', async () => { const s = await page.status(); return s.pending === 0 && !s.syncing && s; });
  assert.equal(status.lastError, null);
  const ids = (await applied()).map((r) => JSON.parse(decode(r.bodyBase64)).id);
  assert.deepEqual(ids.slice(-2).sort(), ['ff-4', 'ff-5'], 'each once');
});
