//! `crate::Error` → a real JS `Error` with PouchDB's fields, so that `catch (e)` code can
//! branch on `e.status` / `e.name` and still get a stack.

use crate::error::Error;
use js_sys::Reflect;
use wasm_bindgen::JsValue;

#[cold]
pub fn to_js(e: Error) -> JsValue {
    let err = js_sys::Error::new(&e.message);
    let obj: &JsValue = err.as_ref();
    let set = |k: &str, v: JsValue| {
        let _ = Reflect::set(obj, &JsValue::from_str(k), &v);
    };
    set("name", JsValue::from_str(e.name));
    set("status", JsValue::from(e.status));
    set("error", JsValue::TRUE);
    set("reason", JsValue::from_str(e.reason.as_deref().unwrap_or(&e.message)));
    err.into()
}

/// `to_js`, with PouchDB's `docId` naming the document a single-doc call failed on (a 404 from
/// `get`, a 409 from `put`), so that an app can tell which of its calls it was.
#[cold]
pub fn to_js_for_doc(e: Error, doc_id: Option<&str>) -> JsValue {
    let err = to_js(e);
    if let Some(id) = doc_id {
        let _ = Reflect::set(&err, &JsValue::from_str("docId"), &JsValue::from_str(id));
    }
    err
}
