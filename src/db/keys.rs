//! The key layout of one database inside its ordered KV store. One byte of prefix per kind:
//!
//! | key | value |
//! |---|---|
//! | `d` id | `DocRecord`: latest seq, winning rev, rev tree, and the winning body (`record`) |
//! | `b` len(id) id rev | the JSON body of one revision (every revision that still has one) |
//! | `s` seq (u64 big-endian) | the id of the doc whose latest change has this seq |
//! | `l` id | a `_local` doc (no rev tree, never in changes or allDocs) |
//! | `m` name | metadata: update seq, doc count |
//! | `c` id | the conflict index: present only while the doc has `_conflicts` (see `conflicts`) |
//!
//! Ids are UTF-8, so `d` keys sort by code point, which is how CouchDB orders `_all_docs`.
//! Seqs are big-endian so that byte order is numeric order.

pub const DOC: u8 = b'd';
pub const BODY: u8 = b'b';
pub const SEQ: u8 = b's';
pub const LOCAL: u8 = b'l';
pub const META: u8 = b'm';
pub const CONFLICT: u8 = b'c';

pub fn doc(id: &str) -> Vec<u8> {
    prefixed(DOC, id.as_bytes())
}

pub fn local(id: &str) -> Vec<u8> {
    prefixed(LOCAL, id.as_bytes())
}

pub fn body(id: &str, rev: &str) -> Vec<u8> {
    let mut k = Vec::with_capacity(5 + id.len() + rev.len());
    k.push(BODY);
    k.extend_from_slice(&(id.len() as u32).to_be_bytes());
    k.extend_from_slice(id.as_bytes());
    k.extend_from_slice(rev.as_bytes());
    k
}

/// The conflict-index entry of a doc (`conflicts`).
pub fn conflict(id: &str) -> Vec<u8> {
    prefixed(CONFLICT, id.as_bytes())
}

pub fn seq(seq: u64) -> Vec<u8> {
    prefixed(SEQ, &seq.to_be_bytes())
}

pub fn meta(name: &str) -> Vec<u8> {
    prefixed(META, name.as_bytes())
}

/// The seq encoded in a `seq` key.
pub fn seq_of(key: &[u8]) -> Option<u64> {
    let bytes: [u8; 8] = key.get(1..9)?.try_into().ok()?;
    Some(u64::from_be_bytes(bytes))
}

/// The id in a `doc` (or `conflict`) key.
pub fn id_of(key: &[u8]) -> Option<&str> {
    std::str::from_utf8(key.get(1..)?).ok()
}

fn prefixed(prefix: u8, rest: &[u8]) -> Vec<u8> {
    let mut k = Vec::with_capacity(1 + rest.len());
    k.push(prefix);
    k.extend_from_slice(rest);
    k
}

// ---- Views and Mango indexes (`db::views`) ----
//
// | key | value |
// |---|---|
// | `V` view id | `ViewMeta` JSON: last indexed seq, row count, signature, owner |
// | `v` view id, `keycodec::with_doc_id(key, doc id)` | JSON array of the values emitted |
// | `w` view id, doc id | the encoded keys this doc emitted, each with its value count |
//
// A view id is 32 hex digits, so its rows are one key range and need no delimiter.

pub const VIEW_META: u8 = b'V';
pub const VIEW_ROW: u8 = b'v';
pub const VIEW_BACK: u8 = b'w';

pub fn view_meta(view: &str) -> Vec<u8> {
    prefixed(VIEW_META, view.as_bytes())
}

/// The prefix of every row of a view; a row key is this followed by the row's own key.
pub fn view_rows(view: &str) -> Vec<u8> {
    prefixed(VIEW_ROW, view.as_bytes())
}

pub fn view_back(view: &str, doc_id: &str) -> Vec<u8> {
    let mut k = prefixed(VIEW_BACK, view.as_bytes());
    k.extend_from_slice(doc_id.as_bytes());
    k
}

/// The prefix of a view's back-index keys.
pub fn view_backs(view: &str) -> Vec<u8> {
    prefixed(VIEW_BACK, view.as_bytes())
}

// ---- Attachment data (`db::attachments`) ----
//
// | key | value |
// |---|---|
// | `A` digest (`md5-<base64>`) | the attachment's raw bytes, once per digest per database |
//
// Rev bodies hold stubs naming the digest; `compact` sweeps digests no body names.

pub const ATTACHMENT: u8 = b'A';

pub fn attachment(digest: &str) -> Vec<u8> {
    prefixed(ATTACHMENT, digest.as_bytes())
}

/// The digest in an `attachment` key.
pub fn digest_of(key: &[u8]) -> Option<&str> {
    std::str::from_utf8(key.get(1..)?).ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn seq_keys_sort_numerically() {
        assert!(seq(9) < seq(10));
        assert!(seq(255) < seq(256));
        assert_eq!(seq_of(&seq(123_456)), Some(123_456));
    }

    #[test]
    fn doc_keys_sort_by_code_point() {
        assert!(doc("B") < doc("a"));
        assert!(doc("z") < doc("é"));
        assert_eq!(id_of(&doc("é")), Some("é"));
    }
}
