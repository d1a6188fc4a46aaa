// The offline-sync demo: projects and tasks that keep working offline.
//
// Records live in IndexedDB (Dexie) and the page renders them from live queries, so every change
// shows at once. The Dexie adapter (/dexie.js) sends each change to /api/…; the offline-sync worker
// delivers it, or queues it while offline and replays it later. Pulls bring in other devices'
// changes; conflicts are settled by last-write-wins.
import Dexie, { liveQuery } from 'dexie';
import { createSync, syncStores } from '/dexie.js';
import * as offlineSync from '/client.js';

const $ = (id) => document.getElementById(id);

const db = new Dexie('offline-sync-demo');
db.version(1).stores(syncStores({ tasks: 'id, projectId, createdAt', projects: 'id, createdAt' }));

const sync = createSync(db, {
  collections: { tasks: 'tasks', projects: 'projects' },
  conflict: 'lww',
  onError: (error) => console.warn('sync:', error),
});

// For the end-to-end tests, and for poking at in DevTools.
window.demo = { db, sync, offlineSync };

const STATUS = { todo: 'To do', in_progress: 'In progress', done: 'Done' };
const NEXT_STATUS = { todo: 'in_progress', in_progress: 'done', done: 'todo' };
const PRIORITY = { low: 'Low', medium: 'Medium', high: 'High' };
const PALETTE = ['#4f7cff', '#e4572e', '#17a398', '#f3a712', '#a14ebf', '#3d9970'];

const state = {
  tasks: [],
  projects: [],
  filter: null, // a project id, or null for all
  status: { pending: 0, syncing: false, lastSyncAt: null, lastError: null, deadLetters: 0 },
  replayTotal: 0, // entries waiting when the running replay began, for the progress bar
};

// --- small DOM helpers ----------------------------------------------------------------------

function el(tag, props = {}, ...children) {
  const node = document.createElement(tag);
  for (const [key, value] of Object.entries(props)) {
    if (value === undefined || value === null || value === false) continue;
    if (key === 'class') node.className = value;
    else if (key === 'dataset') Object.assign(node.dataset, value);
    else if (key === 'style') node.style.cssText = value;
    else if (key in node) node[key] = value;
    else node.setAttribute(key, value);
  }
  node.append(...children.flat().filter((c) => c !== null && c !== undefined && c !== false));
  return node;
}

const tagsFrom = (text) => [...new Set(text.split(',').map((t) => t.trim()).filter(Boolean))];
const today = () => new Date().toISOString().slice(0, 10);

function formatDue(date) {
  if (!date) return null;
  const d = new Date(`${date}T00:00:00`);
  return d.toLocaleDateString(undefined, { day: 'numeric', month: 'short' });
}

let messageTimer;
function showMessage(text) {
  const box = $('message');
  box.textContent = text;
  box.hidden = false;
  clearTimeout(messageTimer);
  messageTimer = setTimeout(() => (box.hidden = true), 8000);
}

async function attempt(what, action) {
  try {
    await action();
  } catch (error) {
    showMessage(`${what}: ${error.message}`);
  }
}

// --- projects -------------------------------------------------------------------------------

function projectById(id) {
  return state.projects.find((p) => p.id === id) ?? null;
}

function renderProjects() {
  const live = state.projects.filter((p) => !p._deleted);
  const counts = new Map();
  for (const t of state.tasks) if (!t._deleted && t.status !== 'done') counts.set(t.projectId ?? null, (counts.get(t.projectId ?? null) ?? 0) + 1);
  const open = state.tasks.filter((t) => !t._deleted && t.status !== 'done').length;

  const item = (id, name, color, count, synced = true) =>
    el('li', { class: state.filter === id ? 'selected' : '', dataset: { id: id ?? '' } },
      el('button', { type: 'button', class: 'project-pick', dataset: { testid: 'project-pick' } },
        el('span', { class: 'dot', style: `background:${color}` }),
        el('span', { class: 'name', textContent: name }),
        synced ? null : el('span', { class: 'unsynced', title: 'Not synced yet', textContent: '•' }),
        el('span', { class: 'count', textContent: count ? String(count) : '' })),
      id ? el('button', { type: 'button', class: 'project-delete', title: `Delete ${name}`, 'aria-label': `Delete project ${name}`, textContent: '×' }) : null);

  $('project-list').replaceChildren(
    item(null, 'All tasks', '#9aa5b1', open),
    ...live.map((p) => item(p.id, p.name, p.color, counts.get(p.id) ?? 0, p._synced !== false)),
  );

  for (const select of [$('new-project'), document.querySelector('#edit-form [name=projectId]')]) {
    const value = select.value;
    select.replaceChildren(el('option', { value: '', textContent: 'No project' }), ...live.map((p) => el('option', { value: p.id, textContent: p.name })));
    select.value = live.some((p) => p.id === value) ? value : '';
  }
  if (state.filter && live.some((p) => p.id === state.filter)) $('new-project').value = state.filter;
}

$('project-form').addEventListener('submit', (event) => {
  event.preventDefault();
  const name = $('project-name').value.trim();
  if (!name) return;
  const color = $('project-color').value;
  $('project-name').value = '';
  $('project-color').value = PALETTE[(state.projects.length + 1) % PALETTE.length];
  attempt('Could not add the project', () => sync.create('projects', { name, color }));
});

$('project-list').addEventListener('click', (event) => {
  const item = event.target.closest('li');
  if (!item) return;
  const id = item.dataset.id || null;
  if (event.target.closest('.project-delete')) {
    const project = projectById(id);
    if (!project || !confirm(`Delete the project "${project.name}"? Its tasks stay, without a project.`)) return;
    if (state.filter === id) state.filter = null;
    attempt('Could not delete the project', async () => {
      for (const t of state.tasks.filter((t) => t.projectId === id && !t._deleted)) await sync.update('tasks', t.id, { projectId: null });
      await sync.remove('projects', id);
    });
    return;
  }
  state.filter = id;
  renderProjects();
  renderTasks();
});

// --- tasks ----------------------------------------------------------------------------------

function visibleTasks() {
  return state.tasks.filter((t) => !t._deleted && (state.filter === null || t.projectId === state.filter));
}

function renderTask(task) {
  const project = projectById(task.projectId);
  const done = task.status === 'done';
  const overdue = task.dueDate && !done && task.dueDate < today();
  const toggle = el('input', { type: 'checkbox', class: 'toggle', checked: done, 'aria-label': `Done: ${task.title}`, dataset: { testid: 'toggle' } });
  const details = el('div', { class: 'details' },
    el('span', { class: 'title', textContent: task.title }),
    task.description ? el('span', { class: 'description', textContent: task.description }) : null,
    el('div', { class: 'meta' },
      el('button', { type: 'button', class: `status status-${task.status}`, title: 'Next status', dataset: { testid: 'status' }, textContent: STATUS[task.status] ?? task.status }),
      el('span', { class: `priority priority-${task.priority}`, textContent: PRIORITY[task.priority] ?? task.priority }),
      project ? el('span', { class: 'chip', style: `--chip:${project.color}` }, el('span', { class: 'dot', style: `background:${project.color}` }), project.name) : null,
      task.dueDate ? el('span', { class: overdue ? 'due overdue' : 'due', textContent: `Due ${formatDue(task.dueDate)}` }) : null,
      (task.tags ?? []).map((tag) => el('span', { class: 'tag', textContent: `#${tag}` })),
      task._error
        ? el('span', { class: 'sync-flag error', title: task._error.message, dataset: { testid: 'sync-error' }, textContent: 'refused' })
        : task._synced === false ? el('span', { class: 'sync-flag', title: 'Saved here, not on the server yet', dataset: { testid: 'unsynced' }, textContent: 'not synced' }) : null));
  const actions = el('div', { class: 'actions' },
    el('button', { type: 'button', class: 'edit', dataset: { testid: 'edit' }, textContent: 'Edit' }),
    el('button', { type: 'button', class: 'delete', dataset: { testid: 'delete' }, textContent: 'Delete' }));
  return el('li', { class: done ? 'task done' : 'task', dataset: { id: task.id, synced: String(task._synced !== false) } }, toggle, details, actions);
}

function renderTasks() {
  const tasks = visibleTasks();
  $('task-list').replaceChildren(...tasks.map(renderTask));
  $('empty').hidden = tasks.length > 0;
  $('list-title').textContent = state.filter ? projectById(state.filter)?.name ?? 'Project' : 'All tasks';
  const open = tasks.filter((t) => t.status !== 'done').length;
  $('task-count').textContent = tasks.length ? `${open} open · ${tasks.length - open} done` : '';
  renderBadge();
}

$('add-form').addEventListener('submit', (event) => {
  event.preventDefault();
  const title = $('new-title').value.trim();
  if (!title) return;
  const record = {
    title,
    description: '',
    status: 'todo',
    done: false,
    priority: $('new-priority').value,
    dueDate: $('new-due').value || null,
    tags: tagsFrom($('new-tags').value),
    projectId: $('new-project').value || null,
  };
  $('new-title').value = '';
  $('new-tags').value = '';
  $('new-due').value = '';
  $('new-priority').value = 'medium';
  attempt('Could not add the task', () => sync.create('tasks', record));
});

function setStatus(id, status) {
  return attempt('Could not change the task', () => sync.update('tasks', id, { status, done: status === 'done' }));
}

$('task-list').addEventListener('change', (event) => {
  if (!event.target.matches('input.toggle')) return;
  setStatus(event.target.closest('li').dataset.id, event.target.checked ? 'done' : 'todo');
});

$('task-list').addEventListener('click', (event) => {
  const item = event.target.closest('li');
  if (!item) return;
  const task = state.tasks.find((t) => t.id === item.dataset.id);
  if (!task) return;
  if (event.target.closest('button.status')) setStatus(task.id, NEXT_STATUS[task.status] ?? 'todo');
  else if (event.target.closest('button.delete')) attempt('Could not delete the task', () => sync.remove('tasks', task.id));
  else if (event.target.closest('button.edit')) openEditor(task);
});

// --- the edit dialog ------------------------------------------------------------------------

let editing = null;

function openEditor(task) {
  editing = task.id;
  const form = $('edit-form');
  form.elements.title.value = task.title;
  form.elements.description.value = task.description ?? '';
  form.elements.status.value = task.status;
  form.elements.priority.value = task.priority;
  form.elements.projectId.value = task.projectId ?? '';
  form.elements.dueDate.value = task.dueDate ?? '';
  form.elements.tags.value = (task.tags ?? []).join(', ');
  $('edit-dialog').showModal();
}

$('edit-dialog').addEventListener('close', () => {
  const id = editing;
  editing = null;
  if ($('edit-dialog').returnValue !== 'save' || !id) return;
  const form = $('edit-form');
  const task = state.tasks.find((t) => t.id === id);
  if (!task) return;
  const next = {
    title: form.elements.title.value.trim() || task.title,
    description: form.elements.description.value,
    status: form.elements.status.value,
    priority: form.elements.priority.value,
    projectId: form.elements.projectId.value || null,
    dueDate: form.elements.dueDate.value || null,
    tags: tagsFrom(form.elements.tags.value),
  };
  next.done = next.status === 'done';
  // Only what changed: the adapter sends those fields as a merge patch.
  const changes = Object.fromEntries(Object.entries(next).filter(([k, v]) => JSON.stringify(v) !== JSON.stringify(task[k] ?? null)));
  if (Object.keys(changes).length) attempt('Could not save the task', () => sync.update('tasks', id, changes));
});

// --- sync status, queue and dead letters ------------------------------------------------------

function renderBadge() {
  const { pending, syncing, lastSyncAt, lastError, deadLetters } = state.status;
  const unsynced = state.tasks.filter((t) => t._synced === false).length + state.projects.filter((p) => p._synced === false).length;
  const badge = $('sync-badge');
  let label;
  let mode;
  if (syncing) {
    mode = 'syncing';
    label = pending ? `Syncing… ${pending} left` : 'Syncing…';
  } else if (pending > 0) {
    mode = 'pending';
    label = `${pending} pending`;
  } else if (unsynced > 0) {
    mode = 'pending';
    label = `${unsynced} not synced`;
  } else if (deadLetters > 0) {
    mode = 'refused';
    label = `${deadLetters} refused`;
  } else {
    mode = 'synced';
    label = 'All synced';
  }
  badge.dataset.state = mode;
  badge.textContent = label;
  badge.title = lastError ? `Last error: ${lastError}` : lastSyncAt ? `Last sync at ${new Date(lastSyncAt).toLocaleTimeString()}` : '';

  const bar = $('sync-progress');
  bar.hidden = !syncing;
  const total = Math.max(state.replayTotal, pending, 1);
  bar.max = total;
  bar.value = total - pending;
}

function onStatus(status) {
  if (status.syncing && !state.status.syncing) state.replayTotal = status.pending;
  if (status.syncing) state.replayTotal = Math.max(state.replayTotal, status.pending);
  else state.replayTotal = 0;
  state.status = status;
  renderBadge();
  refreshPanel();
}

function describe(entry) {
  const path = new URL(entry.url ?? '', location.href).pathname;
  const [, , collection, id] = path.split('/');
  const list = collection === 'projects' ? state.projects : state.tasks;
  // A create's URL names no record: its row is the one whose request is this queue entry.
  const record = id
    ? list.find((r) => r.id === decodeURIComponent(id))
    : list.find((r) => r._inflight?.queueId === entry.id);
  const name = record ? record.title ?? record.name : null;
  const verb = { POST: 'Create', PUT: 'Replace', PATCH: 'Update', DELETE: 'Delete' }[entry.method] ?? entry.method;
  return el('span', { class: 'what' },
    el('strong', { textContent: `${verb} ${collection === 'projects' ? 'project' : 'task'}` }),
    name ? ` “${name}”` : '',
    el('code', { textContent: `${entry.method} ${path}` }));
}

function renderQueue(entries) {
  $('queue-list').replaceChildren(...entries.map((entry) =>
    el('li', { dataset: { id: entry.id } },
      describe(entry),
      el('span', { class: 'muted', textContent: entry.attempts ? `tried ${entry.attempts}×` : 'waiting' }),
      entry.attempts && entry.lastError ? el('span', { class: 'error', textContent: entry.lastError }) : null)));
  $('queue-empty').hidden = entries.length > 0;
}

/** What the server said, from the start of its answer that the dead letter keeps. */
function refusal(entry) {
  let said = null;
  try {
    said = JSON.parse(entry.answer ?? '')?.error ?? null;
  } catch {
    // not JSON, or cut short
  }
  return [entry.status, said ?? entry.reason].filter(Boolean).join(' · ');
}

function renderDead(entries) {
  $('dead-list').replaceChildren(...entries.map((entry) =>
    el('li', { dataset: { id: entry.id } },
      describe(entry),
      el('span', { class: 'error', textContent: refusal(entry) }),
      el('span', { class: 'buttons' },
        // One that names no request (its record could not be read) can only be discarded.
        entry.method != null && el('button', { type: 'button', class: 'retry', dataset: { testid: 'retry', id: entry.id }, textContent: 'Retry' }),
        el('button', { type: 'button', class: 'discard', dataset: { testid: 'discard', id: entry.id }, textContent: 'Discard' })))));
  $('dead-empty').hidden = entries.length > 0;
}

let panelTicket = 0;
async function refreshPanel() {
  if (!navigator.serviceWorker?.controller) return;
  const ticket = ++panelTicket;
  try {
    const [queue, dead] = await Promise.all([offlineSync.pending(), offlineSync.deadLetters()]);
    if (ticket !== panelTicket) return; // a newer refresh is on its way
    renderQueue(queue);
    renderDead(dead);
  } catch (error) {
    console.warn('the worker does not answer:', error);
  }
}

$('dead-list').addEventListener('click', (event) => {
  const button = event.target.closest('button');
  if (!button) return;
  const id = Number(button.dataset.id);
  button.disabled = true;
  const action = button.classList.contains('retry') ? offlineSync.retryDeadLetter(id) : offlineSync.discardDeadLetter(id);
  attempt(button.classList.contains('retry') ? 'Retry failed' : 'Discard failed', async () => {
    await action;
    await refreshPanel();
  });
});

$('sync-now').addEventListener('click', async (event) => {
  const button = event.currentTarget;
  button.disabled = true;
  try {
    await sync.sync();
  } catch (error) {
    showMessage(`Sync failed: ${error.message}`);
  } finally {
    button.disabled = false;
    refreshPanel();
  }
});

function showOnline() {
  $('offline-banner').hidden = navigator.onLine;
  document.body.classList.toggle('offline', !navigator.onLine);
}
addEventListener('online', showOnline);
addEventListener('offline', showOnline);

// --- start ------------------------------------------------------------------------------------

// The server's order (createdAt, as the server stamped it), with records it has not seen yet
// last: their createdAt is this device's clock until the server's answer replaces it.
const serverOrder = (rows) =>
  rows.sort((a, b) => (a._version == null) - (b._version == null) || a.createdAt - b.createdAt || (a.id < b.id ? -1 : 1));

liveQuery(() => db.projects.orderBy('createdAt').toArray()).subscribe({
  next: (projects) => {
    state.projects = serverOrder(projects);
    renderProjects();
    renderTasks();
  },
  error: (error) => showMessage(`Cannot read projects: ${error.message}`),
});

liveQuery(() => db.tasks.orderBy('createdAt').toArray()).subscribe({
  next: (tasks) => {
    state.tasks = serverOrder(tasks);
    renderProjects();
    renderTasks();
  },
  error: (error) => showMessage(`Cannot read tasks: ${error.message}`),
});

async function start() {
  showOnline();
  try {
    await offlineSync.register('/sw.js');
    offlineSync.onStatus(onStatus);
    offlineSync.onEvent((event) => {
      if (event.type === 'offline-sync:queued' || event.type === 'offline-sync:dead-lettered') refreshPanel();
    });
    navigator.serviceWorker.addEventListener('controllerchange', () => {
      refreshPanel();
      offlineSync.status().then(onStatus, () => {});
    });
    if (navigator.serviceWorker.controller) onStatus(await offlineSync.status());
  } catch (error) {
    showMessage(`Offline support is unavailable: ${error.message}`);
  }
  await sync.start();
}

start();
