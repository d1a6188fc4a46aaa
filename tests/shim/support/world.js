// A small world for the shim tests: an in-memory copy of the demo server's API contract
// (collections with versions, a change sequence, tombstones, If-Match, merge patches) and a
// stand-in for the offline-sync worker (queue, 202, replay, dead letters, and its messages to
// and from the page, over the same `navigator.serviceWorker` surface that client.js uses).

const clone = (value) => (value === undefined ? undefined : structuredClone(value));

/** The server side of the contract, in memory. */
export class FakeServer {
  constructor() {
    this.reset();
  }

  reset() {
    this.collections = { tasks: new Map(), projects: new Map() };
    this.seq = 0;
    this.now = () => Date.now();
    /** Every request the server handled: {method, path, query, headers, body}. */
    this.log = [];
  }

  /** What a GET of the live list answers. */
  list(collection) {
    return [...this.collections[collection].values()].filter((r) => !r.deleted).map(clone);
  }

  get(collection, id) {
    return clone(this.collections[collection].get(id));
  }

  /** Another device's write, straight into the store: a merge patch, or `null` to delete. */
  write(collection, id, changes) {
    const store = this.collections[collection];
    const record = store.get(id);
    if (changes === null) record.deleted = true;
    else mergePatch(record, changes);
    this.touch(record);
    return clone(record);
  }

  /** Another device's create. */
  insert(collection, fields) {
    const now = this.now();
    const record = { ...fields, createdAt: now, updatedAt: now, version: 1, seq: ++this.seq, deleted: false };
    this.collections[collection].set(record.id, record);
    return clone(record);
  }

  touch(record) {
    record.version += 1;
    record.updatedAt = this.now();
    record.seq = ++this.seq;
  }

  /** Handles one request; answers {status, json}. */
  handle(method, url, headers = {}, bodyText = null) {
    const { pathname, searchParams } = new URL(url);
    const body = bodyText ? JSON.parse(bodyText) : null;
    this.log.push({ method, path: pathname, query: Object.fromEntries(searchParams), headers, body });
    const [, api, collection, rawId, extra] = pathname.split('/');
    const store = this.collections[collection];
    if (api !== 'api' || !store || extra !== undefined) return { status: 404, json: { error: 'not found' } };
    const id = rawId === undefined ? undefined : decodeURIComponent(rawId);

    if (method === 'GET' && id === undefined) {
      if (!searchParams.has('since')) return { status: 200, json: this.list(collection) };
      const since = Number(searchParams.get('since') || 0);
      const limit = Number(searchParams.get('limit') || 500);
      const all = [...store.values()].filter((r) => r.seq > since).sort((a, b) => a.seq - b.seq);
      const changes = all.slice(0, limit).map(clone);
      const cursor = String(changes.length ? changes[changes.length - 1].seq : since);
      return { status: 200, json: { changes, cursor, hasMore: all.length > limit } };
    }
    if (method === 'POST' && id === undefined) {
      const existing = store.get(body.id);
      if (existing) return { status: 409, json: { error: 'duplicate', current: clone(existing) } };
      const { id: newId, ...fields } = body;
      return { status: 201, json: this.insert(collection, { id: newId ?? crypto.randomUUID(), ...fields }) };
    }
    if (id === undefined) return { status: 405, json: { error: 'method not allowed' } };
    const record = store.get(id);
    if (!record) return { status: 404, json: { error: 'not found' } };
    if (record.deleted) return { status: 404, json: { error: 'deleted', current: clone(record) } };
    const ifMatch = headers['if-match'];
    if (ifMatch !== undefined && Number(ifMatch.replace(/^W\//, '').replace(/"/g, '')) !== record.version) {
      return { status: 409, json: { error: 'version conflict', current: clone(record) } };
    }
    if (method === 'PATCH') mergePatch(record, body);
    else if (method === 'PUT') {
      for (const key of Object.keys(record)) {
        if (!['id', 'createdAt', 'updatedAt', 'version', 'seq', 'deleted'].includes(key)) delete record[key];
      }
      Object.assign(record, body, { id });
    } else if (method === 'DELETE') record.deleted = true;
    else return { status: 405, json: { error: 'method not allowed' } };
    this.touch(record);
    return { status: 200, json: clone(record) };
  }
}

function mergePatch(record, patch) {
  for (const [key, value] of Object.entries(patch)) {
    if (['id', 'createdAt', 'updatedAt', 'version', 'seq', 'deleted'].includes(key)) continue;
    if (value === null) delete record[key];
    else record[key] = clone(value);
  }
}

const jsonResponse = (status, json) =>
  new Response(JSON.stringify(json), { status, headers: { 'content-type': 'application/json' } });

/** The worker and the network between the page and the server. */
export class FakeWorker {
  constructor(server) {
    this.server = server;
    this.listeners = new Set();
    this.reset();
  }

  reset() {
    this.online = true;
    /** No worker in the way (a page it does not control) and no network: every fetch fails. */
    this.down = false;
    this.queue = [];
    this.dead = [];
    this.nextId = 1;
    this.syncing = false;
    this.lastSyncAt = null;
    /** Every message a page sent to the worker. */
    this.received = [];
    /** Every message the worker sent to the pages. */
    this.sent = [];
    this.held = null;
  }

  status() {
    return {
      type: 'offline-sync:status',
      pending: this.queue.length,
      syncing: this.syncing,
      lastSyncAt: this.lastSyncAt,
      lastError: null,
      deadLetters: this.dead.length,
      authRequired: false,
    };
  }

  /** Posts `data` to every page, as the worker's `clients.matchAll()` loop does. */
  emit(data) {
    this.sent.push(data);
    if (this.held) return void this.held.push(data);
    for (const listener of [...this.listeners]) listener({ data });
  }

  /** Holds the messages to the pages (a slow channel) until `deliver()`. */
  hold() {
    this.held = [];
  }

  deliver() {
    const held = this.held ?? [];
    this.held = null;
    for (const data of held) for (const listener of [...this.listeners]) listener({ data });
  }

  /** The page's `fetch`, through the worker: GETs pass, mutations are sent or queued. */
  fetch = async (input, init = {}) => {
    const url = new URL(String(input), globalThis.location.href).href;
    const method = (init.method ?? 'GET').toUpperCase();
    const headers = Object.fromEntries(Object.entries(init.headers ?? {}).map(([k, v]) => [k.toLowerCase(), v]));
    const body = init.body ?? null;
    if (this.down || (!this.online && method === 'GET')) throw new TypeError('Failed to fetch');
    if (this.online) {
      const { status, json } = this.server.handle(method, url, headers, body);
      return jsonResponse(status, json);
    }
    const entry = { id: this.nextId++, method, url, headers, body, queuedAt: Date.now(), attempts: 0 };
    this.queue.push(entry);
    this.emit({ type: 'offline-sync:queued', id: entry.id, method, url, pending: this.queue.length });
    this.emit(this.status());
    return jsonResponse(202, { queued: true, id: entry.id, pending: this.queue.length });
  };

  /** Sends the queue in order, as the real worker's replay does (2xx, 4xx; no retries here). */
  async replay() {
    if (!this.online) return;
    this.syncing = true;
    this.emit(this.status());
    while (this.queue.length) {
      const entry = this.queue[0];
      await new Promise((r) => setTimeout(r, 1));
      const { status, json } = this.server.handle(entry.method, entry.url, entry.headers, entry.body);
      const text = JSON.stringify(json);
      this.queue.shift();
      if (status >= 200 && status < 300) {
        this.emit({
          type: 'offline-sync:replayed', id: entry.id, method: entry.method, url: entry.url, status,
          body: text.slice(0, 16384), bodyTruncated: text.length > 16384,
        });
      } else {
        const reason = `the server refused it (${status})`;
        this.dead.push({
          id: entry.id, method: entry.method, url: entry.url, status, reason, answer: text.slice(0, 4096),
          queuedAt: entry.queuedAt, deadAt: Date.now(), attempts: 1, entry,
        });
        this.emit({ type: 'offline-sync:dead-lettered', id: entry.id, method: entry.method, url: entry.url, status, reason });
      }
      this.emit(this.status());
    }
    this.syncing = false;
    this.lastSyncAt = Date.now();
    this.emit(this.status());
  }

  /** A page's message, answered on its port as the real worker does. */
  async receive(message, port) {
    this.received.push(message);
    const reply = (answer) => port?.postMessage(answer);
    const publicEntry = ({ entry, ...rest }) => rest;
    switch (message.type) {
      case 'offline-sync:get-status':
        return reply(this.status());
      case 'offline-sync:get-pending':
        return reply({
          type: 'offline-sync:pending',
          entries: this.queue.map(({ id, method, url, queuedAt, attempts }) => ({
            id, method, url, queuedAt, attempts, nextAttemptAt: null, lastStatus: null, lastError: null,
          })),
        });
      case 'offline-sync:get-dead-letters':
        return reply({ type: 'offline-sync:dead-letters', entries: this.dead.map(publicEntry) });
      case 'offline-sync:discard-dead-letter': {
        const at = this.dead.findIndex((d) => d.id === message.id);
        if (at < 0) return reply({ type: 'offline-sync:error', message: `no dead letter ${message.id}` });
        this.dead.splice(at, 1);
        this.emit(this.status());
        return reply(this.status());
      }
      case 'offline-sync:retry-dead-letter': {
        const at = this.dead.findIndex((d) => d.id === message.id);
        if (at < 0) return reply({ type: 'offline-sync:error', message: `no dead letter ${message.id}` });
        const [{ entry }] = this.dead.splice(at, 1);
        this.queue.unshift(entry);
        await this.replay();
        return reply(this.status());
      }
      case 'offline-sync:replay':
      case 'offline-sync:online':
        await this.replay();
        return reply(this.status());
      default:
        return reply({ type: 'offline-sync:error', message: `unknown message ${message.type}` });
    }
  }

  /** Network on or off, for the worker and for the page (`navigator.onLine`, window events). */
  setOnline(online) {
    this.online = online;
    globalThis.dispatchEvent(new Event(online ? 'online' : 'offline'));
  }
}

export const server = new FakeServer();
export const worker = new FakeWorker(server);

/** Puts the fake worker behind `navigator.serviceWorker`, as client.js expects it. */
export function installWorker() {
  const registration = { active: { postMessage: (message, ports) => worker.receive(message, ports?.[0]) } };
  const container = {
    controller: registration.active,
    ready: Promise.resolve(registration),
    getRegistration: async () => registration,
    register: async () => registration,
    addEventListener: (type, listener) => type === 'message' && worker.listeners.add(listener),
    removeEventListener: (type, listener) => worker.listeners.delete(listener),
    startMessages() {},
  };
  Object.defineProperty(globalThis.navigator, 'serviceWorker', { value: container, configurable: true });
  Object.defineProperty(globalThis.navigator, 'onLine', { get: () => worker.online, configurable: true });
}

/** Both sides back to empty, online. */
export function resetWorld() {
  server.reset();
  worker.reset();
}
