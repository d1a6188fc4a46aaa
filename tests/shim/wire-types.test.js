// The page client's types (shim/client.d.ts) against the exact JSON the worker writes: every
// message and answer text in sw/tests/wire_format.rs must type-check as what it is, strictly, with
// TypeScript's own compiler. A field renamed, added or made nullable on one side fails here.
import { test, expect } from 'vitest';
import { readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import ts from 'typescript';

const root = join(dirname(fileURLToPath(import.meta.url)), '..', '..');
const golden = readFileSync(join(root, 'sw', 'tests', 'wire_format.rs'), 'utf8');

/** The `("name", r#"json"#)` pairs of the golden test's EXPECTED table. */
function texts() {
  const table = golden.slice(golden.indexOf('const EXPECTED'));
  return [...table.matchAll(/\("([^"]+)", r#"(.*?)"#\)/g)].map(([, name, json]) => ({ name, json }));
}

/** The type each page-facing text is; stored records and batch bodies are not the page's. */
function typeOf(name) {
  if (name.startsWith('event ')) return 'WorkerMessage';
  if (name === 'answer queued') return 'QueuedAnswer';
  if (name === 'answer coalesced') return 'CoalescedAnswer';
  if (name === 'answer coalesced, cancelled') return 'CancelledAnswer';
  if (name === 'answer error') return 'ErrorAnswer';
  return null;
}

/** TypeScript's own lib files, parsed once for every program (lib.dom.d.ts alone takes seconds). */
const libs = new Map();

function typeErrors(source) {
  const files = { '/client.d.ts': readFileSync(join(root, 'shim', 'client.d.ts'), 'utf8'), '/check.ts': source };
  const options = { strict: true, noEmit: true, target: ts.ScriptTarget.ES2022, lib: ['lib.es2022.d.ts', 'lib.dom.d.ts'], types: [] };
  const host = ts.createCompilerHost(options);
  const read = host.getSourceFile.bind(host);
  host.getSourceFile = (name, version) => {
    if (name in files) return ts.createSourceFile(name, files[name], version);
    if (!libs.has(name)) libs.set(name, read(name, version));
    return libs.get(name);
  };
  host.fileExists = (name) => name in files || ts.sys.fileExists(name);
  host.readFile = (name) => files[name] ?? ts.sys.readFile(name);
  const program = ts.createProgram(['/check.ts'], options, host);
  // Our two files only: checking TypeScript's own libs again for every program is what is slow.
  const ours = ['/client.d.ts', '/check.ts'].flatMap((name) => ts.getPreEmitDiagnostics(program, program.getSourceFile(name)));
  return ours.map((d) => ts.flattenDiagnosticMessageText(d.messageText, '\n'));
}

test('every message and answer the worker writes is one of the client types, exactly', () => {
  const checked = texts().filter(({ name }) => typeOf(name));
  expect(checked.length).toBeGreaterThanOrEqual(20);
  const source = [
    "import type { WorkerMessage, QueuedAnswer, CoalescedAnswer, CancelledAnswer, ErrorAnswer } from './client';",
    ...checked.map(({ name, json }, i) => `// ${name}\nexport const m${i}: ${typeOf(name)} = ${json};`),
  ].join('\n');
  expect(typeErrors(source)).toEqual([]);
});

test('the check bites: a renamed field, a missing one and a wrong type are refused', () => {
  const wrong = [
    `export const a: WorkerMessage = {"type":"offline-sync:queued","id":4,"method":"POST","url":"/api/tasks","waiting":2};`,
    `export const b: WorkerMessage = {"type":"offline-sync:expired","id":1,"method":"POST","url":"u"};`,
    `export const c: QueuedAnswer = {"id":"12","pending":3,"queued":true};`,
  ];
  for (const line of wrong) {
    const errors = typeErrors(`import type { WorkerMessage, QueuedAnswer } from './client';\n${line}`);
    expect(errors.length, line).toBeGreaterThan(0);
  }
});
