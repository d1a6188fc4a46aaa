// One origin of the benchmark: a small HTTP server on 127.0.0.1 that serves the page and the
// worker scripts, and answers every /api/ request with 201 while counting what arrived. While
// `down`, it cuts every /api/ connection without an answer: the server is down, the browser online.
import { createServer } from 'node:http';
import { readFileSync } from 'node:fs';
import { performance } from 'node:perf_hooks';

const TYPES = { '.html': 'text/html; charset=utf-8', '.js': 'text/javascript; charset=utf-8' };

/** `files` maps a path (`/sw.js`) to a file on disk; they are read once, here. */
export async function startOrigin(files) {
  const statics = new Map(
    Object.entries(files).map(([path, file]) => [path, {
      body: readFileSync(file),
      type: TYPES[path.slice(path.lastIndexOf('.'))] ?? 'application/octet-stream',
    }]),
  );
  /** Every /api/ request that arrived: {t (performance.now() of this process), method, n, key}. */
  let arrivals = [];
  let down = false;
  const server = createServer((req, res) => {
    const path = new URL(req.url, 'http://x').pathname;
    if (path.startsWith('/api/') && down) {
      req.socket.destroy();
      return;
    }
    if (path.startsWith('/api/')) {
      const chunks = [];
      req.on('data', (c) => chunks.push(c));
      req.on('end', () => {
        const text = Buffer.concat(chunks).toString();
        if (path === '/api/_batch' && req.method === 'POST') {
          // offline-sync's batch endpoint (its `batchUrl` option): each item counts as an arrival.
          const { requests } = JSON.parse(text);
          const results = requests.map((item) => {
            let n = null;
            try { n = JSON.parse(item.body).n; } catch {}
            const key = item.headers.find(([name]) => name.toLowerCase() === 'idempotency-key')?.[1] ?? null;
            arrivals.push({ t: performance.now(), method: item.method, n, key });
            return { status: 201, headers: [['content-type', 'application/json']], body: '{"ok":true}' };
          });
          res.writeHead(200, { 'content-type': 'application/json' });
          res.end(JSON.stringify({ results }));
          return;
        }
        let n = null;
        try { n = JSON.parse(text).n; } catch {}
        arrivals.push({ t: performance.now(), method: req.method, n, key: req.headers['idempotency-key'] ?? null });
        res.writeHead(201, { 'content-type': 'application/json' });
        res.end('{"ok":true}');
      });
      return;
    }
    const file = statics.get(path === '/' ? '/index.html' : path);
    if (!file || req.method !== 'GET') {
      res.writeHead(404, { 'content-type': 'text/plain' });
      res.end('not found');
      return;
    }
    res.writeHead(200, { 'content-type': file.type, 'cache-control': 'no-cache' });
    res.end(file.body);
  });
  await new Promise((resolve, reject) => {
    server.once('error', reject);
    server.listen(0, '127.0.0.1', resolve);
  });
  const { port } = server.address();
  return {
    base: `http://127.0.0.1:${port}`,
    get arrivals() { return arrivals; },
    reset() { arrivals = []; },
    /** Cuts (`true`) or serves again (`false`) every /api/ request. */
    setDown(value) { down = value; },
    close: () => new Promise((resolve) => {
      server.close(() => resolve());
      server.closeAllConnections();
    }),
  };
}
