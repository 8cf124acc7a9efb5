//! Live and retrying replication (`replicate::live`) between memory databases, natively:
//! retry on retryable faults only, backoff delays, live passes woken by commits, cancel.
#![cfg(not(target_arch = "wasm32"))]

mod common;
#[path = "common/replicate_helpers.rs"]
mod helpers;

use futures::executor::{block_on, LocalPool};
use futures::task::LocalSpawnExt;
use helpers::{mem_db, put, put_many, snapshot, Counting, Fault, Faulty};
use serde_json::json;
use settee::db::notify::Notify;
use settee::error::Error;
use settee::replicate::live::{self, Backoff, LiveEvent, LiveOptions, Sleep};
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
    }
}

fn opts(batch_size: usize) -> ReplicateOptions {
    ReplicateOptions { batch_size, session_id: Some("session".into()), ..ReplicateOptions::default() }
}

#[test]
fn retry_backs_off_after_a_server_error_and_resumes_to_completion() {
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
        assert_eq!(*log.borrow(), vec!["active", "paused 500", "sleep 500", "active"]);
        assert_eq!(snapshot(&a).await, snapshot(&b).await);
    });
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
