// Coalescing in the worker: operations on one record merge while they wait (issue: the seed's
// offline-first app).
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { startServer, openSession, until, decode, json } from './harness.mjs';

let server;
before(async () => { server = await startServer(); });
after(async () => { await server?.stop(); });

const send = (s, method, url, value) =>
  s.fetch(url, value === undefined ? { method } : { method, headers: { 'content-type': 'application/json' }, body: JSON.stringify(value) });

async function deliver(s) {
  await s.context.setOffline(false);
  await s.sync();
  return until('the queue to drain', async () => { const st = await s.status(); return st.pending === 0 && !st.syncing && st; });
}

test('create + updates become one create with the latest body; status counts the sends saved', async () => {
  const s = await session();
  try {
    await s.context.setOffline(true);
    const created = await send(s, 'POST', '/api/tasks', { id: 'm1', title: 'first', done: false });
    assert.equal(created.status, 202);
    const put = await send(s, 'PUT', '/api/tasks/m1', { title: 'second', done: false });
    assert.deepEqual([put.status, put.json.coalesced, put.json.id, put.json.pending], [202, true, created.json.id, 1]);
    await send(s, 'PATCH', '/api/tasks/m1', { done: true });
    const other = await send(s, 'POST', '/api/tasks', { id: 'other', title: 'not merged' });
    assert.equal(other.json.coalesced, undefined);
    assert.equal((await s.pending()).length, 2);
    const status = await deliver(s);
    assert.equal(status.coalesced, 2);
    const log = await server.log();
    assert.deepEqual(log.map((r) => `${r.method} ${r.path}`), ['POST /api/tasks', 'POST /api/tasks']);
    assert.deepEqual(JSON.parse(decode(log[0].bodyBase64)), { id: 'm1', title: 'second', done: true });
    const events = await s.events('offline-sync:coalesced');
    assert.deepEqual(events.map((e) => [e.into, e.method, e.cancelled]), [[created.json.id, 'PUT', false], [created.json.id, 'PATCH', false]]);
  } finally { await s.close(); }
});

test('create + delete: nothing is sent; update + delete: only the delete', async () => {
  const s = await session();
  try {
    assert.equal((await send(s, 'POST', '/api/tasks', { id: 'live', title: 'exists online' })).status, 201);
    await s.context.setOffline(true);
    await send(s, 'POST', '/api/tasks', { id: 'gone', title: 'never sent' });
    const removed = await send(s, 'DELETE', '/api/tasks/gone');
    assert.deepEqual([removed.status, removed.json.queued, removed.json.cancelled, removed.json.pending], [202, false, (await s.events('offline-sync:queued'))[0].id, 0]);
    await send(s, 'PATCH', '/api/tasks/live', { title: 'renamed' });
    await send(s, 'DELETE', '/api/tasks/live');
    assert.deepEqual((await s.pending()).map((e) => e.method), ['DELETE']);
    const status = await deliver(s);
    assert.equal(status.coalesced, 3, 'two sends saved by the cancel, one by the delete');
    const log = await server.log();
    assert.deepEqual(log.map((r) => `${r.method} ${r.path}`), ['POST /api/tasks', 'DELETE /api/tasks/live']);
  } finally { await s.close(); }
});

test('an entry that was already sent is never merged into: it may have arrived', async () => {
  const s = await session();
  try {
    await server.faults({ dropAfterApply: 100 });
    assert.equal((await send(s, 'POST', '/api/tasks', { id: 'sent', title: 'applied, answer lost' })).status, 202);
    // Offline before the faults are lifted, and no replay left under way: a resend the browser's
    // own sync had out must meet the fault too, or the entry is delivered before the update.
    await s.context.setOffline(true);
    await s.settled();
    await server.faults({});
    const update = await send(s, 'PATCH', '/api/tasks/sent', { title: 'later' });
    assert.equal(update.json.coalesced, undefined, 'kept separate');
    assert.equal((await s.pending()).length, 2);
    await deliver(s);
    assert.equal((await server.tasks()).find((t) => t.id === 'sent').title, 'later');
  } finally { await s.close(); }
});

test('coalesce=false keeps every operation', async () => {
  const s = await session('?coalesce=false');
  try {
    await s.context.setOffline(true);
    await send(s, 'POST', '/api/tasks', { id: 'k', title: 'a' });
    await send(s, 'PATCH', '/api/tasks/k', { title: 'b' });
    assert.equal((await s.pending()).length, 2);
    assert.equal((await deliver(s)).coalesced, 0);
    assert.equal((await server.log()).length, 2);
  } finally { await s.close(); }
});

const session = (query) => openSession(server, query);
