// Copies the shared JS layer into a package, at build and pack time:
// `node ../js/copy.mjs <modules dir> <d.ts file>` puts this folder's
// modules in the modules dir (beside the package's backend.js) and
// index.d.ts at the d.ts path (beside the package's bytes.d.ts). npm packs
// only what lies inside a package, so each package carries a copy (never
// committed: the copies are in .gitignore).

import fs from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const here = path.dirname(fileURLToPath(import.meta.url));
const [modules, dts] = process.argv.slice(2).map((p) => path.resolve(p));
if (modules === undefined || dts === undefined) throw new Error('usage: node js/copy.mjs <modules dir> <d.ts file>');
const note = '// Copied from js/ in the logpond repository at build time: edit it there.\n';
fs.rmSync(modules, { recursive: true, force: true });
fs.mkdirSync(modules, { recursive: true });
for (const name of fs.readdirSync(here)) {
  if (name.endsWith('.js')) fs.writeFileSync(path.join(modules, name), note + fs.readFileSync(path.join(here, name), 'utf8'));
}
fs.writeFileSync(dts, note + fs.readFileSync(path.join(here, 'index.d.ts'), 'utf8'));
