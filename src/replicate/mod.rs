//! Replication, CouchDB's protocol, written against a `Peer` trait that a local `Database`
//! (`LocalPeer`) and, later, a remote CouchDB (an HTTP peer, wasm only) both implement.
//!
//! - `peer`: the trait and its small types (opaque `Seq`s, changes pages, per-doc errors).
//! - `id`: the replication id that names the checkpoint docs (never built from credentials).
//! - `checkpoint` (pure) and `checkpointer` (IO): `_local/<id>` docs on both sides, resume rules.
//! - `planner` (pure): what to diff, fetch and write for one batch.
//! - `reader` and `writer`: the two halves of a batch (diff and fetch; write), pipelined.
//! - `replicator`: the one-shot loop, pipelined, with events and cancellation; `sync`.
//! - `echo`: what one direction of a sync wrote, so the other does not send it back.
//! - `live`: one-shot passes repeated: live (wait for the source's next change) and retry
//!   (back off on network errors and 5xx, resume from the checkpoint).
//! - `remote` (pure) and `http` (wasm only): a remote CouchDB as a `Peer`, over fetch.
//! - `scheduler`: per server, a bounded pool of connections and how live replications wait
//!   (longpoll while few, polling in turn while many, woken by `_db_updates`).
//! - `replicator_doc` (pure): a `_replicator` database doc read as a job (`js/replicator-db.ts` runs them).
//!
//! A one-shot run that fails returns a `ReplicationFailure`; running it again resumes from the
//! last checkpoint.

pub mod attachments;
pub mod checkpoint;
pub mod checkpointer;
pub mod echo;
#[cfg(target_arch = "wasm32")]
pub mod http;
pub mod id;
pub mod live;
pub mod local_peer;
pub mod options;
pub mod peer;
pub mod planner;
pub mod reader;
pub mod remote;
pub mod replicator;
pub mod replicator_doc;
pub mod retrying;
pub mod scheduler;
pub mod writer;

pub use local_peer::LocalPeer;
pub use options::{
    Clock, DocFilter, EventHandler, Progress, ReplicateOptions, ReplicationEvent, ReplicationFailure,
    ReplicationResult, Status, DEFAULT_BATCH_SIZE,
};
pub use peer::{
    AttMap, AttRef, Change, ChangesPage, DocError, Fetched, Filter, MissingRevs, Peer, PeerInfo, RevRequest,
    RevsByDoc, RevsDiff, Seq,
};
pub use replicator::{replicate, sync, SyncResult};
