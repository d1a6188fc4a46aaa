// The standalone offline-sync worker. Register it as `/sw.js?maxRetentionTime=60&prefix=/api/`:
// its options are read from that query string.
self.offlineSync = self.location.search;
importScripts('offline-sync.js');
self.addEventListener('install', () => self.skipWaiting());
self.addEventListener('activate', (event) => event.waitUntil(self.clients.claim()));
