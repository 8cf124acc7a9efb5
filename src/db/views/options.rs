//! `query` options, PouchDB's names, and the byte range of view rows they select.
//!
//! - `key` is `startkey = endkey = key`; `keys` is one range per key, in the order given.
//! - `descending` swaps the roles: `startkey` is then the high end, and `inclusive_end`
//!   applies to `endkey`, the low end. A start past the end (in the scan direction) is a 400
//!   `query_parse_error`, as PouchDB reports it.
//! - Without a doc id, a key bound covers every row of that key: rows are
//!   `encode(key) ++ doc id`, and `prefix_end(encode(key))` is above all of them.
//! - Key options are read raw, so that `null` is a key and not "absent".

use super::super::options::{bad, Opts};
use crate::core::collate::collate;
use crate::core::keycodec::{encode, prefix_end};
use crate::error::{Error, Result};
use crate::kv::{prefix_successor, Range};
use serde_json::Value;
use std::cmp::Ordering;
use std::ops::Bound;

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Stale {
    /// Update the index, then answer (the default).
    No,
    /// Answer from the index as it is.
    Ok,
    /// Answer from the index as it is, then update it.
    UpdateAfter,
}

#[derive(Debug, Clone)]
pub struct QueryOpts {
    pub keys: Option<Vec<Value>>,
    pub start: Option<Value>,
    pub end: Option<Value>,
    pub start_docid: Option<String>,
    pub end_docid: Option<String>,
    pub inclusive_end: bool,
    pub descending: bool,
    pub skip: u64,
    pub limit: Option<u64>,
    pub include_docs: bool,
    pub conflicts: bool,
    /// With `include_docs`: attachment data inlined as base64.
    pub attachments: bool,
    /// `None`: reduce when the view has a reduce.
    pub reduce: Option<bool>,
    pub group: bool,
    pub group_level: Option<usize>,
    pub update_seq: bool,
    pub stale: Stale,
}

pub fn query_parse_error(message: &str) -> Error {
    Error::new(400, "query_parse_error", message).with_reason(message)
}

/// An option that may be `null` (a key), told apart from one that is absent.
fn raw<'a>(options: &'a Value, names: &[&str]) -> Option<&'a Value> {
    names.iter().find_map(|n| options.get(n))
}

impl QueryOpts {
    pub fn parse(options: &Value) -> Result<QueryOpts> {
        let o = Opts::new(options)?;
        let stale = match o.str("stale")? {
            None => Stale::No,
            Some("ok") => Stale::Ok,
            Some("update_after") => Stale::UpdateAfter,
            Some(_) => return Err(bad("stale", "'ok' or 'update_after'")),
        };
        let update = match o.get("update") {
            None => None,
            Some(Value::Bool(b)) => Some(*b),
            Some(Value::String(s)) if s == "lazy" => Some(false),
            Some(_) => return Err(bad("update", "a boolean or 'lazy'")),
        };
        let stale = match update {
            Some(false) if stale == Stale::No => Stale::Ok,
            _ => stale,
        };
        let keys = match o.get("keys") {
            None => None,
            Some(Value::Array(items)) => Some(items.clone()),
            Some(_) => return Err(bad("keys", "an array")),
        };
        let mut q = QueryOpts {
            keys,
            start: raw(options, &["startkey", "start_key"]).cloned(),
            end: raw(options, &["endkey", "end_key"]).cloned(),
            start_docid: o.str_alias("startkey_docid", "start_key_doc_id")?.map(str::to_string),
            end_docid: o.str_alias("endkey_docid", "end_key_doc_id")?.map(str::to_string),
            inclusive_end: o.bool_or("inclusive_end", true)?,
            descending: o.bool("descending")?,
            skip: o.count("skip")?.unwrap_or(0),
            limit: o.count("limit")?,
            include_docs: o.bool("include_docs")?,
            conflicts: o.bool("conflicts")?,
            attachments: o.bool("attachments")?,
            reduce: o.has("reduce").then(|| o.bool("reduce")).transpose()?,
            group: o.bool("group")?,
            group_level: o.count("group_level")?.map(|n| n as usize),
            update_seq: o.bool("update_seq")?,
            stale,
        };
        if let Some(key) = raw(options, &["key"]) {
            q.start = Some(key.clone());
            q.end = Some(key.clone());
            q.inclusive_end = true;
        }
        if q.keys.is_some() && (q.start.is_some() || q.end.is_some()) {
            return Err(query_parse_error("`keys` is incompatible with `key`, `startkey` and `endkey`"));
        }
        if let (Some(s), Some(e)) = (&q.start, &q.end) {
            let backwards = if q.descending { Ordering::Less } else { Ordering::Greater };
            if collate(s, e) == backwards {
                return Err(query_parse_error(
                    "No rows can match your key range, reverse your start_key and end_key or set \
                     {descending : true}",
                ));
            }
        }
        Ok(q)
    }

    /// The byte range of rows under `prefix` (a view's rows) that the range options select,
    /// in ascending bounds whatever the scan direction.
    pub fn range(&self, prefix: &[u8]) -> Range {
        let (lo, lo_id, lo_incl, hi, hi_id, hi_incl) = if self.descending {
            (&self.end, &self.end_docid, self.inclusive_end, &self.start, &self.start_docid, true)
        } else {
            (&self.start, &self.start_docid, true, &self.end, &self.end_docid, self.inclusive_end)
        };
        let full = Range::prefix(prefix);
        let with = |bytes: Vec<u8>| [prefix, &bytes].concat();
        let start = match lo {
            None => full.start,
            Some(key) => {
                let enc = encode(key);
                match (lo_id, lo_incl) {
                    (Some(id), true) => Bound::Included(with([&enc, id.as_bytes()].concat())),
                    (Some(id), false) => Bound::Excluded(with([&enc, id.as_bytes()].concat())),
                    (None, true) => Bound::Included(with(enc)),
                    (None, false) => Bound::Included(with(prefix_end(&enc))),
                }
            }
        };
        let end = match hi {
            None => prefix_successor(prefix).map_or(Bound::Unbounded, Bound::Excluded),
            Some(key) => {
                let enc = encode(key);
                match (hi_id, hi_incl) {
                    (Some(id), true) => Bound::Included(with([&enc, id.as_bytes()].concat())),
                    (Some(id), false) => Bound::Excluded(with([&enc, id.as_bytes()].concat())),
                    (None, true) => Bound::Excluded(with(prefix_end(&enc))),
                    (None, false) => Bound::Excluded(with(enc)),
                }
            }
        };
        Range { start, end }
    }

    /// The rows of exactly one key.
    pub fn key_range(prefix: &[u8], key: &Value) -> Range {
        let enc = [prefix, &encode(key)].concat();
        Range { start: Bound::Included(enc.clone()), end: Bound::Excluded(prefix_end(&enc)) }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::core::keycodec::with_doc_id;
    use serde_json::json;

    fn inside(opts: Value, key: Value, id: &str) -> bool {
        let q = QueryOpts::parse(&opts).unwrap();
        q.range(b"P").contains(&[&b"P"[..], &with_doc_id(&key, id)].concat())
    }

    #[test]
    fn inclusive_end_false_drops_every_row_of_the_end_key() {
        let o = json!({"startkey": 1, "endkey": 3, "inclusive_end": false});
        assert!(inside(o.clone(), json!(2.5), "z") && !inside(o.clone(), json!(3), ""));
        let d = json!({"startkey": 3, "endkey": 1, "inclusive_end": false, "descending": true});
        assert!(inside(d.clone(), json!(3), "z") && !inside(d, json!(1), "z"));
    }

    #[test]
    fn doc_id_bounds_cut_inside_one_key() {
        let o = json!({"startkey": "k", "startkey_docid": "b", "endkey": "k", "endkey_docid": "c"});
        assert!(!inside(o.clone(), json!("k"), "a"));
        assert!(inside(o.clone(), json!("k"), "b") && inside(o.clone(), json!("k"), "c"));
        assert!(!inside(o, json!("k"), "d"));
    }

    #[test]
    fn a_null_key_is_a_key() {
        assert!(inside(json!({"key": null}), json!(null), "a"));
        assert!(!inside(json!({"key": null}), json!(false), "a"));
    }

    #[test]
    fn a_backwards_range_is_a_query_parse_error() {
        let e = QueryOpts::parse(&json!({"startkey": 2, "endkey": 1})).unwrap_err();
        assert_eq!((e.status, e.name), (400, "query_parse_error"));
        assert!(QueryOpts::parse(&json!({"startkey": 2, "endkey": 1, "descending": true})).is_ok());
    }
}
