//! `verify` natively, beyond the suite every store runs (`tests/common/verify_suite.rs`):
//! - on the LSM tree over in-memory records, damage to the chunks under the manifest (a record
//!   gone, keys out of order, keys outside the manifest's span) is the `corruption` error
//!   naming the chunk, through `KvStore::verify` and through `Database::verify`; and a chunk
//!   that another handle's compaction deleted while a verify ran is not damage;
//! - a write from another handle between two of verify's pages makes it start over, rather
//!   than compare pages from two states of the data.
#![cfg(not(target_arch = "wasm32"))]

use futures::executor::block_on;
use serde_json::json;
use settee::db::{Database, DatabaseOptions};
use settee::error::Error;
use settee::error::Result;
use settee::kv::blobs::BlobStore;
use settee::kv::lsm::chunk::{Chunk, Splitter};
use settee::kv::lsm::{Lsm, LsmOptions};
use settee::kv::memory::MemoryKv;
use settee::kv::records::MemoryRecords;
use settee::kv::{KvStore, Range, SharedBytes, WriteBatch};
use std::cell::RefCell;
use std::ops::Bound;
use std::rc::Rc;

fn lsm_options() -> LsmOptions {
    LsmOptions { chunk_bytes: 64, auto_compact: false, ..LsmOptions::default() }
}

fn assert_corruption(e: &Error, starts: &str) {
    assert_eq!((e.status, e.name), (500, "corruption"), "{e:?}");
    assert!(e.message.starts_with(starts), "{:?} should start with {starts:?}", e.message);
}

/// Writes keys `k{from}`..`k{to}` (two digits) as one batch, so one run of small chunks.
async fn write_keys(lsm: &Lsm<MemoryRecords>, keys: std::ops::Range<usize>) {
    let mut batch = WriteBatch::new();
    for i in keys {
        batch.put(format!("k{i:02}").into_bytes(), vec![b'v'; 8]);
    }
    lsm.write(batch, None).await.unwrap();
}

fn chunk_keys(records: &MemoryRecords) -> Vec<String> {
    records.keys().into_iter().filter(|k| k.starts_with("chunk/")).collect()
}

fn chunk_id(key: &str) -> u64 {
    u64::from_str_radix(key.trim_start_matches("chunk/"), 16).unwrap()
}

#[test]
fn a_healthy_tree_verifies_with_its_runs_chunks_and_entries() {
    block_on(async {
        let records = MemoryRecords::new();
        let lsm = Lsm::open_with(records.reopen(), lsm_options()).await.unwrap();
        write_keys(&lsm, 0..20).await;
        let mut batch = WriteBatch::new();
        batch.delete(b"k03".to_vec());
        lsm.write(batch, None).await.unwrap();
        let r = lsm.verify().await.unwrap();
        let stats = lsm.stats();
        assert_eq!((r.runs, r.chunks, r.entries, r.tombstones), (2, stats.chunks as u64, 21, 1));
        assert!(r.chunks > 2, "small chunks: {r:?}");
        let stored: u64 = chunk_keys(&records).iter().map(|k| records.raw(k).unwrap().len() as u64).sum();
        assert_eq!(r.bytes, stored);
    });
}

#[test]
fn a_chunk_record_the_manifest_lists_that_is_gone_is_corruption_naming_it() {
    block_on(async {
        let records = MemoryRecords::new();
        let lsm = Lsm::open_with(records.reopen(), lsm_options()).await.unwrap();
        write_keys(&lsm, 0..20).await;
        let victim = chunk_keys(&records)[1].clone();
        records.remove(&victim);
        let e = lsm.verify().await.unwrap_err();
        let version = lsm.stats().version;
        assert_corruption(&e, &format!("corrupt LSM chunk {} of run ", chunk_id(&victim)));
        assert!(
            e.message
                .ends_with(&format!(": its record is missing, though manifest version {version} lists it")),
            "{}",
            e.message
        );
    });
}

#[test]
fn a_chunk_compacted_away_by_another_handle_during_verify_is_not_damage() {
    block_on(async {
        let records = MemoryRecords::new();
        let writer = Lsm::open_with(records.reopen(), lsm_options()).await.unwrap();
        write_keys(&writer, 0..10).await;
        write_keys(&writer, 5..20).await;
        // A tab that has not heard of the merge below: its snapshot lists chunks that are gone.
        let behind = Lsm::open_with(records.reopen_deaf(), lsm_options()).await.unwrap();
        let before = behind.stats().version;
        writer.compact().await.unwrap();
        let r = behind.verify().await.expect("a restart on the fresh manifest, not corruption");
        assert_eq!((r.runs, r.entries), (1, 20));
        assert!(behind.stats().version > before, "verify refreshed to the merged manifest");
    });
}

#[test]
fn keys_swapped_inside_a_chunk_are_corruption_naming_the_chunk() {
    block_on(async {
        let records = MemoryRecords::new();
        let lsm = Lsm::open_with(records.reopen(), lsm_options()).await.unwrap();
        write_keys(&lsm, 0..20).await;
        let victim = chunk_keys(&records)[0].clone();
        let chunk = Chunk::decode(chunk_id(&victim), records.raw(&victim).unwrap()).unwrap();
        assert!(chunk.len() >= 2);
        let mut entries: Vec<(Vec<u8>, Vec<u8>)> =
            (0..chunk.len()).map(|i| (chunk.key(i).to_vec(), chunk.value(i).unwrap().to_vec())).collect();
        entries.swap(0, 1);
        // The chunk format by hand (nothing shared between keys; every length under 128 is one
        // varint byte), since the encoder refuses keys out of order.
        let mut bytes = b"SC\x01".to_vec();
        for (k, v) in &entries {
            bytes.extend_from_slice(&[0, k.len() as u8]);
            bytes.extend_from_slice(k);
            bytes.push(v.len() as u8 + 1);
            bytes.extend_from_slice(v);
        }
        records.damage(&victim, bytes);
        // The handle's cache still holds the chunk as written: verify reads the record.
        let e = lsm.verify().await.unwrap_err();
        assert_corruption(&e, &format!("corrupt LSM chunk {}: entry at byte ", chunk_id(&victim)));
        assert!(e.message.ends_with("is not above the one before"), "{}", e.message);
    });
}

#[test]
fn a_chunk_holding_a_key_outside_its_span_is_corruption_naming_the_key() {
    block_on(async {
        let records = MemoryRecords::new();
        let lsm = Lsm::open_with(records.reopen(), lsm_options()).await.unwrap();
        write_keys(&lsm, 0..20).await;
        let first = chunk_keys(&records).into_iter().min().unwrap();
        let old = Chunk::decode(chunk_id(&first), records.raw(&first).unwrap()).unwrap();
        let mut s = Splitter::new(1 << 20);
        s.push(old.key(0), Some(b"v"));
        s.push(b"k99", Some(b"v"));
        records.damage(&first, s.finish().remove(0).bytes);
        let e = lsm.verify().await.unwrap_err();
        assert_corruption(&e, &format!("corrupt LSM chunk {} of run ", chunk_id(&first)));
        assert!(e.message.contains(r#"key "k99" is outside its span "k00".."#), "{}", e.message);
    });
}

#[test]
fn database_verify_reports_the_chunks_and_names_a_lost_one() {
    block_on(async {
        let records = MemoryRecords::new();
        let kv = Rc::new(Lsm::open_with(records.reopen(), lsm_options()).await.unwrap());
        let options =
            DatabaseOptions { adapter: "memory", revs_limit: 100, new_id: Box::new(|| "gen".into()) };
        let db = Database::new("v", kv.clone(), options);
        let docs = (0..50).map(|i| json!({"_id": format!("d{i:03}"), "n": i})).collect();
        db.bulk_docs(docs, true).await.unwrap();
        let r = db.verify_report().await.unwrap();
        assert_eq!((r.docs, r.seqs, r.runs), (50, 50, 1));
        assert_eq!(r.chunks, kv.stats().chunks as u64);
        let victim = chunk_keys(&records).into_iter().max().unwrap();
        records.remove(&victim);
        let e = db.verify_report().await.unwrap_err();
        assert_corruption(&e, &format!("corrupt LSM chunk {} of run ", chunk_id(&victim)));
    });
}

/// The cost of a verify: `cargo test --release --test verify_native -- --ignored --nocapture`.
#[test]
#[ignore = "a timing, not a check: run it on purpose"]
fn time_a_verify_of_20k_docs() {
    block_on(async {
        let records = MemoryRecords::new();
        let open = |records: MemoryRecords| async {
            let kv = Rc::new(Lsm::open(records).await.unwrap());
            let options =
                DatabaseOptions { adapter: "memory", revs_limit: 100, new_id: Box::new(|| "gen".into()) };
            Database::new("v", kv, options)
        };
        let db = open(records.reopen()).await;
        for batch in 0..20 {
            let docs = (0..1000)
                .map(|i| json!({"_id": format!("d{:06}", batch * 1000 + i), "n": i, "text": "x".repeat(60)}))
                .collect();
            db.bulk_docs(docs, true).await.unwrap();
        }
        let cold = open(records.reopen()).await;
        let t = std::time::Instant::now();
        let r = cold.verify_report().await.unwrap();
        let first = t.elapsed();
        let t = std::time::Instant::now();
        cold.verify_report().await.unwrap();
        let second = t.elapsed();
        let t = std::time::Instant::now();
        cold.all_docs(&json!({"include_docs": true})).await.unwrap();
        let all_docs = t.elapsed();
        assert_eq!((r.docs, r.seqs), (20_000, 20_000));
        println!(
            "verify of 20,000 docs ({} runs, {} chunks, {} bytes): {first:?} on a fresh handle, {second:?} again; allDocs with include_docs: {all_docs:?}",
            r.runs, r.chunks, r.bytes
        );
    });
}

/// A memory store whose first scan of the seq index lets another handle (`other`, a database
/// over the same map) write first, as another tab could between two of verify's pages.
struct WriteDuringScan {
    inner: Rc<MemoryKv>,
    other: RefCell<Option<(Database, serde_json::Value)>>,
}

#[async_trait::async_trait(?Send)]
impl KvStore for WriteDuringScan {
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
    async fn scan_shared(
        &self,
        range: Range,
        reverse: bool,
        limit: Option<usize>,
    ) -> Result<Vec<(SharedBytes, SharedBytes)>> {
        if range.start == Bound::Included(vec![settee::db::keys::SEQ]) {
            let other = self.other.borrow_mut().take();
            if let Some((db, doc)) = other {
                db.put(doc, true).await.unwrap();
            }
        }
        self.inner.scan_shared(range, reverse, limit).await
    }
    async fn write(&self, batch: WriteBatch, expected: Option<u64>) -> Result<u64> {
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
    fn close(&self) {}
    fn blobs(&self) -> Rc<dyn BlobStore> {
        self.inner.blobs()
    }
}

#[test]
fn a_write_between_two_pages_of_a_verify_makes_it_start_over_not_fail() {
    block_on(async {
        let options =
            || DatabaseOptions { adapter: "memory", revs_limit: 100, new_id: Box::new(|| "gen".into()) };
        let inner = Rc::new(MemoryKv::new());
        let other = Database::new("v", inner.clone(), options());
        let a = settee_put(&other, json!({"_id": "a"})).await;
        settee_put(&other, json!({"_id": "b"})).await;
        // After verify read the doc records, "a" moves from seq 1 to seq 3.
        let edit = json!({"_id": "a", "_rev": a, "v": 2});
        let kv = Rc::new(WriteDuringScan { inner, other: RefCell::new(Some((other, edit))) });
        let db = Database::new("v", kv.clone(), options());
        let r = db.verify_report().await.expect("the second pass sees one state of the data");
        assert!(kv.other.borrow().is_none(), "the other write happened during the verify");
        assert_eq!((r.docs, r.seqs, r.update_seq), (2, 2, 3));
    });
}

async fn settee_put(db: &Database, doc: serde_json::Value) -> String {
    let answer: serde_json::Value = serde_json::from_str(&db.put(doc, true).await.unwrap()).unwrap();
    answer["rev"].as_str().unwrap().to_string()
}
