//! Two handles on one store (two tabs, or a tab and its replicator's handle) where one writes
//! and merges while the other reads, with every record-store call suspending a seeded random
//! number of times, so the reader's snapshot goes stale in the middle of its reads. A read
//! must then start over on the newer manifest, never report a chunk "missing".
#![cfg(not(target_arch = "wasm32"))]

#[path = "common/replicate_helpers.rs"]
mod helpers;

use async_trait::async_trait;
use futures::executor::block_on;
use helpers::yield_now;
use settee::kv::lsm::{Lsm, LsmOptions};
use settee::kv::records::{Commit, LockGuard, MemoryRecords, RecordStore};
use settee::kv::{KvStore, Range, WriteBatch};
use settee::Result;
use std::cell::Cell;
use std::ops::Bound;
use std::rc::{Rc, Weak};

/// `MemoryRecords` whose every call first yields 0–3 times (seeded).
struct Yielding {
    inner: MemoryRecords,
    rng: Rc<Cell<u64>>,
    /// Without a lock both handles may merge, as in a worker without `navigator.locks`.
    lock: bool,
}

impl Yielding {
    async fn pause(&self) {
        let mut x = self.rng.get();
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        self.rng.set(x);
        for _ in 0..(x % 4) {
            yield_now().await;
        }
    }
}

#[async_trait(?Send)]
impl RecordStore for Yielding {
    async fn get(&self, key: &str) -> Result<Option<Vec<u8>>> {
        self.pause().await;
        self.inner.get(key).await
    }
    async fn get_many(&self, keys: &[String]) -> Result<Vec<Option<Vec<u8>>>> {
        self.pause().await;
        self.inner.get_many(keys).await
    }
    async fn commit(&self, commit: Commit<'_>) -> Result<()> {
        self.pause().await;
        self.inner.commit(commit).await
    }
    async fn destroy(&self) -> Result<()> {
        self.inner.destroy().await
    }
    fn announce(&self) {
        self.inner.announce()
    }
    fn subscribe(&self, f: Weak<dyn Fn()>) {
        self.inner.subscribe(f)
    }
    async fn try_lock(&self) -> Result<Option<LockGuard>> {
        if self.lock {
            self.inner.try_lock().await
        } else {
            Ok(Some(Box::new(())))
        }
    }
    fn blobs(&self) -> Rc<dyn settee::kv::blobs::BlobStore> {
        self.inner.blobs()
    }
}

fn key(i: u32) -> Vec<u8> {
    format!("k{i:06}").into_bytes()
}

async fn handle(records: &MemoryRecords, seed: u64, deaf: bool, lock: bool) -> Lsm<Yielding> {
    let inner = if deaf { records.reopen_deaf() } else { records.reopen() };
    let opts = LsmOptions { chunk_bytes: 512, fanout: 2, small_runs: 2, ..LsmOptions::default() };
    Lsm::open_with(Yielding { inner, rng: Rc::new(Cell::new(seed)), lock }, opts).await.expect("opens")
}

#[test]
fn a_reader_whose_chunks_another_handle_merges_away_reads_again_and_never_fails() {
    for seed in 1..=200u64 {
        for (deaf, lock) in [(false, true), (true, true), (false, false), (true, false)] {
            block_on(async {
                let records = MemoryRecords::new();
                let writer = handle(&records, seed * 7919, false, lock).await;
                let reader = handle(&records, seed * 104_729 + 1, deaf, lock).await;
                let rounds = 40u32;
                let write = async {
                    for r in 0..rounds {
                        let mut batch = WriteBatch::new();
                        for i in 0..25 {
                            batch.put(key(r * 25 + i), vec![b'v'; 40]);
                        }
                        writer.write(batch, None).await.expect("write");
                    }
                };
                let read =
                    async {
                        for r in 0..rounds * 3 {
                            let k = key((r * 37) % (rounds * 25));
                            reader.get(&k).await.unwrap_or_else(|e| {
                                panic!("seed {seed} deaf {deaf} lock {lock}: get: {e:?}")
                            });
                            let range = Range { start: Bound::Included(key(r % 100)), end: Bound::Unbounded };
                            reader.scan(range, false, Some(30)).await.unwrap_or_else(|e| {
                                panic!("seed {seed} deaf {deaf} lock {lock}: scan: {e:?}")
                            });
                            // The reader writes too, now and then (a replicator's checkpoint).
                            if r % 10 == 0 {
                                let mut batch = WriteBatch::new();
                                batch.put(format!("r{r}").into_bytes(), vec![1]);
                                reader.write(batch, None).await.expect("reader write");
                            }
                        }
                    };
                futures::future::join(write, read).await;
            });
        }
    }
}
