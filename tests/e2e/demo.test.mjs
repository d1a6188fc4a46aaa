// The demo app as a person uses it: add tasks offline, watch them wait, go online, watch them sync.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { mkdirSync } from 'node:fs';
import { startServer, launch, until, ROOT } from './harness.mjs';

let server;
before(async () => { server = await startServer({ site: join(ROOT, 'demo-site', 'public') }); });
after(async () => { await server?.stop(); });

test('the demo keeps working offline and syncs when the network returns', async () => {
  const browser = await launch();
  try {
    const page = browser.context.pages()[0] ?? (await browser.context.newPage());
    await page.goto(`${server.base}/`);
    await page.waitForFunction(() => navigator.serviceWorker.controller !== null, null, { timeout: 15_000 });
    const badge = page.locator('#sync-badge');
    await page.fill('#new-title', 'Buy milk (online)');
    await page.click('#add');
    await until('the online task on the server', async () => (await server.tasks()).length === 1);

    await browser.context.setOffline(true);
    await page.waitForSelector('#offline-banner:not([hidden])');
    for (const title of ['Water the plants', 'Call the bank']) {
      await page.fill('#new-title', title);
      await page.click('#add');
    }
    await until('the badge to count 2 pending', async () => /2 pending/.test(await badge.textContent()));
    assert.equal(await page.locator('#task-list li').count(), 3, 'offline tasks show at once');
    assert.equal(await page.locator('#queue-list li').count(), 2, 'the queue panel lists both');
    mkdirSync(join(ROOT, 'target'), { recursive: true });
    await page.screenshot({ path: join(ROOT, 'target', 'demo-offline.png'), fullPage: true });
    assert.equal((await server.tasks()).length, 1, 'nothing reached the server while offline');

    await browser.context.setOffline(false);
    await page.click('#sync-now');
    await until('the badge to say all synced', async () => /All synced/.test(await badge.textContent()), 15_000);
    const titles = (await server.tasks()).map((t) => t.title);
    assert.deepEqual(titles, ['Buy milk (online)', 'Water the plants', 'Call the bank']);
    await until('the list to show 3 synced tasks', async () => (await page.locator('#task-list li').count()) === 3);
    await page.screenshot({ path: join(ROOT, 'target', 'demo-synced.png'), fullPage: true });
  } finally { await browser.close(); }
});
