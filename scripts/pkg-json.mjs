#!/usr/bin/env node
// Rewrites wasm-pack's pkg/package.json so the package's entry point is the typed wrapper
// (index.js / index.d.ts) rather than the raw wasm-bindgen glue.
//   node scripts/pkg-json.mjs pkg/package.json
import { readFileSync, readdirSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const path = process.argv[2] ?? 'pkg/package.json';
const pkg = JSON.parse(readFileSync(path, 'utf8'));
// Every module of the wrapper (js/*.ts) ships with its types: listing them by hand once left a
// new module out of the package, and `import 'settee'` failed in an installed copy.
const wrapper = readdirSync(join(dirname(fileURLToPath(import.meta.url)), '..', 'js'))
  .filter((f) => f.endsWith('.ts') && !f.endsWith('.d.ts'))
  .flatMap((f) => [f.replace(/\.ts$/, '.js'), f.replace(/\.ts$/, '.d.ts')]);
const files = new Set([...(pkg.files ?? []), ...wrapper]);
const out = {
  ...pkg,
  name: 'settee',
  type: 'module',
  main: 'index.js',
  engines: { node: '>=20' },
  module: 'index.js',
  types: 'index.d.ts',
  files: [...files],
  exports: {
    // Node (and Deno, Bun) load node.js: the wasm read from disk, databases stored on disk.
    '.': { types: './index.d.ts', node: './node.js', default: './index.js' },
    // `import PouchDB from 'settee/pouchdb'`: the PouchDB-shaped entry (js/pouchdb.ts).
    './pouchdb': { types: './pouchdb.d.ts', node: './pouchdb-node.js', default: './pouchdb.js' },
    './settee_core.js': { types: './settee_core.d.ts', default: './settee_core.js' },
    './settee_core_bg.wasm': './settee_core_bg.wasm',
    './package.json': './package.json',
  },
  // index.js has no import-time side effects; wasm-bindgen's snippets (if any) do.
  sideEffects: ['./snippets/*'],
};
writeFileSync(path, JSON.stringify(out, null, 2) + '\n');
