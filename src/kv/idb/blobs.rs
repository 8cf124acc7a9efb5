//! `IdbBlobs`: attachment data in the `attachments` object store, keyed by digest, in the
//! same IndexedDB database (and connection) as the LSM records.
//!
//! - A value is `{blob, at}`: the data as a `Blob` (Chromium keeps large ones as files, so
//!   reading the record does not load the data) and when it was stored.
//! - Where the engine cannot put a `Blob` into IndexedDB (WebKit's ephemeral sessions, as in
//!   Safari's Private Browsing, fail with `UnknownError: Error preparing Blob/File data`), the
//!   bytes go to the `attachment_parts` store as `ArrayBuffer`s of `PART` bytes, keyed
//!   `<digest>\u{1}<index>`, and the value is `{parts, size, at, complete}`. The first failed
//!   `Blob` put switches this handle to parts for good (once per open database).
//! - Parts are written one transaction each, so memory holds one part at a time. The head is
//!   written first with `complete: false` and rewritten with `true` after the last part: an
//!   incomplete head reads as absent (`get`, `contains`), and the sweep deletes it with its
//!   parts by its `at` like any unreferenced data, so a crash mid-write leaks nothing.
//! - Bytes given as `AttData::Bytes` are turned into a `Blob` once, on the way in.
//! - `put` does not look first: callers ask `contains` for a whole batch. A second write of
//!   a digest rewrites the same bytes and only moves `at` later, which delays a sweep.

use super::{commit_err, idb_err, schema};
use crate::error::{Error, Result};
use crate::kv::blobs::{now_ms, AttData, BlobStore};
use async_trait::async_trait;
use indexed_db_futures::database::Database;
use indexed_db_futures::prelude::*;
use indexed_db_futures::transaction::TransactionMode;
use indexed_db_futures::KeyRange;
use js_sys::{Array, Object, Reflect, Uint8Array};
use std::cell::{Cell, RefCell};
use std::rc::Rc;
use wasm_bindgen::{JsCast, JsValue};
use wasm_bindgen_futures::JsFuture;
use web_sys::Blob;

/// Bytes per part in `attachment_parts`: one part is all the JS heap holds at a time.
const PART: u64 = 1024 * 1024;

pub struct IdbBlobs {
    pub(super) db: Rc<RefCell<Option<Database>>>,
    /// Set once a `Blob` put failed and parts worked: later puts go straight to parts.
    pub(super) parts: Cell<bool>,
}

fn field(value: &JsValue, name: &str) -> Option<JsValue> {
    Reflect::get(value, &name.into()).ok().filter(|v| !v.is_undefined())
}

fn record(fields: &[(&str, JsValue)]) -> Result<JsValue> {
    let value = Object::new();
    for (name, v) in fields {
        Reflect::set(&value, &(*name).into(), v).map_err(|_| Error::storage("cannot build record"))?;
    }
    Ok(value.into())
}

fn part_key(digest: &str, index: u64) -> String {
    // `\u{1}` sorts below every character of a digest, so a digest's parts are one key range.
    format!("{digest}\u{1}{index:08}")
}

fn parts_range(digest: &str) -> (String, String) {
    (format!("{digest}\u{1}"), format!("{digest}\u{2}"))
}

/// Whether a failed `Blob` put is the engine refusing Blobs (worth the parts path), not a full
/// quota or a closed database.
fn refuses_blobs(e: &Error) -> bool {
    e.name != "quota_exceeded" && e.name != "database_closed"
}

impl IdbBlobs {
    fn db(&self) -> Result<Database> {
        self.db.borrow().clone().ok_or_else(Error::closed)
    }

    /// Stores attachments as `ArrayBuffer` parts from now on, as after a refused `Blob`.
    pub fn use_parts(&self) {
        self.parts.set(true);
    }

    /// Puts `value` at `key` of `store_name` in a transaction of its own.
    async fn put_one(&self, store_name: &str, key: &str, value: JsValue, bytes: u64) -> Result<()> {
        let db = self.db()?;
        let tx = db.transaction(store_name).with_mode(TransactionMode::Readwrite).build().map_err(idb_err)?;
        let store = tx.object_store(store_name).map_err(idb_err)?;
        store.put(value).with_key(key).without_key_type().primitive().map_err(idb_err)?;
        match tx.commit().await {
            Ok(()) => Ok(()),
            Err(e) => Err(commit_err(e, bytes).await),
        }
    }

    async fn put_blob(&self, digest: &str, data: &AttData) -> Result<()> {
        let value = record(&[("blob", data.to_blob("")?.into()), ("at", now_ms().into())])?;
        // Another tab may have stored the same digest since the caller's `contains`: `put`
        // then rewrites the same bytes, which is harmless.
        self.put_one(schema::ATTACHMENTS, digest, value, data.len()).await
    }

    async fn put_parts(&self, digest: &str, data: &AttData) -> Result<()> {
        let size = data.len();
        let count = size.div_ceil(PART);
        let head = |complete: bool| {
            record(&[
                ("parts", (count as f64).into()),
                ("size", (size as f64).into()),
                ("at", now_ms().into()),
                ("complete", complete.into()),
            ])
        };
        self.put_one(schema::ATTACHMENTS, digest, head(false)?, 0).await?;
        for index in 0..count {
            let (start, end) = (index * PART, ((index + 1) * PART).min(size));
            let bytes: JsValue = match data {
                AttData::Bytes(b) => Uint8Array::from(&b[start as usize..end as usize]).into(),
                AttData::Blob(b) => {
                    let slice = b
                        .slice_with_f64_and_f64(start as f64, end as f64)
                        .map_err(|_| Error::storage("cannot slice attachment Blob"))?;
                    JsFuture::from(slice.array_buffer())
                        .await
                        .map_err(|_| Error::storage("cannot read attachment Blob"))?
                }
            };
            self.put_one(schema::ATTACHMENT_PARTS, &part_key(digest, index), bytes, end - start).await?;
        }
        self.put_one(schema::ATTACHMENTS, digest, head(true)?, 0).await
    }

    /// The data of a parts head: a `Blob` grown part by part, so the JS heap holds one part.
    async fn read_parts(&self, digest: &str, count: u64) -> Result<Blob> {
        let mut blob = Blob::new().map_err(|_| Error::storage("cannot make a Blob"))?;
        for index in 0..count {
            let db = self.db()?;
            let tx = db.transaction(schema::ATTACHMENT_PARTS).build().map_err(idb_err)?;
            let store = tx.object_store(schema::ATTACHMENT_PARTS).map_err(idb_err)?;
            let part: Option<JsValue> = store
                .get::<JsValue, _, _>(part_key(digest, index).as_str())
                .primitive()
                .map_err(idb_err)?
                .await
                .map_err(idb_err)?;
            let part = part.ok_or_else(|| {
                Error::corruption(format!("attachment {digest}: part {index} of {count} is missing"))
            })?;
            blob = Blob::new_with_blob_sequence(&Array::of2(&blob, &part))
                .map_err(|_| Error::storage("cannot make a Blob"))?;
        }
        Ok(blob)
    }
}

/// A head that is there and whole: a `Blob` record, or parts marked complete.
fn complete(value: &JsValue) -> bool {
    field(value, "complete").is_none_or(|c| c.as_bool() != Some(false))
}

#[async_trait(?Send)]
impl BlobStore for IdbBlobs {
    /// Callers check `contains` first (one read for a whole batch), so in the usual case this
    /// is one readwrite transaction, not a read and a write per attachment.
    async fn put(&self, digest: &str, data: &AttData) -> Result<()> {
        if !self.parts.get() {
            let refused = match self.put_blob(digest, data).await {
                Ok(()) => return Ok(()),
                Err(e) if refuses_blobs(&e) => e,
                Err(e) => return Err(e),
            };
            // Parts are the way that should work; if they fail too, say why they did.
            let note = format!(
                "Settee: this engine refused a Blob in IndexedDB ({}); storing attachments as ArrayBuffers",
                refused.message
            );
            web_sys::console::warn_1(&note.into());
            self.put_parts(digest, data).await?;
            self.parts.set(true);
            return Ok(());
        }
        self.put_parts(digest, data).await
    }

    async fn get(&self, digest: &str) -> Result<Option<AttData>> {
        let db = self.db()?;
        let tx = db.transaction(schema::ATTACHMENTS).build().map_err(idb_err)?;
        let store = tx.object_store(schema::ATTACHMENTS).map_err(idb_err)?;
        let value: Option<JsValue> =
            store.get::<JsValue, _, _>(digest).primitive().map_err(idb_err)?.await.map_err(idb_err)?;
        let Some(value) = value.filter(complete) else { return Ok(None) };
        if let Some(blob) = field(&value, "blob").and_then(|b| b.dyn_into::<Blob>().ok()) {
            return Ok(Some(AttData::Blob(blob)));
        }
        let count = field(&value, "parts").and_then(|p| p.as_f64()).ok_or_else(|| {
            Error::corruption(format!("attachment record {digest}: holds neither a Blob nor parts"))
        })?;
        Ok(Some(AttData::Blob(self.read_parts(digest, count as u64).await?)))
    }

    async fn contains(&self, digests: &[String]) -> Result<Vec<bool>> {
        if digests.is_empty() {
            return Ok(Vec::new());
        }
        let db = self.db()?;
        let tx = db.transaction(schema::ATTACHMENTS).build().map_err(idb_err)?;
        let store = tx.object_store(schema::ATTACHMENTS).map_err(idb_err)?;
        // The values are small (a Blob handle, or a parts head), and an incomplete head must
        // read as absent, so this reads them rather than counting keys.
        let requests = digests
            .iter()
            .map(|d| store.get::<JsValue, _, _>(d.as_str()).primitive())
            .collect::<std::result::Result<Vec<_>, _>>()
            .map_err(idb_err)?;
        let mut out = Vec::with_capacity(digests.len());
        for r in requests {
            out.push(r.await.map_err(idb_err)?.is_some_and(|v| complete(&v)));
        }
        Ok(out)
    }

    async fn list(&self) -> Result<Vec<(String, f64)>> {
        let db = self.db()?;
        let tx = db.transaction(schema::ATTACHMENTS).build().map_err(idb_err)?;
        let store = tx.object_store(schema::ATTACHMENTS).map_err(idb_err)?;
        let keys = store.get_all_keys::<String>().primitive().map_err(idb_err)?;
        let values = store.get_all::<JsValue>().primitive().map_err(idb_err)?;
        let keys =
            keys.await.map_err(idb_err)?.collect::<std::result::Result<Vec<_>, _>>().map_err(idb_err)?;
        let values =
            values.await.map_err(idb_err)?.collect::<std::result::Result<Vec<_>, _>>().map_err(idb_err)?;
        Ok(keys
            .into_iter()
            .zip(values)
            .map(|(k, v)| (k, field(&v, "at").and_then(|a| a.as_f64()).unwrap_or(0.0)))
            .collect())
    }

    async fn delete(&self, digests: &[String]) -> Result<()> {
        if digests.is_empty() {
            return Ok(());
        }
        let db = self.db()?;
        let names = [schema::ATTACHMENTS, schema::ATTACHMENT_PARTS];
        let tx = db.transaction(names).with_mode(TransactionMode::Readwrite).build().map_err(idb_err)?;
        let heads = tx.object_store(schema::ATTACHMENTS).map_err(idb_err)?;
        let parts = tx.object_store(schema::ATTACHMENT_PARTS).map_err(idb_err)?;
        for d in digests {
            heads.delete(d.as_str()).primitive().map_err(idb_err)?;
            let (first, last) = parts_range(d);
            parts
                .delete::<&str, _>(KeyRange::Bound(first.as_str(), false, last.as_str(), true))
                .primitive()
                .map_err(idb_err)?;
        }
        tx.commit().await.map_err(idb_err)
    }
}
