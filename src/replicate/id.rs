//! The replication id: names the `_local/<id>` checkpoint docs of one replication.
//!
//! It is the md5 (hex) of the source id, the target id and the filter parameters, so the same
//! replication finds its checkpoints again and a differently filtered one starts afresh. Rules:
//! - Peer ids are URLs for remote databases: userinfo (`user:pass@`) is stripped first, so
//!   changing a password keeps the checkpoints and credentials never reach the hash.
//! - Order matters: A→B and B→A are different replications.
//! - Filter parameters are canonical: doc_ids sorted and deduplicated, JSON object members
//!   sorted, so `{a,b}` and `{b,a}` selectors give the same id.

use super::peer::Filter;
use md5::{Digest, Md5};
use serde_json::Value;

/// Bump when the inputs change meaning: old checkpoints are then ignored, never misread.
const VERSION: &str = "settee-replication-v1";

/// `js_filter_key` identifies a caller-side filter function (e.g. its source text).
pub fn replication_id(
    source_id: &str,
    target_id: &str,
    filter: &Filter,
    js_filter_key: Option<&str>,
) -> String {
    let filter = match filter {
        Filter::None => Value::Null,
        Filter::DocIds(ids) => {
            // `&str` and unstable: the sort copy the write path has already.
            let mut ids: Vec<&str> = ids.iter().map(String::as_str).collect();
            ids.sort_unstable();
            ids.dedup();
            serde_json::json!({"doc_ids": ids})
        }
        Filter::Selector(s) => serde_json::json!({"selector": canonical(s)}),
        Filter::Named { name, query_params } => {
            serde_json::json!({"filter": name, "query_params": canonical(query_params)})
        }
    };
    let parts = serde_json::json!([
        VERSION,
        strip_credentials(source_id),
        strip_credentials(target_id),
        filter,
        js_filter_key
    ]);
    let digest = Md5::digest(serde_json::to_vec(&parts).expect("JSON serialises"));
    digest.iter().map(|b| format!("{b:02x}")).collect()
}

/// `scheme://user:pass@host/…` → `scheme://host/…`; anything else is returned unchanged.
pub fn strip_credentials(id: &str) -> String {
    let Some((scheme, rest)) = id.split_once("://") else { return id.to_string() };
    let authority_end = rest.find(['/', '?', '#']).unwrap_or(rest.len());
    let (authority, path) = rest.split_at(authority_end);
    match authority.rfind('@') {
        Some(at) => format!("{scheme}://{}{path}", &authority[at + 1..]),
        None => id.to_string(),
    }
}

/// The same JSON with every object's members sorted by key.
pub(crate) fn canonical(v: &Value) -> Value {
    match v {
        Value::Object(m) => {
            // Keys are unique: sorting them alone (with the write path's `&str` sort) and
            // looking each up again gives the same order.
            let mut keys: Vec<&str> = m.keys().map(String::as_str).collect();
            keys.sort_unstable();
            Value::Object(keys.into_iter().map(|k| (k.to_string(), canonical(&m[k]))).collect())
        }
        Value::Array(items) => Value::Array(items.iter().map(canonical).collect()),
        other => other.clone(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn the_id_is_32_hex_digits_and_stable() {
        let a = replication_id("a", "http://h/b", &Filter::None, None);
        assert_eq!(a.len(), 32);
        assert!(a.bytes().all(|b| b.is_ascii_hexdigit()));
        assert_eq!(a, replication_id("a", "http://h/b", &Filter::None, None));
    }

    #[test]
    fn direction_and_filters_change_the_id() {
        let base = replication_id("a", "b", &Filter::None, None);
        assert_ne!(base, replication_id("b", "a", &Filter::None, None));
        assert_ne!(base, replication_id("a", "b", &Filter::DocIds(vec!["x".into()]), None));
        assert_ne!(base, replication_id("a", "b", &Filter::Selector(json!({"t": 1})), None));
        assert_ne!(base, replication_id("a", "b", &Filter::None, Some("function(d){}")));
        let named = |q: Value| Filter::Named { name: "app/f".into(), query_params: q };
        assert_ne!(
            replication_id("a", "b", &named(json!({"k": 1})), None),
            replication_id("a", "b", &named(json!({"k": 2})), None)
        );
    }

    #[test]
    fn equivalent_filters_give_the_same_id() {
        let ids = |v: &[&str]| Filter::DocIds(v.iter().map(|s| s.to_string()).collect());
        assert_eq!(
            replication_id("a", "b", &ids(&["y", "x", "x"]), None),
            replication_id("a", "b", &ids(&["x", "y"]), None)
        );
        let s1: Value = serde_json::from_str(r#"{"a": 1, "b": {"d": 2, "c": 3}}"#).unwrap();
        let s2: Value = serde_json::from_str(r#"{"b": {"c": 3, "d": 2}, "a": 1}"#).unwrap();
        assert_eq!(
            replication_id("a", "b", &Filter::Selector(s1), None),
            replication_id("a", "b", &Filter::Selector(s2), None)
        );
    }

    #[test]
    fn credentials_are_stripped_and_do_not_change_the_id() {
        assert_eq!(strip_credentials("https://u:p@w@host:5984/db?x=1"), "https://host:5984/db?x=1");
        assert_eq!(strip_credentials("http://host/db"), "http://host/db");
        assert_eq!(strip_credentials("http://host/db/a@b"), "http://host/db/a@b");
        assert_eq!(strip_credentials("local-name"), "local-name");
        assert_eq!(
            replication_id("http://bob:secret@h/db", "x", &Filter::None, None),
            replication_id("http://bob:other@h/db", "x", &Filter::None, None)
        );
    }
}
