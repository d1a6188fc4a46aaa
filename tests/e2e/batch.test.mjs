// Replay in batches (`batchUrl`): many queued mutations in one request, in order, each under its
// own key (issue: faster than workbox-background-sync).
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { startServer, openSession, until, decode, json } from './harness.mjs';

let server;
before(async () => { server = await startServer(); });
after(async () => { await server?.stop(); });

const session = (query) => openSession(server, query);

/** Task titles in the order the server applied them (its change sequence; several share a ms). */
const appliedTitles = async () => [...(await server.tasks())].sort((a, b) => a.seq - b.seq).map((t) => t.title);

async function queueTitles(s, titles) {
  await s.context.setOffline(true);
  for (const title of titles) {
    const res = await s.fetch('/api/tasks', title === null ? json({ nope: 'no title' }) : json({ title }));
    assert.equal(res.status, 202);
  }
}

async function drain(s) {
  await s.context.setOffline(false);
  await s.sync();
  return until('the queue to drain', async () => { const st = await s.status(); return st.pending === 0 && !st.syncing && st; }, 20_000);
}

test('60 queued mutations go in two batches of 50 and 10, in order, each under its key', async () => {
  const s = await session('?batchUrl=/api/_batch&batchSize=50');
  try {
    const titles = Array.from({ length: 60 }, (_, i) => `batched ${String(i).padStart(2, '0')}`);
    await queueTitles(s, titles);
    await drain(s);
    const log = await server.log();
    assert.deepEqual(log.map((r) => r.path), ['/api/_batch', '/api/_batch']);
    const sent = log.map((r) => JSON.parse(decode(r.bodyBase64)).requests);
    assert.deepEqual(sent.map((r) => r.length), [50, 10]);
    const keys = sent.flat().map((item) => item.headers.find(([n]) => n.toLowerCase() === 'idempotency-key')[1]);
    assert.equal(new Set(keys).size, 60, 'each item keeps its own key');
    assert.deepEqual(await appliedTitles(), titles, 'applied in queue order');
    assert.equal((await s.events('offline-sync:replayed')).length, 60);
  } finally { await s.close(); }
});

test('a refused item becomes a dead letter and the rest follow in order, in the next batch', async () => {
  const s = await session('?batchUrl=/api/_batch');
  try {
    await queueTitles(s, ['first', null, 'third', 'fourth']);
    const status = await drain(s);
    assert.equal(status.deadLetters, 1);
    assert.deepEqual(await appliedTitles(), ['first', 'third', 'fourth']);
    const sizes = (await server.log()).map((r) => JSON.parse(decode(r.bodyBase64)).requests.length);
    assert.deepEqual(sizes, [4, 2], 'the server stopped at the refusal; the next batch began after it');
  } finally { await s.close(); }
});

test('a server without the batch endpoint gets the entries one by one', async () => {
  const s = await session('?batchUrl=/api/no-such-batch');
  try {
    await queueTitles(s, ['a', 'b', 'c']);
    await drain(s);
    assert.deepEqual(await appliedTitles(), ['a', 'b', 'c']);
    const paths = (await server.log()).map((r) => r.path);
    assert.deepEqual(paths, ['/api/no-such-batch', '/api/tasks', '/api/tasks', '/api/tasks']);
    assert.ok(s.workerConsole.some((m) => m.type === 'warning' && m.text.includes('replaying one request at a time')));
  } finally { await s.close(); }
});
