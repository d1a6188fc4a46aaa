// The shim modules live in shim/, outside this package: their bare imports (dexie, react, vue,
// dexie-react-hooks) are resolved here, to the very files Node gives this package's own
// dependencies, so the tests and the libraries share one copy of each.
import { defineConfig } from 'vitest/config';
import { fileURLToPath } from 'node:url';

const here = new URL('./', import.meta.url);
const packages = ['dexie', 'dexie-react-hooks', 'react', 'react-dom', 'vue'];

export default defineConfig({
  root: fileURLToPath(here),
  resolve: {
    alias: packages.map((name) => ({
      find: new RegExp(`^${name}$`),
      replacement: fileURLToPath(import.meta.resolve(name)),
    })),
  },
  server: { fs: { allow: [fileURLToPath(new URL('../../', here))] } },
  test: {
    environment: 'happy-dom',
    environmentOptions: { happyDOM: { url: 'http://localhost:8080/' } },
    setupFiles: ['./support/setup.js'],
    include: ['*.test.js'],
    testTimeout: 10_000,
  },
});
