//! Attachment requests to a remote database, as data (no IO).
//!
//! - Data comes one attachment at a time: `GET /db/{id}/{name}?rev=…`, answered raw.
//! - Data goes inline (base64 `data` in `_bulk_docs`) when a doc's share is small, and
//!   otherwise as one `multipart/related` `PUT /db/{id}?new_edits=false`: the JSON part names
//!   each attachment with `follows: true`, and the parts follow in the order of
//!   `_attachments`, each with a `Content-Disposition` filename (pouchdb-server matches
//!   parts by filename, CouchDB by order). The body is assembled from `Blob`s by the caller,
//!   so large data never sits in memory whole.

use super::url::{attachment_path, doc_path};
use crate::replicate::peer::AttRef;
use serde_json::Value;
use std::collections::HashMap;

use super::protocol::Call;

/// Above this much data, a doc goes as its own multipart request instead of inline base64.
pub const INLINE_MAX: u64 = 256 * 1024;

pub fn attachment_call(att: &AttRef) -> Call {
    Call {
        method: "GET",
        path: attachment_path(&att.id, &att.name),
        query: vec![("rev", att.rev.clone())],
        body: None,
    }
}

/// `PUT /db/{id}?new_edits=false` (its body is set by the caller).
pub fn put_replicated_call(id: &str) -> Call {
    Call { method: "PUT", path: doc_path(id), query: vec![("new_edits", "false".into())], body: None }
}

/// `(name, digest)` of the stubs of `doc` whose data is in `sent`, in `_attachments` order.
pub fn sent_stubs<'a, T>(doc: &'a Value, sent: &HashMap<String, T>) -> Vec<(&'a str, &'a str)> {
    let Some(atts) = doc.get("_attachments").and_then(Value::as_object) else { return Vec::new() };
    atts.iter()
        .filter_map(|(n, a)| Some((n.as_str(), a.get("digest")?.as_str()?)))
        .filter(|(_, d)| sent.contains_key(*d))
        .collect()
}

/// Turns the stubs named in `encoded` (name → base64) into inline data.
pub fn inline(doc: &mut Value, encoded: &HashMap<String, String>) {
    let Some(atts) = doc.get_mut("_attachments").and_then(Value::as_object_mut) else { return };
    for (name, att) in atts.iter_mut() {
        let (Some(data), Some(a)) = (encoded.get(name), att.as_object_mut()) else { continue };
        a.remove("stub");
        a.remove("length");
        a.insert("data".into(), data.clone().into());
    }
}

/// The JSON part of a multipart doc: the stubs in `follows` marked `follows: true`.
pub fn multipart_json(doc: &Value, follows: &[&str]) -> String {
    let mut doc = doc.clone();
    if let Some(atts) = doc.get_mut("_attachments").and_then(Value::as_object_mut) {
        for (name, att) in atts.iter_mut() {
            if let Some(a) = att.as_object_mut().filter(|_| follows.contains(&name.as_str())) {
                a.remove("stub");
                a.insert("follows".into(), true.into());
            }
        }
    }
    serde_json::to_string(&doc).expect("JSON serialises")
}

/// The headers opening one attachment part (after a boundary line).
pub fn part_head(name: &str, content_type: &str, length: u64) -> String {
    let quoted = name.replace('\\', "\\\\").replace('"', "\\\"");
    format!(
        "Content-Disposition: attachment; filename=\"{quoted}\"\r\nContent-Type: {content_type}\r\nContent-Length: {length}\r\n\r\n"
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn attachment_paths_encode_id_and_name_and_name_the_rev() {
        let att = AttRef {
            id: "a b".into(),
            rev: "2-x".into(),
            name: "dir/f.txt".into(),
            digest: "md5-1".into(),
            revpos: 1,
            encoded: false,
            length: None,
        };
        let c = attachment_call(&att);
        assert_eq!(c.path, "a%20b/dir%2Ff.txt");
        assert_eq!(c.query, vec![("rev", "2-x".to_string())]);
    }

    #[test]
    fn only_sent_stubs_become_inline_data_or_follow() {
        let doc = json!({"_id": "a", "_attachments": {
            "new": {"digest": "md5-n", "stub": true, "length": 3, "revpos": 2, "content_type": "a/b"},
            "old": {"digest": "md5-o", "stub": true, "length": 1, "revpos": 1},
        }});
        let sent: HashMap<String, ()> = [("md5-n".to_string(), ())].into();
        assert_eq!(sent_stubs(&doc, &sent), vec![("new", "md5-n")]);

        let mut inl = doc.clone();
        inline(&mut inl, &[("new".to_string(), "AAEC".to_string())].into());
        assert_eq!(
            inl["_attachments"]["new"],
            json!({"digest": "md5-n", "revpos": 2, "content_type": "a/b", "data": "AAEC"})
        );
        assert_eq!(inl["_attachments"]["old"]["stub"], true);

        let head: Value = serde_json::from_str(&multipart_json(&doc, &["new"])).unwrap();
        assert_eq!(head["_attachments"]["new"]["follows"], true);
        assert!(head["_attachments"]["new"].get("stub").is_none());
        assert_eq!(head["_attachments"]["old"]["stub"], true);
        assert!(part_head("q\"uote", "a/b", 3)
            .starts_with("Content-Disposition: attachment; filename=\"q\\\"uote\""));
    }
}
