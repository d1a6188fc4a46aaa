// Fault tests: every accepted mutation takes effect exactly once, in queue order, under a worker
// killed at random moments and a server that loses answers and sheds load. Bounded in time; the
// figures are printed so a reader sees the margin.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { startServer, openSession, until, decode, json } from './harness.mjs';

let server;
before(async () => { server = await startServer(); });
after(async () => { await server?.stop(); });

/** A seeded generator, so a failing run can be repeated (the seed is printed). */
function random(seed) {
  let x = seed >>> 0 || 1;
  return () => { x ^= x << 13; x >>>= 0; x ^= x >>> 17; x ^= x << 5; x >>>= 0; return x / 2 ** 32; };
}

/** Queues `count` numbered tasks while offline; answers the Idempotency-Keys in queue order. */
async function queueOffline(s, count) {
  await s.context.setOffline(true);
  const keys = await s.page.evaluate(async (count) => {
    const keys = [];
    for (let i = 0; i < count; i++) {
      const key = crypto.randomUUID();
      const res = await fetch('/api/tasks', {
        method: 'POST',
        headers: { 'content-type': 'application/json', 'idempotency-key': key },
        body: JSON.stringify({ title: `task ${i}` }), // no id: a second application would show as a second task
      });
      if (res.status !== 202) throw new Error(`task ${i}: ${res.status}`);
      keys.push(key);
    }
    return keys;
  }, count);
  assert.equal((await s.status()).pending, count);
  await s.context.setOffline(false);
  return keys;
}

/**
 * Checks the delivery guarantee against the server's log and store, and answers the figures.
 * A key takes effect at its first arrival that was applied (answered 2xx, or applied and then
 * dropped); arrivals before it can only be 503s, which apply nothing.
 */
async function checkExactlyOnce(s, keys) {
  const log = await server.log();
  const effect = new Map();
  for (const r of log) {
    if (!effect.has(r.idempotencyKey) && (r.outcome === 'applied' || r.outcome === 'dropped')) effect.set(r.idempotencyKey, r.seq);
  }
  assert.equal(effect.size, keys.length, 'every mutation took effect');
  const order = [...effect.entries()].sort((a, b) => a[1] - b[1]).map(([key]) => key);
  assert.deepEqual(order, keys, 'in queue order (one URL, so the whole queue is one order)');
  const tasks = await server.tasks();
  assert.equal(tasks.length, keys.length, 'and exactly once: no task was created twice');
  assert.deepEqual(tasks.map((t) => t.title).sort(), keys.map((_, i) => `task ${i}`).sort());
  const status = await s.settled();
  assert.deepEqual([status.pending, status.deadLetters], [0, 0], 'the queue is empty and nothing is in dead letters');
  return {
    mutations: keys.length,
    attempts: log.length,
    duplicatesAbsorbed: log.filter((r) => r.outcome === 'replayed').length,
    dropped: log.filter((r) => r.outcome === 'dropped').length,
    unavailable: log.filter((r) => r.status === 503).length,
  };
}

test('500 mutations, the worker killed 20 times at random moments during their replay', async (t) => {
  const seed = Number(process.env.FAULT_SEED ?? Date.now() % 1_000_000);
  const next = random(seed);
  const s = await openSession(server);
  try {
    const keys = await queueOffline(s, 500);
    const started = Date.now();
    let kills = 0;
    for (let i = 0; i < 20; i++) {
      await s.sync().catch(() => {});
      await new Promise((r) => setTimeout(r, 10 + next() * 150));
      await s.stopWorker();
      kills++;
    }
    // Each kill was followed by a sync; now let the last one finish (bounded).
    for (let i = 0; i < 20 && (await s.status()).pending > 0; i++) {
      await s.sync().catch(() => {});
      await until('a replay to end', async () => !(await s.status()).syncing, 30_000);
    }
    const figures = await checkExactlyOnce(s, keys);
    const seconds = (Date.now() - started) / 1000;
    t.diagnostic(`worker kills: seed ${seed}, ${kills} kills, ${figures.mutations} mutations, ${figures.attempts} arrivals at the server, ` +
      `${figures.duplicatesAbsorbed} duplicates absorbed by the key, ${seconds.toFixed(1)} s`);
  } finally { await s.close(); }
});

test('a server that drops 20 % of answers after applying and answers 503 + Retry-After to 10 %', async (t) => {
  const seed = Number(process.env.FAULT_SEED ?? Date.now() % 1_000_000);
  const s = await openSession(server);
  try {
    const keys = await queueOffline(s, 200);
    await server.faults({ dropRate: 0.2, fail503Rate: 0.1, retryAfter: 1, seed });
    const started = Date.now();
    // A replay ends after three network failures in a row; the browser (or here, the test) fires again.
    let syncs = 0;
    for (; syncs < 60 && (await s.status()).pending > 0; syncs++) {
      await s.sync().catch(() => {});
      await until('a replay to end', async () => !(await s.status()).syncing, 120_000, 200);
    }
    await server.faults({});
    const figures = await checkExactlyOnce(s, keys);
    const seconds = (Date.now() - started) / 1000;
    assert.ok(figures.dropped > 0 && figures.unavailable > 0, 'the faults really happened');
    t.diagnostic(`lossy server: seed ${seed}, ${figures.mutations} mutations, ${figures.attempts} arrivals, ${figures.dropped} answers dropped, ` +
      `${figures.unavailable} answered 503, ${figures.duplicatesAbsorbed} duplicates absorbed by the key, ${syncs} syncs, ${seconds.toFixed(1)} s`);
  } finally { await s.close(); }
});
