//! `RemoteDatabase`: the JS class behind a `Settee` whose name is an http(s) URL. Each method
//! is one request to CouchDB, with PouchDB's option names; answers are CouchDB's, except that
//! `bulkDocs` error rows get Settee's fields (`remote::api`). Errors reject as Settee errors.
//! Credentials live only in the request headers (`remote::url`). `liveChanges` is the one
//! method that sends many (longpolls, `http::live_changes`); attachments and queries are in
//! `remote_more`.

use super::changes_feed::ChangesFeed;
use super::convert::{from_js, to_js};
use super::endpoint::Endpoint;
use super::error::to_js as err_to_js;
use super::promise::spawn;
use crate::db::options::Opts;
use crate::error::{Error, Result};
use crate::replicate::http::HttpPeer;
use crate::replicate::remote::api::{bulk_docs_rows, changes_call, query_string};
use crate::replicate::remote::url::{doc_path, percent_encode, DbUrl, RemoteOptions};
use js_sys::Promise;
use serde_json::{json, Value};
use std::future::Future;
use std::rc::Rc;
use wasm_bindgen::prelude::*;

#[wasm_bindgen]
pub struct RemoteDatabase {
    pub(super) peer: Rc<HttpPeer>,
}

fn remote_options(options: &Value) -> Result<(RemoteOptions, bool)> {
    let o = Opts::new(options)?;
    let mut out = RemoteOptions::default();
    if let Some(auth) = o.get("auth").filter(|a| !a.is_null()) {
        let field = |k: &str| auth.get(k).and_then(Value::as_str).map(str::to_string);
        out.username = field("username");
        out.password = field("password");
        out.session = auth.get("session").and_then(Value::as_bool).unwrap_or(false);
        if out.username.is_none() {
            return Err(Error::bad_request("auth needs a username (and a password)"));
        }
    }
    if let Some(Value::Object(headers)) = o.get("headers") {
        for (k, v) in headers {
            let v = v.as_str().ok_or_else(|| Error::bad_request("header values must be strings"))?;
            out.headers.push((k.clone(), v.to_string()));
        }
    }
    let skip_setup = o.bool("skip_setup")?;
    Ok((out, !skip_setup))
}

pub(super) fn promise<F: Future<Output = Result<Value>> + 'static>(f: F) -> Promise {
    spawn(async move {
        let v = f.await.map_err(err_to_js)?;
        to_js(&v.to_string()).map_err(err_to_js)
    })
}

/// `GET path?options`, or a POST of `{keys}` when the options have `keys` (which can be too
/// long for a URL): how CouchDB takes `_all_docs` and view queries.
pub(super) async fn read_with_keys(peer: &HttpPeer, path: &str, options: &Value) -> Result<Value> {
    let path = path.to_string() + &query_string(options, &["keys"]);
    match options.get("keys").filter(|k| !k.is_null()) {
        Some(keys) => peer.client().raw("POST", &path, Some(&json!({ "keys": keys }))).await,
        None => peer.client().raw("GET", &path, None).await,
    }
}

fn id_of(doc: &Value) -> Result<String> {
    doc.get("_id").and_then(Value::as_str).map(str::to_string).ok_or_else(Error::missing_id)
}

#[wasm_bindgen]
impl RemoteDatabase {
    /// `open(url, {auth?: {username, password, session?}, headers?, skip_setup?})`; nothing is sent yet.
    pub fn open(url: String, options: JsValue) -> std::result::Result<RemoteDatabase, JsValue> {
        let (opts, create) = from_js(&options).and_then(|o| remote_options(&o)).map_err(err_to_js)?;
        let url = DbUrl::parse(&url, &opts).map_err(err_to_js)?;
        Ok(RemoteDatabase { peer: Rc::new(HttpPeer::new(url, create)) })
    }

    /// The URL without credentials.
    #[wasm_bindgen(getter)]
    pub fn name(&self) -> String {
        self.peer.client().url().id().to_string()
    }

    pub fn endpoint(&self) -> Endpoint {
        Endpoint::remote(self.peer.clone())
    }

    pub fn info(&self) -> Promise {
        let peer = self.peer.clone();
        promise(async move { peer.db_info().await })
    }

    pub fn get(&self, id: JsValue, options: JsValue) -> Promise {
        let peer = self.peer.clone();
        promise(async move {
            let id = id.as_string().ok_or_else(|| Error::bad_request("id must be a string"))?;
            let path = doc_path(&id) + &query_string(&from_js(&options)?, &[]);
            peer.client().raw("GET", &path, None).await
        })
    }

    pub fn put(&self, doc: JsValue, options: JsValue) -> Promise {
        let peer = self.peer.clone();
        promise(async move {
            let doc = from_js(&doc)?;
            let path = doc_path(&id_of(&doc)?) + &query_string(&from_js(&options)?, &[]);
            peer.client().raw("PUT", &path, Some(&doc)).await
        })
    }

    pub fn post(&self, doc: JsValue, _options: JsValue) -> Promise {
        let peer = self.peer.clone();
        promise(async move { peer.client().raw("POST", "", Some(&from_js(&doc)?)).await })
    }

    /// `remove(doc)` or `remove(id, rev)`.
    pub fn remove(&self, doc_or_id: JsValue, rev_or_options: JsValue, _options: JsValue) -> Promise {
        let peer = self.peer.clone();
        promise(async move {
            let (id, rev) = match doc_or_id.as_string() {
                Some(id) => (id, rev_or_options.as_string()),
                None => {
                    let doc = from_js(&doc_or_id)?;
                    (id_of(&doc)?, doc.get("_rev").and_then(Value::as_str).map(str::to_string))
                }
            };
            let rev = rev.ok_or_else(Error::conflict)?;
            peer.client()
                .raw("DELETE", &format!("{}?rev={}", doc_path(&id), percent_encode(&rev)), None)
                .await
        })
    }

    /// `bulkDocs(docs | {docs, new_edits}, {new_edits})`.
    #[wasm_bindgen(js_name = bulkDocs)]
    pub fn bulk_docs(&self, docs: JsValue, options: JsValue) -> Promise {
        let peer = self.peer.clone();
        promise(async move {
            let mut body = match from_js(&docs)? {
                Value::Array(d) => json!({ "docs": d }),
                v @ Value::Object(_) if v["docs"].is_array() => v,
                _ => return Err(Error::bad_request(crate::db::doc::MISSING_DOCS)),
            };
            if let Some(ne) = from_js(&options)?.get("new_edits").filter(|v| v.is_boolean()) {
                body["new_edits"] = ne.clone();
            }
            Ok(bulk_docs_rows(peer.client().raw("POST", "_bulk_docs", Some(&body)).await?))
        })
    }

    #[wasm_bindgen(js_name = bulkGet)]
    pub fn bulk_get(&self, options: JsValue) -> Promise {
        let peer = self.peer.clone();
        promise(async move {
            let options = from_js(&options)?;
            let body = json!({ "docs": options["docs"] });
            let path = "_bulk_get".to_string() + &query_string(&options, &["docs"]);
            peer.client().raw("POST", &path, Some(&body)).await
        })
    }

    #[wasm_bindgen(js_name = revsDiff)]
    pub fn revs_diff(&self, request: JsValue) -> Promise {
        let peer = self.peer.clone();
        promise(async move { peer.client().raw("POST", "_revs_diff", Some(&from_js(&request)?)).await })
    }

    /// `allDocs(options)`; `keys` are POSTed.
    #[wasm_bindgen(js_name = allDocs)]
    pub fn all_docs(&self, options: JsValue) -> Promise {
        let peer = self.peer.clone();
        promise(async move { read_with_keys(&peer, "_all_docs", &from_js(&options)?).await })
    }

    /// One-shot changes; `doc_ids` and `selector` are POSTed with their built-in filters.
    pub fn changes(&self, options: JsValue) -> Promise {
        let peer = self.peer.clone();
        promise(async move {
            let call = changes_call(&from_js(&options)?, None);
            peer.client().raw(call.method, &call.path, call.body.as_ref()).await
        })
    }

    /// `changes({live: true, ...})`: a feed of longpoll requests (see `RemoteChanges`).
    #[wasm_bindgen(js_name = liveChanges)]
    pub fn live_changes(&self, options: JsValue) -> std::result::Result<ChangesFeed, JsValue> {
        let options = from_js(&options).map_err(err_to_js)?;
        ChangesFeed::remote(self.peer.clone(), options).map_err(err_to_js)
    }

    pub fn compact(&self) -> Promise {
        let peer = self.peer.clone();
        promise(async move { peer.client().raw("POST", "_compact", Some(&json!({}))).await })
    }

    /// Local databases only: there is no storage here to check, and CouchDB checks its own.
    pub fn verify(&self) -> Promise {
        promise(async {
            Err(Error::bad_request(
                "verify is for local databases: a remote one has no storage here to check",
            ))
        })
    }

    /// Deletes the remote database.
    pub fn destroy(&self) -> Promise {
        let peer = self.peer.clone();
        promise(async move { peer.client().raw("DELETE", "", None).await })
    }

    pub fn close(&self) -> Promise {
        spawn(async { Ok(JsValue::UNDEFINED) })
    }
}
