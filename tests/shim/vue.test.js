// The Vue 3 bindings (shim/vue.js): refs that follow the worker's status, the network and
// Dexie changes, leaving soft-deleted records out.
import { test, expect, beforeEach, afterEach, vi } from 'vitest';
import { defineComponent, h, ref, nextTick, effectScope } from 'vue';
import { mount, flushPromises } from '@vue/test-utils';
import Dexie from 'dexie';
import { createSync, syncStores } from '../../shim/dexie.js';
import { useSyncStatus, useNetworkStatus, useRecords, useRecord, useLiveQuery } from '../../shim/vue.js';
import { worker, resetWorld } from './support/world.js';

let db;
let sync;
let count = 0;
const mounted = [];

beforeEach(async () => {
  resetWorld();
  db = new Dexie(`vue-test-${++count}`);
  db.version(1).stores(syncStores({ tasks: 'id, projectId', projects: 'id' }));
  sync = createSync(db, { collections: { tasks: 'tasks', projects: 'projects' }, fetch: worker.fetch });
  await sync.start();
});

afterEach(async () => {
  while (mounted.length) mounted.pop().unmount();
  sync.stop();
  await sync.idle();
  db.close();
  await Dexie.delete(db.name);
});

function mountIt(setup) {
  const wrapper = mount(defineComponent({ setup }));
  mounted.push(wrapper);
  return wrapper;
}

/** Waits for the wrapper's text to become `expected` (Dexie and the worker answer async). */
async function expectText(wrapper, expected) {
  await expect.poll(async () => {
    await flushPromises();
    return wrapper.text();
  }, { timeout: 3000 }).toBe(expected);
}

test('useSyncStatus refs follow the status the worker sends, and sync() replays', async () => {
  let status;
  const wrapper = mountIt(() => {
    status = useSyncStatus({ sync });
    return () => h('span', `${status.pending.value} pending, ${status.syncing.value ? 'syncing' : 'idle'}, ${status.deadLetters.value} dead, last ${status.lastSync.value ?? 'never'}`);
  });
  await expectText(wrapper, '0 pending, idle, 0 dead, last never');
  worker.emit({ ...worker.status(), pending: 3 });
  await nextTick();
  expect(wrapper.text()).toBe('3 pending, idle, 0 dead, last never');
  worker.emit({ ...worker.status(), pending: 2, syncing: true, deadLetters: 1 });
  await nextTick();
  expect(wrapper.text()).toBe('2 pending, syncing, 1 dead, last never');

  await status.sync();
  await expectText(wrapper, `0 pending, idle, 0 dead, last ${worker.lastSyncAt}`);
  expect(worker.received.map((m) => m.type)).toContain('offline-sync:replay');
});

test('useSyncStatus stops listening when its scope ends', async () => {
  const scope = effectScope();
  const status = scope.run(() => useSyncStatus());
  await flushPromises();
  worker.emit({ ...worker.status(), pending: 4 });
  expect(status.pending.value).toBe(4);
  scope.stop();
  worker.emit({ ...worker.status(), pending: 5 });
  expect(status.pending.value).toBe(4);
});

test('useNetworkStatus follows the online and offline events', async () => {
  const wrapper = mountIt(() => {
    const online = useNetworkStatus();
    return () => h('span', online.value ? 'online' : 'offline');
  });
  expect(wrapper.text()).toBe('online');
  worker.setOnline(false);
  await nextTick();
  expect(wrapper.text()).toBe('offline');
  worker.setOnline(true);
  await nextTick();
  expect(wrapper.text()).toBe('online');
});

test('useRecords re-renders on create, update and delete, and leaves soft-deleted rows out', async () => {
  const wrapper = mountIt(() => {
    const tasks = useRecords(db.tasks);
    return () => h('p', tasks.value === undefined ? 'loading' : tasks.value.map((t) => t.title).sort().join(', '));
  });
  await expectText(wrapper, '');
  const milk = await sync.create('tasks', { title: 'Milk' });
  await expectText(wrapper, 'Milk');
  await sync.create('tasks', { title: 'Bread' });
  await expectText(wrapper, 'Bread, Milk');
  await sync.update('tasks', milk.id, { title: 'Oat milk' });
  await expectText(wrapper, 'Bread, Oat milk');

  worker.online = false; // the delete stays soft: the row is still in Dexie, marked
  await sync.remove('tasks', milk.id);
  await expectText(wrapper, 'Bread');
  expect(await db.tasks.get(milk.id)).toMatchObject({ _deleted: true });
});

test('useRecords runs its query again when a dep changes', async () => {
  await sync.create('tasks', { title: 'Home task', projectId: 'home' });
  await sync.create('tasks', { title: 'Work task', projectId: 'work' });
  const project = ref('home');
  const wrapper = mountIt(() => {
    const tasks = useRecords(db.tasks, (t) => t.where('projectId').equals(project.value), [project]);
    return () => h('p', (tasks.value ?? []).map((t) => t.title).join(', '));
  });
  await expectText(wrapper, 'Home task');
  project.value = 'work';
  await expectText(wrapper, 'Work task');
});

test('useRecord follows one record through its sync, and is null once it is deleted', async () => {
  worker.online = false;
  const row = await sync.create('tasks', { title: 'Call the bank' });
  const id = ref(row.id);
  const wrapper = mountIt(() => {
    const task = useRecord(db.tasks, id);
    return () => h('span', task.value === undefined ? 'loading' : task.value === null ? 'none' : `${task.value.title} (${task.value._synced ? 'synced' : 'pending'})`);
  });
  await expectText(wrapper, 'Call the bank (pending)');
  worker.online = true;
  await worker.replay();
  await sync.idle();
  await expectText(wrapper, 'Call the bank (synced)');
  id.value = 'no-such-id';
  await expectText(wrapper, 'none');
  id.value = row.id;
  await expectText(wrapper, 'Call the bank (synced)');
  await sync.remove('tasks', row.id);
  await expectText(wrapper, 'none');
});

test('a live query that fails says why on the console', async () => {
  const logged = vi.spyOn(console, 'error').mockImplementation(() => {});
  try {
    const scope = effectScope();
    const result = scope.run(() => useLiveQuery(() => db.tasks.where('noSuchIndex').equals(1).toArray()));
    await expect.poll(() => logged.mock.calls.length).toBeGreaterThan(0);
    expect(logged.mock.calls[0][0]).toBe('offline-sync/vue: a live query failed');
    expect(String(logged.mock.calls[0][1])).toMatch(/noSuchIndex/);
    expect(result.value).toBeUndefined();
    scope.stop();
  } finally {
    logged.mockRestore();
  }
});
