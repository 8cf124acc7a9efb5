//! Live and retrying replication (`replicate::live`) between memory databases, natively:
//! retry on retryable faults only, backoff delays, live passes woken by commits, cancel.
#![cfg(not(target_arch = "wasm32"))]

mod common;
#[path = "common/replicate_helpers.rs"]
mod helpers;

use futures::executor::{block_on, LocalPool};
use futures::task::LocalSpawnExt;
use helpers::{mem_db, put, put_many, seed_mixed, snapshot, Counting, Fault, Faulty};
use serde_json::json;
use settee::db::notify::Notify;
use settee::error::Error;
use settee::replicate::live::{self, Backoff, LiveEvent, LiveOptions, Sleep};
use settee::replicate::retrying;
use settee::replicate::{LocalPeer, ReplicateOptions, Status};
use std::cell::RefCell;
use std::rc::Rc;

/// Options with a recording, instant `sleep` and a fixed `random`; `log` gets every event.
fn live_opts(live: bool, retry: bool, log: &Rc<RefCell<Vec<String>>>) -> LiveOptions {
    let slept = log.clone();
    let sleep: Sleep = Rc::new(move |ms| {
        slept.borrow_mut().push(format!("sleep {ms}"));
        Box::pin(async {})
    });
    let events = log.clone();
    LiveOptions {
        live,
        retry,
        backoff: Backoff::new(1_000),
        sleep,
        random: Box::new(|| 0.5),
        on_state: Some(Box::new(move |e| {
            events.borrow_mut().push(match e {
                LiveEvent::Active => "active".to_string(),
                LiveEvent::Paused(None) => "paused".to_string(),
                LiveEvent::Paused(Some(e)) => format!("paused {}", e.status),
            })
        })),
        cancel_signal: Rc::new(Notify::default()),
        wake: Rc::new(Notify::default()),
    }
}

fn opts(batch_size: usize) -> ReplicateOptions {
    ReplicateOptions { batch_size, session_id: Some("session".into()), ..ReplicateOptions::default() }
}

#[test]
fn a_failed_request_is_retried_at_once_without_pausing_the_pass() {
    block_on(async {
        let (a, b) = (mem_db("a"), mem_db("b"));
        put_many(&a, "d", 30).await;
        // The second batch's write fails (an empty target is asked no `revs_diff`, and the
        // feed brings these docs' bodies, so the target's writes are the requests to fail).
        let target = Faulty::new(LocalPeer::new(b.clone()), 1, Some("bulk_docs"), Fault::Before);
        let log = Rc::new(RefCell::new(Vec::new()));
        let r = live::run(&LocalPeer::new(a.clone()), &target, opts(10), live_opts(false, true, &log))
            .await
            .expect("retried to completion");
        assert!(target.struck());
        assert_eq!(r.status, Status::Complete);
        assert_eq!(r.docs_written, 30);
        assert_eq!(*log.borrow(), vec!["active", "sleep 100"], "one short wait, no pause");
        assert_eq!(snapshot(&a).await, snapshot(&b).await);
    });
}

#[test]
fn a_request_that_keeps_failing_pauses_the_pass_which_resumes_from_the_checkpoint() {
    block_on(async {
        let (a, b) = (mem_db("a"), mem_db("b"));
        put_many(&a, "d", 30).await;
        let target = Faulty::repeated(
            LocalPeer::new(b.clone()),
            1,
            retrying::ATTEMPTS as usize,
            Some("bulk_docs"),
            Fault::Before,
        );
        let log = Rc::new(RefCell::new(Vec::new()));
        let source = Counting::new(LocalPeer::new(a.clone()));
        let r = live::run(&source, &target, opts(10), live_opts(false, true, &log)).await.expect("retried");
        assert!(target.struck());
        assert_eq!((r.status, r.docs_read, r.docs_written), (Status::Complete, 30, 30));
        let log = log.borrow().clone();
        let pause = log.iter().position(|e| e == "paused 500").expect("the pass paused");
        assert_eq!(&log[pause..pause + 3], ["paused 500", "sleep 500", "active"]);
        assert_eq!(log.iter().filter(|e| e.starts_with("sleep")).count(), retrying::ATTEMPTS as usize);
        // Four pages in the first pass (one read ahead), three from the first batch's
        // checkpoint; from the start it would have been four.
        assert_eq!(source.calls("changes"), 4 + 3);
        // The pass after the failure read the source's info and checkpoint again.
        assert_eq!((source.calls("info"), source.calls("get_local")), (2, 2));
        assert_eq!(snapshot(&a).await, snapshot(&b).await);
    });
}

#[test]
fn a_write_whose_answers_were_all_lost_is_counted_once_when_the_next_pass_finds_it_landed() {
    block_on(async {
        let (a, b) = (mem_db("a"), mem_db("b"));
        put_many(&a, "d", 30).await;
        // The second batch lands every time it is sent, but no answer comes back.
        let target = Faulty::repeated(
            LocalPeer::new(b.clone()),
            1,
            retrying::ATTEMPTS as usize,
            Some("bulk_docs"),
            Fault::After,
        );
        let log = Rc::new(RefCell::new(Vec::new()));
        let r = live::run(&LocalPeer::new(a.clone()), &target, opts(10), live_opts(false, true, &log))
            .await
            .expect("retried");
        assert!(log.borrow().contains(&"paused 500".to_string()));
        assert_eq!((r.docs_read, r.docs_written), (30, 30), "as many as without the fault");
        assert_eq!(snapshot(&a).await, snapshot(&b).await);
    });
}

/// The delays slept right after each `paused` event: the pass-level back-off.
fn pass_sleeps(log: &[String]) -> Vec<String> {
    log.windows(2).filter(|w| w[0].starts_with("paused ")).map(|w| w[1].clone()).collect()
}

#[test]
fn the_back_off_grows_while_a_peer_answers_nothing_and_starts_over_once_it_answers() {
    block_on(async {
        let (a, b) = (mem_db("a"), mem_db("b"));
        put_many(&a, "d", 5).await;
        // Dead for three passes' worth of tries, then fine.
        let source = Faulty::repeated(
            LocalPeer::new(a.clone()),
            0,
            3 * retrying::ATTEMPTS as usize,
            None,
            Fault::Before,
        );
        let log = Rc::new(RefCell::new(Vec::new()));
        let r = live::run(&source, &LocalPeer::new(b.clone()), opts(10), live_opts(false, true, &log))
            .await
            .expect("retried");
        assert_eq!(r.docs_written, 5);
        assert_eq!(pass_sleeps(&log.borrow()), ["sleep 500", "sleep 1000", "sleep 2000"]);

        // Flaky, not dead: every pause sleeps the first delay again.
        let (a, b) = (mem_db("a"), mem_db("b"));
        seed_mixed(&a, "f", 200).await;
        let source = Faulty::flaky(LocalPeer::new(a.clone()), 0.7, 7);
        let target = Faulty::flaky(LocalPeer::new(b.clone()), 0.7, 8);
        let log = Rc::new(RefCell::new(Vec::new()));
        live::run(&source, &target, opts(20), live_opts(false, true, &log)).await.expect("retried");
        let sleeps = pass_sleeps(&log.borrow());
        // A pass whose first request gets no answer in all its tries (0.7^8: 6%) counts as
        // dead and doubles the delay; the next answer starts it over.
        let ms: Vec<u64> = sleeps.iter().map(|s| s["sleep ".len()..].parse().unwrap()).collect();
        assert!(ms.len() >= 3, "at 7 faults in 10 passes fail: {ms:?}");
        assert!(ms.iter().all(|&d| d <= 2_000), "{ms:?}");
        assert!(ms.windows(2).any(|w| w[0] > w[1]), "started over: {ms:?}");
    });
}

#[test]
fn under_random_faults_replication_converges_writing_exactly_what_a_fault_free_run_writes() {
    block_on(async {
        for rate in [0.1, 0.4, 0.7] {
            for seed in 1..=4u64 {
                let (a, b) = (mem_db("a"), mem_db("b"));
                let leaves = seed_mixed(&a, "d", 300).await;
                let source = Faulty::flaky(LocalPeer::new(a.clone()), rate, seed);
                let target = Faulty::flaky(LocalPeer::new(b.clone()), rate, seed + 100);
                let log = Rc::new(RefCell::new(Vec::new()));
                let r = live::run(&source, &target, opts(50), live_opts(false, true, &log))
                    .await
                    .unwrap_or_else(|f| panic!("rate {rate} seed {seed}: {:?}", f.error));
                let at = format!("rate {rate} seed {seed}");
                assert_eq!(r.status, Status::Complete, "{at}");
                assert_eq!((r.docs_read, r.docs_written, r.doc_write_failures), (leaves, leaves, 0), "{at}");
                assert_eq!(snapshot(&a).await, snapshot(&b).await, "{at}");
                assert!(source.failed.get() + target.failed.get() > 0, "{at}: faults struck");
                // Nothing left to do: a fault-free run finds both sides equal.
                let again = live::run(
                    &LocalPeer::new(a),
                    &LocalPeer::new(b),
                    opts(50),
                    live_opts(false, false, &log),
                )
                .await
                .unwrap();
                assert_eq!(again.docs_written, 0, "{at}");
            }
        }
    });
}

#[test]
fn a_sync_under_random_faults_ends_with_both_sides_identical() {
    block_on(async {
        for (rate, seed) in [(0.4, 3u64), (0.7, 5)] {
            let (a, b) = (mem_db("a"), mem_db("b"));
            let pushed = seed_mixed(&a, "a", 150).await;
            let pulled = seed_mixed(&b, "b", 150).await;
            let pa = Faulty::flaky(LocalPeer::new(a.clone()), rate, seed);
            let pb = Faulty::flaky(LocalPeer::new(b.clone()), rate, seed + 1);
            let log = Rc::new(RefCell::new(Vec::new()));
            let r = live::sync(
                &pa,
                &pb,
                (opts(40), live_opts(false, true, &log)),
                (opts(40), live_opts(false, true, &log)),
            )
            .await
            .unwrap_or_else(|f| panic!("rate {rate}: {:?}", f.error));
            assert_eq!((r.push.docs_written, r.pull.docs_written), (pushed, pulled), "rate {rate}");
            assert_eq!(snapshot(&a).await, snapshot(&b).await, "rate {rate}");
        }
    });
}

#[test]
fn a_wake_ends_the_back_off_wait_at_once() {
    let mut pool = LocalPool::new();
    let (a, b) = (mem_db("a"), mem_db("b"));
    pool.run_until(put_many(&a, "d", 5));
    let log = Rc::new(RefCell::new(Vec::new()));
    let mut l = live_opts(false, true, &log);
    // Request-level waits pass at once; the pass-level back-off (right after a pause) never
    // ends by itself.
    let slept = log.clone();
    l.sleep = Rc::new(move |ms| {
        let after_pause = slept.borrow().last().is_some_and(|e| e.starts_with("paused "));
        slept.borrow_mut().push(format!("sleep {ms}"));
        if after_pause {
            Box::pin(futures::future::pending())
        } else {
            Box::pin(async {})
        }
    });
    let wake = l.wake.clone();
    let source = Rc::new(Faulty::repeated(
        LocalPeer::new(a.clone()),
        0,
        retrying::ATTEMPTS as usize,
        None,
        Fault::Before,
    ));
    let result = Rc::new(RefCell::new(None));
    {
        let (source, b, result) = (source.clone(), b.clone(), result.clone());
        pool.spawner()
            .spawn_local(async move {
                *result.borrow_mut() = Some(live::run(&*source, &LocalPeer::new(b), opts(10), l).await);
            })
            .unwrap();
    }
    pool.run_until_stalled();
    assert!(result.borrow().is_none(), "waiting out the back-off");
    assert_eq!(pass_sleeps(&log.borrow()), ["sleep 500"]);
    wake.notify();
    pool.run_until_stalled();
    let r = result.borrow_mut().take().expect("the run ended").expect("no error");
    assert_eq!((r.status, r.docs_written), (Status::Complete, 5));
}

#[test]
fn without_retry_or_with_a_non_retryable_error_the_run_stops_with_the_error() {
    block_on(async {
        let (a, b) = (mem_db("a"), mem_db("b"));
        put_many(&a, "d", 5).await;
        let source = Faulty::new(LocalPeer::new(a.clone()), 0, Some("changes"), Fault::Before);
        let log = Rc::new(RefCell::new(Vec::new()));
        let f = live::run(&source, &LocalPeer::new(b.clone()), opts(10), live_opts(false, false, &log))
            .await
            .unwrap_err();
        assert_eq!((f.error.status, f.result.status, f.result.ok), (500, Status::Aborted, false));

        /// A peer answering 401 to everything.
        struct Unauthorized;
        #[async_trait::async_trait(?Send)]
        impl settee::replicate::Peer for Unauthorized {
            async fn info(&self) -> settee::Result<settee::replicate::PeerInfo> {
                Err(Error::new(401, "unauthorized", "Name or password is incorrect."))
            }
            async fn changes(
                &self,
                _: &settee::replicate::Seq,
                _: usize,
                _: &settee::replicate::Filter,
            ) -> settee::Result<settee::replicate::ChangesPage> {
                unreachable!()
            }
            async fn revs_diff(
                &self,
                _: &settee::replicate::RevsByDoc,
            ) -> settee::Result<settee::replicate::RevsDiff> {
                unreachable!()
            }
            async fn bulk_get(
                &self,
                _: &[settee::replicate::RevRequest],
            ) -> settee::Result<Vec<settee::replicate::Fetched>> {
                unreachable!()
            }
            async fn bulk_docs_replicated(
                &self,
                _: &[serde_json::Value],
                _: &settee::replicate::AttMap,
            ) -> settee::Result<Vec<settee::replicate::DocError>> {
                unreachable!()
            }
            async fn has_attachments(&self, _: &[String]) -> settee::Result<Option<Vec<bool>>> {
                unreachable!()
            }
            async fn get_attachment(
                &self,
                _: &settee::replicate::AttRef,
            ) -> settee::Result<settee::kv::blobs::AttData> {
                unreachable!()
            }
            async fn get_local(&self, _: &str) -> settee::Result<Option<serde_json::Value>> {
                unreachable!()
            }
            async fn put_local(&self, _: serde_json::Value) -> settee::Result<String> {
                unreachable!()
            }
        }
        let log = Rc::new(RefCell::new(Vec::new()));
        let f = live::run(&LocalPeer::new(a), &Unauthorized, opts(10), live_opts(true, true, &log))
            .await
            .unwrap_err();
        assert_eq!(f.error.name, "unauthorized");
        assert_eq!(*log.borrow(), vec!["active"], "no retry, no sleep");
    });
}

#[test]
fn a_live_replications_later_passes_read_neither_info_nor_checkpoints_again() {
    let mut pool = LocalPool::new();
    let (a, b) = (mem_db("a"), mem_db("b"));
    pool.run_until(put_many(&a, "d", 5));
    let log = Rc::new(RefCell::new(Vec::new()));
    let o = opts(100);
    let (cancel, carry) = (o.cancel.clone(), o.carry.clone());
    let l = live_opts(true, false, &log);
    let signal = l.cancel_signal.clone();
    let source = Rc::new(Counting::new(LocalPeer::new(a.clone())));
    let target = Rc::new(Counting::new(LocalPeer::new(b.clone())));
    {
        let (source, target) = (source.clone(), target.clone());
        pool.spawner()
            .spawn_local(async move {
                let _ = live::run(&*source, &*target, o, l).await;
            })
            .unwrap();
    }
    pool.run_until_stalled();
    for round in 0..3 {
        pool.run_until(put(&a, json!({"_id": format!("doc{round}")})));
        pool.run_until_stalled();
    }
    assert_eq!(log.borrow().iter().filter(|e| *e == "paused").count(), 4, "four passes");
    for peer in [&source, &target] {
        assert_eq!((peer.calls("info"), peer.calls("get_local")), (1, 1), "read by the first pass only");
    }
    // Each pass's checkpoint went on the rev the pass before wrote: no conflict, one doc.
    assert_eq!(target.calls("put_local"), 4);
    assert!(carry.borrow().is_some());
    cancel.set(true);
    signal.notify();
    pool.run_until_stalled();
    assert_eq!(pool.run_until(snapshot(&a)), pool.run_until(snapshot(&b)));
}

#[test]
fn live_replication_picks_up_later_commits_until_cancelled() {
    let mut pool = LocalPool::new();
    let (a, b) = (mem_db("a"), mem_db("b"));
    let log = Rc::new(RefCell::new(Vec::new()));
    let o = opts(100);
    let cancel = o.cancel.clone();
    let l = live_opts(true, false, &log);
    let signal = l.cancel_signal.clone();
    let source = Rc::new(Counting::new(LocalPeer::new(a.clone())));
    let result = Rc::new(RefCell::new(None));
    {
        let (source, b, result) = (source.clone(), b.clone(), result.clone());
        pool.spawner()
            .spawn_local(async move {
                let r = live::run(&*source, &LocalPeer::new(b), o, l).await;
                *result.borrow_mut() = Some(r);
            })
            .unwrap();
    }
    pool.run_until_stalled();
    assert_eq!(*log.borrow(), vec!["active", "paused"], "caught up on an empty source");
    for round in 0..3 {
        pool.run_until(put(&a, json!({"_id": format!("doc{round}"), "round": round})));
        pool.run_until_stalled();
        assert!(block_on(b.get(&format!("doc{round}"), &serde_json::Value::Null)).is_ok(), "round {round}");
    }
    assert_eq!(log.borrow().iter().filter(|e| *e == "paused").count(), 4);
    let waits = source.calls("wait_for_changes");
    cancel.set(true);
    signal.notify();
    pool.run_until_stalled();
    let r = result.borrow_mut().take().expect("the run ended").expect("no error");
    assert_eq!((r.status, r.docs_written), (Status::Cancelled, 3));
    assert_eq!(waits, 4, "one wait per caught-up pass, no polling");
    assert_eq!(block_on(snapshot(&a)), block_on(snapshot(&b)));
}

#[test]
fn a_failing_direction_of_a_live_sync_cancels_the_other() {
    block_on(async {
        let (a, b) = (mem_db("a"), mem_db("b"));
        put(&a, json!({"_id": "x"})).await;
        let log = Rc::new(RefCell::new(Vec::new()));
        let b_peer = Faulty::new(LocalPeer::new(b.clone()), 0, Some("bulk_docs"), Fault::Before);
        // The push fails (no retry); the pull, live, would otherwise wait forever.
        let f = live::sync(
            &LocalPeer::new(a.clone()),
            &b_peer,
            (opts(10), live_opts(false, false, &log)),
            (opts(10), live_opts(true, false, &log)),
        )
        .await
        .unwrap_err();
        assert_eq!(f.error.status, 500);
    });
}

#[test]
fn a_live_sync_does_not_send_back_what_its_other_direction_just_wrote() {
    let mut pool = LocalPool::new();
    let (a, b) = (mem_db("a"), mem_db("b"));
    let log = Rc::new(RefCell::new(Vec::new()));
    let (push, pull) = (opts(100), opts(100));
    let stops = [(push.cancel.clone()), (pull.cancel.clone())];
    let (lpush, lpull) = (live_opts(true, false, &log), live_opts(true, false, &log));
    let signals = [lpush.cancel_signal.clone(), lpull.cancel_signal.clone()];
    let pa = Rc::new(Counting::new(LocalPeer::new(a.clone())));
    let pb = Rc::new(Counting::new(LocalPeer::new(b.clone())));
    {
        let (pa, pb) = (pa.clone(), pb.clone());
        pool.spawner()
            .spawn_local(async move {
                let _ = live::sync(&*pa, &*pb, (push, lpush), (pull, lpull)).await;
            })
            .unwrap();
    }
    pool.run_until_stalled();
    pa.reset();
    pb.reset();
    for round in 0..3 {
        // One side, then the other: each write crosses once and does not come back.
        let (db, id) = if round % 2 == 0 { (&a, "from-a") } else { (&b, "from-b") };
        pool.run_until(put(db, json!({"_id": format!("{id}{round}")})));
        pool.run_until_stalled();
    }
    // Each doc: one revs_diff on the side it went to, one checkpoint pair; the direction that
    // saw it come back asked nothing and wrote no checkpoint.
    assert_eq!((pb.calls("revs_diff"), pa.calls("revs_diff")), (2, 1));
    assert_eq!((pa.calls("bulk_docs"), pb.calls("bulk_docs")), (1, 2));
    assert_eq!((pa.calls("put_local"), pb.calls("put_local")), (3, 3));
    assert_eq!(pool.run_until(snapshot(&a)), pool.run_until(snapshot(&b)));
    // A conflict is not an echo: both leaves reach both sides.
    pool.run_until(async {
        let rev_a = put(&a, json!({"_id": "c", "side": "a"})).await;
        let rev_b = put(&b, json!({"_id": "c", "side": "b"})).await;
        assert_ne!(rev_a, rev_b);
    });
    pool.run_until_stalled();
    assert_eq!(pool.run_until(snapshot(&a)), pool.run_until(snapshot(&b)));
    for (stop, signal) in stops.iter().zip(&signals) {
        stop.set(true);
        signal.notify();
    }
    pool.run_until_stalled();
}
