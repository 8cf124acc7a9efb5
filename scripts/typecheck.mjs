#!/usr/bin/env node
// Type tests: tests/types/good.ts must compile under `tsc --noEmit --strict`; in
// tests/types/bad.ts every line marked `// error: TSnnnn` must fail with that code and no
// other line may fail. Runs against pkg/index.d.ts (build first).
//   node scripts/typecheck.mjs [path/to/tsconfig.json]
import { spawnSync } from 'node:child_process';
import { readFileSync, writeFileSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = resolve(dirname(fileURLToPath(import.meta.url)), '..');
const dir = join(root, 'tests/types');
const tsc = join(root, 'node_modules/.bin/tsc');
const baseConfig = resolve(process.argv[2] ?? join(dir, 'tsconfig.json'));

/** Runs tsc on one file with the shared config; returns {code, errors: [{line, code, text}]}. */
function check(file) {
  const tmp = mkdtempSync(join(tmpdir(), 'settee-types-'));
  const config = join(tmp, 'tsconfig.json');
  writeFileSync(config, JSON.stringify({ extends: baseConfig, files: [join(dir, file)] }));
  const r = spawnSync(tsc, ['-p', config, '--noEmit', '--strict', '--pretty', 'false'], { encoding: 'utf8' });
  rmSync(tmp, { recursive: true, force: true });
  if (r.error) throw r.error;
  const out = r.stdout + r.stderr;
  const errors = [...out.matchAll(/^(.*?)\((\d+),\d+\): error (TS\d+): (.*)$/gm)].map((m) => ({
    file: m[1],
    line: Number(m[2]),
    code: m[3],
    text: m[4],
  }));
  return { status: r.status, out, errors };
}

let failed = 0;
const fail = (msg) => {
  failed++;
  console.error(`  FAIL ${msg}`);
};

const good = check('good.ts');
if (good.status === 0) console.log('  ok   good.ts compiles');
else fail(`good.ts must compile:\n${good.out}`);

const bad = check('bad.ts');
const expected = readFileSync(join(dir, 'bad.ts'), 'utf8')
  .split('\n')
  .map((text, i) => ({ line: i + 1, code: text.match(/\/\/ error: (TS\d+)/)?.[1] }))
  .filter((e) => e.code);
if (bad.status === 0) fail('bad.ts must not compile');
for (const { line, code } of expected) {
  const got = bad.errors.filter((e) => e.line === line && e.file.endsWith('bad.ts'));
  if (got.some((e) => e.code === code)) console.log(`  ok   bad.ts:${line} fails with ${code}`);
  else fail(`bad.ts:${line} should fail with ${code}, got ${got.map((e) => e.code).join(', ') || 'no error'}`);
}
for (const e of bad.errors) {
  if (!expected.some((x) => x.line === e.line && e.file.endsWith('bad.ts')))
    fail(`unexpected error (not marked) ${e.file}:${e.line} ${e.code}: ${e.text}`);
}
if (!bad.errors.length && bad.status !== 0) fail(`tsc failed without diagnostics:\n${bad.out}`);

console.log(failed ? `type tests: ${failed} failed` : `type tests: ${1 + expected.length} checks ok`);
process.exit(failed ? 1 : 0);
