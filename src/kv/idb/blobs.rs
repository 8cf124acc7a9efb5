//! `IdbBlobs`: attachment data as `Blob` values in the `attachments` object store, keyed by
//! digest, in the same IndexedDB database (and connection) as the LSM records.
//!
//! - Each value is `{blob, at}`: the data as a `Blob` (Chromium keeps large ones as files, so
//!   reading the record does not load the data) and when it was stored.
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
use js_sys::{Object, Reflect};
use std::cell::RefCell;
use std::rc::Rc;
use wasm_bindgen::{JsCast, JsValue};
use web_sys::Blob;

pub struct IdbBlobs {
    pub(super) db: Rc<RefCell<Option<Database>>>,
}

impl IdbBlobs {
    fn db(&self) -> Result<Database> {
        self.db.borrow().clone().ok_or_else(Error::closed)
    }
}

fn field(value: &JsValue, name: &str) -> Option<JsValue> {
    Reflect::get(value, &name.into()).ok().filter(|v| !v.is_undefined())
}

#[async_trait(?Send)]
impl BlobStore for IdbBlobs {
    /// Callers check `contains` first (one read for a whole batch), so this is one readwrite
    /// transaction, not a read and a write per attachment.
    async fn put(&self, digest: &str, data: &AttData) -> Result<()> {
        let blob = data.to_blob("")?;
        let value = Object::new();
        Reflect::set(&value, &"blob".into(), &blob).map_err(|_| Error::storage("cannot build record"))?;
        Reflect::set(&value, &"at".into(), &now_ms().into())
            .map_err(|_| Error::storage("cannot build record"))?;
        let db = self.db()?;
        let tx = db
            .transaction(schema::ATTACHMENTS)
            .with_mode(TransactionMode::Readwrite)
            .build()
            .map_err(idb_err)?;
        let store = tx.object_store(schema::ATTACHMENTS).map_err(idb_err)?;
        // Another tab may have stored the same digest since the caller's `contains`: `put`
        // then rewrites the same bytes, which is harmless.
        let value: JsValue = value.into();
        store.put(value).with_key(digest).without_key_type().primitive().map_err(idb_err)?;
        match tx.commit().await {
            Ok(()) => Ok(()),
            Err(e) => Err(commit_err(e, data.len()).await),
        }
    }

    async fn get(&self, digest: &str) -> Result<Option<AttData>> {
        let db = self.db()?;
        let tx = db.transaction(schema::ATTACHMENTS).build().map_err(idb_err)?;
        let store = tx.object_store(schema::ATTACHMENTS).map_err(idb_err)?;
        let value: Option<JsValue> =
            store.get::<JsValue, _, _>(digest).primitive().map_err(idb_err)?.await.map_err(idb_err)?;
        let Some(value) = value else { return Ok(None) };
        let blob = field(&value, "blob")
            .and_then(|b| b.dyn_into::<Blob>().ok())
            .ok_or_else(|| Error::corruption(format!("attachment record {digest}: holds no Blob")))?;
        Ok(Some(AttData::Blob(blob)))
    }

    async fn contains(&self, digests: &[String]) -> Result<Vec<bool>> {
        if digests.is_empty() {
            return Ok(Vec::new());
        }
        let db = self.db()?;
        let tx = db.transaction(schema::ATTACHMENTS).build().map_err(idb_err)?;
        let store = tx.object_store(schema::ATTACHMENTS).map_err(idb_err)?;
        // `count(key)` answers without reading the value.
        let requests = digests
            .iter()
            .map(|d| store.count().with_query(d.as_str()).primitive())
            .collect::<std::result::Result<Vec<_>, _>>()
            .map_err(idb_err)?;
        let mut out = Vec::with_capacity(digests.len());
        for r in requests {
            out.push(r.await.map_err(idb_err)? > 0);
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
        let tx = db
            .transaction(schema::ATTACHMENTS)
            .with_mode(TransactionMode::Readwrite)
            .build()
            .map_err(idb_err)?;
        let store = tx.object_store(schema::ATTACHMENTS).map_err(idb_err)?;
        for d in digests {
            store.delete(d.as_str()).primitive().map_err(idb_err)?;
        }
        tx.commit().await.map_err(idb_err)
    }
}
