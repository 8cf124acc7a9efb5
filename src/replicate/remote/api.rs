//! The database API of a remote `Settee` (`new Settee('http://…/db')`): PouchDB options as
//! CouchDB query strings, and CouchDB answers in Settee's shapes. Pure.
//!
//! - Query values: strings go raw, everything else as JSON text; keys that CouchDB parses as
//!   JSON (`startkey`, `endkey`, `key`, and their `start_key`/`end_key` spellings) always go as
//!   JSON, so a string key arrives quoted.
//! - `_bulk_docs` error rows (`{id, error: "conflict", reason}`) become Settee's error rows
//!   (`{error: true, status, name, message, reason, id}`), as a local database answers.

use super::url::percent_encode;
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
