#!/usr/bin/env node
// Prints the tests of a report that did not pass, with their errors, grouped by file.
//   node scripts/pouchdb-suite/failures.mjs [settee|pouchdb] [FILE-SUBSTRING] [--partial]
import { readFileSync } from 'node:fs';
const [target = 'settee', filter = ''] = process.argv.slice(2).filter((a) => !a.startsWith('--'));
const partial = process.argv.includes('--partial') ? '.partial' : '';
const report = JSON.parse(readFileSync(`target/pouchdb-suite/report-${target}${partial}.json`, 'utf8'));
const ref = (() => {
  try {
    return JSON.parse(readFileSync('target/pouchdb-suite/report-pouchdb.json', 'utf8'));
  } catch {
    return {};
  }
})();
for (const [file, r] of Object.entries(report)) {
  if (!file.includes(filter)) continue;
  const refPassed = (t) => ref[file]?.results[t]?.state === 'passed';
  const failed = r.tests.filter((t) => r.results[t]?.state !== 'passed' && (target === 'pouchdb' || refPassed(t)));
  if (!failed.length && !r.fatal) continue;
  console.log(`\n## ${file}${r.fatal ? ' FATAL: ' + r.fatal : ''}`);
  for (const t of failed) console.log(`- ${t}\n    ${r.results[t]?.error ?? 'not run'}`);
}
