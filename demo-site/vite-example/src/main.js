// A fresh app's whole integration: register the worker, show what is pending, POST as usual.
import { register, onStatus, status, replay, pending } from 'offline-sync';

const $ = (id) => document.getElementById(id);
let controlled = false;

function render(st) {
  $('pending').textContent = String(st.pending);
  let text = controlled ? 'Protected: mutations are kept while offline.' : 'Starting…';
  if (st.syncing) text = 'Syncing…';
  else if (!navigator.onLine) text = 'Offline: changes wait in the queue.';
  else if (st.lastError && st.pending > 0) text = `Waiting for the network (${st.lastError}).`;
  else if (st.lastSyncAt) text = `Up to date, synced at ${new Date(st.lastSyncAt).toLocaleTimeString()}.`;
  $('state').textContent = text;
  showQueue();
}

async function showQueue() {
  const entries = await pending();
  $('queue').replaceChildren(...entries.map((e) => item(`${e.method} ${new URL(e.url).pathname}`)));
}

function item(text) {
  const li = document.createElement('li');
  li.textContent = text;
  return li;
}

$('add').addEventListener('submit', async (event) => {
  event.preventDefault();
  const title = $('title').value.trim();
  $('title').value = '';
  const res = await fetch('/api/tasks', {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ title }),
  });
  // 201 from the server online; 202 {queued: true} from the worker offline.
  $('sent').append(item(`${title}: ${res.status === 202 ? 'queued' : res.status}`));
  render(await status());
});

$('sync').addEventListener('click', async () => render(await replay()));
for (const name of ['online', 'offline']) window.addEventListener(name, async () => render(await status()));

async function start() {
  onStatus(render);
  await register('/sw.js', { prefix: '/api/' });
  await navigator.serviceWorker.ready;
  if (!navigator.serviceWorker.controller) {
    // The first visit: sw.js claims the page as soon as it is active.
    await new Promise((resolve) => navigator.serviceWorker.addEventListener('controllerchange', resolve, { once: true }));
  }
  controlled = true;
  render(await status());
}

start().catch((error) => {
  $('state').textContent = `offline-sync did not start: ${error.message}`;
});
