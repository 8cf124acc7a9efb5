//! `Database::resolve_conflict`, natively over `MemoryKv`: what `merge` is given, what is
//! written (the merged revision on the winner, every loser deleted, all in one commit), the
//! retry when the doc moves on while `merge` runs, and bad input that changes nothing.
#![cfg(not(target_arch = "wasm32"))]

use futures::executor::block_on;
use serde_json::{json, Value};
use settee::db::{Database, DatabaseOptions};
use settee::error::{Error, Result};
use std::cell::{Cell, RefCell};
use std::rc::Rc;

fn open() -> Database {
    let options =
        DatabaseOptions { adapter: "memory", revs_limit: 1000, new_id: Box::new(|| "generated".into()) };
    Database::new("t", Rc::new(settee::kv::memory::MemoryKv::new()), options)
}

fn parse(s: &str) -> Value {
    serde_json::from_str(s).expect("responses are JSON")
}

/// Doc `doc` with three live replicated branches: 1-c wins, 1-b and 1-a lose.
async fn three_branches(db: &Database) {
    for (rev, n) in [("1-a", 1), ("1-b", 2), ("1-c", 3)] {
        let doc = json!({"_id": "doc", "_rev": rev, "n": n});
        assert_eq!(parse(&db.bulk_docs(vec![doc], false).await.unwrap()), json!([]));
    }
}

async fn seq(db: &Database) -> u64 {
    db.update_seq().await.unwrap()
}

/// A merge that sums `n` over the winner and the losers, and records what it was given.
fn summing(
    seen: &RefCell<Vec<(Value, Vec<Value>)>>,
) -> impl FnMut(Value, Vec<Value>) -> std::future::Ready<Result<Value>> + '_ {
    move |winner: Value, losers: Vec<Value>| {
        seen.borrow_mut().push((winner.clone(), losers.clone()));
        let total: i64 = std::iter::once(&winner).chain(&losers).map(|d| d["n"].as_i64().unwrap()).sum();
        std::future::ready(Ok(json!({"n": total, "merged": true})))
    }
}

#[test]
fn the_merge_is_written_on_the_winner_and_every_loser_is_deleted_in_one_commit() {
    block_on(async {
        let db = open();
        three_branches(&db).await;
        let before = seq(&db).await;
        let seen = RefCell::new(Vec::new());
        let answer = parse(&db.resolve_conflict("doc", summing(&seen)).await.unwrap());
        let (winner, losers) = seen.borrow()[0].clone();
        assert_eq!(winner, json!({"_id": "doc", "_rev": "1-c", "n": 3}), "the winner, without _conflicts");
        assert_eq!(
            losers,
            [json!({"_id": "doc", "_rev": "1-b", "n": 2}), json!({"_id": "doc", "_rev": "1-a", "n": 1})]
        );
        assert_eq!((answer["ok"].clone(), answer["id"].clone()), (json!(true), json!("doc")));
        let rev = answer["rev"].as_str().unwrap();
        assert!(rev.starts_with("2-"), "{rev} is the winner's child");
        let doc = parse(&db.get("doc", &json!({"conflicts": true, "revs": true})).await.unwrap());
        assert_eq!(doc["_rev"], json!(rev));
        assert_eq!(
            (doc["n"].clone(), doc["merged"].clone(), doc.get("_conflicts")),
            (json!(6), json!(true), None)
        );
        assert_eq!(doc["_revisions"]["ids"][1], json!("c"), "on the winner's branch");
        assert_eq!(parse(&db.conflicts(&json!({})).await.unwrap())["rows"], json!([]));
        assert_eq!(seq(&db).await, before + 1, "one commit: the doc's seq moved once");
        let leaves = parse(&db.get("doc", &json!({"open_revs": "all"})).await.unwrap());
        let deleted =
            leaves.as_array().unwrap().iter().filter(|l| l["ok"]["_deleted"] == json!(true)).count();
        assert_eq!((leaves.as_array().unwrap().len(), deleted), (3, 2));
    });
}

#[test]
fn a_doc_without_conflicts_is_answered_with_its_winner_and_not_merged() {
    block_on(async {
        let db = open();
        let rev = parse(&db.put(json!({"_id": "calm", "n": 1}), true).await.unwrap())["rev"].clone();
        let before = seq(&db).await;
        let calls = Cell::new(0);
        let merge = |w: Value, _: Vec<Value>| {
            calls.set(calls.get() + 1);
            std::future::ready(Ok(w))
        };
        let answer = parse(&db.resolve_conflict("calm", merge).await.unwrap());
        assert_eq!(answer, json!({"ok": true, "id": "calm", "rev": rev}));
        assert_eq!((calls.get(), seq(&db).await), (0, before));
    });
}

#[test]
fn a_missing_doc_is_404_and_a_non_object_merge_is_400_with_nothing_written() {
    block_on(async {
        let db = open();
        let e = db.resolve_conflict("nope", |w, _| std::future::ready(Ok(w))).await.unwrap_err();
        assert_eq!((e.status, e.name), (404, "not_found"));
        three_branches(&db).await;
        let before = seq(&db).await;
        for bad in [json!(null), json!([1]), json!("text")] {
            let e = db.resolve_conflict("doc", |_, _| std::future::ready(Ok(bad.clone()))).await.unwrap_err();
            assert_eq!((e.status, e.name), (400, "bad_request"), "{bad}");
        }
        // A merge that fails rejects with its own error.
        let e = db
            .resolve_conflict("doc", |_, _| std::future::ready(Err(Error::forbidden("no"))))
            .await
            .unwrap_err();
        assert_eq!(e.status, 403);
        // A body with an unknown `_` member fails before anything is written too.
        let e =
            db.resolve_conflict("doc", |_, _| std::future::ready(Ok(json!({"_bad": 1})))).await.unwrap_err();
        assert_eq!(e.status, 400);
        assert_eq!(seq(&db).await, before);
        let rows = parse(&db.conflicts(&json!({})).await.unwrap())["rows"].clone();
        assert_eq!(rows[0]["conflicts"], json!(["1-b", "1-a"]));
    });
}

#[test]
fn when_the_doc_moves_on_during_the_merge_it_is_read_and_merged_again() {
    block_on(async {
        let db = open();
        three_branches(&db).await;
        let calls = Cell::new(0);
        let merge = |winner: Value, losers: Vec<Value>| {
            calls.set(calls.get() + 1);
            let db = &db;
            let first = calls.get() == 1;
            async move {
                if first {
                    // Another writer edits the winner while the app merges.
                    db.put(json!({"_id": "doc", "_rev": "1-c", "n": 10}), true).await?;
                }
                let total: i64 =
                    std::iter::once(&winner).chain(&losers).map(|d| d["n"].as_i64().unwrap()).sum();
                Ok(json!({"n": total}))
            }
        };
        let answer = parse(&db.resolve_conflict("doc", merge).await.unwrap());
        assert_eq!(calls.get(), 2, "merged again on the new winner");
        assert!(answer["rev"].as_str().unwrap().starts_with("3-"));
        let doc = parse(&db.get("doc", &json!({"conflicts": true})).await.unwrap());
        assert_eq!((doc["n"].clone(), doc.get("_conflicts")), (json!(13), None));
    });
}

#[test]
fn a_doc_that_keeps_moving_on_gives_up_with_409_and_deletes_no_loser() {
    block_on(async {
        let db = open();
        three_branches(&db).await;
        let calls = Cell::new(0);
        let merge = |winner: Value, _: Vec<Value>| {
            calls.set(calls.get() + 1);
            let db = &db;
            async move {
                let rev = winner["_rev"].clone();
                db.put(json!({"_id": "doc", "_rev": rev, "n": 0}), true).await?;
                Ok(json!({"n": 1}))
            }
        };
        let e = db.resolve_conflict("doc", merge).await.unwrap_err();
        assert_eq!((e.status, e.name), (409, "conflict"));
        assert_eq!(calls.get(), 5);
        let rows = parse(&db.conflicts(&json!({})).await.unwrap())["rows"].clone();
        assert_eq!(rows[0]["conflicts"], json!(["1-b", "1-a"]), "no loser was deleted without the merge");
    });
}
