//! The JS half of `db::shape::Shape::Columns`: parses a columns answer and rebuilds PouchDB's
//! row objects from it, so the page parses each id, rev and doc once (the JSON text is about
//! half the size of the rows') and a row is a few property stores. Each function takes the
//! JSON text; an answer already in rows (`allDocs({keys})`) is returned as parsed.
//!
//! The column layouts are documented in `db::all_docs_out` and `db::changes_out`; the rows
//! built here must keep the members and member order of `Shape::Rows` (the `db_web` tests
//! compare the two).

use crate::error::{Error, Result};
use wasm_bindgen::prelude::*;

#[wasm_bindgen(inline_js = r#"
export function expandAllDocs(text) {
  const o = JSON.parse(text);
  if (o.rows !== undefined) return o;
  const { ids, revs, docs } = o;
  let rows;
  if (docs !== undefined) {
    rows = new Array(docs.length);
    for (let i = 0; i < docs.length; i++) {
      const doc = docs[i];
      rows[i] = { id: doc._id, key: doc._id, value: { rev: doc._rev }, doc };
    }
    for (const i of o.no_doc) rows[i].doc = null;
  } else {
    rows = new Array(ids.length);
    for (let i = 0; i < ids.length; i++) rows[i] = { id: ids[i], key: ids[i], value: { rev: revs[i] } };
  }
  const out = { total_rows: o.total_rows, offset: o.offset, rows };
  if (o.update_seq !== undefined) out.update_seq = o.update_seq;
  return out;
}
export function expandChanges(text) {
  const o = JSON.parse(text);
  if (o.results !== undefined) return o;
  const { ids, seqs, revs, deleted, docs } = o;
  const n = ids.length;
  const results = new Array(n);
  let d = 0;
  for (let i = 0; i < n; i++) {
    const r = revs[i];
    const changes = typeof r === 'string' ? [{ rev: r }] : r.map((rev) => ({ rev }));
    const row = { id: ids[i], seq: seqs[i], changes };
    if (d < deleted.length && deleted[d] === i) {
      row.deleted = true;
      d++;
    }
    if (docs !== undefined && docs[i] !== null) row.doc = docs[i];
    results[i] = row;
  }
  return { results, last_seq: o.last_seq };
}
"#)]
extern "C" {
    #[wasm_bindgen(catch, js_name = expandAllDocs)]
    fn expand_all_docs(text: &str) -> std::result::Result<JsValue, JsValue>;
    #[wasm_bindgen(catch, js_name = expandChanges)]
    fn expand_changes(text: &str) -> std::result::Result<JsValue, JsValue>;
}

fn invalid(_: JsValue) -> Error {
    Error::storage("internal: produced invalid JSON")
}

/// An `allDocs` answer (either shape) as PouchDB's JS object.
pub fn all_docs(json: &str) -> Result<JsValue> {
    expand_all_docs(json).map_err(invalid)
}

/// A `changes` answer (either shape) as PouchDB's JS object.
pub fn changes(json: &str) -> Result<JsValue> {
    expand_changes(json).map_err(invalid)
}
