//! Attachments in a replication batch: which stubs need data sent, fetching it, and checking
//! it.
//!
//! - Docs travel as stubs. Data is fetched only for stubs the target lacks: a local target
//!   says which digests it holds; a remote one cannot, so a stub gets data when its `revpos`
//!   is above every `possible_ancestor` the target reported for that doc (CouchDB's
//!   `atts_since` rule: an ancestor the target has already carried that attachment).
//! - Each digest is fetched once per batch, however many docs share it.
//! - Fetched data must match the stub's digest. A mismatch (or an attachment the source no
//!   longer has) fails that doc alone; nothing of it is written.
//! - A CouchDB text attachment stored gzipped (`encoding` in the stub, which CouchDB only
//!   adds when asked with `att_encoding_info=true`) has a digest of the gzipped bytes, while a
//!   fetch returns them decoded (the browser sends `Accept-Encoding: gzip` and decodes). Its
//!   data is checked by the stub's `length` (the decoded size), and its stub is rewritten to
//!   the digest and length of the decoded data, which is what gets stored: the same md5 that
//!   PouchDB computes for it, and what a CouchDB that receives it checks the data against.
//!   When such a stub comes again with a later revision and an ancestor on the target already
//!   carried it, the target's stub of that ancestor gives the decoded digest
//!   (`Peer::stub_in_ancestor`), and nothing is fetched again.

use super::peer::{AttMap, AttRef, DocError, Peer, RevsDiff};
use crate::core::rev::Rev;
use crate::error::Result;
use serde_json::Value;
use std::collections::HashSet;

/// Every stub with a digest in `docs`, in doc order.
pub fn stubs(docs: &[Value]) -> Vec<AttRef> {
    let mut out = Vec::new();
    for doc in docs {
        let (Some(id), Some(rev)) = (doc["_id"].as_str(), doc["_rev"].as_str()) else { continue };
        let Some(atts) = doc.get("_attachments").and_then(Value::as_object) else { continue };
        for (name, att) in atts {
            let Some(digest) = att.get("digest").and_then(Value::as_str) else { continue };
            out.push(AttRef {
                id: id.to_string(),
                rev: rev.to_string(),
                name: name.clone(),
                digest: digest.to_string(),
                revpos: att.get("revpos").and_then(Value::as_u64).unwrap_or(0),
                encoded: att.get("encoding").is_some_and(|e| !e.is_null()),
                length: att.get("length").and_then(Value::as_u64),
            });
        }
    }
    out
}

/// Whether the target may lack `att` judging by its ancestors of the doc (remote targets).
pub fn beyond_ancestors(att: &AttRef, diff: &RevsDiff) -> bool {
    let newest_ancestor = diff
        .get(&att.id)
        .into_iter()
        .flat_map(|m| &m.possible_ancestors)
        .filter_map(|r| r.parse::<Rev>().ok())
        .map(|r| r.pos)
        .max();
    newest_ancestor.is_none_or(|pos| att.revpos > pos)
}

/// Rewrites the stubs named `digest` to `new_digest` and `length`, without `encoding`.
pub fn redigest(docs: &mut [Value], digest: &str, new_digest: &str, length: u64) {
    for doc in docs {
        let Some(atts) = doc.get_mut("_attachments").and_then(Value::as_object_mut) else { continue };
        for att in atts.values_mut() {
            if att.get("digest").and_then(Value::as_str) == Some(digest) {
                att["digest"] = new_digest.into();
                att["length"] = length.into();
                if let Some(a) = att.as_object_mut() {
                    a.remove("encoding");
                    a.remove("encoded_length");
                }
            }
        }
    }
}

/// A doc that cannot be written because of one of its attachments.
fn failure(att: &AttRef, status: u16, error: &str, reason: String) -> DocError {
    DocError { id: att.id.clone(), rev: Some(att.rev.clone()), status, error: error.into(), reason }
}

/// The data `docs` need on `target`, fetched from `source` and checked. Docs whose data
/// could not be had come back as failures (the caller drops them); `docs` may get their
/// stubs rewritten (see the module doc). `all` skips the target check: every stub gets data.
pub async fn fetch(
    source: &dyn Peer,
    target: &dyn Peer,
    docs: &mut [Value],
    diff: &RevsDiff,
    all: bool,
) -> Result<(AttMap, Vec<DocError>)> {
    let mut data = AttMap::new();
    let mut failures = Vec::new();
    let mut seen = HashSet::new();
    let refs: Vec<AttRef> = stubs(docs).into_iter().filter(|a| seen.insert(a.digest.clone())).collect();
    if refs.is_empty() {
        return Ok((data, failures));
    }
    let wanted: Vec<&AttRef> = if all {
        refs.iter().collect()
    } else {
        let digests: Vec<String> = refs.iter().map(|a| a.digest.clone()).collect();
        match target.has_attachments(&digests).await? {
            Some(have) => refs.iter().zip(have).filter(|(_, h)| !h).map(|(a, _)| a).collect(),
            None => refs.iter().filter(|a| beyond_ancestors(a, diff)).collect(),
        }
    };
    let mut fetch_list = Vec::with_capacity(wanted.len());
    for att in wanted {
        if att.encoded && !beyond_ancestors(att, diff) {
            // A gzipped stub an ancestor on the target already carried: that ancestor's stub
            // names the decoded data the target holds, so nothing needs fetching.
            let ancestors = diff.get(&att.id).map(|m| m.possible_ancestors.as_slice()).unwrap_or_default();
            if let Some((digest, length)) = target.stub_in_ancestor(&att.id, ancestors, &att.name).await? {
                if att.length.is_none_or(|l| l == length) {
                    redigest(docs, &att.digest, &digest, length);
                    continue;
                }
            }
        }
        fetch_list.push(att);
    }
    for att in fetch_list {
        let got = match source.get_attachment(att).await {
            Ok(d) => d,
            Err(e) if e.status == 404 => {
                failures.push(failure(att, 404, "not_found", format!("attachment {} is gone", att.name)));
                continue;
            }
            Err(e) => return Err(e),
        };
        let actual = got.digest().await?;
        if att.encoded && att.length.is_some_and(|l| l != got.len()) {
            let reason = format!(
                "attachment {} has {} bytes once decoded, its stub says {}",
                att.name,
                got.len(),
                att.length.unwrap_or_default()
            );
            failures.push(failure(att, 400, "bad_digest", reason));
            continue;
        } else if att.encoded {
            redigest(docs, &att.digest, &actual, got.len());
        } else if actual != att.digest {
            let reason = format!("attachment {} does not match its digest {}", att.name, att.digest);
            failures.push(failure(att, 400, "bad_digest", reason));
            continue;
        }
        data.insert(actual, got);
    }
    Ok((data, failures))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::replicate::peer::MissingRevs;
    use serde_json::json;

    fn att(revpos: u64) -> AttRef {
        AttRef {
            id: "a".into(),
            rev: "3-x".into(),
            name: "f".into(),
            digest: "md5-1".into(),
            revpos,
            encoded: false,
            length: None,
        }
    }

    #[test]
    fn stubs_are_listed_with_their_doc_and_revpos() {
        let docs = [
            json!({"_id": "a", "_rev": "2-x", "_attachments": {
                "f": {"digest": "md5-1", "revpos": 2, "stub": true},
                "g": {"digest": "md5-2", "revpos": 1, "stub": true, "encoding": "gzip"},
            }}),
            json!({"_id": "b", "_rev": "1-y"}),
        ];
        let s = stubs(&docs);
        assert_eq!(s.len(), 2);
        assert_eq!((s[0].name.as_str(), s[0].revpos, s[0].encoded), ("f", 2, false));
        assert!(s[1].encoded);
    }

    #[test]
    fn a_remote_target_gets_data_only_for_attachments_newer_than_its_ancestors() {
        let mut diff = RevsDiff::new();
        assert!(beyond_ancestors(&att(1), &diff), "no ancestors: everything is new");
        diff.insert(
            "a".into(),
            MissingRevs { missing: vec!["3-x".into()], possible_ancestors: vec!["2-q".into()] },
        );
        assert!(!beyond_ancestors(&att(2), &diff));
        assert!(beyond_ancestors(&att(3), &diff));
    }

    #[test]
    fn a_gzipped_stub_takes_the_digest_of_the_decoded_data() {
        let mut docs = [
            json!({"_attachments": {"t": {"digest": "md5-gz", "length": 9, "encoding": "gzip", "encoded_length": 5}}}),
        ];
        redigest(&mut docs, "md5-gz", "md5-plain", 20);
        assert_eq!(docs[0]["_attachments"]["t"], json!({"digest": "md5-plain", "length": 20}));
    }
}
