// shim/short-names.mjs, the build step that shortens the wasm's import and export names, on a tiny
// module made by hand: the renamed pair must still work together, and glue that names an import or
// an export in a way the script does not rewrite must fail the build.
import { test, expect } from 'vitest';
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const SCRIPT = join(dirname(fileURLToPath(import.meta.url)), '../../shim/short-names.mjs');
const MODULE = './offline_sync_bg.js';
const IMPORT = '__wbg_double_0123456789abcdef';
const EXPORT = 'wasm_bindgen__quadruple__h0123456789abcdef';

const bytes = (text) => [text.length, ...Buffer.from(text)];
const section = (id, content) => [id, content.length, ...content];

/** (import MODULE IMPORT (i32) -> i32) and (export EXPORT (x) = IMPORT(IMPORT(x))). */
const MODULE_BYTES = Uint8Array.from([
  0x00, 0x61, 0x73, 0x6d, 0x01, 0x00, 0x00, 0x00,
  ...section(1, [1, 0x60, 1, 0x7f, 1, 0x7f]),
  ...section(2, [1, ...bytes(MODULE), ...bytes(IMPORT), 0x00, 0]),
  ...section(3, [1, 0]),
  ...section(7, [1, ...bytes(EXPORT), 0x00, 1]),
  ...section(10, [1, 8, 0, 0x20, 0, 0x10, 0, 0x10, 0, 0x0b]),
]);

/** Glue the way wasm-bindgen writes it: the imports as keys, the exports as `wasm.NAME`. */
const GLUE = `
const imports = { "${MODULE}": { ${IMPORT}: (x) => x * 2 } };
const quadruple = (x) => wasm.${EXPORT}(x);
`;

function run(glue) {
  const dir = mkdtempSync(join(tmpdir(), 'short-names-'));
  writeFileSync(join(dir, 'in.wasm'), MODULE_BYTES);
  writeFileSync(join(dir, 'in.js'), glue);
  const args = [SCRIPT, 'in.wasm', 'in.js', 'out.wasm', 'out.js'].map((f, i) => (i ? join(dir, f) : f));
  const { status, stderr } = spawnSync(process.execPath, args, { encoding: 'utf8' });
  if (status !== 0) return { status, stderr };
  return { status, wasm: readFileSync(join(dir, 'out.wasm')), glue: readFileSync(join(dir, 'out.js'), 'utf8') };
}

test('the renamed module and glue still work together, and the long names are gone', async () => {
  const out = run(GLUE);
  expect(out.status).toBe(0);
  const { imports, call } = new Function(`let wasm; ${out.glue}; return { imports, call: (w, x) => { wasm = w; return quadruple(x); } };`)();
  const { instance } = await WebAssembly.instantiate(out.wasm, imports);
  expect(call(instance.exports, 3)).toBe(12);
  const text = Buffer.from(out.wasm).toString('latin1') + out.glue;
  for (const long of [MODULE, IMPORT, EXPORT]) expect(text).not.toContain(long);
  expect(Object.keys(instance.exports)).toEqual(['a']);
});

test('glue that names an import other than as a key fails the build', () => {
  const out = run(`${GLUE}\nconsole.log('${IMPORT}');`);
  expect(out.status).toBe(1);
  expect(out.stderr).toContain(`names the import ${IMPORT} other than as a key`);
});

test('glue that calls an export the module lacks fails the build', () => {
  const out = run(`${GLUE}\nwasm.missing();`);
  expect(out.status).toBe(1);
  expect(out.stderr).toContain('wasm.missing, which the module does not export');
});

test('glue that names the module twice fails the build', () => {
  const out = run(`${GLUE}\nconst again = { "${MODULE}": {} };`);
  expect(out.status).toBe(1);
  expect(out.stderr).toContain(`names the module ${MODULE} 2 times, not once`);
});
