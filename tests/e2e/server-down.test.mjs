// The server down while the browser is online (issue: faster than workbox as users run it): after
// a mutation meets the failure, one at a time probes the server and the rest are stored untried;
// once the server is back, the next mutation gets through and the replay sends what was stored.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { startServer, launch, openPage, until, json } from './harness.mjs';

const UNTRIED = /^network error: not tried/;

test('server down, browser online: one probe at a time, the rest stored untried; the server back, each arrives once', async () => {
  const first = await startServer();
  const browser = await launch();
  let second;
  try {
    const s = await openPage(browser.context, first.base);
    await first.stop();

    const alone = await s.fetch('/api/tasks', json({ id: 'down-0', title: 'meets the failure' }));
    assert.equal(alone.status, 202);
    // Eight at once: the first goes out as the probe, those that come while it is out are stored
    // without being tried.
    const burst = await s.page.evaluate(() => Promise.all(Array.from({ length: 8 }, (_, i) => fetch('/api/tasks', {
      method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ id: `down-${i + 1}`, title: 'during the outage' }),
    }).then((r) => r.status))));
    assert.deepEqual(burst, Array(8).fill(202));
    const entries = await s.pending();
    assert.equal(entries.length, 9);
    const untried = entries.filter((e) => UNTRIED.test(e.lastError ?? ''));
    assert.ok(untried.length >= 1, `some were stored untried: ${JSON.stringify(entries.map((e) => [e.attempts, e.lastError]))}`);
    assert.ok(untried.every((e) => e.attempts === 0), 'an untried entry counts no attempt');
    const tried = entries.filter((e) => !UNTRIED.test(e.lastError ?? ''));
    // (A sync the browser fires meanwhile may try the head again: at least one attempt each.)
    assert.ok(tried.length >= 1 && tried.every((e) => e.attempts >= 1), 'those that met the failure count their attempts');

    // The server is back on the same port: the next mutation probes, gets through, and the
    // replay it starts sends the nine stored ones.
    second = await startServer({ port: first.port });
    const back = await s.fetch('/api/tasks', json({ id: 'down-9', title: 'the server is back' }));
    assert.equal(back.status, 201);
    await until('the stored mutations at the server', async () => (await second.tasks()).length === 10, 20_000);
    assert.equal((await s.settled()).pending, 0);
    const keys = (await second.log()).map((r) => r.idempotencyKey);
    assert.equal(new Set(keys).size, 10, 'each mutation arrived once, under its own key');
  } finally {
    await browser.close();
    await second?.stop();
    await first.stop();
  }
});

test('a body the queue cannot hold is tried even while a probe is out, and gets through once the server is back', async () => {
  const first = await startServer();
  const browser = await launch();
  let second;
  try {
    const s = await openPage(browser.context, first.base, '?maxBodyBytes=1000');
    await first.stop();
    assert.equal((await s.fetch('/api/tasks', json({ id: 'big-0', title: 'meets the failure' }))).status, 202);

    // The server is back but slow: the next mutation goes out as the probe and is held there.
    second = await startServer({ port: first.port });
    await second.faults({ delayMs: 1500 });
    const probe = s.page.evaluate(() => fetch('/api/tasks', {
      method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ id: 'big-1', title: 'the probe' }),
    }).then((r) => r.status));
    probe.catch(() => {}); // awaited below; a failure before that must not surface as unhandled
    await until('the probe at the server', async () => (await second.overlap()).maxInFlight >= 1, 5_000);
    // While it is out, a body over maxBodyBytes cannot be kept: it is tried rather than refused.
    const big = await s.fetch('/api/tasks', json({ id: 'big-2', title: 'x'.repeat(2000) }));
    assert.equal(big.status, 201, `tried, not refused: ${JSON.stringify(big.json)}`);
    assert.equal(await probe, 201);
    await second.faults({ delayMs: 0 });
    await until('all three at the server', async () => (await second.tasks()).length === 3, 20_000);
  } finally {
    await browser.close();
    await second?.stop();
    await first.stop();
  }
});
