//! `Database`, the JS class behind the TS wrapper's `Settee`. Every method returns a Promise
//! and converts its arguments inside it, so bad input rejects rather than throws.

use super::changes_feed::ChangesFeed;
use super::convert::{from_js, json_text, new_id, to_js};
use super::endpoint::Endpoint;
use super::error::{to_js as err_to_js, to_js_for_doc};
use super::expand;
use super::filter_fns;
use super::promise::spawn;
use super::storage;
use crate::db::shape::Shape;
use crate::db::{self, DatabaseOptions, DEFAULT_REVS_LIMIT};
use crate::error::{Error, Result};
use crate::replicate::LocalPeer;
use js_sys::Promise;
use serde_json::Value;
use std::future::Future;
use std::rc::Rc;
use wasm_bindgen::prelude::*;

#[wasm_bindgen]
pub struct Database {
    pub(super) inner: Rc<db::Database>,
}

/// Runs `f` as a Promise of the JSON text it produces, parsed once into JS.
fn promise<F: Future<Output = Result<String>> + 'static>(f: F) -> Promise {
    promise_as(f, to_js)
}

/// `promise`, with the JSON text turned into JS by `convert` (see `expand`).
fn promise_as<F>(f: F, convert: fn(&str) -> Result<JsValue>) -> Promise
where
    F: Future<Output = Result<String>> + 'static,
{
    spawn(async move {
        let json = f.await.map_err(err_to_js)?;
        convert(&json).map_err(err_to_js)
    })
}

/// `promise`, whose rejection names the document (`docId`) the call was about.
fn promise_for_doc<F: Future<Output = Result<String>> + 'static>(doc_id: Option<String>, f: F) -> Promise {
    spawn(async move {
        let json = f.await.map_err(|e| to_js_for_doc(e, doc_id.as_deref()))?;
        to_js(&json).map_err(err_to_js)
    })
}

/// The `_id` of a doc argument, when it has a string one.
fn doc_id_of(doc: &JsValue) -> Option<String> {
    js_sys::Reflect::get(doc, &JsValue::from_str("_id")).ok()?.as_string()
}

fn new_edits_opt(options: &Value) -> Result<bool> {
    db::options::Opts::new(options)?.bool_or("new_edits", true)
}

#[wasm_bindgen]
impl Database {
    /// `open(name, {adapter?: 'idb' | 'fs' | 'memory', prefix?, revs_limit?})`.
    pub fn open(name: String, options: JsValue) -> Promise {
        spawn(async move {
            let db = open(&name, &options).await.map_err(err_to_js)?;
            Ok(JsValue::from(Database { inner: Rc::new(db) }))
        })
    }

    #[wasm_bindgen(getter)]
    pub fn name(&self) -> String {
        self.inner.name().to_string()
    }

    /// This database as one side of a `Replication`.
    pub fn endpoint(&self) -> Endpoint {
        Endpoint::local(LocalPeer::new(self.inner.clone()).with_filters(filter_fns::compiler_only()))
    }

    pub fn put(&self, doc: JsValue, options: JsValue) -> Promise {
        let db = self.inner.clone();
        promise_for_doc(doc_id_of(&doc), async move {
            let opts = from_js(&options)?;
            if db::options::Opts::new(&opts)?.bool("force")? {
                return db.put_forced(from_js(&doc)?).await;
            }
            db.put(from_js(&doc)?, new_edits_opt(&opts)?).await
        })
    }

    pub fn post(&self, doc: JsValue, _options: JsValue) -> Promise {
        let db = self.inner.clone();
        promise_for_doc(doc_id_of(&doc), async move { db.post(from_js(&doc)?).await })
    }

    /// With `{attachments: true, binary: true}`, attachment data comes back as `Blob`s.
    pub fn get(&self, id: JsValue, options: JsValue) -> Promise {
        let db = self.inner.clone();
        spawn(async move {
            let run = async {
                let id = id.as_string().ok_or_else(|| Error::bad_request("id must be a string"))?;
                let options = from_js(&options)?;
                let Some(stubs) = super::attachments::binary_read(&options)? else {
                    return to_js(&db.get(&id, &options).await?);
                };
                let doc = to_js(&db.get(&id, &stubs).await?)?;
                super::attachments::fill_blobs(&db, &doc).await?;
                Ok(doc)
            };
            run.await.map_err(|e| to_js_for_doc(e, id.as_string().as_deref()))
        })
    }

    /// `remove(doc)` or `remove(id, rev)`.
    pub fn remove(&self, doc_or_id: JsValue, rev_or_options: JsValue, _options: JsValue) -> Promise {
        let db = self.inner.clone();
        promise(async move {
            let (id, rev) = match doc_or_id.as_string() {
                Some(id) => (Some(id), rev_or_options.as_string()),
                None => {
                    let doc = from_js(&doc_or_id)?;
                    if !doc.is_object() {
                        return Err(Error::not_an_object());
                    }
                    let field = |k: &str| doc.get(k).and_then(Value::as_str).map(str::to_string);
                    // `remove(doc, {rev})`: PouchDB takes the rev from the options too.
                    let opt_rev = || {
                        from_js(&rev_or_options).ok()?.get("rev").and_then(Value::as_str).map(str::to_string)
                    };
                    (field("_id"), field("_rev").or_else(opt_rev))
                }
            };
            let id = id.ok_or_else(Error::missing_id)?;
            let rev = rev.ok_or_else(Error::conflict)?;
            db.remove(&id, &rev).await
        })
    }

    /// `bulkDocs(docs | {docs, new_edits}, {new_edits})`.
    #[wasm_bindgen(js_name = bulkDocs)]
    pub fn bulk_docs(&self, docs: JsValue, options: JsValue) -> Promise {
        let db = self.inner.clone();
        promise(async move {
            if js_sys::Array::is_array(&docs) {
                // The common form: the docs' text goes to `bulk_docs_text` as it is.
                let new_edits = new_edits_opt(&from_js(&options)?)?;
                let text = json_text(&docs)?.unwrap_or_default();
                return db.bulk_docs_text(&text, new_edits).await;
            }
            let (docs, mut new_edits) = match from_js(&docs)? {
                Value::Array(d) => (d, true),
                Value::Object(mut m) => {
                    let ne = new_edits_opt(&Value::Object(m.clone()))?;
                    match m.remove("docs") {
                        Some(Value::Array(d)) => (d, ne),
                        _ => return Err(Error::bad_request(crate::db::doc::MISSING_DOCS)),
                    }
                }
                _ => return Err(Error::bad_request(crate::db::doc::MISSING_DOCS)),
            };
            let opts = from_js(&options)?;
            if db::options::Opts::new(&opts)?.has("new_edits") {
                new_edits = new_edits_opt(&opts)?;
            }
            db.bulk_docs(docs, new_edits).await
        })
    }

    #[wasm_bindgen(js_name = bulkGet)]
    pub fn bulk_get(&self, options: JsValue) -> Promise {
        let db = self.inner.clone();
        spawn(async move {
            let run = async {
                let options = from_js(&options)?;
                let Some(stubs) = super::attachments::binary_read(&options)? else {
                    return to_js(&db.bulk_get(&options).await?);
                };
                let answer = to_js(&db.bulk_get(&stubs).await?)?;
                super::attachments::fill_bulk_get_blobs(&db, &answer).await?;
                Ok(answer)
            };
            run.await.map_err(err_to_js)
        })
    }

    #[wasm_bindgen(js_name = revsDiff)]
    pub fn revs_diff(&self, request: JsValue) -> Promise {
        let db = self.inner.clone();
        promise(async move { db.revs_diff(&from_js(&request)?).await })
    }

    #[wasm_bindgen(js_name = allDocs)]
    pub fn all_docs(&self, options: JsValue) -> Promise {
        let db = self.inner.clone();
        spawn(async move {
            let run = async {
                let options = from_js(&options)?;
                let Some(stubs) = super::attachments::binary_read(&options)? else {
                    return expand::all_docs(&db.all_docs_as(&options, Shape::Columns).await?);
                };
                let answer = expand::all_docs(&db.all_docs(&stubs).await?)?;
                super::attachments::fill_row_blobs(&db, &answer).await?;
                Ok(answer)
            };
            run.await.map_err(err_to_js)
        })
    }

    /// One-shot changes; `liveChanges` is the feed that waits for more.
    pub fn changes(&self, options: JsValue) -> Promise {
        let db = self.inner.clone();
        spawn(async move {
            let run = async {
                let ctx = filter_fns::context(&options)?;
                let json = from_js(&options)?;
                let binary = super::attachments::binary_read(&json)?;
                let answer = expand::changes(
                    &db.changes_with(binary.as_ref().unwrap_or(&json), Shape::Columns, &ctx).await?,
                )?;
                if binary.is_some() {
                    let rows = js_sys::Reflect::get(&answer, &"results".into()).unwrap_or(JsValue::UNDEFINED);
                    super::attachments::fill_docs_of(&db, &rows, "doc").await?;
                }
                Ok(answer)
            };
            run.await.map_err(err_to_js)
        })
    }

    /// With `{include_docs, attachments, binary}` each page's docs get `Blob`s (see
    /// `attachments::binary_read`).
    #[wasm_bindgen(js_name = liveChanges)]
    pub fn live_changes(&self, options: JsValue) -> ChangesFeed {
        let json = from_js(&options);
        let binary = json.as_ref().ok().map(super::attachments::binary_read);
        let (json, binary) = match binary {
            Some(Ok(Some(stubs))) => (Ok(stubs), true),
            Some(Err(e)) => (Err(e), false),
            _ => (json, false),
        };
        match filter_fns::context(&options) {
            Ok(ctx) => ChangesFeed::with_filters(self.inner.clone(), json, ctx, binary),
            Err(e) => ChangesFeed::new(self.inner.clone(), Err(e)),
        }
    }

    pub fn info(&self) -> Promise {
        let db = self.inner.clone();
        promise(async move { db.info().await })
    }

    pub fn compact(&self) -> Promise {
        let db = self.inner.clone();
        promise(async move { db.compact().await })
    }

    /// Checks the integrity of the database's storage: a report of what it counted, or the
    /// `corruption` error naming the first problem (see `db::verify`).
    pub fn verify(&self) -> Promise {
        let db = self.inner.clone();
        promise(async move { db.verify().await })
    }

    pub fn destroy(&self) -> Promise {
        let db = self.inner.clone();
        promise(async move { db.destroy().await })
    }

    pub fn close(&self) -> Promise {
        let db = self.inner.clone();
        spawn(async move {
            db.close();
            Ok(JsValue::UNDEFINED)
        })
    }
}

async fn open(name: &str, options: &JsValue) -> Result<db::Database> {
    if name.is_empty() {
        return Err(Error::bad_request("a database needs a name"));
    }
    let options = from_js(options)?;
    let o = db::options::Opts::new(&options)?;
    let default_adapter = if storage::has_file_system() { "fs" } else { "idb" };
    let adapter = o.str("adapter")?.unwrap_or(default_adapter);
    let prefix = o.str("prefix")?.unwrap_or("").to_string();
    let revs_limit = match o.u64("revs_limit")? {
        Some(0) => return Err(db::options::bad("revs_limit", "a positive integer")),
        Some(n) => n as usize,
        None => DEFAULT_REVS_LIMIT,
    };
    let (kv, adapter) = storage::open(name, adapter, &prefix).await?;
    let db = db::Database::new(name, kv, DatabaseOptions { adapter, revs_limit, new_id: Box::new(new_id) });
    super::validation::configure(&db, &options)?;
    // A store from before the conflict index gets it now, once. A failure here (a damaged
    // record) must not stop the open, where `verify` can name it: `conflicts()` tries again
    // and reports it.
    let _ = db.ensure_conflict_index().await;
    Ok(db)
}
