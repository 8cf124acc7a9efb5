#!/usr/bin/env node
// Prints the README's per-file table from the last reports: PouchDB 9's passes, Settee's
// passes (optionally beside an earlier Settee report, e.g. a baseline), and how many of the
// tests PouchDB passes Settee passes too.
//   node scripts/pouchdb-suite/table.mjs [--baseline target/pouchdb-suite/baseline-settee.json]
import { existsSync, readFileSync } from 'node:fs';

const load = (p) => (existsSync(p) ? JSON.parse(readFileSync(p, 'utf8')) : undefined);
const i = process.argv.indexOf('--baseline');
const baseline = i > 0 ? load(process.argv[i + 1]) : undefined;
const ref = load('target/pouchdb-suite/report-pouchdb.json') ?? {};
const mine = load('target/pouchdb-suite/report-settee.json') ?? {};
const passed = (r) => new Set(r ? r.tests.filter((t) => r.results[t]?.state === 'passed') : []);
const skipped = (r) => (r ? r.tests.filter((t) => r.results[t]?.state === 'pending').length : 0);

const head = ['file', 'tests', 'skipped by PouchDB', 'PouchDB 9', ...(baseline ? ['Settee before'] : []), 'Settee', 'Settee, of PouchDB\'s'];
console.log(`| ${head.join(' | ')} |`);
console.log(`|---|${head.slice(1).map(() => '--:').join('|')}|`);
const sum = new Array(head.length - 1).fill(0);
for (const file of Object.keys(ref)) {
  const p = passed(ref[file]);
  const s = passed(mine[file]);
  const cells = [ref[file].tests.length, skipped(ref[file]), p.size];
  if (baseline) cells.push(baseline[file] ? passed(baseline[file]).size : '–');
  cells.push(mine[file] ? s.size : '–', mine[file] ? [...p].filter((t) => s.has(t)).length : '–');
  cells.forEach((c, k) => (sum[k] += typeof c === 'number' ? c : 0));
  console.log(`| ${file} | ${cells.join(' | ')} |`);
}
console.log(`| **total** | ${sum.map((n) => `**${n}**`).join(' | ')} |`);
