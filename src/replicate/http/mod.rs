//! A remote CouchDB over fetch (gloo-net), wasm only. The requests and answers themselves are
//! built and parsed by the pure `remote` module; this one only sends them.
//!
//! - `client`: one request: headers (auth), JSON body, status → `Error`, network failures →
//!   `network_error`, an optional client-side timeout (the request is aborted, not left open).
//! - `peer`: `HttpPeer`, the `Peer` implementation, with `_bulk_get` → `open_revs` fallback
//!   and the longpoll wait of live replication.
//! - `live_changes`: `changes({live: true})` of a remote database, a loop of longpolls.
//! - `db_updates`: a server's `_db_updates` feed, waking polling replications (`scheduler`).
//! - `timer`: `sleep` on the global `setTimeout` (works in windows and workers).

pub mod client;
pub mod db_updates;
pub mod live_changes;
pub mod peer;
pub mod timer;

pub use client::HttpClient;
pub use peer::HttpPeer;
