// shim/client.js: followStatus, which both bindings use to keep their status current, and the
// deadlines of what a page asks the worker.
import { test, expect, vi } from 'vitest';
import { followStatus, onStatus, replay, status } from '../../shim/client.js';
import { worker } from './support/world.js';

/** A status source whose first answer is held until `answer()`; `push()` is a worker message. */
function source() {
  let listener = null;
  let answer;
  return {
    onStatus: (cb) => { listener = cb; return () => { listener = null; }; },
    status: () => new Promise((resolve) => { answer = resolve; }),
    push: (status) => listener?.(status),
    answer: (status) => answer(status),
    listening: () => listener !== null,
  };
}

const flush = () => new Promise((resolve) => setTimeout(resolve, 0));

test('the first status asked for is delivered, then every pushed one', async () => {
  const src = source();
  const seen = [];
  followStatus((s) => seen.push(s.pending), src);
  await flush();
  src.answer({ pending: 1 });
  await flush();
  src.push({ pending: 2 });
  expect(seen).toEqual([1, 2]);
});

test('a status pushed while the first is asked for is newer, and the late answer is dropped', async () => {
  const src = source();
  const seen = [];
  followStatus((s) => seen.push(s.pending), src);
  await flush();
  src.push({ pending: 5 });
  src.answer({ pending: 9 });
  await flush();
  expect(seen).toEqual([5]);
});

test('after unsubscribing nothing more arrives and the listener is gone', async () => {
  const src = source();
  const seen = [];
  const stop = followStatus((s) => seen.push(s.pending), src);
  await flush();
  stop();
  src.answer({ pending: 1 });
  await flush();
  expect(seen).toEqual([]);
  expect(src.listening()).toBe(false);
});

test('a first status that cannot be read is asked for again, with a warning once, until it comes', async () => {
  const warned = vi.spyOn(console, 'warn').mockImplementation(() => {});
  vi.useFakeTimers();
  try {
    let asks = 0;
    const src = { ...source(), status: async () => {
      asks += 1;
      if (asks < 4) throw new Error('offline-sync: could not start in this worker');
      return { pending: 3 };
    } };
    const seen = [];
    const stop = followStatus((s) => seen.push(s.pending), src);
    await vi.advanceTimersByTimeAsync(0);
    expect(asks).toBe(1);
    await vi.advanceTimersByTimeAsync(1000 + 2000 + 4000);
    expect([asks, seen, warned.mock.calls.length]).toEqual([4, [3], 1]);
    await vi.advanceTimersByTimeAsync(60_000);
    expect(asks).toBe(4);
    stop();
  } finally {
    vi.useRealTimers();
    warned.mockRestore();
  }
});

test('an ask fails at its deadline when no worker is active to answer, and is not sent once one is', async () => {
  const real = Object.getOwnPropertyDescriptor(navigator, 'serviceWorker');
  // `ready` settles only once a registration covers the page (never, if register() failed).
  let activate;
  const ready = new Promise((resolve) => { activate = resolve; });
  Object.defineProperty(navigator, 'serviceWorker', { value: { ...real.value, ready }, configurable: true });
  const posted = [];
  vi.useFakeTimers();
  try {
    const refused = expect(status()).rejects.toThrow('the worker was not found active to answer offline-sync:get-status within 10000 ms');
    await vi.advanceTimersByTimeAsync(10_000);
    await refused;
    activate({ active: { postMessage: (message) => posted.push(message) } });
    await vi.advanceTimersByTimeAsync(0);
    expect(posted).toEqual([]);
  } finally {
    vi.useRealTimers();
    Object.defineProperty(navigator, 'serviceWorker', real);
  }
});

test("the page's online is told to the worker active then, and to none that appears later", async () => {
  const real = Object.getOwnPropertyDescriptor(navigator, 'serviceWorker');
  const posted = [];
  let registration;
  let activate;
  const ready = new Promise((resolve) => { activate = resolve; });
  Object.defineProperty(navigator, 'serviceWorker', {
    value: { ...real.value, ready, getRegistration: async () => registration }, configurable: true,
  });
  const off = onStatus(() => {});
  try {
    window.dispatchEvent(new Event('online'));
    await flush();
    registration = { active: { postMessage: (message) => posted.push(message.type) } };
    activate(registration);
    await flush();
    expect(posted).toEqual([]);
    window.dispatchEvent(new Event('online'));
    await flush();
    expect(posted).toEqual(['offline-sync:online']);
  } finally {
    off();
    Object.defineProperty(navigator, 'serviceWorker', real);
  }
});

test('a replay is waited for while it settles entries, and given up once it stops', async () => {
  const receive = worker.receive;
  let port = null;
  worker.receive = async (message, p) => {
    port = p;
  };
  const replayed = { type: 'offline-sync:replayed', id: 1, method: 'PUT', url: '/api/x', status: 200, body: '', bodyTruncated: false };
  vi.useFakeTimers();
  try {
    const long = replay();
    for (let i = 0; i < 5; i++) {
      await vi.advanceTimersByTimeAsync(100_000);
      worker.emit(replayed);
    }
    port.postMessage(worker.status());
    await vi.advanceTimersByTimeAsync(0);
    await expect(long).resolves.toMatchObject({ pending: 0, syncing: false });

    // Statuses alone (another tab's writes, say) say nothing of this replay's progress.
    let outcome = null;
    replay().then(() => { outcome = 'answered'; }, (error) => { outcome = error.message; });
    await vi.advanceTimersByTimeAsync(100_000);
    worker.emit({ ...worker.status(), syncing: true });
    await vi.advanceTimersByTimeAsync(20_000);
    expect(outcome).toBe('offline-sync: the worker did not answer offline-sync:replay within 120000 ms');
  } finally {
    vi.useRealTimers();
    worker.receive = receive;
  }
});
