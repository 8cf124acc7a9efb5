//! Errors in PouchDB's vocabulary: every failure carries an HTTP-like `status`, a `name`
//! JS code can branch on (`conflict`, `not_found`, …), a `message` and an optional `reason`.
//! The wasm layer turns this into a real JS `Error`; nothing here depends on wasm.

use std::fmt;

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Error {
    pub status: u16,
    pub name: &'static str,
    pub message: String,
    pub reason: Option<String>,
}

pub type Result<T> = std::result::Result<T, Error>;

// The constructors are `#[cold]`: errors are the rare path, and without it LLVM inlines the
// allocations of each one into each of its ~160 call sites (bundle size).
impl Error {
    #[cold]
    pub fn new(status: u16, name: &'static str, message: impl Into<String>) -> Self {
        Error { status, name, message: message.into(), reason: None }
    }

    pub fn with_reason(mut self, reason: impl Into<String>) -> Self {
        self.reason = Some(reason.into());
        self
    }

    #[cold]
    pub fn conflict() -> Self {
        Error::new(409, "conflict", "Document update conflict")
    }

    #[cold]
    pub fn not_found(reason: &str) -> Self {
        Error::new(404, "not_found", reason).with_reason(reason)
    }

    #[cold]
    pub fn missing() -> Self {
        Error::not_found("missing")
    }

    #[cold]
    pub fn deleted() -> Self {
        Error::not_found("deleted")
    }

    #[cold]
    pub fn bad_request(message: impl Into<String>) -> Self {
        let m = message.into();
        Error::new(400, "bad_request", m.clone()).with_reason(m)
    }

    #[cold]
    pub fn invalid_rev(message: impl Into<String>) -> Self {
        // CouchDB and PouchDB both name it `bad_request` ("Invalid rev format").
        Error::bad_request(message)
    }

    #[cold]
    pub fn doc_validation(message: impl Into<String>) -> Self {
        let m = message.into();
        Error::new(400, "doc_validation", m.clone()).with_reason(m)
    }

    /// A write refused by validation (a schema, a `validate_doc_update`): CouchDB's 403.
    #[cold]
    pub fn forbidden(message: impl Into<String>) -> Self {
        let m = message.into();
        Error::new(403, "forbidden", m.clone()).with_reason(m)
    }

    /// A `validate_doc_update` that threw `{unauthorized: …}`: CouchDB's 401.
    #[cold]
    pub fn unauthorized(message: impl Into<String>) -> Self {
        let m = message.into();
        Error::new(401, "unauthorized", m.clone()).with_reason(m)
    }

    #[cold]
    pub fn missing_id() -> Self {
        Error::new(412, "missing_id", "_id is required for puts")
    }

    #[cold]
    pub fn not_an_object() -> Self {
        Error::bad_request("Document must be a JSON object")
    }

    /// A storage-level failure (IndexedDB error, quota, …).
    #[cold]
    pub fn storage(message: impl Into<String>) -> Self {
        Error::new(500, "unknown_error", message)
    }

    /// Stored bytes are damaged: `what` names the record and, where known, the damage
    /// (`LSM chunk 17: truncated entry at byte 4093`); the message is `corrupt {what}`. Every
    /// decoder of stored bytes answers damage with this, never a panic or a guess.
    #[cold]
    pub fn corruption(what: impl fmt::Display) -> Self {
        Error::new(500, "corruption", format!("corrupt {what}"))
    }

    pub fn is_corruption(&self) -> bool {
        self.name == "corruption"
    }

    /// Another writer (tab) committed first; the caller re-reads and retries.
    #[cold]
    pub fn stale() -> Self {
        Error::new(409, "stale_version", "The store changed under this write")
    }

    pub fn is_stale(&self) -> bool {
        self.name == "stale_version"
    }

    #[cold]
    pub fn closed() -> Self {
        Error::new(412, "database_closed", "database is closed")
    }
}

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} {}: {}", self.status, self.name, self.message)
    }
}

impl std::error::Error for Error {}
