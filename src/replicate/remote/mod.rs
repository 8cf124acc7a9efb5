//! The pure half of talking to a remote CouchDB: URLs, requests and answers as data. The
//! wasm-only `http` module sends them with fetch; everything here is tested natively.
//!
//! - `url`: parses a database URL, moves credentials into an `Authorization` header, and
//!   builds request paths (doc ids percent-encoded, `_design/` and `_local/` kept readable).
//! - `protocol`: request bodies and parsing of `_changes`, `_revs_diff`, `_bulk_get`,
//!   `open_revs` and `_bulk_docs` answers into the `Peer` types.
//! - `attachments`: fetching one attachment, and sending data inline or as multipart.
//! - `api`: PouchDB options as query strings and CouchDB answers in Settee shapes, for the
//!   remote database API.
//! - `errors`: an HTTP status and CouchDB's `{error, reason}` body as a `crate::Error`.

pub mod api;
pub mod attachments;
pub mod errors;
pub mod protocol;
pub mod url;

pub use errors::{http_error, is_retryable, network_error};
pub use url::{DbUrl, RemoteOptions};
