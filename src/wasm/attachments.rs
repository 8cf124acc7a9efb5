//! `Database`'s attachment methods (a third `#[wasm_bindgen] impl` block) and the `binary`
//! option of `get`: attachment data crosses to JS as a `Blob` with its content type.
//!
//! Bytes come in as a `Uint8Array`, an `ArrayBuffer` or a base64 string; the TS wrapper reads
//! a `Blob` with `arrayBuffer()` first, since that is asynchronous JS work.

use super::convert::{from_js, to_js};
use super::database::Database;
use super::error::to_js as err_to_js;
use super::promise::spawn;
use crate::error::{Error, Result};
use base64::engine::general_purpose::STANDARD;
use base64::Engine;
use js_sys::{Array, ArrayBuffer, Object, Promise, Reflect, Uint8Array};
use wasm_bindgen::prelude::*;
use wasm_bindgen::JsCast;
use web_sys::{Blob, BlobPropertyBag};

fn string(v: &JsValue, what: &str) -> Result<String> {
    v.as_string().ok_or_else(|| Error::bad_request(format!("{what} must be a string")))
}

/// Attachment bytes from a `Uint8Array`, an `ArrayBuffer` or a base64 string.
fn bytes_of(data: &JsValue) -> Result<Vec<u8>> {
    if let Some(s) = data.as_string() {
        return STANDARD.decode(s).map_err(|_| Error::bad_request("Attachment is not a valid base64 string"));
    }
    if let Some(a) = data.dyn_ref::<Uint8Array>() {
        return Ok(a.to_vec());
    }
    if data.is_instance_of::<ArrayBuffer>() {
        return Ok(Uint8Array::new(data).to_vec());
    }
    Err(Error::bad_request("attachment data must be a Blob, a Uint8Array or a base64 string"))
}

pub(super) fn blob(bytes: &[u8], content_type: &str) -> Result<Blob> {
    let parts = Array::of1(&Uint8Array::from(bytes));
    let bag = BlobPropertyBag::new();
    bag.set_type(content_type);
    Blob::new_with_u8_array_sequence_and_options(&parts, &bag)
        .map_err(|_| Error::storage("cannot make a Blob"))
}

/// Replaces each `_attachments[name].data` (base64) of a parsed doc with a `Blob`.
pub(super) fn with_blobs(doc: &JsValue) -> Result<()> {
    let Ok(atts) = Reflect::get(doc, &"_attachments".into()) else { return Ok(()) };
    if !atts.is_object() {
        return Ok(());
    }
    for name in Object::keys(atts.unchecked_ref::<Object>()) {
        let entry = Reflect::get(&atts, &name).map_err(|_| Error::storage("bad _attachments"))?;
        let Some(data) = Reflect::get(&entry, &"data".into()).ok().and_then(|d| d.as_string()) else {
            continue;
        };
        let ty =
            Reflect::get(&entry, &"content_type".into()).ok().and_then(|t| t.as_string()).unwrap_or_default();
        let bytes = STANDARD.decode(data).map_err(|_| Error::storage("stored attachment is not base64"))?;
        let _ = Reflect::set(&entry, &"data".into(), blob(&bytes, &ty)?.as_ref());
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
                let rev = rev.as_string();
                let ty = content_type.as_string().unwrap_or_else(|| "application/octet-stream".into());
                let json = db.put_attachment(&id, &name, rev.as_deref(), bytes_of(&data)?, &ty).await?;
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
                let (ty, bytes) = db.get_attachment(&id, &name, &from_js(&options)?).await?;
                Ok::<JsValue, Error>(blob(&bytes, &ty)?.into())
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
