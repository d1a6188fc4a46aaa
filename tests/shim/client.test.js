// followStatus (shim/client.js), which both bindings use to keep their status current.
import { test, expect } from 'vitest';
import { followStatus } from '../../shim/client.js';

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
