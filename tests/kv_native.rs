//! The KV conformance suite natively: over `MemoryKv`, and over the LSM on `MemoryRecords`
//! with default options and with tiny chunks and cache (every path that splits, evicts and
//! merges many chunks). Plus LSM facts the suite cannot see: how many records a read touches
//! and how many runs writes leave behind.

#![cfg(not(target_arch = "wasm32"))]

#[macro_use]
#[path = "common/kv_suite.rs"]
mod kv_suite;

use futures::executor::block_on;
use kv_suite::Opener;
use settee::kv::lsm::{Lsm, LsmOptions};
use settee::kv::memory::MemoryKv;
use settee::kv::records::MemoryRecords;
use settee::kv::{KvStore, Range, WriteBatch};
use std::cell::RefCell;
use std::rc::Rc;

#[derive(Default)]
struct MemoryOpener(RefCell<Option<Rc<MemoryKv>>>);

impl Opener for MemoryOpener {
    async fn open(&self) -> Rc<dyn KvStore> {
        self.0.borrow_mut().get_or_insert_with(|| Rc::new(MemoryKv::new())).clone()
    }
}

struct LsmOpener {
    records: MemoryRecords,
    opts: LsmOptions,
}

impl LsmOpener {
    fn new(opts: LsmOptions) -> Self {
        LsmOpener { records: MemoryRecords::new(), opts }
    }
}

impl Opener for LsmOpener {
    async fn open(&self) -> Rc<dyn KvStore> {
        Rc::new(Lsm::open_with(self.records.reopen(), self.opts.clone()).await.unwrap())
    }
}

fn tiny() -> LsmOptions {
    LsmOptions { chunk_bytes: 256, cache_bytes: 4096, ..LsmOptions::default() }
}

macro_rules! native {
    ($name:ident, $opener:expr) => {
        #[test]
        fn $name() {
            block_on(kv_suite::$name(&$opener));
        }
    };
}

mod memory_kv {
    use super::*;
    kv_suite_tests!(native, MemoryOpener::default());
}

mod lsm_default {
    use super::*;
    kv_suite_tests!(native, LsmOpener::new(LsmOptions::default()));
}

mod lsm_tiny_chunks {
    use super::*;
    kv_suite_tests!(native, LsmOpener::new(tiny()));
}

fn docs(from: usize, to: usize) -> WriteBatch {
    let mut batch = WriteBatch::new();
    for i in from..to {
        batch.put(
            format!("doc/{i:06}").into_bytes(),
            format!("{{\"_id\":\"{i}\",\"pad\":\"{}\"}}", "p".repeat(80)).into_bytes(),
        );
    }
    batch
}

#[test]
fn a_get_reads_at_most_one_chunk_per_run_and_none_once_cached() {
    block_on(async {
        let records = MemoryRecords::new();
        let opts = LsmOptions { chunk_bytes: 2048, auto_compact: false, ..LsmOptions::default() };
        let lsm = Lsm::open_with(records.reopen(), opts.clone()).await.unwrap();
        for i in 0..4 {
            lsm.write(docs(i * 100, i * 100 + 100), None).await.unwrap();
        }
        let runs = lsm.stats().runs;
        assert_eq!(runs, 4);
        assert!(lsm.stats().chunks > 8, "each run spans several chunks");

        let cold = Lsm::open_with(records.reopen(), opts).await.unwrap();
        let before = records.reads();
        assert!(cold.get(b"doc/000050").await.unwrap().is_some());
        assert!(records.reads() - before <= runs as u64, "one chunk per run at most");
        let before = records.reads();
        assert!(cold.get(b"doc/000051").await.unwrap().is_some());
        assert_eq!(records.reads(), before, "the chunk is cached now");
        assert_eq!(cold.get(b"doc/999999").await.unwrap(), None);
        assert_eq!(records.reads(), before, "no run's key span holds this key, so nothing is read");
    });
}

#[test]
fn a_limited_scan_reads_only_the_chunks_it_reaches() {
    block_on(async {
        let records = MemoryRecords::new();
        let opts = LsmOptions { chunk_bytes: 1024, ..LsmOptions::default() };
        let lsm = Lsm::open_with(records.reopen(), opts.clone()).await.unwrap();
        lsm.write(docs(0, 1000), None).await.unwrap();
        assert!(lsm.stats().chunks > 50);
        let cold = Lsm::open_with(records.reopen(), opts).await.unwrap();
        let before = records.reads();
        let rows = cold.scan(Range::prefix(b"doc/"), true, Some(3)).await.unwrap();
        assert_eq!(rows[0].0, b"doc/000999");
        assert!(records.reads() - before <= 2, "read {} chunks", records.reads() - before);
    });
}

#[test]
fn ten_thousand_docs_in_batches_of_a_thousand_leave_few_runs_and_read_back_whole() {
    block_on(async {
        let records = MemoryRecords::new();
        let lsm = Lsm::open(records.reopen()).await.unwrap();
        let started = std::time::Instant::now();
        for b in 0..10 {
            lsm.write(docs(b * 1000, b * 1000 + 1000), None).await.unwrap();
        }
        let rows = lsm.scan(Range::prefix(b"doc/"), false, None).await.unwrap();
        let elapsed = started.elapsed();
        assert_eq!(rows.len(), 10_000);
        assert!(rows.windows(2).all(|w| w[0].0 < w[1].0));
        let stats = lsm.stats();
        assert!(stats.runs <= 4, "10 batches with fanout 4 leave runs of 1, 1, 4 and 4 batches: {stats:?}");
        assert_eq!(stats.entries, 10_000, "nothing overwritten, nothing duplicated");
        eprintln!("10k docs written in 10 batches and scanned natively in {elapsed:?}; {stats:?}");
        let mut keys = records.keys();
        keys.retain(|k| k != "manifest");
        let mut live = lsm.live_chunk_keys();
        live.sort();
        assert_eq!(keys, live, "compactions left no orphan chunk records");
    });
}

#[test]
fn a_range_whose_start_is_after_its_end_is_empty_in_both_directions() {
    block_on(async {
        let lsm = Lsm::open(MemoryRecords::new()).await.unwrap();
        lsm.write(docs(0, 50), None).await.unwrap();
        let backwards = Range {
            start: std::ops::Bound::Included(b"doc/000020".to_vec()),
            end: std::ops::Bound::Included(b"doc/000010".to_vec()),
        };
        assert!(lsm.scan(backwards.clone(), false, None).await.unwrap().is_empty());
        assert!(lsm.scan(backwards, true, Some(5)).await.unwrap().is_empty());
    });
}
