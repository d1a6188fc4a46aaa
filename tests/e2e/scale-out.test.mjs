// Two demo servers on one PostgreSQL database behind a round-robin proxy, one of them killed in
// the middle of a replay: every queued mutation is applied exactly once, in order.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { startServer, launch, openPage, until, json } from './harness.mjs';
import { startPostgres, startProxy } from './scale-out.mjs';

let pg;
before(async () => { pg = await startPostgres(); });
after(() => pg?.stop());

test('two instances on one database, one killed mid-replay: each mutation applied once, in order', async () => {
  const servers = [await startServer({ db: pg.url }), await startServer({ db: pg.url })];
  let killedAt = null;
  const proxy = await startProxy(servers.map((s) => s.base), {
    onAnswer: (n, backend) => {
      // From the sixth mutation on, the first that instance 0 answers is its last: it dies
      // having applied it, and its answer never reaches the worker.
      if (killedAt !== null || n < 6 || backend !== 0) return undefined;
      killedAt = n;
      proxy.drop(0);
      servers[0].kill();
      return 'lose';
    },
  });
  const browser = await launch();
  try {
    const s = await openPage(browser.context, proxy.base);
    await browser.context.setOffline(true);
    const count = 24;
    for (let i = 0; i < count; i++) {
      // Half with client ids, half without: a second application of the latter would show as a copy.
      const task = i % 2 ? { title: `n${i}` } : { id: `t${i}`, title: `n${i}` };
      assert.equal((await s.fetch('/api/tasks', json(task))).status, 202);
    }
    await browser.context.setOffline(false);
    await s.syncUntil('the queue through', async () => (await s.status()).pending === 0, 60_000);
    assert.ok(killedAt !== null, 'an instance was killed during the replay');
    const replayed = (await servers[1].log()).filter((r) => r.outcome === 'replayed');
    assert.equal(replayed.length, 1, 'the lost answer was sent again, by the other instance, from the shared key store');
    const tasks = await servers[1].list('tasks');
    const titles = tasks.map((t) => t.title);
    assert.equal(titles.length, count, `each applied once: ${titles.join(' ')}`);
    const bySeq = [...tasks].sort((a, b) => a.seq - b.seq).map((t) => t.title);
    assert.deepEqual(bySeq, Array.from({ length: count }, (_, i) => `n${i}`), 'in the order they were made');
    assert.ok(tasks.every((t) => t.version === 1), 'none written twice');
    assert.equal((await s.page.evaluate(() => window.offlineSync.deadLetters())).length, 0, 'no dead letters');
  } finally {
    await browser.close();
    await proxy.close();
    for (const server of servers) await server.stop();
  }
});
