// Scale-out helpers: a throwaway PostgreSQL cluster (Debian's postgresql; ./build.sh test
// installs it), and a small round-robin proxy of our own in front of several demo servers.
import { execFileSync } from 'node:child_process';
import { existsSync, readdirSync, rmSync } from 'node:fs';
import { createServer, request } from 'node:http';
import { createServer as createTcpServer } from 'node:net';
import { join } from 'node:path';
import { tempDir } from './harness.mjs';

function postgresBin() {
  const debian = existsSync('/usr/lib/postgresql')
    ? readdirSync('/usr/lib/postgresql').map(Number).filter((n) => existsSync(`/usr/lib/postgresql/${n}/bin/initdb`)).sort((a, b) => a - b)
    : [];
  if (debian.length) return `/usr/lib/postgresql/${debian.at(-1)}/bin`;
  const dir = (process.env.PATH ?? '').split(':').find((d) => existsSync(join(d, 'initdb')));
  if (!dir) throw new Error("PostgreSQL's initdb was not found: install postgresql (./build.sh test does)");
  return dir;
}

const freePort = () => new Promise((resolve, reject) => {
  const probe = createTcpServer().once('error', reject).listen(0, '127.0.0.1', () => {
    const { port } = probe.address();
    probe.close(() => resolve(port));
  });
});

/** A fresh cluster listening on 127.0.0.1 only, with one database; `stop()` wipes it. */
export async function startPostgres() {
  const bin = postgresBin();
  const root = tempDir('pg');
  const asRoot = process.getuid?.() === 0;
  // PostgreSQL refuses to run as root: as root, its commands run as the postgres user.
  const run = (program, args) => execFileSync(asRoot ? 'runuser' : join(bin, program), asRoot ? ['-u', 'postgres', '--', join(bin, program), ...args] : args, { cwd: root, stdio: 'pipe' });
  if (asRoot) execFileSync('chown', ['-R', 'postgres:postgres', root]);
  const data = join(root, 'data');
  const port = await freePort();
  run('initdb', ['-D', data, '-A', 'trust', '-U', 'postgres', '--no-sync', '-E', 'UTF8', '--locale=C']);
  run('pg_ctl', ['-D', data, '-o', `-p ${port} -k ${root} -c listen_addresses=127.0.0.1 -c fsync=off`, '-l', join(root, 'log'), '-w', 'start']);
  run('createdb', ['-h', '127.0.0.1', '-p', String(port), '-U', 'postgres', 'demo']);
  return {
    url: `postgres://postgres@127.0.0.1:${port}/demo`,
    stop: () => {
      try { run('pg_ctl', ['-D', data, '-m', 'immediate', 'stop']); } catch {}
      rmSync(root, { recursive: true, force: true });
    },
  };
}

const MUTATING = new Set(['POST', 'PUT', 'PATCH', 'DELETE']);

/**
 * Sends each request to the next live backend in turn; a backend that cannot be reached, or
 * breaks off, is answered 502 (which the worker retries). `onAnswer(n, backend)` is asked about
 * the n-th mutation's answer as it arrives: `'lose'` answers 502 instead, as if the backend had
 * died just after applying it.
 */
export async function startProxy(backends, { onAnswer } = {}) {
  const alive = backends.map(() => true);
  let next = 0;
  let mutations = 0;
  const pick = () => {
    for (let tries = 0; tries < backends.length; tries++) {
      const i = next++ % backends.length;
      if (alive[i]) return i;
    }
    return -1;
  };
  const server = createServer((req, res) => {
    const i = pick();
    if (i < 0) { res.writeHead(502).end('no backend left'); return; }
    const { port } = new URL(backends[i]);
    const mutation = MUTATING.has(req.method);
    const upstream = request({ host: '127.0.0.1', port, method: req.method, path: req.url, headers: req.headers }, (answer) => {
      if (mutation && onAnswer?.(++mutations, i) === 'lose') {
        answer.resume();
        res.writeHead(502, { 'content-type': 'text/plain' }).end('the backend died after answering');
        return;
      }
      res.writeHead(answer.statusCode, answer.headers);
      answer.pipe(res);
    });
    upstream.on('error', () => {
      if (!res.headersSent) res.writeHead(502, { 'content-type': 'text/plain' }).end('the backend went away');
      else res.destroy();
    });
    req.pipe(upstream);
  });
  await new Promise((resolve) => server.listen(0, '127.0.0.1', resolve));
  return {
    base: `http://127.0.0.1:${server.address().port}`,
    /** Takes a backend out of the rotation. */
    drop: (i) => { alive[i] = false; },
    mutations: () => mutations,
    close: () => new Promise((resolve) => { server.closeAllConnections(); server.close(resolve); }),
  };
}
