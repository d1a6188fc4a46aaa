// Prints a file's bytes as a JS string literal, one character per byte (U+0000–U+00FF), escaping
// only what a string literal cannot hold (quote, backslash, line breaks). Once gzipped it is
// smaller than base64, and the loader reads it back with charCodeAt.
import { readFileSync } from 'node:fs';

const bytes = readFileSync(process.argv[2]);
let text = "'";
for (const b of bytes) {
  if (b === 0x5c) text += '\\\\';
  else if (b === 0x27) text += "\\'";
  else if (b === 0x0a) text += '\\n';
  else if (b === 0x0d) text += '\\r';
  else text += String.fromCharCode(b);
}
process.stdout.write(text + "'");
