/** What the worker reports on every change. */
export interface SyncStatus {
  /** Entries still queued. */
  pending: number;
  /** A replay is under way. */
  syncing: boolean;
  /** When the last replay finished (ms since the epoch), or null. */
  lastSyncAt: number | null;
  /** The last failure seen, or null. */
  lastError: string | null;
}

/** A queued mutation as a page sees it (headers and body stay in the worker). */
export interface PendingEntry {
  id: number;
  method: string;
  url: string;
  queuedAt: number;
  attempts: number;
  lastStatus: number | null;
  lastError: string | null;
}

export type SyncEvent =
  | ({ type: 'offline-sync:status' } & SyncStatus)
  | { type: 'offline-sync:queued'; id: number; method: string; url: string; pending: number }
  | { type: 'offline-sync:replayed'; id: number; method: string; url: string; status: number; body: string; bodyTruncated: boolean }
  | { type: 'offline-sync:expired'; id: number; method: string; url: string; queuedAt: number }
  | { type: 'offline-sync:failed'; id: number | null; method: string; url: string; status: number | null; error: string; attempts: number };

/** Worker options, sent as the worker URL's query string. */
export interface WorkerOptions {
  /** Path prefixes to protect (default `/api/`). */
  prefix?: string | string[];
  /** Methods to protect (default POST, PUT, PATCH, DELETE). */
  methods?: string | string[];
  /** Minutes a queued entry is kept (default 1440). */
  maxRetentionTime?: number;
  /** Background Sync tag (default `offline-sync`). */
  syncTag?: string;
}

export function register(url?: string, options?: WorkerOptions): Promise<ServiceWorkerRegistration>;
export function onStatus(cb: (status: SyncStatus) => void): () => void;
export function onEvent(cb: (event: SyncEvent) => void): () => void;
export function status(): Promise<SyncStatus>;
export function replay(): Promise<SyncStatus>;
export function pending(): Promise<PendingEntry[]>;
