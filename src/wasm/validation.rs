//! Validation options of a local database and its `validate_doc_update` functions in JS.
//!
//! - Options read at `open`: `schema` (see `core::schema`), `userCtx` (`{name, roles}`;
//!   default `{name: null, roles: ['_admin']}`, CouchDB's "admin party", since a browser has
//!   no server session; `db` is set to the database name, as CouchDB's is), `secObj` (the security object VDUs get; default empty lists) and
//!   `trustDesignDocs` (run VDUs of design docs that came by replication).
//! - A VDU is compiled from its source text with `view_fns`' compiler (`new Function`, the
//!   CouchDB helpers in scope), unless the app registered a function for that design doc with
//!   `Settee.registerValidateDocUpdate` (pages whose CSP forbids `eval`): the registry is a
//!   `Map` under `Symbol.for('settee.validateDocUpdate')`, keyed by the design doc's name
//!   without `_design/`, which the TS wrapper fills.
//! - Each call gets fresh parses of `newDoc`, `oldDoc`, `userCtx` and `secObj`, so a function
//!   that mutates them cannot affect the next call. `throw({forbidden})` is a 403,
//!   `throw({unauthorized})` a 401, any other exception a 500 naming the design doc.

use super::convert::from_js;
use super::database::Database;
use super::error::to_js as err_to_js;
use super::view_fns::{compile_function, js_error};
use crate::db::validate::{Validation, VduCompiler, VduFn};
use crate::db::{self};
use crate::error::{Error, Result};
use serde_json::{json, Value};
use std::rc::Rc;
use wasm_bindgen::prelude::*;

#[wasm_bindgen(inline_js = r#"
export function registered(name) {
  const map = globalThis[Symbol.for('settee.validateDocUpdate')];
  return map instanceof Map ? map.get(name) : undefined;
}
export function runVdu(f, newJson, oldJson, ctxJson, secJson) {
  try {
    f(JSON.parse(newJson), oldJson === undefined ? null : JSON.parse(oldJson), JSON.parse(ctxJson), JSON.parse(secJson));
    return '';
  } catch (e) {
    if (e !== null && typeof e === 'object') {
      if ('forbidden' in e) return '403 ' + String(e.forbidden);
      if ('unauthorized' in e) return '401 ' + String(e.unauthorized);
    }
    return '500 ' + (e instanceof Error ? e.message : String(e));
  }
}
"#)]
extern "C" {
    fn registered(name: &str) -> JsValue;
    #[wasm_bindgen(js_name = runVdu)]
    fn run_vdu(f: &JsValue, new_doc: &str, old_doc: Option<String>, ctx: &str, sec: &str) -> String;
}

struct JsVdu {
    ddoc: String,
    f: JsValue,
    ctx: Rc<str>,
    sec: Rc<str>,
}

impl VduFn for JsVdu {
    fn check(&self, new_doc: &str, old_doc: Option<&str>) -> Result<()> {
        let out = run_vdu(&self.f, new_doc, old_doc.map(str::to_string), &self.ctx, &self.sec);
        if out.is_empty() {
            return Ok(());
        }
        // `runVdu` answers "<status> <message>".
        let (status, message) = out.split_at(3.min(out.len()));
        let message = message.strip_prefix(' ').unwrap_or(message).to_string();
        Err(match status {
            "403" => Error::forbidden(message),
            "401" => Error::unauthorized(message),
            _ => {
                let m = format!("validate_doc_update of {} threw: {message}", self.ddoc);
                Error::new(500, "unknown_error", m.clone()).with_reason(m)
            }
        })
    }
}

struct JsVduCompiler {
    ctx: Rc<str>,
    sec: Rc<str>,
}

impl VduCompiler for JsVduCompiler {
    fn compile(&self, ddoc: &str, source: &str) -> Result<Rc<dyn VduFn>> {
        let given = registered(ddoc.strip_prefix("_design/").unwrap_or(ddoc));
        let f = if given.is_function() {
            given
        } else {
            compile_function(source).map_err(|e| js_error("invalid validate_doc_update", e))?
        };
        Ok(Rc::new(JsVdu { ddoc: ddoc.to_string(), f, ctx: self.ctx.clone(), sec: self.sec.clone() }))
    }
}

/// Applies the validation options of `open` to a new database.
pub(super) fn configure(db: &db::Database, options: &Value) -> Result<()> {
    let o = db::options::Opts::new(options)?;
    if let Some(schema) = o.get("schema") {
        db.set_schema(Some(schema))?;
    }
    let ctx = match o.get("userCtx") {
        None => json!({"name": null, "roles": ["_admin"]}),
        Some(c @ Value::Object(m)) if m.get("roles").is_none_or(Value::is_array) => {
            let mut c = c.clone();
            c["roles"] = m.get("roles").cloned().unwrap_or(json!([]));
            c.as_object_mut().expect("an object").entry("name").or_insert(Value::Null);
            c
        }
        Some(_) => return Err(db::options::bad("userCtx", "an object {name, roles: [...]}")),
    };
    let sec = match o.get("secObj") {
        None => json!({"admins": {"names": [], "roles": []}, "members": {"names": [], "roles": []}}),
        Some(s @ Value::Object(_)) => s.clone(),
        Some(_) => return Err(db::options::bad("secObj", "an object")),
    };
    // CouchDB's userCtx also names the database.
    let mut ctx = ctx;
    ctx["db"] = Value::String(db.name().to_string());
    let admin = ctx["roles"].as_array().is_some_and(|r| r.iter().any(|x| x == "_admin"));
    let compiler = JsVduCompiler { ctx: ctx.to_string().into(), sec: sec.to_string().into() };
    db.set_validation(Validation {
        compiler: Rc::new(compiler),
        trust_design_docs: o.bool("trustDesignDocs")?,
        admin,
    });
    Ok(())
}

#[wasm_bindgen]
impl Database {
    /// `setSchema(schema | null)`: replaces the JSON Schemas writes are checked against.
    #[wasm_bindgen(js_name = setSchema)]
    pub fn set_schema(&self, schema: JsValue) -> std::result::Result<(), JsValue> {
        let spec = from_js(&schema).map_err(err_to_js)?;
        self.inner.set_schema(Some(&spec)).map_err(err_to_js)
    }
}
