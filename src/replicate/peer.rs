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

use crate::error::Result;
use crate::kv::blobs::AttData;
use async_trait::async_trait;
use serde::{Deserialize, Serialize};
use serde_json::Value;
use std::collections::BTreeMap;

/// An update sequence as the peer gave it.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(transparent)]
pub struct Seq(pub Value);

impl Seq {
    /// The start of every feed: `0` is accepted by CouchDB, PouchDB and Settee alike.
    pub fn zero() -> Seq {
        Seq(Value::from(0))
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

#[derive(Clone, Debug, PartialEq)]
pub struct ChangesPage {
    pub results: Vec<Change>,
    pub last_seq: Seq,
    /// Changes left after this page, when the peer can tell.
    pub pending: Option<u64>,
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
