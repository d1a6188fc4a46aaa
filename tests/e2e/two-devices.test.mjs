// Two devices (two browsers, each with its own profile) against one server: both edit the same
// tasks offline, come back online one after the other, sync, and end with the server's data.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { mkdirSync } from 'node:fs';
import { startServer, launch, until, ROOT } from './harness.mjs';

let server;
before(async () => { server = await startServer({ site: join(ROOT, 'demo-site', 'public') }); });
after(async () => { await server?.stop(); });

async function openDevice(name) {
  const browser = await launch();
  const page = browser.context.pages()[0] ?? (await browser.context.newPage());
  const errors = [];
  page.on('pageerror', (e) => errors.push(`${name}: ${e.message}`));
  await page.setViewportSize({ width: 1100, height: 860 });
  await page.goto(`${server.base}/`);
  await page.waitForFunction(() => navigator.serviceWorker.controller !== null && window.demo, null, { timeout: 15_000 });
  return { name, browser, page, errors };
}

const row = (page, title) => page.locator('#task-list li', { has: page.locator('.title', { hasText: title }) });

async function addTask(page, title) {
  await page.fill('#new-title', title);
  await page.click('#add');
  await row(page, title).waitFor();
}

/** The page's own "Sync now": replay, send, pull; then waits for the adapter to settle. */
async function syncNow(device) {
  await device.page.click('#sync-now');
  await device.page.waitForFunction(() => !document.getElementById('sync-now').disabled);
  await device.page.evaluate(() => window.demo.sync.idle());
}

const FIELDS = ['id', 'title', 'description', 'status', 'done', 'priority', 'tags', 'dueDate', 'projectId', 'version'];
const pick = (r) => Object.fromEntries(FIELDS.map((f) => [f, r[f] ?? (f === 'version' ? r._version : null)]));
const byId = (a, b) => a.id.localeCompare(b.id);

/** The device's live records, as the server would show them, plus what is left to sync. */
async function snapshot(device) {
  return device.page.evaluate(async () => {
    const { db, offlineSync } = window.demo;
    const tasks = await db.tasks.toArray();
    const status = await offlineSync.status();
    return {
      tasks: tasks.filter((t) => !t._deleted).map((t) => ({ ...t, version: t._version })),
      unsynced: tasks.filter((t) => t._synced === false).map((t) => t.title),
      pending: status.pending,
      deadLetters: status.deadLetters,
      rendered: [...document.querySelectorAll('#task-list li .title')].map((n) => n.textContent),
    };
  });
}

test('two devices edit the same tasks offline and converge on the server’s data', async () => {
  await server.reset();
  const a = await openDevice('A');
  const b = await openDevice('B');
  try {
    // A makes the shared tasks; B pulls them.
    for (const title of ['Plan the trip', 'Book the hotel', 'Pack the bags', 'Water the plants']) await addTask(a.page, title);
    await until('the four tasks on the server', async () => (await server.tasks()).length === 4);
    await a.page.evaluate(() => window.demo.sync.idle());
    await syncNow(b);
    await until('B to show the four tasks', async () => (await snapshot(b)).rendered.length === 4);
    const ids = Object.fromEntries((await server.tasks()).map((t) => [t.title, t.id]));

    // Both go offline and edit the same tasks.
    await a.browser.context.setOffline(true);
    await b.browser.context.setOffline(true);

    // A: renames "Plan the trip", deletes "Book the hotel", ticks "Pack the bags", adds a task.
    await row(a.page, 'Plan the trip').locator('button.edit').click();
    await a.page.fill('[data-testid=edit-title]', 'Plan the trip (A)');
    await a.page.click('[data-testid=edit-save]');
    await row(a.page, 'Book the hotel').locator('button.delete').click();
    await row(a.page, 'Pack the bags').locator('.toggle').check();
    await addTask(a.page, 'Buy sunscreen (A)');

    // B: renames "Plan the trip" too, edits the task A deleted, tags "Water the plants", adds one.
    await row(b.page, 'Plan the trip').locator('button.edit').click();
    await b.page.fill('[data-testid=edit-title]', 'Plan the trip (B)');
    await b.page.selectOption('[data-testid=edit-priority]', 'high');
    await b.page.click('[data-testid=edit-save]');
    await row(b.page, 'Book the hotel').locator('button.status').click(); // todo → in progress
    await row(b.page, 'Water the plants').locator('button.edit').click();
    await b.page.fill('[data-testid=edit-tags]', 'garden, weekly');
    await b.page.click('[data-testid=edit-save]');
    await addTask(b.page, 'Renew passport (B)');

    await until('A to hold 4 changes', async () => (await snapshot(a)).pending === 4);
    await until('B to hold 4 changes', async () => (await snapshot(b)).pending === 4);
    assert.equal((await server.tasks()).length, 4, 'nothing reached the server while both were offline');

    // A comes back first, then B: B's rename and its edit of the deleted task meet a newer
    // server copy (409, and 404 on the tombstone) and are settled by last-write-wins.
    await a.browser.context.setOffline(false);
    await syncNow(a);
    await until('A all synced', async () => (await a.page.locator('#sync-badge').textContent()) === 'All synced', 15_000);
    await b.browser.context.setOffline(false);
    await syncNow(b);
    await until('B all synced', async () => (await b.page.locator('#sync-badge').textContent()) === 'All synced', 15_000);
    await syncNow(a); // A pulls what B sent

    const onServer = (await server.tasks()).map(pick).sort(byId);
    const titles = onServer.map((t) => t.title).sort();
    assert.deepEqual(titles, ['Buy sunscreen (A)', 'Pack the bags', 'Plan the trip (A)', 'Renew passport (B)', 'Water the plants']);
    const server1 = Object.fromEntries(onServer.map((t) => [t.id, t]));
    assert.equal(server1[ids['Book the hotel']], undefined, 'the deletion stands');
    assert.equal(server1[ids['Pack the bags']].status, 'done');
    assert.deepEqual(server1[ids['Water the plants']].tags, ['garden', 'weekly']);
    assert.equal(server1[ids['Plan the trip']].title, 'Plan the trip (A)', 'A wrote last on the server: it wins the tie');

    for (const device of [a, b]) {
      const snap = await snapshot(device);
      assert.deepEqual(snap.tasks.map(pick).sort(byId), onServer, `${device.name}'s IndexedDB matches the server`);
      assert.deepEqual(snap.unsynced, [], `${device.name} has nothing left to send`);
      assert.equal(snap.pending, 0, `${device.name}'s worker queue is empty`);
      assert.equal(snap.deadLetters, 0, `${device.name} has no dead letters (409s are settled, not left)`);
      assert.deepEqual([...snap.rendered].sort(), titles, `${device.name} shows the server's tasks`);
    }
    mkdirSync(join(ROOT, 'target'), { recursive: true });
    await a.page.screenshot({ path: join(ROOT, 'target', 'two-devices-a.png'), fullPage: true });
    await b.page.screenshot({ path: join(ROOT, 'target', 'two-devices-b.png'), fullPage: true });
    assert.deepEqual([...a.errors, ...b.errors], []);
  } finally {
    await a.browser.close();
    await b.browser.close();
  }
});
