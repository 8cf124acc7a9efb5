// Stands in for `pouchdb-for-coverage`, which PouchDB's tests/integration/utils.js requires for
// a few helpers (base64, blobs, uuids, the error table). Written for Settee's runner: only what
// the tests read, from the browser's own primitives. It must not give the database under test
// any behaviour: anything PouchDB-shaped belongs in `settee/pouchdb`, not here.
(function () {
  'use strict';

  function error(status, name, message) {
    var e = new Error(message);
    e.status = status;
    e.name = name;
    e.message = message;
    e.error = true;
    return e;
  }

  // PouchDB's error vocabulary (status, name, message), as its API documents them.
  var Errors = {
    UNAUTHORIZED: error(401, 'unauthorized', 'Name or password is incorrect.'),
    MISSING_BULK_DOCS: error(400, 'bad_request', "Missing JSON list of 'docs'"),
    MISSING_DOC: error(404, 'not_found', 'missing'),
    REV_CONFLICT: error(409, 'conflict', 'Document update conflict'),
    INVALID_ID: error(400, 'bad_request', '_id field must contain a string'),
    MISSING_ID: error(412, 'missing_id', '_id is required for puts'),
    RESERVED_ID: error(400, 'bad_request', 'Only reserved document ids may start with underscore.'),
    DOC_VALIDATION: error(500, 'doc_validation', 'Bad special document member'),
    BAD_REQUEST: error(400, 'bad_request', 'Something wrong with the request'),
    NOT_AN_OBJECT: error(400, 'bad_request', 'Document must be a JSON object'),
    FORBIDDEN: error(403, 'forbidden', 'Forbidden by design doc validate_doc_update function'),
    INVALID_REV: error(400, 'bad_request', 'Invalid rev format'),
  };

  function binaryStringToBlob(binary, type) {
    var bytes = new Uint8Array(binary.length);
    for (var i = 0; i < binary.length; i++) bytes[i] = binary.charCodeAt(i);
    return new Blob([bytes], { type: type || '' });
  }

  function hex(n) {
    var bytes = crypto.getRandomValues(new Uint8Array(n));
    return Array.prototype.map.call(bytes, function (b) { return (b + 0x100).toString(16).slice(1); }).join('');
  }

  // RFC 3986's regex for splitting a URI; enough for the tests' `couchHost` parsing.
  function parseUri(str) {
    var m = /^(?:([^:/?#]+):\/\/)?(?:([^@/?#]*)@)?([^:/?#]*)(?::(\d+))?([^?#]*)/.exec(str) || [];
    return { protocol: m[1] || '', userInfo: m[2] || '', host: m[3] || '', port: m[4] || '', path: m[5] || '' };
  }

  window.__pouchdbForCoverageShim = {
    Errors: Errors,
    ajax: function () { throw new Error('ajax is not provided by the Settee runner'); },
    utils: {
      binaryStringToBlobOrBuffer: binaryStringToBlob,
      blob: function (parts, opts) { return new Blob(parts, opts); },
      btoa: function (s) { return btoa(s); },
      atob: function (s) { return atob(s); },
      uuid: function () { return hex(16).toUpperCase(); },
      rev: function () { return hex(16); },
      parseUri: parseUri,
      assign: Object.assign,
      generateReplicationId: function () {
        return Promise.reject(new Error('replication ids are implementation-specific; not provided by the runner'));
      },
    },
  };
})();
