//! HTTP failures as `crate::Error`s.
//!
//! - A non-2xx answer keeps its status; the name is CouchDB's `error` field (`not_found`,
//!   `unauthorized`, `forbidden`, `conflict`, `file_exists`…), or a name derived from the
//!   status when the body has none; the reason is CouchDB's `reason`.
//! - A request that never got an answer (DNS, refused connection, CORS, an abort on our own
//!   timeout) is status 0 `network_error`: the one failure besides 5xx that is worth retrying.
//! - Messages name the method and the path below the database, never the full URL, so they
//!   cannot leak credentials whatever the caller passed.

use crate::error::Error;
use serde_json::Value;
use std::cell::RefCell;
use std::collections::HashMap;

pub const NETWORK_ERROR: &str = "network_error";

/// `Error::name` is `&'static str`: known names are literals, others are leaked once each
/// (at most `MAX_INTERNED`, a server only has a handful).
fn intern(name: &str) -> &'static str {
    const KNOWN: &[&str] = &[
        "bad_request",
        "unauthorized",
        "forbidden",
        "not_found",
        "method_not_allowed",
        "not_acceptable",
        "conflict",
        "file_exists",
        "precondition_failed",
        "missing_id",
        "request_entity_too_large",
        "bad_content_type",
        "invalid_rev",
        "doc_validation",
        "unknown_error",
        "internal_server_error",
        "query_parse_error",
        "illegal_database_name",
        "timeout",
    ];
    const MAX_INTERNED: usize = 64;
    thread_local! {
        static INTERNED: RefCell<HashMap<String, &'static str>> = RefCell::new(HashMap::new());
    }
    if let Some(k) = KNOWN.iter().find(|k| **k == name) {
        return k;
    }
    INTERNED.with(|m| {
        let mut m = m.borrow_mut();
        if let Some(s) = m.get(name) {
            return *s;
        }
        if m.len() >= MAX_INTERNED || name.is_empty() || name.len() > 64 {
            return "unknown_error";
        }
        let s: &'static str = Box::leak(name.to_string().into_boxed_str());
        m.insert(name.to_string(), s);
        s
    })
}

fn name_for_status(status: u16) -> &'static str {
    match status {
        400 => "bad_request",
        401 => "unauthorized",
        403 => "forbidden",
        404 => "not_found",
        405 => "method_not_allowed",
        409 => "conflict",
        412 => "precondition_failed",
        413 => "request_entity_too_large",
        _ => "unknown_error",
    }
}

/// The error for a non-2xx answer to `method path` (path relative to the database).
pub fn http_error(status: u16, body: &str, method: &str, path: &str) -> Error {
    let json: Value = serde_json::from_str(body).unwrap_or(Value::Null);
    let name = json["error"].as_str().map(intern).unwrap_or_else(|| name_for_status(status));
    let reason = json["reason"].as_str().map(str::to_string);
    let message = match &reason {
        Some(r) if !r.is_empty() => r.clone(),
        _ => format!("{method} /{path} answered {status} {name}"),
    };
    let mut e = Error::new(status, name, message);
    e.reason = reason;
    e
}

/// The error for a request that got no answer. `detail` is the browser's text ("Failed to
/// fetch"), which carries no URL.
pub fn network_error(detail: &str, method: &str, path: &str) -> Error {
    Error::new(0, NETWORK_ERROR, format!("{method} /{path} failed: {detail}")).with_reason(detail)
}

/// Worth retrying with backoff: no answer, a timeout, rate limiting or a server error. Never
/// 401/403 (credentials will not fix themselves), 404, 409 or 412.
pub fn is_retryable(e: &Error) -> bool {
    e.name == NETWORK_ERROR || e.status >= 500 || matches!(e.status, 408 | 429)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn couchdb_error_bodies_give_the_name_and_reason() {
        let e = http_error(
            401,
            r#"{"error":"unauthorized","reason":"Name or password is incorrect."}"#,
            "GET",
            "",
        );
        assert_eq!((e.status, e.name), (401, "unauthorized"));
        assert_eq!(e.reason.as_deref(), Some("Name or password is incorrect."));
        assert_eq!(e.message, "Name or password is incorrect.");
        let e = http_error(412, r#"{"error":"file_exists"}"#, "PUT", "");
        assert_eq!(e.name, "file_exists");
        let e = http_error(418, r#"{"error":"teapot_error"}"#, "GET", "x");
        assert_eq!(e.name, "teapot_error");
    }

    #[test]
    fn bodies_without_json_fall_back_to_the_status() {
        let e = http_error(405, "<html>nope</html>", "POST", "_bulk_get");
        assert_eq!((e.status, e.name), (405, "method_not_allowed"));
        assert_eq!(e.message, "POST /_bulk_get answered 405 method_not_allowed");
        assert_eq!(http_error(502, "", "GET", "").name, "unknown_error");
    }

    #[test]
    fn only_network_errors_timeouts_and_5xx_are_retryable() {
        assert!(is_retryable(&network_error("Failed to fetch", "GET", "_changes")));
        assert!(is_retryable(&http_error(503, "", "GET", "")));
        assert!(is_retryable(&http_error(429, "", "GET", "")));
        for status in [400, 401, 403, 404, 409, 412] {
            assert!(!is_retryable(&http_error(status, "", "GET", "")), "{status}");
        }
    }
}
