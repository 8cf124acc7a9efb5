//! What a caller passes to `replicate` and gets back.
//!
//! Callbacks and the clock are plain closures so that this layer has no wasm dependency: the
//! wasm layer wraps JS functions (`Date.now`, an emitter, a JS filter) in them.

use super::peer::{DocError, Filter, RevRequest, Seq};
use crate::error::Error;
use serde::Serialize;
use serde_json::Value;
use std::cell::{Cell, RefCell};
use std::collections::BTreeSet;
use std::rc::Rc;

/// Large batches suit IndexedDB (one transaction per batch dominates the cost of a write) and
/// servers (a request's fixed cost, and a checkpoint per batch). Against pouchdb-server, 1000
/// pulled 10,000 docs ~25% faster than 500 and pushed them ~10% faster; 2000 gained nothing
/// more, and up to three batches are held at once (one written, one read, one page ahead).
pub const DEFAULT_BATCH_SIZE: usize = 1000;

/// Keeps a fetched revision (true) or skips it (false).
pub type DocFilter = Box<dyn Fn(&Value) -> bool>;
pub type EventHandler = Box<dyn Fn(&ReplicationEvent)>;
pub type Clock = Box<dyn Fn() -> String>;
/// Revisions sent in a write whose answer never came (see `ReplicateOptions::in_doubt`).
pub type InDoubt = Rc<RefCell<BTreeSet<RevRequest>>>;
pub type Carry = Rc<RefCell<Option<super::replicator::Carried>>>;

pub struct ReplicateOptions {
    pub batch_size: usize,
    pub filter: Filter,
    /// Start here instead of at the checkpoint (checkpoints are still written).
    pub since: Option<Seq>,
    /// A caller-side filter on each fetched doc revision (PouchDB's JS `filter` for pushes):
    /// revisions it rejects are skipped as if the feed had filtered them (not counted as read).
    pub doc_filter: Option<DocFilter>,
    /// Identifies `doc_filter` in the replication id (e.g. the function's source text).
    pub doc_filter_key: Option<String>,
    pub on_event: Option<EventHandler>,
    /// Set to stop between batches; the run then ends with status `Cancelled`.
    pub cancel: Rc<Cell<bool>>,
    /// Gives `start_time` / `end_time` (e.g. an ISO date from JS); empty strings without it.
    pub clock: Option<Clock>,
    /// Unique per run (the wasm layer passes a random UUID); derived from the clock if absent.
    pub session_id: Option<String>,
    /// Revisions whose write request failed without an answer: the target may or may not
    /// have them. The next pass over the same options (a retry) asks the target; those it
    /// has are counted as read and written then, so a lost answer neither loses nor
    /// double-counts a doc, and `docs_written` ends as in a run without faults.
    pub in_doubt: InDoubt,
    /// What a completed pass learnt (replication id, checkpoint revs, seq), for the next pass
    /// over the same options: a live replication's later passes then skip re-reading both
    /// sides' `info` and checkpoint docs. Emptied by every pass; only a completed pass fills it,
    /// so a pass after a failure reads everything again.
    pub carry: Carry,
    /// In a sync: the revisions the other direction wrote (not sent back) and where this one
    /// records what it writes (`echo`).
    pub echoes: Option<super::echo::Echoes>,
}

impl Default for ReplicateOptions {
    fn default() -> Self {
        ReplicateOptions {
            batch_size: DEFAULT_BATCH_SIZE,
            filter: Filter::None,
            since: None,
            doc_filter: None,
            doc_filter_key: None,
            on_event: None,
            cancel: Rc::new(Cell::new(false)),
            clock: None,
            session_id: None,
            in_doubt: InDoubt::default(),
            carry: Carry::default(),
            echoes: None,
        }
    }
}

/// Counts after each batch (PouchDB's `change` event info).
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct Progress {
    pub docs_read: u64,
    pub docs_written: u64,
    pub doc_write_failures: u64,
    /// Changes left on the source, when it can tell.
    pub pending: Option<u64>,
    pub last_seq: Seq,
}

pub enum ReplicationEvent<'a> {
    /// A batch is written and checkpointed; `docs` are the revisions written in it.
    Change { progress: &'a Progress, docs: &'a [Value] },
    /// The target refused a doc (forbidden / unauthorized); it is not retried.
    Denied(&'a DocError),
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Status {
    Complete,
    Cancelled,
    Aborted,
}

#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct ReplicationResult {
    pub ok: bool,
    pub docs_read: u64,
    pub docs_written: u64,
    pub doc_write_failures: u64,
    pub errors: Vec<DocError>,
    /// The last source seq checkpointed (where the next run resumes).
    pub last_seq: Seq,
    pub start_time: String,
    pub end_time: String,
    pub status: Status,
}

/// A run that stopped on an error, with what it had done until then (`status: Aborted`).
#[derive(Clone, Debug, PartialEq)]
pub struct ReplicationFailure {
    pub error: Error,
    pub result: ReplicationResult,
}

impl From<ReplicationFailure> for Error {
    fn from(f: ReplicationFailure) -> Error {
        f.error
    }
}
