// Gives the wasm's imports and exports one- or two-letter names, in the module and in wasm-bindgen's
// glue alike. wasm-bindgen names each import after its Rust path plus a 16-digit hash, and each
// closure export after its full path: 140-odd names that gzip poorly, each written twice.
//
//   node short-names.mjs in.wasm glue.js out.wasm out-glue.js
//
// The glue is only touched where it names the module ("./offline_sync_bg.js"), an import (as a key
// of the imports object) or an export (as `wasm.NAME`); anything else that names one fails the build.
import { readFileSync, writeFileSync } from 'node:fs';

const [wasmIn, glueIn, wasmOut, glueOut] = process.argv.slice(2);
const MODULE = './offline_sync_bg.js';

function fail(message) {
  console.error(`short-names: ${message}`);
  process.exit(1);
}

/** a, b, …, Z, aa, ab, …: the n-th short name. */
function shortName(n) {
  const letters = 'abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ';
  let name = '';
  do {
    name = letters[n % letters.length] + name;
    n = Math.floor(n / letters.length) - 1;
  } while (n >= 0);
  return name;
}

class Reader {
  constructor(bytes, at = 0) {
    this.bytes = bytes;
    this.at = at;
  }
  byte() {
    return this.bytes[this.at++];
  }
  u32() {
    let value = 0;
    let shift = 0;
    for (;;) {
      const b = this.byte();
      value += (b & 0x7f) * 2 ** shift;
      shift += 7;
      if (b < 0x80) return value;
    }
  }
  name() {
    const length = this.u32();
    const text = Buffer.from(this.bytes.subarray(this.at, this.at + length)).toString('utf8');
    this.at += length;
    return text;
  }
  /** Skips an import's description; `kind` is its first byte, already read. */
  skipImportDesc(kind) {
    const limits = () => {
      const flags = this.byte();
      this.u32();
      if (flags & 1) this.u32();
    };
    if (kind === 0) this.u32();
    else if (kind === 1) { this.byte(); limits(); }
    else if (kind === 2) limits();
    else if (kind === 3) { this.byte(); this.byte(); }
    else if (kind === 4) { this.byte(); this.u32(); }
    else fail(`unknown import kind ${kind}`);
  }
}

const u32 = (value) => {
  const out = [];
  do {
    let b = value & 0x7f;
    value = Math.floor(value / 128);
    if (value > 0) b |= 0x80;
    out.push(b);
  } while (value > 0);
  return Buffer.from(out);
};
const nameBytes = (text) => {
  const bytes = Buffer.from(text, 'utf8');
  return Buffer.concat([u32(bytes.length), bytes]);
};

const wasm = readFileSync(wasmIn);
if (wasm.readUInt32LE(0) !== 0x6d736100) fail(`${wasmIn} is not a wasm module`);
const imports = new Map();
const exports = new Map();
const sections = [wasm.subarray(0, 8)];
for (let r = new Reader(wasm, 8); r.at < wasm.length;) {
  const start = r.at;
  const id = r.byte();
  const size = r.u32();
  const body = r.at;
  const end = body + size;
  r.at = end;
  if (id !== 2 && id !== 7) {
    sections.push(wasm.subarray(start, end));
    continue;
  }
  const s = new Reader(wasm, body);
  const count = s.u32();
  const parts = [u32(count)];
  for (let i = 0; i < count; i++) {
    if (id === 2) {
      const module = s.name();
      const field = s.name();
      const descStart = s.at;
      s.skipImportDesc(s.byte());
      if (module !== MODULE) fail(`an import from ${module}, not ${MODULE}`);
      if (!imports.has(field)) imports.set(field, shortName(imports.size));
      parts.push(nameBytes('a'), nameBytes(imports.get(field)), wasm.subarray(descStart, s.at));
    } else {
      const field = s.name();
      const descStart = s.at;
      s.byte();
      s.u32();
      exports.set(field, shortName(exports.size));
      parts.push(nameBytes(exports.get(field)), wasm.subarray(descStart, s.at));
    }
  }
  if (s.at !== end) fail(`section ${id} did not end where it said`);
  const content = Buffer.concat(parts);
  sections.push(Buffer.from([id]), u32(content.length), content);
}

let glue = readFileSync(glueIn, 'utf8');
const replaceOnce = (pattern, by, what) => {
  const found = glue.match(pattern);
  if (!found || found.length !== 1) fail(`the glue names ${what} ${found ? found.length : 0} times, not once`);
  glue = glue.replace(pattern, by);
};
replaceOnce(new RegExp(`"${MODULE.replace(/[./]/g, '\\$&')}":`, 'g'), '"a":', `the module ${MODULE}`);
for (const [field, short] of imports) {
  replaceOnce(new RegExp(`\\b${field}:`, 'g'), `${short}:`, `the import ${field}`);
  if (new RegExp(`\\b${field}\\b`).test(glue)) fail(`the glue names the import ${field} other than as a key`);
}
glue = glue.replace(/\bwasm\.([A-Za-z_$][\w$]*)/g, (_, field) => {
  if (!exports.has(field)) fail(`the glue uses wasm.${field}, which the module does not export`);
  return `wasm.${exports.get(field)}`;
});
for (const field of exports.keys()) {
  if (new RegExp(`\\bwasm\\s*\\[|\\.exports\\.${field}\\b`).test(glue)) fail(`the glue reaches the export ${field} other than as wasm.${field}`);
}

writeFileSync(wasmOut, Buffer.concat(sections));
writeFileSync(glueOut, glue);
