//! On-disk formats of the LSM tree, natively over the memory record store:
//! - a database written by Settee before chunk format 2 (manifest format 1, format-1 chunks)
//!   opens, answers gets, batched gets and scans, passes `verify`, takes writes, and merges
//!   into format-2 chunks that read the same;
//! - gets of keys a chunk's span covers but the chunk lacks answer "absent" from the cached
//!   table (filter, then at most one block: `table`'s tests count the blocks) without reading
//!   its record again.
#![cfg(not(target_arch = "wasm32"))]

use futures::executor::block_on;
use settee::kv::lsm::chunk::encode_format_1;
use settee::kv::lsm::manifest::{chunk_key, ChunkMeta, Manifest, Run};
use settee::kv::lsm::table::Table;
use settee::kv::lsm::{Lsm, LsmOptions};
use settee::kv::records::{Commit, MemoryRecords, RecordStore, MANIFEST_KEY};
use settee::kv::{KvStore, Range, WriteBatch};

fn key(i: usize) -> Vec<u8> {
    format!("d{i:05}").into_bytes()
}

fn value(i: usize, round: usize) -> Vec<u8> {
    format!("value {i} of round {round}").into_bytes()
}

/// Two runs as Settee wrote them with format 1: the newer holds even keys below 200 (one a
/// tombstone), the older every key below 300 in three chunks.
async fn format_1_database() -> MemoryRecords {
    let records = MemoryRecords::new();
    let mut puts: Vec<(String, Vec<u8>)> = Vec::new();
    let mut next_id = 1;
    let mut chunk = |entries: Vec<(Vec<u8>, Option<Vec<u8>>)>| {
        let bytes = encode_format_1(entries.iter().map(|(k, v)| (k.as_slice(), v.as_deref())));
        let meta = ChunkMeta {
            id: next_id,
            bytes: bytes.len() as u64,
            entries: entries.len() as u64,
            tombstones: entries.iter().filter(|e| e.1.is_none()).count() as u64,
            first: entries[0].0.clone(),
            last: entries[entries.len() - 1].0.clone(),
        };
        puts.push((chunk_key(next_id), bytes));
        next_id += 1;
        meta
    };
    let newer = chunk((0..200).step_by(2).map(|i| (key(i), (i != 100).then(|| value(i, 1)))).collect());
    let older =
        (0..3).map(|c| chunk((c * 100..c * 100 + 100).map(|i| (key(i), Some(value(i, 0)))).collect()));
    let runs = vec![Run { id: 100, chunks: vec![newer] }, Run { id: 101, chunks: older.collect() }];
    let m = Manifest { version: 7, data_version: 5, epoch: 99, next_id: 200, runs };
    let mut manifest = m.encode();
    manifest[4..8].copy_from_slice(&1u32.to_le_bytes());
    puts.push((MANIFEST_KEY.to_string(), manifest));
    let commit = Commit {
        expect: 0,
        puts: puts.iter().map(|(k, v)| (k.clone(), v.as_slice())).collect(),
        deletes: vec![],
    };
    records.commit(commit).await.unwrap();
    records
}

/// What the format-1 database holds: key `i` → its latest value, or nothing.
fn expected(i: usize) -> Option<Vec<u8>> {
    match i {
        100 => None,
        i if i < 200 && i % 2 == 0 => Some(value(i, 1)),
        i if i < 300 => Some(value(i, 0)),
        _ => None,
    }
}

async fn check_contents(lsm: &Lsm<MemoryRecords>) {
    for i in [0, 1, 2, 99, 100, 101, 198, 199, 250, 299, 300, 5000] {
        assert_eq!(lsm.get(&key(i)).await.unwrap(), expected(i), "get {i}");
    }
    let keys: Vec<Vec<u8>> = (0..310).map(key).collect();
    let many = lsm.get_many(&keys).await.unwrap();
    assert!(many.into_iter().enumerate().all(|(i, v)| v == expected(i)), "get_many");
    let rows = lsm.scan(Range::all(), false, None).await.unwrap();
    let want: Vec<(Vec<u8>, Vec<u8>)> = (0..300).filter_map(|i| expected(i).map(|v| (key(i), v))).collect();
    assert_eq!(rows, want, "scan");
}

#[test]
fn a_database_written_with_format_1_chunks_opens_reads_verifies_and_merges_into_format_2() {
    block_on(async {
        let records = format_1_database().await;
        let opts = LsmOptions { chunk_bytes: 2048, auto_compact: false, ..LsmOptions::default() };
        let lsm = Lsm::open_with(records.reopen(), opts.clone()).await.unwrap();
        check_contents(&lsm).await;
        let report = lsm.verify().await.unwrap();
        assert_eq!((report.runs, report.chunks, report.tombstones), (2, 4, 1));

        // A fresh handle reads through gets first (the path that opens chunks as tables).
        let cold = Lsm::open_with(records.reopen(), opts.clone()).await.unwrap();
        assert_eq!(cold.get(&key(4)).await.unwrap(), expected(4));
        check_contents(&cold).await;

        lsm.write(WriteBatch { ops: vec![(key(1), Some(value(1, 2)))] }, None).await.unwrap();
        lsm.compact().await.unwrap();
        // The merge rewrites what overlapped as format 2, and keeps the chunk of keys 200..299,
        // which no other run overlapped, as it was: one run then mixes both formats.
        let chunks: Vec<String> = lsm.live_chunk_keys();
        let format_2: Vec<bool> =
            chunks.iter().map(|k| Table::is_format_2(&records.raw(k).unwrap())).collect();
        assert!(chunks.len() > 1);
        for (k, f2) in chunks.iter().zip(&format_2) {
            assert_eq!(*f2, k != &chunk_key(4), "{k}");
        }
        let manifest = records.raw(MANIFEST_KEY).unwrap();
        assert_eq!(u32::from_le_bytes(manifest[4..8].try_into().unwrap()), settee::kv::lsm::FORMAT);
        assert_eq!(settee::kv::lsm::FORMAT, 2);
        let merged = Lsm::open_with(records.reopen(), opts).await.unwrap();
        assert_eq!(merged.get(&key(1)).await.unwrap(), Some(value(1, 2)));
        assert_eq!(merged.get(&key(3)).await.unwrap(), expected(3));
        merged.verify().await.unwrap();
    });
}

#[test]
fn gets_of_absent_keys_inside_a_cached_chunks_span_read_no_record_again() {
    block_on(async {
        let records = MemoryRecords::new();
        let opts = LsmOptions { auto_compact: false, ..LsmOptions::default() };
        let lsm = Lsm::open_with(records.reopen(), opts).await.unwrap();
        let ops = (0..2000).step_by(2).map(|i| (key(i), Some(value(i, 0)))).collect();
        lsm.write(WriteBatch { ops }, None).await.unwrap();
        let cold = Lsm::open(records.reopen()).await.unwrap();
        assert_eq!(cold.get(&key(0)).await.unwrap(), Some(value(0, 0)));
        let reads = records.reads();
        for i in (1..2000).step_by(2) {
            assert_eq!(cold.get(&key(i)).await.unwrap(), None);
        }
        assert_eq!(records.reads(), reads, "the cached table answers, no record is read again");
        assert_eq!(cold.get(&key(1998)).await.unwrap(), Some(value(1998, 0)));
    });
}
