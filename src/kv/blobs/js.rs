//! `Blob` helpers (wasm only): digests computed slice by slice, and conversions.
//!
//! A `Blob` is read in `SLICE` pieces so that hashing a 50 MB attachment holds 1 MiB in the JS
//! heap and in wasm memory at a time, never the whole.

use super::AttData;
use crate::error::{Error, Result};
use js_sys::{Array, Uint8Array};
use md5::{Digest, Md5};
use wasm_bindgen::JsCast;
use wasm_bindgen_futures::JsFuture;
use web_sys::{Blob, BlobPropertyBag};

const SLICE: f64 = 1024.0 * 1024.0;

fn blob_err(what: &str) -> Error {
    Error::storage(format!("cannot read attachment Blob: {what}"))
}

async fn slice_bytes(blob: &Blob, start: f64, end: f64) -> Result<Vec<u8>> {
    let part = blob.slice_with_f64_and_f64(start, end).map_err(|_| blob_err("slice"))?;
    let buffer = JsFuture::from(part.array_buffer()).await.map_err(|_| blob_err("arrayBuffer"))?;
    Ok(Uint8Array::new(&buffer).to_vec())
}

pub async fn digest_of_blob(blob: &Blob) -> Result<String> {
    use base64::Engine;
    let mut md5 = Md5::new();
    let size = blob.size();
    let mut start = 0.0;
    while start < size {
        let end = (start + SLICE).min(size);
        md5.update(slice_bytes(blob, start, end).await?);
        start = end;
    }
    Ok(format!("md5-{}", base64::engine::general_purpose::STANDARD.encode(md5.finalize())))
}

pub async fn read_blob(blob: &Blob) -> Result<Vec<u8>> {
    slice_bytes(blob, 0.0, blob.size()).await
}

/// A `Blob` of `bytes` (one copy out of wasm memory).
pub fn blob_of_bytes(bytes: &[u8], content_type: &str) -> Result<Blob> {
    let parts = Array::of1(&Uint8Array::from(bytes));
    let bag = BlobPropertyBag::new();
    bag.set_type(content_type);
    Blob::new_with_u8_array_sequence_and_options(&parts, &bag)
        .map_err(|_| Error::storage("cannot make a Blob"))
}

impl AttData {
    /// The data as a `Blob` of `content_type`: a stored `Blob` is re-typed by `slice`, which
    /// copies nothing.
    pub fn to_blob(&self, content_type: &str) -> Result<Blob> {
        match self {
            AttData::Bytes(b) => blob_of_bytes(b, content_type),
            AttData::Blob(b) => b
                .slice_with_f64_and_f64_and_content_type(0.0, b.size(), content_type)
                .map_err(|_| blob_err("slice")),
        }
    }

    /// A `Blob` from JS: `Blob` (or `File`) as is, `Uint8Array`/`ArrayBuffer` copied in, a
    /// string decoded as base64. Anything else is `None`.
    pub fn from_js(value: &wasm_bindgen::JsValue) -> Option<Result<AttData>> {
        use base64::Engine;
        if let Some(b) = value.dyn_ref::<Blob>() {
            return Some(Ok(AttData::Blob(b.clone())));
        }
        if let Some(s) = value.as_string() {
            return Some(
                base64::engine::general_purpose::STANDARD
                    .decode(s)
                    .map(AttData::bytes)
                    .map_err(|_| Error::bad_request("Attachment is not a valid base64 string")),
            );
        }
        if let Some(a) = value.dyn_ref::<Uint8Array>() {
            return Some(Ok(AttData::bytes(a.to_vec())));
        }
        if value.is_instance_of::<js_sys::ArrayBuffer>() {
            return Some(Ok(AttData::bytes(Uint8Array::new(value).to_vec())));
        }
        None
    }
}
