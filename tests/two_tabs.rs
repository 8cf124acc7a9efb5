//! Two tabs (two handles on the same LSM records) writing at once; natively, with stores that
//! suspend before every call so that the two tabs' calls interleave. Each test tries every
//! point at which the second tab's call can start within the first one's.
#![cfg(not(target_arch = "wasm32"))]

#[path = "common/replicate_helpers.rs"]
mod helpers;
#[path = "convergence/yielding_kv.rs"]
mod yielding_kv;

use futures::executor::block_on;
use helpers::{parse, put, yield_now};
use serde_json::json;
use settee::db::{Database, DatabaseOptions};
use settee::kv::lsm::Lsm;
use settee::kv::records::MemoryRecords;
use std::rc::Rc;
use yielding_kv::YieldingKv;

async fn tab(records: &MemoryRecords) -> Database {
    let lsm = Lsm::open(records.reopen()).await.expect("opens");
    let options = DatabaseOptions { adapter: "idb", revs_limit: 1000, new_id: Box::new(|| "unused".into()) };
    Database::new("t", Rc::new(YieldingKv(Rc::new(lsm))), options)
}

#[test]
fn a_sweep_in_one_tab_keeps_data_that_the_other_tab_names_meanwhile() {
    let att = json!({"a.txt": {"content_type": "text/plain", "data": "aGVsbG8="}});
    for delay in 0..40 {
        block_on(async {
            let records = MemoryRecords::new();
            let (a, b) = (tab(&records).await, tab(&records).await);
            // Tab a stores the data, then only a non-leaf rev names it: a's compaction drops
            // that body and may sweep the data at once (a stored it; nothing names it).
            let r1 = put(&a, json!({"_id": "x", "_attachments": att})).await;
            put(&a, json!({"_id": "x", "_rev": r1, "v": 2})).await;
            // Tab b writes the same data in a new doc: it finds the data stored and relies on it.
            let write = async {
                for _ in 0..delay {
                    yield_now().await;
                }
                put(&b, json!({"_id": "y", "_attachments": att})).await
            };
            let (compacted, _) = futures::future::join(a.compact(), write).await;
            compacted.expect("compaction succeeds");
            for db in [&a, &b] {
                let got = db.get("y", &json!({"attachments": true})).await;
                assert!(got.is_ok(), "delay {delay}: {got:?}");
            }
        });
    }
}

#[test]
fn two_tabs_writing_the_same_replicated_deletion_count_the_doc_once() {
    // The deletion as another replica made it, with its history.
    let other = futures::executor::block_on(async {
        let records = MemoryRecords::new();
        let db = tab(&records).await;
        let rev = put(&db, json!({"_id": "x", "v": 1})).await;
        db.remove("x", &rev).await.unwrap();
        let deleted =
            parse(&db.changes(&json!({})).await.unwrap())["results"][0]["changes"][0]["rev"].clone();
        parse(&db.get("x", &json!({"rev": deleted, "revs": true})).await.unwrap())
    });
    for delay in 0..40 {
        block_on(async {
            let records = MemoryRecords::new();
            let (a, b) = (tab(&records).await, tab(&records).await);
            put(&a, json!({"_id": "x", "v": 1})).await;
            let second = async {
                for _ in 0..delay {
                    yield_now().await;
                }
                b.bulk_docs(vec![other.clone()], false).await
            };
            let (first, second) =
                futures::future::join(a.bulk_docs(vec![other.clone()], false), second).await;
            assert!(first.is_ok() && second.is_ok(), "delay {delay}: {first:?} {second:?}");
            for db in [&a, &b] {
                assert_eq!(parse(&db.info().await.unwrap())["doc_count"], 0, "delay {delay}");
            }
        });
    }
}
