// Loads the database under test as `window.PouchDB` (PouchDB 9's browser build, or Settee's
// `settee/pouchdb` entry), drops the suites that need a CouchDB server (their titles name the
// `http` adapter), and runs mocha, streaming each result to the runner through
// `window.__report` (exposed by run.mjs).
const params = new URLSearchParams(location.search);
const target = params.get('target');

function loadScript(src) {
  return new Promise((resolve, reject) => {
    const s = document.createElement('script');
    s.src = src;
    s.onload = resolve;
    s.onerror = () => reject(new Error(`failed to load ${src}`));
    document.head.append(s);
  });
}

async function loadDatabase() {
  if (target === 'pouchdb') {
    await loadScript('/pouchdb/pouchdb.js');
    await loadScript('/pouchdb/pouchdb.find.js');
    return window.PouchDB;
  }
  const mod = await import('/pkg/pouchdb.js');
  return mod.default;
}

/** Removes every suite whose own title names the http adapter (remote blocks). */
function dropRemoteSuites(suite) {
  suite.suites = suite.suites.filter((s) => !/(^|[-: ])http([-: ]|$)/.test(s.title));
  suite.suites.forEach(dropRemoteSuites);
}

function testInfo(test, err) {
  return {
    title: test.fullTitle(),
    state: test.state ?? (test.pending ? 'pending' : undefined),
    duration: test.duration,
    error: err ? String(err.message ?? err).slice(0, 500) : undefined,
  };
}

(async () => {
  try {
    window.PouchDB = await loadDatabase();
  } catch (err) {
    await window.__report({ type: 'fatal', error: String(err?.stack ?? err) });
    return;
  }
  dropRemoteSuites(mocha.suite);
  const all = [];
  (function collect(suite) {
    for (const t of suite.tests) all.push(t.fullTitle());
    suite.suites.forEach(collect);
  })(mocha.suite);
  await window.__report({ type: 'tests', titles: all });

  mocha.reporter(function (runner) {
    runner.on('pass', (test) => window.__report({ type: 'result', ...testInfo(test), state: 'passed' }));
    runner.on('pending', (test) => window.__report({ type: 'result', ...testInfo(test), state: 'pending' }));
    runner.on('fail', (test, err) => {
      // A failing hook is reported under the hook's title; the tests it stopped never run.
      const hook = test.type === 'hook';
      window.__report({
        type: hook ? 'hook' : 'result',
        ...testInfo(hook && test.ctx?.currentTest ? test.ctx.currentTest : test, err),
        hook: hook ? test.title : undefined,
        state: 'failed',
      });
    });
    runner.on('end', () => window.__report({ type: 'end' }));
  });
  mocha.run();
})();
