//! The replication scheduler's pure parts: the connection pool (bounded, first come first
//! served, a dropped waiter passes its turn), when waiters longpoll or poll, the `_db_updates`
//! wake-ups, and settings validation.

use futures::executor::LocalPool;
use futures::task::LocalSpawnExt;
use serde_json::json;
use settee::replicate::scheduler::{self, Feed, Pool, Priority, Settings};
use std::cell::RefCell;
use std::future::Future;
use std::rc::Rc;

#[test]
fn the_pool_never_lends_more_than_its_limit_and_serves_in_arrival_order() {
    let pool = Pool::new(2);
    let mut exec = LocalPool::new();
    let order = Rc::new(RefCell::new(Vec::new()));
    let releases: Vec<Rc<futures::lock::Mutex<()>>> =
        (0..6).map(|_| Rc::new(futures::lock::Mutex::new(()))).collect();
    let guards: Vec<_> = releases.iter().map(|m| m.try_lock().unwrap()).collect();
    for (i, release) in releases.iter().enumerate() {
        let (pool, order, release) = (pool.clone(), order.clone(), release.clone());
        exec.spawner()
            .spawn_local(async move {
                let _permit = pool.acquire().await;
                assert!(pool.in_flight() <= 2);
                order.borrow_mut().push(i);
                let _ = release.lock().await;
            })
            .unwrap();
    }
    exec.run_until_stalled();
    assert_eq!(*order.borrow(), vec![0, 1]);
    assert_eq!(pool.waiting(), 4);
    for guard in guards {
        drop(guard);
        exec.run_until_stalled();
    }
    assert_eq!(*order.borrow(), vec![0, 1, 2, 3, 4, 5]);
    assert_eq!(pool.peak(), 2);
    assert_eq!(pool.in_flight(), 0);
}

#[test]
fn a_waiter_that_gives_up_passes_its_turn_to_the_next() {
    let pool = Pool::new(1);
    let mut exec = LocalPool::new();
    let held = exec.run_until(pool.acquire());
    let mut first = Box::pin(pool.acquire());
    let got = Rc::new(RefCell::new(false));
    {
        let (pool, got) = (pool.clone(), got.clone());
        exec.spawner()
            .spawn_local(async move {
                let _p = pool.acquire().await;
                *got.borrow_mut() = true;
            })
            .unwrap();
    }
    // `first` queues ahead of the spawned waiter.
    let waker = futures::task::noop_waker();
    assert!(first.as_mut().poll(&mut std::task::Context::from_waker(&waker)).is_pending());
    exec.run_until_stalled();
    drop(first);
    drop(held);
    exec.run_until_stalled();
    assert!(*got.borrow(), "the second waiter got the permit the first gave up");
    assert_eq!(pool.waiting(), 0);
}

#[test]
fn raising_the_limit_lets_queued_waiters_in_at_once() {
    let pool = Pool::new(1);
    let mut exec = LocalPool::new();
    let _held = exec.run_until(pool.acquire());
    let done = Rc::new(RefCell::new(0));
    let keep = Rc::new(RefCell::new(Vec::new()));
    for _ in 0..3 {
        let (pool, done, keep) = (pool.clone(), done.clone(), keep.clone());
        exec.spawner()
            .spawn_local(async move {
                let p = pool.acquire().await;
                *done.borrow_mut() += 1;
                keep.borrow_mut().push(p);
            })
            .unwrap();
    }
    exec.run_until_stalled();
    assert_eq!(*done.borrow(), 0);
    pool.set_limit(3);
    exec.run_until_stalled();
    assert_eq!(*done.borrow(), 2, "two more slots, two more permits");
    assert_eq!(pool.in_flight(), 3);
}

#[test]
fn waiters_longpoll_while_they_leave_a_connection_free_and_are_preempted_past_that() {
    let origin = scheduler::origin("http://sched-test-a:1/");
    let limit = origin.pool.limit();
    let seen = origin.preempt.generation();
    let mut waiting: Vec<_> = (0..limit - 1).map(|_| origin.wait()).collect();
    assert!(origin.longpoll_allowed());
    assert_eq!(origin.preempt.generation(), seen, "no pre-emption while they fit");
    waiting.push(origin.wait());
    assert!(!origin.longpoll_allowed());
    assert_ne!(origin.preempt.generation(), seen, "the longpolls are told to give way");
    waiting.pop();
    assert!(origin.longpoll_allowed());
}

#[test]
fn the_db_updates_feed_is_wanted_only_while_someone_polls_and_wakes_only_the_named_db() {
    let origin = scheduler::origin("http://sched-test-b:1/");
    let settings = Settings::default();
    let w = origin.wait();
    assert!(!origin.feed_wanted(0.0, &settings), "no poller, no feed");
    w.set_polling(true);
    assert!(origin.feed_wanted(0.0, &settings));
    assert!(!origin.feed_wanted(0.0, &Settings { db_updates: false, ..settings }));
    let (a, b) = (origin.db_signal("a"), origin.db_signal("b"));
    let (seen_a, seen_b) = (a.generation(), b.generation());
    origin.db_updated("a");
    origin.db_updated("nobody-listens");
    assert_ne!(a.generation(), seen_a);
    assert_eq!(b.generation(), seen_b);
    origin.set_feed(Feed::Running { ready: true });
    assert!(!origin.feed_wanted(0.0, &settings));
    assert_eq!(origin.poll_sleep_ms(&settings), scheduler::SAFETY_POLL_MS);
    origin.set_feed(Feed::Refused { until: 1_000.0 });
    assert!(!origin.feed_wanted(999.0, &settings));
    assert!(origin.feed_wanted(1_000.0, &settings));
    assert_eq!(origin.poll_sleep_ms(&settings), settings.poll_interval_ms);
    let seen = origin.feed_changed.generation();
    drop(w);
    assert_ne!(origin.feed_changed.generation(), seen, "the last poller leaving tells the feed to stop");
    assert_eq!(origin.pollers(), 0);
}

#[test]
fn settings_take_valid_options_and_refuse_bad_ones_whole() {
    let base = Settings::default();
    let next =
        base.with_options(&json!({"max_connections": 2, "poll_interval": 500, "db_updates": false})).unwrap();
    assert_eq!(next, Settings { max_connections: 2, poll_interval_ms: 500, db_updates: false });
    for bad in [
        json!({"max_connections": 0}),
        json!({"max_connections": 2, "poll_interval": 10}),
        json!({"max_connections": "4"}),
        json!({"db_updates": 1}),
        json!({"maxConnections": 4}),
        json!([1]),
    ] {
        let err = base.with_options(&bad).unwrap_err();
        assert_eq!(err.status, 400, "{bad}");
    }
}

#[test]
fn a_foreground_request_is_served_before_every_waiting_poll() {
    let pool = Pool::new(1);
    let mut exec = LocalPool::new();
    let held = exec.run_until(pool.acquire());
    let order = Rc::new(RefCell::new(Vec::new()));
    let spawn = |label: &'static str, background: bool| {
        let (pool, order) = (pool.clone(), order.clone());
        exec.spawner()
            .spawn_local(async move {
                let _p =
                    pool.acquire_as(if background { Priority::Background } else { Priority::Normal }).await;
                order.borrow_mut().push(label);
            })
            .unwrap();
    };
    spawn("poll 1", true);
    spawn("poll 2", true);
    spawn("pass 1", false);
    spawn("poll 3", true);
    spawn("pass 2", false);
    {
        let (pool, order) = (pool.clone(), order.clone());
        exec.spawner()
            .spawn_local(async move {
                let _p = pool.acquire_as(Priority::Urgent).await;
                order.borrow_mut().push("feed");
            })
            .unwrap();
    }
    exec.run_until_stalled();
    assert_eq!(pool.waiting(), 6);
    drop(held);
    exec.run_until_stalled();
    assert_eq!(*order.borrow(), ["feed", "pass 1", "pass 2", "poll 1", "poll 2", "poll 3"]);
}
