// The browsers without Background Sync, driven over W3C WebDriver with selenium-webdriver:
// Firefox ESR through geckodriver, and WebKitGTK's MiniBrowser (Safari's engine) through
// WebKitWebDriver under Xvfb. Each driver is started here on a free 127.0.0.1 port and the
// session is opened against it, so Selenium Manager never runs and nothing is downloaded.
import { spawn } from 'node:child_process';
import { existsSync } from 'node:fs';
import { createServer } from 'node:net';
import { Capabilities, WebDriver } from 'selenium-webdriver';
import { Executor, HttpClient } from 'selenium-webdriver/http/index.js';

process.env.SE_OFFLINE = 'true';
process.env.SE_AVOID_BROWSER_DOWNLOAD = 'true';

/** `BROWSER=firefox` (the default) or `BROWSER=webkit`. */
export const BROWSER = process.env.BROWSER ?? 'firefox';
if (!['firefox', 'webkit'].includes(BROWSER)) throw new Error(`BROWSER must be firefox or webkit, not ${BROWSER}`);

export const FIREFOX = process.env.FIREFOX_BINARY || '/usr/bin/firefox-esr';
export const MINIBROWSER = process.env.MINIBROWSER || '/usr/lib/x86_64-linux-gnu/webkit2gtk-4.1/MiniBrowser';

/** Firefox preferences every session gets: "offline" here is the demo server being stopped, so
 * Firefox's own idea of being online is kept out of the way. */
const FIREFOX_PREFS = {
  'network.manage-offline-status': false,
  'network.captive-portal-service.enabled': false,
  'network.connectivity-service.enabled': false,
  'dom.serviceWorkers.enabled': true,
};

const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

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

/** Starts a long-running helper; `stop()` ends it (SIGTERM, then SIGKILL after 5 s). */
function daemon(binary, args, env = process.env) {
  const child = spawn(binary, args, { stdio: ['ignore', 'ignore', 'pipe'], env });
  let stderr = '';
  child.stderr.on('data', (chunk) => { stderr = (stderr + chunk).slice(-4000); });
  let exited = null;
  child.once('exit', (code, signal) => { exited = { code, signal }; });
  child.once('error', (error) => { exited = { error: error.message }; });
  return {
    exited: () => exited,
    stderr: () => stderr,
    stop: () => new Promise((resolve) => {
      if (exited) return resolve();
      const timer = setTimeout(() => child.kill('SIGKILL'), 5_000);
      child.once('exit', () => { clearTimeout(timer); resolve(); });
      child.kill('SIGTERM');
    }),
  };
}

/** Waits until a WebDriver server answers /status; bounded. */
async function ready(url, process, what, ms = 20_000) {
  const end = Date.now() + ms;
  for (;;) {
    if (process.exited()) throw new Error(`${what} exited before answering: ${JSON.stringify(process.exited())} ${process.stderr()}`);
    try {
      if ((await fetch(`${url}/status`, { signal: AbortSignal.timeout(2_000) })).ok) return;
    } catch {}
    if (Date.now() > end) throw new Error(`${what} did not answer on ${url} within ${ms} ms ${process.stderr()}`);
    await sleep(100);
  }
}

/** A free X display number and an Xvfb on it, for MiniBrowser. */
async function startXvfb() {
  let display = 90;
  while (existsSync(`/tmp/.X11-unix/X${display}`) || existsSync(`/tmp/.X${display}-lock`)) display++;
  const xvfb = daemon('Xvfb', [`:${display}`, '-screen', '0', '1280x800x24', '-nolisten', 'tcp']);
  const end = Date.now() + 10_000;
  while (!existsSync(`/tmp/.X11-unix/X${display}`)) {
    if (xvfb.exited() || Date.now() > end) throw new Error(`Xvfb :${display} did not start ${xvfb.stderr()}`);
    await sleep(50);
  }
  return { display: `:${display}`, stop: xvfb.stop };
}

/** The driver for BROWSER, and the capabilities of a new session. */
async function startDriver({ prefs }) {
  const port = await freePort();
  const url = `http://127.0.0.1:${port}`;
  if (BROWSER === 'firefox') {
    const driver = daemon(process.env.GECKODRIVER || 'geckodriver', ['--host', '127.0.0.1', '--port', String(port)]);
    await ready(url, driver, 'geckodriver');
    const capabilities = new Capabilities({
      browserName: 'firefox',
      'moz:firefoxOptions': { binary: FIREFOX, args: ['-headless'], prefs: { ...FIREFOX_PREFS, ...prefs } },
    });
    return { url, capabilities, stop: driver.stop };
  }
  const xvfb = await startXvfb();
  const driver = daemon(process.env.WEBKIT_WEBDRIVER || 'WebKitWebDriver', [`--port=${port}`, '--host=127.0.0.1'], { ...process.env, DISPLAY: xvfb.display });
  try {
    await ready(url, driver, 'WebKitWebDriver');
  } catch (error) {
    await xvfb.stop();
    throw error;
  }
  // MiniBrowser has no headless mode: it draws on the Xvfb display. `--automation` is required.
  const capabilities = new Capabilities({ 'webkitgtk:browserOptions': { binary: MINIBROWSER, args: ['--automation'] } });
  return { url, capabilities, stop: async () => { await driver.stop(); await xvfb.stop(); } };
}

/**
 * One browser session on BROWSER. `prefs` are Firefox preferences (ignored by WebKit).
 * `evaluate(fn, ...args)` runs `fn` in the page and answers what it resolves to.
 */
export async function launch({ prefs = {}, scriptTimeoutMs = 30_000 } = {}) {
  const driver = await startDriver({ prefs });
  let session;
  try {
    session = await WebDriver.createSession(new Executor(new HttpClient(driver.url)), driver.capabilities);
    await session.manage().setTimeouts({ script: scriptTimeoutMs, pageLoad: 30_000, implicit: 0 });
  } catch (error) {
    await driver.stop();
    throw error;
  }
  async function evaluate(fn, ...args) {
    // The wrapper turns a rejection into a value, so a page error reads as itself, not as a timeout.
    const script = `const done = arguments[arguments.length - 1];
      const args = Array.prototype.slice.call(arguments, 0, arguments.length - 1);
      Promise.resolve().then(() => (${fn.toString()})(...args)).then(
        (value) => done({ ok: true, value: value === undefined ? null : value }),
        (error) => done({ ok: false, error: String(error && error.stack ? error.message + '\\n' + error.stack : error) }));`;
    const result = await session.executeAsyncScript(script, ...args);
    if (!result || !result.ok) throw new Error(`in the page: ${result ? result.error : 'no result'}`);
    return result.value;
  }
  return {
    browser: BROWSER,
    navigate: (url) => session.get(url),
    refresh: () => session.navigate().refresh(),
    execute: (script, ...args) => session.executeScript(script, ...args),
    evaluate,
    close: async () => {
      try { await session.quit(); } catch {} finally { await driver.stop(); }
    },
  };
}
