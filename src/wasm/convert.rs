//! JS value ↔ JSON, crossing once per call: `JSON.stringify` on the way in, `JSON.parse` on
//! the way out. `undefined` (and anything `JSON.stringify` drops) reads as `null`.

use crate::error::{Error, Result};
use serde_json::Value;
use wasm_bindgen::JsValue;

pub fn from_js(v: &JsValue) -> Result<Value> {
    match json_text(v)? {
        Some(s) => serde_json::from_str(&s).map_err(|e| Error::bad_request(format!("invalid JSON: {e}"))),
        None => Ok(Value::Null),
    }
}

/// `JSON.stringify(v)`; `None` for `undefined`, `null`, functions and symbols.
pub fn json_text(v: &JsValue) -> Result<Option<String>> {
    if v.is_undefined() || v.is_null() {
        return Ok(None);
    }
    let text = js_sys::JSON::stringify(v)
        .map_err(|_| Error::bad_request("value is not JSON-serialisable (a cycle, or a BigInt)"))?;
    Ok(text.as_string())
}

pub fn to_js(json: &str) -> Result<JsValue> {
    js_sys::JSON::parse(json).map_err(|_| Error::storage("internal: produced invalid JSON"))
}

/// A random 32-hex-digit id, like PouchDB's uuids, from `crypto.getRandomValues` where present.
pub fn new_id() -> String {
    let mut bytes = [0u8; 16];
    let crypto = js_sys::Reflect::get(&js_sys::global(), &"crypto".into()).ok().filter(|c| !c.is_undefined());
    let filled = crypto.is_some_and(|c| {
        let arr = js_sys::Uint8Array::new_with_length(16);
        let f = js_sys::Reflect::get(&c, &"getRandomValues".into()).ok();
        let ok =
            f.and_then(|f| f.dyn_into::<js_sys::Function>().ok()).is_some_and(|f| f.call1(&c, &arr).is_ok());
        if ok {
            arr.copy_to(&mut bytes);
        }
        ok
    });
    if !filled {
        for b in bytes.iter_mut() {
            *b = (js_sys::Math::random() * 256.0) as u8;
        }
    }
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

use wasm_bindgen::JsCast;
