//! `Peer`: everything replication asks of either side, local or remote.
//!
//! Rules every implementation keeps:
//! - Seqs are opaque (`Seq` wraps whatever JSON the peer sent: a number locally, a string on
//!   CouchDB 2+). They are stored and sent back verbatim; never compared for order.
//! - `changes` is always `style=all_docs` (every leaf rev), honours `limit` after filtering, and
//!   a page shorter than `limit` means "nothing more for now".
//! - `bulk_get` is `revs=true&latest=true`: each doc comes back with `_revisions`, and a rev
//!   superseded meanwhile resolves to its current leaves (so one request may yield several docs).
//! - `bulk_docs_replicated` is `new_edits: false` and answers only the per-doc failures, as
//!   CouchDB does; an `Err` means the whole request failed (nothing known to be written).
//! - `_local` checkpoint docs carry a `_rev`; `put_local` must name the current one.
//! - Attachments: `bulk_get` returns stubs only (never data). The replicator fetches the
//!   data the target lacks with `get_attachment`, checks it against the stub's digest, and
//!   hands it to `bulk_docs_replicated` by digest.
//! - `changes_with_docs` may also hand over bodies (`ChangesPage::docs`), but only those that
//!   are exactly what `bulk_get` would answer (see `prefetched_docs`); the replicator then
//!   skips `bulk_get` for them. A peer that cannot do so cheaply keeps the default (none).

use crate::error::Result;
use crate::kv::blobs::AttData;
use async_trait::async_trait;
use serde::{Deserialize, Serialize};
use serde_json::Value;
use std::collections::{BTreeMap, HashMap};

/// An update sequence as the peer gave it.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(transparent)]
pub struct Seq(pub Value);

impl Seq {
    /// The start of every feed: `0` is accepted by CouchDB, PouchDB and Settee alike.
    pub fn zero() -> Seq {
        Seq(Value::from(0))
    }

    /// Whether this is the seq of a database nothing was ever written to: `0`, or CouchDB 2+'s
    /// `"0-…"` (the leading number is the sum of the shards' seqs). Anything else, including
    /// seqs this cannot read, is not.
    pub fn is_origin(&self) -> bool {
        match &self.0 {
            Value::Number(n) => n.as_u64() == Some(0),
            Value::String(s) => s == "0" || s.starts_with("0-"),
            _ => false,
        }
    }
}

impl Default for Seq {
    fn default() -> Seq {
        Seq::zero()
    }
}

/// A peer's identity (stable across sessions, without credentials) and its current seq.
#[derive(Clone, Debug, PartialEq)]
pub struct PeerInfo {
    pub id: String,
    pub update_seq: Seq,
}

/// Which changes a replication follows. CouchDB allows one kind at a time.
#[derive(Clone, Debug, Default, PartialEq)]
pub enum Filter {
    #[default]
    None,
    DocIds(Vec<String>),
    /// A Mango selector (`filter=_selector`).
    Selector(Value),
    /// A design-doc filter function `ddoc/name` with its `query_params`.
    Named {
        name: String,
        query_params: Value,
    },
}

/// One row of a changes feed: a doc id and all its leaf revs.
#[derive(Clone, Debug, PartialEq)]
pub struct Change {
    pub id: String,
    pub seq: Seq,
    pub revs: Vec<String>,
    pub deleted: bool,
}

impl Change {
    /// A row of a `_changes` answer (`style=all_docs`), local or remote alike. A row without a
    /// `seq` (CouchDB's `seq_interval`) keeps `null`; only `last_seq` is checkpointed.
    pub fn from_row(row: &serde_json::Value) -> Option<Change> {
        use serde_json::Value;
        Some(Change {
            id: row.get("id")?.as_str()?.to_string(),
            seq: Seq(row.get("seq").cloned().unwrap_or(Value::Null)),
            revs: row
                .get("changes")?
                .as_array()?
                .iter()
                .filter_map(|c| c["rev"].as_str().map(str::to_string))
                .collect(),
            deleted: row.get("deleted").and_then(Value::as_bool).unwrap_or(false),
        })
    }
}

#[derive(Clone, Debug, Default, PartialEq)]
pub struct ChangesPage {
    pub results: Vec<Change>,
    pub last_seq: Seq,
    /// Changes left after this page, when the peer can tell.
    pub pending: Option<u64>,
    /// By id, bodies sent along with the rows (`changes_with_docs`), each exactly what
    /// `bulk_get` answers for the row's only rev (see `prefetched_docs`).
    pub docs: HashMap<String, Value>,
}

/// Moves out of `_changes` rows read with `include_docs` the bodies that can stand in for a
/// `bulk_get` answer (`revs=true&latest=true`), by id. A body qualifies only when
/// - its row lists one rev, of the first generation, not deleted, and the body is that rev:
///   its `_revisions` is then that rev alone, and `latest` has nothing to resolve;
/// - it has no `_attachments`: their stubs take the `bulk_get` way, which the attachment rules
///   were written against.
///
/// Other bodies are dropped; their revs are fetched as usual.
pub fn prefetched_docs(rows: &mut [Value]) -> HashMap<String, Value> {
    let mut out = HashMap::new();
    for row in rows {
        let Some(mut doc) = row.as_object_mut().and_then(|r| r.remove("doc")) else { continue };
        let revs = row["changes"].as_array().map(Vec::as_slice).unwrap_or_default();
        let [only] = revs else { continue };
        let (Some(id), Some(rev)) = (row["id"].as_str(), only["rev"].as_str()) else { continue };
        let Some(hash) = rev.strip_prefix("1-") else { continue };
        let deleted = row["deleted"].as_bool().unwrap_or(false) || doc["_deleted"].as_bool().unwrap_or(false);
        let usable = !deleted
            && doc["_id"].as_str() == Some(id)
            && doc["_rev"].as_str() == Some(rev)
            && doc.get("_attachments").is_none();
        if usable && !hash.is_empty() {
            doc["_revisions"] = serde_json::json!({"start": 1, "ids": [hash]});
            out.insert(id.to_string(), doc);
        }
    }
    out
}

/// `{id: [revs]}`, for `_revs_diff` requests.
pub type RevsByDoc = BTreeMap<String, Vec<String>>;

/// One doc of a `_revs_diff` answer: the revs the peer lacks, and revs of that doc it has
/// that may be their ancestors (so it holds the attachments they had).
#[derive(Clone, Debug, Default, PartialEq)]
pub struct MissingRevs {
    pub missing: Vec<String>,
    pub possible_ancestors: Vec<String>,
}

/// A `_revs_diff` answer; docs lacking nothing are left out.
pub type RevsDiff = BTreeMap<String, MissingRevs>;

/// A `RevsDiff` of `entries` (the last of equal ids wins, as with `collect`). Built by
/// inserting: `collect` into a `BTreeMap` sorts a `Vec` first, and compiles that sort again
/// for each iterator type (~5 kB of wasm each).
pub fn revs_diff_of(entries: impl IntoIterator<Item = (String, MissingRevs)>) -> RevsDiff {
    let mut out = RevsDiff::new();
    out.extend(entries);
    out
}

/// One attachment stub of a doc being replicated.
#[derive(Clone, Debug, PartialEq)]
pub struct AttRef {
    pub id: String,
    pub rev: String,
    pub name: String,
    pub digest: String,
    pub revpos: u64,
    /// CouchDB stores text attachments gzipped: their digest is of the gzipped bytes, which a
    /// fetch does not return, so the data cannot be checked against it.
    pub encoded: bool,
    /// The stub's `length`: the size of the decoded data, all an encoded one can be checked by.
    pub length: Option<u64>,
}

/// Attachment data by digest.
pub type AttMap = std::collections::HashMap<String, AttData>;

#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub struct RevRequest {
    pub id: String,
    pub rev: String,
}

/// A per-doc failure, in CouchDB's terms (`error` is the name: `forbidden`, `not_found`…).
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct DocError {
    pub id: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub rev: Option<String>,
    pub status: u16,
    pub error: String,
    pub reason: String,
}

impl DocError {
    /// Forbidden / unauthorized: a validation function said no. PouchDB reports these as
    /// `denied`; retrying cannot help.
    pub fn is_denied(&self) -> bool {
        matches!(self.error.as_str(), "forbidden" | "unauthorized") || matches!(self.status, 401 | 403)
    }
}

/// One answer of `bulk_get`.
#[derive(Clone, Debug, PartialEq)]
pub enum Fetched {
    Doc(Value),
    Error(DocError),
}

#[async_trait(?Send)]
pub trait Peer {
    async fn info(&self) -> Result<PeerInfo>;
    async fn changes(&self, since: &Seq, limit: usize, filter: &Filter) -> Result<ChangesPage>;
    /// `changes`, with the bodies of the rows that qualify (`prefetched_docs`) when the peer
    /// can send them along cheaply; asked when the target is expected to lack most revs.
    async fn changes_with_docs(&self, since: &Seq, limit: usize, filter: &Filter) -> Result<ChangesPage> {
        self.changes(since, limit, filter).await
    }
    /// The revs of `revs` this peer lacks; ids lacking nothing are left out.
    async fn revs_diff(&self, revs: &RevsByDoc) -> Result<RevsDiff>;
    async fn bulk_get(&self, revs: &[RevRequest]) -> Result<Vec<Fetched>>;
    /// Writes `new_edits: false`; `data` holds, by digest, attachment data the peer lacks for
    /// the docs' stubs.
    async fn bulk_docs_replicated(&self, docs: &[Value], data: &AttMap) -> Result<Vec<DocError>>;
    /// Which of `digests` this peer has data for, or `None` when it cannot say (a remote
    /// server): then the stubs its ancestors may not have get data (see `replicate::attachments`).
    async fn has_attachments(&self, digests: &[String]) -> Result<Option<Vec<bool>>>;
    /// The data of an attachment stub this peer sent.
    async fn get_attachment(&self, att: &AttRef) -> Result<AttData>;
    /// The stub `(digest, length)` of attachment `name` in the newest of `revs` (this peer's
    /// revisions of doc `id`) that has it; `None` when none does or the peer cannot say.
    /// Lets a gzipped stub from CouchDB, whose digest this peer never stores, be matched to
    /// the data an ancestor already brought (`attachments::fetch`).
    async fn stub_in_ancestor(&self, id: &str, revs: &[String], name: &str) -> Result<Option<(String, u64)>> {
        let _ = (id, revs, name);
        Ok(None)
    }
    /// A `_local/` doc, or `None` when there is none.
    async fn get_local(&self, id: &str) -> Result<Option<Value>>;
    /// Writes a `_local/` doc and returns its new `_rev`.
    async fn put_local(&self, doc: Value) -> Result<String>;
    /// Live replication: resolves once this peer has a change after `since` that `filter`
    /// lets through (or fails, e.g. on a network error). Dropping the future stops waiting.
    async fn wait_for_changes(&self, since: &Seq, filter: &Filter) -> Result<()> {
        let _ = (since, filter);
        Err(crate::error::Error::bad_request("this database cannot be followed live"))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn only_a_database_nothing_was_written_to_is_at_its_origin() {
        for seq in [json!(0), json!("0"), json!("0-g1AAAAB")] {
            assert!(Seq(seq.clone()).is_origin(), "{seq}");
        }
        for seq in [json!(1), json!("10-g1AAAAB"), json!("01"), json!(null), json!([0, "x"]), json!(-0.5)] {
            assert!(!Seq(seq.clone()).is_origin(), "{seq}");
        }
    }

    #[test]
    fn only_bodies_that_are_exactly_a_first_revision_stand_in_for_bulk_get() {
        let row = |id: &str, revs: &[&str], doc: Value| {
            let changes: Vec<Value> = revs.iter().map(|r| json!({ "rev": r })).collect();
            json!({"id": id, "seq": 1, "changes": changes, "doc": doc})
        };
        let mut rows = vec![
            row("ok", &["1-abc"], json!({"_id": "ok", "_rev": "1-abc", "v": 1})),
            row("gen2", &["2-def"], json!({"_id": "gen2", "_rev": "2-def"})),
            row("conflict", &["1-a", "1-b"], json!({"_id": "conflict", "_rev": "1-b"})),
            row("other-rev", &["1-a"], json!({"_id": "other-rev", "_rev": "1-b"})),
            row("gone", &["1-a"], json!({"_id": "gone", "_rev": "1-a", "_deleted": true})),
            row("att", &["1-a"], json!({"_id": "att", "_rev": "1-a", "_attachments": {}})),
            row("wrong-id", &["1-a"], json!({"_id": "else", "_rev": "1-a"})),
            json!({"id": "no-doc", "seq": 2, "changes": [{"rev": "1-a"}]}),
        ];
        let docs = prefetched_docs(&mut rows);
        assert_eq!(docs.len(), 1);
        assert_eq!(
            docs["ok"],
            json!({"_id": "ok", "_rev": "1-abc", "v": 1, "_revisions": {"start": 1, "ids": ["abc"]}})
        );
        assert!(rows.iter().all(|r| r.get("doc").is_none()), "the bodies are moved out of the rows");
        assert!(rows.iter().all(|r| Change::from_row(r).is_some()), "the rows still read as changes");
    }
}
