// vite-plugin-pwa, both routes, as a PWA developer builds with it: demo-site/pwa-example is
// installed from the packed tarball and built with generateSW (Workbox's worker imports the
// engine) and with injectManifest (the app's own worker imports it). In headless Chromium each
// build's precached page loads offline, a mutation is queued, an update through skipWaiting takes
// over with the queue intact, and the mutation is then replayed once.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { readFileSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { installExample, launch, reloadOffline, startServer, tempDir, until } from './harness.mjs';

const run = promisify(execFile);

let work;
let app;
before(async () => {
  work = tempDir('pwa');
  ({ app } = await installExample('pwa-example', work));
});
after(() => work && rmSync(work, { recursive: true, force: true }));

/** Builds the app with `strategy` into `outDir`, its pages saying `build`. */
function build(strategy, build, outDir) {
  const env = { ...process.env, PWA_STRATEGY: strategy, BUILD_ID: build };
  return run(join(app, 'node_modules', '.bin', 'vite'), ['build', '--logLevel', 'warn', '--outDir', outDir, '--emptyOutDir'], { cwd: app, env, timeout: 120_000 });
}

for (const strategy of ['generateSW', 'injectManifest']) {
  test(`vite-plugin-pwa ${strategy}: offline page, queued mutation, an update that keeps the queue, one replay`, async () => {
    const dist = join(work, `dist-${strategy}`);
    await build(strategy, '1', dist);
    const worker = readFileSync(join(dist, 'sw.js'), 'utf8');
    // That its fetch listener comes first shows below: the engine, not Workbox, answers the mutation.
    assert.match(worker, /importScripts\("\/offline-sync\.js"\)/, 'the worker imports the engine');

    const server = await startServer({ statics: [dist] });
    const browser = await launch();
    try {
      const { context } = browser;
      const page = context.pages()[0] ?? (await context.newPage());
      await page.goto(`${server.base}/`);
      await until('the worker in control', () => page.evaluate(() => navigator.serviceWorker.controller !== null), 20_000);
      await until('the page precached', () => page.evaluate(async () => {
        for (const name of await caches.keys()) {
          if ((await (await caches.open(name)).keys()).some((r) => new URL(r.url).pathname === '/index.html')) return true;
        }
        return false;
      }), 20_000);
      assert.equal(await page.textContent('#build'), '1');

      await context.setOffline(true);
      await reloadOffline(page);
      assert.equal(await page.textContent('#build'), '1', 'the precached page loads offline');
      const queued = await page.evaluate(() => fetch('/api/tasks', {
        method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ id: 'pwa-1', title: 'queued in the PWA' }),
      }).then((r) => r.status));
      assert.equal(queued, 202, 'the engine answered the mutation, not Workbox');
      assert.equal((await page.evaluate(() => window.offlineSync.pending())).length, 1);

      // A new build is deployed. The API refuses replays meanwhile (401 holds the queue), so the
      // entry is still waiting when the update takes over.
      await build(strategy, '2', dist);
      await server.faults({ requireAuth: 'Bearer nobody' });
      await context.setOffline(false);
      await page.evaluate(async () => {
        const changed = new Promise((resolve) => navigator.serviceWorker.addEventListener('controllerchange', resolve, { once: true }));
        await (await navigator.serviceWorker.getRegistration()).update();
        await changed;
      });
      const entries = await page.evaluate(() => window.offlineSync.pending());
      assert.deepEqual(entries.map((e) => e.method), ['POST'], 'the new worker holds the queue');
      await page.reload();
      assert.equal(await page.textContent('#build'), '2', 'the update serves the new build');

      await server.faults({});
      await until('the task at the server', async () => {
        await page.evaluate(() => window.offlineSync.replay());
        return (await server.tasks()).some((t) => t.id === 'pwa-1');
      }, 20_000, 500);
      assert.equal((await server.tasks()).filter((t) => t.id === 'pwa-1').length, 1, 'applied once');
      assert.equal((await page.evaluate(() => window.offlineSync.pending())).length, 0);
      assert.deepEqual(browser.workerConsole.filter((m) => m.type === 'error'), [], 'the worker logged no error');
    } finally {
      await browser.close();
      await server.stop();
    }
  });
}
