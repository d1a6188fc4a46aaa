// Worker B of the benchmark: workbox-background-sync 7.4.1 + routing + strategies, set up as an app
// would to queue failed mutations under /api/. run.mjs bundles it with esbuild (minified,
// production) into target/bench/workbox-sw.js.
import { registerRoute } from 'workbox-routing';
import { NetworkOnly } from 'workbox-strategies';
import { BackgroundSyncPlugin } from 'workbox-background-sync';

const METHODS = ['POST', 'PUT', 'PATCH', 'DELETE'];
// One plugin: workbox refuses a second Queue with the same name ('duplicate-queue-name').
const strategy = new NetworkOnly({
  plugins: [new BackgroundSyncPlugin('sync-queue', { maxRetentionTime: 24 * 60 })],
});
for (const method of METHODS) {
  registerRoute(
    ({ url, request }) => url.pathname.startsWith('/api/') && METHODS.includes(request.method),
    strategy,
    method,
  );
}
// Like offline-sync's sw.js.
self.addEventListener('install', () => self.skipWaiting());
self.addEventListener('activate', (event) => event.waitUntil(self.clients.claim()));
