// The worker files are served as they are, at the site's root (a worker's scope is its folder):
// this plugin takes them from node_modules/offline-sync, for `vite build` (into dist/) and `vite`.
import { readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { defineConfig } from 'vite';

function offlineSyncWorker() {
  const files = ['sw.js', 'offline-sync.js'];
  const resolve = createRequire(import.meta.url).resolve;
  const read = (file) => readFileSync(resolve(`offline-sync/${file}`));
  return {
    name: 'offline-sync-worker',
    configureServer(server) {
      server.middlewares.use((req, res, next) => {
        const file = files.find((f) => req.url?.split('?')[0] === `/${f}`);
        if (!file) return next();
        res.setHeader('content-type', 'text/javascript');
        res.end(read(file));
      });
    },
    generateBundle() {
      for (const fileName of files) this.emitFile({ type: 'asset', fileName, source: read(fileName) });
    },
  };
}

export default defineConfig({
  plugins: [offlineSyncWorker()],
  // `vite` (dev): the API is the demo server's (`./build.sh demo` serves it on port 8080).
  server: { proxy: { '/api': 'http://127.0.0.1:8080' } },
});
