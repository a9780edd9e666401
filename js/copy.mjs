// Copies the shared JS layer (this folder's modules and index.d.ts) into a
// package, at build and pack time: `node ../js/copy.mjs <dir>`. npm packs
// only what lies inside a package, so each package carries a copy (never
// committed: the copies are in .gitignore).

import fs from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const here = path.dirname(fileURLToPath(import.meta.url));
const target = path.resolve(process.argv[2] ?? '');
if (process.argv[2] === undefined) throw new Error('usage: node js/copy.mjs <target dir>');
fs.rmSync(target, { recursive: true, force: true });
fs.mkdirSync(target, { recursive: true });
for (const name of fs.readdirSync(here)) {
  if (!/\.(js|d\.ts)$/.test(name)) continue;
  const text = fs.readFileSync(path.join(here, name), 'utf8');
  const note = name.endsWith('.js') || name.endsWith('.ts') ? '// Copied from js/ in the logpond repository at build time: edit it there.\n' : '';
  fs.writeFileSync(path.join(target, name), note + text);
}
