import Dexie from 'dexie';
import type * as Client from './client.js';

/** The fields the adapter adds to every synced record. */
export interface SyncFields {
  /** A UUID, made on the client. */
  id: string;
  /** False while a local change waits for the server's acknowledgement. */
  _synced: boolean;
  /** When the server last acknowledged the record (ms since the epoch), or null. */
  _syncedAt: number | null;
  /** When the record was last changed on this device, or null if it was only ever pulled. */
  _localUpdatedAt: number | null;
  /** Deleted here, and not yet acknowledged; the row is removed once the server has it. */
  _deleted: boolean;
  /** The server version last seen: the `If-Match` of the next write. Null before the first. */
  _version: number | null;
  /** Local change counter (book-keeping). */
  _rev: number;
  /** Fields changed since the last acknowledged state (book-keeping; `'*'` = all). */
  _dirty: string[];
  /** The one request sent for this record and not answered yet (book-keeping). */
  _inflight: { token: string; rev: number; method: string; url: string; fields: string[]; queueId: number | null; sentAt: number } | null;
  /** Why the server refused the last change; no automatic resend until it changes or `retry`. */
  _error: { status: number | null; message: string; deadLetter?: number } | null;
}

export type Synced<T> = T & SyncFields;

/** A record as the server sends it. */
export interface ServerRecord {
  id: string;
  version: number;
  seq?: number;
  deleted: boolean;
  createdAt?: number;
  updatedAt?: number;
  [field: string]: unknown;
}

/**
 * How a local change meets a newer server copy:
 * - `'lww'` (default): the higher version wins, the local change counting as `_version + 1`;
 *   on a tie the later write wins (`_localUpdatedAt` against the server's `updatedAt`);
 * - `'server-wins'`, `'client-wins'`;
 * - a function given the local row and the server record, answering the record to keep
 *   (answer `server` itself to take the server's copy).
 * A local win sends the fields changed here (a local deletion that wins is sent as a DELETE);
 * the others keep the server's values. A deletion on the server always wins (the API cannot
 * revive a tombstone). A row with a request out is settled by that request's answer (its 409),
 * not by a pull.
 */
export type ConflictStrategy =
  | 'lww'
  | 'server-wins'
  | 'client-wins'
  | ((local: Record<string, any> & SyncFields, server: ServerRecord) => Record<string, any> | null | undefined);

export interface SyncOptions {
  /** Dexie table name → collection name under `baseUrl` (e.g. `{tasks: 'tasks'}`). */
  collections: Record<string, string>;
  /** Where the collections are (default `/api`). */
  baseUrl?: string;
  conflict?: ConflictStrategy;
  /** Default: the global fetch (which the worker intercepts). */
  fetch?: typeof fetch;
  /** The page client (default: `./client.js`). */
  client?: Pick<typeof Client, 'onEvent' | 'onStatus' | 'pending' | 'deadLetters' | 'discardDeadLetter' | 'replay'>;
  /** The table holding the pull cursors (default `_syncMeta`; see `syncStores`). */
  metaTable?: string;
  /** `limit` of each pull request (default 500). */
  pageSize?: number;
  /** Fields the server owns, never sent (default createdAt, updatedAt, version, seq, deleted). */
  serverFields?: string[];
  /** Failures of background work (default: console.error). */
  onError?: (error: unknown) => void;
  /**
   * Time-to-live per table, in ms: synced records untouched for longer are removed at start and
   * daily. Records with anything unsent (a change, a request out, a refusal) are never removed.
   */
  ttl?: Record<string, number>;
}

export interface Sync {
  readonly db: Dexie;
  /** Removes old synced records now (see `ttl`); resolves with how many were removed. */
  cleanUp(now?: number): Promise<number>;
  /** Writes the record locally (new UUID unless it has an `id`), then POSTs it. */
  create<T extends object>(table: string, record: T): Promise<Synced<T>>;
  /** Applies `changes` locally, then PATCHes them with `If-Match`. */
  update<T extends object>(table: string, id: string, changes: Partial<T>): Promise<Synced<T>>;
  /** Marks the record `_deleted`, then DELETEs it; the row goes once the server acknowledges. */
  remove(table: string, id: string): Promise<void>;
  /** Clears a record's `_error` and sends its change again. */
  retry(table: string, id: string): Promise<void>;
  /** Pulls one table's changes since its cursor (or every table's), in one transaction each. */
  pull(table?: string): Promise<void>;
  /** Sends every pending change that has no request out. */
  flush(): Promise<void>;
  /** Worker replay, flush, pull, and waits for the answers; resolves with the worker's status. */
  sync(): Promise<Client.SyncStatus | null>;
  /** Listens to the worker and `online`, settles what happened while no page was open, pulls, sends. */
  start(): Promise<void>;
  stop(): void;
  /** Resolves once every send, answer, event and pull under way has finished. */
  idle(): Promise<void>;
  /** Rows with a change the server has not acknowledged yet. */
  unsynced(table?: string): Promise<Array<Record<string, any> & SyncFields>>;
  /** When the last pull landed (ms), or null. */
  readonly lastPullAt: number | null;
}

export const META_TABLE: '_syncMeta';
export function syncStores<S extends Record<string, string | null>>(stores: S, metaTable?: string): S & Record<string, string>;
export function publicFields<T extends object>(record: T): Partial<T>;
export function createSync(db: Dexie, options: SyncOptions): Sync;
export { Dexie };
