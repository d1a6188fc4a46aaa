// Loaded by dist/sw.js in place of offline-sync's engine: a worker with one fetch listener and
// nothing else, under the same static routes. Its page load after idle is what any worker with a
// fetch listener costs there. The listener is not empty on purpose: Chromium skips an empty one.
self.addEventListener('fetch', (event) => {
  if (event.request.method === 'POST') event.respondWith(fetch(event.request));
});
