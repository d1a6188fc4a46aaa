// The standalone offline-sync worker. Register it as `/sw.js?maxRetentionTime=60&prefix=/api/`:
// its options are read from that query string.
self.offlineSync = self.location.search;
importScripts('offline-sync.js');
self.addEventListener('install', (event) => {
  // GET and HEAD are never intercepted: with the Static Routing API (Chromium 123 and later) they
  // go straight to the network without starting a stopped worker. Elsewhere nothing changes.
  if (typeof event.addRoutes === 'function') {
    const routes = [{ condition: { or: [{ requestMethod: 'GET' }, { requestMethod: 'HEAD' }] }, source: 'network' }];
    event.waitUntil(event.addRoutes(routes).catch((error) => console.warn('offline-sync: static routes not added', error)));
  }
  self.skipWaiting();
});
self.addEventListener('activate', (event) => event.waitUntil(self.clients.claim()));
