//! `_replicator` docs read as jobs (`replicate::replicator_doc`): what runs, what fails with
//! which reason, and which edits count as a new definition.
#![cfg(not(target_arch = "wasm32"))]

use serde_json::{json, Value};
use settee::replicate::replicator_doc::{classify, job_id, strip_credentials, Classified, Job};

fn job(doc: Value) -> Job {
    match classify(&doc) {
        Classified::Run(job) => *job,
        other => panic!("expected a job, got {other:?}"),
    }
}

fn reason(doc: Value) -> String {
    match classify(&doc) {
        Classified::Invalid { reason, .. } => reason,
        other => panic!("expected an invalid doc, got {other:?}"),
    }
}

#[test]
fn local_to_local_one_shot_runs_with_retry_and_no_live() {
    let j = job(json!({"_id": "a", "source": "src", "target": "tgt"}));
    assert_eq!((j.source.name.as_str(), j.source.remote), ("src", false));
    assert_eq!((j.target.name.as_str(), j.target.remote), ("tgt", false));
    assert!(!j.continuous);
    assert_eq!(j.options, json!({"live": false, "retry": true, "create_target": false}));
}

#[test]
fn a_url_source_is_remote_and_its_credentials_become_a_header_not_the_name() {
    let j =
        job(json!({"source": "http://bob:secret@127.0.0.1:5984/db", "target": "local", "continuous": true}));
    assert!(j.source.remote);
    assert_eq!(j.source.name, "http://127.0.0.1:5984/db");
    assert_eq!(j.source.headers["Authorization"], json!("Basic Ym9iOnNlY3JldA=="));
    assert!(j.continuous);
    assert_eq!(j.options["live"], json!(true));
}

#[test]
fn an_object_endpoint_with_basic_auth_gets_an_authorization_header_and_its_headers() {
    let j = job(json!({
        "source": "a",
        "target": {"url": "https://h.example/db", "headers": {"X-Tag": "t"},
                   "auth": {"basic": {"username": "bob", "password": "secret"}}},
        "create_target": true,
    }));
    assert_eq!(j.target.name, "https://h.example/db");
    assert_eq!(j.target.headers["Authorization"], json!("Basic Ym9iOnNlY3JldA=="));
    assert_eq!(j.target.headers["X-Tag"], json!("t"));
    assert_eq!(j.options["create_target"], json!(true));
}

#[test]
fn explicit_authorization_header_wins_over_basic_auth() {
    let j = job(json!({"source": {"url": "http://h/db", "headers": {"Authorization": "Bearer x"},
                                  "auth": {"basic": {"username": "u", "password": "p"}}}, "target": "t"}));
    assert_eq!(j.source.headers["Authorization"], json!("Bearer x"));
}

#[test]
fn filters_and_since_pass_through_as_replication_options() {
    let j = job(json!({"source": "http://h/db", "target": "t", "filter": "app/by_type",
                       "query_params": {"type": "x"}, "since_seq": "5-abc"}));
    assert_eq!(j.options["filter"], json!("app/by_type"));
    assert_eq!(j.options["query_params"], json!({"type": "x"}));
    assert_eq!(j.options["since"], json!("5-abc"));
    let j = job(json!({"source": "s", "target": "t", "doc_ids": ["a", "b"], "selector": {"k": 1}}));
    assert_eq!(
        (j.options["doc_ids"].clone(), j.options["selector"].clone()),
        (json!(["a", "b"]), json!({"k": 1}))
    );
    let j = job(
        json!({"source": "http://h/db", "target": "t", "filter": "_view", "query_params": {"view": "d/v"}}),
    );
    assert_eq!(j.options["view"], json!("d/v"));
}

#[test]
fn unknown_keys_are_ignored_like_couchdb() {
    let j = job(json!({"source": "s", "target": "t", "owner": "bob", "worker_processes": 4}));
    assert_eq!(j.source.name, "s");
}

#[test]
fn bad_docs_are_invalid_with_a_reason() {
    assert!(reason(json!({"_id": "x", "target": "t"})).contains("Missing `source`"));
    assert!(reason(json!({"source": "s"})).contains("Missing `target`"));
    assert!(reason(json!({"source": 42, "target": "t"})).contains("Invalid `source`"));
    assert!(reason(json!({"source": "http://", "target": "t"})).contains("Invalid `source` url"));
    assert!(reason(json!({"source": "http://host", "target": "t"})).contains("Invalid `source` url"));
    assert!(reason(json!({"source": "ftp://host/db", "target": "t"})).contains("Invalid `source`"));
    assert!(reason(json!({"source": {"url": "nope"}, "target": "t"})).contains("Invalid `source` url"));
    assert!(reason(json!({"source": {"headers": {}}, "target": "t"})).contains("`url`"));
    assert!(reason(json!({"source": "s", "target": "t", "continuous": "yes"})).contains("`continuous`"));
    assert!(reason(json!({"source": "s", "target": "t", "doc_ids": "a"})).contains("`doc_ids`"));
    assert!(reason(json!({"source": "s", "target": "t", "filter": "nofilter"})).contains("Unknown filter"));
    assert!(reason(json!({"source": "s", "target": "t", "filter": "_view"})).contains("query_params.view"));
    let r = reason(
        json!({"source": {"url": "http://h/db", "auth": {"basic": {"username": "u"}}}, "target": "t"}),
    );
    assert!(r.contains("auth.basic"));
}

#[test]
fn design_docs_and_non_objects_are_ignored() {
    assert_eq!(classify(&json!({"_id": "_design/x", "source": "s", "target": "t"})), Classified::Ignore);
    assert_eq!(classify(&json!("text")), Classified::Ignore);
}

#[test]
fn the_definition_ignores_rev_state_fields_and_unknown_keys() {
    let plain = json!({"_id": "a", "source": "s", "target": "t", "selector": {"a": 1, "b": 2}});
    let written = json!({"_id": "a", "_rev": "3-x", "source": "s", "target": "t", "selector": {"b": 2, "a": 1},
                         "_replication_state": "completed", "_replication_stats": {"docs_read": 1},
                         "_replication_state_time": "now", "note": "n"});
    assert_eq!(job_id(&plain), job_id(&written));
    let retargeted = json!({"_id": "a", "source": "s", "target": "other", "selector": {"a": 1, "b": 2}});
    assert_ne!(job_id(&plain), job_id(&retargeted));
    let continuous =
        json!({"_id": "a", "source": "s", "target": "t", "selector": {"a": 1, "b": 2}, "continuous": true});
    assert_ne!(job_id(&plain), job_id(&continuous));
}

#[test]
fn the_job_id_never_depends_on_credentials_in_the_doc_text() {
    // Different spellings of the same endpoint are different definitions (CouchDB restarts
    // them too), but a hash is all that is kept: no password appears in the id.
    let id = job_id(&json!({"source": "http://bob:secret@h/db", "target": "t"}));
    assert_eq!(id.len(), 32);
    assert!(!id.contains("secret"));
}

#[test]
fn a_terminal_doc_is_not_run_again_for_the_same_definition() {
    let doc = json!({"_id": "a", "source": "s", "target": "t", "_replication_state": "completed"});
    assert!(matches!(classify(&doc), Classified::Terminal { ref state, .. } if state == "completed"));
    let mut with_id = doc.clone();
    with_id["_replication_id"] = json!(job_id(&doc));
    assert!(matches!(classify(&with_id), Classified::Terminal { .. }));
    // Edited since its state was written: a new definition runs.
    with_id["target"] = json!("t2");
    assert!(matches!(classify(&with_id), Classified::Run(_)));
    let failed = json!({"_id": "b", "target": "t", "_replication_state": "failed"});
    assert!(matches!(classify(&failed), Classified::Terminal { ref state, .. } if state == "failed"));
    // Any other state (an old `triggered`, `error`) runs.
    let triggered = json!({"_id": "c", "source": "s", "target": "t", "_replication_state": "triggered"});
    assert!(matches!(classify(&triggered), Classified::Run(_)));
}

#[test]
fn labels_lose_their_credentials() {
    assert_eq!(strip_credentials("http://bob:secret@h:5984/db"), "http://h:5984/db");
    assert_eq!(strip_credentials("https://h/db?x=a@b"), "https://h/db?x=a@b");
    assert_eq!(strip_credentials("local"), "local");
}

#[test]
fn the_classification_serialises_flat_with_a_kind_as_the_manager_reads_it() {
    let run = serde_json::to_value(classify(&json!({"source": "s", "target": "http://h/db"}))).unwrap();
    assert_eq!(run["kind"], json!("run"));
    assert_eq!(run["id"].as_str().map(str::len), Some(32));
    assert_eq!(run["source"], json!({"name": "s", "remote": false}));
    assert_eq!(run["target"], json!({"name": "http://h/db", "remote": true}));
    assert_eq!(run["options"]["retry"], json!(true));
    let bad = serde_json::to_value(classify(&json!({"target": "t"}))).unwrap();
    assert_eq!(bad["kind"], json!("invalid"));
    assert!(bad["reason"].as_str().unwrap().contains("source"));
    let done = serde_json::to_value(classify(
        &json!({"source": "s", "target": "t", "_replication_state": "completed"}),
    ));
    assert_eq!(done.unwrap()["kind"], json!("terminal"));
    assert_eq!(
        serde_json::to_value(classify(&json!({"_id": "_design/d"}))).unwrap()["kind"],
        json!("ignore")
    );
}
