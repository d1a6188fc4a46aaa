import type { MaybeRefOrGetter, Ref } from 'vue';
import type { Collection, Table } from 'dexie';
import type * as Client from './client.js';
import type { Sync, SyncFields } from './dexie.js';

export interface SyncStatusRefs {
  /** Entries still queued in the worker. */
  pending: Readonly<Ref<number>>;
  /** A replay is under way. */
  syncing: Readonly<Ref<boolean>>;
  /** When the last replay finished (ms since the epoch), or null. */
  lastSync: Readonly<Ref<number | null>>;
  /** How many dead letters wait for a decision. */
  deadLetters: Readonly<Ref<number>>;
  lastError: Readonly<Ref<string | null>>;
  authRequired: Readonly<Ref<boolean>>;
  /** The first status has arrived from the worker. */
  ready: Readonly<Ref<boolean>>;
  /** Replays the worker's queue now; with the adapter, also sends local changes and pulls. */
  sync(): Promise<Client.SyncStatus | null>;
}

export interface SyncStatusOptions {
  /** The Dexie adapter, so that `sync()` also flushes and pulls. */
  sync?: Sync;
  client?: Pick<typeof Client, 'onStatus' | 'status' | 'replay'>;
}

export function useSyncStatus(options?: SyncStatusOptions): SyncStatusRefs;
export function useNetworkStatus(): Readonly<Ref<boolean>>;
/** The live result of `querier` (Dexie's liveQuery); runs again when a dep changes. A failed query keeps the last result and is logged with `console.error`. */
export function useLiveQuery<T>(querier: () => T | Promise<T>, deps?: MaybeRefOrGetter<unknown>[]): Readonly<Ref<T | undefined>>;

type Query<T> = (table: Table<T, string>) => Collection<T, string> | Table<T, string> | T[] | Promise<T[]>;

/** Live records without the soft-deleted ones; undefined while loading. */
export function useRecords<T extends SyncFields>(
  table: MaybeRefOrGetter<Table<T, string>>,
  query?: Query<T>,
  deps?: MaybeRefOrGetter<unknown>[],
): Readonly<Ref<T[] | undefined>>;
/** One live record; null when missing or soft-deleted, undefined while loading. */
export function useRecord<T extends SyncFields>(
  table: MaybeRefOrGetter<Table<T, string>>,
  id: MaybeRefOrGetter<string | null | undefined>,
): Readonly<Ref<T | null | undefined>>;
