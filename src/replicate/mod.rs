//! Replication, CouchDB's protocol, written against a `Peer` trait that a local `Database`
//! (`LocalPeer`) and, later, a remote CouchDB (an HTTP peer, wasm only) both implement.
//!
//! - `peer`: the trait and its small types (opaque `Seq`s, changes pages, per-doc errors).
//! - `id`: the replication id that names the checkpoint docs (never built from credentials).
//! - `checkpoint` (pure) and `checkpointer` (IO): `_local/<id>` docs on both sides, resume rules.
//! - `planner` (pure): what to diff, fetch and write for one batch.
//! - `replicator`: the one-shot loop, pipelined, with events and cancellation; `sync`.
//!
//! Nothing here retries or follows a live feed yet: a failed run returns a
//! `ReplicationFailure`, and running it again resumes from the last checkpoint.

pub mod checkpoint;
pub mod checkpointer;
pub mod id;
pub mod local_peer;
pub mod options;
pub mod peer;
pub mod planner;
pub mod replicator;

pub use local_peer::LocalPeer;
pub use options::{
    Clock, DocFilter, EventHandler, Progress, ReplicateOptions, ReplicationEvent, ReplicationFailure,
    ReplicationResult, Status, DEFAULT_BATCH_SIZE,
};
pub use peer::{Change, ChangesPage, DocError, Fetched, Filter, Peer, PeerInfo, RevRequest, RevsByDoc, Seq};
pub use replicator::{replicate, sync, SyncResult};
