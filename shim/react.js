// offline-sync's React bindings: the worker's status, the network, and live Dexie queries of
// synced records (soft-deleted ones left out).
//
//   import { useSyncStatus, useNetworkStatus, useRecords, useRecord } from '/react.js';
//   const { pending, syncing, lastSync, deadLetters, sync } = useSyncStatus({ sync: adapter });
//   const tasks = useRecords(db.tasks, (t) => t.where('projectId').equals(pid), [pid]);
import { useCallback, useEffect, useState, useSyncExternalStore } from 'react';
import { useLiveQuery } from 'dexie-react-hooks';
import * as defaultClient from './client.js';
import { followStatus } from './client.js';

const INITIAL = { pending: 0, syncing: false, lastSync: null, deadLetters: 0, lastError: null, authRequired: false, ready: false };

function fromStatus(status) {
  return {
    pending: status.pending ?? 0,
    syncing: Boolean(status.syncing),
    lastSync: status.lastSyncAt ?? null,
    deadLetters: status.deadLetters ?? 0,
    lastError: status.lastError ?? null,
    authRequired: Boolean(status.authRequired),
    ready: true,
  };
}

/**
 * The worker's status, kept current: `{pending, syncing, lastSync, deadLetters, lastError,
 * authRequired, ready, sync()}`. `sync()` replays the worker's queue now, then (given the Dexie
 * adapter as `sync`) sends what waits locally and pulls.
 */
export function useSyncStatus({ sync: adapter, client = defaultClient } = {}) {
  const [state, setState] = useState(INITIAL);
  useEffect(() => followStatus((status) => setState(fromStatus(status)), client), [client]);
  const sync = useCallback(() => (adapter ? adapter.sync() : client.replay()), [adapter, client]);
  return { ...state, sync };
}

function subscribeNetwork(onChange) {
  window.addEventListener('online', onChange);
  window.addEventListener('offline', onChange);
  return () => {
    window.removeEventListener('online', onChange);
    window.removeEventListener('offline', onChange);
  };
}

/** Whether the browser says it is online (`navigator.onLine`, updated on online/offline). */
export function useNetworkStatus() {
  return useSyncExternalStore(subscribeNetwork, () => navigator.onLine, () => true);
}

const live = (rows) => rows.filter((row) => row && !row._deleted);

/**
 * The records of a Dexie table, live, without the soft-deleted ones. `query(table)` may narrow
 * them (a Collection, a Table, or a promise of an array); list what it depends on in `deps`.
 * Undefined while the first answer loads.
 */
export function useRecords(table, query, deps = []) {
  return useLiveQuery(async () => {
    const source = query ? await query(table) : table;
    return live(Array.isArray(source) ? source : await source.toArray());
  }, [table, ...deps]);
}

/** One record by id, live: null when missing or soft-deleted, undefined while loading. */
export function useRecord(table, id) {
  return useLiveQuery(async () => {
    if (id == null) return null;
    const row = await table.get(id);
    return row && !row._deleted ? row : null;
  }, [table, id]);
}
