// The app's own worker (injectManifest): Workbox precaching from the manifest vite-plugin-pwa
// injects, and offline-sync's engine.
import { cleanupOutdatedCaches, createHandlerBoundToURL, precacheAndRoute } from 'workbox-precaching';
import { NavigationRoute, registerRoute } from 'workbox-routing';

// First, so that the engine's fetch listener runs before Workbox's: it answers mutations under
// /api/ and leaves every other request to the routes below.
importScripts('/offline-sync.js');

cleanupOutdatedCaches();
precacheAndRoute(self.__WB_MANIFEST);
registerRoute(new NavigationRoute(createHandlerBoundToURL('/index.html')));

// An update takes over at once; the queue lives in IndexedDB and is the new worker's too.
self.addEventListener('install', () => self.skipWaiting());
self.addEventListener('activate', (event) => event.waitUntil(self.clients.claim()));
