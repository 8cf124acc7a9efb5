// Replaces PouchDB's tests/integration/test.setup_global_hooks.js, which fails the root
// `afterEach` hook when a test leaves an unhandled rejection. Mocha stops a whole run when a
// root hook fails, so one such test would hide every later result. Here the test that saw the
// unhandled rejection is reported failed (the same verdict for that test) and the run goes on.
(function () {
  'use strict';
  var seen = null;
  window.addEventListener('unhandledrejection', function (event) {
    seen = seen || event.reason || new Error('unhandled rejection');
  });
  beforeEach(function () {
    seen = null;
  });
  afterEach(function () {
    if (seen && this.currentTest) {
      window.__report({
        type: 'result',
        title: this.currentTest.fullTitle(),
        state: 'failed',
        error: 'unhandled rejection: ' + String((seen && seen.message) || seen).slice(0, 400),
        override: true,
      });
    }
    seen = null;
  });
})();
