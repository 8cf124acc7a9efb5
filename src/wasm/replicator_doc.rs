//! `parseReplicatorDoc(doc)`: a `_replicator` doc as the job `js/replicator-db.ts` runs (the
//! rules are `replicate::replicator_doc`'s). Answers `{kind: 'ignore' | 'terminal' | 'run' |
//! 'invalid', id?, …, source_label?, target_label?}`: the labels are the doc's `source` and
//! `target` without credentials, for `activeTasks()`. Never throws for a bad doc.

use super::convert::{from_js, to_js};
use super::error::to_js as err_to_js;
use crate::replicate::replicator_doc::{classify, label};
use serde_json::{json, Value};
use wasm_bindgen::prelude::*;

#[wasm_bindgen(js_name = parseReplicatorDoc)]
pub fn parse_replicator_doc(doc: JsValue) -> Result<JsValue, JsValue> {
    let doc = from_js(&doc).map_err(err_to_js)?;
    let mut out = serde_json::to_value(classify(&doc)).unwrap_or(Value::Null);
    out["source_label"] = json!(label(doc.get("source")));
    out["target_label"] = json!(label(doc.get("target")));
    to_js(&out.to_string()).map_err(err_to_js)
}
