//! `DocRecord`: what the `d` key of a doc holds.
//!
//! Two encodings; `encode` writes the second, `decode` reads both (no migration step: a record
//! is rewritten in the new one the next time its doc changes or `compact` rewrites it).
//!
//! 1. Original: a 4-byte little-endian length, the JSON of `{seq, tree}`, then the winning
//!    revision's body JSON verbatim.
//! 2. With a head: the same 4-byte length but with its top bit set (no original record has a
//!    2 GiB meta, so the bit tells them apart), then the head, then the tree's JSON (the
//!    length covers both), then the body as before. The head: varint seq; a flag byte (`1`:
//!    the winner is deleted; `2`: its hash is in the head; `4`: the tree has other leaves);
//!    varint winner pos (`0`: no winner); then where the winner's hash is — as varint offset and length of those bytes in
//!    the tree JSON, where they nearly always are already, verbatim; or as
//!    varint-length-prefixed text when they are not (a hash that JSON escapes).
//!
//! The head lets `allDocs` and `changes` (and anything else that needs only the winning rev, its
//! deleted flag, whether there are conflicts, and the body) read a record without parsing its
//! rev tree: see `RecordHead`. It costs a few
//! bytes (fewer than the original's `{"seq":…,"tree":…}` wrapper it replaces) because the hash
//! is not stored twice. It is always derived from the tree by `encode`, never set on its own,
//! so the two cannot disagree.
//!
//! The winner's body is stored only here (other revisions' bodies live under `b` keys), so a
//! new doc is written as one record plus its seq entry, and `allDocs` / `changes` with
//! `include_docs` read one record per doc, splicing the body bytes into the output without
//! parsing them. When the winner changes, `write` moves bodies between the two places.

use super::rev_ref::RevRef;
use crate::core::rev_tree::RevTree;
use crate::error::{Error, Result};
use crate::kv::lsm::varint::{self, Reader};
use serde::{Deserialize, Serialize};

/// Marks the second encoding in the leading length word.
const HEAD_BIT: u32 = 1 << 31;
const DELETED: u8 = 1;
const INLINE_HASH: u8 = 2;
const OTHER_LEAVES: u8 = 4;

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct DocMeta {
    pub seq: u64,
    pub tree: RevTree,
}

#[derive(Debug, Clone)]
pub struct DocRecord {
    pub meta: DocMeta,
    /// The winning revision's body (a JSON object), if it still has one.
    pub winner_body: Option<Vec<u8>>,
}

/// The parts of an encoded record that need no rev-tree parse, borrowed from its bytes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RecordHead<'a> {
    pub seq: u64,
    pub winner: RevRef<'a>,
    pub deleted: bool,
    /// The tree has leaves besides the winner (conflicts, deleted or not): for those, parse it.
    pub other_leaves: bool,
    /// The winner's body JSON, if it still has one.
    pub body: Option<&'a [u8]>,
}

/// A decoded head: the hash is still a place in the record.
struct Head {
    seq: u64,
    flags: u8,
    pos: u64,
    /// The hash's bytes in the record.
    hash: std::ops::Range<usize>,
    /// Where the tree JSON starts.
    tree_at: usize,
}

const NAME: &str = "doc record";

fn corrupt(what: &str) -> Error {
    Error::corruption(format!("{NAME}: {what}"))
}

/// Names the doc whose record is damaged: `corrupt doc record: …` becomes
/// `corrupt doc record for id "x": …` (decoders see only bytes; their callers know the id).
pub fn for_id(id: &str) -> impl Fn(Error) -> Error + '_ {
    move |mut e| {
        if let Some(rest) = e.message.strip_prefix("corrupt doc record").filter(|_| e.is_corruption()) {
            e.message = format!("corrupt {NAME} for id {}{rest}", serde_json::Value::from(id));
        }
        e
    }
}

impl DocRecord {
    pub fn encode(&self) -> Vec<u8> {
        let tree = serde_json::to_vec(&self.meta.tree).expect("rev trees serialise");
        let winner = self.meta.tree.winner_ref();
        let body = self.winner_body.as_deref().unwrap_or(b"");
        let mut out = Vec::with_capacity(4 + 24 + tree.len() + body.len());
        out.extend_from_slice(&[0; 4]); // the length word, filled in below
        varint::put(&mut out, self.meta.seq);
        let mut flags = if winner.is_some_and(|w| w.deleted) { DELETED } else { 0 };
        if self.meta.tree.leaf_count() > 1 {
            flags |= OTHER_LEAVES;
        }
        match winner {
            None => {
                out.push(flags);
                varint::put(&mut out, 0);
            }
            Some(w) => match find(&tree, w.hash.as_bytes()) {
                Some(at) => {
                    out.push(flags);
                    varint::put(&mut out, w.pos);
                    varint::put(&mut out, at as u64);
                    varint::put(&mut out, w.hash.len() as u64);
                }
                None => {
                    out.push(flags | INLINE_HASH);
                    varint::put(&mut out, w.pos);
                    varint::put_bytes(&mut out, w.hash.as_bytes());
                }
            },
        }
        out.extend_from_slice(&tree);
        let len =
            u32::try_from(out.len() - 4).ok().filter(|l| l & HEAD_BIT == 0).expect("doc meta under 2 GiB");
        out[..4].copy_from_slice(&(len | HEAD_BIT).to_le_bytes());
        out.extend_from_slice(body);
        out
    }

    pub fn decode(bytes: &[u8]) -> Result<DocRecord> {
        let (word, meta_end) = split(bytes)?;
        let meta = if word & HEAD_BIT == 0 {
            serde_json::from_slice(&bytes[4..meta_end]).map_err(|e| corrupt(&format!("meta: {e}")))?
        } else {
            let head = read_head(bytes, meta_end)?;
            let tree = serde_json::from_slice(&bytes[head.tree_at..meta_end])
                .map_err(|e| corrupt(&format!("rev tree: {e}")))?;
            DocMeta { seq: head.seq, tree }
        };
        let body = body_of(bytes, meta_end)?;
        Ok(DocRecord { meta, winner_body: (!body.is_empty()).then(|| body.to_vec()) })
    }
}

impl<'a> RecordHead<'a> {
    /// The head of a record in the second encoding; `None` for one in the original encoding
    /// (decode it whole instead) or for a doc with no revisions.
    pub fn read(bytes: &'a [u8]) -> Result<Option<RecordHead<'a>>> {
        let (word, meta_end) = split(bytes)?;
        if word & HEAD_BIT == 0 {
            return Ok(None);
        }
        let head = read_head(bytes, meta_end)?;
        if head.pos == 0 {
            return Ok(None);
        }
        let hash = std::str::from_utf8(&bytes[head.hash]).map_err(|_| corrupt("winner hash is not UTF-8"))?;
        let body = body_of(bytes, meta_end)?;
        Ok(Some(RecordHead {
            seq: head.seq,
            winner: RevRef::new(head.pos, hash),
            deleted: head.flags & DELETED != 0,
            other_leaves: head.flags & OTHER_LEAVES != 0,
            body: (!body.is_empty()).then_some(body),
        }))
    }
}

/// The body after the meta. Reads splice it into answers unparsed, and a body that is not
/// `{…}` would be dropped from them silently; checking both ends costs nothing and catches a
/// cut record (damage inside it shows up when an answer is built: `json::raw`).
fn body_of(bytes: &[u8], meta_end: usize) -> Result<&[u8]> {
    let body = &bytes[meta_end..];
    match (body.first(), body.last()) {
        (None, _) | (Some(b'{'), Some(b'}')) => Ok(body),
        _ => Err(corrupt(&format!("body at byte {meta_end} is not a JSON object"))),
    }
}

/// The leading length word and where the meta ends (the body starts).
fn split(bytes: &[u8]) -> Result<(u32, usize)> {
    let word = bytes.get(..4).and_then(|w| w.try_into().ok()).map(u32::from_le_bytes);
    let word = word.ok_or_else(|| corrupt(&format!("{} bytes, too short for a length", bytes.len())))?;
    let meta_end = 4 + (word & !HEAD_BIT) as usize;
    if meta_end > bytes.len() {
        return Err(corrupt(&format!("meta length {} past the end", meta_end - 4)));
    }
    Ok((word, meta_end))
}

fn read_head(bytes: &[u8], meta_end: usize) -> Result<Head> {
    read_head_fields(bytes, meta_end).map_err(|e| varint::name_record(e, &format!("{NAME}: head")))
}

fn read_head_fields(bytes: &[u8], meta_end: usize) -> Result<Head> {
    let past = || corrupt("head: winner hash past the tree");
    let mut r = Reader::new(&bytes[..meta_end], 4);
    let seq = r.varint()?;
    let flags = r.take(1)?[0];
    let pos = r.varint()?;
    let mut hash = 0..0;
    if pos > 0 && flags & INLINE_HASH != 0 {
        let len = r.len()?;
        let at = r.pos;
        r.take(len)?;
        hash = at..r.pos;
    } else if pos > 0 {
        let (at, len) = (r.len()?, r.len()?);
        hash = at..at.checked_add(len).ok_or_else(past)?;
    }
    let tree_at = r.pos;
    if flags & INLINE_HASH == 0 && pos > 0 {
        // The offset is into the tree JSON.
        hash = tree_at.checked_add(hash.start).ok_or_else(past)?
            ..tree_at.checked_add(hash.end).ok_or_else(past)?;
        if hash.end > meta_end {
            return Err(past());
        }
    }
    Ok(Head { seq, flags, pos, hash, tree_at })
}

/// Where `needle` occurs in `haystack`, searching from the end (a tree lists its revs oldest
/// first, and the winner is usually the newest).
fn find(haystack: &[u8], needle: &[u8]) -> Option<usize> {
    if needle.is_empty() || needle.len() > haystack.len() {
        return None;
    }
    let first = needle[0];
    (0..=haystack.len() - needle.len())
        .rev()
        .find(|&i| haystack[i] == first && haystack[i..].starts_with(needle))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::core::rev::Rev;

    fn rev(s: &str) -> Rev {
        Rev::parse(s).unwrap()
    }

    fn record(body: Option<&[u8]>) -> DocRecord {
        let mut tree = RevTree::new();
        tree.merge(&[rev("1-a")], false, 1000);
        tree.merge(&[rev("2-b"), rev("1-a")], false, 1000);
        tree.merge(&[rev("2-c"), rev("1-a")], true, 1000);
        DocRecord { meta: DocMeta { seq: 300, tree }, winner_body: body.map(<[u8]>::to_vec) }
    }

    /// The original encoding, as the previous version wrote it.
    fn encode_original(r: &DocRecord) -> Vec<u8> {
        let meta = serde_json::to_vec(&r.meta).unwrap();
        let mut out = (meta.len() as u32).to_le_bytes().to_vec();
        out.extend_from_slice(&meta);
        out.extend_from_slice(r.winner_body.as_deref().unwrap_or(b""));
        out
    }

    #[test]
    fn round_trips_and_the_head_names_the_winner() {
        for body in [Some(&br#"{"x":1}"#[..]), None] {
            let r = record(body);
            let bytes = r.encode();
            let back = DocRecord::decode(&bytes).unwrap();
            assert_eq!(back.meta.seq, 300);
            assert_eq!(back.meta.tree, r.meta.tree);
            assert_eq!(back.winner_body.as_deref(), body);
            let head = RecordHead::read(&bytes).unwrap().unwrap();
            let want = RecordHead {
                seq: 300,
                winner: RevRef::new(2, "b"),
                deleted: false,
                other_leaves: true,
                body,
            };
            assert_eq!(head, want);
        }
    }

    #[test]
    fn a_deleted_winner_is_flagged_in_the_head() {
        let mut tree = RevTree::new();
        tree.merge(&[rev("1-a")], false, 1000);
        tree.merge(&[rev("2-d"), rev("1-a")], true, 1000);
        let bytes = DocRecord { meta: DocMeta { seq: 7, tree }, winner_body: Some(b"{}".to_vec()) }.encode();
        let head = RecordHead::read(&bytes).unwrap().unwrap();
        assert_eq!((head.winner, head.deleted, head.other_leaves), (RevRef::new(2, "d"), true, false));
    }

    #[test]
    fn original_records_still_decode_and_have_no_head() {
        let r = record(Some(br#"{"x":1}"#));
        let bytes = encode_original(&r);
        assert_eq!(RecordHead::read(&bytes).unwrap(), None);
        let back = DocRecord::decode(&bytes).unwrap();
        assert_eq!((back.meta.seq, &back.meta.tree), (300, &r.meta.tree));
        assert_eq!(back.winner_body.as_deref(), Some(&br#"{"x":1}"#[..]));
    }

    #[test]
    fn a_hash_json_escapes_is_kept_in_the_head() {
        let mut tree = RevTree::new();
        tree.merge(&[rev("1-a\"b\\c")], false, 1000);
        let r = DocRecord { meta: DocMeta { seq: 1, tree: tree.clone() }, winner_body: Some(b"{}".to_vec()) };
        let bytes = r.encode();
        assert_eq!(RecordHead::read(&bytes).unwrap().unwrap().winner, RevRef::new(1, "a\"b\\c"));
        assert_eq!(DocRecord::decode(&bytes).unwrap().meta.tree, tree);
    }

    #[test]
    fn the_head_costs_less_than_the_wrapper_it_replaces() {
        let mut tree = RevTree::new();
        tree.merge(&[rev("1-0123456789abcdef0123456789abcdef")], false, 1000);
        let r = DocRecord { meta: DocMeta { seq: 9_999, tree }, winner_body: Some(b"{}".to_vec()) };
        assert!(r.encode().len() < encode_original(&r).len(), "{} bytes", r.encode().len());
    }

    #[test]
    fn a_hash_offset_past_the_tree_is_an_error() {
        let mut bytes = record(Some(b"{}")).encode();
        // seq 300 is two varint bytes, then the flags (other leaves) and pos 2: the offset follows.
        assert_eq!(bytes[4..8], [0xAC, 0x02, 4, 2]);
        bytes[8] = 0x7F;
        let e = RecordHead::read(&bytes).unwrap_err();
        assert_eq!(
            (e.name, e.message.as_str()),
            ("corruption", "corrupt doc record: head: winner hash past the tree")
        );
        assert_eq!(
            for_id("x")(e).message,
            r#"corrupt doc record for id "x": head: winner hash past the tree"#
        );
    }

    #[test]
    fn a_huge_inline_hash_length_is_a_corruption_error_not_an_overflow() {
        let mut meta = vec![0, INLINE_HASH, 1]; // seq 0, flags, winner pos 1
        varint::put(&mut meta, u64::MAX); // the hash's length
        let mut bytes = (meta.len() as u32 | HEAD_BIT).to_le_bytes().to_vec();
        bytes.extend_from_slice(&meta);
        let e = RecordHead::read(&bytes).unwrap_err();
        assert!(e.is_corruption() && e.message.starts_with("corrupt doc record: head: length"), "{e:?}");
    }

    #[test]
    fn a_cut_body_is_a_corruption_error_not_a_doc_without_fields() {
        let bytes = record(Some(br#"{"x":1}"#)).encode();
        let cut = &bytes[..bytes.len() - 1];
        for e in [DocRecord::decode(cut).unwrap_err(), RecordHead::read(cut).unwrap_err()] {
            assert!(e.is_corruption() && e.message.ends_with("is not a JSON object"), "{e:?}");
        }
    }

    #[test]
    fn truncated_records_are_errors_not_panics() {
        let bytes = record(Some(b"{}")).encode();
        for n in [0, 3, 5, 8] {
            assert!(DocRecord::decode(&bytes[..n]).is_err(), "{n}");
            assert!(RecordHead::read(&bytes[..n]).is_err(), "{n}");
        }
    }
}
