import type { Collection, Table } from 'dexie';
import type * as Client from './client.js';
import type { Sync, SyncFields } from './dexie.js';

export interface SyncStatusState {
  /** Entries still queued in the worker. */
  pending: number;
  /** A replay is under way. */
  syncing: boolean;
  /** When the last replay finished (ms since the epoch), or null. */
  lastSync: number | null;
  /** How many dead letters wait for a decision. */
  deadLetters: number;
  lastError: string | null;
  authRequired: boolean;
  /** The first status has arrived from the worker. */
  ready: boolean;
  /** Replays the worker's queue now; with the adapter, also sends local changes and pulls. */
  sync(): Promise<Client.SyncStatus | null>;
}

export interface SyncStatusOptions {
  /** The Dexie adapter, so that `sync()` also flushes and pulls. */
  sync?: Sync;
  /** The page client (default: `client.js`). Give one object for the component's life (the module, or one made once): a new object re-subscribes and asks for the status again. */
  client?: Pick<typeof Client, 'onStatus' | 'status' | 'replay'>;
}

export function useSyncStatus(options?: SyncStatusOptions): SyncStatusState;
export function useNetworkStatus(): boolean;

type Query<T> = (table: Table<T, string>) => Collection<T, string> | Table<T, string> | T[] | Promise<T[]>;

/** Live records without the soft-deleted ones; undefined while loading. */
export function useRecords<T extends SyncFields>(table: Table<T, string>, query?: Query<T>, deps?: unknown[]): T[] | undefined;
/** One live record; null when missing or soft-deleted, undefined while loading. */
export function useRecord<T extends SyncFields>(table: Table<T, string>, id: string | null | undefined): T | null | undefined;
