//! Views named `'ddoc/view'`: read from the design doc `_design/ddoc` when queried, and
//! turned into code by a `ViewCompiler` only then (the wasm layer compiles JS, or uses a
//! function the app registered in code for pages whose CSP forbids `eval`).
//!
//! `design_docs` lists every live design doc; `view_cleanup` and Mango read it too.

use super::MapFn;
use super::{signature, Reduce, ReduceFn, ViewDef};
use crate::core::reduce::BuiltinReduce;
use crate::db::record::DocRecord;
use crate::db::{keys, Database};
use crate::error::{Error, Result};
use crate::kv::{Range, SharedBytes};
use serde_json::Value;
use std::ops::Bound;
use std::rc::Rc;

/// A view as a design doc defines it: sources, not code.
#[derive(Debug, Clone, PartialEq)]
pub struct DesignView {
    /// `_design/…`
    pub ddoc: String,
    pub name: String,
    pub map: String,
    pub reduce: Option<String>,
}

impl DesignView {
    /// `ddoc/view` as `query` names it.
    pub fn path(&self) -> String {
        format!("{}/{}", self.ddoc.trim_start_matches("_design/"), self.name)
    }

    pub fn signature(&self) -> String {
        signature(&self.map, self.reduce.as_deref())
    }

    /// The view's index id, computed from its sources (no compiling).
    pub fn id(&self) -> String {
        super::view_id(Some(&self.ddoc), &self.name, &self.signature())
    }
}

/// Turns view sources into functions.
pub trait ViewCompiler {
    fn map(&self, view: &DesignView) -> Result<Rc<dyn MapFn>>;
    fn reduce(&self, view: &DesignView, source: &str) -> Result<Rc<dyn ReduceFn>>;
}

/// `'ddoc/view'` or `'_design/ddoc/view'` → (`_design/ddoc`, `view`); a bare `'name'` is view
/// `name` of `_design/name`, PouchDB's shorthand.
fn split_name(name: &str) -> Result<(String, String)> {
    let rest = name.strip_prefix("_design/").unwrap_or(name);
    match rest.split_once('/') {
        Some((d, v)) if !d.is_empty() && !v.is_empty() => Ok((format!("_design/{d}"), v.to_string())),
        None if !rest.is_empty() => Ok((format!("_design/{rest}"), rest.to_string())),
        _ => Err(Error::bad_request(format!("a view is named 'ddoc/view', got {name:?}"))),
    }
}

/// The JS views of one design doc body (Mango indexes, `language: "query"`, are not).
pub fn js_views(ddoc: &str, body: &Value) -> Vec<DesignView> {
    if body.get("language").and_then(Value::as_str) == Some("query") {
        return Vec::new();
    }
    let Some(Value::Object(views)) = body.get("views") else { return Vec::new() };
    views
        .iter()
        .filter_map(|(name, v)| {
            Some(DesignView {
                ddoc: ddoc.to_string(),
                name: name.clone(),
                map: v.get("map")?.as_str()?.to_string(),
                reduce: v.get("reduce").and_then(Value::as_str).map(str::to_string),
            })
        })
        .collect()
}

impl Database {
    /// The view `name` names, read from its design doc now.
    pub async fn design_view(&self, name: &str) -> Result<DesignView> {
        let (ddoc, view) = split_name(name)?;
        let body: Value = serde_json::from_str(&self.get(&ddoc, &Value::Null).await?)
            .map_err(|e| Error::corruption(format!("doc body for id {ddoc:?}: {e}")))?;
        js_views(&ddoc, &body)
            .into_iter()
            .find(|v| v.name == view)
            .ok_or_else(|| Error::not_found("missing_named_view"))
    }

    /// `query('ddoc/view', options)`: reads the design doc, compiles its view, queries it.
    pub async fn query_design(
        &self,
        name: &str,
        options: &Value,
        compiler: &dyn ViewCompiler,
    ) -> Result<String> {
        let def = view_def(&self.design_view(name).await?, compiler)?;
        self.query(&def, options).await
    }

    /// Every live design doc: (id, body).
    pub(super) async fn design_docs(&self) -> Result<Vec<(String, Value)>> {
        parse_design_docs(&self.design_doc_records().await?)
    }

    /// The doc records of every design doc, as stored (deleted ones too).
    pub(crate) async fn design_doc_records(&self) -> Result<Vec<(SharedBytes, SharedBytes)>> {
        let range = Range {
            start: Bound::Included(keys::doc("_design/")),
            end: Bound::Excluded(keys::doc("_design0")),
        };
        self.kv.scan_shared(range, false, None).await
    }
}

/// The live design docs among `design_doc_records`: (id, body).
pub(super) fn parse_design_docs(rows: &[(SharedBytes, SharedBytes)]) -> Result<Vec<(String, Value)>> {
    let mut out = Vec::new();
    for (k, v) in rows {
        let record =
            DocRecord::decode(v).map_err(crate::db::record::for_id(keys::id_of(k).unwrap_or("?")))?;
        let live = record.meta.tree.winner().is_some_and(|w| !w.deleted);
        let (Some(id), Some(body), true) = (keys::id_of(k), &record.winner_body, live) else { continue };
        let body = serde_json::from_slice(body)
            .map_err(|e| Error::corruption(format!("doc body for id {id:?}: {e}")))?;
        out.push((id.to_string(), body));
    }
    Ok(out)
}

/// A design view compiled into a `ViewDef`: built-in reduces need no compiler.
pub fn view_def(view: &DesignView, compiler: &dyn ViewCompiler) -> Result<ViewDef> {
    let reduce = match view.reduce.as_deref() {
        None => None,
        Some(src) => Some(match BuiltinReduce::parse(src) {
            Some(b) => Reduce::Builtin(b),
            None if src.trim().starts_with('_') => {
                return Err(Error::bad_request(format!("unknown built-in reduce {src:?}")))
            }
            None => Reduce::Custom(compiler.reduce(view, src)?),
        }),
    };
    Ok(ViewDef {
        ddoc: Some(view.ddoc.clone()),
        name: view.name.clone(),
        signature: view.signature(),
        map: compiler.map(view)?,
        reduce,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn view_names_split_with_or_without_the_design_prefix() {
        assert_eq!(split_name("d/v").unwrap(), ("_design/d".into(), "v".into()));
        assert_eq!(split_name("_design/d/v").unwrap(), ("_design/d".into(), "v".into()));
        // A bare name is view `name` of `_design/name` (PouchDB's shorthand).
        assert_eq!(split_name("dv").unwrap(), ("_design/dv".into(), "dv".into()));
        assert!(split_name("d/").is_err() && split_name("").is_err() && split_name("_design/").is_err());
    }

    #[test]
    fn mango_design_docs_have_no_js_views() {
        let body = json!({"language": "query", "views": {"i": {"map": {"fields": {"a": "asc"}}}}});
        assert!(js_views("_design/x", &body).is_empty());
        let body = json!({"views": {"v": {"map": "function (doc) {}", "reduce": "_count"}}});
        assert_eq!(js_views("_design/x", &body)[0].reduce.as_deref(), Some("_count"));
    }
}
