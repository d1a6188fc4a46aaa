// Shared pieces of the end-to-end tests: the demo server, headless Chromium, CDP and the test page.
import { execFile, spawn } from 'node:child_process';
import { cpSync, existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, dirname } from 'node:path';
import { fileURLToPath } from 'node:url';
import { createInterface } from 'node:readline';
import { promisify } from 'node:util';
import { chromium } from 'playwright-core';
import { CHROMIUM_ARGS, until } from '../common.mjs';

export const ROOT = join(dirname(fileURLToPath(import.meta.url)), '..', '..');
const SERVER = join(ROOT, 'target', 'debug', 'demo-server');
const run = promisify(execFile);

export { CHROMIUM_ARGS, until };

/**
 * An example app from demo-site/, as a user gets it: target/package/ packed into a tarball, the
 * app copied into `work` with that tarball as its `offline-sync`, and npm packages installed
 * (from the npm cache after the first run). Answers the tarball and the app's folder.
 */
export async function installExample(name, work) {
  const npm = (args, cwd, timeout) => run('npm', [...args, '--no-audit', '--no-fund', '--loglevel=error'], { cwd, timeout, maxBuffer: 1 << 24 });
  const staged = join(ROOT, 'target', 'package');
  if (!existsSync(join(staged, 'package.json'))) throw new Error('target/package/ is missing: run ./build.sh first');
  const { stdout } = await npm(['pack', staged, '--pack-destination', work], work, 60_000);
  const tgz = join(work, stdout.trim().split('\n').pop());
  const app = join(work, 'app');
  cpSync(join(ROOT, 'demo-site', name), app, { recursive: true, filter: (src) => !/\/(node_modules|dist|package-lock\.json)$/.test(src) });
  const manifest = JSON.parse(readFileSync(join(app, 'package.json'), 'utf8'));
  manifest.dependencies['offline-sync'] = `file:${tgz}`;
  writeFileSync(join(app, 'package.json'), JSON.stringify(manifest, null, 2));
  await npm(['install', '--prefer-offline'], app, 240_000);
  return { tgz, app };
}

/**
 * Reloads a page while its context is offline and returns the navigation's response. Chromium 148
 * under Playwright 1.65 drops the offline emulation on a reload (`navigator.onLine` is true again
 * and requests go out), so it is set again once the page has loaded.
 */
export async function reloadOffline(page) {
  const response = await page.reload();
  await page.context().setOffline(false);
  await page.context().setOffline(true);
  return response;
}

export function tempDir(prefix) {
  return mkdtempSync(join(tmpdir(), `offline-sync-${prefix}-`));
}

/**
 * The demo server on 127.0.0.1. By default it serves dist/ and the test page; `statics` replaces
 * those roots, `args` adds flags (e.g. `--header`).
 */
export async function startServer({ db, port = 0, statics, site = join(ROOT, 'tests', 'e2e', 'fixture'), args: extra = [] } = {}) {
  const roots = statics ?? [join(ROOT, 'dist'), site];
  // The tests drive faults and read the request log through /_test/, which only they turn on.
  const args = ['--port', String(port), '--test-hooks', ...roots.flatMap((dir) => ['--static', dir]), ...extra];
  if (db) args.push('--db', db);
  const child = spawn(SERVER, args, { stdio: ['ignore', 'pipe', 'inherit'] });
  const lines = createInterface({ input: child.stdout });
  const base = await new Promise((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error('demo-server did not start within 10 s')), 10_000);
    child.once('exit', (code) => reject(new Error(`demo-server exited with ${code}`)));
    lines.on('line', (line) => {
      const m = line.match(/listening on (http:\/\/127\.0\.0\.1:\d+)/);
      if (m) { clearTimeout(timer); resolve(m[1]); }
    });
  });
  const call = async (method, path, body) => {
    const res = await fetch(base + path, { method, body: body && JSON.stringify(body), headers: body ? { 'content-type': 'application/json' } : {} });
    const text = await res.text();
    return text ? JSON.parse(text) : null;
  };
  return {
    base,
    port: Number(new URL(base).port),
    /** The mutations the server received, in arrival order (the tests' own GETs left out). */
    log: async () => (await call('GET', '/_test/log')).filter((r) => r.method !== 'GET'),
    tasks: () => call('GET', '/api/tasks'),
    /** Any API collection, as the server lists it. */
    list: (collection) => call('GET', `/api/${collection}`),
    faults: (f) => call('POST', '/_test/faults', f),
    /** The most mutations the server handled at once since the last reset: in all, on one path. */
    overlap: () => call('GET', '/_test/overlap'),
    reset: () => call('POST', '/_test/reset'),
    /** Kills the server at once, as a crash would: no answer to what it is handling. */
    kill: () => child.kill('SIGKILL'),
    stop: () => new Promise((resolve) => {
      if (child.exitCode !== null || child.signalCode !== null) return resolve();
      child.once('exit', resolve);
      child.kill('SIGTERM');
    }),
  };
}

/** Headless Chromium with a fresh profile (or `userDataDir` to reuse one across restarts). */
export async function launch({ userDataDir } = {}) {
  const dir = userDataDir ?? tempDir('profile');
  const context = await chromium.launchPersistentContext(dir, {
    executablePath: '/usr/bin/chromium',
    headless: true,
    args: CHROMIUM_ARGS,
  });
  // What the service worker writes to its console: errors and warnings are part of its contract.
  const workerConsole = [];
  const listen = (worker) => worker.on('console', (m) => workerConsole.push({ type: m.type(), text: m.text() }));
  context.serviceWorkers().forEach(listen);
  context.on('serviceworker', listen);
  return {
    context,
    workerConsole,
    close: async () => {
      await context.close();
      if (!userDataDir) rmSync(dir, { recursive: true, force: true });
    },
  };
}

/** Opens the test page with the worker registered and in control. */
export async function openPage(context, base, query = '') {
  const page = context.pages()[0] ?? (await context.newPage());
  await page.goto(`${base}/index.html${query}`);
  await page.waitForFunction(() => window.ready, null, { timeout: 15_000 });
  await page.evaluate(() => window.ready);
  const cdp = await context.newCDPSession(page);
  const registrations = new Map();
  cdp.on('ServiceWorker.workerRegistrationUpdated', ({ registrations: list }) => {
    for (const r of list) registrations.set(r.scopeURL, r);
  });
  await cdp.send('ServiceWorker.enable');
  const origin = new URL(base).origin;
  const registration = await until('the worker registration over CDP', () => registrations.get(`${origin}/`));
  return {
    page,
    cdp,
    /** Fires `sync` in the worker, as the browser does when the network comes back. */
    sync: (tag = 'offline-sync') =>
      cdp.send('ServiceWorker.dispatchSyncEvent', { origin, registrationId: registration.registrationId, tag, lastChance: false }),
    stopWorker: () => cdp.send('ServiceWorker.stopAllWorkers'),
    /**
     * Fires `sync` until `done()` holds, again whenever no replay runs, as the browser retries a
     * failed sync: one fired the instant the browser comes back online may still meet the network
     * down. Bounded by `ms`.
     */
    syncUntil: (what, done, ms = 30_000) => until(what, async () => {
      const st = await page.evaluate(() => window.offlineSync.status());
      if (!st.syncing) await cdp.send('ServiceWorker.dispatchSyncEvent', { origin, registrationId: registration.registrationId, tag: 'offline-sync', lastChance: false });
      return done();
    }, ms, 500),
    /** Waits until no replay runs, and answers the status. */
    settled: (ms = 10_000) => until('the replay to end', async () => {
      const st = await page.evaluate(() => window.offlineSync.status());
      return !st.syncing && st;
    }, ms),
    events: (type) => page.evaluate((t) => window.events.filter((e) => !t || e.type === t), type),
    status: () => page.evaluate(() => window.offlineSync.status()),
    pending: () => page.evaluate(() => window.offlineSync.pending()),
    /** fetch() from the page; answers {status, json, text, fromServiceWorker-free fields}. */
    fetch: (url, init = {}) => page.evaluate(async ([url, init]) => {
      if (init.bodyBytes) init = { ...init, body: new Uint8Array(init.bodyBytes) };
      const res = await fetch(url, init);
      const text = await res.text();
      let json = null;
      try { json = JSON.parse(text); } catch {}
      return { status: res.status, text, json, headers: Object.fromEntries(res.headers) };
    }, [url, init]),
  };
}

export const decode = (b64) => Buffer.from(b64 ?? '', 'base64');

/** A POST of `value` as JSON. */
export const json = (value) => ({ method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(value) });

/** A fresh browser, and a reset server, for one test. */
export async function openSession(server, query = '') {
  await server.reset();
  const browser = await launch();
  const app = await openPage(browser.context, server.base, query);
  return { ...app, browser, context: browser.context, workerConsole: browser.workerConsole, close: () => browser.close() };
}
