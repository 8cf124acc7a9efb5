//! Live changes feeds, natively: they wake on commits, honour `limit`, and end on cancel/close.
#![cfg(not(target_arch = "wasm32"))]

#[macro_use]
mod common;

use futures::executor::LocalPool;
use futures::task::LocalSpawnExt;
use serde_json::{json, Value};
use settee::db::live::LiveChanges;
use std::cell::RefCell;
use std::rc::Rc;

fn ids(json: &str) -> Vec<String> {
    let v: Value = serde_json::from_str(json).unwrap();
    v.as_array().unwrap().iter().map(|r| r["id"].as_str().unwrap().to_string()).collect()
}

#[test]
fn a_waiting_feed_wakes_on_the_next_commit() {
    let db = Rc::new(common::db_suite::settee_memory_db());
    let mut pool = LocalPool::new();
    let seen = Rc::new(RefCell::new(Vec::new()));
    let feed = Rc::new(LiveChanges::new(db.clone(), Ok(json!({"since": "now"}))));
    {
        let (feed, seen) = (feed.clone(), seen.clone());
        pool.spawner()
            .spawn_local(async move {
                while let Some(batch) = feed.next().await.unwrap() {
                    seen.borrow_mut().extend(ids(&batch));
                }
            })
            .unwrap();
    }
    pool.run_until_stalled();
    assert!(seen.borrow().is_empty(), "nothing happened yet");
    pool.run_until(async { db.put(json!({"_id": "a"}), true).await.unwrap() });
    pool.run_until_stalled();
    assert_eq!(*seen.borrow(), vec!["a"]);
    pool.run_until(async { db.put(json!({"_id": "b"}), true).await.unwrap() });
    pool.run_until_stalled();
    assert_eq!(*seen.borrow(), vec!["a", "b"]);
    feed.cancel();
    pool.run();
    assert_eq!(feed.last_seq(), 2);
}

#[test]
fn a_feed_with_a_limit_ends_after_that_many_rows() {
    let db = Rc::new(common::db_suite::settee_memory_db());
    let mut pool = LocalPool::new();
    pool.run_until(async {
        for id in ["a", "b", "c"] {
            db.put(json!({"_id": id}), true).await.unwrap();
        }
        let feed = LiveChanges::new(db.clone(), Ok(json!({"limit": 2})));
        assert_eq!(ids(&feed.next().await.unwrap().unwrap()), vec!["a", "b"]);
        assert_eq!(feed.next().await.unwrap(), None);
    });
}

#[test]
fn closing_the_database_ends_its_feeds() {
    let db = Rc::new(common::db_suite::settee_memory_db());
    let mut pool = LocalPool::new();
    let ended = Rc::new(RefCell::new(false));
    let feed = Rc::new(LiveChanges::new(db.clone(), Ok(Value::Null)));
    {
        let (feed, ended) = (feed.clone(), ended.clone());
        pool.spawner()
            .spawn_local(async move {
                while feed.next().await.unwrap().is_some() {}
                *ended.borrow_mut() = true;
            })
            .unwrap();
    }
    pool.run_until_stalled();
    assert!(!*ended.borrow());
    db.close();
    pool.run_until_stalled();
    assert!(*ended.borrow());
}

#[test]
fn bad_feed_options_reject_the_first_next() {
    let db = Rc::new(common::db_suite::settee_memory_db());
    let feed = LiveChanges::new(db, Ok(json!({"since": "later"})));
    let e = futures::executor::block_on(feed.next()).unwrap_err();
    assert_eq!(e.status, 400);
}
