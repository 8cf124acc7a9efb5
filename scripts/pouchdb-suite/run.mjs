#!/usr/bin/env node
// Runs PouchDB 9's own local tests (fetched by fetch-tests.sh into target/pouchdb-suite/tests)
// in headless Chromium, once against PouchDB 9 itself (the reference) and once against
// Settee's `settee/pouchdb` entry, one page per test file, and prints per-file pass counts.
//
//   node scripts/pouchdb-suite/run.mjs [--target pouchdb|settee|both] [--suite integration,mapreduce,find]
//        [--files test.get.js,...] [--grep TEXT] [--timeout MS] [--file-timeout MS] [--reuse-reference] [--pkg DIR]
//
// Writes target/pouchdb-suite/report-<target>.json (every test's state and error) and
// target/pouchdb-suite/report.json (the per-file table and, per file, the tests PouchDB passes
// and Settee fails, with Settee's error). `--reuse-reference` takes PouchDB's results from the
// last report-pouchdb.json instead of running it again.
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { chromium } from 'playwright-core';
import { createStaticServer } from '../serve.mjs';

const root = resolve(dirname(fileURLToPath(import.meta.url)), '../..');
const work = join(root, 'target/pouchdb-suite');
const testsDir = join(work, 'tests');
const gen = join(work, 'gen');

const args = parseArgs(process.argv.slice(2));
const targets = args.target === 'both' || !args.target ? ['pouchdb', 'settee'] : [args.target];
if (args['reuse-reference'] && targets.includes('pouchdb') && args.target !== 'pouchdb') targets.splice(targets.indexOf('pouchdb'), 1);
const suites = (args.suite ?? 'integration,mapreduce,find').split(',');
const onlyFiles = args.files ? new Set(args.files.split(',')) : undefined;
const TEST_TIMEOUT = Number(args.timeout ?? 20000);
const FILE_TIMEOUT = Number(args['file-timeout'] ?? 600000);
// `--pkg DIR` tests another build of the package than pkg/ (e.g. while pkg/ is in use).
const pkgDir = resolve(root, args.pkg ?? 'pkg');

if (!existsSync(join(testsDir, 'integration/utils.js'))) {
  die('PouchDB tests missing: run `bash scripts/pouchdb-suite/fetch-tests.sh [mirror]` first');
}
const libs = findLibs();
if (targets.includes('settee') && !existsSync(join(pkgDir, 'pouchdb.js'))) die(`${pkgDir}/pouchdb.js missing: run scripts/build.sh`);

// Setup files each page of a suite loads before its one test file (global hooks, fixtures).
const SETUP = {
  // test.setup_global_hooks.js is replaced by browser/unhandled-hook.js (see there).
  integration: [],
  mapreduce: [],
  find: ['test-suite-1/test.aaa-setup.js'],
};
// Files whose tests only exist in Node or need other PouchDB builds (deps/, not fetched).
const NOT_LOCAL = new Set(['browser.migration.js', 'test.setup_global_hooks.js']);

mkdirSync(gen, { recursive: true });
writeFileSync(join(gen, 'utils-bundle.js'), utilsBundle());

const { server, url } = await listen(
  createStaticServer({
    '/tests/': testsDir,
    '/gen/': gen,
    '/runner/': join(root, 'scripts/pouchdb-suite/browser'),
    '/lib/mocha/': libs.mocha,
    '/lib/chai/': libs.chai,
    '/lib/chai-as-promised/': libs.chaiAsPromised,
    '/pkg/': pkgDir,
    '/pouchdb/': join(root, 'node_modules/pouchdb/dist'),
  }),
);

const context = await chromium.launch({
  executablePath: process.env.CHROMIUM_PATH ?? '/usr/bin/chromium',
  headless: true,
  args: ['--no-sandbox', '--disable-gpu', '--disable-background-networking', '--disable-component-update',
    '--disable-sync', '--no-first-run', '--disable-quic', '--disable-dev-shm-usage'],
});

const reports = {};
try {
  for (const target of targets) {
    reports[target] = {};
    for (const suite of suites) {
      for (const file of testFiles(suite)) {
        const key = `${suite}/${file}`;
        const started = Date.now();
        const r = await runFile(target, suite, file);
        reports[target][key] = r;
        // Written after every file, so a long run can be read (and the table built) as it goes.
        writeFileSync(join(work, `report-${target}.partial.json`), JSON.stringify(reports[target], null, 1));
        const c = counts(r);
        console.log(`${target.padEnd(7)} ${key.padEnd(48)} ${String(c.passed).padStart(4)}/${String(c.total).padEnd(4)} ${((Date.now() - started) / 1000).toFixed(1)}s${r.fatal ? '  FATAL ' + r.fatal.split('\n')[0] : ''}`);
      }
    }
    // Merged into the last full report, so that a run of a few files updates just those.
    const path = join(work, `report-${target}.json`);
    const previous = existsSync(path) ? JSON.parse(readFileSync(path, 'utf8')) : {};
    reports[target] = { ...previous, ...reports[target] };
    writeFileSync(path, JSON.stringify(reports[target], null, 1));
  }
} finally {
  await context.close();
  server.close();
}
if (!reports.pouchdb && existsSync(join(work, 'report-pouchdb.json'))) {
  reports.pouchdb = JSON.parse(readFileSync(join(work, 'report-pouchdb.json'), 'utf8'));
}
if (!reports.settee && existsSync(join(work, 'report-settee.json'))) {
  reports.settee = JSON.parse(readFileSync(join(work, 'report-settee.json'), 'utf8'));
}
summarize();

// ---------------------------------------------------------------------------------------------

function testFiles(suite) {
  const html = readFileSync(join(testsDir, suite, 'index.html'), 'utf8');
  const files = [...html.matchAll(/<script src=['"](?:\.\/)?([^'"]+\.js)['"]/g)]
    .map((m) => m[1])
    .filter((f) => /(^|\/)(test|browser)\.[^/]+\.js$/.test(f) && !SETUP[suite].includes(f) && !NOT_LOCAL.has(f));
  return files.filter((f) => !onlyFiles || onlyFiles.has(f) || onlyFiles.has(f.split('/').pop()));
}

async function runFile(target, suite, file) {
  const page = await context.newPage();
  const result = { tests: [], results: {}, hooks: [], fatal: undefined, pageErrors: [] };
  let finish;
  const done = new Promise((ok) => (finish = ok));
  await page.exposeFunction('__report', (msg) => {
    if (msg.type === 'tests') result.tests = [...new Set(msg.titles)];
    else if (msg.type === 'result') {
      // A test reported passed and then failed by its afterEach hook counts as failed.
      if (msg.override || result.results[msg.title]?.state !== 'failed') result.results[msg.title] = { state: msg.state, error: msg.error };
    } else if (msg.type === 'hook') {
      result.hooks.push({ hook: msg.hook, title: msg.title, error: msg.error });
      if (msg.title) result.results[msg.title] = { state: 'failed', error: `${msg.hook}: ${msg.error}` };
    } else if (msg.type === 'fatal') {
      result.fatal = msg.error;
      finish();
    } else if (msg.type === 'end') finish();
  });
  page.on('pageerror', (err) => result.pageErrors.length < 20 && result.pageErrors.push(String(err.message).slice(0, 300)));
  const pageName = `${suite}-${file.replace(/[/]/g, '_')}.html`;
  writeFileSync(join(gen, pageName), pageHtml(suite, file));
  const timer = setTimeout(() => {
    result.fatal ??= `file timeout after ${FILE_TIMEOUT} ms`;
    finish();
  }, FILE_TIMEOUT);
  try {
    await page.goto(`${url}/gen/${pageName}?target=${target}`);
    await done;
  } catch (err) {
    result.fatal ??= String(err.message);
  } finally {
    clearTimeout(timer);
    await page.close().catch(() => {});
  }
  return result;
}

function pageHtml(suite, file) {
  const scripts = [...SETUP[suite], file].map((f) => `<script src="${scriptUrl(suite, f)}"></script>`).join('\n');
  const grep = args.grep ? `mocha.grep(${JSON.stringify(args.grep)});` : '';
  return `<!doctype html><meta charset="utf-8"><title>${suite}/${file}</title>
<div id="mocha"></div>
<script src="/lib/mocha/mocha.js"></script>
<script src="/lib/chai/chai.js"></script>
<script src="/lib/chai-as-promised/lib/chai-as-promised.js"></script>
<script>mocha.setup({ timeout: ${TEST_TIMEOUT}, ui: 'bdd' }); ${grep} var should = chai.should(); var assert = chai.assert;</script>
<script src="/runner/coverage-shim.js"></script>
<script src="/gen/utils-bundle.js"></script>
${suite === 'integration' ? '<script src="/runner/unhandled-hook.js"></script>' : ''}
${scripts}
<script type="module" src="/runner/boot.js"></script>
`;
}

/**
 * A test file that `require`s chai at its top (test.attachments.js: `const should =
 * require('chai').should()`) only loads under a bundler: as a plain script its `const` clashes
 * with the page's global `should` and `require` is undefined. Such a file is served wrapped in
 * a function that supplies `require('chai')`, which is what the bundle did.
 */
function scriptUrl(suite, file) {
  const src = readFileSync(join(testsDir, suite, file), 'utf8');
  if (!/^(const|var|let) \w+ = require\(/m.test(src)) return `/tests/${suite}/${file}`;
  const out = join(gen, 'wrapped', suite, file);
  mkdirSync(dirname(out), { recursive: true });
  writeFileSync(out, `(function (require) {\n${src}\n})(function (name) {\n  if (name === 'chai') return chai;\n  throw new Error('runner: no module ' + name);\n});\n`);
  return `/gen/wrapped/${suite}/${file}`;
}

/** PouchDB's tests/integration/utils.js with its two requires resolved (what browserify did for them). */
function utilsBundle() {
  const common = readFileSync(join(testsDir, 'common-utils.js'), 'utf8');
  const utils = readFileSync(join(testsDir, 'integration/utils.js'), 'utf8');
  return `(function () {
var commonUtils = (function () { var module = { exports: {} }, exports = module.exports;
${common}
return module.exports; })();
function require(name) {
  if (/common-utils$/.test(name)) return commonUtils;
  if (/pouchdb-for-coverage$/.test(name)) return window.__pouchdbForCoverageShim;
  throw new Error('runner: no module ' + name);
}
(function (module, exports) {
${utils}
})({ exports: {} }, {});
})();
`;
}

function counts(r) {
  const total = r.tests.length;
  const passed = r.tests.filter((t) => r.results[t]?.state === 'passed').length;
  const pending = r.tests.filter((t) => r.results[t]?.state === 'pending').length;
  return { total, passed, pending, failed: total - passed - pending };
}

function summarize() {
  const ref = reports.pouchdb ?? {};
  const mine = reports.settee ?? {};
  const keys = [...new Set([...Object.keys(ref), ...Object.keys(mine)])].filter((k) => {
    const [suite, ...rest] = k.split('/');
    const f = rest.join('/');
    return suites.includes(suite) && (!onlyFiles || onlyFiles.has(f) || onlyFiles.has(f.split('/').pop()));
  });
  const rows = [];
  const failing = {};
  const totals = { tests: 0, pouchdb: 0, settee: 0, both: 0 };
  for (const k of keys) {
    const p = ref[k];
    const s = mine[k];
    const pPassed = new Set(p ? p.tests.filter((t) => p.results[t]?.state === 'passed') : []);
    const sPassed = new Set(s ? s.tests.filter((t) => s.results[t]?.state === 'passed') : []);
    const tests = (p ?? s).tests.length;
    const both = [...pPassed].filter((t) => sPassed.has(t)).length;
    rows.push({ file: k, tests, pouchdb: p ? pPassed.size : null, settee: s ? sPassed.size : null, settee_of_pouchdb: s ? both : null });
    totals.tests += tests;
    totals.pouchdb += pPassed.size;
    totals.settee += sPassed.size;
    totals.both += both;
    if (s) {
      const list = [...pPassed].filter((t) => !sPassed.has(t)).map((t) => ({ title: t, error: s.results[t]?.error ?? (s.fatal ? `file: ${s.fatal}` : 'not run (a hook failed or the file timed out)') }));
      if (list.length) failing[k] = list;
    }
  }
  console.log('\n| file | tests | PouchDB 9 passes | Settee passes | of those PouchDB passes |');
  console.log('|---|--:|--:|--:|--:|');
  for (const r of rows) console.log(`| ${r.file} | ${r.tests} | ${r.pouchdb ?? '–'} | ${r.settee ?? '–'} | ${r.settee_of_pouchdb ?? '–'} |`);
  console.log(`| **total** | ${totals.tests} | ${totals.pouchdb} | ${totals.settee} | ${totals.both} |`);
  writeFileSync(join(work, 'report.json'), JSON.stringify({ rows, totals, failing }, null, 1));
  console.log(`\nreport: ${join(work, 'report.json')}`);
}

function findLibs() {
  const dirs = [join(root, 'node_modules'), join(work, 'npm/node_modules')];
  const find = (name, file) => {
    for (const d of dirs) if (existsSync(join(d, name, file))) return join(d, name);
    die(`${name} missing (npm install, or run scripts/pouchdb-suite/run.sh, which installs it into target/)`);
  };
  return { mocha: find('mocha', 'mocha.js'), chai: find('chai', 'chai.js'), chaiAsPromised: find('chai-as-promised', 'lib/chai-as-promised.js') };
}

function listen(srv) {
  return new Promise((ok) => srv.listen(0, '127.0.0.1', () => ok({ server: srv, url: `http://127.0.0.1:${srv.address().port}` })));
}

function parseArgs(argv) {
  const out = {};
  for (let i = 0; i < argv.length; i++) {
    const m = /^--([^=]+)(?:=(.*))?$/.exec(argv[i]);
    if (!m) die(`bad argument ${argv[i]}`);
    if (m[2] !== undefined) out[m[1]] = m[2];
    else if (argv[i + 1] !== undefined && !argv[i + 1].startsWith('--')) out[m[1]] = argv[++i];
    else out[m[1]] = true;
  }
  return out;
}

function die(msg) {
  console.error(`pouchdb-suite: ${msg}`);
  process.exit(2);
}
