//! The Bloom filters a handle keeps apart from its chunk cache: a get of a key that a chunk's
//! filter rules out reads no record, even when the chunk itself is not cached. This is what
//! keeps the existence check of a batch of new, scattered ids cheap in a big database.

use futures::executor::block_on;
use settee::kv::lsm::{Lsm, LsmOptions};
use settee::kv::records::MemoryRecords;
use settee::kv::{KvStore, Op, WriteBatch};

/// A cache too small to hold the ~150 KB chunk written below, whole or as a table: every chunk
/// read is a record read, unless a kept filter (up to 1/8 of the budget, 8 KiB here) rules the
/// key out.
fn options() -> LsmOptions {
    LsmOptions { chunk_bytes: 256 << 10, cache_bytes: 64 << 10, auto_compact: false, ..LsmOptions::default() }
}

fn key(i: u32) -> Vec<u8> {
    format!("k{i:06}").into_bytes()
}

/// Writes the even keys below 4,000 (one chunk: 2,000 keys, a ~2.5 KB filter).
async fn even_keys(records: &MemoryRecords) -> Lsm<MemoryRecords> {
    let lsm = Lsm::open_with(records.reopen(), options()).await.unwrap();
    let ops: Vec<Op> = (0..4000).step_by(2).map(|i| (key(i), Some(vec![b'v'; 64]))).collect();
    lsm.write(WriteBatch { ops }, None).await.unwrap();
    assert_eq!(lsm.stats().chunks, 1);
    assert_eq!(lsm.stats().cached_chunks, 0, "the chunk must not fit the cache for this test");
    lsm
}

#[test]
fn absent_keys_that_the_kept_filter_rules_out_read_no_record() {
    block_on(async {
        let records = MemoryRecords::new();
        let lsm = even_keys(&records).await;
        let before = records.reads();
        for i in (1..2000).step_by(2) {
            assert_eq!(lsm.get(&key(i)).await.unwrap(), None);
        }
        let odd: Vec<Vec<u8>> = (2001..4000).step_by(2).map(key).collect();
        assert!(lsm.get_many(&odd).await.unwrap().iter().all(Option::is_none));
        // ~1% of absent keys pass a filter of 10 bits per key; without the kept filter every
        // one of the 1,001 lookups read the record.
        let reads = records.reads() - before;
        assert!(reads <= 40, "{reads} record reads for 2,000 absent keys");
        // Keys that are there still read their chunk and are found.
        let present = records.reads();
        assert_eq!(lsm.get(&key(10)).await.unwrap(), Some(vec![b'v'; 64]));
        assert_eq!(records.reads() - present, 1);
    });
}

#[test]
fn a_reopened_handle_keeps_the_filter_of_the_first_chunk_it_reads() {
    block_on(async {
        let records = MemoryRecords::new();
        drop(even_keys(&records).await);
        let lsm = Lsm::open_with(records.reopen(), options()).await.unwrap();
        let before = records.reads();
        assert_eq!(lsm.get(&key(1)).await.unwrap(), None);
        let first = records.reads() - before;
        assert!(first <= 1, "{first}");
        for i in (3..2000).step_by(2) {
            assert_eq!(lsm.get(&key(i)).await.unwrap(), None);
        }
        let reads = records.reads() - before;
        assert!(reads <= 30, "{reads} record reads for 1,000 absent keys after the first");
    });
}
