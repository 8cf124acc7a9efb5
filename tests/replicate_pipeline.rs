//! The pipelined replicator (`replicate::reader` / `writer`): what it skips and what it keeps.
//! An empty target is asked no `revs_diff`; bodies the feed brings are not fetched again;
//! a fault while two batches are in flight resumes from the last checkpointed batch.
#![cfg(not(target_arch = "wasm32"))]

mod common;
#[path = "common/replicate_helpers.rs"]
mod helpers;

use futures::executor::block_on;
use helpers::{mem_db, put, put_many, snapshot, Counting, Fault, Faulty};
use serde_json::json;
use settee::db::Database;
use settee::replicate::{replicate, LocalPeer, Peer, ReplicateOptions, ReplicationResult, Seq};
use std::cell::RefCell;
use std::rc::Rc;

fn opts(batch_size: usize) -> ReplicateOptions {
    ReplicateOptions { batch_size, ..ReplicateOptions::default() }
}

async fn run(source: &dyn Peer, target: &dyn Peer, o: &ReplicateOptions) -> ReplicationResult {
    replicate(source, target, o).await.expect("replication succeeds")
}

/// Docs whose bodies the feed cannot stand in for: a second generation, a deletion, a
/// conflict, an attachment.
async fn awkward_docs(db: &Database) {
    let r = put(db, json!({"_id": "m-updated", "v": 1})).await;
    put(db, json!({"_id": "m-updated", "_rev": r, "v": 2})).await;
    let r = put(db, json!({"_id": "m-deleted"})).await;
    put(db, json!({"_id": "m-deleted", "_rev": r, "_deleted": true})).await;
    put(db, json!({"_id": "m-conflict", "side": "a"})).await;
    let branch = json!({"_id": "m-conflict", "_rev": "1-ffff", "side": "b"});
    db.bulk_docs(vec![branch], false).await.unwrap();
    let att = json!({"content_type": "text/plain", "data": "aGk="});
    put(db, json!({"_id": "m-att", "_attachments": {"a.txt": att}})).await;
}

#[test]
fn a_target_at_its_origin_is_asked_no_revs_diff_and_the_feed_brings_first_revisions() {
    block_on(async {
        let (a, b) = (mem_db("a"), mem_db("b"));
        put_many(&a, "d", 25).await;
        let (src, tgt) = (Counting::new(LocalPeer::new(a.clone())), Counting::new(LocalPeer::new(b.clone())));
        let r = run(&src, &tgt, &opts(10)).await;
        assert_eq!((r.docs_read, r.docs_written), (25, 25));
        assert_eq!(tgt.calls("revs_diff"), 0, "an empty target lacks everything");
        assert_eq!(src.calls("bulk_get"), 0, "every body came with the feed");
        assert_eq!(snapshot(&a).await, snapshot(&b).await);
    });
}

#[test]
fn revisions_the_feed_cannot_stand_in_for_are_fetched_with_their_histories() {
    block_on(async {
        let (a, b) = (mem_db("a"), mem_db("b"));
        put_many(&a, "d", 12).await;
        awkward_docs(&a).await;
        let (src, tgt) = (Counting::new(LocalPeer::new(a.clone())), LocalPeer::new(b.clone()));
        let r = run(&src, &tgt, &opts(5)).await;
        assert_eq!(r.doc_write_failures, 0);
        assert!(src.calls("bulk_get") >= 1, "the awkward revs are fetched");
        assert_eq!(snapshot(&a).await, snapshot(&b).await);
    });
}

#[test]
fn a_target_with_docs_is_asked_revs_diff_and_gets_only_what_it_lacks() {
    block_on(async {
        let (a, b) = (mem_db("a"), mem_db("b"));
        put_many(&a, "d", 25).await;
        awkward_docs(&a).await;
        run(&LocalPeer::new(a.clone()), &LocalPeer::new(b.clone()), &opts(10)).await;
        put_many(&a, "e", 8).await;
        // A fresh replication id (another target id): no checkpoint, the whole feed again.
        let tgt = Counting::new(LocalPeer::with_id(b.clone(), "b-again"));
        let r = run(&LocalPeer::new(a.clone()), &tgt, &opts(10)).await;
        assert_eq!(r.docs_written, 8, "only the new docs");
        assert_eq!(tgt.calls("revs_diff"), 4, "one per batch of the 37-row feed");
        assert_eq!(snapshot(&a).await, snapshot(&b).await);
    });
}

/// A run that fails, then a clean rerun; returns the failed run's result.
#[test]
fn the_next_page_is_asked_for_before_the_current_page_is_diffed() {
    block_on(async {
        let (a, b) = (mem_db("a"), mem_db("b"));
        put_many(&a, "d", 25).await;
        put(&b, json!({"_id": "already-there"})).await;
        let journal = Rc::new(RefCell::new(Vec::new()));
        let src = Counting::journaled(LocalPeer::new(a.clone()), "source", &journal);
        let tgt = Counting::journaled(LocalPeer::new(b.clone()), "target", &journal);
        let r = run(&src, &tgt, &opts(10)).await;
        assert_eq!(r.docs_written, 25);
        let order: Vec<String> = journal
            .borrow()
            .iter()
            .filter(|c| c.as_str() == "source changes" || c.as_str() == "target revs_diff")
            .cloned()
            .collect();
        // Pages of 10, 10 and 5: each page's diff follows the request for the page after it.
        let expected = [
            "source changes",
            "source changes",
            "target revs_diff",
            "source changes",
            "target revs_diff",
            "target revs_diff",
        ];
        assert_eq!(order, expected);
        assert_eq!(snapshot(&b).await["doc_count"], 26);
    });
}

async fn fail_then_finish(
    src: &dyn Peer,
    tgt: &dyn Peer,
    clean_src: &dyn Peer,
    clean_tgt: &dyn Peer,
) -> ReplicationResult {
    let failed = replicate(src, tgt, &opts(10)).await.expect_err("the fault strikes").result;
    let rest = run(clean_src, clean_tgt, &opts(10)).await;
    assert_eq!(failed.docs_written + rest.docs_written, 30, "nothing written twice, nothing left out");
    failed
}

#[test]
fn a_read_failing_while_earlier_batches_are_in_flight_keeps_them_and_their_checkpoints() {
    block_on(async {
        let (a, b) = (mem_db("a"), mem_db("b"));
        put_many(&a, "d", 30).await;
        // changes #2 (the third page) is read while batch 1 is written and batch 2 read:
        // batch 2, read in full, is still written and checkpointed before the run stops.
        let src = Faulty::new(LocalPeer::new(a.clone()), 2, Some("changes"), Fault::Before);
        let tgt = LocalPeer::new(b.clone());
        let failed = fail_then_finish(&src, &tgt, &LocalPeer::new(a.clone()), &tgt).await;
        assert_eq!((failed.docs_written, failed.last_seq.clone()), (20, Seq(json!(20))));
        assert_eq!(snapshot(&a).await, snapshot(&b).await);
    });
}

#[test]
fn a_write_failing_while_the_batch_before_is_checkpointed_resumes_after_that_batch() {
    block_on(async {
        for fault in [Fault::Before, Fault::After] {
            let (a, b) = (mem_db("a"), mem_db("b"));
            put_many(&a, "d", 30).await;
            // bulk_docs #1 runs alongside batch 1's checkpoint and batch 3's read.
            let tgt = Faulty::new(LocalPeer::new(b.clone()), 1, Some("bulk_docs"), fault);
            let failed = replicate(&LocalPeer::new(a.clone()), &tgt, &opts(10)).await.unwrap_err().result;
            assert_eq!(failed.last_seq, Seq(json!(10)), "{fault:?}: batch 1 checkpointed, not batch 2");
            let src = Counting::new(LocalPeer::new(a.clone()));
            run(&src, &LocalPeer::new(b.clone()), &opts(10)).await;
            assert_eq!(src.sinces.borrow()[0], Seq(json!(10)), "{fault:?}: resumed from batch 1");
            assert_eq!(snapshot(&a).await, snapshot(&b).await, "{fault:?}");
        }
    });
}
