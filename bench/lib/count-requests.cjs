// Preloaded into the bench's pouchdb-server (`node -r`): counts the HTTP requests it receives,
// by method. The page's own request log (playwright) cannot see CORS preflights, which Chromium
// sends from its network service before any non-simple cross-origin request whose preflight it
// has not cached; they are round trips too. `GET /_bench_counts` answers the counts since the
// last such request and resets them; it is not counted and never reaches the server's app.
const http = require('node:http');

let counts = {};
const emit = http.Server.prototype.emit;
http.Server.prototype.emit = function (event, req, res) {
  if (event === 'request') {
    if (req.url === '/_bench_counts') {
      res.writeHead(200, { 'content-type': 'application/json' });
      res.end(JSON.stringify(counts));
      counts = {};
      return true;
    }
    counts[req.method] = (counts[req.method] ?? 0) + 1;
  }
  return emit.apply(this, arguments);
};
