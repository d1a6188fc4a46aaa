// offline-sync's page client: registers the worker, relays its status and events, asks it things.
const PREFIX = 'offline-sync:';
const statusListeners = new Set();
const eventListeners = new Set();
let listening = false;

function listen() {
  if (listening || !('serviceWorker' in navigator)) return;
  listening = true;
  navigator.serviceWorker.addEventListener('message', (event) => {
    const data = event.data;
    if (!data || typeof data.type !== 'string' || !data.type.startsWith(PREFIX)) return;
    for (const cb of eventListeners) cb(data);
    if (data.type === PREFIX + 'status') for (const cb of statusListeners) cb(toStatus(data));
  });
  navigator.serviceWorker.startMessages();
  // Where the browser has no Background Sync, the page's "online" is the worker's cue to replay.
  window.addEventListener('online', () => {
    tell({ type: PREFIX + 'online' }).catch(() => {});
  });
}

function toStatus({ pending, syncing, lastSyncAt, lastError, deadLetters, authRequired, coalesced }) {
  return { pending, syncing, lastSyncAt, lastError, deadLetters, authRequired, coalesced };
}

/** Registers the worker; `options` become its URL's query (arrays repeat the name). */
export async function register(url = '/sw.js', options = {}) {
  if (!('serviceWorker' in navigator)) throw new Error('offline-sync: this browser has no service workers');
  const query = new URLSearchParams();
  for (const [name, value] of Object.entries(options)) {
    for (const v of Array.isArray(value) ? value : [value]) query.append(name, String(v));
  }
  const text = query.toString();
  const registration = await navigator.serviceWorker.register(text ? `${url}?${text}` : url);
  listen();
  return registration;
}

async function activeWorker() {
  const registration = await navigator.serviceWorker.ready;
  return registration.active;
}

/** Tells the worker active now, if any: unlike `ready`, nothing waits for one to appear. */
async function tell(message) {
  const registration = await navigator.serviceWorker.getRegistration();
  if (registration && registration.active) registration.active.postMessage(message);
}

/** What the worker tells of an entry as a replay settles it: progress. */
const SETTLED = new Set(['replayed', 'dead-lettered', 'failed', 'expired'].map((type) => PREFIX + type));

/**
 * Sends a request over its own channel and waits for the worker's answer. The deadline covers
 * finding an active worker too (`ready` never settles where none controls the scope); a request
 * given up on is not sent later. With `whileReplaying` it starts again at every entry a replay
 * settles, so a long replay that makes progress is waited for, and a stuck one is not.
 */
function ask(message, timeoutMs, { whileReplaying = false } = {}) {
  return new Promise((resolve, reject) => {
    const channel = new MessageChannel();
    let found = false;
    let ended = false;
    let timer;
    const arm = () => {
      clearTimeout(timer);
      timer = setTimeout(() => {
        const why = found ? 'did not answer' : 'was not found active to answer';
        end(reject, new Error(`offline-sync: the worker ${why} ${message.type} within ${timeoutMs} ms`));
      }, timeoutMs);
    };
    const off = whileReplaying ? onEvent((event) => SETTLED.has(event.type) && arm()) : () => {};
    const end = (settle, value) => {
      ended = true;
      clearTimeout(timer);
      off();
      channel.port1.close();
      settle(value);
    };
    arm();
    channel.port1.onmessage = (event) => {
      const answer = event.data;
      if (answer && answer.type === PREFIX + 'error') end(reject, new Error(`offline-sync: ${answer.message}`));
      else end(resolve, answer);
    };
    activeWorker()
      .then((worker) => {
        if (ended) return;
        found = true;
        worker.postMessage(message, [channel.port2]);
      })
      .catch((error) => end(reject, error));
  });
}

/** Calls `cb(status)` on every status change; returns the unsubscribe function. */
export function onStatus(cb) {
  listen();
  statusListeners.add(cb);
  return () => statusListeners.delete(cb);
}

/**
 * Calls `cb(status)` with the current status, then on every change; returns the unsubscribe
 * function. A status the worker pushes while the first is being asked for is newer, and wins.
 * A first ask that fails (no worker yet, one that could not start) is made again, 1 s later and
 * then twice as long each time up to 30 s, with a warning the first time.
 * `source` is this module, or anything with the same `onStatus` and `status` (bindings take one).
 */
export function followStatus(cb, source = { onStatus, status }) {
  let alive = true;
  let pushed = false;
  let timer = null;
  const off = source.onStatus((current) => {
    pushed = true;
    if (alive) cb(current);
  });
  const ask = (wait) => Promise.resolve()
    .then(() => source.status())
    .then((first) => alive && !pushed && cb(first), (error) => {
      if (!alive || pushed) return;
      if (wait === 1000) console.warn('offline-sync: the status could not be read; asking again', error);
      timer = setTimeout(() => ask(Math.min(wait * 2, 30_000)), wait);
    });
  ask(1000);
  return () => {
    alive = false;
    clearTimeout(timer);
    off();
  };
}

/** Calls `cb(message)` for every message from the worker (queued, replayed, expired, failed, status). */
export function onEvent(cb) {
  listen();
  eventListeners.add(cb);
  return () => eventListeners.delete(cb);
}

export async function status() {
  return toStatus(await ask({ type: PREFIX + 'get-status' }, 10_000));
}

/** Replays the queue now; resolves with the status once that replay has ended. */
export async function replay() {
  return toStatus(await ask({ type: PREFIX + 'replay' }, 120_000, { whileReplaying: true }));
}

/** The queued entries, oldest first. */
export async function pending() {
  return (await ask({ type: PREFIX + 'get-pending' }, 10_000)).entries;
}

/** Entries the worker gave up on (refused by the server, or too many retries), oldest first. */
export async function deadLetters() {
  return (await ask({ type: PREFIX + 'get-dead-letters' }, 10_000)).entries;
}

/** Puts a dead letter back in the queue, in its original place, and replays. */
export async function retryDeadLetter(id) {
  return toStatus(await ask({ type: PREFIX + 'retry-dead-letter', id }, 120_000, { whileReplaying: true }));
}

/** Deletes a dead letter for good. */
export async function discardDeadLetter(id) {
  return toStatus(await ask({ type: PREFIX + 'discard-dead-letter', id }, 10_000));
}

/**
 * Headers (e.g. a fresh `Authorization`) added to every later replay, and a replay right away.
 * The worker keeps them in memory only: after it restarts, a refused replay asks again.
 */
export async function setReplayHeaders(headers) {
  return toStatus(await ask({ type: PREFIX + 'set-replay-headers', headers }, 120_000, { whileReplaying: true }));
}
