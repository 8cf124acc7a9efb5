//! `RemoteDatabase`'s attachment and query methods, so that code written against a local
//! `Settee` (or PouchDB's http adapter) runs against a CouchDB URL unchanged. Each is one
//! request to CouchDB's own endpoint; the answers are CouchDB's.
//!
//! - Attachments go as their bytes (`PUT /db/doc/att?rev=` with the content type), never as
//!   base64 JSON, and come back as a `Blob`: a large attachment stays out of the JS heap and
//!   wasm memory, as in replication.
//! - `query` takes `'ddoc/view'` only: CouchDB has no temporary views since 2.0.
//! - `createIndex` accepts PouchDB's shape (`{index: {fields, name?, ddoc?, type?}}`), where
//!   CouchDB wants `name`, `ddoc` and `type` beside `index`: they are moved up.

use super::attachments::{data_of, string};
use super::convert::from_js;
use super::error::to_js as err_to_js;
use super::promise::spawn;
use super::remote_database::{promise, read_with_keys, RemoteDatabase};
use crate::error::Error;
use crate::kv::blobs::AttData;
use crate::replicate::remote::api::{index_body, index_path, view_path};
use crate::replicate::remote::protocol::Call;
use crate::replicate::remote::url::{attachment_path, percent_encode};
use js_sys::{Promise, Uint8Array};
use serde_json::{json, Value};
use wasm_bindgen::prelude::*;

#[wasm_bindgen]
impl RemoteDatabase {
    /// `putAttachment(id, name, rev | null, data, type)`: the bytes as the request body.
    #[wasm_bindgen(js_name = putAttachment)]
    pub fn put_attachment(
        &self,
        id: JsValue,
        name: JsValue,
        rev: JsValue,
        data: JsValue,
        content_type: JsValue,
    ) -> Promise {
        let peer = self.peer.clone();
        promise(async move {
            let (id, name) = (string(&id, "id")?, string(&name, "attachment name")?);
            let ty = content_type.as_string().unwrap_or_else(|| "application/octet-stream".into());
            let body: JsValue = match data_of(&data)? {
                AttData::Blob(b) => b.into(),
                AttData::Bytes(bytes) => Uint8Array::from(&bytes[..]).into(),
            };
            let query = rev.as_string().map(|r| vec![("rev", r)]).unwrap_or_default();
            let call = Call { method: "PUT", path: attachment_path(&id, &name), query, body: None };
            peer.client().call_with_body(&call, &body, &ty).await
        })
    }

    /// `getAttachment(id, name, {rev})`: a `Blob` of the attachment's content type.
    #[wasm_bindgen(js_name = getAttachment)]
    pub fn get_attachment(&self, id: JsValue, name: JsValue, options: JsValue) -> Promise {
        let peer = self.peer.clone();
        spawn(async move {
            let run = async {
                let (id, name) = (string(&id, "id")?, string(&name, "attachment name")?);
                let rev = from_js(&options)?.get("rev").and_then(Value::as_str).map(str::to_string);
                let query = rev.map(|r| vec![("rev", r)]).unwrap_or_default();
                let call = Call { method: "GET", path: attachment_path(&id, &name), query, body: None };
                Ok::<JsValue, Error>(peer.client().call_for_blob(&call).await?.into())
            };
            run.await.map_err(err_to_js)
        })
    }

    /// `removeAttachment(id, name, rev)`.
    #[wasm_bindgen(js_name = removeAttachment)]
    pub fn remove_attachment(&self, id: JsValue, name: JsValue, rev: JsValue) -> Promise {
        let peer = self.peer.clone();
        promise(async move {
            let (id, name, rev) =
                (string(&id, "id")?, string(&name, "attachment name")?, string(&rev, "rev")?);
            let path = format!("{}?rev={}", attachment_path(&id, &name), percent_encode(&rev));
            peer.client().raw("DELETE", &path, None).await
        })
    }

    /// `query('ddoc/view', options)`; `keys` are POSTed. (`registered` functions are local-only.)
    pub fn query(&self, fun: JsValue, options: JsValue, _registered: JsValue) -> Promise {
        let peer = self.peer.clone();
        promise(async move {
            let name = fun.as_string().ok_or_else(|| {
                Error::bad_request(
                    "a remote database queries its design docs' views: pass 'ddoc/view' (CouchDB has no temporary views)",
                )
            })?;
            read_with_keys(&peer, &view_path(&name)?, &from_js(&options)?).await
        })
    }

    #[wasm_bindgen(js_name = viewCleanup)]
    pub fn view_cleanup(&self) -> Promise {
        let peer = self.peer.clone();
        promise(async move { peer.client().raw("POST", "_view_cleanup", Some(&json!({}))).await })
    }

    #[wasm_bindgen(js_name = createIndex)]
    pub fn create_index(&self, request: JsValue) -> Promise {
        let peer = self.peer.clone();
        promise(async move {
            let body = index_body(from_js(&request)?)?;
            peer.client().raw("POST", "_index", Some(&body)).await
        })
    }

    #[wasm_bindgen(js_name = getIndexes)]
    pub fn get_indexes(&self) -> Promise {
        let peer = self.peer.clone();
        promise(async move { peer.client().raw("GET", "_index", None).await })
    }

    /// `deleteIndex({ddoc, name})`, as `getIndexes` lists them.
    #[wasm_bindgen(js_name = deleteIndex)]
    pub fn delete_index(&self, index: JsValue) -> Promise {
        let peer = self.peer.clone();
        promise(async move {
            let index = from_js(&index)?;
            let field = |k: &str| {
                index
                    .get(k)
                    .and_then(Value::as_str)
                    .ok_or_else(|| Error::bad_request("deleteIndex expects {ddoc, name}"))
            };
            peer.client().raw("DELETE", &index_path(field("ddoc")?, field("name")?), None).await
        })
    }

    pub fn find(&self, request: JsValue) -> Promise {
        let peer = self.peer.clone();
        promise(async move { peer.client().raw("POST", "_find", Some(&from_js(&request)?)).await })
    }

    pub fn explain(&self, request: JsValue) -> Promise {
        let peer = self.peer.clone();
        promise(async move { peer.client().raw("POST", "_explain", Some(&from_js(&request)?)).await })
    }
}
