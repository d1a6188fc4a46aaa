// Replay with bounded concurrency (`replayConcurrency`): requests for different records and URLs
// overlap, requests on one record or URL never do, and without the option nothing overlaps.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { startServer, openSession } from './harness.mjs';

let server;
before(async () => { server = await startServer(); });
after(async () => { await server?.stop(); });

const TASKS = ['t1', 't2', 't3', 't4', 't5', 't6'];
const send = (s, method, path, body) =>
  s.fetch(path, { method, headers: { 'content-type': 'application/json' }, body: JSON.stringify(body) });

/**
 * Six tasks made online (one at a time), then three renames of each queued offline with coalescing
 * off, so that each rename is its own entry; replayed against a server that holds each mutation
 * 150 ms. Answers what the server saw.
 */
async function replayRenames(query) {
  const s = await openSession(server, `?coalesce=false${query}`);
  try {
    for (const id of TASKS) assert.equal((await send(s, 'POST', '/api/tasks', { id, title: `${id} v0` })).status, 201);
    await s.context.setOffline(true);
    for (const v of [1, 2, 3]) {
      for (const id of TASKS) assert.equal((await send(s, 'PATCH', `/api/tasks/${id}`, { title: `${id} v${v}` })).status, 202);
    }
    assert.equal((await s.status()).pending, TASKS.length * 3);
    await server.faults({ delayMs: 150 });
    await s.context.setOffline(false);
    await s.syncUntil('the renames replayed', async () => (await s.status()).pending === 0);
    const status = await s.settled(30_000);
    await server.faults({});
    assert.deepEqual([status.pending, status.deadLetters], [0, 0]);
    const tasks = await server.tasks();
    assert.deepEqual(tasks.map((t) => t.title).sort(), TASKS.map((id) => `${id} v3`), 'every task has its last rename');
    // Per task, the renames arrived in the order they were made.
    const log = (await server.log()).filter((r) => r.method === 'PATCH');
    for (const id of TASKS) {
      const order = log.filter((r) => r.path === `/api/tasks/${id}`).map((r) => JSON.parse(Buffer.from(r.bodyBase64, 'base64')).title);
      assert.deepEqual(order, [1, 2, 3].map((v) => `${id} v${v}`), `${id}: renames in order`);
    }
    return await server.overlap();
  } finally { await s.close(); }
}

test('with replayConcurrency=4, different records overlap (at most 4) and one record never does', async () => {
  const overlap = await replayRenames('&replayConcurrency=4');
  assert.ok(overlap.maxPathsInFlight > 1 && overlap.maxInFlight <= 4, JSON.stringify(overlap));
  assert.equal(overlap.maxInFlightOnOnePath, 1, 'never two requests on one record at once');
});

test('by default the replay sends one request at a time, strictly in queue order', async () => {
  const overlap = await replayRenames('');
  assert.deepEqual(overlap, { maxInFlight: 1, maxInFlightOnOnePath: 1, maxPathsInFlight: 1 });
});

test('one URL is one lane: creations on /api/tasks never overlap, even with replayConcurrency=4', async () => {
  const s = await openSession(server, '?replayConcurrency=4');
  try {
    await s.context.setOffline(true);
    for (let i = 0; i < 8; i++) assert.equal((await send(s, 'POST', '/api/tasks', { title: `new ${i}` })).status, 202);
    await server.faults({ delayMs: 100 });
    await s.context.setOffline(false);
    await s.syncUntil('all eight applied', async () => (await server.tasks()).length === 8);
    await s.settled(30_000);
    await server.faults({});
    const applied = [...(await server.tasks())].sort((a, b) => a.seq - b.seq).map((t) => t.title);
    assert.deepEqual(applied, Array.from({ length: 8 }, (_, i) => `new ${i}`));
    assert.deepEqual(await server.overlap(), { maxInFlight: 1, maxInFlightOnOnePath: 1, maxPathsInFlight: 1 });
  } finally { await s.close(); }
});
