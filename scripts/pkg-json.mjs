#!/usr/bin/env node
// Rewrites wasm-pack's pkg/package.json so the package's entry point is the typed wrapper
// (index.js / index.d.ts) rather than the raw wasm-bindgen glue.
//   node scripts/pkg-json.mjs pkg/package.json
import { readFileSync, writeFileSync } from 'node:fs';

const path = process.argv[2] ?? 'pkg/package.json';
const pkg = JSON.parse(readFileSync(path, 'utf8'));
const files = new Set([
  ...(pkg.files ?? []),
  ...['index.js', 'index.d.ts', 'types.js', 'types.d.ts', 'replication.js', 'replication.d.ts', 'query-types.js', 'query-types.d.ts', 'pouchdb.js', 'pouchdb.d.ts', 'emitter.js', 'emitter.d.ts',
    'schema-types.js', 'schema-types.d.ts', 'node.js', 'node.d.ts', 'node-fs.js', 'node-fs.d.ts', 'pouchdb-node.js', 'pouchdb-node.d.ts'],
]);
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
