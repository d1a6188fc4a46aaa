// vite-plugin-pwa, both routes. PWA_STRATEGY=generateSW (the default) lets Workbox generate the
// worker and has it import offline-sync's engine; PWA_STRATEGY=injectManifest builds the app's own
// worker, src/sw.js, which imports the engine itself. BUILD_ID marks a build (an update changes it).
import { readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { defineConfig } from 'vite';
import { VitePWA } from 'vite-plugin-pwa';

const strategy = process.env.PWA_STRATEGY ?? 'generateSW';

/** The engine at the root of the build, where the worker's importScripts finds it. */
const offlineSyncEngine = {
  name: 'offline-sync-engine',
  generateBundle() {
    const file = createRequire(import.meta.url).resolve('offline-sync/offline-sync.js');
    this.emitFile({ type: 'asset', fileName: 'offline-sync.js', source: readFileSync(file) });
  },
};

// The engine is not precached: a script the worker imports is kept by the browser with it.
const precache = { globPatterns: ['**/*.{js,css,html}'], globIgnores: ['offline-sync.js'] };

const manifest = { name: 'offline-sync PWA example', short_name: 'offline-sync', start_url: '/', display: 'standalone', icons: [] };

const pwa =
  strategy === 'generateSW'
    ? VitePWA({
        strategies: 'generateSW',
        injectRegister: 'script',
        manifest,
        workbox: {
          ...precache,
          // Emitted before Workbox's own code, so the engine's fetch listener is the first: it
          // answers mutations under /api/ and leaves every other request to Workbox.
          importScripts: ['/offline-sync.js'],
          navigateFallback: '/index.html',
          cleanupOutdatedCaches: true,
          skipWaiting: true,
          clientsClaim: true,
        },
      })
    : VitePWA({
        strategies: 'injectManifest',
        srcDir: 'src',
        filename: 'sw.js',
        injectRegister: 'script',
        manifest,
        injectManifest: precache,
      });

export default defineConfig({
  define: { __BUILD__: JSON.stringify(process.env.BUILD_ID ?? '1') },
  plugins: [offlineSyncEngine, pwa],
  // `vite` (dev): the API is the demo server's (`./build.sh demo` serves it on port 8080).
  server: { proxy: { '/api': 'http://127.0.0.1:8080' } },
});
