// The demo app as a person uses it: projects and tasks, edits offline, the pending badge and the
// queue panel, back online, the replay's progress, everything synced; and a refused request in
// the dead-letter panel, discarded with its button.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { mkdirSync } from 'node:fs';
import { startServer, launch, until, ROOT } from './harness.mjs';

let server;
before(async () => { server = await startServer({ site: join(ROOT, 'demo-site', 'public') }); });
after(async () => { await server?.stop(); });

const SHOTS = join(ROOT, 'target');

/** The demo, opened in a fresh browser, with the worker in control. */
async function openDemo() {
  const browser = await launch();
  const page = browser.context.pages()[0] ?? (await browser.context.newPage());
  const errors = [];
  page.on('pageerror', (e) => errors.push(e.message));
  await page.setViewportSize({ width: 1100, height: 860 });
  await page.goto(`${server.base}/`);
  await page.waitForFunction(() => navigator.serviceWorker.controller !== null && window.demo, null, { timeout: 15_000 });
  return { browser, page, errors };
}

const titles = (page) => page.locator('#task-list li .title').allTextContents();
const row = (page, title) => page.locator('#task-list li', { has: page.locator('.title', { hasText: title }) });
const idle = (page) => page.evaluate(() => window.demo.sync.idle());

async function addTask(page, title, { tags = '', priority = 'medium', due = '' } = {}) {
  await page.fill('#new-title', title);
  await page.fill('#new-tags', tags);
  await page.selectOption('#new-priority', priority);
  await page.fill('#new-due', due);
  await page.click('#add');
  await row(page, title).waitFor();
}

test('the demo keeps working offline and syncs when the network returns', async () => {
  await server.reset();
  const { browser, page, errors } = await openDemo();
  try {
    const badge = page.locator('#sync-badge');

    // Online: a project and a task in it reach the server at once.
    await page.fill('#project-name', 'Home');
    await page.click('#add-project');
    await page.locator('#project-list li', { hasText: 'Home' }).waitFor();
    await page.selectOption('#new-project', { label: 'Home' });
    await addTask(page, 'Buy milk', { tags: 'errands' });
    await until('the online task on the server', async () => (await server.tasks()).length === 1);
    await until('the task marked synced', async () => (await row(page, 'Buy milk').getAttribute('data-synced')) === 'true');
    const [milk] = await server.tasks();
    const projects = await (await fetch(`${server.base}/api/projects`)).json();
    assert.equal(milk.projectId, projects[0].id, 'the task is in the Home project');
    assert.deepEqual(milk.tags, ['errands']);

    // Offline: the banner shows; new tasks, a toggle, an edit and a delete all show at once.
    await browser.context.setOffline(true);
    await page.waitForSelector('#offline-banner:not([hidden])');
    await addTask(page, 'Water the plants', { tags: 'home, garden', priority: 'high', due: '2026-12-01' });
    await addTask(page, 'Call the bank');
    await addTask(page, 'Typo task');
    await row(page, 'Buy milk').locator('.toggle').check();
    await row(page, 'Call the bank').locator('button.edit').click();
    await page.fill('[data-testid=edit-title]', 'Call the bank about the loan');
    await page.selectOption('[data-testid=edit-status]', 'in_progress');
    await page.click('[data-testid=edit-save]');
    await row(page, 'Call the bank about the loan').waitFor();
    await row(page, 'Typo task').locator('button.delete').click();
    await until('the deleted task to leave the list', async () => !(await titles(page)).includes('Typo task'));

    // Four requests wait in the worker: three creates and the toggle. The edit and the delete
    // of tasks whose create is queued wait in IndexedDB: one request per record at a time.
    await until('the badge to count 4 pending', async () => /^4 pending$/.test(await badge.textContent()));
    await until('the queue panel to list 4', async () => (await page.locator('#queue-list li').count()) === 4);
    assert.deepEqual(await titles(page), ['Buy milk', 'Water the plants', 'Call the bank about the loan']);
    assert.equal(await page.locator('#task-list li[data-synced=false]').count(), 3, 'three tasks wait for the server');
    mkdirSync(SHOTS, { recursive: true });
    await page.screenshot({ path: join(SHOTS, 'demo-offline.png'), fullPage: true });
    assert.equal((await server.tasks()).length, 1, 'nothing reached the server while offline');
    assert.equal((await server.tasks())[0].done, false);

    // Back online: watch the progress bar during the replay, then everything is synced.
    await page.evaluate(() => {
      window.progressSeen = [];
      const bar = document.getElementById('sync-progress');
      new MutationObserver(() => {
        if (!bar.hidden) window.progressSeen.push([bar.value, bar.max]);
      }).observe(bar, { attributes: true });
    });
    await browser.context.setOffline(false);
    await page.click('#sync-now');
    await until('the badge to say all synced', async () => (await badge.textContent()) === 'All synced', 15_000);
    await idle(page);
    const progress = await page.evaluate(() => window.progressSeen);
    assert.ok(progress.some(([, max]) => max >= 3), `the progress bar showed the replay (saw ${JSON.stringify(progress)})`);
    assert.equal(await page.locator('#sync-progress').isHidden(), true, 'and hides once it is over');

    const onServer = await server.tasks();
    // As a set: tasks replayed within one millisecond share a createdAt, which orders them at random.
    assert.deepEqual(onServer.map((t) => t.title).sort(), ['Buy milk', 'Call the bank about the loan', 'Water the plants']);
    const byTitle = Object.fromEntries(onServer.map((t) => [t.title, t]));
    assert.equal(byTitle['Buy milk'].status, 'done');
    assert.equal(byTitle['Buy milk'].done, true);
    assert.deepEqual(byTitle['Water the plants'].tags, ['home', 'garden']);
    assert.equal(byTitle['Water the plants'].priority, 'high');
    assert.equal(byTitle['Water the plants'].dueDate, '2026-12-01');
    assert.equal(byTitle['Call the bank about the loan'].status, 'in_progress');
    const { changes } = await (await fetch(`${server.base}/api/tasks?since=0`)).json();
    assert.equal(changes.find((t) => t.title === 'Typo task')?.deleted, true, 'the task deleted offline is a tombstone');
    await until('every task marked synced', async () => (await page.locator('#task-list li[data-synced=true]').count()) === 3);
    assert.equal(await page.locator('#queue-list li').count(), 0);
    await page.screenshot({ path: join(SHOTS, 'demo-synced.png'), fullPage: true });
    assert.deepEqual(errors, []);
  } finally { await browser.close(); }
});

test('a request the server refuses shows in the dead-letter panel, and Discard removes it', async () => {
  await server.reset();
  const { browser, page, errors } = await openDemo();
  try {
    // A request of the page's own that the server will refuse (no title): queued offline...
    await browser.context.setOffline(true);
    const queued = await page.evaluate(async () => (await fetch('/api/tasks', {
      method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ id: crypto.randomUUID() }),
    })).status);
    assert.equal(queued, 202);
    await until('the queue panel to list it', async () => (await page.locator('#queue-list li').count()) === 1);
    // ...and refused on replay: it becomes a dead letter, listed with Retry and Discard.
    await browser.context.setOffline(false);
    await page.click('#sync-now');
    await until('the dead letter in the panel', async () => (await page.locator('#dead-list li').count()) === 1, 15_000);
    const dead = page.locator('#dead-list li').first();
    assert.match(await dead.textContent(), /400 · title is required/);
    assert.equal(await page.locator('#sync-badge').textContent(), '1 refused');
    assert.equal(await dead.locator('button.retry').count(), 1);
    await page.screenshot({ path: join(SHOTS, 'demo-dead-letter.png'), fullPage: true });

    await dead.locator('button.discard').click();
    await until('the dead letter to go', async () => (await page.locator('#dead-list li').count()) === 0);
    assert.equal((await page.evaluate(() => window.demo.offlineSync.deadLetters())).length, 0);
    assert.equal(await page.locator('#dead-empty').isVisible(), true);
    assert.deepEqual(errors, []);
  } finally { await browser.close(); }
});
