//! Settee: a document database for the browser that replicates with CouchDB.
//!
//! Layers, from the bottom:
//! - `kv`: one ordered key-value store (memory, or an LSM tree over IndexedDB records).
//! - `core`: pure, synchronous logic with no wasm dependency (revisions, rev trees).
//! - `db`: the database: documents, changes, `_local` docs, written through `kv`.
//! - `wasm` (wasm32 only): the JS classes, thin adapters over `db`.

pub mod core;
pub mod db;
pub mod error;
pub mod kv;
pub mod replicate;
#[cfg(target_arch = "wasm32")]
pub mod wasm;

pub use error::{Error, Result};
