//! Attachments: `_attachments` entries turned into stubs plus content-addressed data.
//!
//! - A rev body never holds attachment data, only stubs:
//!   `{content_type, digest: "md5-<base64>", length, revpos, stub: true}`.
//! - The data lives once per database in the store's `BlobStore`, by digest, whichever docs
//!   and revs refer to it, so an edit that keeps an attachment as a stub stores nothing again,
//!   and two docs with the same bytes share one copy (see `attachment_data` for the store side).
//!
//! Everything here is pure: it runs before the write lock and while planning.

use super::doc::ParsedDoc;
use crate::error::{Error, Result};
pub use crate::kv::blobs::digest_of;
use crate::kv::blobs::AttData;
use base64::engine::general_purpose::STANDARD;
use base64::Engine;
use serde_json::{json, Map, Value};
use std::borrow::Cow;

pub const FIELD: &str = "_attachments";

/// Attachment data a doc brings: base64 in `put`, a `Blob` from `putAttachment`, or data a
/// replication fetched for a stub. `digest` has been checked against the data.
#[derive(Debug, Clone)]
pub struct NewAttachment {
    pub name: String,
    pub digest: String,
    pub data: AttData,
}

pub fn missing_stub(name: &str) -> Error {
    Error::new(412, "missing_stub", format!("Missing attachment stub: {name}"))
        .with_reason("Missing attachment stub")
}

/// A replicated doc with a stub whose data is neither stored nor sent along.
pub fn missing_stub_data(doc: &ParsedDoc) -> Error {
    let id = doc.id.as_deref().unwrap_or_default();
    Error::new(412, "missing_stub", format!("Missing attachment data for a stub of doc {id}"))
        .with_reason("Missing attachment stub")
}

/// CouchDB reserves attachment names starting with `_` (PouchDB #3357 follows it).
pub fn check_name(name: &str) -> Result<()> {
    if name.starts_with('_') {
        return Err(Error::bad_request(format!("Attachment name can't start with '_': {name}")));
    }
    Ok(())
}

fn bad(what: &str) -> Error {
    Error::bad_request(format!("Bad _attachments: {what}"))
}

/// Replaces inline `data` with a stub and records the bytes in `doc.new_attachments`. Stubs
/// given by the caller stay for `resolve`. Any malformed entry fails the whole doc.
pub fn extract(doc: &mut ParsedDoc) -> Result<()> {
    let Some(atts) = doc.body.get_mut(FIELD) else { return Ok(()) };
    let Value::Object(atts) = atts else { return Err(bad("must be an object")) };
    for (name, entry) in atts.iter_mut() {
        check_name(name)?;
        let Value::Object(e) = entry else { return Err(bad("each attachment must be an object")) };
        if e.get("stub") == Some(&Value::Bool(true)) {
            continue;
        }
        let data = match e.get("data") {
            Some(Value::String(s)) => STANDARD
                .decode(s.as_bytes())
                .map_err(|_| Error::bad_request("Attachment is not a valid base64 string"))?,
            _ => return Err(bad("an attachment needs base64 `data` or `stub: true`")),
        };
        let content_type = match e.get("content_type") {
            None | Some(Value::Null) => "application/octet-stream".to_string(),
            Some(Value::String(s)) => s.clone(),
            Some(_) => return Err(bad("content_type must be a string")),
        };
        let revpos = e.get("revpos").cloned().unwrap_or(Value::Null);
        let new = NewAttachment { name: name.clone(), digest: digest_of(&data), data: AttData::bytes(data) };
        *entry = stub(&content_type, &new.digest, new.data.len(), revpos);
        doc.new_attachments.push(new);
    }
    Ok(())
}

pub(super) fn stub(content_type: &str, digest: &str, length: u64, revpos: Value) -> Value {
    json!({"content_type": content_type, "digest": digest, "length": length, "revpos": revpos, "stub": true})
}

/// Whether the doc keeps attachments as stubs that must be found in its parent revision.
pub fn has_stubs(doc: &ParsedDoc) -> bool {
    let Some(Value::Object(atts)) = doc.body.get(FIELD) else { return false };
    atts.keys().any(|n| !doc.new_attachments.iter().any(|a| &a.name == n))
}

/// Whether the doc's body has an `_attachments` member (only then does `resolve` look at the
/// parent's body).
pub fn has_field(doc: &ParsedDoc) -> bool {
    doc.body.contains_key(FIELD)
}

/// The body to store for an edit creating revision `pos`: new attachments get `revpos = pos`,
/// and stubs take their entry from `parent` (matched by name, and by digest when given).
/// Borrows the body unchanged when it has no attachments (the common case: no copy).
pub fn resolve<'a>(
    doc: &'a ParsedDoc,
    parent: Option<&Map<String, Value>>,
    pos: u64,
) -> Result<Cow<'a, Map<String, Value>>> {
    if !doc.body.contains_key(FIELD) {
        return Ok(Cow::Borrowed(&doc.body));
    }
    let mut body = doc.body.clone();
    let Some(Value::Object(atts)) = body.get_mut(FIELD) else { return Ok(Cow::Owned(body)) };
    let parent_atts = parent.and_then(|p| p.get(FIELD)).and_then(Value::as_object);
    for (name, entry) in atts.iter_mut() {
        if doc.new_attachments.iter().any(|a| &a.name == name) {
            // Data sent again unchanged (a doc read with `attachments: true`) keeps its revpos.
            let same =
                parent_atts.and_then(|p| p.get(name)).filter(|p| p.get("digest") == entry.get("digest"));
            entry["revpos"] = same.and_then(|p| p.get("revpos")).cloned().unwrap_or(pos.into());
            continue;
        }
        let from_parent = parent_atts.and_then(|p| p.get(name)).filter(|p| {
            entry.get("digest").is_none_or(|d| p.get("digest") == Some(d)) && p.get("digest").is_some()
        });
        *entry = from_parent.cloned().ok_or_else(|| missing_stub(name))?;
    }
    Ok(Cow::Owned(body))
}

/// For a replicated revision: stubs are kept as the source sent them (the write checks that
/// their data is stored or comes along); new attachments without a `revpos` get the
/// revision's own.
pub fn fill_revpos(doc: &ParsedDoc, pos: u64) -> Cow<'_, Map<String, Value>> {
    if doc.new_attachments.is_empty() {
        return Cow::Borrowed(&doc.body);
    }
    let mut body = doc.body.clone();
    if let Some(Value::Object(atts)) = body.get_mut(FIELD) {
        for a in &doc.new_attachments {
            if let Some(e) = atts.get_mut(&a.name) {
                if e.get("revpos").is_none_or(|r| !r.is_u64()) {
                    e["revpos"] = pos.into();
                }
            }
        }
    }
    Cow::Owned(body)
}

/// The digests a stored body (JSON object bytes) refers to.
pub fn digests_in(body: &[u8]) -> Vec<String> {
    let Ok(Value::Object(map)) = serde_json::from_slice::<Value>(body) else { return Vec::new() };
    stub_digests(&map).into_iter().map(|(_, d)| d.to_string()).collect()
}

/// `(name, digest)` of every entry of a body's `_attachments` that names a digest.
pub fn stub_digests(body: &Map<String, Value>) -> Vec<(&str, &str)> {
    let Some(Value::Object(atts)) = body.get(FIELD) else { return Vec::new() };
    atts.iter().filter_map(|(n, a)| Some((n.as_str(), a.get("digest")?.as_str()?))).collect()
}

/// The stubs of a replicated doc whose data must already be stored: those it brings no data
/// for.
pub fn stubs_needing_data(doc: &ParsedDoc) -> Vec<&str> {
    stub_digests(&doc.body)
        .into_iter()
        .filter(|(n, _)| !doc.new_attachments.iter().any(|a| a.name == *n))
        .map(|(_, d)| d)
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::db::doc::parse_doc;

    fn parsed(v: Value) -> ParsedDoc {
        let mut d = parse_doc(v).unwrap();
        extract(&mut d).unwrap();
        d
    }

    #[test]
    fn inline_data_becomes_a_stub_and_bytes_on_the_side() {
        let d = parsed(
            json!({"_id": "a", "_attachments": {"t.txt": {"content_type": "text/plain", "data": "aGVsbG8="}}}),
        );
        assert_eq!(d.new_attachments.len(), 1);
        assert_eq!(futures::executor::block_on(d.new_attachments[0].data.to_vec()).unwrap(), b"hello");
        let e = &d.body[FIELD]["t.txt"];
        assert_eq!(e["stub"], true);
        assert_eq!(e["length"], 5);
        assert!(e.get("data").is_none());
    }

    #[test]
    fn malformed_base64_and_shapes_are_bad_requests() {
        for v in [
            json!({"_attachments": {"x": {"content_type": "a/b", "data": "%%%"}}}),
            json!({"_attachments": []}),
            json!({"_attachments": {"x": 1}}),
            json!({"_attachments": {"x": {"content_type": "a/b"}}}),
            json!({"_attachments": {"x": {"content_type": 5, "data": ""}}}),
        ] {
            let mut d = parse_doc(v.clone()).unwrap();
            assert_eq!(extract(&mut d).unwrap_err().status, 400, "{v}");
        }
    }

    #[test]
    fn a_stub_takes_its_entry_from_the_parent_and_new_data_gets_the_new_revpos() {
        let parent = json!({"_attachments": {"old": {"content_type": "a/b", "digest": "md5-x", "length": 1, "revpos": 1, "stub": true}}});
        let d = parsed(
            json!({"_attachments": {"old": {"stub": true}, "new": {"content_type": "c/d", "data": "AA=="}}}),
        );
        assert!(has_stubs(&d));
        let body = resolve(&d, parent.as_object(), 2).unwrap();
        assert_eq!(body[FIELD]["old"], parent[FIELD]["old"]);
        assert_eq!(body[FIELD]["new"]["revpos"], 2);
    }

    #[test]
    fn data_sent_again_unchanged_keeps_the_parents_revpos() {
        let first = parsed(json!({"_attachments": {"a": {"content_type": "c/d", "data": "AA=="}}}));
        let parent = resolve(&first, None, 1).unwrap();
        let again = parsed(json!({"_attachments": {"a": {"content_type": "c/d", "data": "AA=="}}}));
        assert_eq!(resolve(&again, Some(&parent), 4).unwrap()[FIELD]["a"]["revpos"], 1);
        let changed = parsed(json!({"_attachments": {"a": {"content_type": "c/d", "data": "AQ=="}}}));
        assert_eq!(resolve(&changed, Some(&parent), 4).unwrap()[FIELD]["a"]["revpos"], 4);
    }

    #[test]
    fn a_stub_without_a_matching_parent_attachment_is_missing_stub() {
        let parent = json!({"_attachments": {"old": {"digest": "md5-x", "stub": true}}});
        for v in [
            json!({"_attachments": {"other": {"stub": true}}}),
            json!({"_attachments": {"old": {"stub": true, "digest": "md5-y"}}}),
        ] {
            let e = resolve(&parsed(v), parent.as_object(), 2).unwrap_err();
            assert_eq!((e.status, e.name), (412, "missing_stub"));
        }
        let e = resolve(&parsed(json!({"_attachments": {"a": {"stub": true}}})), None, 1).unwrap_err();
        assert_eq!(e.status, 412);
    }
}
