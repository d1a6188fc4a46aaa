// The offline-sync demo: a task list that keeps working offline. Writes go to /api/tasks as
// usual; when the network loses one, the offline-sync worker queues it, answers 202, and
// replays it later. The page keeps its own unconfirmed changes in localStorage so a reload
// still shows them until the server has them.
import * as offlineSync from '/client.js';

const $ = (id) => document.getElementById(id);
const SERVER_KEY = 'offline-sync-demo:server'; // the last task list the server sent
const LOCAL_KEY = 'offline-sync-demo:local'; // changes the server has not confirmed yet

function load(key, fallback) {
  try {
    return JSON.parse(localStorage.getItem(key)) ?? fallback;
  } catch {
    return fallback;
  }
}

let serverTasks = load(SERVER_KEY, []);
// changes: taskId -> {task?, done?, deleted?}, shown on top of the server's list.
// queue: worker queue id -> {taskId, method, addedAt}, for requests the worker holds for later.
const local = load(LOCAL_KEY, { changes: {}, queue: {} });
const changesAtLoad = new Set(Object.keys(local.changes));
let lastPending = null;

function save() {
  localStorage.setItem(SERVER_KEY, JSON.stringify(serverTasks));
  localStorage.setItem(LOCAL_KEY, JSON.stringify(local));
}

/** Wraps an async loader so that only the answer to the newest call is applied. */
function newestOnly(fetchIt, apply) {
  let ticket = 0;
  return async () => {
    const mine = ++ticket;
    let value;
    try {
      value = await fetchIt();
    } catch {
      return; // offline or no worker yet: keep what is shown
    }
    if (mine === ticket) apply(value);
  };
}

const refresh = newestOnly(
  async () => {
    const response = await fetch('/api/tasks');
    if (!response.ok) throw new Error(`GET /api/tasks: ${response.status}`);
    return response.json();
  },
  (tasks) => {
    serverTasks = tasks;
    reconcile();
    save();
    render();
  },
);

const refreshQueue = newestOnly(
  async () => ({ asked: Date.now(), entries: await offlineSync.pending() }),
  ({ asked, entries }) => {
    forgetDelivered(asked, entries);
    renderQueue(entries);
  },
);

// --- local changes ------------------------------------------------------------------------

/** Forgets the local changes the server now reflects. */
function reconcile() {
  const onServer = new Map(serverTasks.map((t) => [t.id, t]));
  for (const [id, change] of Object.entries(local.changes)) {
    const server = onServer.get(id);
    if (change.task && server) delete change.task;
    const gone = !server && !change.task;
    if (change.done !== undefined && (gone || server?.done === change.done)) delete change.done;
    if (change.deleted && gone) delete change.deleted;
    tidy(id);
  }
}

function tidy(id) {
  const change = local.changes[id];
  if (change && !change.task && change.done === undefined && !change.deleted) delete local.changes[id];
}

/** Undoes the optimistic part of a request that the server (or the worker) gave up on. */
function revert(taskId, method) {
  const change = local.changes[taskId];
  if (!change) return;
  if (method === 'POST') delete change.task;
  if (method === 'PATCH') delete change.done;
  if (method === 'DELETE') delete change.deleted;
  tidy(taskId);
  save();
  render();
}

function change(id, update) {
  Object.assign((local.changes[id] ??= {}), update);
  save();
  render();
}

/** Sends a change; a 202 `{queued: true}` means the worker holds it for later. */
async function send(method, url, body, taskId) {
  const init = { method };
  if (body) {
    init.headers = { 'content-type': 'application/json' };
    init.body = JSON.stringify(body);
  }
  try {
    const response = await fetch(url, init);
    if (response.status === 202) {
      const answer = await response.json().catch(() => null);
      if (answer?.queued) {
        local.queue[answer.id] = { taskId, method, addedAt: Date.now() };
        save();
        render();
        return;
      }
    }
    if (!response.ok) {
      const answer = await response.json().catch(() => null);
      revert(taskId, method);
      showMessage(`${method} ${url}: ${response.status} ${answer?.error ?? response.statusText}`);
    }
  } catch (error) {
    revert(taskId, method);
    showMessage(`${method} ${url} failed: ${error.message}`);
  }
  refresh();
}

function addTask(title) {
  const id = crypto.randomUUID();
  const now = Date.now();
  change(id, { task: { id, title, done: false, createdAt: now, updatedAt: now } });
  send('POST', '/api/tasks', { id, title }, id);
}

function setDone(id, done) {
  change(id, { done });
  send('PATCH', `/api/tasks/${encodeURIComponent(id)}`, { done }, id);
}

function removeTask(id) {
  change(id, { deleted: true });
  send('DELETE', `/api/tasks/${encodeURIComponent(id)}`, null, id);
}

// --- worker events ------------------------------------------------------------------------

/** A queued request left the worker's queue: forget it, and undo it if it never went through. */
function settle(event, undo) {
  const entry = local.queue[event.id];
  if (!entry) return;
  delete local.queue[event.id];
  if (undo) revert(entry.taskId, entry.method);
  save();
  render();
}

/** Forgets queue entries the worker no longer holds (their event may have been missed). */
function forgetDelivered(asked, entries) {
  const live = new Set(entries.map((entry) => String(entry.id)));
  for (const [id, entry] of Object.entries(local.queue)) {
    if (!live.has(id) && entry.addedAt < asked) delete local.queue[id];
  }
  save();
  render();
}

function onWorkerEvent(event) {
  switch (event.type) {
    case 'offline-sync:queued':
      refreshQueue();
      break;
    case 'offline-sync:replayed':
      settle(event, event.status >= 400);
      refresh();
      break;
    case 'offline-sync:failed': // the worker keeps the entry and tries again later
      showMessage(`${event.method} ${event.url}: ${event.error} (attempt ${event.attempts}); will retry`);
      refreshQueue();
      break;
    case 'offline-sync:expired':
      settle(event, true);
      showMessage(`${event.method} ${event.url} expired before it could be synced`);
      refresh();
      break;
  }
}

function showStatus(status) {
  const badge = $('sync-badge');
  const state = status.syncing ? 'syncing' : status.pending > 0 ? 'pending' : 'synced';
  badge.dataset.state = state;
  badge.textContent = { syncing: 'Syncing…', pending: `${status.pending} pending`, synced: 'All synced' }[state];
  badge.title = status.lastError
    ? `Last error: ${status.lastError}`
    : status.lastSyncAt ? `Last sync at ${new Date(status.lastSyncAt).toLocaleTimeString()}` : '';
  if (lastPending > 0 && status.pending === 0) refresh();
  lastPending = status.pending;
  refreshQueue();
}

/** At start, no request is in flight: a stored change the worker does not hold any more was
 *  replayed (the server list shows it) or given up while no page was open. */
async function dropStaleChanges() {
  const asked = Date.now();
  const entries = await offlineSync.pending();
  forgetDelivered(asked, entries);
  const waiting = new Set(Object.values(local.queue).map((entry) => entry.taskId));
  for (const id of changesAtLoad) if (!waiting.has(id)) delete local.changes[id];
  save();
  render();
  renderQueue(entries);
}

// --- rendering ----------------------------------------------------------------------------

function element(tag, props = {}, ...children) {
  const node = Object.assign(document.createElement(tag), props);
  node.append(...children);
  return node;
}

function render() {
  const queued = new Set(Object.values(local.queue).map((entry) => entry.taskId));
  const onServer = new Set(serverTasks.map((t) => t.id));
  const localOnly = Object.values(local.changes)
    .filter((c) => c.task && !onServer.has(c.task.id))
    .map((c) => c.task)
    .sort((a, b) => a.createdAt - b.createdAt);
  const tasks = [...serverTasks, ...localOnly].filter((t) => !local.changes[t.id]?.deleted);

  $('task-list').replaceChildren(
    ...tasks.map((task) => {
      const done = local.changes[task.id]?.done ?? task.done;
      const toggle = element('input', { type: 'checkbox', checked: done, className: 'toggle' });
      toggle.dataset.testid = 'toggle';
      toggle.setAttribute('aria-label', `Done: ${task.title}`);
      const remove = element('button', { type: 'button', className: 'delete', textContent: 'Delete' });
      remove.dataset.testid = 'delete';
      const item = element('li', { className: done ? 'done' : '' }, toggle, element('span', { className: 'title', textContent: task.title }));
      if (queued.has(task.id)) item.append(element('span', { className: 'tag', textContent: 'pending' }));
      item.append(remove);
      item.dataset.id = task.id;
      return item;
    }),
  );
  $('empty').hidden = tasks.length > 0;
}

function renderQueue(entries) {
  $('queue-list').replaceChildren(
    ...entries.map((entry) => {
      const item = element('li', { textContent: `${entry.method} ${entry.url} · attempts: ${entry.attempts}` });
      item.dataset.id = entry.id;
      if (entry.lastError) item.append(' · ', element('span', { className: 'error', textContent: entry.lastError }));
      return item;
    }),
  );
  $('queue-empty').hidden = entries.length > 0;
}

let messageTimer;
function showMessage(text) {
  const box = $('message');
  box.textContent = text;
  box.hidden = false;
  clearTimeout(messageTimer);
  messageTimer = setTimeout(() => (box.hidden = true), 8000);
}

function showOnline() {
  $('offline-banner').hidden = navigator.onLine;
}

// --- wiring -------------------------------------------------------------------------------

$('add-form').addEventListener('submit', (event) => {
  event.preventDefault();
  const input = $('new-title');
  const title = input.value.trim();
  if (!title) return;
  input.value = '';
  addTask(title);
});

$('task-list').addEventListener('change', (event) => {
  if (event.target.matches('input.toggle')) setDone(event.target.closest('li').dataset.id, event.target.checked);
});

$('task-list').addEventListener('click', (event) => {
  if (event.target.matches('button.delete')) removeTask(event.target.closest('li').dataset.id);
});

$('sync-now').addEventListener('click', async (event) => {
  event.target.disabled = true;
  try {
    showStatus(await offlineSync.replay());
  } catch (error) {
    showMessage(`Sync failed: ${error.message}`);
  } finally {
    event.target.disabled = false;
  }
  refresh();
});

addEventListener('online', () => {
  showOnline();
  refresh();
});
addEventListener('offline', showOnline);

async function start() {
  showOnline();
  render();
  refresh();
  try {
    await offlineSync.register('/sw.js');
  } catch (error) {
    showMessage(`Offline support is unavailable: ${error.message}`);
    return;
  }
  offlineSync.onStatus(showStatus);
  offlineSync.onEvent(onWorkerEvent);
  try {
    await dropStaleChanges();
    showStatus(await offlineSync.status());
  } catch (error) {
    showMessage(`The offline-sync worker does not answer: ${error.message}`);
  }
}

start();
