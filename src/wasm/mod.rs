//! The JS classes: thin adapters from JS values to `db::Database` and back.
//!
//! Crossing rule: a call converts its whole input with one `JSON.stringify` and its whole
//! output with one `JSON.parse`, never a property at a time. (`allDocs` and `changes` answer
//! in columns that `expand` turns into PouchDB's rows in JS, right after that one parse.)
//! Errors become real JS `Error` objects carrying PouchDB's `status`, `name`, `message`,
//! `error` and `reason`.

mod attachments;
mod changes_feed;
mod conflicts;
mod convert;
mod database;
mod database_query;
mod endpoint;
mod error;
mod expand;
mod filter_fns;
mod promise;
mod remote_database;
mod remote_more;
mod replication;
mod replicator_doc;
mod scheduler;
mod storage;
mod validation;
mod view_fns;

pub use changes_feed::ChangesFeed;
pub use conflicts::ConflictFeed;
pub use database::Database;
pub use endpoint::Endpoint;
pub use remote_database::RemoteDatabase;
pub use replication::Replication;
pub use replicator_doc::parse_replicator_doc;

use wasm_bindgen::prelude::*;

#[wasm_bindgen(start)]
pub fn start() {
    // A panic would otherwise reach JS as an opaque "unreachable" trap, or never at all.
    promise::install_panic_hook();
}
