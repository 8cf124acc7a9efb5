//! The database conformance suite: the same bodies run natively over `MemoryKv` and the LSM
//! on in-memory records (`tests/db_native.rs`), and in headless Chromium over IndexedDB
//! (`tests/db_web.rs`). Each body takes a fresh, empty database.

#![allow(dead_code)]

use serde_json::{json, Value};
use settee::db::Database;

pub fn parse(s: &str) -> Value {
    serde_json::from_str(s).expect("responses are JSON")
}

pub async fn put(db: &Database, doc: Value) -> String {
    parse(&db.put(doc, true).await.expect("put succeeds"))["rev"].as_str().unwrap().to_string()
}

pub async fn get(db: &Database, id: &str, opts: Value) -> Value {
    parse(&db.get(id, &opts).await.expect("get succeeds"))
}

async fn info(db: &Database) -> Value {
    parse(&db.info().await.unwrap())
}

async fn all_ids(db: &Database, opts: Value) -> Vec<String> {
    let r = parse(&db.all_docs(&opts).await.unwrap());
    r["rows"].as_array().unwrap().iter().map(|r| r["key"].as_str().unwrap().to_string()).collect()
}

pub async fn put_then_get_returns_the_doc_with_its_id_and_rev(db: Database) {
    let rev = put(&db, json!({"_id": "a", "text": "hi", "n": [1, 2]})).await;
    assert!(rev.starts_with("1-"));
    let doc = get(&db, "a", json!({})).await;
    assert_eq!(doc, json!({"_id": "a", "_rev": rev, "text": "hi", "n": [1, 2]}));
}

pub async fn field_order_is_kept(db: Database) {
    put(&db, json!({"_id": "a", "z": 1, "a": 2, "m": 3})).await;
    let doc = get(&db, "a", json!({})).await;
    let keys: Vec<&String> = doc.as_object().unwrap().keys().collect();
    assert_eq!(keys, vec!["_id", "_rev", "z", "a", "m"]);
}

pub async fn a_stale_rev_is_a_409_conflict(db: Database) {
    let r1 = put(&db, json!({"_id": "a", "v": 1})).await;
    put(&db, json!({"_id": "a", "_rev": r1, "v": 2})).await;
    let e = db.put(json!({"_id": "a", "_rev": r1, "v": 3}), true).await.unwrap_err();
    assert_eq!((e.status, e.name, e.message.as_str()), (409, "conflict", "Document update conflict"));
    assert_eq!(get(&db, "a", json!({})).await["v"], 2);
}

pub async fn creating_an_existing_id_without_a_rev_conflicts(db: Database) {
    put(&db, json!({"_id": "a"})).await;
    assert_eq!(db.put(json!({"_id": "a"}), true).await.unwrap_err().status, 409);
}

pub async fn a_rev_on_a_missing_doc_conflicts(db: Database) {
    assert_eq!(db.put(json!({"_id": "a", "_rev": "1-abc"}), true).await.unwrap_err().status, 409);
}

pub async fn the_same_edit_gives_the_same_rev(db: Database) {
    let r = put(&db, json!({"_id": "a", "v": 1})).await;
    let other = settee_memory_db();
    let r2 = put(&other, json!({"_id": "a", "v": 1})).await;
    assert_eq!(r, r2);
    let r3 = put(&other, json!({"_id": "b", "v": 2})).await;
    assert_ne!(r.split('-').nth(1), r3.split('-').nth(1));
}

pub fn settee_memory_db() -> Database {
    use settee::db::DatabaseOptions;
    use std::cell::Cell;
    use std::rc::Rc;
    let counter = Rc::new(Cell::new(0u64));
    Database::new(
        "mem",
        Rc::new(settee::kv::memory::MemoryKv::new()),
        DatabaseOptions {
            adapter: "memory",
            revs_limit: 1000,
            new_id: Box::new(move || {
                counter.set(counter.get() + 1);
                format!("id{:08}", counter.get())
            }),
        },
    )
}

pub async fn get_of_a_deleted_doc_is_404_deleted(db: Database) {
    let r = put(&db, json!({"_id": "a"})).await;
    let del = parse(&db.remove("a", &r).await.unwrap());
    assert!(del["rev"].as_str().unwrap().starts_with("2-"));
    let e = db.get("a", &json!({})).await.unwrap_err();
    assert_eq!((e.status, e.name, e.reason.as_deref()), (404, "not_found", Some("deleted")));
    let e = db.get("nope", &json!({})).await.unwrap_err();
    assert_eq!((e.status, e.reason.as_deref()), (404, Some("missing")));
    // The deleted revision itself can still be read.
    let d = get(&db, "a", json!({"rev": del["rev"]})).await;
    assert_eq!(d["_deleted"], true);
}

pub async fn recreating_a_deleted_doc_extends_its_branch(db: Database) {
    let r = put(&db, json!({"_id": "a"})).await;
    db.remove("a", &r).await.unwrap();
    let r3 = put(&db, json!({"_id": "a", "back": true})).await;
    assert!(r3.starts_with("3-"), "{r3}");
    assert_eq!(get(&db, "a", json!({})).await["back"], true);
    assert_eq!(info(&db).await["doc_count"], 1);
}

pub async fn post_makes_an_id_and_put_needs_one(db: Database) {
    let r = parse(&db.post(json!({"x": 1})).await.unwrap());
    let id = r["id"].as_str().unwrap();
    assert!(!id.is_empty());
    assert_eq!(get(&db, id, json!({})).await["x"], 1);
    let e = db.put(json!({"x": 1}), true).await.unwrap_err();
    assert_eq!((e.status, e.name), (412, "missing_id"));
}

/// A conflict or a bad id is that doc's own result; a malformed doc (no object, an unknown `_`
/// member, a bad `_rev`) rejects the whole call, as CouchDB's `_bulk_docs` does.
pub async fn one_bad_doc_never_aborts_the_rest_of_a_bulk(db: Database) {
    let r1 = put(&db, json!({"_id": "taken"})).await;
    let res = parse(&db.bulk_docs(vec![json!({"_id": "x"}), json!({"_id": "taken"})], true).await.unwrap());
    let res = res.as_array().unwrap();
    assert_eq!(res.len(), 2);
    assert_eq!(res[0]["ok"], true);
    assert_eq!((res[1]["status"].clone(), res[1]["name"].clone()), (json!(409), json!("conflict")));
    assert_eq!(res[1]["id"], "taken", "an error row names its doc");
    assert_eq!(all_ids(&db, json!({})).await, vec!["taken", "x"]);
    assert_eq!(get(&db, "taken", json!({})).await["_rev"], r1);
    // Malformed docs reject the whole call, as CouchDB's `_bulk_docs` does (it validates every
    // doc, ids included, before writing any).
    for malformed in
        [json!("nope"), json!({"_id": "y", "_zap": 1}), json!({"_id": "_nope"}), json!({"_id": 5})]
    {
        let e = db.bulk_docs(vec![json!({"_id": "z"}), malformed], true).await.unwrap_err();
        assert_eq!(e.status, 400);
    }
    assert_eq!(all_ids(&db, json!({})).await, vec!["taken", "x"], "a rejected bulk writes nothing");
}

pub async fn two_edits_of_one_id_in_a_bulk_see_each_other(db: Database) {
    let res = parse(
        &db.bulk_docs(vec![json!({"_id": "a", "v": 1}), json!({"_id": "a", "v": 2})], true).await.unwrap(),
    );
    assert_eq!(res[0]["ok"], true);
    assert_eq!(res[1]["status"], 409);
    assert_eq!(get(&db, "a", json!({})).await["v"], 1);
    assert_eq!(info(&db).await["update_seq"], 1);
}

/// `new_edits: false` with two branches: the winner is the higher hash at the same depth.
pub async fn replicated_branches_make_conflicts_with_couchdbs_winner(db: Database) {
    let docs = vec![
        json!({"_id": "c", "_rev": "2-bbb", "v": "b", "_revisions": {"start": 2, "ids": ["bbb", "aaa"]}}),
        json!({"_id": "c", "_rev": "2-ccc", "v": "c", "_revisions": {"start": 2, "ids": ["ccc", "aaa"]}}),
    ];
    db.bulk_docs(docs.clone(), false).await.unwrap();
    // Replays are no-ops.
    db.bulk_docs(docs, false).await.unwrap();
    let doc = get(&db, "c", json!({"conflicts": true})).await;
    assert_eq!(doc["_rev"], "2-ccc");
    assert_eq!(doc["v"], "c");
    assert_eq!(doc["_conflicts"], json!(["2-bbb"]));
    // Deleting the winner promotes the loser.
    db.remove("c", "2-ccc").await.unwrap();
    let doc = get(&db, "c", json!({"conflicts": true, "deleted_conflicts": true})).await;
    assert_eq!(doc["_rev"], "2-bbb");
    assert_eq!(doc["v"], "b");
    assert!(doc.get("_conflicts").is_none());
    assert!(doc["_deleted_conflicts"][0].as_str().unwrap().starts_with("3-"));
    assert_eq!(info(&db).await["update_seq"], 2);
    // Bodies follow the winner around: the old winner's body is still readable by rev.
    assert_eq!(get(&db, "c", json!({"rev": "2-ccc"})).await["v"], "c");
    let all = parse(&db.get("c", &json!({"open_revs": "all"})).await.unwrap());
    assert_eq!(all[0]["ok"]["v"], "b");
    // And an edit of the new winner keeps the previous body under its rev.
    let r3 = put(&db, json!({"_id": "c", "_rev": "2-bbb", "v": "b2"})).await;
    assert_eq!(get(&db, "c", json!({})).await["_rev"], r3);
    assert_eq!(get(&db, "c", json!({"rev": "2-bbb"})).await["v"], "b");
}

pub async fn a_longer_branch_beats_a_higher_hash(db: Database) {
    db.bulk_docs(vec![json!({"_id": "d", "_rev": "1-zzz"})], false).await.unwrap();
    db.bulk_docs(
        vec![json!({"_id": "d", "_rev": "2-aaa", "_revisions": {"start": 2, "ids": ["aaa", "bbb"]}})],
        false,
    )
    .await
    .unwrap();
    assert_eq!(get(&db, "d", json!({})).await["_rev"], "2-aaa");
}

pub async fn get_returns_revisions_revs_info_and_old_revs(db: Database) {
    let r1 = put(&db, json!({"_id": "a", "v": 1})).await;
    let r2 = put(&db, json!({"_id": "a", "_rev": r1, "v": 2})).await;
    let doc = get(&db, "a", json!({"revs": true, "revs_info": true})).await;
    let h = |r: &str| r.split_once('-').unwrap().1.to_string();
    assert_eq!(doc["_revisions"], json!({"start": 2, "ids": [h(&r2), h(&r1)]}));
    assert_eq!(
        doc["_revs_info"],
        json!([{"rev": r2, "status": "available"}, {"rev": r1, "status": "available"}])
    );
    assert_eq!(get(&db, "a", json!({"rev": r1})).await["v"], 1);
    assert_eq!(db.get("a", &json!({"rev": "9-nope"})).await.unwrap_err().status, 404);
    // latest: an old rev resolves to the leaf that descends from it.
    assert_eq!(get(&db, "a", json!({"rev": r1, "latest": true})).await["_rev"], r2);
}

pub async fn open_revs_lists_leaves_and_reports_missing(db: Database) {
    db.bulk_docs(vec![json!({"_id": "c", "_rev": "1-a"}), json!({"_id": "c", "_rev": "1-b", "x": 1})], false)
        .await
        .unwrap();
    let all = parse(&db.get("c", &json!({"open_revs": "all"})).await.unwrap());
    let revs: Vec<&str> = all.as_array().unwrap().iter().map(|r| r["ok"]["_rev"].as_str().unwrap()).collect();
    assert_eq!(revs, vec!["1-b", "1-a"]);
    let some = parse(&db.get("c", &json!({"open_revs": ["1-a", "1-zz"]})).await.unwrap());
    assert_eq!(some, json!([{"ok": {"_id": "c", "_rev": "1-a"}}, {"missing": "1-zz"}]));
}

pub async fn bulk_get_and_revs_diff_answer_like_couchdb(db: Database) {
    let r1 = put(&db, json!({"_id": "a", "v": 1})).await;
    let got = parse(
        &db.bulk_get(&json!({"docs": [{"id": "a", "rev": r1}, {"id": "zz"}], "revs": true})).await.unwrap(),
    );
    let results = got["results"].as_array().unwrap();
    assert_eq!(results[0]["docs"][0]["ok"]["v"], 1);
    assert_eq!(results[0]["docs"][0]["ok"]["_revisions"]["start"], 1);
    assert!(results[1]["docs"][0]["error"].is_object());
    let diff = parse(&db.revs_diff(&json!({"a": [r1, "2-x"], "b": ["1-y"]})).await.unwrap());
    assert_eq!(diff["a"]["missing"], json!(["2-x"]));
    assert_eq!(diff["b"]["missing"], json!(["1-y"]));
    let none = parse(&db.revs_diff(&json!({"a": [r1]})).await.unwrap());
    assert_eq!(none, json!({}));
}

pub async fn all_docs_ranges_follow_couchdb(db: Database) {
    for id in ["a", "b", "c", "d", "e"] {
        put(&db, json!({"_id": id, "n": id})).await;
    }
    assert_eq!(all_ids(&db, json!({"startkey": "b", "endkey": "d"})).await, ["b", "c", "d"]);
    assert_eq!(
        all_ids(&db, json!({"startkey": "b", "endkey": "d", "inclusive_end": false})).await,
        ["b", "c"]
    );
    assert_eq!(
        all_ids(&db, json!({"startkey": "d", "endkey": "b", "descending": true})).await,
        ["d", "c", "b"]
    );
    assert_eq!(all_ids(&db, json!({"descending": true, "limit": 2})).await, ["e", "d"]);
    assert_eq!(all_ids(&db, json!({"skip": 1, "limit": 2})).await, ["b", "c"]);
    assert_eq!(all_ids(&db, json!({"key": "c"})).await, ["c"]);
    assert_eq!(all_ids(&db, json!({"limit": 0})).await, Vec::<String>::new());
    let r = parse(&db.all_docs(&json!({"skip": 1, "limit": 1, "include_docs": true})).await.unwrap());
    assert_eq!(r["total_rows"], 5);
    assert_eq!(r["offset"], 1);
    assert_eq!(r["rows"][0]["doc"]["n"], "b");
    assert_eq!(r["rows"][0]["value"]["rev"], r["rows"][0]["doc"]["_rev"]);
}

pub async fn all_docs_keys_report_deleted_and_missing_rows(db: Database) {
    put(&db, json!({"_id": "a"})).await;
    let rb = put(&db, json!({"_id": "b"})).await;
    let del = parse(&db.remove("b", &rb).await.unwrap());
    let r = parse(&db.all_docs(&json!({"keys": ["b", "zz", "a"], "include_docs": true})).await.unwrap());
    let rows = r["rows"].as_array().unwrap();
    assert_eq!(
        rows[0],
        json!({"id": "b", "key": "b", "value": {"rev": del["rev"], "deleted": true}, "doc": null})
    );
    assert_eq!(rows[1], json!({"key": "zz", "error": "not_found"}));
    assert_eq!(rows[2]["doc"]["_id"], "a");
    assert_eq!(r["total_rows"], 1);
    // Deleted docs are not in range queries.
    assert_eq!(all_ids(&db, json!({})).await, ["a"]);
}

pub async fn changes_list_each_doc_once_at_its_latest_seq(db: Database) {
    let ra = put(&db, json!({"_id": "a"})).await;
    put(&db, json!({"_id": "b"})).await;
    let ra2 = put(&db, json!({"_id": "a", "_rev": ra, "v": 2})).await;
    let c = parse(&db.changes(&json!({})).await.unwrap());
    let ids: Vec<(&str, u64)> = c["results"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| (r["id"].as_str().unwrap(), r["seq"].as_u64().unwrap()))
        .collect();
    assert_eq!(ids, vec![("b", 2), ("a", 3)]);
    assert_eq!(c["last_seq"], 3);
    assert_eq!(c["results"][1]["changes"], json!([{"rev": ra2}]));
    let since = parse(&db.changes(&json!({"since": 2, "include_docs": true})).await.unwrap());
    assert_eq!(since["results"].as_array().unwrap().len(), 1);
    assert_eq!(since["results"][0]["doc"]["v"], 2);
    let lim = parse(&db.changes(&json!({"limit": 1})).await.unwrap());
    assert_eq!((lim["results"].as_array().unwrap().len(), lim["last_seq"].clone()), (1, json!(2)));
    let desc = parse(&db.changes(&json!({"descending": true})).await.unwrap());
    assert_eq!(desc["results"][0]["id"], "a");
    let now = parse(&db.changes(&json!({"since": "now"})).await.unwrap());
    assert_eq!((now["results"].as_array().unwrap().len(), now["last_seq"].clone()), (0, json!(3)));
    let only_b = parse(&db.changes(&json!({"doc_ids": ["b"]})).await.unwrap());
    assert_eq!(only_b["results"].as_array().unwrap().len(), 1);
    assert_eq!(only_b["results"][0]["id"], "b");
}

pub async fn changes_show_deletions_and_all_leaves(db: Database) {
    db.bulk_docs(vec![json!({"_id": "c", "_rev": "1-a"}), json!({"_id": "c", "_rev": "1-b"})], false)
        .await
        .unwrap();
    let r = put(&db, json!({"_id": "gone"})).await;
    db.remove("gone", &r).await.unwrap();
    let c = parse(
        &db.changes(&json!({"style": "all_docs", "conflicts": true, "include_docs": true})).await.unwrap(),
    );
    let rows = c["results"].as_array().unwrap();
    assert_eq!(rows[0]["changes"], json!([{"rev": "1-b"}, {"rev": "1-a"}]));
    assert_eq!(rows[0]["doc"]["_conflicts"], json!(["1-a"]));
    assert_eq!(rows[1]["id"], "gone");
    assert_eq!(rows[1]["deleted"], true);
}

pub async fn local_docs_stay_out_of_changes_and_all_docs(db: Database) {
    let r = parse(&db.put(json!({"_id": "_local/cp", "seq": 1}), true).await.unwrap());
    assert_eq!(r["rev"], "0-1");
    let e = db.put(json!({"_id": "_local/cp", "seq": 2}), true).await.unwrap_err();
    assert_eq!(e.status, 409);
    let r2 = parse(&db.put(json!({"_id": "_local/cp", "_rev": "0-1", "seq": 2}), true).await.unwrap());
    assert_eq!(r2["rev"], "0-2");
    assert_eq!(get(&db, "_local/cp", json!({})).await, json!({"_id": "_local/cp", "_rev": "0-2", "seq": 2}));
    assert_eq!(all_ids(&db, json!({})).await.len(), 0);
    assert_eq!(parse(&db.changes(&json!({})).await.unwrap())["results"], json!([]));
    assert_eq!(info(&db).await["update_seq"], 0);
    db.remove("_local/cp", "0-2").await.unwrap();
    assert_eq!(db.get("_local/cp", &json!({})).await.unwrap_err().status, 404);
}

pub async fn info_counts_live_docs_and_seqs(db: Database) {
    let r = put(&db, json!({"_id": "a"})).await;
    put(&db, json!({"_id": "b"})).await;
    db.remove("a", &r).await.unwrap();
    let i = info(&db).await;
    assert_eq!((i["doc_count"].clone(), i["update_seq"].clone()), (json!(1), json!(3)));
}

pub async fn compact_drops_old_bodies_and_keeps_leaves(db: Database) {
    let r1 = put(&db, json!({"_id": "a", "v": 1})).await;
    let r2 = put(&db, json!({"_id": "a", "_rev": r1, "v": 2})).await;
    db.compact().await.unwrap();
    assert_eq!(db.get("a", &json!({"rev": r1})).await.unwrap_err().status, 404);
    let doc = get(&db, "a", json!({"revs_info": true})).await;
    assert_eq!(doc["_rev"], r2);
    assert_eq!(doc["_revs_info"][1], json!({"rev": r1, "status": "missing"}));
}

pub async fn bad_input_is_rejected_and_changes_nothing(db: Database) {
    put(&db, json!({"_id": "keep"})).await;
    let before = (info(&db).await, parse(&db.all_docs(&json!({"include_docs": true})).await.unwrap()));
    let bad_docs = [
        json!("string"),
        json!(42),
        json!([1]),
        Value::Null,
        json!({"_id": ""}),
        json!({"_id": 7}),
        json!({"_id": "_foo"}),
        json!({"_id": "a", "_rev": "abc"}),
        json!({"_id": "a", "_rev": "1-"}),
        json!({"_id": "a", "_foo": 1}),
        json!({"_id": "a", "_deleted": "yes"}),
    ];
    for d in bad_docs {
        let e = db.put(d.clone(), true).await.unwrap_err();
        assert!((400..500).contains(&e.status), "{d} gave {e}");
    }
    assert_eq!(db.all_docs(&json!({"limit": -1})).await.unwrap_err().status, 400);
    assert_eq!(db.get("keep", &json!({"revs": "yes"})).await.unwrap_err().status, 400);
    assert_eq!(db.changes(&json!({"since": "soon"})).await.unwrap_err().status, 400);
    assert_eq!(db.all_docs(&json!("opts")).await.unwrap_err().status, 400);
    let after = (info(&db).await, parse(&db.all_docs(&json!({"include_docs": true})).await.unwrap()));
    assert_eq!(before, after);
}

pub async fn revs_limit_stems_old_revisions(db: Database) {
    // The suite's databases use the default limit; build a small one over the same store kind.
    let _ = db;
    let small = {
        use settee::db::DatabaseOptions;
        use std::rc::Rc;
        Database::new(
            "small",
            Rc::new(settee::kv::memory::MemoryKv::new()),
            DatabaseOptions { adapter: "memory", revs_limit: 3, new_id: Box::new(|| "x".into()) },
        )
    };
    let mut rev = put(&small, json!({"_id": "a", "v": 0})).await;
    let first = rev.clone();
    for v in 1..6 {
        rev = put(&small, json!({"_id": "a", "_rev": rev, "v": v})).await;
    }
    let doc = get(&small, "a", json!({"revs": true})).await;
    assert_eq!(doc["_revisions"]["ids"].as_array().unwrap().len(), 3);
    assert_eq!(doc["_revisions"]["start"], 6);
    assert_eq!(small.get("a", &json!({"rev": first})).await.unwrap_err().status, 404);
}

pub async fn a_big_bulk_is_one_commit(db: Database) {
    let docs: Vec<Value> = (0..10_000).map(|i| json!({"_id": format!("doc{i:05}"), "n": i})).collect();
    let res = parse(&db.bulk_docs(docs, true).await.unwrap());
    assert_eq!(res.as_array().unwrap().len(), 10_000);
    let i = info(&db).await;
    assert_eq!((i["doc_count"].clone(), i["update_seq"].clone()), (json!(10_000), json!(10_000)));
    let r = parse(&db.all_docs(&json!({"include_docs": true, "startkey": "doc09990"})).await.unwrap());
    assert_eq!(r["rows"].as_array().unwrap().len(), 10);
    assert_eq!(r["rows"][9]["doc"]["n"], 9999);
    let c = parse(&db.changes(&json!({"since": 9_995})).await.unwrap());
    assert_eq!(c["results"].as_array().unwrap().len(), 5);
}

pub async fn concurrent_writes_get_the_rows_serial_calls_would(db: Database) {
    use futures::future::{join_all, FutureExt};
    let r1 = put(&db, json!({"_id": "a", "v": 1})).await;
    // Started together: on IndexedDB all but the first queue behind it and commit as groups.
    let calls = vec![
        db.put(json!({"_id": "a", "_rev": r1, "v": 2}), true).boxed_local(),
        db.put(json!({"_id": "a", "_rev": r1, "v": 3}), true).boxed_local(),
        db.put(json!({"_id": "b"}), true).boxed_local(),
        db.put(json!({"_id": "b"}), true).boxed_local(),
        db.put(json!({"_id": "_local/l", "v": 1}), true).boxed_local(),
        db.put(json!({"_id": 5}), true).boxed_local(),
        db.bulk_docs(vec![json!({"_id": "c"}), json!({"_id": "a", "_rev": r1})], true).boxed_local(),
        // A replicated write between two normal ones: the update after it needs its rev.
        db.put(json!({"_id": "d", "_rev": "1-x", "v": 1}), false).boxed_local(),
        db.put(json!({"_id": "d", "_rev": "1-x", "v": 2}), true).boxed_local(),
    ];
    let out = join_all(calls).await;
    let status = |r: &settee::error::Result<String>| match r {
        Ok(_) => 200,
        Err(e) => e.status,
    };
    assert_eq!(out.iter().map(status).collect::<Vec<_>>(), [200, 409, 200, 409, 200, 400, 200, 200, 200]);
    let bulk = parse(out[6].as_ref().unwrap());
    assert_eq!((bulk[0]["ok"].clone(), bulk[1]["status"].clone()), (json!(true), json!(409)));
    assert_eq!(get(&db, "a", json!({})).await["v"], 2);
    assert_eq!(get(&db, "d", json!({})).await["_rev"].as_str().unwrap()[..2], *"2-");
    assert_eq!(get(&db, "_local/l", json!({})).await["v"], 1);
    let i = info(&db).await;
    assert_eq!((i["doc_count"].clone(), i["update_seq"].clone()), (json!(4), json!(6)));
}

pub async fn bulk_docs_as_text_gives_what_bulk_docs_of_values_gives(db: Database) {
    // The text path (what JS `bulkDocs` uses) against the `Value` path on another database.
    let other = settee_memory_db();
    let rounds = [
        json!([
            {"_id": "a", "n": 1, "f": 0.5, "big": 1e21, "s": "q\"\n\u{1}/", "nested": {"z": [1, {"y": null}]}},
            {"_id": "b", "_deleted": false, "t": true},
            {"_id": "_local/l", "v": 1},
            {"_id": "d", "_attachments": {"t.txt": {"content_type": "text/plain", "data": "aGk="}}},
            {"_id": "a", "again": true}
        ]),
        json!([{"_id": "b", "_rev": "1-nope"}, {"_id": "e", "x": -7}]),
    ];
    for docs in rounds {
        let text = db.bulk_docs_text(&docs.to_string(), true).await.unwrap();
        let values = other.bulk_docs(docs.as_array().unwrap().clone(), true).await.unwrap();
        assert_eq!(parse(&text), parse(&values));
    }
    for id in ["a", "b", "d", "e", "_local/l"] {
        assert_eq!(get(&db, id, json!({})).await, get(&other, id, json!({})).await, "{id}");
    }
    for malformed in [json!([{"_id": "c", "_foo": 1}]), json!(["not a doc"]), json!([{"_id": 5}])] {
        let text = db.bulk_docs_text(&malformed.to_string(), true).await.unwrap_err();
        let values = other.bulk_docs(malformed.as_array().unwrap().clone(), true).await.unwrap_err();
        assert_eq!(text, values);
    }
    let bad = db.bulk_docs_text("{\"docs\": []}", true).await.unwrap_err();
    assert_eq!((bad.status, bad.name), (400, "bad_request"));
}

/// Expands to one test per suite body; `$make` is an async expression giving a fresh db.
#[macro_export]
macro_rules! settee_db_suite {
    ($kind:ident, $make:expr) => {
        $crate::settee_db_suite!(@each $kind, $make,
            put_then_get_returns_the_doc_with_its_id_and_rev,
            field_order_is_kept,
            a_stale_rev_is_a_409_conflict,
            creating_an_existing_id_without_a_rev_conflicts,
            a_rev_on_a_missing_doc_conflicts,
            the_same_edit_gives_the_same_rev,
            get_of_a_deleted_doc_is_404_deleted,
            recreating_a_deleted_doc_extends_its_branch,
            post_makes_an_id_and_put_needs_one,
            one_bad_doc_never_aborts_the_rest_of_a_bulk,
            two_edits_of_one_id_in_a_bulk_see_each_other,
            replicated_branches_make_conflicts_with_couchdbs_winner,
            a_longer_branch_beats_a_higher_hash,
            get_returns_revisions_revs_info_and_old_revs,
            open_revs_lists_leaves_and_reports_missing,
            bulk_get_and_revs_diff_answer_like_couchdb,
            all_docs_ranges_follow_couchdb,
            all_docs_keys_report_deleted_and_missing_rows,
            changes_list_each_doc_once_at_its_latest_seq,
            changes_show_deletions_and_all_leaves,
            local_docs_stay_out_of_changes_and_all_docs,
            info_counts_live_docs_and_seqs,
            compact_drops_old_bodies_and_keeps_leaves,
            bad_input_is_rejected_and_changes_nothing,
            revs_limit_stems_old_revisions,
            a_big_bulk_is_one_commit,
            concurrent_writes_get_the_rows_serial_calls_would,
            bulk_docs_as_text_gives_what_bulk_docs_of_values_gives
        );
    };
    (@each native, $make:expr, $($name:ident),*) => {
        $(
            #[test]
            fn $name() {
                futures::executor::block_on(async { $crate::common::db_suite::$name($make.await).await });
            }
        )*
    };
    (@each web, $make:expr, $($name:ident),*) => {
        $(
            #[wasm_bindgen_test::wasm_bindgen_test]
            async fn $name() {
                $crate::common::db_suite::$name($make.await).await;
            }
        )*
    };
}
