// The npm package, as a fresh app uses it (issue: drop-in for real PWAs). build.sh stages the
// package in target/package/; this test packs it, installs the tarball into a copy of
// demo-site/vite-example, builds that with Vite, serves the build and the API on one origin, and
// takes the app offline and back in headless Chromium.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { existsSync, readFileSync, readdirSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { ROOT, installExample, launch, startServer, tempDir, until } from './harness.mjs';

const run = promisify(execFile);
// What the package must hold, and nothing else.
const PACKAGE_FILES = [
  'README.md', 'client.d.ts', 'client.js', 'dexie.d.ts', 'dexie.js', 'offline-sync.js', 'package.json',
  'react.d.ts', 'react.js', 'sw.js', 'vue.d.ts', 'vue.js',
];

let work; // a temp dir: the tarball and the app
let app; // the app's copy
let server;
const timings = {};

/** A step with a time limit; its duration goes into `timings`. */
async function step(name, fn) {
  const start = Date.now();
  try { return await fn(); } finally { timings[name] = Date.now() - start; }
}

before(async () => {
  work = tempDir('package');
  const installed = await step('npm pack and install', () => installExample('vite-example', work));
  app = installed.app;
  const { stdout: listing } = await run('tar', ['tzf', installed.tgz]);
  assert.deepEqual(listing.trim().split('\n').map((f) => f.replace(/^package\//, '')).sort(), PACKAGE_FILES);
  await step('vite build', () => run(join(app, 'node_modules', '.bin', 'vite'), ['build', '--logLevel', 'warn'], { cwd: app, timeout: 120_000 }));
  server = await startServer({ statics: [join(app, 'dist')] }); // only what the app built
});

after(async () => {
  await server?.stop();
  if (work) rmSync(work, { recursive: true, force: true });
  console.log(`package test timings (ms): ${JSON.stringify(timings)}`);
});

test('the package carries a README for its users: nothing in it points into this repository', () => {
  const readme = readFileSync(join(app, 'node_modules', 'offline-sync', 'README.md'), 'utf8');
  assert.match(readme, /^# offline-sync/);
  assert.match(readme, /npm install offline-sync/);
  assert.doesNotMatch(readme, /\]\((?!https?:)[^)]*\)/, 'no relative links, which do not resolve inside node_modules');
  assert.doesNotMatch(readme, /\.\/build\.sh/, 'no build commands of this repository');
});

test('every export of the installed package resolves to a file, types included', async () => {
  const installed = join(app, 'node_modules', 'offline-sync');
  const pkg = JSON.parse(readFileSync(join(installed, 'package.json'), 'utf8'));
  assert.equal(pkg.name, 'offline-sync');
  assert.equal(pkg.version, '0.1.0');
  assert.equal(pkg.type, 'module');
  for (const [name, target] of Object.entries(pkg.exports)) {
    for (const file of typeof target === 'string' ? [target] : Object.values(target)) {
      assert.ok(existsSync(join(installed, file)), `${name} → ${file}`);
    }
  }
  for (const peer of Object.keys(pkg.peerDependencies)) {
    assert.equal(pkg.peerDependenciesMeta[peer]?.optional, true, `${peer} is an optional peer`);
    assert.ok(!existsSync(join(app, 'node_modules', peer)), `${peer} was not installed for an app that does not use it`);
  }
  // Node resolves the specifiers a bundler would (the `default` condition).
  const specifiers = ['offline-sync', 'offline-sync/dexie', 'offline-sync/react', 'offline-sync/vue', 'offline-sync/sw.js', 'offline-sync/offline-sync.js'];
  const { stdout } = await run(process.execPath, ['--input-type=module', '-e',
    `for (const s of ${JSON.stringify(specifiers)}) console.log(import.meta.resolve(s));`], { cwd: app, timeout: 10_000 });
  assert.deepEqual(stdout.trim().split('\n').map((u) => u.slice(u.lastIndexOf('/') + 1)),
    ['client.js', 'dexie.js', 'react.js', 'vue.js', 'sw.js', 'offline-sync.js']);
});

test('vite build puts the worker files at the root of the app, byte for byte as built', () => {
  const dist = join(app, 'dist');
  for (const file of ['sw.js', 'offline-sync.js']) {
    assert.ok(readFileSync(join(dist, file)).equals(readFileSync(join(ROOT, 'dist', file))),
      `${file}: the app's copy differs from dist/ (is target/package/ stale? ./build.sh stages it again)`);
  }
  const [bundle] = readdirSync(join(dist, 'assets')).filter((f) => f.endsWith('.js'));
  const code = readFileSync(join(dist, 'assets', bundle), 'utf8');
  assert.match(code, /offline-sync: this browser has no service workers/, 'the client is bundled into the app');
  assert.doesNotMatch(code, /OFFLINE_SYNC_WASM/, 'the engine is not bundled into the page');
});

test('the built app registers the worker, queues offline, syncs and shows its status', async () => {
  const browser = await launch();
  try {
    const { context } = browser;
    const page = context.pages()[0] ?? (await context.newPage());
    await page.goto(`${server.base}/`);
    const text = (id) => page.locator(`#${id}`).textContent();
    await until('the worker in control', async () => (await text('state')).startsWith('Protected'), 15_000);

    // Background Sync over CDP, as in the harness.
    const cdp = await context.newCDPSession(page);
    const registrations = new Map();
    cdp.on('ServiceWorker.workerRegistrationUpdated', ({ registrations: list }) => {
      for (const r of list) registrations.set(r.scopeURL, r);
    });
    await cdp.send('ServiceWorker.enable');
    const origin = new URL(server.base).origin;
    const { registrationId } = await until('the registration over CDP', () => registrations.get(`${origin}/`));

    const add = async (title) => {
      const before = await page.locator('#sent li').count();
      await page.fill('#title', title);
      await page.click('#add button');
      await until(`"${title}" answered`, async () => (await page.locator('#sent li').count()) > before);
      return page.locator('#sent li').last().textContent();
    };

    assert.equal(await add('online'), 'online: 201', 'online, the server answers');
    await context.setOffline(true);
    assert.equal(await add('first offline'), 'first offline: queued');
    assert.equal(await add('second offline'), 'second offline: queued');
    await until('pending 2', async () => (await text('pending')) === '2');
    assert.equal(await text('state'), 'Offline: changes wait in the queue.');
    await until('both in the queue list', async () => (await page.locator('#queue li').count()) === 2);
    assert.deepEqual(await page.locator('#queue li').allTextContents(), ['POST /api/tasks', 'POST /api/tasks']);
    assert.deepEqual((await server.tasks()).map((t) => t.title), ['online'], 'nothing reached the server offline');

    await context.setOffline(false);
    await cdp.send('ServiceWorker.dispatchSyncEvent', { origin, registrationId, tag: 'offline-sync', lastChance: false });
    await until('both tasks at the server', async () => (await server.tasks()).length === 3, 15_000);
    await until('pending 0 on the page', async () => (await text('pending')) === '0');
    await until('the status says synced', async () => /^Up to date, synced at /.test(await text('state')));
    assert.equal(await page.locator('#queue li').count(), 0);

    const titles = (await server.tasks()).map((t) => t.title).sort();
    assert.deepEqual(titles, ['first offline', 'online', 'second offline'], 'each applied once');
    const log = await server.log();
    const replayed = log.filter((r) => / offline"/.test(Buffer.from(r.bodyBase64, 'base64').toString()));
    assert.equal(replayed.length, 2, JSON.stringify(log));
    for (const r of replayed) assert.match(r.idempotencyKey ?? '', /^[0-9a-f-]{36}$/, 'sent with the worker\'s key');

    // "Sync now" is the client's replay(): it answers with the status.
    await page.click('#sync');
    await until('the status after Sync now', async () => /^Up to date/.test(await text('state')));
    const errors = browser.workerConsole.filter((m) => m.type === 'error');
    assert.deepEqual(errors, [], 'the worker logged no error');
  } finally {
    await browser.close();
  }
});
