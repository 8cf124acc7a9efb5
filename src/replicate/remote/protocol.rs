//! CouchDB's replication endpoints as data: the request each `Peer` call makes, and its
//! answer parsed into the `Peer` types. No IO.
//!
//! Rules learnt from real servers:
//! - Seqs go back exactly as received: a JSON string is sent raw, anything else as JSON text.
//!   Rows may carry `"seq": null` (CouchDB 3 with `seq_interval`); only `last_seq` is used.
//! - Filters: `doc_ids` and `selector` are POSTed (`filter=_doc_ids` / `_selector`) so long
//!   lists fit; a named filter is `filter=ddoc/name` plus its `query_params` in the query.
//! - `_bulk_get` answers `{}` on some servers for unknown ids (pouchdb-server): no `results`
//!   reads as nothing fetched. Each `{error}` entry becomes a `Fetched::Error`.
//! - `_bulk_docs` with `new_edits: false` answers `[]` on CouchDB and `{ok}` rows on PouchDB;
//!   only rows with an `error` are failures.

use crate::replicate::peer::{
    prefetched_docs, revs_diff_of, Change, ChangesPage, DocError, Fetched, Filter, MissingRevs, RevRequest,
    RevsByDoc, RevsDiff, Seq,
};
use serde_json::{json, Value};

/// A request below the database URL.
#[derive(Clone, Debug, PartialEq)]
pub struct Call {
    pub method: &'static str,
    pub path: String,
    pub query: Vec<(&'static str, String)>,
    pub body: Option<Value>,
}

/// Longpoll parameters (live replication): how long the server should hold the request and
/// how often it should send a keep-alive newline.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Longpoll {
    pub timeout_ms: u64,
    pub heartbeat_ms: u64,
}

pub fn seq_param(seq: &Seq) -> String {
    match &seq.0 {
        Value::String(s) => s.clone(),
        other => other.to_string(),
    }
}

fn param_value(v: &Value) -> String {
    match v {
        Value::String(s) => s.clone(),
        other => other.to_string(),
    }
}

/// `_changes?style=all_docs&since=…&limit=…` with the filter, one-shot or longpoll.
pub fn changes_call(since: &Seq, limit: usize, filter: &Filter, longpoll: Option<Longpoll>) -> Call {
    let mut query = vec![("style", "all_docs".to_string()), ("since", seq_param(since))];
    query.push(("limit", limit.to_string()));
    if let Some(lp) = longpoll {
        query.push(("feed", "longpoll".into()));
        query.push(("timeout", lp.timeout_ms.to_string()));
        query.push(("heartbeat", lp.heartbeat_ms.to_string()));
    }
    let (method, body) = match filter {
        Filter::None => ("GET", None),
        Filter::DocIds(ids) => {
            query.push(("filter", "_doc_ids".into()));
            ("POST", Some(json!({ "doc_ids": ids })))
        }
        Filter::Selector(selector) => {
            query.push(("filter", "_selector".into()));
            ("POST", Some(json!({ "selector": selector })))
        }
        Filter::Named { name, query_params } => {
            // `Call.query` keys are static, so the `query_params` travel in the path (below).
            query.push(("filter", name.clone()));
            let _ = query_params;
            ("GET", None)
        }
    };
    let mut path = "_changes".to_string();
    if let Filter::Named { query_params: Value::Object(params), .. } = filter {
        for (k, v) in params {
            path.push(if path.contains('?') { '&' } else { '?' });
            path.push_str(&super::url::percent_encode(k));
            path.push('=');
            path.push_str(&super::url::percent_encode(&param_value(v)));
        }
    }
    Call { method, path, query, body }
}

/// `call` (a `changes_call`) also asking for the winning bodies: on CouchDB and
/// pouchdb-server, reading them with the feed costs far less than a `_bulk_get` afterwards
/// (pouchdb-server: ~0.8 s instead of ~2 s for 10,000 small docs).
pub fn with_docs(mut call: Call) -> Call {
    call.query.push(("include_docs", "true".into()));
    call
}

/// A `_changes` answer read `with_docs`: its usable bodies are moved into the page.
pub fn parse_changes_with_docs(mut body: Value, since: &Seq, limit: usize) -> ChangesPage {
    // `get_mut`, not `body["results"]`: indexing a non-object mutably panics.
    let docs = body.get_mut("results").and_then(Value::as_array_mut).map(|rows| prefetched_docs(rows));
    let docs = docs.unwrap_or_default();
    ChangesPage { docs, ..parse_changes(&body, since, limit) }
}

/// A `_changes` answer. Without a `pending` field, a short page means 0 pending.
pub fn parse_changes(body: &Value, since: &Seq, limit: usize) -> ChangesPage {
    let results: Vec<Change> = body["results"]
        .as_array()
        .map(|rows| rows.iter().filter_map(Change::from_row).collect())
        .unwrap_or_default();
    let last_seq = match body.get("last_seq") {
        Some(v) if !v.is_null() => Seq(v.clone()),
        _ => {
            results.iter().rev().find(|c| !c.seq.0.is_null()).map(|c| c.seq.clone()).unwrap_or(since.clone())
        }
    };
    let pending = body["pending"].as_u64().or((results.len() < limit).then_some(0));
    ChangesPage { results, last_seq, pending, docs: Default::default() }
}

pub fn revs_diff_call(revs: &RevsByDoc) -> Call {
    Call { method: "POST", path: "_revs_diff".into(), query: vec![], body: Some(json!(revs)) }
}

pub fn parse_revs_diff(body: &Value) -> RevsDiff {
    let Some(map) = body.as_object() else { return RevsDiff::new() };
    let strings = |v: &Value| -> Vec<String> {
        v.as_array()
            .map(|a| a.iter().filter_map(|r| r.as_str().map(str::to_string)).collect())
            .unwrap_or_default()
    };
    revs_diff_of(
        map.iter()
            .map(|(id, e)| {
                let entry = MissingRevs {
                    missing: strings(&e["missing"]),
                    possible_ancestors: strings(&e["possible_ancestors"]),
                };
                (id.clone(), entry)
            })
            .filter(|(_, e)| !e.missing.is_empty()),
    )
}

/// Asks CouchDB to mark attachments it stores gzipped (`text/*`, JSON…) with `encoding` and
/// `encoded_length`: their digest is the md5 of the gzipped bytes, which a browser's fetch
/// never hands over (it decodes them), so the data can only be checked by its length
/// (`attachments::fetch`). Without the mark such a doc fails as `bad_digest`. Servers that do
/// not compress (pouchdb-server) ignore the parameter.
fn att_encoding_info() -> (&'static str, String) {
    ("att_encoding_info", "true".into())
}

pub fn bulk_get_call(revs: &[RevRequest]) -> Call {
    let docs: Vec<Value> = revs.iter().map(|r| json!({"id": r.id, "rev": r.rev})).collect();
    Call {
        method: "POST",
        path: "_bulk_get".into(),
        query: vec![("revs", "true".into()), ("latest", "true".into()), att_encoding_info()],
        body: Some(json!({ "docs": docs })),
    }
}

/// `_bulk_get` is missing on this server: fall back to `open_revs` (CouchDB < 2.0, proxies).
pub fn bulk_get_unsupported(status: u16) -> bool {
    matches!(status, 404 | 405 | 501)
}

fn doc_error(id: &str, rev: Option<&str>, e: &Value, default_status: u16) -> DocError {
    let error = e["error"].as_str().unwrap_or("unknown_error").to_string();
    let status = e["status"].as_u64().map(|s| s as u16).unwrap_or(match error.as_str() {
        "not_found" => 404,
        "forbidden" => 403,
        "unauthorized" => 401,
        "conflict" => 409,
        _ => default_status,
    });
    DocError {
        id: e["id"].as_str().unwrap_or(id).to_string(),
        rev: e["rev"].as_str().or(rev).map(str::to_string),
        status,
        error,
        reason: e["reason"].as_str().unwrap_or_default().to_string(),
    }
}

pub fn parse_bulk_get(body: &Value) -> Vec<Fetched> {
    let mut out = Vec::new();
    for result in body["results"].as_array().into_iter().flatten() {
        let id = result["id"].as_str().unwrap_or_default();
        for entry in result["docs"].as_array().into_iter().flatten() {
            if let Some(doc) = entry.get("ok") {
                out.push(Fetched::Doc(doc.clone()));
            } else if let Some(e) = entry.get("error") {
                out.push(Fetched::Error(doc_error(id, None, e, 404)));
            }
        }
    }
    out
}

/// `GET /db/<id>?revs=true&latest=true&open_revs=[…]`, JSON (not multipart).
pub fn open_revs_call(id: &str, revs: &[&str]) -> Call {
    Call {
        method: "GET",
        path: super::url::doc_path(id),
        query: vec![
            ("revs", "true".into()),
            ("latest", "true".into()),
            att_encoding_info(),
            ("open_revs", serde_json::to_string(revs).expect("strings serialise")),
        ],
        body: None,
    }
}

pub fn parse_open_revs(id: &str, body: &Value) -> Vec<Fetched> {
    let missing = |rev: &str| {
        Fetched::Error(DocError {
            id: id.into(),
            rev: Some(rev.into()),
            status: 404,
            error: "not_found".into(),
            reason: "missing".into(),
        })
    };
    body.as_array()
        .into_iter()
        .flatten()
        .filter_map(|entry| {
            if let Some(doc) = entry.get("ok") {
                Some(Fetched::Doc(doc.clone()))
            } else {
                entry.get("missing").and_then(Value::as_str).map(missing)
            }
        })
        .collect()
}

pub fn bulk_docs_call(docs: &[Value], new_edits: bool) -> Call {
    Call {
        method: "POST",
        path: "_bulk_docs".into(),
        query: vec![],
        body: Some(json!({ "docs": docs, "new_edits": new_edits })),
    }
}

/// What to do after CouchDB refused a whole `new_edits: false` `_bulk_docs` with 413: it
/// writes nothing when one doc is over `max_document_size` (`document_too_large`) or one
/// attachment over `max_attachment_size` (`attachment_too_large`), and names that doc's id
/// as the `reason`. That doc fails (as CouchDB's own replicator counts it, a
/// `doc_write_failure`) and the rest is sent again. When no doc is named, the batch is split
/// in halves until the culprit is alone. Returns the failure, if one is known now, and the
/// batches to send again.
pub fn split_too_large(
    mut batch: Vec<Value>,
    error: &crate::error::Error,
) -> (Option<DocError>, Vec<Vec<Value>>) {
    let failure = |doc: &Value| DocError {
        id: doc["_id"].as_str().unwrap_or_default().to_string(),
        rev: doc["_rev"].as_str().map(str::to_string),
        status: error.status,
        error: error.name.to_string(),
        reason: error.reason.clone().unwrap_or_else(|| error.message.clone()),
    };
    let named = error.reason.as_deref().and_then(|r| batch.iter().position(|d| d["_id"].as_str() == Some(r)));
    match named {
        Some(i) => {
            let doc = batch.remove(i);
            (Some(failure(&doc)), vec![batch])
        }
        None if batch.len() <= 1 => (batch.first().map(failure), Vec::new()),
        None => {
            let second = batch.split_off(batch.len() / 2);
            (None, vec![batch, second])
        }
    }
}

/// The failures of a `new_edits: false` `_bulk_docs` answer.
pub fn parse_bulk_docs_failures(docs: &[Value], body: &Value) -> Vec<DocError> {
    body.as_array()
        .into_iter()
        .flatten()
        .filter(|row| row.get("error").is_some_and(|e| !e.is_null() && e != &Value::Bool(false)))
        .map(|row| {
            let id = row["id"].as_str().unwrap_or_default();
            let rev = docs.iter().find(|d| d["_id"] == row["id"]).and_then(|d| d["_rev"].as_str());
            doc_error(id, rev, row, 500)
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn changes_requests_send_opaque_seqs_verbatim_and_post_long_filters() {
        let c = changes_call(&Seq(json!("12-g1AAA")), 100, &Filter::None, None);
        assert_eq!((c.method, c.path.as_str()), ("GET", "_changes"));
        assert!(c.query.contains(&("since", "12-g1AAA".into())));
        assert!(c.query.contains(&("style", "all_docs".into())));
        let c = changes_call(&Seq(json!(7)), 5, &Filter::DocIds(vec!["a".into()]), None);
        assert_eq!(c.method, "POST");
        assert!(c.query.contains(&("since", "7".into())) && c.query.contains(&("filter", "_doc_ids".into())));
        assert_eq!(c.body, Some(json!({"doc_ids": ["a"]})));
        let lp = Longpoll { timeout_ms: 1000, heartbeat_ms: 500 };
        let c = changes_call(&Seq::zero(), 1, &Filter::None, Some(lp));
        assert!(
            c.query.contains(&("feed", "longpoll".into())) && c.query.contains(&("heartbeat", "500".into()))
        );
    }

    #[test]
    fn a_named_filter_carries_its_query_params() {
        let f = Filter::Named { name: "app/by_type".into(), query_params: json!({"type": "a b", "n": 2}) };
        let c = changes_call(&Seq::zero(), 10, &f, None);
        assert_eq!(c.path, "_changes?type=a%20b&n=2");
        assert!(c.query.contains(&("filter", "app/by_type".into())));
    }

    #[test]
    fn a_feed_read_with_docs_keeps_the_bodies_that_stand_in_for_bulk_get() {
        let call = with_docs(changes_call(&Seq::zero(), 2, &Filter::None, None));
        assert!(call.query.contains(&("include_docs", "true".to_string())));
        let body = json!({"results": [
            {"seq": 1, "id": "a", "changes": [{"rev": "1-x"}], "doc": {"_id": "a", "_rev": "1-x"}},
            {"seq": 2, "id": "b", "changes": [{"rev": "2-y"}], "doc": {"_id": "b", "_rev": "2-y"}}],
            "last_seq": 2});
        let page = parse_changes_with_docs(body, &Seq::zero(), 2);
        assert_eq!(page.results.len(), 2);
        assert_eq!(page.docs.keys().collect::<Vec<_>>(), vec!["a"]);
        assert_eq!(page.docs["a"]["_revisions"], json!({"start": 1, "ids": ["x"]}));
    }

    #[test]
    fn changes_answers_tolerate_null_seqs_and_missing_pending() {
        let body = json!({"results": [
            {"seq": null, "id": "a", "changes": [{"rev": "1-x"}, {"rev": "1-y"}]},
            {"seq": "3-abc", "id": "b", "changes": [{"rev": "2-z"}], "deleted": true}],
            "last_seq": "3-abc"});
        let page = parse_changes(&body, &Seq::zero(), 10);
        assert_eq!(page.results.len(), 2);
        assert_eq!(page.results[0].revs, vec!["1-x", "1-y"]);
        assert!(page.results[1].deleted);
        assert_eq!(page.last_seq, Seq(json!("3-abc")));
        assert_eq!(page.pending, Some(0));
        let full = parse_changes(
            &json!({"results": [{"seq": 1, "id": "a", "changes": []}], "last_seq": 1}),
            &Seq::zero(),
            1,
        );
        assert_eq!(full.pending, None);
        assert_eq!(
            parse_changes(&json!({"results": [], "pending": 4}), &Seq(json!(9)), 1).last_seq,
            Seq(json!(9))
        );
    }

    #[test]
    fn bulk_get_answers_become_docs_and_errors_and_an_empty_object_is_nothing() {
        let body = json!({"results": [
            {"id": "a", "docs": [{"ok": {"_id": "a", "_rev": "1-x"}}, {"ok": {"_id": "a", "_rev": "1-y"}}]},
            {"id": "b", "docs": [{"error": {"id": "b", "rev": "1-q", "error": "not_found", "reason": "missing"}}]}]});
        let got = parse_bulk_get(&body);
        assert_eq!(got.len(), 3);
        assert!(matches!(&got[2], Fetched::Error(e) if e.status == 404 && e.rev.as_deref() == Some("1-q")));
        assert!(parse_bulk_get(&json!({})).is_empty());
        assert!(bulk_get_unsupported(405) && !bulk_get_unsupported(500));
    }

    #[test]
    fn a_doc_too_large_for_couchdb_fails_alone_and_the_rest_of_its_batch_goes_again() {
        let docs =
            |ids: &[&str]| -> Vec<Value> { ids.iter().map(|i| json!({"_id": i, "_rev": "1-x"})).collect() };
        let named = crate::replicate::remote::http_error(
            413,
            r#"{"error":"document_too_large","reason":"big"}"#,
            "POST",
            "_bulk_docs",
        );
        let (failed, again) = split_too_large(docs(&["a", "big", "c"]), &named);
        let failed = failed.expect("the named doc fails");
        assert_eq!(
            (failed.id.as_str(), failed.status, failed.error.as_str()),
            ("big", 413, "document_too_large")
        );
        assert_eq!(again, vec![docs(&["a", "c"])]);

        let anonymous = crate::replicate::remote::http_error(413, "", "POST", "_bulk_docs");
        let (failed, again) = split_too_large(docs(&["a", "b", "c"]), &anonymous);
        assert!(failed.is_none());
        assert_eq!(again, vec![docs(&["a"]), docs(&["b", "c"])]);
        let (failed, again) = split_too_large(docs(&["b"]), &anonymous);
        assert_eq!(failed.map(|f| f.id), Some("b".to_string()));
        assert!(again.is_empty());
    }

    #[test]
    fn open_revs_answers_map_missing_revs_to_not_found() {
        let body = json!([{"ok": {"_id": "a b", "_rev": "2-x"}}, {"missing": "1-gone"}]);
        let got = parse_open_revs("a b", &body);
        assert_eq!(got[0], Fetched::Doc(json!({"_id": "a b", "_rev": "2-x"})));
        assert!(matches!(&got[1], Fetched::Error(e) if e.rev.as_deref() == Some("1-gone")));
        let c = open_revs_call("a b", &["2-x"]);
        assert!(c.query.contains(&("att_encoding_info", "true".into())), "CouchDB marks gzipped data");
        assert_eq!(c.path, "a%20b");
        assert!(c.query.contains(&("open_revs", r#"["2-x"]"#.into())));
    }

    #[test]
    fn bulk_docs_failures_are_only_the_error_rows_with_their_status() {
        let docs = vec![json!({"_id": "a", "_rev": "1-x"}), json!({"_id": "b", "_rev": "1-y"})];
        let body = json!([{"ok": true, "id": "a", "rev": "1-x"},
                          {"id": "b", "error": "forbidden", "reason": "no way"}]);
        let f = parse_bulk_docs_failures(&docs, &body);
        assert_eq!(f.len(), 1);
        assert_eq!((f[0].id.as_str(), f[0].status, f[0].rev.as_deref()), ("b", 403, Some("1-y")));
        assert!(f[0].is_denied());
        assert!(parse_bulk_docs_failures(&docs, &json!([])).is_empty());
    }

    #[test]
    fn revs_diff_answers_drop_ids_missing_nothing() {
        let got = parse_revs_diff(
            &json!({"a": {"missing": ["2-x"], "possible_ancestors": ["1-w"]}, "b": {"missing": []}}),
        );
        assert_eq!(got.len(), 1);
        assert_eq!(got["a"].missing, vec!["2-x"]);
        assert_eq!(got["a"].possible_ancestors, vec!["1-w"]);
    }
}
