//! JS map and reduce functions behind the db layer's `MapFn` / `ReduceFn`.
//!
//! - A map runs over a whole batch in one call into JS (`runMap`): the docs go in as one JSON
//!   string, parsed once there; the emits come back as one JSON string. A doc whose map throws
//!   (or emits something JSON cannot hold) gets `null`, which the db layer skips.
//! - Before each batch the map awaits a message posted to itself (a new task, like
//!   `setTimeout(0)` without its 4 ms clamp), so a long build yields to the event loop between
//!   batches and the page stays responsive.
//! - `emit` is passed as the second argument and also set as `globalThis.emit` during the call,
//!   so `(doc, emit) => …` and `function (doc) { emit(…) }` objects both work without `eval`.
//!   Only source strings (from design docs) go through `new Function`.
//! - CouchDB's query-server helpers `sum`, `log`, `toJSON` and `isArray` are in scope of
//!   source text, and globals (unless the page defines its own) while function objects run.
//! - `identity_of` names a function object: a token unique to it (random, so also unique
//!   across page loads), `""` for source text. Two closures can share their source text and
//!   still map differently (`(doc, emit) => doc.type === type && emit(…)`), so a temporary
//!   view made from a function object is indexed under its identity, not its source alone.

use crate::db::views::{Emits, MapFn, ReduceFn};
use crate::error::{Error, Result};
use async_trait::async_trait;
use serde_json::Value;
use wasm_bindgen::prelude::*;
use wasm_bindgen_futures::JsFuture;

#[wasm_bindgen(inline_js = r#"
// CouchDB's JavaScript query server gives map and reduce functions these helpers.
const helpers = {
  sum: (xs) => xs.reduce((a, b) => a + b, 0),
  log: () => {},
  toJSON: (v) => JSON.stringify(v),
  isArray: (v) => Array.isArray(v),
};
// Source text as design docs hold it: a trailing `;` (`function (doc) {…};`) is allowed.
const compile = (src, names, values) =>
  new Function(...names, 'return (' + String(src).replace(/[;\s]+$/, '') + ');')(...values);
// Function objects see the helpers as globals while they run (unless the page has its own).
function withGlobals(extra, run) {
  const g = globalThis, saved = [];
  for (const [k, v] of Object.entries(extra)) {
    if (k in g && k !== 'emit') continue;
    saved.push([k, Object.prototype.hasOwnProperty.call(g, k), g[k]]);
    g[k] = v;
  }
  try { return run(); } finally {
    for (const [k, had, prev] of saved) { if (had) g[k] = prev; else delete g[k]; }
  }
}
// `onError(e)` hears each exception a map throws (the doc is skipped either way).
export function makeMapper(fn, onError) {
  let out = null;
  const emit = (key, value) => {
    if (out === null) throw new Error('emit() called outside a map function');
    out.push([key === undefined ? null : key, value === undefined ? null : value]);
  };
  const f = typeof fn === 'function' ? fn : compile(fn, ['emit', ...Object.keys(helpers)], [emit, ...Object.values(helpers)]);
  if (typeof f !== 'function') throw new TypeError('a map function must be a function');
  return { f, emit, onError: typeof onError === 'function' ? onError : null, set(o) { out = o; } };
}
export function runMap(m, docsJson) {
  const docs = JSON.parse(docsJson);
  const parts = new Array(docs.length);
  try {
    withGlobals({ ...helpers, emit: m.emit }, () => {
      for (let i = 0; i < docs.length; i++) {
        const rows = [];
        m.set(rows);
        try { m.f(docs[i], m.emit); parts[i] = JSON.stringify(rows); } catch (e) {
          parts[i] = 'null';
          if (m.onError) { try { m.onError(e); } catch (_) { /* a listener's own error */ } }
        }
      }
    });
  } finally {
    m.set(null);
  }
  return '[' + parts.join(',') + ']';
}
// Design doc source text as one function, with the helpers in scope (validate_doc_update).
export function compileFunction(src) {
  const f = compile(src, Object.keys(helpers), Object.values(helpers));
  if (typeof f !== 'function') throw new TypeError('not a function');
  return f;
}
export function makeReducer(fn) {
  if (typeof fn === 'function') return fn;
  const f = compile(fn, Object.keys(helpers), Object.values(helpers));
  if (typeof f !== 'function') throw new TypeError('a reduce function must be a function');
  return f;
}
export function runReduce(f, json) {
  const a = JSON.parse(json);
  const r = withGlobals(helpers, () => f(a.keys, a.values, a.rereduce));
  return JSON.stringify(r === undefined ? null : r);
}
// A message to itself, not setTimeout(0): a build whose pages need no IndexedDB read calls
// this from inside the task the last one started, and browsers clamp such nested timeouts to
// 4 ms after five levels.
let tickPort = null;
let tickListener = null;
const ticks = [];
// In Node a port with a listener keeps the process alive: it is held (`ref`) only while a
// tick is pending, so an idle database lets a script exit.
const holdPort = (hold) => {
  if (tickListener !== null && typeof tickListener.ref === 'function') hold ? tickListener.ref() : tickListener.unref();
};
export function nextTick() {
  if (tickPort === null) {
    const channel = new MessageChannel();
    channel.port1.onmessage = () => {
      ticks.shift()();
      if (ticks.length === 0) holdPort(false);
    };
    tickListener = channel.port1;
    tickPort = channel.port2;
  }
  return new Promise((ok) => {
    if (ticks.length === 0) holdPort(true);
    ticks.push(ok);
    tickPort.postMessage(null);
  });
}
export function sourceOf(fn) { return typeof fn === 'function' ? fn.toString() : String(fn); }
const identities = new WeakMap();
let nextIdentity = 0;
export function identityOf(fn) {
  if (typeof fn !== 'function') return '';
  let id = identities.get(fn);
  if (id === undefined) {
    id = `${Date.now().toString(36)}.${Math.random().toString(36).slice(2)}.${++nextIdentity}`;
    identities.set(fn, id);
  }
  return id;
}
"#)]
extern "C" {
    #[wasm_bindgen(catch, js_name = makeMapper)]
    fn make_mapper(f: &JsValue, on_error: &JsValue) -> std::result::Result<JsValue, JsValue>;
    #[wasm_bindgen(catch, js_name = runMap)]
    fn run_map(m: &JsValue, docs: &str) -> std::result::Result<String, JsValue>;
    #[wasm_bindgen(catch, js_name = compileFunction)]
    pub(super) fn compile_function(src: &str) -> std::result::Result<JsValue, JsValue>;
    #[wasm_bindgen(catch, js_name = makeReducer)]
    fn make_reducer(f: &JsValue) -> std::result::Result<JsValue, JsValue>;
    #[wasm_bindgen(catch, js_name = runReduce)]
    fn run_reduce(f: &JsValue, json: &str) -> std::result::Result<String, JsValue>;
    #[wasm_bindgen(js_name = nextTick)]
    fn next_tick() -> js_sys::Promise;
    #[wasm_bindgen(js_name = sourceOf)]
    pub fn source_of(f: &JsValue) -> String;
    #[wasm_bindgen(js_name = identityOf)]
    pub fn identity_of(f: &JsValue) -> String;
}

/// A JS exception as a 400 naming `what` and the exception's message.
pub(super) fn js_error(what: &str, e: JsValue) -> Error {
    let message = js_sys::Reflect::get(&e, &"message".into()).ok().and_then(|m| m.as_string());
    Error::bad_request(format!("{what}: {}", message.unwrap_or_else(|| format!("{e:?}"))))
}

/// A JS map function (a function, or source text compiled on creation).
pub struct JsMap {
    mapper: JsValue,
}

impl JsMap {
    pub fn new(f: &JsValue) -> Result<JsMap> {
        Self::with_errors(f, &JsValue::UNDEFINED)
    }

    /// A map whose exceptions are also passed to `on_error` (a function, or `undefined`).
    pub fn with_errors(f: &JsValue, on_error: &JsValue) -> Result<JsMap> {
        Ok(JsMap { mapper: make_mapper(f, on_error).map_err(|e| js_error("invalid map function", e))? })
    }
}

#[async_trait(?Send)]
impl MapFn for JsMap {
    async fn map_batch(&self, docs: &[String]) -> Vec<Result<Emits>> {
        let _ = JsFuture::from(next_tick()).await;
        let fail = |e: Error| docs.iter().map(|_| Err(e.clone())).collect();
        let mut array = String::with_capacity(docs.iter().map(|d| d.len() + 1).sum::<usize>() + 2);
        array.push('[');
        for (i, doc) in docs.iter().enumerate() {
            if i > 0 {
                array.push(',');
            }
            array.push_str(doc);
        }
        array.push(']');
        let text = match run_map(&self.mapper, &array) {
            Ok(t) => t,
            Err(e) => return fail(js_error("map failed", e)),
        };
        let parsed: Vec<Option<Vec<(Value, Value)>>> = match serde_json::from_str(&text) {
            Ok(p) => p,
            Err(e) => return fail(Error::storage(format!("map output: {e}"))),
        };
        parsed.into_iter().map(|r| r.ok_or_else(|| Error::bad_request("map threw"))).collect()
    }
}

/// A JS reduce function, called as `reduce(keys, values, rereduce)`.
/// With `on_error` (PouchDB's way), a reduce that throws is reported there and reduces to
/// `null`; without it the query fails, as in CouchDB.
pub struct JsReduce {
    f: JsValue,
    on_error: Option<js_sys::Function>,
}

impl JsReduce {
    pub fn with_errors(f: &JsValue, on_error: &JsValue) -> Result<JsReduce> {
        let on_error = on_error.clone().dyn_into::<js_sys::Function>().ok();
        Ok(JsReduce { f: make_reducer(f).map_err(|e| js_error("invalid reduce function", e))?, on_error })
    }
}

impl ReduceFn for JsReduce {
    fn reduce(&self, keys: Option<&[(Value, String)]>, values: &[Value], rereduce: bool) -> Result<Value> {
        let keys = keys.map(|k| k.iter().map(|(key, id)| serde_json::json!([key, id])).collect::<Vec<_>>());
        let input = serde_json::json!({"keys": keys, "values": values, "rereduce": rereduce});
        let out = match (run_reduce(&self.f, &input.to_string()), &self.on_error) {
            (Ok(out), _) => out,
            (Err(e), Some(report)) => {
                let _ = report.call1(&JsValue::UNDEFINED, &e);
                return Ok(Value::Null);
            }
            (Err(e), None) => return Err(js_error("reduce failed", e)),
        };
        serde_json::from_str(&out).map_err(|e| Error::storage(format!("reduce output: {e}")))
    }
}
