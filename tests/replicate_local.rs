//! Replication between two memory databases through `LocalPeer`, natively: the whole protocol
//! (checkpoints, resume, batching, filters, faults) without a server.
#![cfg(not(target_arch = "wasm32"))]

mod common;
#[path = "common/replicate_helpers.rs"]
mod helpers;

use futures::executor::block_on;
use helpers::{mem_db, parse, put, put_many, snapshot, Counting, Denying, Fault, Faulty, Yielding};
use serde_json::{json, Value};
use settee::db::Database;
use settee::replicate::{
    replicate, sync, Filter, LocalPeer, Peer, ReplicateOptions, ReplicationEvent, ReplicationResult, Seq,
    Status,
};
use std::cell::RefCell;
use std::rc::Rc;

fn opts(batch_size: usize) -> ReplicateOptions {
    ReplicateOptions { batch_size, ..ReplicateOptions::default() }
}

async fn run(source: &dyn Peer, target: &dyn Peer, o: &ReplicateOptions) -> ReplicationResult {
    replicate(source, target, o).await.expect("replication succeeds")
}

async fn get(db: &Database, id: &str) -> Value {
    parse(&db.get(id, &json!({"conflicts": true})).await.unwrap())
}

/// Leaves on `db` across all docs: what a full replication of it must write.
async fn leaf_count(db: &Database) -> u64 {
    let c = parse(&db.changes(&json!({"style": "all_docs"})).await.unwrap());
    c["results"].as_array().unwrap().iter().map(|r| r["changes"].as_array().unwrap().len() as u64).sum()
}

/// Updates, deletions, a re-creation, and a branch written with `new_edits: false`.
async fn seed_history(db: &Database) {
    put(db, json!({"_id": "plain", "v": 1})).await;
    let mut rev = put(db, json!({"_id": "updated", "v": 1})).await;
    for v in 2..=4 {
        rev = put(db, json!({"_id": "updated", "_rev": rev, "v": v})).await;
    }
    let r = put(db, json!({"_id": "deleted"})).await;
    db.remove("deleted", &r).await.unwrap();
    let r = put(db, json!({"_id": "back"})).await;
    let r = parse(&db.remove("back", &r).await.unwrap())["rev"].as_str().unwrap().to_string();
    put(db, json!({"_id": "back", "_rev": r, "again": true})).await;
    let r = put(db, json!({"_id": "forked", "v": 1})).await;
    put(db, json!({"_id": "forked", "_rev": r, "v": "main"})).await;
    let base = r.split_once('-').unwrap().1.to_string();
    let branch = json!({"_id": "forked", "_rev": "2-branch", "_revisions": {"start": 2, "ids": ["branch", base]}, "v": "b"});
    db.bulk_docs(vec![branch], false).await.unwrap();
    put(db, json!({"_id": "_design/app", "views": {}})).await;
}

#[test]
fn a_push_copies_every_leaf_with_its_history_conflicts_and_deletions() {
    block_on(async {
        let (a, b) = (mem_db("a"), mem_db("b"));
        seed_history(&a).await;
        let r = run(&LocalPeer::new(a.clone()), &LocalPeer::new(b.clone()), &opts(3)).await;
        assert!(r.ok);
        assert_eq!(r.status, Status::Complete);
        assert_eq!(r.docs_read, leaf_count(&a).await);
        assert_eq!(r.docs_written, r.docs_read);
        assert_eq!((r.doc_write_failures, r.errors.len()), (0, 0));
        assert_eq!(r.last_seq, Seq(json!(a.update_seq().await.unwrap())));
        assert_eq!(snapshot(&a).await, snapshot(&b).await);
        assert_eq!(get(&a, "forked").await["_conflicts"].as_array().unwrap().len(), 1);
        assert_eq!(get(&b, "forked").await, get(&a, "forked").await);
        assert_eq!(b.get("deleted", &Value::Null).await.unwrap_err().reason.as_deref(), Some("deleted"));
    });
}

#[test]
fn a_pull_into_a_database_with_its_own_edits_makes_the_same_conflicts_on_both_sides() {
    block_on(async {
        let (remote, local) = (mem_db("remote"), mem_db("local"));
        seed_history(&remote).await;
        put(&remote, json!({"_id": "clash", "by": "remote"})).await;
        put(&local, json!({"_id": "clash", "by": "local"})).await;
        let r = put(&remote, json!({"_id": "clash-del", "by": "remote"})).await;
        let l = put(&local, json!({"_id": "clash-del", "by": "local"})).await;
        local.remove("clash-del", &l).await.unwrap();
        let _ = r;
        let (rp, lp) = (LocalPeer::new(remote.clone()), LocalPeer::new(local.clone()));
        run(&rp, &lp, &opts(4)).await;
        run(&lp, &rp, &opts(4)).await;
        assert_eq!(snapshot(&remote).await, snapshot(&local).await);
        let (on_remote, on_local) = (get(&remote, "clash").await, get(&local, "clash").await);
        assert_eq!(on_remote, on_local, "same winner and _conflicts");
        assert_eq!(on_local["_conflicts"].as_array().unwrap().len(), 1);
        // The live branch beats the deletion, whichever side made it.
        assert_eq!(get(&local, "clash-del").await["by"], "remote");
    });
}

#[test]
fn a_second_run_resumes_from_the_checkpoint_and_costs_a_constant_number_of_calls() {
    block_on(async {
        let mut costs = Vec::new();
        for n in [20, 400] {
            let (a, b) = (mem_db("a"), mem_db("b"));
            put_many(&a, "d", n).await;
            let (src, tgt) =
                (Counting::new(LocalPeer::new(a.clone())), Counting::new(LocalPeer::new(b.clone())));
            let first = run(&src, &tgt, &opts(50)).await;
            assert_eq!(first.docs_written, n as u64);
            src.reset();
            tgt.reset();
            let again = run(&src, &tgt, &opts(50)).await;
            assert_eq!((again.docs_read, again.docs_written), (0, 0));
            assert_eq!(again.last_seq, first.last_seq);
            assert_eq!(
                *src.sinces.borrow(),
                vec![first.last_seq.clone()],
                "one changes call, from the checkpoint"
            );
            for method in ["revs_diff", "bulk_get", "bulk_docs", "put_local"] {
                assert_eq!(src.calls(method) + tgt.calls(method), 0, "{method}");
            }
            costs.push(src.total() + tgt.total());
        }
        assert_eq!(costs[0], costs[1], "the cost does not grow with the number of docs");
        assert!(costs[0] <= 5, "info ×2, get_local ×2, changes ×1; got {}", costs[0]);
    });
}

#[test]
fn a_run_after_new_edits_sends_only_what_changed_since_the_checkpoint() {
    block_on(async {
        let (a, b) = (mem_db("a"), mem_db("b"));
        put_many(&a, "d", 30).await;
        let (src, tgt) = (LocalPeer::new(a.clone()), LocalPeer::new(b.clone()));
        run(&src, &tgt, &opts(10)).await;
        put_many(&a, "new", 4).await;
        let rev = get(&a, "d00003").await["_rev"].as_str().unwrap().to_string();
        put(&a, json!({"_id": "d00003", "_rev": rev, "edited": true})).await;
        let r = run(&src, &tgt, &opts(10)).await;
        assert_eq!((r.docs_read, r.docs_written), (5, 5));
        assert_eq!(get(&b, "d00003").await["edited"], true);
        assert_eq!(snapshot(&a).await, snapshot(&b).await);
    });
}

/// Rewrites the target's checkpoint as if only `keep` sessions had ever written it.
async fn forge_target_checkpoint(target: &LocalPeer, session: &str, keep: usize) {
    let (id, mut doc) = checkpoint_doc(target.database()).await;
    doc["session_id"] = json!(session);
    let history: Vec<Value> = doc["history"].as_array().unwrap().iter().skip(1).take(keep).cloned().collect();
    doc["history"] = json!(history);
    assert_eq!(doc["_id"], id);
    target.database().put(doc, true).await.unwrap();
}

/// The single checkpoint doc a database holds (found through the replication id).
async fn checkpoint_doc(db: &Database) -> (String, Value) {
    let id = format!("_local/{}", settee::replicate::id::replication_id("a", "b", &Filter::None, None));
    (id.clone(), parse(&db.get(&id, &Value::Null).await.unwrap()))
}

#[test]
fn a_mismatched_session_resumes_from_the_newest_common_history_entry() {
    block_on(async {
        let (a, b) = (mem_db("a"), mem_db("b"));
        let (src, tgt) = (Counting::new(LocalPeer::new(a.clone())), LocalPeer::new(b.clone()));
        put_many(&a, "one", 5).await;
        let first = run(&src, &tgt, &opts(100)).await;
        put_many(&a, "two", 5).await;
        let second = run(&src, &tgt, &opts(100)).await;
        assert_ne!(first.last_seq, second.last_seq);
        // The target forgets the second session, as if restored from a backup.
        forge_target_checkpoint(&tgt, "restored", 1).await;
        src.reset();
        let third = run(&src, &tgt, &opts(100)).await;
        assert_eq!(src.sinces.borrow()[0], first.last_seq, "resumed from the first session's seq");
        assert_eq!(third.docs_read, 0, "the target already had those docs");
        let (_, doc) = checkpoint_doc(&b).await;
        let sessions: Vec<&str> =
            doc["history"].as_array().unwrap().iter().map(|h| h["session_id"].as_str().unwrap()).collect();
        assert_eq!(sessions.len(), 3, "new session, the forged one, the first: {sessions:?}");
        assert_eq!(sessions[1], "restored");
    });
}

#[test]
fn a_checkpoint_with_no_common_history_restarts_from_zero() {
    block_on(async {
        let (a, b) = (mem_db("a"), mem_db("b"));
        let (src, tgt) = (Counting::new(LocalPeer::new(a.clone())), LocalPeer::new(b.clone()));
        put_many(&a, "d", 5).await;
        run(&src, &tgt, &opts(100)).await;
        forge_target_checkpoint(&tgt, "stranger", 0).await;
        src.reset();
        let r = run(&src, &tgt, &opts(100)).await;
        assert_eq!(src.sinces.borrow()[0], Seq::zero());
        assert_eq!((r.docs_read, r.docs_written), (0, 0), "every rev was already there");
    });
}

#[test]
fn a_bulk_docs_failure_midway_aborts_and_a_rerun_completes_without_duplicates() {
    block_on(async {
        let (a, b) = (mem_db("a"), mem_db("b"));
        put_many(&a, "d", 100).await;
        let src = LocalPeer::new(a.clone());
        let tgt = Faulty::new(LocalPeer::new(b.clone()), 2, Some("bulk_docs"), Fault::Before);
        let failure = replicate(&src, &tgt, &opts(20)).await.unwrap_err();
        assert_eq!(failure.error.status, 500);
        assert_eq!(failure.result.status, Status::Aborted);
        assert!(!failure.result.ok);
        assert_eq!(failure.result.docs_written, 40, "two batches made it");
        let rerun = run(&src, &tgt, &opts(20)).await;
        assert_eq!(rerun.docs_written, 60, "resumed after the two checkpointed batches");
        assert_eq!(snapshot(&a).await, snapshot(&b).await);
        assert_eq!(b.update_seq().await.unwrap(), 100, "each doc was written exactly once");
    });
}

/// Replicates until a run succeeds; returns the docs written over all runs.
async fn run_until_done(src: &dyn Peer, tgt: &dyn Peer, o: &ReplicateOptions) -> u64 {
    let mut written = 0;
    for _ in 0..5 {
        match replicate(src, tgt, o).await {
            Ok(r) => return written + r.docs_written,
            Err(f) => written += f.result.docs_written,
        }
    }
    panic!("a rerun completes");
}

#[test]
fn any_single_fault_or_lost_response_ends_in_the_fault_free_state_after_reruns() {
    block_on(async {
        let (a, reference) = (mem_db("a"), mem_db("b"));
        seed_history(&a).await;
        put_many(&a, "d", 25).await;
        let (src_count, tgt_count) =
            (Counting::new(LocalPeer::new(a.clone())), Counting::new(LocalPeer::new(reference.clone())));
        let clean = run(&src_count, &tgt_count, &opts(7)).await;
        let expected = snapshot(&reference).await;
        for fault in [Fault::Before, Fault::After] {
            for at in 0..src_count.total() + tgt_count.total() {
                let b = mem_db("b");
                let (src, tgt) = (LocalPeer::new(a.clone()), LocalPeer::new(b.clone()));
                let on_source = at < src_count.total();
                let (written, struck) = if on_source {
                    let faulty = Faulty::new(src, at, None, fault);
                    (run_until_done(&faulty, &tgt, &opts(7)).await, faulty.struck())
                } else {
                    let faulty = Faulty::new(tgt, at - src_count.total(), None, fault);
                    (run_until_done(&src, &faulty, &opts(7)).await, faulty.struck())
                };
                let place = format!("{fault:?} at call {at} (on source: {on_source})");
                assert!(struck, "{place}");
                assert_eq!(snapshot(&b).await, expected, "{place}");
                if fault == Fault::Before {
                    assert_eq!(written, clean.docs_written, "nothing written twice: {place}");
                }
            }
        }
    });
}

#[test]
fn a_doc_ids_filter_replicates_only_those_docs_and_has_its_own_checkpoint() {
    block_on(async {
        let (a, b) = (mem_db("a"), mem_db("b"));
        put_many(&a, "d", 50).await;
        let (src, tgt) = (LocalPeer::new(a.clone()), LocalPeer::new(b.clone()));
        let filtered = ReplicateOptions {
            filter: Filter::DocIds(vec!["d00007".into(), "d00042".into(), "nope".into()]),
            ..opts(10)
        };
        let r = run(&src, &tgt, &filtered).await;
        assert_eq!(r.docs_written, 2);
        let ids = parse(&b.all_docs(&Value::Null).await.unwrap())["rows"]
            .as_array()
            .unwrap()
            .iter()
            .map(|r| r["id"].as_str().unwrap().to_string())
            .collect::<Vec<_>>();
        assert_eq!(ids, vec!["d00007", "d00042"]);
        // An unfiltered run does not reuse the filtered checkpoint.
        let all = run(&src, &tgt, &opts(10)).await;
        assert_eq!(all.docs_written, 48);
    });
}

fn ids_of(all_docs: &str) -> Vec<String> {
    parse(all_docs)["rows"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r["id"].as_str().unwrap().to_string())
        .collect()
}

#[test]
fn a_selector_filter_replicates_docs_whose_winner_matches_across_batches_and_resumes() {
    block_on(async {
        let (a, b) = (mem_db("a"), mem_db("b"));
        for i in 0..30 {
            put(
                &a,
                json!({"_id": format!("d{i:02}"), "kind": if i % 3 == 0 { "keep" } else { "skip" }, "i": i}),
            )
            .await;
        }
        // An update turning a skipped doc into a match, and a match turned into a non-match.
        let rev = parse(&a.get("d01", &Value::Null).await.unwrap())["_rev"].as_str().unwrap().to_string();
        put(&a, json!({"_id": "d01", "_rev": rev, "kind": "keep"})).await;
        let rev = parse(&a.get("d03", &Value::Null).await.unwrap())["_rev"].as_str().unwrap().to_string();
        put(&a, json!({"_id": "d03", "_rev": rev, "kind": "skip"})).await;
        let (src, tgt) = (LocalPeer::new(a.clone()), LocalPeer::new(b.clone()));
        let o = ReplicateOptions { filter: Filter::Selector(json!({"kind": "keep"})), ..opts(4) };
        let r = run(&src, &tgt, &o).await;
        let want: Vec<String> =
            [0, 1, 6, 9, 12, 15, 18, 21, 24, 27].iter().map(|i| format!("d{i:02}")).collect();
        assert_eq!(ids_of(&b.all_docs(&Value::Null).await.unwrap()), want);
        assert_eq!((r.docs_read, r.docs_written), (10, 10));
        assert_eq!(get(&b, "d01").await, get(&a, "d01").await, "the matching winner with its history");
        // A rerun resumes from the checkpoint: only a new match is read.
        put(&a, json!({"_id": "late", "kind": "keep"})).await;
        put(&a, json!({"_id": "late-skip", "kind": "skip"})).await;
        let again = run(&src, &tgt, &o).await;
        assert_eq!((again.docs_read, again.docs_written), (1, 1));
        assert_eq!(again.last_seq, Seq(json!(a.update_seq().await.unwrap())));
        assert!(b.get("late-skip", &Value::Null).await.is_err());
    });
}

#[test]
fn a_selector_sees_a_deleted_winner_as_a_tombstone() {
    block_on(async {
        let (a, b) = (mem_db("a"), mem_db("b"));
        let rev = put(&a, json!({"_id": "gone", "kind": "keep"})).await;
        a.remove("gone", &rev).await.unwrap();
        put(&a, json!({"_id": "here", "kind": "keep"})).await;
        let (src, tgt) = (LocalPeer::new(a.clone()), LocalPeer::new(b.clone()));
        let keep = ReplicateOptions { filter: Filter::Selector(json!({"kind": "keep"})), ..opts(10) };
        assert_eq!(run(&src, &tgt, &keep).await.docs_written, 1);
        assert_eq!(b.get("gone", &Value::Null).await.unwrap_err().status, 404);
        let deleted = ReplicateOptions { filter: Filter::Selector(json!({"_deleted": true})), ..opts(10) };
        assert_eq!(run(&src, &tgt, &deleted).await.docs_written, 1);
        assert_eq!(b.get("gone", &Value::Null).await.unwrap_err().reason.as_deref(), Some("deleted"));
        let bad = ReplicateOptions { filter: Filter::Selector(json!({"a": {"$nope": 1}})), ..opts(10) };
        assert_eq!(replicate(&src, &tgt, &bad).await.unwrap_err().error.status, 400);
    });
}

#[test]
fn a_doc_filter_hook_keeps_rejected_docs_off_the_target() {
    block_on(async {
        let (a, b) = (mem_db("a"), mem_db("b"));
        put_many(&a, "d", 20).await;
        let o = ReplicateOptions {
            doc_filter: Some(Box::new(|d: &Value| d["i"].as_u64().is_some_and(|i| i % 2 == 0))),
            doc_filter_key: Some("even".into()),
            ..opts(6)
        };
        let r = run(&LocalPeer::new(a.clone()), &LocalPeer::new(b.clone()), &o).await;
        assert_eq!((r.docs_read, r.docs_written), (10, 10));
        assert_eq!(parse(&b.info().await.unwrap())["doc_count"], 10);
        assert!(b.get("d00003", &Value::Null).await.is_err());
    });
}

#[test]
fn since_starts_the_feed_at_the_given_seq() {
    block_on(async {
        let (a, b) = (mem_db("a"), mem_db("b"));
        put_many(&a, "old", 10).await;
        let seq = a.update_seq().await.unwrap();
        put_many(&a, "new", 3).await;
        let o = ReplicateOptions { since: Some(Seq(json!(seq))), ..opts(100) };
        let r = run(&LocalPeer::new(a.clone()), &LocalPeer::new(b.clone()), &o).await;
        assert_eq!(r.docs_written, 3);
        assert!(b.get("old00000", &Value::Null).await.is_err());
    });
}

#[test]
fn forbidden_docs_are_reported_as_denied_counted_and_not_retried() {
    block_on(async {
        let (a, b) = (mem_db("a"), mem_db("b"));
        put_many(&a, "d", 6).await;
        put_many(&a, "secret", 2).await;
        let tgt = Denying { inner: LocalPeer::new(b.clone()), attempts: RefCell::default() };
        let denied = Rc::new(RefCell::new(Vec::new()));
        let seen = denied.clone();
        let o = ReplicateOptions {
            on_event: Some(Box::new(move |e: &ReplicationEvent| {
                if let ReplicationEvent::Denied(err) = e {
                    seen.borrow_mut().push((err.id.clone(), err.error.clone()));
                }
            })),
            ..opts(3)
        };
        let src = LocalPeer::new(a.clone());
        let r = run(&src, &tgt, &o).await;
        assert!(r.ok);
        assert_eq!((r.docs_written, r.doc_write_failures), (6, 2));
        assert_eq!(
            r.errors.iter().map(|e| e.id.as_str()).collect::<Vec<_>>(),
            vec!["secret00000", "secret00001"]
        );
        assert_eq!(denied.borrow().len(), 2);
        assert!(denied.borrow().iter().all(|(_, name)| name == "forbidden"));
        run(&src, &tgt, &o).await;
        assert_eq!(tgt.attempts.borrow().len(), 2, "not retried by the next run");
    });
}

#[test]
fn change_events_report_cumulative_counts_and_pending_down_to_zero() {
    block_on(async {
        let (a, b) = (mem_db("a"), mem_db("b"));
        put_many(&a, "d", 25).await;
        let events = Rc::new(RefCell::new(Vec::new()));
        let log = events.clone();
        let o = ReplicateOptions {
            on_event: Some(Box::new(move |e: &ReplicationEvent| {
                if let ReplicationEvent::Change { progress, docs } = e {
                    log.borrow_mut().push((progress.docs_written, progress.pending, docs.len()));
                }
            })),
            ..opts(10)
        };
        run(&LocalPeer::new(a.clone()), &LocalPeer::new(b.clone()), &o).await;
        assert_eq!(*events.borrow(), vec![(10, Some(15), 10), (20, Some(5), 10), (25, Some(0), 5)]);
    });
}

#[test]
fn cancelling_stops_between_batches_and_a_rerun_finishes() {
    block_on(async {
        let (a, b) = (mem_db("a"), mem_db("b"));
        put_many(&a, "d", 30).await;
        let mut o = opts(10);
        let cancel = o.cancel.clone();
        o.on_event = Some(Box::new(move |_: &ReplicationEvent| cancel.set(true)));
        let (src, tgt) = (LocalPeer::new(a.clone()), LocalPeer::new(b.clone()));
        let r = run(&src, &tgt, &o).await;
        // Batch 1's event comes once its checkpoint is written, which overlaps batch 2's
        // write: that batch, already in flight, is finished and checkpointed, then the run
        // stops.
        assert_eq!((r.status, r.docs_written), (Status::Cancelled, 20));
        assert!(r.ok);
        assert_eq!(r.last_seq, Seq(json!(20)), "the batch in flight was checkpointed");
        let rest = run(&src, &tgt, &opts(10)).await;
        assert_eq!(rest.docs_written, 10);
        assert_eq!(snapshot(&a).await, snapshot(&b).await);
    });
}

#[test]
fn sync_in_both_directions_converges_on_the_same_winners() {
    block_on(async {
        let (a, b) = (mem_db("a"), mem_db("b"));
        let (pa, pb) = (LocalPeer::new(a.clone()), LocalPeer::new(b.clone()));
        put_many(&a, "shared", 10).await;
        sync(&pa, &pb, &opts(4), &opts(4)).await.unwrap();
        // Concurrent edits of the same docs on both sides, plus a delete against an edit.
        for i in 0..5 {
            let id = format!("shared{i:05}");
            let rev = get(&a, &id).await["_rev"].as_str().unwrap().to_string();
            put(&a, json!({"_id": id, "_rev": rev, "side": "a"})).await;
            put(&b, json!({"_id": id, "_rev": rev, "side": "b", "more": [1, 2]})).await;
        }
        let rev = get(&b, "shared00009").await["_rev"].as_str().unwrap().to_string();
        b.remove("shared00009", &rev).await.unwrap();
        put_many(&a, "only-a", 3).await;
        put_many(&b, "only-b", 3).await;
        let s = sync(&pa, &pb, &opts(4), &opts(4)).await.unwrap();
        assert_eq!(s.push.docs_written, 5 + 3);
        assert_eq!(s.pull.docs_written, 5 + 1 + 3);
        assert_eq!(snapshot(&a).await, snapshot(&b).await);
        for i in 0..5 {
            let id = format!("shared{i:05}");
            let (x, y) = (get(&a, &id).await, get(&b, &id).await);
            assert_eq!(x, y);
            assert_eq!(x["_conflicts"].as_array().unwrap().len(), 1, "{id}");
        }
        // Already in sync: nothing moves either way.
        let again = sync(&pa, &pb, &opts(4), &opts(4)).await.unwrap();
        assert_eq!((again.push.docs_read, again.pull.docs_read), (0, 0));
    });
}

#[test]
fn checkpoints_are_written_on_both_sides_with_the_session_and_seq() {
    block_on(async {
        let (a, b) = (mem_db("a"), mem_db("b"));
        put_many(&a, "d", 3).await;
        let o = ReplicateOptions { session_id: Some("session-1".into()), ..opts(10) };
        let r = run(&LocalPeer::new(a.clone()), &LocalPeer::new(b.clone()), &o).await;
        for db in [&a, &b] {
            let (_, doc) = checkpoint_doc(db).await;
            assert_eq!(doc["session_id"], "session-1");
            assert_eq!(Seq(doc["source_last_seq"].clone()), r.last_seq);
            // The seq under PouchDB's name and CouchDB's replicator's.
            let seq = r.last_seq.0.clone();
            assert_eq!(
                doc["history"],
                json!([{"session_id": "session-1", "last_seq": seq, "recorded_seq": seq}])
            );
        }
        let changes = parse(&b.changes(&Value::Null).await.unwrap());
        assert_eq!(changes["results"].as_array().unwrap().len(), 3, "checkpoints are not changes");
    });
}

#[test]
fn a_five_thousand_doc_pull_completes() {
    block_on(async {
        let (remote, local) = (mem_db("remote"), mem_db("local"));
        for chunk in 0..5 {
            put_many(&remote, &format!("c{chunk}-"), 1000).await;
        }
        let started = std::time::Instant::now();
        let r = run(
            &LocalPeer::new(remote.clone()),
            &LocalPeer::new(local.clone()),
            &ReplicateOptions::default(),
        )
        .await;
        if !cfg!(debug_assertions) {
            println!("5,000-doc pull: {:?}", started.elapsed());
        }
        assert_eq!((r.docs_read, r.docs_written), (5000, 5000));
        assert_eq!(parse(&local.info().await.unwrap())["doc_count"], 5000);
        assert_eq!(r.last_seq, Seq(json!(5000)));
    });
}

#[test]
fn the_local_peer_bulk_get_resolves_superseded_revs_to_their_leaves_with_history() {
    use settee::replicate::{Fetched, RevRequest};
    block_on(async {
        let db = mem_db("a");
        let r1 = put(&db, json!({"_id": "x", "v": 1})).await;
        let r2 = put(&db, json!({"_id": "x", "_rev": r1, "v": 2})).await;
        let peer = LocalPeer::new(db.clone());
        let ask = |id: &str, rev: &str| RevRequest { id: id.into(), rev: rev.into() };
        let got = peer.bulk_get(&[ask("x", &r1), ask("x", "9-nope"), ask("y", "1-a")]).await.unwrap();
        let Fetched::Doc(doc) = &got[0] else { panic!("{got:?}") };
        assert_eq!((doc["_rev"].as_str(), &doc["v"]), (Some(r2.as_str()), &json!(2)));
        assert_eq!(doc["_revisions"]["start"], 2);
        assert_eq!(doc["_revisions"]["ids"].as_array().unwrap().len(), 2);
        assert!(matches!(&got[1], Fetched::Error(e) if e.error == "not_found"));
        assert!(matches!(&got[2], Fetched::Error(e) if e.id == "y" && e.status == 404));
    });
}

#[test]
fn two_interleaved_runs_of_one_replication_both_complete_despite_checkpoint_conflicts() {
    block_on(async {
        let (a, b) = (mem_db("a"), mem_db("b"));
        put_many(&a, "d", 6).await;
        let (src, tgt) = (Yielding(LocalPeer::new(a.clone())), Yielding(LocalPeer::new(b.clone())));
        // Both runs write the same `_local` checkpoint docs, and their calls alternate: each
        // keeps finding the doc rewritten by the other since it last read it (a 409).
        let (one, two) =
            futures::future::join(replicate(&src, &tgt, &opts(1)), replicate(&src, &tgt, &opts(2))).await;
        assert!(one.is_ok(), "{one:?}");
        assert!(two.is_ok(), "{two:?}");
        assert_eq!(snapshot(&a).await, snapshot(&b).await);
        // The checkpoints left behind still let a later run resume instead of starting over.
        let counted = Counting::new(LocalPeer::new(a.clone()));
        run(&counted, &LocalPeer::new(b.clone()), &opts(10)).await;
        assert_ne!(counted.sinces.borrow()[0], Seq::zero());
    });
}
