//! The database API of a remote `Settee` (`new Settee('http://…/db')`): PouchDB options as
//! CouchDB query strings, and CouchDB answers in Settee's shapes. Pure.
//!
//! - Query values: strings go raw, everything else as JSON text; keys that CouchDB parses as
//!   JSON (`startkey`, `endkey`, `key`, and their `start_key`/`end_key` spellings) always go as
//!   JSON, so a string key arrives quoted.
//! - `query` takes `'ddoc/view'` only: CouchDB has no temporary views since 2.0.
//! - `createIndex` accepts PouchDB's shape (`{index: {fields, name?, ddoc?, type?}}`), where
//!   CouchDB wants `name`, `ddoc` and `type` beside `index`: they are moved up.
//! - `_bulk_docs` error rows (`{id, error: "conflict", reason}`) become Settee's error rows
//!   (`{error: true, status, name, message, reason, id}`), as a local database answers.

use super::url::percent_encode;
use crate::error::{Error, Result};
use serde_json::{json, Value};

const JSON_KEYS: &[&str] = &["startkey", "endkey", "key", "start_key", "end_key"];

/// `?a=1&b=x` from an options object (empty without options); `skip` keys are left out.
pub fn query_string(options: &Value, skip: &[&str]) -> String {
    let Some(map) = options.as_object() else { return String::new() };
    let mut out = String::new();
    for (k, v) in map {
        if v.is_null() || skip.contains(&k.as_str()) {
            continue;
        }
        let text = match v {
            Value::String(s) if !JSON_KEYS.contains(&k.as_str()) => s.clone(),
            other => other.to_string(),
        };
        out.push(if out.is_empty() { '?' } else { '&' });
        out.push_str(&percent_encode(k));
        out.push('=');
        out.push_str(&percent_encode(&text));
    }
    out
}

/// `_design/ddoc/_view/view` from `'ddoc/view'` or `'_design/ddoc/view'`.
pub fn view_path(name: &str) -> Result<String> {
    let short = name.strip_prefix("_design/").unwrap_or(name);
    match short.split_once('/') {
        Some((ddoc, view)) if !ddoc.is_empty() && !view.is_empty() && !view.contains('/') => {
            Ok(format!("_design/{}/_view/{}", percent_encode(ddoc), percent_encode(view)))
        }
        _ => Err(Error::bad_request(format!("query expects 'ddoc/view', not '{name}'"))),
    }
}

/// PouchDB's `createIndex` request as CouchDB's `_index` body.
pub fn index_body(request: Value) -> Result<Value> {
    let shape = || Error::bad_request("createIndex expects {index: {fields: [...]}}");
    let Value::Object(mut body) = request else { return Err(shape()) };
    let Some(Value::Object(index)) = body.get_mut("index") else { return Err(shape()) };
    let moved: Vec<(&str, Value)> =
        ["name", "ddoc", "type"].into_iter().filter_map(|k| index.remove(k).map(|v| (k, v))).collect();
    for (k, v) in moved {
        body.entry(k).or_insert(v);
    }
    if let Some(Value::String(ddoc)) = body.get_mut("ddoc") {
        if let Some(short) = ddoc.strip_prefix("_design/") {
            *ddoc = short.to_string();
        }
    }
    Ok(Value::Object(body))
}

/// `_index/_design%2F{ddoc}/json/{name}` (what `DELETE` takes) for an index as `getIndexes`
/// lists it. The design doc id goes whole, its slash encoded: CouchDB takes that or the bare
/// name, pouchdb-server only that.
pub fn index_path(ddoc: &str, name: &str) -> String {
    let ddoc = ddoc.strip_prefix("_design/").unwrap_or(ddoc);
    format!("_index/{}/json/{}", percent_encode(&format!("_design/{ddoc}")), percent_encode(name))
}

/// A `_changes` request: method, path and query, and the body a POST carries.
pub struct ChangesCall {
    pub method: &'static str,
    pub path: String,
    pub body: Option<Value>,
}

/// `_changes` with PouchDB's options: `doc_ids` and `selector` are POSTed with the matching
/// built-in filter. `live`, which a remote database answers with a longpoll loop, is never
/// sent; `longpoll` (with the `since` to start from) makes the one request of that loop.
pub fn changes_call(options: &Value, longpoll: Option<&Value>) -> ChangesCall {
    let mut options = match options {
        Value::Object(m) => m.clone(),
        _ => serde_json::Map::new(),
    };
    options.remove("live");
    let mut body = None;
    for (key, filter) in [("doc_ids", "_doc_ids"), ("selector", "_selector")] {
        if let Some(v) = options.remove(key).filter(|v| !v.is_null()) {
            options.insert("filter".into(), filter.into());
            body = Some(json!({ key: v }));
        }
    }
    if let Some(since) = longpoll {
        options.insert("feed".into(), "longpoll".into());
        options.insert("since".into(), since.clone());
        options.entry("heartbeat").or_insert(json!(10_000));
    }
    let path = "_changes".to_string() + &query_string(&Value::Object(options), &[]);
    ChangesCall { method: if body.is_some() { "POST" } else { "GET" }, path, body }
}

fn status_of(name: &str) -> u16 {
    match name {
        "conflict" => 409,
        "forbidden" => 403,
        "unauthorized" => 401,
        "not_found" => 404,
        "bad_request" | "doc_validation" | "invalid_rev" => 400,
        _ => 500,
    }
}

/// A `_bulk_docs` answer with its error rows in Settee's shape.
pub fn bulk_docs_rows(answer: Value) -> Value {
    let Value::Array(rows) = answer else { return answer };
    let rows = rows.into_iter().map(|row| match row["error"].as_str() {
        Some(name) => {
            let reason = row["reason"].as_str().unwrap_or(name).to_string();
            let mut out =
                json!({"error": true, "status": status_of(name), "name": name, "message": reason, "reason": reason});
            if let Some(id) = row.get("id") {
                out["id"] = id.clone();
            }
            out
        }
        None => row,
    });
    Value::Array(rows.collect())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn options_become_a_query_with_json_keys_quoted() {
        let q = query_string(
            &json!({"include_docs": true, "startkey": "a", "limit": 2, "rev": "1-x", "keys": ["a"], "n": null}),
            &["keys"],
        );
        assert_eq!(q, "?include_docs=true&startkey=%22a%22&limit=2&rev=1-x");
        assert_eq!(query_string(&json!({"open_revs": ["1-a"]}), &[]), "?open_revs=%5B%221-a%22%5D");
        assert_eq!(query_string(&Value::Null, &[]), "");
    }

    #[test]
    fn view_names_become_view_paths_and_anything_else_is_400() {
        assert_eq!(view_path("app/by n").unwrap(), "_design/app/_view/by%20n");
        assert_eq!(view_path("_design/app/x").unwrap(), "_design/app/_view/x");
        for bad in ["app", "app/", "/x", "a/b/c", ""] {
            assert_eq!(view_path(bad).unwrap_err().status, 400, "{bad}");
        }
    }

    #[test]
    fn pouchdb_create_index_requests_become_couchdb_index_bodies() {
        let body = index_body(
            json!({"index": {"fields": ["n"], "name": "by-n", "ddoc": "_design/idx", "type": "json"}}),
        );
        assert_eq!(
            body.unwrap(),
            json!({"index": {"fields": ["n"]}, "name": "by-n", "ddoc": "idx", "type": "json"})
        );
        let body = index_body(json!({"index": {"fields": ["n"]}, "name": "top"})).unwrap();
        assert_eq!(body, json!({"index": {"fields": ["n"]}, "name": "top"}));
        assert_eq!(index_body(json!({"fields": ["n"]})).unwrap_err().status, 400);
        assert_eq!(index_path("_design/idx", "by n"), "_index/_design%2Fidx/json/by%20n");
        assert_eq!(index_path("idx", "n"), "_index/_design%2Fidx/json/n");
    }

    #[test]
    fn changes_post_doc_ids_and_selectors_and_a_longpoll_starts_at_its_since() {
        let c = changes_call(&json!({"include_docs": true, "live": true}), None);
        assert_eq!((c.method, c.path.as_str(), c.body), ("GET", "_changes?include_docs=true", None));
        let c = changes_call(&json!({"doc_ids": ["a"], "since": 3}), None);
        assert_eq!((c.method, c.path.as_str()), ("POST", "_changes?since=3&filter=_doc_ids"));
        assert_eq!(c.body, Some(json!({"doc_ids": ["a"]})));
        let c = changes_call(&json!({"selector": {"n": 1}, "since": 0}), Some(&json!("7-g1AAAA")));
        assert_eq!(c.path, "_changes?since=7-g1AAAA&filter=_selector&feed=longpoll&heartbeat=10000");
        assert_eq!(c.body, Some(json!({"selector": {"n": 1}})));
    }

    #[test]
    fn bulk_docs_error_rows_get_settee_fields() {
        let rows = bulk_docs_rows(json!([{"ok": true, "id": "a", "rev": "1-x"},
                                         {"id": "b", "error": "conflict", "reason": "Document update conflict."}]));
        assert_eq!(rows[0]["rev"], "1-x");
        assert_eq!(
            rows[1],
            json!({"error": true, "status": 409, "name": "conflict", "message": "Document update conflict.",
                   "reason": "Document update conflict.", "id": "b"})
        );
    }
}
