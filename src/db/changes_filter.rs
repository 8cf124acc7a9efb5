//! Filters of the changes feed, chosen by PouchDB's (and CouchDB's) options:
//!
//! - `selector` (with no `filter`, or `filter: '_selector'`): a Mango selector. Any other
//!   `filter` beside a selector is a 400 `selector invalid for filter "…"`.
//! - `filter: fn` (a JS function; only the wasm layer has one): called as `fn(doc, req)` with
//!   `req.query` = `query_params`; a truthy answer keeps the row.
//! - `filter: 'ddoc/name'` (a bare `'name'` means `'name/name'`): the design doc's
//!   `filters.name` source, compiled by a `FilterCompiler`. A name with more than one `/`
//!   is no filter at all, as in PouchDB (`parseDesignDocFunctionName` gives null).
//! - `filter: '_view'` with `view: 'ddoc/name'`, or `view` alone (PouchDB #3609): the view's
//!   map function; a doc passes when it emits anything. Unlike indexing, design docs are
//!   mapped here too, as PouchDB and CouchDB do for this filter.
//! - `filter: '_doc_ids'` is `doc_ids`, handled by the feed itself.
//!
//! Missing design docs are the `get` error (404); a design doc without that filter or view is
//! 404 `missing json key: name`, CouchDB's answer. A filter that throws fails the whole
//! request (PouchDB #3356). Filters see every changed doc's winning revision as `get`
//! returns it (`_deleted: true` for a deletion), and run before `limit` counts rows.

use super::views::{DesignView, MapFn};
use super::Database;
use crate::core::mango::Selector;
use crate::error::{Error, Result};
use async_trait::async_trait;
use serde_json::Value;
use std::fmt;
use std::rc::Rc;

/// Decides for a batch of docs (JSON texts) which rows the feed keeps.
#[async_trait(?Send)]
pub trait ChangeFilterFn {
    async fn keep(&self, docs: &[String]) -> Result<Vec<bool>>;
}

/// Turns design doc sources into filters; the wasm layer compiles JS.
pub trait FilterCompiler {
    /// A `filters.name` source, given the request's `query_params`.
    fn filter(&self, source: &str, query_params: &Value) -> Result<Rc<dyn ChangeFilterFn>>;
    /// A view's map function, for `filter: '_view'`.
    fn map(&self, view: &DesignView) -> Result<Rc<dyn MapFn>>;
}

/// What the caller has beside the JSON options: code to run filters with.
#[derive(Default, Clone)]
pub struct FilterContext {
    /// The `filter` option when it is a function (JSON options cannot carry one).
    pub function: Option<Rc<dyn ChangeFilterFn>>,
    pub compiler: Option<Rc<dyn FilterCompiler>>,
}

/// A resolved filter: cheap to clone, so a live feed re-uses it for every page.
#[derive(Clone)]
pub struct ChangesFilter(pub Rc<dyn ChangeFilterFn>);

impl fmt::Debug for ChangesFilter {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("ChangesFilter")
    }
}

struct SelectorFilter(Selector);

#[async_trait(?Send)]
impl ChangeFilterFn for SelectorFilter {
    async fn keep(&self, docs: &[String]) -> Result<Vec<bool>> {
        docs.iter().map(|d| Ok(self.0.matches(&super::views::parse_doc(d)?))).collect()
    }
}

/// `filter: '_view'`: a doc passes when the map emits for it; a map that throws emits nothing.
struct ViewFilter(Rc<dyn MapFn>);

#[async_trait(?Send)]
impl ChangeFilterFn for ViewFilter {
    async fn keep(&self, docs: &[String]) -> Result<Vec<bool>> {
        let emits = self.0.map_batch(docs).await;
        Ok(emits.into_iter().map(|e| e.is_ok_and(|rows| !rows.is_empty())).collect())
    }
}

/// `'ddoc/name'` → (`_design/ddoc`, `name`); `'name'` → (`_design/name`, `name`); anything
/// else (empty, or more than one `/`) → `None`.
fn split_name(name: &str) -> Option<(String, String)> {
    let parts: Vec<&str> = name.split('/').collect();
    match parts[..] {
        [""] => None,
        [one] => Some((format!("_design/{one}"), one.to_string())),
        [d, n] => Some((format!("_design/{d}"), n.to_string())),
        _ => None,
    }
}

fn missing_key(name: &str) -> Error {
    Error::not_found(&format!("missing json key: {name}"))
}

fn no_compiler() -> Error {
    Error::bad_request("design doc filters need a JavaScript engine")
}

impl Database {
    /// The filter `options` ask for (see the module doc), or `None`.
    pub async fn changes_filter(
        &self,
        options: &Value,
        ctx: &FilterContext,
    ) -> Result<Option<ChangesFilter>> {
        let filter = options.get("filter").filter(|f| !f.is_null());
        let selector = options.get("selector").filter(|s| !s.is_null());
        if let Some(selector) = selector {
            return match (&ctx.function, filter) {
                (None, None) => Ok(Some(selector_filter(selector)?)),
                (None, Some(Value::String(f))) if f == "_selector" => Ok(Some(selector_filter(selector)?)),
                (Some(_), _) => Err(Error::bad_request("selector invalid for filter \"function\"")),
                (None, Some(f)) => {
                    let f = f.as_str().map_or_else(|| f.to_string(), str::to_string);
                    Err(Error::bad_request(format!("selector invalid for filter \"{f}\"")))
                }
            };
        }
        if let Some(function) = &ctx.function {
            return Ok(Some(ChangesFilter(function.clone())));
        }
        let view = options.get("view").filter(|v| !v.is_null());
        match filter.and_then(Value::as_str) {
            Some("_selector") => Err(Error::bad_request("filter _selector needs a selector")),
            Some("_doc_ids") => Ok(None),
            Some("_view") => self.view_filter(view, ctx).await.map(Some),
            None if view.is_some() => self.view_filter(view, ctx).await.map(Some),
            None => Ok(None),
            Some(name) => {
                let Some((ddoc, name)) = split_name(name) else { return Ok(None) };
                let body = self.design_body(&ddoc).await?;
                let source = body.get("filters").and_then(|f| f.get(&name)).and_then(Value::as_str);
                let source = source.ok_or_else(|| missing_key(&name))?;
                let compiler = ctx.compiler.as_ref().ok_or_else(no_compiler)?;
                let query = options.get("query_params").cloned().unwrap_or(Value::Null);
                Ok(Some(ChangesFilter(compiler.filter(source, &query)?)))
            }
        }
    }

    async fn view_filter(&self, view: Option<&Value>, ctx: &FilterContext) -> Result<ChangesFilter> {
        let not_given = || Error::bad_request("`view` filter parameter not found.");
        let (ddoc, name) =
            split_name(view.and_then(Value::as_str).ok_or_else(not_given)?).ok_or_else(not_given)?;
        let body = self.design_body(&ddoc).await?;
        let map = body.get("views").and_then(|v| v.get(&name)).and_then(|v| v.get("map"));
        let map = map.and_then(Value::as_str).ok_or_else(|| missing_key(&name))?;
        let view = DesignView { ddoc, name, map: map.to_string(), reduce: None };
        let compiler = ctx.compiler.as_ref().ok_or_else(no_compiler)?;
        Ok(ChangesFilter(Rc::new(ViewFilter(compiler.map(&view)?))))
    }

    async fn design_body(&self, ddoc: &str) -> Result<Value> {
        serde_json::from_str(&self.get(ddoc, &Value::Null).await?)
            .map_err(|e| Error::corruption(format!("doc body for id {ddoc:?}: {e}")))
    }
}

fn selector_filter(selector: &Value) -> Result<ChangesFilter> {
    Ok(ChangesFilter(Rc::new(SelectorFilter(Selector::parse(selector)?))))
}

#[cfg(test)]
mod tests {
    use super::split_name;

    #[test]
    fn filter_names_follow_pouchdb() {
        assert_eq!(split_name("d/f"), Some(("_design/d".into(), "f".into())));
        assert_eq!(split_name("even"), Some(("_design/even".into(), "even".into())));
        assert_eq!(split_name("a/b/c"), None);
        assert_eq!(split_name(""), None);
    }
}
