//! JS filters for the changes feed behind the db layer's `ChangeFilterFn` / `FilterCompiler`.
//!
//! - A filter is called as `filter(doc, req)` with `req.query` = the `query_params` option
//!   (as given, not a JSON copy, for function filters), PouchDB's and CouchDB's signature.
//! - One call into JS per page of docs (`runFilter`), the docs passed as one JSON array.
//! - A filter that throws rejects the whole request with a 400 naming its error.
//! - Design doc sources are compiled with `new Function`; a trailing `;` is allowed.

use super::view_fns::{js_error, JsMap};
use crate::db::changes_filter::{ChangeFilterFn, FilterCompiler, FilterContext};
use crate::db::views::{DesignView, MapFn};
use crate::error::Result;
use async_trait::async_trait;
use js_sys::Reflect;
use serde_json::Value;
use std::rc::Rc;
use wasm_bindgen::prelude::*;

#[wasm_bindgen(inline_js = r#"
export function makeFilter(fn, query) {
  const f = typeof fn === 'function' ? fn
    : new Function('return (' + String(fn).replace(/[;\s]+$/, '') + ');')();
  if (typeof f !== 'function') throw new TypeError('a filter must be a function');
  return { f, req: { query: query === undefined || query === null ? {} : query } };
}
export function runFilter(filter, docsJson) {
  const docs = JSON.parse(docsJson);
  let out = '';
  for (const doc of docs) out += filter.f(doc, filter.req) ? '1' : '0';
  return out;
}
"#)]
extern "C" {
    #[wasm_bindgen(catch, js_name = makeFilter)]
    fn make_filter(f: &JsValue, query: &JsValue) -> std::result::Result<JsValue, JsValue>;
    #[wasm_bindgen(catch, js_name = runFilter)]
    fn run_filter(filter: &JsValue, docs: &str) -> std::result::Result<String, JsValue>;
}

struct JsFilter(JsValue);

impl JsFilter {
    fn new(f: &JsValue, query: &JsValue) -> Result<JsFilter> {
        Ok(JsFilter(make_filter(f, query).map_err(|e| js_error("invalid filter function", e))?))
    }
}

#[async_trait(?Send)]
impl ChangeFilterFn for JsFilter {
    async fn keep(&self, docs: &[String]) -> Result<Vec<bool>> {
        if docs.is_empty() {
            return Ok(Vec::new());
        }
        let array = format!("[{}]", docs.join(","));
        let out = run_filter(&self.0, &array).map_err(|e| js_error("filter function threw", e))?;
        Ok(out.bytes().map(|b| b == b'1').collect())
    }
}

struct JsFilterCompiler;

impl FilterCompiler for JsFilterCompiler {
    fn filter(&self, source: &str, query_params: &Value) -> Result<Rc<dyn ChangeFilterFn>> {
        let query = super::convert::to_js(&query_params.to_string())?;
        Ok(Rc::new(JsFilter::new(&JsValue::from_str(source), &query)?))
    }
    fn map(&self, view: &DesignView) -> Result<Rc<dyn MapFn>> {
        Ok(Rc::new(JsMap::new(&JsValue::from_str(&view.map))?))
    }
}

/// The filter context of a changes call or replication: its `filter` option when that is a
/// function, and a compiler for design doc filters.
pub fn context(options: &JsValue) -> Result<FilterContext> {
    let get = |name: &str| {
        if options.is_object() {
            Reflect::get(options, &name.into()).unwrap_or(JsValue::UNDEFINED)
        } else {
            JsValue::UNDEFINED
        }
    };
    let filter = get("filter");
    let function: Option<Rc<dyn ChangeFilterFn>> = if filter.is_function() {
        Some(Rc::new(JsFilter::new(&filter, &get("query_params"))?))
    } else {
        None
    };
    Ok(FilterContext { function, compiler: Some(Rc::new(JsFilterCompiler)) })
}

/// Design doc filters only (for a replication source).
pub fn compiler_only() -> FilterContext {
    FilterContext { function: None, compiler: Some(Rc::new(JsFilterCompiler)) }
}
