// A tiny W3C WebDriver client for Firefox ESR through geckodriver, over plain HTTP (Node's fetch).
// It starts geckodriver itself on a free 127.0.0.1 port, and every call is bounded in time.
import { spawn } from 'node:child_process';
import { createServer } from 'node:net';

export const FIREFOX = process.env.FIREFOX_BINARY || '/usr/bin/firefox-esr';

/** Preferences every session gets. None is required: service workers register and control the
 * page on http://127.0.0.1 in a stock geckodriver profile (a potentially trustworthy origin; the
 * core suite was seen passing with no prefs at all). These only keep Firefox's own idea of being
 * online out of the way, since "offline" here is the demo server being stopped. */
export const BASE_PREFS = {
  // Never ask the OS whether there is a network: "offline" is the demo server being stopped.
  'network.manage-offline-status': false,
  'network.captive-portal-service.enabled': false,
  'network.connectivity-service.enabled': false,
  // Make sure nothing turns service workers off in this profile.
  'dom.serviceWorkers.enabled': true,
  // Show worker console output on geckodriver's stderr when FIREFOX_LOG=1.
  'devtools.console.stdout.content': true,
  'browser.dom.window.dump.enabled': true,
};

const HTTP_TIMEOUT_MS = 60_000;

/** A port that was free a moment ago on 127.0.0.1. */
export function freePort() {
  return new Promise((resolve, reject) => {
    const probe = createServer();
    probe.unref();
    probe.once('error', reject);
    probe.listen(0, '127.0.0.1', () => {
      const { port } = probe.address();
      probe.close(() => resolve(port));
    });
  });
}

const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

/** Starts geckodriver (GECKODRIVER, or `geckodriver` on PATH) and waits until it answers /status. */
export async function startGeckodriver({ binary = process.env.GECKODRIVER || 'geckodriver', timeoutMs = 20_000 } = {}) {
  const port = await freePort();
  const verbose = process.env.FIREFOX_LOG === '1';
  const child = spawn(binary, ['--host', '127.0.0.1', '--port', String(port), ...(verbose ? ['--log', 'debug'] : [])], {
    stdio: ['ignore', verbose ? 'inherit' : 'ignore', verbose ? 'inherit' : 'pipe'],
  });
  let stderr = '';
  child.stderr?.on('data', (chunk) => { stderr = (stderr + chunk).slice(-4000); });
  let exited = null;
  child.once('exit', (code, signal) => { exited = { code, signal }; });
  child.once('error', (error) => { exited = { error }; });
  const url = `http://127.0.0.1:${port}`;
  const end = Date.now() + timeoutMs;
  for (;;) {
    if (exited) throw new Error(`geckodriver exited before answering: ${JSON.stringify(exited)} ${stderr}`);
    try {
      const res = await fetch(`${url}/status`, { signal: AbortSignal.timeout(2_000) });
      if (res.ok) break;
    } catch {}
    if (Date.now() > end) {
      child.kill('SIGKILL');
      throw new Error(`geckodriver did not answer on ${url} within ${timeoutMs} ms ${stderr}`);
    }
    await sleep(100);
  }
  return {
    url,
    pid: child.pid,
    stderr: () => stderr,
    /** Stops geckodriver: SIGTERM, then SIGKILL after 5 s. */
    stop: () => new Promise((resolve) => {
      if (exited || child.exitCode !== null) return resolve();
      const timer = setTimeout(() => child.kill('SIGKILL'), 5_000);
      child.once('exit', () => { clearTimeout(timer); resolve(); });
      child.kill('SIGTERM');
    }),
  };
}

async function call(base, method, path, body, timeoutMs = HTTP_TIMEOUT_MS) {
  const res = await fetch(base + path, {
    method,
    headers: body === undefined ? {} : { 'content-type': 'application/json; charset=utf-8' },
    body: body === undefined ? undefined : JSON.stringify(body),
    signal: AbortSignal.timeout(timeoutMs),
  });
  const text = await res.text();
  let json;
  try { json = JSON.parse(text); } catch { throw new Error(`WebDriver ${method} ${path}: HTTP ${res.status}, not JSON: ${text.slice(0, 500)}`); }
  if (!res.ok || (json.value && json.value.error)) {
    const v = json.value || {};
    const error = new Error(`WebDriver ${method} ${path}: ${v.error || res.status}: ${v.message || text.slice(0, 500)}`);
    error.webdriver = v.error;
    throw error;
  }
  return json.value;
}

/** A Firefox session. `prefs` are added to BASE_PREFS; `scriptTimeoutMs` bounds every script. */
export async function newSession(driver, { prefs = {}, args = ['-headless'], scriptTimeoutMs = 30_000, pageLoadTimeoutMs = 30_000 } = {}) {
  const capabilities = {
    alwaysMatch: {
      browserName: 'firefox',
      acceptInsecureCerts: true,
      pageLoadStrategy: 'normal',
      timeouts: { script: scriptTimeoutMs, pageLoad: pageLoadTimeoutMs, implicit: 0 },
      'moz:firefoxOptions': {
        binary: FIREFOX,
        args,
        prefs: { ...BASE_PREFS, ...prefs },
        ...(process.env.FIREFOX_LOG === '1' ? { log: { level: 'info' } } : {}),
      },
    },
  };
  // Starting Firefox can be slow on a busy 2-core machine; still bounded.
  const value = await call(driver.url, 'POST', '/session', { capabilities }, 90_000);
  const id = value.sessionId;
  const base = `${driver.url}/session/${id}`;
  const firefoxPid = value.capabilities?.['moz:processID'];

  /** Runs `fn` (a function, serialised with toString) in the page and returns what it resolves to. */
  async function evaluate(fn, ...args) {
    // The wrapper turns a rejection into a value, so a page error reads as itself, not as a timeout.
    const script = `const done = arguments[arguments.length - 1];
      const args = Array.prototype.slice.call(arguments, 0, arguments.length - 1);
      Promise.resolve().then(() => (${fn.toString()})(...args)).then(
        (value) => done({ ok: true, value: value === undefined ? null : value }),
        (error) => done({ ok: false, error: String(error && error.stack ? error.message + '\\n' + error.stack : error) }));`;
    const result = await call(base, 'POST', '/execute/async', { script, args }, scriptTimeoutMs + 10_000);
    if (!result || !result.ok) throw new Error(`in the page: ${result ? result.error : 'no result'}`);
    return result.value;
  }

  return {
    id,
    capabilities: value.capabilities,
    firefoxPid,
    navigate: (url) => call(base, 'POST', '/url', { url }, pageLoadTimeoutMs + 10_000),
    currentUrl: () => call(base, 'GET', '/url'),
    /** Synchronous script, as WebDriver's execute/sync. */
    execute: (script, args = []) => call(base, 'POST', '/execute/sync', { script, args }, scriptTimeoutMs + 10_000),
    /** Raw execute/async: `script` must call `arguments[arguments.length - 1]`. */
    executeAsync: (script, args = []) => call(base, 'POST', '/execute/async', { script, args }, scriptTimeoutMs + 10_000),
    evaluate,
    /** Ends the session (Firefox quits); then makes sure that Firefox process is gone. */
    close: async () => {
      try { await call(base, 'DELETE', '', undefined, 30_000); } catch {}
      if (firefoxPid) {
        const end = Date.now() + 10_000;
        while (Date.now() < end && alive(firefoxPid)) await sleep(100);
        if (alive(firefoxPid)) { try { process.kill(firefoxPid, 'SIGKILL'); } catch {} }
      }
    },
  };
}

function alive(pid) {
  try { process.kill(pid, 0); return true; } catch { return false; }
}

/** geckodriver + one headless Firefox session; `close()` ends both. */
export async function launchFirefox(options = {}) {
  const driver = await startGeckodriver();
  try {
    const session = await newSession(driver, options);
    return {
      ...session,
      driver,
      close: async () => {
        try { await session.close(); } finally { await driver.stop(); }
      },
    };
  } catch (error) {
    await driver.stop();
    throw new Error(`${error.message}\n${driver.stderr()}`);
  }
}
