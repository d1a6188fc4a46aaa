// Shared pieces of the tests in the browsers without Background Sync (Firefox ESR, WebKitGTK):
// the demo server (stoppable and restartable on the same port with the same SQLite file, which
// is how "offline" is simulated here) and the test page. Self-contained on purpose:
// tests/e2e/harness.mjs loads playwright-core, which is Chromium-only here.
import { spawn } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, dirname } from 'node:path';
import { fileURLToPath } from 'node:url';
import { createInterface } from 'node:readline';
import { BROWSER, launch } from './browsers.mjs';
import { sleep, until as poll } from '../common.mjs';

export { BROWSER };

export const ROOT = join(dirname(fileURLToPath(import.meta.url)), '..', '..');
const SERVER = join(ROOT, 'target', 'debug', 'demo-server');
const FIXTURE = join(ROOT, 'tests', 'e2e', 'fixture');

/** Bounded polling (see tests/common.mjs), with this suite's longer default wait. */
export const until = (what, check, ms = 15_000, every = 100) => poll(what, check, ms, every);

export function tempDir(prefix) {
  return mkdtempSync(join(tmpdir(), `offline-sync-${BROWSER}-${prefix}-`));
}

export const decode = (b64) => Buffer.from(b64 ?? '', 'base64');

/** One run of demo-server; resolves with its base URL once it printed `listening on`. */
function spawnServer(port, db) {
  const args = ['--port', String(port), '--test-hooks', '--static', join(ROOT, 'dist'), '--static', FIXTURE, '--db', db];
  const child = spawn(SERVER, args, { stdio: ['ignore', 'pipe', 'inherit'] });
  const lines = createInterface({ input: child.stdout });
  const ready = new Promise((resolve, reject) => {
    const timer = setTimeout(() => { child.kill('SIGKILL'); reject(new Error('demo-server did not start within 10 s')); }, 10_000);
    child.once('exit', (code) => { clearTimeout(timer); reject(new Error(`demo-server exited with ${code}`)); });
    lines.on('line', (line) => {
      const m = line.match(/listening on (http:\/\/127\.0\.0\.1:\d+)/);
      if (m) { clearTimeout(timer); resolve(m[1]); }
    });
  });
  return { child, ready };
}

/**
 * The demo server on 127.0.0.1 with a SQLite file in a temp dir. `down()` stops it (requests to
 * its port are then refused: a network failure for the worker); `up()` starts it again on the
 * same port with the same file. The request log (/_test/log) is in memory: it starts empty on
 * every `up()`, while tasks and idempotency records survive in the file.
 */
export async function startServer() {
  const dir = tempDir('server');
  const db = join(dir, 'tasks.sqlite');
  let child = null;
  let port = 0;
  let base = null;

  async function up() {
    if (child) return;
    // The port was just released; retry briefly in case the OS has not let go of it yet.
    const end = Date.now() + 10_000;
    for (;;) {
      const run = spawnServer(port, db);
      try {
        base = await run.ready;
        child = run.child;
        port = Number(new URL(base).port);
        return;
      } catch (error) {
        if (port === 0 || Date.now() > end) throw error;
        await sleep(200);
      }
    }
  }

  function down() {
    const c = child;
    child = null;
    return new Promise((resolve) => {
      if (!c || c.exitCode !== null || c.signalCode !== null) return resolve();
      const timer = setTimeout(() => c.kill('SIGKILL'), 5_000);
      c.once('exit', () => { clearTimeout(timer); resolve(); });
      c.kill('SIGTERM');
    });
  }

  async function call(method, path, body) {
    const res = await fetch(base + path, {
      method,
      body: body && JSON.stringify(body),
      headers: body ? { 'content-type': 'application/json' } : {},
      signal: AbortSignal.timeout(10_000),
    });
    const text = await res.text();
    return text ? JSON.parse(text) : null;
  }

  /** Whether anything answers on the port (it must not while the server is down). */
  async function reachable() {
    try {
      await fetch(`${base}/_test/log`, { signal: AbortSignal.timeout(2_000) });
      return true;
    } catch {
      return false;
    }
  }

  await up();
  return {
    get base() { return base; },
    get port() { return port; },
    db,
    up,
    down,
    reachable,
    log: () => call('GET', '/_test/log'),
    tasks: () => call('GET', '/api/tasks'),
    faults: (f) => call('POST', '/_test/faults', f),
    reset: () => call('POST', '/_test/reset'),
    stop: async () => { await down(); rmSync(dir, { recursive: true, force: true }); },
  };
}

/**
 * BROWSER with the test page open and the worker in control. The helpers mirror
 * tests/e2e/harness.mjs's openPage, minus what needs CDP (there is no sync event to fire here).
 * `prefs` are Firefox preferences.
 */
export async function openBrowser(base, { query = '', prefs = {} } = {}) {
  const browser = await launch({ prefs });
  try {
    await browser.navigate(`${base}/index.html${query}`);
    await until('window.ready on the test page', () => browser.execute('return typeof window.ready === "object";'));
    await browser.evaluate(() => window.ready);
  } catch (error) {
    await browser.close();
    throw error;
  }
  const { evaluate } = browser;
  return {
    browser,
    evaluate,
    close: () => browser.close(),
    events: (type) => evaluate((t) => window.events.filter((e) => !t || e.type === t), type ?? null),
    status: () => evaluate(() => window.offlineSync.status()),
    pending: () => evaluate(() => window.offlineSync.pending()),
    replay: () => evaluate(() => window.offlineSync.replay()),
    online: () => evaluate(() => { window.dispatchEvent(new Event('online')); }),
    /** fetch() from the page: {status, text, json, headers}. */
    fetch: (url, init = {}) => evaluate(async (url, init) => {
      const res = await fetch(url, init);
      const text = await res.text();
      let json = null;
      try { json = JSON.parse(text); } catch {}
      return { status: res.status, text, json, headers: Object.fromEntries(res.headers) };
    }, url, init),
  };
}
