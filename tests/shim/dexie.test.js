// The Dexie adapter (shim/dexie.js) against the fake server and worker of support/world.js.
import { describe, test, expect, beforeEach, afterEach, vi } from 'vitest';
import Dexie from 'dexie';
import { createSync, syncStores, META_TABLE } from '../../shim/dexie.js';
import { server, worker, resetWorld } from './support/world.js';

let db;
let sync;
let errors;
let count = 0;

/** A fresh database and a started adapter; `errors` collects what the adapter reports. */
async function setup(options = {}) {
  db = new Dexie(`dexie-test-${++count}`);
  db.version(1).stores(syncStores({ tasks: 'id, projectId', projects: 'id' }));
  errors = [];
  sync = createSync(db, {
    collections: { tasks: 'tasks', projects: 'projects' },
    fetch: worker.fetch,
    onError: (error) => errors.push(error),
    ...options,
  });
  await sync.start();
  return sync;
}

beforeEach(() => resetWorld());
afterEach(async () => {
  sync?.stop();
  await sync?.idle();
  db?.close();
  await Dexie.delete(db.name);
  sync = null;
  expect(errors.map(String)).toEqual([]);
});

const mutations = () => server.log.filter((r) => r.method !== 'GET');
const offline = () => { worker.online = false; };
const online = () => { worker.online = true; };

/** A task created and acknowledged while online. */
async function syncedTask(fields = { title: 'A', priority: 'low' }) {
  const row = await sync.create('tasks', fields);
  await sync.idle();
  expect((await db.tasks.get(row.id))._synced).toBe(true);
  return row.id;
}

describe('writes', () => {
  test('a create lands in Dexie first, then is POSTed and acknowledged', async () => {
    const seenAtSend = [];
    await setup({
      fetch: async (url, init) => {
        if (init?.method) seenAtSend.push(await db.tasks.toArray());
        return worker.fetch(url, init);
      },
    });
    const row = await sync.create('tasks', { title: 'Buy milk', tags: ['home'] });
    expect(row.id).toMatch(/^[0-9a-f-]{36}$/);
    const local = await db.tasks.get(row.id);
    expect(local).toMatchObject({ title: 'Buy milk', _synced: false, _deleted: false, _version: null });
    expect(local._localUpdatedAt).toBeTypeOf('number');

    await sync.idle();
    expect(seenAtSend[0].map((r) => r.title)).toEqual(['Buy milk']);
    expect(mutations()).toHaveLength(1);
    const [post] = mutations();
    expect(post).toMatchObject({ method: 'POST', path: '/api/tasks' });
    expect(post.body).toEqual({ id: row.id, title: 'Buy milk', tags: ['home'] });
    expect(post.headers['if-match']).toBeUndefined();
    const synced = await db.tasks.get(row.id);
    expect(synced).toMatchObject({ _synced: true, _version: 1, _inflight: null, title: 'Buy milk' });
    expect(synced._syncedAt).toBeTypeOf('number');
    expect(synced.createdAt).toBe(server.get('tasks', row.id).createdAt);
  });

  test('an update PATCHes only the changed fields, with If-Match of the version last seen', async () => {
    await setup();
    const id = await syncedTask();
    await sync.update('tasks', id, { title: 'B' });
    expect(await db.tasks.get(id)).toMatchObject({ title: 'B', _synced: false });
    await sync.idle();
    const patch = mutations().at(-1);
    expect(patch).toMatchObject({ method: 'PATCH', path: `/api/tasks/${id}`, body: { title: 'B' } });
    expect(patch.headers['if-match']).toBe('"1"');
    expect(await db.tasks.get(id)).toMatchObject({ title: 'B', priority: 'low', _synced: true, _version: 2 });
  });

  test('offline: the worker answers 202, the row waits, and the replay marks it synced', async () => {
    await setup();
    offline();
    const row = await sync.create('tasks', { title: 'Water the plants' });
    await sync.idle();
    expect(worker.queue).toHaveLength(1);
    const waiting = await db.tasks.get(row.id);
    expect(waiting).toMatchObject({ _synced: false, _version: null });
    expect(waiting._inflight).toMatchObject({ method: 'POST', queueId: 1 });
    expect(server.list('tasks')).toEqual([]);

    online();
    await worker.replay();
    await sync.idle();
    expect(worker.sent.some((m) => m.type === 'offline-sync:replayed')).toBe(true);
    expect(await db.tasks.get(row.id)).toMatchObject({ _synced: true, _version: 1, _inflight: null });
    expect(server.list('tasks').map((t) => t.title)).toEqual(['Water the plants']);
  });

  test('a replay that arrives before the 202 is read is matched by method and URL', async () => {
    let early = null;
    await setup({
      fetch: async (url, init) => {
        if (init?.method !== 'POST') return worker.fetch(url, init);
        offline();
        const answer = await worker.fetch(url, init); // queued: 202
        online();
        await worker.replay(); // delivered, and `replayed` sent, before the page reads the 202
        await vi.waitFor(async () => expect((await db.tasks.toArray())[0]._synced).toBe(true));
        early = await db.tasks.toArray();
        return answer;
      },
    });
    const row = await sync.create('tasks', { title: 'Early' });
    await sync.idle();
    expect(early[0]).toMatchObject({ id: row.id, _synced: true, _version: 1 });
    expect(await db.tasks.get(row.id)).toMatchObject({ _synced: true, _version: 1, _inflight: null });
    expect(mutations()).toHaveLength(1);
  });

  test('changes made while a request is out go in one PATCH on the version it produced', async () => {
    await setup();
    offline();
    const row = await sync.create('tasks', { title: 'Draft', priority: 'low' });
    await sync.update('tasks', row.id, { title: 'Final' });
    await sync.update('tasks', row.id, { priority: 'high' });
    await sync.idle();
    expect(worker.queue.map((e) => e.method)).toEqual(['POST']);

    online();
    await worker.replay();
    await sync.idle();
    expect(mutations().map((m) => m.method)).toEqual(['POST', 'PATCH']);
    const patch = mutations()[1];
    expect(patch.headers['if-match']).toBe('"1"');
    expect(patch.body).toEqual({ title: 'Final', priority: 'high' });
    expect(server.get('tasks', row.id)).toMatchObject({ title: 'Final', priority: 'high', version: 2 });
    expect(await db.tasks.get(row.id)).toMatchObject({ title: 'Final', priority: 'high', _synced: true, _version: 2 });
  });

  test('a delete is soft until the server acknowledges it, then the row is gone', async () => {
    await setup();
    const id = await syncedTask();
    offline();
    await sync.remove('tasks', id);
    await sync.idle();
    expect(await db.tasks.get(id)).toMatchObject({ _deleted: true, _synced: false });
    expect(worker.queue).toHaveLength(1);
    expect(worker.queue[0]).toMatchObject({ method: 'DELETE' });
    expect(worker.queue[0].headers['if-match']).toBe('"1"');

    online();
    await worker.replay();
    await sync.idle();
    expect(await db.tasks.get(id)).toBeUndefined();
    expect(server.get('tasks', id)).toMatchObject({ deleted: true, version: 2 });
  });

  test('online, the row goes as soon as the DELETE is acknowledged', async () => {
    await setup();
    const id = await syncedTask();
    server.log = [];
    await sync.remove('tasks', id);
    await sync.idle();
    expect(server.log.map((r) => r.method)).toEqual(['DELETE']);
    expect(server.log[0].headers['if-match']).toBe('"1"');
    expect(await db.tasks.get(id)).toBeUndefined();
  });

  test('deleting a record whose create is still queued sends the DELETE after the create', async () => {
    await setup();
    offline();
    const row = await sync.create('tasks', { title: 'Oops' });
    await sync.remove('tasks', row.id);
    await sync.idle();
    expect(await db.tasks.get(row.id)).toMatchObject({ _deleted: true });
    online();
    await worker.replay();
    await sync.idle();
    expect(mutations().map((m) => m.method)).toEqual(['POST', 'DELETE']);
    expect(await db.tasks.get(row.id)).toBeUndefined();
    expect(server.list('tasks')).toEqual([]);
  });

  test('with no worker and no network a write stays pending and goes on `online`', async () => {
    await setup({ fetch: async () => { throw new TypeError('Failed to fetch'); } });
    errors.length = 0; // the start's pull failed: that is the point here
    const kept = await sync.create('tasks', { title: 'Kept' });
    const dropped = await sync.create('tasks', { title: 'Dropped' });
    await sync.idle();
    expect(errors).toEqual([]);
    expect(await db.tasks.get(kept.id)).toMatchObject({ _synced: false, _inflight: null });
    // never reached the server: a delete needs no request
    await sync.remove('tasks', dropped.id);
    expect(await db.tasks.get(dropped.id)).toBeUndefined();

    sync.stop();
    setupAgain();
    await sync.start();
    await sync.idle();
    expect(server.list('tasks').map((t) => t.title)).toEqual(['Kept']);
    expect(await db.tasks.get(kept.id)).toMatchObject({ _synced: true, _version: 1 });
  });
});

/** The same database, with a new adapter (not started) that reaches the fake worker. */
function setupAgain(options = {}) {
  sync = createSync(db, {
    collections: { tasks: 'tasks', projects: 'projects' },
    fetch: worker.fetch,
    onError: (error) => errors.push(error),
    ...options,
  });
}

describe('pull', () => {
  test('applies changes and tombstones in one transaction and advances the cursor', async () => {
    await setup({ pageSize: 2 });
    const gone = await syncedTask({ title: 'Gone soon' });
    const kept = await syncedTask({ title: 'Edited elsewhere' });
    await sync.pull();
    for (const title of ['One', 'Two', 'Three']) server.insert('tasks', { id: crypto.randomUUID(), title });
    server.write('tasks', gone, null);
    server.write('tasks', kept, { title: 'Edited on the other device' });

    const spy = vi.spyOn(db, 'transaction');
    server.log = [];
    await sync.pull('tasks');
    const writes = spy.mock.calls.filter(([mode]) => mode === 'rw');
    expect(writes).toHaveLength(1);
    spy.mockRestore();
    expect(server.log.map((r) => r.query.since)).toEqual(['2', '4', '6']); // three pages of two
    expect(await db.tasks.get(gone)).toBeUndefined();
    const titles = (await db.tasks.toArray()).map((t) => t.title).sort();
    expect(titles).toEqual(['Edited on the other device', 'One', 'Three', 'Two']);
    expect((await db.tasks.toArray()).every((t) => t._synced === true)).toBe(true);
    const cursor = await db.table(META_TABLE).get('cursor:tasks');
    expect(cursor.value).toBe(String(server.seq));

    server.log = [];
    await sync.pull('tasks');
    expect(server.log).toHaveLength(1);
    expect(server.log[0].query.since).toBe(String(server.seq));
  });

  test('a pull that cannot be applied whole applies nothing, cursor included', async () => {
    await setup();
    server.insert('tasks', { id: 'fine', title: 'Fine' });
    server.insert('tasks', { id: 'also-fine', title: 'Also fine' });
    // A change whose id IndexedDB cannot take as a key: the transaction fails at that row.
    const bad = server.insert('tasks', { id: 'x', title: 'Bad' });
    server.collections.tasks.delete('x');
    server.collections.tasks.set('bad', { ...bad, id: { not: 'a key' } });

    await expect(sync.pull('tasks')).rejects.toThrow();
    expect(await db.tasks.count()).toBe(0);
    expect((await db.table(META_TABLE).get('cursor:tasks')).value).toBe('0'); // from the start's pull
  });

  test("a pull that meets the result of a row's own queued request leaves the row to its answer", async () => {
    await setup();
    offline();
    const row = await sync.create('tasks', { title: 'Call the bank' });
    await sync.update('tasks', row.id, { title: 'Call the bank about the loan' }); // waits for the create
    await sync.idle();
    online();
    worker.hold(); // the create is delivered, but its `replayed` event is late
    await worker.replay();
    expect(server.get('tasks', row.id)).toMatchObject({ title: 'Call the bank', version: 1 });
    await sync.pull('tasks');
    expect(await db.tasks.get(row.id)).toMatchObject({ title: 'Call the bank about the loan', _synced: false });

    worker.deliver();
    await sync.idle();
    expect(server.get('tasks', row.id)).toMatchObject({ title: 'Call the bank about the loan', version: 2 });
    expect(await db.tasks.get(row.id)).toMatchObject({ title: 'Call the bank about the loan', _synced: true, _version: 2 });
  });

  test('pulls every collection when none is named', async () => {
    await setup();
    server.insert('tasks', { id: 't1', title: 'Task' });
    server.insert('projects', { id: 'p1', name: 'Home', color: '#f00' });
    await sync.pull();
    expect(await db.tasks.get('t1')).toMatchObject({ title: 'Task', _synced: true, _version: 1 });
    expect(await db.projects.get('p1')).toMatchObject({ name: 'Home', _synced: true });
  });
});

/**
 * A task synced at version 1, edited here offline, and edited on another device meanwhile.
 * `queued`: the edit waits in the worker (its PATCH will meet a 409); otherwise the page had no
 * worker and no network, so the edit waits in Dexie only, for a pull to settle. `serverShift`
 * moves the other device's clock.
 */
async function divergedTask({ serverShift = -60_000, remoteWrites = 1, queued = true } = {}) {
  const id = await syncedTask({ title: 'A', priority: 'low', tags: ['x'] });
  if (queued) offline();
  else worker.down = true;
  await sync.update('tasks', id, { title: 'Local', tags: ['x', 'local'] });
  await sync.idle();
  expect(worker.queue).toHaveLength(queued ? 1 : 0);
  expect(await db.tasks.get(id)).toMatchObject({ _synced: false, _inflight: queued ? expect.anything() : null });
  server.now = () => Date.now() + serverShift;
  for (let i = 1; i <= remoteWrites; i++) server.write('tasks', id, { title: i === remoteWrites ? 'Remote' : `Remote ${i}`, priority: 'high' });
  worker.down = false;
  online();
  return id;
}

/** Pull (and replay whatever the worker holds); answers the final server record. */
async function pullThenReplay(id) {
  await sync.pull('tasks');
  await sync.idle();
  await worker.replay();
  await sync.idle();
  expect(worker.dead).toEqual([]);
  expect(worker.queue).toEqual([]);
  const local = await db.tasks.get(id);
  const remote = server.get('tasks', id);
  expect(local._synced).toBe(true);
  expect(local._version).toBe(remote.version);
  expect({ title: local.title, priority: local.priority, tags: local.tags }).toEqual({
    title: remote.title, priority: remote.priority, tags: remote.tags,
  });
  return remote;
}

describe('conflicts found by a pull', () => {
  test('last write wins: the later local edit wins a tie of versions, and is sent again', async () => {
    await setup();
    const id = await divergedTask({ serverShift: -60_000, queued: false });
    const remote = await pullThenReplay(id);
    expect(remote).toMatchObject({ title: 'Local', tags: ['x', 'local'], priority: 'high', version: 3 });
    const resend = mutations().filter((m) => m.method === 'PATCH' && m.headers['if-match'] === '"2"');
    expect(resend).toHaveLength(1);
    expect(resend[0].body).toEqual({ title: 'Local', tags: ['x', 'local'] });
  });

  test('last write wins: the later server edit wins a tie of versions', async () => {
    await setup();
    const id = await divergedTask({ serverShift: +60_000, queued: false });
    const remote = await pullThenReplay(id);
    expect(remote).toMatchObject({ title: 'Remote', tags: ['x'], priority: 'high', version: 2 });
  });

  test('last write wins: a higher server version wins whatever the clocks say', async () => {
    await setup();
    const id = await divergedTask({ serverShift: -60_000, remoteWrites: 2, queued: false });
    const remote = await pullThenReplay(id);
    expect(remote).toMatchObject({ title: 'Remote', version: 3 });
  });

  test('server-wins takes the server copy even when the local edit is later', async () => {
    await setup({ conflict: 'server-wins' });
    const id = await divergedTask({ serverShift: -60_000, queued: false });
    const remote = await pullThenReplay(id);
    expect(remote).toMatchObject({ title: 'Remote', tags: ['x'], version: 2 });
  });

  test('client-wins keeps the local copy even when the server edit is later', async () => {
    await setup({ conflict: 'client-wins' });
    const id = await divergedTask({ serverShift: +60_000, remoteWrites: 2, queued: false });
    const remote = await pullThenReplay(id);
    // the fields changed here win; the one changed only there (priority) keeps its value
    expect(remote).toMatchObject({ title: 'Local', tags: ['x', 'local'], priority: 'high', version: 4 });
  });

  test("the app's merge function decides field by field", async () => {
    const merge = vi.fn((local, server) => ({
      ...server,
      title: `${server.title} / ${local.title}`,
      tags: [...new Set([...server.tags, ...local.tags])],
    }));
    await setup({ conflict: merge });
    const id = await divergedTask({ queued: false });
    const remote = await pullThenReplay(id);
    expect(merge).toHaveBeenCalledTimes(1);
    expect(merge.mock.calls[0][0]).toMatchObject({ title: 'Local', _version: 1, _synced: false });
    expect(merge.mock.calls[0][1]).toMatchObject({ title: 'Remote', version: 2 });
    expect(remote).toMatchObject({ title: 'Remote / Local', tags: ['x', 'local'], priority: 'high', version: 3 });
  });

  test('a merge function that returns the server record makes the server win', async () => {
    await setup({ conflict: (local, server) => server });
    const id = await divergedTask({ queued: false });
    const remote = await pullThenReplay(id);
    expect(remote).toMatchObject({ title: 'Remote', version: 2 });
  });
});

describe('409 conflicts', () => {
  test('online: the 409 is resolved at once (last write wins) and the winner sent with the new If-Match', async () => {
    await setup();
    const id = await syncedTask();
    server.now = () => Date.now() - 60_000;
    server.write('tasks', id, { title: 'Remote' });
    await sync.update('tasks', id, { title: 'Local' });
    await sync.idle();
    const answers = mutations().slice(1).map((m) => `${m.method} ${m.headers['if-match']}`);
    expect(answers).toEqual(['PATCH "1"', 'PATCH "2"']);
    expect(server.get('tasks', id)).toMatchObject({ title: 'Local', version: 3 });
    expect(await db.tasks.get(id)).toMatchObject({ title: 'Local', _synced: true, _version: 3 });
  });

  test('online, server-wins: the 409 brings the server copy in', async () => {
    await setup({ conflict: 'server-wins' });
    const id = await syncedTask();
    server.write('tasks', id, { title: 'Remote' });
    await sync.update('tasks', id, { title: 'Local' });
    await sync.idle();
    expect(mutations().map((m) => m.method)).toEqual(['POST', 'PATCH']);
    expect(await db.tasks.get(id)).toMatchObject({ title: 'Remote', _synced: true, _version: 2 });
  });

  test('a replay refused with 409 is settled from its dead letter, which is discarded', async () => {
    await setup();
    const id = await divergedTask({ serverShift: -60_000 });
    await worker.replay(); // no pull first: the stale PATCH meets the server's version 2
    await sync.idle();
    const discards = worker.received.filter((m) => m.type === 'offline-sync:discard-dead-letter');
    expect(discards).toEqual([{ type: 'offline-sync:discard-dead-letter', id: 1 }]);
    expect(worker.dead).toEqual([]);
    expect(server.get('tasks', id)).toMatchObject({ title: 'Local', priority: 'high', version: 3 });
    expect(await db.tasks.get(id)).toMatchObject({ title: 'Local', priority: 'high', _synced: true, _version: 3 });
  });

  test('a dead-lettered 409 with server-wins takes the server copy, and the dead letter goes', async () => {
    await setup({ conflict: 'server-wins' });
    const id = await divergedTask({ serverShift: -60_000 });
    await worker.replay();
    await sync.idle();
    expect(worker.dead).toEqual([]);
    expect(mutations().map((m) => m.method)).toEqual(['POST', 'PATCH']);
    expect(await db.tasks.get(id)).toMatchObject({ title: 'Remote', _synced: true, _version: 2 });
  });

  test('a deletion on the server beats a local edit (404 with the tombstone)', async () => {
    await setup({ conflict: 'client-wins' });
    const id = await syncedTask();
    offline();
    await sync.update('tasks', id, { title: 'Local' });
    server.write('tasks', id, null);
    online();
    await worker.replay();
    await sync.idle();
    expect(worker.dead).toEqual([]);
    expect(await db.tasks.get(id)).toBeUndefined();
  });

  test('409 dead letters left while no page was open are settled at start', async () => {
    await setup();
    const id = await divergedTask({ serverShift: -60_000 });
    sync.stop(); // the page is closed: nobody hears the dead-lettered event
    await worker.replay();
    expect(worker.dead).toHaveLength(1);

    setupAgain();
    await sync.start();
    await sync.idle();
    expect(worker.dead).toEqual([]);
    expect(server.get('tasks', id)).toMatchObject({ title: 'Local', version: 3 });
    expect(await db.tasks.get(id)).toMatchObject({ title: 'Local', _synced: true, _version: 3 });
  });

  test('a replay delivered while no page was open is settled at start by a pull', async () => {
    await setup();
    const id = await syncedTask();
    offline();
    await sync.update('tasks', id, { title: 'While away' });
    await sync.idle();
    sync.stop();
    online();
    await worker.replay();

    setupAgain();
    await sync.start();
    await sync.idle();
    expect(mutations().map((m) => m.method)).toEqual(['POST', 'PATCH']); // nothing sent twice
    expect(await db.tasks.get(id)).toMatchObject({ title: 'While away', _synced: true, _version: 2, _inflight: null });
  });
});

/** The server refuses every PATCH with 422 until the function it returns is called. */
function refusePatches() {
  const handle = server.handle.bind(server);
  server.handle = (method, url, headers, body) =>
    method === 'PATCH' ? { status: 422, json: { error: 'title is too long' } } : handle(method, url, headers, body);
  return () => { server.handle = handle; };
}

/** `n` synced tasks whose next change the server refuses as the worker replays it: dead letters. */
async function refusedTasks(n) {
  const ids = [];
  for (let i = 0; i < n; i++) ids.push(await syncedTask());
  offline();
  for (const id of ids) await sync.update('tasks', id, { title: 'Refused' });
  await sync.idle();
  online();
  const accept = refusePatches();
  await worker.replay();
  await sync.idle();
  accept();
  return ids;
}

describe('start and events', () => {
  test('the worker going from pending to 0 triggers a pull of every collection', async () => {
    await setup();
    offline();
    // a request of the app's own, outside the adapter: its replay says nothing about tasks
    await worker.fetch('/api/projects', { method: 'POST', body: JSON.stringify({ id: 'p1', name: 'Home' }) });
    server.insert('tasks', { id: 'theirs', title: 'Theirs' });
    online();
    await worker.replay();
    await sync.idle();
    expect(await db.tasks.get('theirs')).toMatchObject({ title: 'Theirs', _synced: true });
  });

  test('a refusal other than a conflict keeps the change, marked, without resending it', async () => {
    await setup();
    const id = await syncedTask();
    offline();
    await sync.update('tasks', id, { title: 'Refused' });
    await sync.idle();
    online();
    const accept = refusePatches();
    await sync.start();
    await worker.replay();
    await sync.idle();
    expect(worker.dead).toHaveLength(1); // for the person to retry or discard
    const row = await db.tasks.get(id);
    expect(row).toMatchObject({ title: 'Refused', _synced: false, _inflight: null });
    expect(row._error).toMatchObject({ status: 422 });
    await sync.flush();
    await sync.idle();
    expect(mutations().filter((m) => m.method === 'PATCH')).toHaveLength(0);

    accept();
    await sync.update('tasks', id, { title: 'Shorter' });
    await sync.idle();
    expect(await db.tasks.get(id)).toMatchObject({ title: 'Shorter', _synced: true, _error: null });
    expect(worker.dead).toEqual([]); // superseded by the change sent again: not left to replay its old body
  });

  test('retrying or deleting a refused record discards its dead letter; one already discarded is no error', async () => {
    await setup();
    const ids = await refusedTasks(2);
    expect(worker.dead).toHaveLength(2);
    const [first, second] = await Promise.all(ids.map((id) => db.tasks.get(id)));
    await sync.retry('tasks', first.id);
    await sync.idle();
    expect(await db.tasks.get(first.id)).toMatchObject({ title: 'Refused', _synced: true, _error: null });
    expect(worker.dead.map((d) => d.id)).toEqual([second._error.deadLetter]);
    await sync.remove('tasks', second.id);
    await sync.idle();
    expect(mutations().filter((m) => m.method === 'DELETE')).toHaveLength(1);
    expect(worker.dead).toEqual([]);
  });

  test('a refused record changed again after its dead letter was discarded elsewhere reports no error', async () => {
    await setup();
    const [id] = await refusedTasks(1);
    expect((await db.tasks.get(id))._error.deadLetter).not.toBeUndefined();
    worker.dead = []; // the person discarded it in a dead-letter screen meanwhile
    await sync.update('tasks', id, { title: 'Fine' });
    await sync.idle();
    expect(await db.tasks.get(id)).toMatchObject({ title: 'Fine', _synced: true, _error: null });
  });

  test('a write sent while start reconciles is not taken for one the worker dropped, and goes once', async () => {
    let open;
    const gate = new Promise((resolve) => { open = resolve; });
    let reached = null;
    const atGate = new Promise((resolve) => { reached = resolve; });
    // Only the first POST is held: a second one, if any, goes through.
    await setup({
      fetch: async (url, init) => {
        if (init?.method === 'POST' && reached) {
          reached();
          reached = null;
          await gate;
        }
        return worker.fetch(url, init);
      },
    });
    sync.stop();
    const receive = worker.receive.bind(worker);
    let answer;
    const asked = new Promise((resolve) => { answer = resolve; });
    // The worker's list of what it holds comes once the page's POST is out, and so is in neither list.
    worker.receive = async (message, port) => {
      if (message.type === 'offline-sync:get-pending') await asked;
      return receive(message, port);
    };
    try {
      const started = sync.start();
      await sync.create('tasks', { title: 'During start' });
      await atGate;
      answer();
      await started;
      open();
      await sync.idle();
    } finally {
      worker.receive = receive;
    }
    expect(mutations().filter((m) => m.method === 'POST')).toHaveLength(1);
  });

  test('a request the worker queued in this session and replayed while the adapter was stopped is settled by the next start', async () => {
    await setup();
    offline();
    const row = await sync.create('tasks', { title: 'Queued' });
    await sync.idle();
    expect((await db.tasks.get(row.id))._inflight.queueId).not.toBeNull();
    sync.stop();
    online();
    await worker.replay();
    await sync.start();
    await sync.idle();
    expect(await db.tasks.get(row.id)).toMatchObject({ title: 'Queued', _inflight: null, _synced: true });
  });

  test('a request whose queue record ended as an unreadable dead letter is sent again at start', async () => {
    await setup();
    offline();
    const row = await sync.create('tasks', { title: 'Lost record' });
    await sync.idle();
    const { queueId } = (await db.tasks.get(row.id))._inflight;
    sync.stop();
    worker.queue = worker.queue.filter((e) => e.id !== queueId);
    const unreadable = { id: queueId, method: null, url: null, status: null, reason: 'this dead letter could not be read (expected value); discard it', answer: null, queuedAt: null, deadAt: null, attempts: 0 };
    worker.dead.push(unreadable);
    online();
    await sync.start();
    await sync.idle();
    expect(mutations().map((m) => [m.method, m.path])).toEqual([['POST', '/api/tasks']]);
    expect(await db.tasks.get(row.id)).toMatchObject({ title: 'Lost record', _inflight: null, _synced: true });
    expect(worker.dead).toEqual([unreadable]); // for the person to discard
  });

  test('with no worker at all, a request an earlier session left out goes again; with one that does not control the page, it waits', async () => {
    await setup();
    sync.stop();
    const left = { id: 'left', title: 'Left out', _synced: false, _dirty: [], _rev: 1 };
    left._inflight = { token: 'earlier:1', rev: 1, method: 'POST', url: '/api/tasks', fields: ['*'], queueId: null, sentAt: 0 };
    await db.tasks.put(left);
    const real = Object.getOwnPropertyDescriptor(navigator, 'serviceWorker');
    const uncontrolled = (registration) => Object.defineProperty(navigator, 'serviceWorker', {
      value: { ...real.value, controller: null, getRegistration: async () => registration }, configurable: true,
    });
    try {
      uncontrolled({ active: {} }); // a hard reload: the worker may still hold it
      await sync.start();
      await sync.idle();
      expect((await db.tasks.get('left'))._inflight).toMatchObject({ token: 'earlier:1' });
      sync.stop();
      uncontrolled(undefined);
      await sync.start();
      await sync.idle();
    } finally {
      Object.defineProperty(navigator, 'serviceWorker', real);
    }
    expect(mutations().map((m) => [m.method, m.path])).toEqual([['POST', '/api/tasks']]);
    expect(await db.tasks.get('left')).toMatchObject({ _synced: true, _inflight: null });
  });

  test('createSync refuses a database without the meta table, or an unknown strategy', async () => {
    const bare = new Dexie('bare');
    bare.version(1).stores({ tasks: 'id' });
    expect(() => createSync(bare, { collections: { tasks: 'tasks' } })).toThrow(/_syncMeta/);
    await setup();
    expect(() => createSync(db, { collections: { tasks: 'tasks' }, conflict: 'newest' })).toThrow(/conflict/);
    expect(() => createSync(db, { collections: { nope: 'nope' } })).toThrow(/nope/);
  });
});

describe('old data', () => {
  test('synced records older than the ttl go; unsynced, refused or recent ones stay', async () => {
    await setup({ ttl: { tasks: 60_000 } });
    const oldId = await syncedTask({ title: 'old and synced' });
    const recentId = await syncedTask({ title: 'recent' });
    offline();
    const pending = await sync.create('tasks', { title: 'old but never sent' });
    await sync.idle();
    // Pretend the first and the unsent one are two minutes old.
    const past = Date.now() - 120_000;
    await db.tasks.update(oldId, { _syncedAt: past, _localUpdatedAt: past });
    await db.tasks.update(pending.id, { _localUpdatedAt: past, _syncedAt: null });
    expect(await sync.cleanUp()).toBe(1);
    expect(await db.tasks.get(oldId)).toBeUndefined();
    expect(await db.tasks.get(recentId)).toBeDefined();
    expect(await db.tasks.get(pending.id)).toBeDefined();
    expect(await sync.cleanUp(Date.now() + 10 * 60_000)).toBe(1); // the recent one, once it is old
    expect(await db.tasks.get(pending.id)).toBeDefined(); // never, while unsent
    online();
  });

  test('the ttl is checked when the adapter is made', async () => {
    db = new Dexie(`dexie-test-${++count}`);
    db.version(1).stores(syncStores({ tasks: 'id' }));
    expect(() => createSync(db, { collections: { tasks: 'tasks' }, ttl: { tasks: -1 } })).toThrow(/ttl.tasks/);
    expect(() => createSync(db, { collections: { tasks: 'tasks' }, ttl: { notes: 1000 } })).toThrow(/ttl.notes/);
  });
});
