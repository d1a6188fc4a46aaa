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

/**
 * Queues `count` numbered mutations while offline, each creating a record in one of `collections`
 * (in turn); answers the Idempotency-Keys in queue order.
 */
async function queueOffline(s, count, collections) {
  await s.context.setOffline(true);
  const keys = await s.page.evaluate(async ([count, collections]) => {
    const keys = [];
    for (let i = 0; i < count; i++) {
      const key = crypto.randomUUID();
      const collection = collections[i % collections.length];
      // No id: a second application would show as a second record.
      const body = collection === 'projects' ? { name: `task ${i}`, color: '#336699' } : { title: `task ${i}` };
      const res = await fetch(`/api/${collection}`, {
        method: 'POST',
        headers: { 'content-type': 'application/json', 'idempotency-key': key },
        body: JSON.stringify(body),
      });
      if (res.status !== 202) throw new Error(`task ${i}: ${res.status}`);
      keys.push(key);
    }
    return keys;
  }, [count, collections]);
  assert.equal((await s.status()).pending, count);
  await s.context.setOffline(false);
  return keys;
}

/**
 * Checks the delivery guarantee against the server's store, and answers the figures from its log.
 * Every name is unique and no body carries an id, so a second application would show as a second
 * record; the server's change sequence (`seq`) gives the order each collection's records were
 * applied in. Each collection is one URL, which the replay never reorders.
 */
async function checkExactlyOnce(s, keys, collections) {
  let total = 0;
  for (const [c, collection] of collections.entries()) {
    const records = await server.list(collection);
    total += records.length;
    const applied = [...records].sort((a, b) => a.seq - b.seq).map((r) => r.title ?? r.name);
    const queued = keys.map((_, i) => `task ${i}`).filter((_, i) => i % collections.length === c);
    assert.deepEqual(applied, queued, `${collection}: every mutation took effect once, in queue order`);
  }
  assert.equal(total, keys.length, 'every mutation took effect, and exactly once');
  const status = await s.settled();
  const dead = status.deadLetters ? await s.page.evaluate(() => window.offlineSync.deadLetters()) : [];
  assert.deepEqual([status.pending, status.deadLetters], [0, 0], `the queue is empty and nothing is in dead letters ${JSON.stringify(dead)}`);
  const log = await server.log();
  return {
    mutations: keys.length,
    // Requests that reached the server (a batch counts once).
    attempts: log.length,
    // Answered from the key store (a batch that was answered whole counts as applied).
    duplicatesAbsorbed: log.filter((r) => r.outcome === 'replayed').length,
    dropped: log.filter((r) => r.outcome === 'dropped').length,
    unavailable: log.filter((r) => r.status === 503).length,
  };
}

// Each fault test runs three times: one request per entry, in batches, and four requests at once
// over two URLs (the delivery guarantee must hold with batching and concurrency on).
const MODES = [
  ['one by one', '', ['tasks']],
  ['batched', '?batchUrl=/api/_batch&batchSize=10', ['tasks']],
  ['4 at once', '?replayConcurrency=4', ['tasks', 'projects']],
];
for (const [mode, query, collections] of MODES) {
test(`500 mutations, the worker killed 20 times at random moments during their replay (${mode})`, async (t) => {
  const seed = Number(process.env.FAULT_SEED ?? Date.now() % 1_000_000);
  t.diagnostic(`seed ${seed} (FAULT_SEED=${seed} repeats this run)`);
  const next = random(seed);
  const s = await openSession(server, query);
  try {
    const keys = await queueOffline(s, 500, collections);
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
    const figures = await checkExactlyOnce(s, keys, collections);
    const seconds = (Date.now() - started) / 1000;
    t.diagnostic(`worker kills, ${mode}: seed ${seed}, ${kills} kills, ${figures.mutations} mutations, ${figures.attempts} arrivals at the server, ` +
      `${figures.duplicatesAbsorbed} duplicates absorbed by the key, ${seconds.toFixed(1)} s`);
  } finally { await s.close(); }
});

test(`a server that drops 20 % of answers after applying and answers 503 + Retry-After to 10 % (${mode})`, async (t) => {
  const seed = Number(process.env.FAULT_SEED ?? Date.now() % 1_000_000);
  t.diagnostic(`seed ${seed} (FAULT_SEED=${seed} repeats this run)`);
  // maxAttempts is raised: at these rates five 503s in a row for one entry do happen (Chromium's
  // own resend of a dropped POST draws again), and that dead letter is the documented policy,
  // tested on its own; here the question is exactly-once delivery.
  const s = await openSession(server, `${query}${query ? '&' : '?'}maxAttempts=50`);
  try {
    const keys = await queueOffline(s, 200, collections);
    // One of each for certain (batched, there are few requests for the rates to hit), then the rates.
    // Where the worker overlaps requests, each is held 20 ms so that two sent together surely
    // meet at the server (a fast server could finish one before the other arrives).
    const overlapping = query.includes('replayConcurrency');
    await server.faults({
      dropAfterApply: 1, fail503: 1, dropRate: 0.2, fail503Rate: 0.1, retryAfter: 1, seed, delayMs: overlapping ? 20 : 0,
    });
    const started = Date.now();
    // A replay ends after three network failures in a row; the browser (or here, the test) fires again.
    let syncs = 0;
    for (; syncs < 60 && (await s.status()).pending > 0; syncs++) {
      await s.sync().catch(() => {});
      await until('a replay to end', async () => !(await s.status()).syncing, 120_000, 200);
    }
    await server.faults({});
    const figures = await checkExactlyOnce(s, keys, collections);
    const seconds = (Date.now() - started) / 1000;
    assert.ok(figures.dropped > 0 && figures.unavailable > 0, 'the faults really happened');
    // Two URLs at once only where the worker overlaps requests (a browser's resend of a broken
    // connection can overlap its original, but only on the same URL).
    const { maxPathsInFlight } = await server.overlap();
    if (overlapping) assert.equal(maxPathsInFlight, 2, 'requests to tasks and projects really overlapped');
    else assert.equal(maxPathsInFlight, 1, 'one request at a time');
    t.diagnostic(`lossy server, ${mode}: seed ${seed}, ${figures.mutations} mutations, ${figures.attempts} arrivals, ${figures.dropped} answers dropped, ` +
      `${figures.unavailable} answered 503, ${figures.duplicatesAbsorbed} duplicates absorbed by the key, ${syncs} syncs, ` +
      `${maxPathsInFlight} URL(s) at once, ${seconds.toFixed(1)} s`);
  } finally { await s.close(); }
});
}
