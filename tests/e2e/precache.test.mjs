// A PWA whose own worker precaches its shell with workbox-precaching, and adds offline-sync with
// `importScripts('/offline-sync.js')` (issue: drop-in for real PWAs). Both must keep working:
// the shell loads offline, mutations are queued offline and replayed, and an update of the worker
// (skipWaiting + clientsClaim) brings the new shell and keeps the queue working.
//
// workbox-precaching 7.4.1 and esbuild are installed into target/e2e-workbox/ on the first run;
// the worker (fixture/precache/app-sw.src.js) is bundled into a temp site with its manifest.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { createHash } from 'node:crypto';
import { copyFileSync, existsSync, mkdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { ROOT, startServer, launch, openPage, until, tempDir, json, reloadOffline } from './harness.mjs';

const FIXTURE = join(ROOT, 'tests', 'e2e', 'fixture', 'precache');
const TOOLS = join(ROOT, 'target', 'e2e-workbox');
const TOOLS_PACKAGE = {
  name: 'offline-sync-e2e-workbox',
  private: true,
  description: 'Installed by tests/e2e/precache.test.mjs: a Workbox-precaching worker, bundled with esbuild.',
  devDependencies: { 'workbox-precaching': '7.4.1', 'workbox-core': '7.4.1', esbuild: '0.28.2' },
};

let site; // the temp site: index.html, app.js, app-sw.js (bundled)
let server;
let esbuild;

/** npm install in target/e2e-workbox/, only when its package.json changed (like build.sh's ensure_npm). */
async function ensureTools() {
  const manifest = JSON.stringify(TOOLS_PACKAGE, null, 2) + '\n';
  const stamp = join(TOOLS, 'node_modules', '.offline-sync-stamp');
  const want = createHash('sha256').update(manifest).digest('hex');
  if (!existsSync(stamp) || readFileSync(stamp, 'utf8').trim() !== want) {
    mkdirSync(TOOLS, { recursive: true });
    writeFileSync(join(TOOLS, 'package.json'), manifest);
    await promisify(execFile)('npm', ['install', '--prefer-offline', '--no-audit', '--no-fund', '--loglevel=error'],
      { cwd: TOOLS, timeout: 180_000 });
    writeFileSync(stamp, want + '\n');
  }
  return createRequire(join(TOOLS, 'package.json'))('esbuild');
}

const revision = (file) => createHash('sha256').update(readFileSync(file)).digest('hex').slice(0, 16);

/** Writes release `version` of the app into the site: its script, and its worker with a fresh manifest. */
async function release(version) {
  copyFileSync(join(FIXTURE, 'index.html'), join(site, 'index.html'));
  const app = readFileSync(join(FIXTURE, 'app.js'), 'utf8').replace("VERSION = 'v1'", `VERSION = '${version}'`);
  writeFileSync(join(site, 'app.js'), app);
  // What workbox-build's injectManifest would write: every file of the shell with its revision.
  const manifest = [
    { url: '/index.html', revision: revision(join(site, 'index.html')) },
    { url: '/app.js', revision: revision(join(site, 'app.js')) },
    { url: '/client.js', revision: revision(join(ROOT, 'dist', 'client.js')) },
  ];
  const result = await esbuild.build({
    stdin: { contents: readFileSync(join(FIXTURE, 'app-sw.src.js'), 'utf8'), resolveDir: TOOLS, sourcefile: 'app-sw.src.js' },
    bundle: true,
    format: 'iife',
    write: false,
    define: { 'self.__WB_MANIFEST': JSON.stringify(manifest), 'process.env.NODE_ENV': '"production"' },
    logLevel: 'silent',
  });
  writeFileSync(join(site, 'app-sw.js'), result.outputFiles[0].text);
}

before(async () => {
  esbuild = await ensureTools();
  site = tempDir('precache-site');
  await release('v1');
  server = await startServer({ site });
});

after(async () => {
  await esbuild?.stop();
  await server?.stop();
  if (site) rmSync(site, { recursive: true, force: true });
});

/** The precache's entries: URL paths, and Workbox's revision of each (its cache key's parameter). */
const precached = (page) => page.evaluate(async () => {
  const names = (await caches.keys()).filter((n) => n.startsWith('workbox-precache'));
  const urls = [];
  const revisions = {};
  for (const name of names) {
    for (const request of await (await caches.open(name)).keys()) {
      const url = new URL(request.url);
      urls.push(url.pathname);
      revisions[url.pathname] = url.searchParams.get('__WB_REVISION__');
    }
  }
  return { names, urls: urls.sort(), revisions };
});

/** Reloads the page (offline, in these tests) and says whether the worker answered it. */
async function reload(page) {
  const response = await reloadOffline(page);
  await page.waitForFunction(() => window.ready, null, { timeout: 15_000 });
  assert.equal(await page.evaluate(() => window.ready), true);
  return response.fromServiceWorker();
}

test('workbox precaching and offline-sync in one worker: shell offline, queue, replay, update', async () => {
  await server.reset();
  const browser = await launch();
  try {
    const { context, workerConsole } = browser;
    const s = await openPage(context, server.base);
    const { page } = s;
    assert.match(await page.evaluate(() => navigator.serviceWorker.controller.scriptURL), /\/app-sw\.js$/);
    assert.equal(await page.textContent('#version'), 'v1');
    // Workbox's install handler ran: the shell is in its precache.
    const shell = await until('the shell precached', async () => {
      const p = await precached(page);
      return p.urls.length === 3 && p;
    });
    assert.deepEqual(shell.urls, ['/app.js', '/client.js', '/index.html']);

    // Offline: the shell comes from the precache, and mutations from the page are queued.
    await context.setOffline(true);
    assert.equal(await reload(page), true, 'the worker answered the navigation');
    assert.equal(await page.textContent('#version'), 'v1', 'the shell loaded offline from the precache');
    const queued = await s.fetch('/api/tasks', json({ id: 'offline-1', title: 'queued under workbox' }));
    assert.equal(queued.status, 202);
    assert.equal(queued.json.queued, true);
    assert.equal((await s.pending()).length, 1);
    assert.deepEqual(await server.tasks(), [], 'nothing reached the server offline');

    // Back online: replayed once, with the worker's key.
    await context.setOffline(false);
    await s.sync();
    await until('the queued task at the server', async () => (await server.tasks()).some((t) => t.id === 'offline-1'));
    assert.equal((await s.settled()).pending, 0);
    const log = await server.log();
    assert.equal(log.length, 1, JSON.stringify(log));
    assert.match(log[0].idempotencyKey, /^[0-9a-f-]{36}$/);
    // A GET is neither Workbox's (not precached) nor ours: it goes to the server.
    const list = await s.fetch('/api/tasks');
    assert.equal(list.status, 200);
    assert.deepEqual(list.json.map((t) => t.id), ['offline-1']);

    // Release v2: the new worker installs (precaching the new app.js), skips waiting, claims the
    // page, and both parts work under it.
    const before = await page.evaluate(() => navigator.serviceWorker.controller.scriptURL);
    await release('v2');
    await page.evaluate(() => {
      window.controllerChanged = false;
      navigator.serviceWorker.addEventListener('controllerchange', () => { window.controllerChanged = true; }, { once: true });
    });
    await page.evaluate(async () => (await navigator.serviceWorker.getRegistration()).update());
    await until('the new worker to take over the open page', () => page.evaluate(() => window.controllerChanged), 15_000);
    assert.equal(await page.evaluate(() => navigator.serviceWorker.controller.scriptURL), before);
    const appRevision = revision(join(site, 'app.js'));
    await until('the new app.js precached, the old one removed', async () => {
      const p = await precached(page);
      return p.urls.length === 3 && p.revisions['/app.js'] === appRevision;
    });
    assert.notEqual(appRevision, shell.revisions['/app.js']);

    await context.setOffline(true);
    assert.equal(await reload(page), true);
    assert.equal(await page.textContent('#version'), 'v2', 'the new shell, offline, from the new precache');
    assert.equal((await s.fetch('/api/tasks', json({ id: 'offline-2', title: 'queued under v2' }))).status, 202);
    await context.setOffline(false);
    await s.sync();
    await until('the second task at the server', async () => (await server.tasks()).some((t) => t.id === 'offline-2'));
    assert.equal((await s.settled()).pending, 0);
    assert.equal((await server.log()).length, 2, 'each mutation arrived once');

    const problems = workerConsole.filter((m) => m.type === 'error' || m.type === 'warning');
    assert.deepEqual(problems, [], 'neither part complained');
  } finally {
    await browser.close();
  }
});
