// offline-sync's Dexie adapter: local-first records in Dexie tables, kept in step with a REST
// collection API (POST/PATCH/DELETE with If-Match, and a pull of changes since a cursor) through
// the offline-sync worker.
//
//   import Dexie from 'dexie';
//   import { createSync, syncStores } from '/dexie.js';
//   const db = new Dexie('my-app');
//   db.version(1).stores(syncStores({ tasks: 'id, projectId', projects: 'id' }));
//   const sync = createSync(db, { collections: { tasks: 'tasks', projects: 'projects' } });
//   await sync.start();
//   const task = await sync.create('tasks', { title: 'Buy milk' });
//
// Every synced record carries, beside its own fields:
//   id               a UUID, made on the client
//   _synced          false while a local change waits for the server's acknowledgement
//   _syncedAt        when the server last acknowledged it (ms), or null
//   _localUpdatedAt  when it was last changed here (ms), or null for a record only ever pulled
//   _deleted         a soft delete, until the server acknowledges it; then the row is removed
//   _version         the server version last seen (the If-Match of the next write), or null
// and, for the adapter's own book-keeping: _rev (a local change counter), _dirty (fields changed
// since the last acknowledged state), _inflight (the one request sent for it and not yet
// answered) and _error (why the last request was refused, which stops automatic resends until
// the record is changed again or `retry` is called).
//
// At most one request per record is outstanding: changes made meanwhile stay in Dexie and go in
// one PATCH once the answer (direct, or the worker's `replayed` event) arrives. So every If-Match
// names a version the server really had, and a 409 always means another writer.
import Dexie from 'dexie';
import * as defaultClient from './client.js';

/** The table that keeps one pull cursor per collection. */
export const META_TABLE = '_syncMeta';

/** Fields the server owns: never sent, and `version`/`seq`/`deleted` are not kept as such. */
const SERVER_OWNED = ['createdAt', 'updatedAt', 'version', 'seq', 'deleted'];
const STRATEGIES = ['lww', 'server-wins', 'client-wins'];
/** The whole record is dirty (send every field). */
const ALL = '*';

/** `stores` for `db.version(n).stores(…)` with the adapter's meta table added. */
export function syncStores(stores, metaTable = META_TABLE) {
  return { ...stores, [metaTable]: 'key' };
}

/** A record's own fields: everything whose name does not start with `_`. */
export function publicFields(record) {
  const out = {};
  for (const [k, v] of Object.entries(record ?? {})) if (!k.startsWith('_')) out[k] = v;
  return out;
}

const same = (a, b) => JSON.stringify(a ?? null) === JSON.stringify(b ?? null);
const union = (a, b) => (a.includes(ALL) || b.includes(ALL) ? [ALL] : [...new Set([...a, ...b])]);

function parseJson(text) {
  try {
    return JSON.parse(text);
  } catch {
    return undefined;
  }
}

function timeout(promise, ms, what) {
  let timer;
  return Promise.race([
    promise,
    new Promise((_, reject) => {
      timer = setTimeout(() => reject(new Error(`${what} did not answer within ${ms} ms`)), ms);
    }),
  ]).finally(() => clearTimeout(timer));
}

/**
 * Keeps the Dexie tables named in `options.collections` in step with the server.
 * See shim/dexie.d.ts for the options and the returned API.
 */
export function createSync(db, options = {}) {
  const {
    collections,
    baseUrl = '/api',
    conflict = 'lww',
    client = defaultClient,
    metaTable = META_TABLE,
    pageSize = 500,
    serverFields = SERVER_OWNED,
    onError = (error) => console.error('offline-sync/dexie:', error),
    ttl = {},
  } = options;
  const fetchImpl = options.fetch ?? ((...args) => globalThis.fetch(...args));

  if (!collections || typeof collections !== 'object' || !Object.keys(collections).length) {
    throw new TypeError('createSync: `collections` must map table names to collection names');
  }
  for (const [table, ms] of Object.entries(ttl)) {
    if (!(table in collections) || !(Number.isFinite(ms) && ms > 0)) {
      throw new TypeError(`createSync: \`ttl.${table}\` must be a positive number of milliseconds for a synced table`);
    }
  }
  if (typeof conflict !== 'function' && !STRATEGIES.includes(conflict)) {
    throw new TypeError(`createSync: \`conflict\` must be a function or one of ${STRATEGIES.join(', ')}`);
  }
  const declared = new Set(db.tables.map((t) => t.name));
  for (const table of [...Object.keys(collections), metaTable]) {
    if (!declared.has(table)) {
      throw new TypeError(`createSync: the database has no table "${table}" (use syncStores() in db.version().stores())`);
    }
  }

  const here = () => globalThis.location?.href ?? 'http://localhost/';
  const pathOf = (url) => new URL(url, here()).pathname;
  const base = baseUrl.replace(/\/+$/, '');
  const basePath = pathOf(base + '/');
  const tableOf = new Map(Object.entries(collections).map(([table, collection]) => [collection, table]));
  const collectionUrl = (table) => `${base}/${collections[table]}`;
  const recordUrl = (table, id) => `${collectionUrl(table)}/${encodeURIComponent(id)}`;
  const session = Math.random().toString(36).slice(2);
  let tokens = 0;

  /** Which table and id a request URL names (id is null for a collection URL). */
  function route(url) {
    if (!url) return null;
    const path = pathOf(url);
    if (!path.startsWith(basePath)) return null;
    const [collection, id, ...rest] = path.slice(basePath.length).split('/');
    const table = tableOf.get(decodeURIComponent(collection));
    if (!table || rest.length) return null;
    return { table, id: id ? decodeURIComponent(id) : null };
  }

  function checkTable(table) {
    if (!(table in collections)) throw new TypeError(`offline-sync/dexie: "${table}" is not a synced table`);
  }

  // --- book-keeping of the work under way, so that `idle()` can wait for it ------------------
  const work = new Set();
  /** Runs `promise` in the background: its failure goes to `onError`. */
  function track(promise) {
    const p = Promise.resolve(promise).catch((error) => onError(error));
    work.add(p);
    p.finally(() => work.delete(p));
    return p;
  }
  /** Counts `promise` as work under way; its failure stays the caller's. */
  function watch(promise) {
    const p = Promise.resolve(promise).catch(() => {});
    work.add(p);
    p.finally(() => work.delete(p));
    return promise;
  }

  // --- record shapes ----------------------------------------------------------------------
  /** What a write sends: the record's own fields less the server-owned ones. */
  function sendable(record) {
    const out = publicFields(record);
    for (const name of serverFields) if (name !== 'id') delete out[name];
    return out;
  }

  /** The local row for a record as the server sent it, acknowledged. */
  function fromServer(server, local) {
    const row = publicFields(server);
    delete row.version;
    delete row.seq;
    delete row.deleted;
    return {
      ...row,
      _synced: true,
      _syncedAt: Date.now(),
      _localUpdatedAt: local?._localUpdatedAt ?? null,
      _deleted: false,
      _version: server.version ?? null,
      _rev: local?._rev ?? 0,
      _dirty: [],
      _inflight: null,
      _error: null,
    };
  }

  /** The fields (to send in a PATCH) where `winner` differs from `server`. */
  function diff(winner, server) {
    const mine = sendable(winner);
    const theirs = sendable(server);
    delete mine.id;
    delete theirs.id;
    const names = new Set([...Object.keys(mine), ...Object.keys(theirs)]);
    return [...names].filter((name) => !same(mine[name], theirs[name]));
  }

  // --- conflicts ----------------------------------------------------------------------------
  /**
   * Who wins between a local row with an unacknowledged change and the server's newer copy.
   * Answers {winner: 'server'} or {winner: 'local', record} (the fields to keep).
   */
  function decide(local, server) {
    // A deletion on the server stands: the API cannot revive a tombstone.
    if (server.deleted) return { winner: 'server' };
    if (typeof conflict === 'function') {
      const theirs = structuredClone(server);
      const merged = conflict(structuredClone(local), theirs);
      if (!merged || merged === theirs) return { winner: 'server' };
      return { winner: 'local', record: merged };
    }
    if (conflict === 'server-wins') return { winner: 'server' };
    // The local side wins the fields it changed; the others keep the server's values.
    const ours = { winner: 'local', record: localChanges(local, server) };
    if (conflict === 'client-wins') return ours;
    // last write wins: the local change would be version _version + 1; the higher version
    // wins, and on a tie the later write (local clock against the server's updatedAt).
    const mine = (local._version ?? 0) + 1;
    if (server.version > mine) return { winner: 'server' };
    if (server.version < mine) return ours;
    return (local._localUpdatedAt ?? 0) > (server.updatedAt ?? 0) ? ours : { winner: 'server' };
  }

  /** The server's record with the fields changed here (all of them for a record never sent). */
  function localChanges(local, server) {
    const dirty = local._dirty ?? [];
    if (dirty.includes(ALL) || local._version == null) return local;
    const record = { ...server };
    for (const name of dirty) record[name] = local[name];
    return record;
  }

  /**
   * Settles one local row against a server copy, inside the caller's transaction. Answers
   * whether the row must be sent again. `ours` says the server copy answers the row's own
   * in-flight request (an acknowledgement), so it is taken as is when nothing changed since.
   */
  async function settle(t, local, server, { ours = false } = {}) {
    const id = server.id ?? local?.id;
    if (!local) {
      if (!server.deleted) await t.put(fromServer(server, null));
      return false;
    }
    const pendingChange = local._synced === false;
    // An answer to our own request, with no local change since it was sent.
    if (ours && local._inflight && local._inflight.rev === local._rev) {
      if (server.deleted) await t.delete(id);
      else await t.put(fromServer(server, local));
      return false;
    }
    if (!pendingChange) {
      if (local._version != null && server.version < local._version) return false; // stale
      if (server.deleted) await t.delete(id);
      else await t.put(fromServer(server, local));
      return false;
    }
    if (ours && server.deleted && local._deleted) {
      await t.delete(id);
      return false;
    }
    if (ours) {
      // Our request went through, and the row changed again since: keep the newer local
      // fields, take the server's for the rest, and send what is left on the new version.
      const dirty = local._dirty ?? [];
      const next = { ...local };
      if (!dirty.includes(ALL)) {
        for (const [name, value] of Object.entries(fromServer(server, local))) {
          if (!name.startsWith('_') && !dirty.includes(name)) next[name] = value;
        }
      }
      Object.assign(next, { _version: server.version, _inflight: null, _error: null });
      await t.put(next);
      return true;
    }
    // Not ours: a copy newer than the one the pending change was based on is a conflict.
    if (local._version != null && server.version <= local._version) return false;
    const outcome = decide(local, server);
    if (outcome.winner === 'server') {
      if (server.deleted) await t.delete(id);
      else await t.put(fromServer(server, local));
      return false;
    }
    if (local._deleted) {
      await t.put({ ...local, _version: server.version, _inflight: null, _dirty: [], _error: null });
      return true;
    }
    const fields = { ...publicFields(outcome.record), id };
    const dirty = diff(fields, server);
    if (!dirty.length) {
      await t.put(fromServer(server, local));
      return false;
    }
    const kept = fromServer(server, local);
    for (const name of dirty) kept[name] = fields[name] === undefined ? null : fields[name];
    await t.put({
      ...kept,
      _synced: false,
      _syncedAt: local._syncedAt ?? null,
      _localUpdatedAt: local._localUpdatedAt ?? Date.now(),
      _rev: local._rev,
      _dirty: dirty,
    });
    return true;
  }

  /** Settles the row `id` of `table` against `server` in a transaction of its own. */
  async function settleOne(table, id, server, options, match) {
    const t = db.table(table);
    let again = false;
    await db.transaction('rw', t, async () => {
      const local = await t.get(id);
      const ours = Boolean(local && match && match(local));
      // Another request of this row is out: its own answer settles it.
      if (!ours && local?._inflight) return;
      again = await settle(t, local, server, { ...options, ours });
    });
    if (again) schedule(table, id);
  }

  // --- writes ---------------------------------------------------------------------------------
  async function create(table, record = {}) {
    checkTable(table);
    const now = Date.now();
    const id = record.id ?? crypto.randomUUID();
    const row = {
      createdAt: now,
      updatedAt: now,
      ...publicFields(record),
      id,
      _synced: false,
      _syncedAt: null,
      _localUpdatedAt: now,
      _deleted: false,
      _version: null,
      _rev: 1,
      _dirty: [ALL],
      _inflight: null,
      _error: null,
    };
    await db.table(table).add(row);
    schedule(table, id);
    return row;
  }

  async function update(table, id, changes = {}) {
    checkTable(table);
    const patch = publicFields(changes);
    delete patch.id;
    for (const name of serverFields) delete patch[name];
    const t = db.table(table);
    let refused = null;
    const row = await db.transaction('rw', t, async () => {
      const local = await t.get(id);
      if (!local || local._deleted) throw new Error(`offline-sync/dexie: no ${table} record ${id}`);
      refused = local._error?.deadLetter;
      const next = {
        ...local,
        ...patch,
        _synced: false,
        _localUpdatedAt: Date.now(),
        _rev: (local._rev ?? 0) + 1,
        _dirty: union(local._dirty ?? [], Object.keys(patch)),
        _error: null,
      };
      await t.put(next);
      return next;
    });
    supersede(refused);
    schedule(table, id);
    return row;
  }

  async function remove(table, id) {
    checkTable(table);
    const t = db.table(table);
    let refused = null;
    const send = await db.transaction('rw', t, async () => {
      const local = await t.get(id);
      if (!local || local._deleted) return false;
      refused = local._error?.deadLetter;
      if (local._version == null && !local._inflight) {
        await t.delete(id); // never reached the server: nothing to tell it
        return false;
      }
      await t.put({
        ...local,
        _deleted: true,
        _synced: false,
        _localUpdatedAt: Date.now(),
        _rev: (local._rev ?? 0) + 1,
        _error: null,
      });
      return true;
    });
    supersede(refused);
    if (send) schedule(table, id);
  }

  /** Clears a record's `_error` and sends its change again. */
  async function retry(table, id) {
    checkTable(table);
    const t = db.table(table);
    const deadLetter = await db.transaction('rw', t, async () => {
      const local = await t.get(id);
      await t.update(id, { _error: null });
      return local?._error?.deadLetter;
    });
    supersede(deadLetter);
    return schedule(table, id);
  }

  /**
   * The worker's dead letter that a row's refusal came from, once the row's change goes again
   * (or the row is deleted): it is discarded, so it neither counts on nor replays an old body.
   * One the person discarded already is gone, as wanted.
   */
  function supersede(deadLetter) {
    // With no worker in control there is none to ask (and its dead letters wait for one that is).
    if (deadLetter == null || !workerInControl()) return;
    track(client.discardDeadLetter(deadLetter).catch((error) => /no dead letter/.test(String(error?.message)) || onError(error)));
  }

  // --- sending --------------------------------------------------------------------------------
  function schedule(table, id) {
    return track(send(table, id));
  }

  /** Sends the row's pending change, unless a request for it is outstanding already. */
  async function send(table, id) {
    const t = db.table(table);
    const token = `${session}:${++tokens}`;
    const request = await db.transaction('rw', t, async () => {
      const local = await t.get(id);
      if (!local || local._synced !== false || local._inflight || local._error) return null;
      const dirty = local._dirty ?? [];
      let method;
      let url;
      let body;
      if (local._version == null) {
        if (local._deleted) {
          await t.delete(id);
          return null;
        }
        [method, url, body] = ['POST', collectionUrl(table), sendable(local)];
      } else if (local._deleted) {
        [method, url] = ['DELETE', recordUrl(table, id)];
      } else if (dirty.includes(ALL)) {
        [method, url, body] = ['PUT', recordUrl(table, id), sendable(local)];
      } else {
        const fields = sendable(local);
        body = {};
        for (const name of dirty) body[name] = fields[name] === undefined ? null : fields[name];
        if (!Object.keys(body).length) {
          await t.put({ ...local, _synced: true, _syncedAt: Date.now(), _dirty: [] });
          return null;
        }
        [method, url] = ['PATCH', recordUrl(table, id)];
      }
      const inflight = { token, rev: local._rev, method, url, fields: dirty, queueId: null, sentAt: Date.now() };
      await t.put({ ...local, _inflight: inflight, _dirty: [] });
      return { method, url, body, version: local._version };
    });
    if (!request) return;

    // The page makes the key, so it survives the browser re-sending this fetch to a restarted worker.
    const headers = { accept: 'application/json', 'idempotency-key': crypto.randomUUID() };
    if (request.body) headers['content-type'] = 'application/json';
    if (request.version != null) headers['if-match'] = `"${request.version}"`;
    let response;
    let text;
    try {
      response = await fetchImpl(request.url, {
        method: request.method,
        headers,
        body: request.body ? JSON.stringify(request.body) : undefined,
      });
      text = await response.text();
    } catch {
      // No network and no worker to queue it: it stays pending, sent again on `online`.
      await release(table, id, token, null);
      return;
    }
    await answer(table, id, token, request.method, response.status, text);
  }

  const isMine = (token) => (local) => local._inflight?.token === token;

  /** Handles the answer to a request this page sent. */
  async function answer(table, id, token, method, status, text) {
    const json = parseJson(text);
    if (status === 202 && json?.queued === true) {
      // The worker holds it; its `replayed` or `dead-lettered` event will settle it.
      const t = db.table(table);
      await db.transaction('rw', t, async () => {
        const local = await t.get(id);
        if (local?._inflight?.token === token) {
          await t.put({ ...local, _inflight: { ...local._inflight, queueId: json.id } });
        }
      });
      return;
    }
    if (status === 202 && json?.cancelled != null) {
      // The worker dropped this request together with the waiting one it undid (a create and
      // its delete): the server never hears of the record.
      await release(table, id, token, null);
      const t = db.table(table);
      const local = await t.get(id);
      if (local?._deleted && !local._inflight) await t.delete(id);
      return;
    }
    await settleAnswer(table, id, method, status, json, isMine(token), token);
  }

  /**
   * Settles a row with a server answer: 2xx carries the record; 409 (and 404 on a tombstone)
   * carries `current`, resolved by the strategy; anything else marks the row with `_error`.
   */
  async function settleAnswer(table, id, method, status, json, match, token) {
    const record = json && typeof json === 'object' && !Array.isArray(json) ? json : null;
    if (status >= 200 && status < 300) {
      if (record?.id != null && record.version != null) {
        await settleOne(table, id, record, {}, match);
      } else {
        // No record in the answer (or it was cut short): let a pull bring the server's copy.
        await release(table, id, token, null, match);
        schedulePull(table);
      }
      return;
    }
    const current = record?.current;
    if ((status === 409 || status === 404) && current && current.id === id) {
      await conflictWith(table, id, current, match);
      return;
    }
    if (status === 404 && method === 'DELETE') {
      await db.table(table).delete(id);
      return;
    }
    // A passing failure (the worker hands over the server's answer when online): the change
    // stays pending and goes again with the next flush (`online`, start, `sync()`).
    const passing = status === 408 || status === 425 || status === 429 || (status >= 500 && status !== 501 && status !== 505);
    await release(table, id, token, passing ? null : { status, message: record?.error ?? `HTTP ${status}` }, match);
  }

  /** A conflict: the server's `current` against the row, by the strategy. */
  async function conflictWith(table, id, current, match) {
    const t = db.table(table);
    let again = false;
    await db.transaction('rw', t, async () => {
      const local = await t.get(id);
      if (local && match && match(local)) {
        // The refused request is over: its fields are still to be sent, on the current version.
        local._dirty = union(local._dirty ?? [], local._inflight.fields ?? []);
        local._inflight = null;
        await t.put(local);
      } else if (local?._inflight) {
        return; // refused: an older request; the one in flight will be answered on its own
      }
      again = await settle(t, local, current);
    });
    if (again) schedule(table, id);
  }

  /** Ends the row's in-flight request without an answer to adopt; `error` stops resends. */
  async function release(table, id, token, error, match = isMine(token)) {
    const t = db.table(table);
    await db.transaction('rw', t, async () => {
      const local = await t.get(id);
      if (!local || !match(local)) return;
      const dirty = union(local._dirty ?? [], local._inflight.fields ?? []);
      await t.put({ ...local, _inflight: null, _dirty: dirty, _error: error });
    });
  }

  /** Every row with a change to send and nothing in flight is sent. */
  async function flush() {
    const ids = [];
    for (const table of Object.keys(collections)) {
      const rows = await db
        .table(table)
        .filter((r) => r._synced === false && !r._inflight && !r._error)
        .primaryKeys();
      for (const id of rows) ids.push(schedule(table, id));
    }
    await Promise.all(ids);
  }

  // --- pull -----------------------------------------------------------------------------------
  const pulls = new Map(); // table -> {promise, again}

  /** Pulls the changes of one table, or of every table, since the stored cursor. */
  function pull(table) {
    if (table === undefined) return Promise.all(Object.keys(collections).map((t) => pull(t))).then(() => {});
    checkTable(table);
    const running = pulls.get(table);
    if (running) {
      running.again = true;
      return running.promise;
    }
    const state = { again: false, promise: null };
    state.promise = (async () => {
      try {
        do {
          state.again = false;
          await pullOnce(table);
        } while (state.again);
      } finally {
        pulls.delete(table);
      }
    })();
    pulls.set(table, state);
    return watch(state.promise);
  }

  let pullTimer = null;
  const pullSoon = new Set();
  /** A pull shortly, coalescing the triggers of a burst of events. */
  function schedulePull(table) {
    if (table) pullSoon.add(table);
    else Object.keys(collections).forEach((t) => pullSoon.add(t));
    if (pullTimer) return;
    pullTimer = setTimeout(() => {
      pullTimer = null;
      const tables = [...pullSoon];
      pullSoon.clear();
      for (const t of tables) track(pull(t));
    }, 50);
  }

  async function pullOnce(table) {
    const meta = db.table(metaTable);
    const key = `cursor:${collections[table]}`;
    const start = (await meta.get(key))?.value ?? '0';
    let cursor = start;
    const latest = new Map(); // id -> the newest change
    for (let page = 0; page < 100_000; page++) {
      const url = `${collectionUrl(table)}?since=${encodeURIComponent(cursor)}&limit=${pageSize}`;
      const response = await fetchImpl(url, { headers: { accept: 'application/json' } });
      if (!response.ok) throw new Error(`GET ${url}: ${response.status}`);
      const body = await response.json();
      for (const change of body.changes ?? []) latest.set(change.id, change);
      if (typeof body.cursor === 'string' || typeof body.cursor === 'number') cursor = String(body.cursor);
      if (!body.hasMore || !(body.changes ?? []).length) break;
    }
    const t = db.table(table);
    const resend = [];
    // One transaction: the whole pull lands, with its cursor, or none of it does.
    await db.transaction('rw', t, meta, async () => {
      for (const server of latest.values()) {
        const local = await t.get(server.id);
        // A row with a request out is left to that request's answer: the server's copy may be
        // the result of that very request, and if it is not, the request gets a 409 that
        // carries the current copy and is settled then.
        if (local?._inflight) continue;
        if (await settle(t, local, server)) resend.push(server.id);
      }
      await meta.put({ key, value: cursor, pulledAt: Date.now() });
    });
    lastPullAt = Date.now();
    for (const id of resend) schedule(table, id);
  }

  // --- the worker's events ----------------------------------------------------------------------
  /** The row a worker event is about, and a matcher for its in-flight request. */
  async function findRow(event, recordId) {
    const where = route(event.url);
    if (!where) return null;
    let id = where.id ?? recordId;
    if (id == null) {
      // A create whose answer could not be read: its row is the one waiting for this entry.
      const row = await db.table(where.table).filter((r) => r._inflight?.queueId === event.id).first();
      if (!row) return null;
      id = row.id;
    }
    const local = await db.table(where.table).get(id);
    const match = (row) => {
      const inflight = row._inflight;
      if (!inflight) return false;
      if (inflight.queueId != null) return inflight.queueId === event.id;
      return inflight.method === event.method && pathOf(inflight.url) === pathOf(event.url);
    };
    return { table: where.table, id, local, match };
  }

  async function onReplayed(event) {
    const json = parseJson(event.body);
    const found = await findRow(event, json?.id ?? json?.current?.id);
    if (!found) return;
    const { table, id, match } = found;
    if (event.status >= 200 && event.status < 300 && json?.id != null && json.version != null && !event.bodyTruncated) {
      await settleOne(table, id, json, {}, match);
    } else {
      await settleAnswer(table, id, event.method, event.status, event.bodyTruncated ? null : json, match, null);
    }
    schedulePull(table);
  }

  /** A dead letter the adapter can settle: a 409 (or 404 on a tombstone) with `current`. */
  async function onDeadLetter(entry) {
    const json = parseJson(entry.answer ?? '');
    const found = await findRow(entry, json?.current?.id);
    if (!found) return false;
    const { table, id, local, match } = found;
    const current = json?.current;
    if ((entry.status === 409 || entry.status === 404) && current?.id === id) {
      await conflictWith(table, id, current, match);
      await client.discardDeadLetter(entry.id);
      return true;
    }
    if (entry.status === 409 || (entry.status === 404 && entry.method === 'DELETE')) {
      // A conflict whose answer was cut short (over 4 KiB): send again; online, the 409 comes
      // back whole. A DELETE of something already gone is done.
      if (entry.method === 'DELETE' && entry.status === 404) await db.table(table).delete(id);
      else if (local) await release(table, id, null, null, match);
      await client.discardDeadLetter(entry.id);
      if (local) schedule(table, id);
      return true;
    }
    // Something else (400, 422, …): the row keeps its change, marked with the error, and the
    // dead letter stays for the person to retry or discard.
    if (local && match(local)) {
      await release(table, id, null, { status: entry.status, message: entry.reason, deadLetter: entry.id }, match);
    }
    return false;
  }

  async function onDeadLettered(event) {
    if (!route(event.url)) return;
    const entries = await client.deadLetters();
    const entry = entries.find((e) => e.id === event.id);
    if (entry) await onDeadLetter(entry);
  }

  async function onExpired(event) {
    const found = await findRow(event, null);
    if (!found?.local || !found.match(found.local)) return;
    await release(found.table, found.id, null, { status: null, message: 'expired before it could be sent' }, found.match);
  }

  function onEvent(event) {
    switch (event.type) {
      case 'offline-sync:replayed':
        track(onReplayed(event));
        break;
      case 'offline-sync:dead-lettered':
        track(onDeadLettered(event));
        break;
      case 'offline-sync:expired':
        track(onExpired(event));
        break;
    }
  }

  let lastPending = null;
  function onStatus(status) {
    if (lastPending > 0 && status.pending === 0) schedulePull();
    lastPending = status.pending;
  }

  /**
   * At start: every in-flight request of an earlier session that the worker no longer holds (or,
   * with no worker at all, every one) was delivered or dropped while no page listened (a pull
   * settles which), and 409 dead letters are settled. A request of this session whose fetch has
   * not come back is left alone: it is in neither list yet.
   */
  async function reconcile() {
    const container = globalThis.navigator?.serviceWorker;
    let queued = [];
    let dead = [];
    if (workerInControl()) {
      try {
        [queued, dead] = await timeout(Promise.all([client.pending(), client.deadLetters()]), 5000, 'the worker');
      } catch (error) {
        onError(error);
        return;
      }
    } else if (await registered(container)) {
      // A worker that does not control this load (a hard reload) may still hold them: the next
      // controlled load settles them.
      return;
    }
    // With no worker at all, nothing holds them: each goes again, and the server's answer to a
    // repeat (If-Match, a create's known id) settles it.
    for (const table of Object.keys(collections)) {
      const t = db.table(table);
      const rows = await t.filter((r) => Boolean(r._inflight) && !stillOut(r._inflight)).toArray();
      for (const row of rows) {
        const { queueId, method, url } = row._inflight;
        const same = (e) => (queueId != null ? e.id === queueId : e.method === method && pathOf(e.url) === pathOf(url));
        const waiting = queued.find(same);
        if (waiting) {
          if (queueId == null) await t.update(row.id, { _inflight: { ...row._inflight, queueId: waiting.id } });
          continue;
        }
        // Settled below; a dead letter that names no request (its record could not be read) holds
        // nothing of the row's, which goes again.
        if (dead.some((e) => e.url != null && same(e))) continue;
        await release(table, row.id, null, null, (r) => r._inflight?.token === row._inflight.token);
      }
    }
    for (const entry of dead) {
      if (route(entry.url)) await onDeadLetter(entry).catch(onError);
    }
  }

  const workerInControl = () => Boolean(globalThis.navigator?.serviceWorker?.controller);

  /** Sent by this session and not yet answered, not even with the worker's 202 (no `queueId`). */
  const stillOut = (inflight) => String(inflight.token).startsWith(`${session}:`) && inflight.queueId == null;

  /** Whether a service worker is registered for this page (a failed look counts as one: wait). */
  async function registered(container) {
    if (typeof container?.getRegistration !== 'function') return false;
    try {
      return Boolean(await container.getRegistration());
    } catch (error) {
      onError(error);
      return true;
    }
  }

  // --- old data -----------------------------------------------------------------------------------
  /**
   * Removes synced records not touched here or by the server for longer than their table's `ttl`.
   * A record with anything unsent (a local change, a request out, a refusal) is never removed.
   */
  async function cleanUp(now = Date.now()) {
    let removed = 0;
    for (const [table, ms] of Object.entries(ttl)) {
      const old = (row) => row._synced && !row._inflight && !row._error && !(row._dirty?.length)
        && Math.max(row._syncedAt ?? 0, row._localUpdatedAt ?? 0) < now - ms;
      removed += await db.table(table).filter(old).delete();
    }
    return removed;
  }

  // --- lifecycle --------------------------------------------------------------------------------
  let started = null;
  let cleanUpTimer = null;
  const DAY = 24 * 60 * 60 * 1000;
  let unsubscribe = [];
  let lastPullAt = null;

  async function start() {
    if (started) return started;
    const off = [client.onEvent(onEvent), client.onStatus(onStatus)];
    const online = () => {
      track(flush());
      schedulePull();
    };
    globalThis.addEventListener?.('online', online);
    off.push(() => globalThis.removeEventListener?.('online', online));
    unsubscribe = off;
    if (Object.keys(ttl).length) {
      track(cleanUp());
      cleanUpTimer = setInterval(() => track(cleanUp()), DAY);
    }
    started = (async () => {
      await reconcile();
      try {
        await pull();
      } catch (error) {
        onError(error); // offline: local data keeps serving, and `online` pulls again
      }
      await flush();
    })();
    return track(started).then(() => started);
  }

  function stop() {
    for (const off of unsubscribe) off();
    unsubscribe = [];
    started = null;
    clearTimeout(pullTimer);
    pullTimer = null;
    clearInterval(cleanUpTimer);
    cleanUpTimer = null;
  }

  /** Resolves once every send, answer, event and pull under way has finished. */
  async function idle() {
    while (work.size || pullTimer) {
      if (work.size) await Promise.all([...work]);
      else await new Promise((resolve) => setTimeout(resolve, 60));
    }
  }

  /** Asks the worker to replay its queue now, then sends what waits here and pulls. */
  async function sync() {
    let status = null;
    try {
      status = await client.replay();
    } catch (error) {
      onError(error);
    }
    await flush();
    await pull();
    await idle();
    return status;
  }

  /** Rows (of one table, or all) with a change the server has not acknowledged yet. */
  async function unsynced(table) {
    const tables = table ? [table] : Object.keys(collections);
    const out = [];
    for (const name of tables) out.push(...(await db.table(name).filter((r) => r._synced === false).toArray()));
    return out;
  }

  return {
    db,
    create,
    update,
    remove,
    retry,
    pull,
    flush,
    sync,
    start,
    cleanUp,
    stop,
    idle,
    unsynced,
    get lastPullAt() {
      return lastPullAt;
    },
  };
}

export { Dexie };
