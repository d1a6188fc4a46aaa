// The React bindings (shim/react.js): they re-render on the worker's status, on the network,
// and on Dexie changes, and leave soft-deleted records out.
import { test, expect, beforeEach, afterEach } from 'vitest';
import { createElement as h, useState } from 'react';
import { render, screen, act, cleanup, fireEvent, waitFor } from '@testing-library/react';
import Dexie from 'dexie';
import { createSync, syncStores } from '../../shim/dexie.js';
import { useSyncStatus, useNetworkStatus, useRecords, useRecord } from '../../shim/react.js';
import { worker, resetWorld } from './support/world.js';

globalThis.IS_REACT_ACT_ENVIRONMENT = true;

let db;
let sync;
let count = 0;

beforeEach(async () => {
  resetWorld();
  db = new Dexie(`react-test-${++count}`);
  db.version(1).stores(syncStores({ tasks: 'id, projectId', projects: 'id' }));
  sync = createSync(db, { collections: { tasks: 'tasks', projects: 'projects' }, fetch: worker.fetch });
  await sync.start();
});

afterEach(async () => {
  cleanup();
  sync.stop();
  await sync.idle();
  db.close();
  await Dexie.delete(db.name);
});

const text = (testId) => screen.getByTestId(testId).textContent;
/** Waits for the text of `testId` to become `expected` (Dexie and the worker answer async). */
async function expectText(testId, expected) {
  await waitFor(() => expect(screen.queryByTestId(testId)?.textContent).toBe(expected), { timeout: 3000 });
}

function Status() {
  const { pending, syncing, lastSync, deadLetters, sync: syncNow } = useSyncStatus({ sync });
  return h('div', null,
    h('span', { 'data-testid': 'status' }, `${pending} pending, ${syncing ? 'syncing' : 'idle'}, ${deadLetters} dead, last ${lastSync ?? 'never'}`),
    h('button', { 'data-testid': 'sync', onClick: () => syncNow() }, 'Sync now'));
}

test('useSyncStatus shows the status the worker sends, and sync() replays', async () => {
  render(h(Status));
  await expectText('status', '0 pending, idle, 0 dead, last never');

  act(() => worker.emit({ ...worker.status(), pending: 3 }));
  expect(text('status')).toBe('3 pending, idle, 0 dead, last never');
  act(() => worker.emit({ ...worker.status(), pending: 2, syncing: true, deadLetters: 1 }));
  expect(text('status')).toBe('2 pending, syncing, 1 dead, last never');

  await act(async () => fireEvent.click(screen.getByTestId('sync')));
  await expectText('status', `0 pending, idle, 0 dead, last ${worker.lastSyncAt}`);
  expect(worker.received.map((m) => m.type)).toContain('offline-sync:replay');
});

function Network() {
  return h('span', { 'data-testid': 'net' }, useNetworkStatus() ? 'online' : 'offline');
}

test('useNetworkStatus follows the online and offline events', async () => {
  render(h(Network));
  expect(text('net')).toBe('online');
  act(() => worker.setOnline(false));
  expect(text('net')).toBe('offline');
  act(() => worker.setOnline(true));
  expect(text('net')).toBe('online');
});

function TaskList({ projectId }) {
  const tasks = useRecords(
    db.tasks,
    projectId ? (t) => t.where('projectId').equals(projectId) : undefined,
    [projectId],
  );
  if (tasks === undefined) return h('p', { 'data-testid': 'list' }, 'loading');
  return h('p', { 'data-testid': 'list' }, tasks.map((t) => t.title).sort().join(', '));
}

test('useRecords re-renders on create, update and delete, and leaves soft-deleted rows out', async () => {
  render(h(TaskList));
  await expectText('list', '');
  let milk;
  await act(async () => { milk = await sync.create('tasks', { title: 'Milk' }); await sync.idle(); });
  await expectText('list', 'Milk');
  await act(async () => { await sync.create('tasks', { title: 'Bread' }); await sync.idle(); });
  await expectText('list', 'Bread, Milk');
  await act(async () => { await sync.update('tasks', milk.id, { title: 'Oat milk' }); await sync.idle(); });
  await expectText('list', 'Bread, Oat milk');

  worker.online = false; // the delete stays soft: the row is still in Dexie, marked
  await act(async () => { await sync.remove('tasks', milk.id); await sync.idle(); });
  await expectText('list', 'Bread');
  expect(await db.tasks.get(milk.id)).toMatchObject({ _deleted: true });
});

test('useRecords runs its query again when its deps change', async () => {
  await sync.create('tasks', { title: 'Home task', projectId: 'home' });
  await sync.create('tasks', { title: 'Work task', projectId: 'work' });
  function Switcher() {
    const [project, setProject] = useState('home');
    return h('div', null,
      h('button', { 'data-testid': 'switch', onClick: () => setProject('work') }, 'switch'),
      h(TaskList, { projectId: project }));
  }
  render(h(Switcher));
  await expectText('list', 'Home task');
  await act(async () => fireEvent.click(screen.getByTestId('switch')));
  await expectText('list', 'Work task');
});

function OneTask({ id }) {
  const task = useRecord(db.tasks, id);
  return h('span', { 'data-testid': 'task' }, task === undefined ? 'loading' : task === null ? 'none' : `${task.title} (${task._synced ? 'synced' : 'pending'})`);
}

test('useRecord follows one record through its sync, and answers null once it is deleted', async () => {
  worker.online = false;
  const row = await sync.create('tasks', { title: 'Call the bank' });
  render(h(OneTask, { id: row.id }));
  await expectText('task', 'Call the bank (pending)');
  worker.online = true;
  await act(async () => { await worker.replay(); await sync.idle(); });
  await expectText('task', 'Call the bank (synced)');
  await act(async () => { await sync.remove('tasks', row.id); });
  await expectText('task', 'none');
});
