// The page: vite-plugin-pwa registers the worker; offline-sync's client reads what it holds.
import { onEvent, onStatus, pending, replay, status } from 'offline-sync';

const $ = (id) => document.getElementById(id);
$('build').textContent = __BUILD__;
onStatus((st) => { $('pending').textContent = String(st.pending); });

// For the tests: what the worker said, and the client's questions.
window.events = [];
onEvent((message) => window.events.push(message));
window.offlineSync = { pending, replay, status };

$('add').addEventListener('submit', async (event) => {
  event.preventDefault();
  const title = $('title').value.trim();
  $('title').value = '';
  const res = await fetch('/api/tasks', { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ title }) });
  const li = document.createElement('li');
  li.textContent = `${title}: ${res.status === 202 ? 'queued' : res.status}`;
  $('sent').append(li);
});
