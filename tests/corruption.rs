//! Damaged stored bytes, one kind at a time: reads give the 500 `corruption` error naming
//! what is damaged, never a panic and never an answer built from the damage.
#![cfg(not(target_arch = "wasm32"))]

use futures::executor::block_on;
use serde_json::{json, Value};
use settee::db::{keys, Database, DatabaseOptions};
use settee::error::Error;
use settee::kv::blobs::digest_of;
use settee::kv::lsm::chunk::Splitter;
use settee::kv::lsm::{Lsm, LsmOptions};
use settee::kv::records::{MemoryRecords, MANIFEST_KEY};
use settee::kv::{KvStore, Range, WriteBatch};
use std::rc::Rc;

fn options() -> DatabaseOptions {
    DatabaseOptions { adapter: "memory", revs_limit: 100, new_id: Box::new(|| "gen".into()) }
}

fn lsm_options() -> LsmOptions {
    LsmOptions { chunk_bytes: 64, auto_compact: false, ..LsmOptions::default() }
}

fn assert_corruption(e: &Error, names: &str) {
    assert_eq!((e.status, e.name), (500, "corruption"), "{e:?}");
    assert!(e.message.starts_with(&format!("corrupt {names}")), "{:?} should name {names}", e.message);
}

/// An LSM over `records` holding keys `k00`..`k{n}`, in chunks of a few entries each.
async fn filled(records: &MemoryRecords, n: usize) -> Lsm<MemoryRecords> {
    let lsm = Lsm::open_with(records.reopen(), lsm_options()).await.unwrap();
    let mut batch = WriteBatch::new();
    for i in 0..n {
        batch.put(format!("k{i:02}").into_bytes(), vec![b'v'; 8]);
    }
    lsm.write(batch, None).await.unwrap();
    lsm
}

fn chunk_keys(records: &MemoryRecords) -> Vec<String> {
    records.keys().into_iter().filter(|k| k.starts_with("chunk/")).collect()
}

#[test]
fn a_truncated_chunk_is_a_corruption_error_naming_the_chunk_not_a_panic() {
    block_on(async {
        let records = MemoryRecords::new();
        filled(&records, 20).await;
        let victim = chunk_keys(&records)[0].clone();
        let bytes = records.raw(&victim).unwrap();
        records.damage(&victim, bytes[..bytes.len() - 3].to_vec());
        // A fresh handle, so the chunk is read from the records, not the cache.
        let lsm = Lsm::open_with(records.reopen(), lsm_options()).await.unwrap();
        let id = u64::from_str_radix(victim.trim_start_matches("chunk/"), 16).unwrap();
        let e = lsm.scan(Range::prefix(b"k"), false, None).await.unwrap_err();
        assert_corruption(&e, &format!("LSM chunk {id}: footer offsets"));
        assert_corruption(&lsm.get(b"k00").await.unwrap_err(), &format!("LSM chunk {id}"));
    });
}

#[test]
fn a_damaged_manifest_is_a_corruption_error_when_the_store_opens() {
    block_on(async {
        let records = MemoryRecords::new();
        filled(&records, 5).await;
        let bytes = records.raw(MANIFEST_KEY).unwrap();
        records.damage(MANIFEST_KEY, bytes[..bytes.len() - 1].to_vec());
        let e = Lsm::open_with(records.reopen(), lsm_options()).await.err().expect("an error");
        assert_corruption(&e, "manifest: length");
        records.damage(MANIFEST_KEY, b"STM".to_vec());
        let e = Lsm::open_with(records.reopen(), lsm_options()).await.err().expect("an error");
        assert_corruption(&e, "manifest: bad header");
    });
}

#[test]
fn a_chunk_holding_keys_outside_its_span_fails_compaction_instead_of_spreading() {
    block_on(async {
        let records = MemoryRecords::new();
        let lsm = filled(&records, 20).await;
        // A newer run spanning every chunk of the first, so the merge reads them all.
        let mut batch = WriteBatch::new();
        batch.put(b"k00".to_vec(), b"new".to_vec());
        batch.put(b"k19".to_vec(), b"new".to_vec());
        lsm.write(batch, None).await.unwrap();
        // The first run's first chunk now also holds "k99", beyond the next chunk's keys: a merge
        // would emit keys out of order (it asserted, in debug builds, and in release wrote
        // the disorder into new chunks).
        let first = chunk_keys(&records).into_iter().min().unwrap();
        let mut s = Splitter::new(1 << 20);
        s.push(b"k00", Some(b"v"));
        s.push(b"k99", Some(b"v"));
        records.damage(&first, s.finish().remove(0).bytes);
        let lsm = Lsm::open_with(records.reopen(), lsm_options()).await.unwrap();
        assert_corruption(&lsm.compact().await.unwrap_err(), "LSM: a chunk of runs");
    });
}

async fn db_with(kv: Rc<dyn KvStore>) -> Database {
    let db = Database::new("c", kv, options());
    db.put(json!({"_id": "a", "x": 1}), true).await.unwrap();
    db.put(json!({"_id": "_local/l", "x": 1}), true).await.unwrap();
    db
}

async fn overwrite(kv: &Rc<dyn KvStore>, key: Vec<u8>, bytes: Vec<u8>) {
    let mut batch = WriteBatch::new();
    batch.put(key, bytes);
    kv.write(batch, None).await.unwrap();
}

#[test]
fn a_damaged_doc_record_is_a_corruption_error_naming_the_doc() {
    block_on(async {
        let kv: Rc<dyn KvStore> = Rc::new(Lsm::open(MemoryRecords::new()).await.unwrap());
        let db = db_with(kv.clone()).await;
        overwrite(&kv, keys::doc("a"), vec![9, 0]).await;
        let e = db.get("a", &Value::Null).await.unwrap_err();
        assert_corruption(&e, r#"doc record for id "a": 2 bytes"#);
        assert_corruption(&db.put(json!({"_id": "a"}), true).await.unwrap_err(), r#"doc record for id "a""#);
    });
}

#[test]
fn a_damaged_body_in_a_doc_record_is_a_corruption_error_not_a_panic() {
    block_on(async {
        let kv: Rc<dyn KvStore> = Rc::new(settee::kv::memory::MemoryKv::new());
        let db = db_with(kv.clone()).await;
        let mut record = kv.get(&keys::doc("a")).await.unwrap().unwrap();
        let at = record.len() - 2;
        record[at] = b'"'; // the body {"x":1} becomes {"x":"}
        overwrite(&kv, keys::doc("a"), record).await;
        // These wrap each body in a JSON value without parsing it, and used to panic.
        let e = db.get("a", &json!({"open_revs": "all"})).await.unwrap_err();
        assert_corruption(&e, "doc body");
        let e = db.bulk_get(&json!({"docs": [{"id": "a"}]})).await.unwrap_err();
        assert_corruption(&e, "doc body");
        let e = db.all_docs(&json!({"keys": ["a"], "include_docs": true})).await.unwrap_err();
        assert_corruption(&e, "doc body");
    });
}

#[test]
fn a_damaged_local_doc_is_a_corruption_error_naming_it() {
    block_on(async {
        let kv: Rc<dyn KvStore> = Rc::new(settee::kv::memory::MemoryKv::new());
        let db = db_with(kv.clone()).await;
        overwrite(&kv, keys::local("_local/l"), vec![0, 1, 2]).await;
        let e = db.get("_local/l", &Value::Null).await.unwrap_err();
        assert_corruption(&e, r#"local doc record for id "_local/l": 3 bytes, too short"#);
    });
}

#[test]
fn attachment_data_missing_under_a_stub_is_a_corruption_error_naming_the_digest() {
    block_on(async {
        let kv: Rc<dyn KvStore> = Rc::new(settee::kv::memory::MemoryKv::new());
        let db = Database::new("c", kv.clone(), options());
        let att = json!({"t.txt": {"content_type": "text/plain", "data": "aGVsbG8="}});
        db.put(json!({"_id": "a", "_attachments": att}), true).await.unwrap();
        let digest = digest_of(b"hello");
        kv.blobs().delete(std::slice::from_ref(&digest)).await.unwrap();
        let e = db.get("a", &json!({"attachments": true})).await.unwrap_err();
        assert_corruption(&e, &format!("attachment record {digest}: its data is missing"));
    });
}

#[test]
fn a_damaged_update_seq_is_a_corruption_error_not_a_restart_from_zero() {
    block_on(async {
        let kv: Rc<dyn KvStore> = Rc::new(settee::kv::memory::MemoryKv::new());
        let db = db_with(kv.clone()).await;
        overwrite(&kv, keys::meta("seq"), vec![0, 0, 2]).await;
        assert_corruption(&db.info().await.unwrap_err(), "database meta seq: 3 bytes, not 8");
        // Reusing seq 1 would overwrite the changes entry of doc "a".
        assert_corruption(&db.put(json!({"_id": "b"}), true).await.unwrap_err(), "database meta seq");
    });
}
