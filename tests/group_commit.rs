//! Group commit (`db::group`), natively: a store whose commits take a turn of the executor, as
//! IndexedDB's do, so that calls started together really do wait for each other. The rows each
//! call gets are checked on every store by the db suite
//! (`concurrent_writes_get_the_rows_serial_calls_would`); this file counts commits.
#![cfg(not(target_arch = "wasm32"))]

use async_trait::async_trait;
use futures::future::{join_all, FutureExt, LocalBoxFuture};
use serde_json::json;
use settee::db::{Database, DatabaseOptions};
use settee::kv::blobs::BlobStore;
use settee::kv::memory::MemoryKv;
use settee::kv::{KvStore, Range, WriteBatch};
use settee::{Error, Result};
use std::cell::Cell;
use std::future::Future;
use std::pin::Pin;
use std::rc::Rc;
use std::task::{Context, Poll};

/// `MemoryKv` whose `write` first yields once, counts itself, and fails when told to.
struct SlowCommits {
    inner: MemoryKv,
    writes: Cell<usize>,
    fail_write: Cell<Option<usize>>,
}

/// Pending once, then ready: lets every other started future run up to its next await.
struct YieldOnce(bool);

impl Future for YieldOnce {
    type Output = ();
    fn poll(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<()> {
        if self.0 {
            return Poll::Ready(());
        }
        self.0 = true;
        cx.waker().wake_by_ref();
        Poll::Pending
    }
}

#[async_trait(?Send)]
impl KvStore for SlowCommits {
    async fn get(&self, key: &[u8]) -> Result<Option<Vec<u8>>> {
        self.inner.get(key).await
    }
    async fn get_many(&self, keys: &[Vec<u8>]) -> Result<Vec<Option<Vec<u8>>>> {
        self.inner.get_many(keys).await
    }
    async fn scan(
        &self,
        range: Range,
        reverse: bool,
        limit: Option<usize>,
    ) -> Result<Vec<(Vec<u8>, Vec<u8>)>> {
        self.inner.scan(range, reverse, limit).await
    }
    async fn write(&self, batch: WriteBatch, expected: Option<u64>) -> Result<u64> {
        YieldOnce(false).await;
        self.writes.set(self.writes.get() + 1);
        if self.fail_write.get() == Some(self.writes.get()) {
            return Err(Error::storage("injected: the commit failed"));
        }
        self.inner.write(batch, expected).await
    }
    fn version(&self) -> u64 {
        self.inner.version()
    }
    async fn refresh(&self) -> Result<bool> {
        self.inner.refresh().await
    }
    fn on_external_change(&self, f: Rc<dyn Fn()>) {
        self.inner.on_external_change(f)
    }
    async fn compact(&self) -> Result<()> {
        self.inner.compact().await
    }
    async fn destroy(&self) -> Result<()> {
        self.inner.destroy().await
    }
    fn close(&self) {
        self.inner.close()
    }
    fn blobs(&self) -> Rc<dyn BlobStore> {
        self.inner.blobs()
    }
}

fn open() -> (Database, Rc<SlowCommits>) {
    let kv =
        Rc::new(SlowCommits { inner: MemoryKv::new(), writes: Cell::new(0), fail_write: Cell::new(None) });
    let options = DatabaseOptions { adapter: "memory", revs_limit: 1000, new_id: Box::new(|| "gen".into()) };
    (Database::new("t", kv.clone(), options), kv)
}

fn puts(db: &Database, ids: std::ops::Range<usize>) -> Vec<LocalBoxFuture<'_, Result<String>>> {
    ids.map(|i| db.put(json!({"_id": format!("doc{i:04}"), "n": i}), true).boxed_local()).collect()
}

fn doc_count(db: &Database) -> u64 {
    let info: serde_json::Value =
        serde_json::from_str(&futures::executor::block_on(db.info()).unwrap()).unwrap();
    info["doc_count"].as_u64().unwrap()
}

#[test]
fn puts_started_together_take_two_commits_not_one_each() {
    let (db, kv) = open();
    let out = futures::executor::block_on(join_all(puts(&db, 0..1000)));
    assert!(out.iter().all(|r| r.as_ref().is_ok_and(|s| s.contains("\"ok\":true"))));
    // The first put commits alone; the 999 that queued while it committed go as one batch.
    assert_eq!(kv.writes.get(), 2);
    assert_eq!(doc_count(&db), 1000);
}

#[test]
fn a_storm_of_puts_is_committed_in_groups_of_at_most_10000() {
    let (db, kv) = open();
    let out = futures::executor::block_on(join_all(puts(&db, 0..12_001)));
    assert!(out.iter().all(Result::is_ok));
    assert_eq!(kv.writes.get(), 3, "1, then 10,000, then 2,000");
    assert_eq!(doc_count(&db), 12_001);
}

#[test]
fn awaited_puts_still_commit_one_by_one() {
    let (db, kv) = open();
    futures::executor::block_on(async {
        for p in puts(&db, 0..5) {
            p.await.unwrap();
        }
    });
    assert_eq!(kv.writes.get(), 5);
}

#[test]
fn calls_of_the_other_new_edits_mode_split_the_group_in_call_order() {
    let (db, kv) = open();
    let mut calls = puts(&db, 0..3);
    calls.push(db.bulk_docs(vec![json!({"_id": "r", "_rev": "1-x"})], false).boxed_local());
    calls.extend(puts(&db, 3..6));
    calls.push(db.put(json!({"_id": "r", "_rev": "1-x", "v": 2}), true).boxed_local());
    let out = futures::executor::block_on(join_all(calls));
    assert!(out.iter().all(Result::is_ok), "{out:?}");
    // doc0000 alone, doc0001-2, the replicated r, then doc0003-5 with the update of r.
    assert_eq!(kv.writes.get(), 4);
    assert_eq!(doc_count(&db), 7);
}

#[test]
fn a_failed_group_commit_fails_every_call_in_it_and_writes_none_of_them() {
    let (db, kv) = open();
    kv.fail_write.set(Some(2));
    let out = futures::executor::block_on(join_all(puts(&db, 0..4)));
    assert!(out[0].is_ok());
    for r in &out[1..] {
        let e = r.as_ref().unwrap_err();
        assert_eq!((e.status, e.message.as_str()), (500, "injected: the commit failed"));
    }
    assert_eq!(doc_count(&db), 1);
    // The store is left as it was: the same puts go through afterwards.
    let again = futures::executor::block_on(join_all(puts(&db, 1..4)));
    assert!(again.iter().all(Result::is_ok));
    assert_eq!(doc_count(&db), 4);
}
