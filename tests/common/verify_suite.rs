//! `Database::verify` on every store: natively over `MemoryKv` and the LSM on in-memory
//! records (`tests/db_native.rs`), and over IndexedDB (`tests/db_web.rs`). A healthy database
//! passes with the right counts; each kind of disagreement between the doc records, the seq
//! index and the counters, written straight into the store, is the `corruption` error naming
//! it. Damage only the LSM can have (chunks) is in `tests/corruption.rs`. Each body takes a
//! fresh database and the store under it.

#![allow(dead_code)]

use super::db_suite::{parse, put};
use super::feeds_suite::{rewrite_records_in_original_encoding, setup};
use serde_json::{json, Value};
use settee::db::views::{signature, Emits, FnMap, ViewDef};
use settee::db::{keys, Database, VerifyReport};
use settee::error::{Error, Result};
use settee::kv::{KvStore, Range, WriteBatch};
use std::rc::Rc;

async fn write(kv: &Rc<dyn KvStore>, ops: Vec<(Vec<u8>, Option<Vec<u8>>)>) {
    kv.write(WriteBatch { ops }, None).await.expect("the raw write commits");
}

fn assert_corruption(e: Error, message: &str) {
    assert_eq!((e.status, e.name), (500, "corruption"), "{e:?}");
    assert_eq!(e.message, message);
}

/// Docs a, b (edited: a's seq-1 entry is gone, it is at seq 3) and the counters they leave.
async fn two_docs(db: &Database) {
    let a = put(db, json!({"_id": "a", "v": 1})).await;
    put(db, json!({"_id": "b"})).await;
    put(db, json!({"_id": "a", "_rev": a, "v": 2})).await;
    let r = db.verify_report().await.expect("the database is healthy before the damage");
    assert_eq!((r.docs, r.seqs, r.update_seq, r.doc_count), (2, 2, 3, 2));
}

fn view() -> ViewDef {
    let map = FnMap(|doc: &Value| -> Result<Emits> { Ok(vec![(doc["_id"].clone(), Value::Null)]) });
    ViewDef {
        ddoc: None,
        name: "ids".into(),
        signature: signature("emit(doc._id)", None),
        map: Rc::new(map),
        reduce: None,
    }
}

pub async fn a_healthy_database_verifies_with_the_counts_of_what_it_holds(db: Database, kv: Rc<dyn KvStore>) {
    let a = put(&db, json!({"_id": "a", "v": 1})).await;
    let b = put(&db, json!({"_id": "b"})).await;
    let att = json!({"t.txt": {"content_type": "text/plain", "data": "aGk="}});
    put(&db, json!({"_id": "c", "_attachments": att})).await;
    put(&db, json!({"_id": "d"})).await;
    put(&db, json!({"_id": "a", "_rev": a, "v": 2})).await;
    db.remove("b", &b).await.unwrap();
    // Two replicated branches of e: 1-b wins, and 1-a's body moves under a `b` key.
    for rev in ["1-a", "1-b"] {
        db.bulk_docs(vec![json!({"_id": "e", "_rev": rev, "x": rev})], false).await.unwrap();
    }
    put(&db, json!({"_id": "_local/x", "n": 1})).await;
    put(&db, json!({"_id": "_local/y", "n": 2})).await;
    db.query(&view(), &json!({})).await.unwrap();
    let before = db.verify_report().await.unwrap();
    // The old bodies of a and b are non-leaf revisions: `compact` drops them.
    assert_eq!(before.bodies, 3);
    db.compact().await.unwrap();

    let r = db.verify_report().await.unwrap();
    let info = parse(&db.info().await.unwrap());
    let want = VerifyReport {
        ok: true,
        docs: 5,
        doc_count: 4,
        seqs: 5,
        update_seq: 8,
        bodies: 1,
        local_docs: 2,
        views: 1,
        ..r.clone()
    };
    assert_eq!(r, want);
    assert_eq!(
        (json!(r.doc_count), json!(r.update_seq)),
        (info["doc_count"].clone(), info["update_seq"].clone())
    );
    // The store's counts: every key once, after a full compaction on the LSM too.
    let keys = kv.scan(Range::all(), false, None).await.unwrap();
    assert_eq!(r.entries, keys.len() as u64);
    assert_eq!(r.tombstones, 0);
    let lsm = r.chunks > 0;
    assert_eq!(r.runs, u64::from(lsm), "one run after a full compaction, none in memory");
    let json = parse(&db.verify().await.unwrap());
    assert_eq!(
        (json["ok"].clone(), json["docs"].clone(), json["local_docs"].clone()),
        (json!(true), json!(5), json!(2))
    );
}

pub async fn an_empty_database_verifies_with_nothing_counted(db: Database, _kv: Rc<dyn KvStore>) {
    let r = db.verify_report().await.unwrap();
    assert_eq!(r, VerifyReport { ok: true, ..VerifyReport::default() });
}

pub async fn a_missing_seq_entry_is_corruption_naming_the_doc_and_its_seq(db: Database, kv: Rc<dyn KvStore>) {
    two_docs(&db).await;
    write(&kv, vec![(keys::seq(3), None)]).await;
    assert_corruption(
        db.verify_report().await.unwrap_err(),
        r#"corrupt doc/seq index: doc "a" is at seq 3 but the seq index has no entry 3"#,
    );
}

pub async fn a_seq_entry_naming_another_doc_is_corruption(db: Database, kv: Rc<dyn KvStore>) {
    two_docs(&db).await;
    write(&kv, vec![(keys::seq(3), Some(b"b".to_vec()))]).await;
    assert_corruption(
        db.verify_report().await.unwrap_err(),
        r#"corrupt doc/seq index: doc "a" is at seq 3 but seq-index entry 3 names doc "b""#,
    );
}

pub async fn a_stale_seq_entry_is_corruption_naming_it(db: Database, kv: Rc<dyn KvStore>) {
    two_docs(&db).await;
    // a's entry from before its edit, as a write that lost its delete would leave it.
    write(&kv, vec![(keys::seq(1), Some(b"a".to_vec()))]).await;
    assert_corruption(
        db.verify_report().await.unwrap_err(),
        r#"corrupt doc/seq index: seq-index entry 1 names doc "a", which is at seq 3 (a stale entry)"#,
    );
    write(&kv, vec![(keys::seq(1), Some(b"gone".to_vec()))]).await;
    assert_corruption(
        db.verify_report().await.unwrap_err(),
        r#"corrupt doc/seq index: seq-index entry 1 names doc "gone", which has no doc record"#,
    );
}

pub async fn a_wrong_doc_count_is_corruption(db: Database, kv: Rc<dyn KvStore>) {
    two_docs(&db).await;
    write(&kv, vec![(keys::meta("count"), Some(5u64.to_be_bytes().to_vec()))]).await;
    assert_corruption(
        db.verify_report().await.unwrap_err(),
        "corrupt database meta count: doc_count is 5 but 2 doc records have a live winner",
    );
}

pub async fn an_update_seq_behind_or_ahead_of_the_seq_index_is_corruption(db: Database, kv: Rc<dyn KvStore>) {
    two_docs(&db).await;
    write(&kv, vec![(keys::meta("seq"), Some(2u64.to_be_bytes().to_vec()))]).await;
    // Behind: the next write would give out seq 3 again.
    assert_corruption(
        db.verify_report().await.unwrap_err(),
        r#"corrupt doc/seq index: doc "a" is at seq 3, but the seqs given out are 1 to 2"#,
    );
    write(&kv, vec![(keys::meta("seq"), Some(9u64.to_be_bytes().to_vec()))]).await;
    assert_corruption(
        db.verify_report().await.unwrap_err(),
        "corrupt database meta seq: update_seq is 9 but the newest seq-index entry is 3",
    );
}

pub async fn a_body_of_a_rev_its_doc_lacks_is_corruption(db: Database, kv: Rc<dyn KvStore>) {
    two_docs(&db).await;
    write(&kv, vec![(keys::body("a", "7-zzz"), Some(b"{}".to_vec()))]).await;
    assert_corruption(
        db.verify_report().await.unwrap_err(),
        r#"corrupt body of doc "a" rev 7-zzz: the rev is not in the doc's rev tree"#,
    );
}

pub async fn a_damaged_doc_record_or_local_doc_fails_verify(db: Database, kv: Rc<dyn KvStore>) {
    two_docs(&db).await;
    put(&db, json!({"_id": "_local/l"})).await;
    write(&kv, vec![(keys::local("_local/l"), Some(vec![1, 2]))]).await;
    let e = db.verify_report().await.unwrap_err();
    assert!(e.is_corruption() && e.message.contains(r#"local doc record for id "_local/l""#), "{e:?}");
    let mut record = kv.get(&keys::doc("b")).await.unwrap().unwrap();
    let at = record.len() - 1;
    record.insert(at, b'!'); // still `{…}`, so reads would splice it into answers unparsed
    write(&kv, vec![(keys::doc("b"), Some(record))]).await;
    let e = db.verify_report().await.unwrap_err();
    assert!(e.message.starts_with(r#"corrupt doc record for id "b": body:"#), "{e:?}");
}

pub async fn a_database_in_the_original_encoding_verifies_the_same(db: Database, kv: Rc<dyn KvStore>) {
    setup(&db).await;
    let before = db.verify_report().await.unwrap();
    assert_eq!((before.docs, before.doc_count, before.seqs, before.update_seq), (5, 4, 5, 10));
    // Records without a head: their seq comes from the whole record.
    rewrite_records_in_original_encoding(&kv).await;
    let after = db.verify_report().await.unwrap();
    let counts = |r: &VerifyReport| (r.docs, r.doc_count, r.seqs, r.update_seq, r.bodies);
    assert_eq!(counts(&after), counts(&before));
    write(&kv, vec![(keys::seq(1), Some(b"a".to_vec()))]).await;
    assert_corruption(
        db.verify_report().await.unwrap_err(),
        r#"corrupt doc/seq index: seq-index entry 1 names doc "a", which is at seq 3 (a stale entry)"#,
    );
}

/// Expands to one test per suite body; `$make` is an async expression giving a fresh
/// `(Database, Rc<dyn KvStore>)`.
#[macro_export]
macro_rules! settee_verify_suite {
    ($kind:ident, $make:expr) => {
        $crate::settee_verify_suite!(@each $kind, $make,
            a_healthy_database_verifies_with_the_counts_of_what_it_holds,
            an_empty_database_verifies_with_nothing_counted,
            a_missing_seq_entry_is_corruption_naming_the_doc_and_its_seq,
            a_seq_entry_naming_another_doc_is_corruption,
            a_stale_seq_entry_is_corruption_naming_it,
            a_wrong_doc_count_is_corruption,
            an_update_seq_behind_or_ahead_of_the_seq_index_is_corruption,
            a_body_of_a_rev_its_doc_lacks_is_corruption,
            a_damaged_doc_record_or_local_doc_fails_verify,
            a_database_in_the_original_encoding_verifies_the_same
        );
    };
    (@each native, $make:expr, $($name:ident),*) => {
        $(
            #[test]
            fn $name() {
                futures::executor::block_on(async {
                    let (db, kv) = $make.await;
                    $crate::common::verify_suite::$name(db, kv).await
                });
            }
        )*
    };
    (@each web, $make:expr, $($name:ident),*) => {
        $(
            #[wasm_bindgen_test::wasm_bindgen_test]
            async fn $name() {
                let (db, kv) = $make.await;
                $crate::common::verify_suite::$name(db, kv).await;
            }
        )*
    };
}
