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
  /** Entries given up on, waiting for the page to retry or discard them. */
  deadLetters: number;
  /** The server refused the credentials (401/403): replay waits for `setReplayHeaders`. */
  authRequired: boolean;
  /** Sends saved by coalescing since the worker started. */
  coalesced: number;
}

/**
 * An entry the worker gave up on. `method`/`url` are null for a queue record that could not be
 * read, and `deadAt` too for a dead letter that could not be read itself: its `reason` says why,
 * and it can only be discarded.
 */
export interface DeadLetter {
  id: number;
  method: string | null;
  url: string | null;
  status: number | null;
  reason: string;
  /** The first 4 KiB of the server's answer, as text. */
  answer: string | null;
  queuedAt: number | null;
  deadAt: number | null;
  attempts: number;
}

/** A queued mutation as a page sees it (headers and body stay in the worker). */
export interface PendingEntry {
  /** Its queue id: null only for an entry not stored yet, which a listing never holds. */
  id: number | null;
  method: string;
  url: string;
  queuedAt: number;
  attempts: number;
  /** Not sent again before this time (back-off or Retry-After), or null. */
  nextAttemptAt: number | null;
  lastStatus: number | null;
  lastError: string | null;
}

/** What the worker posts to every page, told apart by `type`. */
export type SyncEvent =
  | ({ type: 'offline-sync:status' } & SyncStatus)
  | { type: 'offline-sync:queued'; id: number; method: string; url: string; pending: number }
  | { type: 'offline-sync:replayed'; id: number; method: string; url: string; status: number; body: string; bodyTruncated: boolean }
  | { type: 'offline-sync:expired'; id: number; method: string; url: string; queuedAt: number }
  | { type: 'offline-sync:failed'; id: number | null; method: string; url: string; status: number | null; error: string; attempts: number }
  | { type: 'offline-sync:dead-lettered'; id: number; method: string | null; url: string | null; status: number | null; reason: string }
  | { type: 'offline-sync:auth-required'; id: number; method: string; url: string; status: number }
  | { type: 'offline-sync:coalesced'; into: number; method: string; url: string; cancelled: boolean; pending: number }
  /** In a round of news, in the status's place, when the worker could not read it. */
  | { type: 'offline-sync:error'; message: string };

/** The worker's answers to a page's request (`get-pending`, `get-dead-letters`, or one it could not do). */
export type SyncAnswer =
  | ({ type: 'offline-sync:status' } & SyncStatus)
  | { type: 'offline-sync:pending'; entries: PendingEntry[] }
  | { type: 'offline-sync:dead-letters'; entries: DeadLetter[] }
  | { type: 'offline-sync:error'; message: string };

/** Every message the worker sends a page, told apart by `type`. */
export type WorkerMessage = SyncEvent | SyncAnswer;

/** The body of the 202 a page gets when its mutation is queued. */
export interface QueuedAnswer {
  queued: true;
  /** The queue entry it became. */
  id: number;
  /** Entries now waiting. */
  pending: number;
}

/** The 202 body when the mutation merged into a waiting entry on the same record. */
export interface CoalescedAnswer {
  queued: true;
  coalesced: true;
  /** The waiting entry it merged into. */
  id: number;
  pending: number;
}

/** The 202 body when a delete cancelled the waiting create of the same record: nothing is sent. */
export interface CancelledAnswer {
  queued: false;
  coalesced: true;
  /** The waiting entry it cancelled. */
  cancelled: number;
  pending: number;
}

/** The body of an answer the worker made itself without queuing (413, 507). */
export interface ErrorAnswer {
  queued: false;
  error: string;
}

/** What a mutation the worker answered itself carries: a 202, or a 413/507 error. */
export type WorkerAnswer = QueuedAnswer | CoalescedAnswer | CancelledAnswer | ErrorAnswer;

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
  /** Larger bodies are not queued: the page gets 413 (default 10 MiB). */
  maxBodyBytes?: number;
  /** Retryable answers (408, 425, 429, 5xx but 501 and 505, 409 with `Retry-After`) before an entry becomes a dead letter (default 5). */
  maxAttempts?: number;
  /** Store `Authorization` and `Cookie` headers in IndexedDB (default false). */
  persistAuthorization?: boolean;
  /** Merge waiting operations on one record: true (default, under every prefix), false, or prefixes. */
  coalesce?: boolean | string | string[];
  /** Store every mutation before it is sent, not only when the network fails (default false). */
  queueFirst?: boolean;
  /** Add the worker's own fetch listener (default true); false when the app calls offlineSyncWorker.handle(). */
  fetchListener?: boolean;
  /** One console line per decision (default false). */
  debug?: boolean;
  /** A same-origin path taking many mutations in one POST (e.g. '/api/_batch'); replay then sends batches. */
  batchUrl?: string;
  /** Most entries per batch (default 50, at most 500). */
  batchSize?: number;
  /**
   * Most requests a replay has out at once, without batches (default 1, at most 16). Above 1,
   * order is kept per record and per URL only: for servers whose records are independent.
   */
  replayConcurrency?: number;
}

export function register(url?: string, options?: WorkerOptions): Promise<ServiceWorkerRegistration>;
export function onStatus(cb: (status: SyncStatus) => void): () => void;
/** `cb` gets the current status, then every change; a pushed status wins over the first one asked for, and a first ask that fails is made again (1 s, doubling up to 30 s). */
export function followStatus(
  cb: (status: SyncStatus) => void,
  source?: { onStatus(cb: (status: SyncStatus) => void): () => void; status(): Promise<SyncStatus> },
): () => void;
export function onEvent(cb: (event: SyncEvent) => void): () => void;
export function status(): Promise<SyncStatus>;
export function replay(): Promise<SyncStatus>;
export function pending(): Promise<PendingEntry[]>;
export function deadLetters(): Promise<DeadLetter[]>;
export function retryDeadLetter(id: number): Promise<SyncStatus>;
export function discardDeadLetter(id: number): Promise<SyncStatus>;
export function setReplayHeaders(headers: Record<string, string>): Promise<SyncStatus>;
