//! Turning a user's JSON doc into its parts, with CouchDB's validation rules.
//!
//! - `_id` is a non-empty string; ids starting with `_` are reserved except `_design/` and
//!   `_local/`.
//! - `_rev` must parse as `N-hash`; `_deleted` must be a boolean.
//! - `_revisions` (`{start, ids}`) is only meaningful with `new_edits: false`.
//! - `_attachments` stays in the body (`attachments::extract` turns inline data into stubs); `_conflicts`, `_deleted_conflicts`, `_revs_info` and
//!   `_local_seq` are read-only metadata and dropped on write, as CouchDB does.
//! - Any other top-level `_` member is a 400 `doc_validation` error.

use super::attachments::NewAttachment;
use crate::core::rev::Rev;
use crate::error::{Error, Result};
use serde_json::{Map, Value};

#[derive(Debug, Clone)]
pub struct ParsedDoc {
    pub id: Option<String>,
    pub rev: Option<Rev>,
    /// A `_local/` doc's rev, `0-N`: just N.
    pub local_rev: Option<u64>,
    pub deleted: bool,
    /// `_revisions` as a path of revs, newest first.
    pub revisions: Option<Vec<Rev>>,
    /// Everything that is stored as the revision's body.
    pub body: Map<String, Value>,
    /// Attachment bytes given inline, moved out of `body` by `attachments::extract`.
    pub new_attachments: Vec<NewAttachment>,
    /// Set by `doc_raw::parse_doc_text` instead of filling `body` (which stays empty): the
    /// body's JSON, the bytes `serde_json::to_vec` would write for it. Never for a doc with
    /// `_attachments`, a `_local/` or a `_design/` id.
    pub raw_body: Option<Vec<u8>>,
    /// Written by replication into this database (`bulk_docs_replicated`), not by the app: a
    /// design doc that came this way is not trusted to validate (see `validate`).
    pub from_peer: bool,
}

impl ParsedDoc {
    /// The body's JSON, as stored and hashed.
    pub fn body_json(&self) -> Vec<u8> {
        match &self.raw_body {
            Some(bytes) => bytes.clone(),
            None => serde_json::to_vec(&self.body).expect("bodies serialise"),
        }
    }
}

const READ_ONLY: [&str; 4] = ["_conflicts", "_deleted_conflicts", "_revs_info", "_local_seq"];

/// `_` members CouchDB keeps as ordinary body fields (its `_replicator` docs' state, and
/// `_access`), so PouchDB and CouchDB both accept them in any database.
pub(crate) const KEPT: [&str; 6] = [
    "_replication_id",
    "_replication_state",
    "_replication_state_time",
    "_replication_state_reason",
    "_replication_stats",
    "_access",
];

pub fn parse_doc(doc: Value) -> Result<ParsedDoc> {
    let Value::Object(mut map) = doc else { return Err(Error::not_an_object()) };
    let mut parsed = ParsedDoc {
        id: None,
        rev: None,
        local_rev: None,
        deleted: false,
        revisions: None,
        body: Map::new(),
        new_attachments: Vec::new(),
        raw_body: None,
        from_peer: false,
    };
    let mut rev_text = None;
    // The special members come out of the map in place, so the body is the user's map itself
    // (no second map, no re-hashing of its keys). `retain` keeps the order; the first error
    // in key order wins, as a plain loop would return it.
    let mut failed: Option<Error> = None;
    let mut revisions = None;
    map.retain(|key, value| {
        if failed.is_some() || !key.starts_with('_') || key == "_attachments" || KEPT.contains(&key.as_str())
        {
            return true;
        }
        let outcome = match key.as_str() {
            "_id" => match value.take() {
                Value::String(id) => validate_id(&id).map(|()| parsed.id = Some(id)),
                other => parse_id(&other).map(drop),
            },
            "_rev" => match value.take() {
                Value::String(s) => {
                    rev_text = Some(s);
                    Ok(())
                }
                _ => Err(Error::invalid_rev("Invalid rev format")),
            },
            "_deleted" => match value {
                Value::Bool(b) => {
                    parsed.deleted = *b;
                    Ok(())
                }
                _ => Err(Error::bad_request("_deleted must be a boolean")),
            },
            // Kept aside: a `_local` doc has no rev history, so there it is ignored (PouchDB).
            "_revisions" => {
                revisions = Some(parse_revisions(value));
                Ok(())
            }
            k if READ_ONLY.contains(&k) => Ok(()),
            k => Err(Error::doc_validation(format!("Bad special document member: {k}"))),
        };
        if let Err(e) = outcome {
            failed = Some(e);
        }
        false
    });
    if let Some(e) = failed {
        return Err(e);
    }
    if !parsed.id.as_deref().is_some_and(is_local) {
        parsed.revisions = revisions.transpose()?;
    }
    parsed.body = map;
    if let Some(text) = rev_text {
        if parsed.id.as_deref().is_some_and(is_local) {
            let n = text.strip_prefix("0-").and_then(|n| n.parse().ok());
            // A `_local` doc's rev is `0-N`; any other rev names no version of it: that doc's
            // own 409, never a malformed batch (PouchDB's `bulkDocs` answers per doc here).
            parsed.local_rev = Some(n.ok_or_else(Error::conflict)?);
        } else {
            parsed.rev = Some(Rev::parse(&text)?);
        }
    }
    if let (Some(rev), Some(path)) = (&parsed.rev, &parsed.revisions) {
        if path.first() != Some(rev) {
            return Err(Error::bad_request("_rev does not match _revisions"));
        }
    }
    Ok(parsed)
}

pub fn parse_id(value: &Value) -> Result<String> {
    let Value::String(id) = value else {
        return Err(Error::bad_request("_id must be a string").with_reason("_id must be a string"));
    };
    validate_id(id)?;
    Ok(id.clone())
}

/// PouchDB's message for a `bulkDocs` without a list of docs (CouchDB's `_bulk_docs` says
/// "POST body must include `docs` parameter.").
pub const MISSING_DOCS: &str = "Missing JSON list of 'docs'";

pub const RESERVED_ID: &str = "Only reserved document ids may start with underscore.";

pub fn validate_id(id: &str) -> Result<()> {
    if id.is_empty() {
        return Err(Error::bad_request("_id must not be empty"));
    }
    if id.starts_with('_') && !id.starts_with("_design/") && !id.starts_with("_local/") {
        return Err(Error::bad_request(RESERVED_ID));
    }
    Ok(())
}

pub fn is_local(id: &str) -> bool {
    id.starts_with("_local/")
}

fn parse_revisions(value: &Value) -> Result<Vec<Rev>> {
    let bad = || Error::bad_request("_revisions must be {start: number, ids: [string]}");
    let start = value.get("start").and_then(Value::as_u64).filter(|s| *s > 0).ok_or_else(bad)?;
    let ids = value.get("ids").and_then(Value::as_array).ok_or_else(bad)?;
    if ids.is_empty() || ids.len() as u64 > start {
        return Err(bad());
    }
    ids.iter()
        .enumerate()
        .map(|(i, h)| {
            let hash = h.as_str().filter(|h| !h.is_empty()).ok_or_else(bad)?;
            Rev::parse(&format!("{}-{}", start - i as u64, hash))
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn a_plain_doc_keeps_its_fields_in_order() {
        let p = parse_doc(json!({"_id": "a", "z": 1, "a": 2})).unwrap();
        assert_eq!(p.id.as_deref(), Some("a"));
        assert_eq!(p.body.keys().collect::<Vec<_>>(), vec!["z", "a"]);
    }

    #[test]
    fn non_objects_are_bad_requests() {
        for v in [json!("x"), json!(1), json!([1]), Value::Null] {
            assert_eq!(parse_doc(v).unwrap_err().status, 400);
        }
    }

    #[test]
    fn reserved_ids_are_rejected_but_design_and_local_pass() {
        assert_eq!(parse_doc(json!({"_id": "_foo"})).unwrap_err().name, "bad_request");
        assert_eq!(parse_doc(json!({"_id": ""})).unwrap_err().name, "bad_request");
        assert_eq!(parse_doc(json!({"_id": 5})).unwrap_err().name, "bad_request");
        assert!(parse_doc(json!({"_id": "_design/x"})).is_ok());
        assert!(parse_doc(json!({"_id": "_local/x"})).is_ok());
    }

    #[test]
    fn unknown_underscore_fields_fail_validation() {
        let e = parse_doc(json!({"_id": "a", "_foo": 1})).unwrap_err();
        assert_eq!((e.status, e.name), (400, "doc_validation"));
    }

    #[test]
    fn the_first_bad_member_in_key_order_names_the_error() {
        let e = parse_doc(json!({"_id": 5, "_foo": 1})).unwrap_err();
        assert_eq!(e.name, "bad_request");
        let e = parse_doc(json!({"_foo": 1, "_id": 5})).unwrap_err();
        assert_eq!(e.name, "doc_validation");
    }

    #[test]
    fn special_members_leave_the_body_and_the_rest_keeps_its_order() {
        let p = parse_doc(json!({
            "b": 1, "_id": "x", "_rev": "1-a", "a": 2, "_deleted": false, "_conflicts": [],
            "_attachments": {}, "c": 3
        }))
        .unwrap();
        assert_eq!((p.id.as_deref(), p.rev.map(|r| r.to_string())), (Some("x"), Some("1-a".into())));
        assert_eq!(p.body.keys().collect::<Vec<_>>(), vec!["b", "a", "_attachments", "c"]);
    }

    #[test]
    fn malformed_revs_are_invalid_rev() {
        for r in ["abc", "1-", "-x", "0x-1"] {
            assert_eq!(parse_doc(json!({"_id": "a", "_rev": r})).unwrap_err().status, 400, "{r}");
        }
    }

    #[test]
    fn revisions_become_a_newest_first_path() {
        let p =
            parse_doc(json!({"_id": "a", "_rev": "3-c", "_revisions": {"start": 3, "ids": ["c", "b", "a"]}}))
                .unwrap();
        let path: Vec<String> = p.revisions.unwrap().iter().map(|r| r.to_string()).collect();
        assert_eq!(path, vec!["3-c", "2-b", "1-a"]);
    }
}
