//! `Database`'s attachment methods (a third `#[wasm_bindgen] impl` block) and the `binary`
//! option of `get`, `allDocs`, `query`, `changes` and `bulkGet`: attachment data crosses to JS
//! as a `Blob` with its content type.
//!
//! Data comes in as a `Blob`/`File` (kept as is: it is hashed in slices and stored as a
//! `Blob`, never copied whole into wasm), a `Uint8Array`, an `ArrayBuffer` or a base64
//! string. With `binary: true`, docs are read with stubs and each stub gets its stored
//! `Blob`, so no data is base64-encoded on the way.

use super::convert::{from_js, to_js};
use super::database::Database;
use super::error::to_js as err_to_js;
use super::promise::spawn;
use crate::db;
use crate::error::{Error, Result};
use crate::kv::blobs::AttData;
use js_sys::{Array, Object, Promise, Reflect};
use serde_json::Value;
use wasm_bindgen::prelude::*;
use wasm_bindgen::JsCast;

pub(super) fn string(v: &JsValue, what: &str) -> Result<String> {
    v.as_string().ok_or_else(|| Error::bad_request(format!("{what} must be a string")))
}

pub(super) fn data_of(data: &JsValue) -> Result<AttData> {
    AttData::from_js(data).unwrap_or_else(|| {
        Err(Error::bad_request("attachment data must be a Blob, a Uint8Array or a base64 string"))
    })
}

/// Whether `options` ask for `{attachments: true, binary: true}`; if so, the options to read
/// with (stubs only), since the data is filled in as `Blob`s afterwards.
pub(super) fn binary_read(options: &Value) -> Result<Option<Value>> {
    let o = db::options::Opts::new(options)?;
    if !(o.bool("binary")? && o.bool("attachments")?) {
        return Ok(None);
    }
    let mut stubs = options.clone();
    if let Some(m) = stubs.as_object_mut() {
        m.remove("attachments");
        m.remove("binary");
    }
    Ok(Some(stubs))
}

/// Replaces each stub of a parsed doc's `_attachments` with `data`: its stored `Blob`.
pub(super) async fn fill_blobs(db: &db::Database, doc: &JsValue) -> Result<()> {
    let Ok(atts) = Reflect::get(doc, &"_attachments".into()) else { return Ok(()) };
    if !atts.is_object() {
        return Ok(());
    }
    let get = |o: &JsValue, k: &str| Reflect::get(o, &k.into()).ok().and_then(|v| v.as_string());
    for name in Object::keys(atts.unchecked_ref::<Object>()) {
        let entry = Reflect::get(&atts, &name).map_err(|_| Error::storage("bad _attachments"))?;
        let Some(digest) = get(&entry, "digest") else { continue };
        let ty = get(&entry, "content_type").unwrap_or_default();
        let data = db
            .attachment_data(&digest)
            .await?
            .ok_or_else(|| Error::corruption(format!("attachment record {digest}: its data is missing")))?;
        // As `inline_data`: no `stub` and no `length` next to data.
        for key in ["stub", "length"] {
            let _ = Reflect::delete_property(entry.unchecked_ref::<Object>(), &key.into());
        }
        let _ = Reflect::set(&entry, &"data".into(), data.to_blob(&ty)?.as_ref());
    }
    Ok(())
}

/// `fill_blobs` for every `rows[].doc` of an `allDocs` or `query` answer.
pub(super) async fn fill_row_blobs(db: &db::Database, answer: &JsValue) -> Result<()> {
    let rows = Reflect::get(answer, &"rows".into()).unwrap_or(JsValue::UNDEFINED);
    fill_docs_of(db, &rows, "doc").await
}

/// `fill_blobs` for `row[member]` of each row of the array `rows` (a changes page, or
/// `bulkGet`'s `docs` with member `ok`).
pub(super) async fn fill_docs_of(db: &db::Database, rows: &JsValue, member: &str) -> Result<()> {
    let Some(rows) = rows.dyn_ref::<Array>() else { return Ok(()) };
    for row in rows.iter() {
        if let Ok(doc) = Reflect::get(&row, &member.into()) {
            if doc.is_object() {
                fill_blobs(db, &doc).await?;
            }
        }
    }
    Ok(())
}

/// `fill_blobs` for every doc of a `bulkGet` answer (`results[].docs[].ok`).
pub(super) async fn fill_bulk_get_blobs(db: &db::Database, answer: &JsValue) -> Result<()> {
    let results = Reflect::get(answer, &"results".into()).unwrap_or(JsValue::UNDEFINED);
    let Some(results) = results.dyn_ref::<Array>() else { return Ok(()) };
    for result in results.iter() {
        let docs = Reflect::get(&result, &"docs".into()).unwrap_or(JsValue::UNDEFINED);
        fill_docs_of(db, &docs, "ok").await?;
    }
    Ok(())
}

#[wasm_bindgen]
impl Database {
    /// `putAttachment(id, name, rev | null, data, type)`: resolves like `put`.
    #[wasm_bindgen(js_name = putAttachment)]
    pub fn put_attachment(
        &self,
        id: JsValue,
        name: JsValue,
        rev: JsValue,
        data: JsValue,
        content_type: JsValue,
    ) -> Promise {
        let db = self.inner.clone();
        spawn(async move {
            let run = async {
                let (id, name) = (string(&id, "id")?, string(&name, "attachment name")?);
                // PouchDB apps pass `''` (or null) for "no rev yet": a new doc.
                let rev = rev.as_string().filter(|r| !r.is_empty());
                let ty = content_type.as_string().unwrap_or_else(|| "application/octet-stream".into());
                let json = db.put_attachment(&id, &name, rev.as_deref(), data_of(&data)?, &ty).await?;
                to_js(&json)
            };
            run.await.map_err(err_to_js)
        })
    }

    /// `getAttachment(id, name, {rev})`: resolves with a `Blob` of the attachment's type.
    #[wasm_bindgen(js_name = getAttachment)]
    pub fn get_attachment(&self, id: JsValue, name: JsValue, options: JsValue) -> Promise {
        let db = self.inner.clone();
        spawn(async move {
            let run = async {
                let (id, name) = (string(&id, "id")?, string(&name, "attachment name")?);
                let (ty, data) = db.get_attachment(&id, &name, &from_js(&options)?).await?;
                Ok::<JsValue, Error>(data.to_blob(&ty)?.into())
            };
            run.await.map_err(err_to_js)
        })
    }

    /// `removeAttachment(id, name, rev)`: resolves like `put`.
    #[wasm_bindgen(js_name = removeAttachment)]
    pub fn remove_attachment(&self, id: JsValue, name: JsValue, rev: JsValue) -> Promise {
        let db = self.inner.clone();
        spawn(async move {
            let run = async {
                let (id, name, rev) =
                    (string(&id, "id")?, string(&name, "attachment name")?, string(&rev, "rev")?);
                to_js(&db.remove_attachment(&id, &name, &rev).await?)
            };
            run.await.map_err(err_to_js)
        })
    }
}
