// offline-sync's Vue 3 bindings: the worker's status, the network, and live Dexie queries of
// synced records (soft-deleted ones left out), as refs.
//
//   import { useSyncStatus, useNetworkStatus, useRecords, useRecord } from '/vue.js';
//   const { pending, syncing, lastSync, deadLetters, sync } = useSyncStatus({ sync: adapter });
//   const tasks = useRecords(db.tasks, (t) => t.where('projectId').equals(pid.value), [pid]);
import { getCurrentScope, onScopeDispose, readonly, ref, shallowRef, toValue, watch } from 'vue';
import { liveQuery } from 'dexie';
import * as defaultClient from './client.js';
import { followStatus } from './client.js';

function onDispose(fn) {
  if (getCurrentScope()) onScopeDispose(fn);
}

/**
 * The worker's status as refs: `{pending, syncing, lastSync, deadLetters, lastError,
 * authRequired, ready, sync()}`. `sync()` replays the worker's queue now, then (given the Dexie
 * adapter as `sync`) sends what waits locally and pulls.
 */
export function useSyncStatus({ sync: adapter, client = defaultClient } = {}) {
  const refs = {
    pending: ref(0),
    syncing: ref(false),
    lastSync: ref(null),
    deadLetters: ref(0),
    lastError: ref(null),
    authRequired: ref(false),
    ready: ref(false),
  };
  const apply = (status) => {
    refs.pending.value = status.pending ?? 0;
    refs.syncing.value = Boolean(status.syncing);
    refs.lastSync.value = status.lastSyncAt ?? null;
    refs.deadLetters.value = status.deadLetters ?? 0;
    refs.lastError.value = status.lastError ?? null;
    refs.authRequired.value = Boolean(status.authRequired);
    refs.ready.value = true;
  };
  onDispose(followStatus(apply, client));
  const sync = () => (adapter ? adapter.sync() : client.replay());
  const out = { sync };
  for (const [name, value] of Object.entries(refs)) out[name] = readonly(value);
  return out;
}

/** A ref of whether the browser says it is online (`navigator.onLine`). */
export function useNetworkStatus() {
  const online = ref(navigator.onLine);
  const update = () => (online.value = navigator.onLine);
  window.addEventListener('online', update);
  window.addEventListener('offline', update);
  onDispose(() => {
    window.removeEventListener('online', update);
    window.removeEventListener('offline', update);
  });
  return readonly(online);
}

/**
 * A ref holding the live result of `querier()` (Dexie's liveQuery), undefined while the first
 * answer loads. It runs again when a ref or getter in `deps` changes. A query that fails keeps
 * the last result and says why on the console (with no error handler, liveQuery would not).
 */
export function useLiveQuery(querier, deps = []) {
  const result = shallowRef(undefined);
  let subscription = null;
  const stop = watch(
    deps.map((dep) => () => toValue(dep)),
    () => {
      subscription?.unsubscribe();
      subscription = liveQuery(querier).subscribe({
        next: (value) => {
          result.value = value;
        },
        error: (e) => console.error('offline-sync/vue: a live query failed', e),
      });
    },
    { immediate: true },
  );
  onDispose(() => {
    stop();
    subscription?.unsubscribe();
  });
  return result;
}

const live = (rows) => rows.filter((row) => row && !row._deleted);

/**
 * The records of a Dexie table (a table, or a ref/getter of one), live, without the
 * soft-deleted ones. `query(table)` may narrow them; put the refs it reads in `deps`.
 */
export function useRecords(table, query, deps = []) {
  return useLiveQuery(async () => {
    const t = toValue(table);
    const source = query ? await query(t) : t;
    return live(Array.isArray(source) ? source : await source.toArray());
  }, [table, ...deps]);
}

/** One record by id (a value, ref or getter), live: null when missing or soft-deleted. */
export function useRecord(table, id) {
  return useLiveQuery(async () => {
    const key = toValue(id);
    if (key == null) return null;
    const row = await toValue(table).get(key);
    return row && !row._deleted ? row : null;
  }, [table, id]);
}
