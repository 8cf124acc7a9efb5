//! Benchmark, in the browser: 10,000 small JSON docs (~100 bytes) written in batches of 1,000
//! and read back, through the LSM on IndexedDB, next to two floors measured the same way:
//! - per record: one IndexedDB record per doc, one transaction per batch, read with `getAll`;
//! - chunked: one record per batch of 1,000 docs, read with 10 `get`s in one transaction.
//!
//! Prints the median of 5 runs. Run it in release mode, with output shown:
//! `cargo test --release --target wasm32-unknown-unknown --test kv_bench_web -- --nocapture`
//! (see scripts in the report). It asserts only that every run read back all 10,000 docs.

#![cfg(target_arch = "wasm32")]

use indexed_db_futures::database::Database;
use indexed_db_futures::prelude::*;
use indexed_db_futures::transaction::TransactionMode;
use js_sys::{Reflect, Uint8Array};
use settee::kv::idb::{destroy_idb, open_idb, open_idb_with};
use settee::kv::lsm::LsmOptions;
use settee::kv::{KvStore, Range, WriteBatch};
use wasm_bindgen::{JsCast, JsValue};
use wasm_bindgen_test::*;

wasm_bindgen_test_configure!(run_in_browser);

const DOCS: usize = 10_000;
const BATCH: usize = 1_000;
const RUNS: usize = 5;

fn now() -> f64 {
    let perf = Reflect::get(&js_sys::global(), &"performance".into()).unwrap();
    let f: js_sys::Function = Reflect::get(&perf, &"now".into()).unwrap().unchecked_into();
    f.call0(&perf).unwrap().as_f64().unwrap()
}

fn unique(prefix: &str) -> String {
    format!("{prefix}-{}-{}", js_sys::Date::now() as u64, (js_sys::Math::random() * 1e9) as u64)
}

fn key(i: usize) -> String {
    format!("doc/{i:08}")
}

fn value(i: usize) -> Vec<u8> {
    let v = format!(
        r#"{{"_id":"doc{i:06}","_rev":"1-{:032x}","n":{i},"name":"user {i}","ok":true}}"#,
        (i as u128).wrapping_mul(0x9E37_79B9_7F4A_7C15_F39C_C060_5CED_C835)
    );
    v.into_bytes()
}

fn median(mut xs: Vec<f64>) -> f64 {
    xs.sort_by(|a, b| a.partial_cmp(b).unwrap());
    xs[xs.len() / 2]
}

/// (write ms, read ms, cold read ms)
async fn lsm_run(opts: LsmOptions) -> (f64, f64, f64) {
    let name = unique("bench-lsm");
    let lsm = open_idb_with(&name, opts).await.unwrap();
    let t0 = now();
    for b in 0..DOCS / BATCH {
        let mut batch = WriteBatch::new();
        for i in b * BATCH..(b + 1) * BATCH {
            batch.put(key(i).into_bytes(), value(i));
        }
        lsm.write(batch, None).await.unwrap();
    }
    let t1 = now();
    let rows = lsm.scan(Range::prefix(b"doc/"), false, None).await.unwrap();
    let t2 = now();
    assert_eq!(rows.len(), DOCS);
    // A second handle has an empty cache: this read goes to IndexedDB and decodes.
    let cold = open_idb(&name).await.unwrap();
    let t3 = now();
    let rows = cold.scan(Range::prefix(b"doc/"), false, None).await.unwrap();
    let t4 = now();
    assert_eq!(rows.len(), DOCS);
    lsm.close();
    cold.close();
    destroy_idb(&name).await.unwrap();
    (t1 - t0, t2 - t1, t4 - t3)
}

async fn raw_db(name: &str) -> Database {
    Database::open(name)
        .with_version(1u32)
        .with_on_upgrade_needed(|_, db| {
            db.create_object_store("r").build()?;
            Ok(())
        })
        .await
        .unwrap()
}

async fn per_record_run() -> (f64, f64) {
    let name = unique("bench-rec");
    let db = raw_db(&name).await;
    let t0 = now();
    for b in 0..DOCS / BATCH {
        let tx = db.transaction("r").with_mode(TransactionMode::Readwrite).build().unwrap();
        let store = tx.object_store("r").unwrap();
        for i in b * BATCH..(b + 1) * BATCH {
            let v: JsValue = Uint8Array::from(value(i).as_slice()).into();
            store.put(v).with_key(key(i)).without_key_type().primitive().unwrap();
        }
        tx.commit().await.unwrap();
    }
    let t1 = now();
    let tx = db.transaction("r").build().unwrap();
    let store = tx.object_store("r").unwrap();
    let all = store.get_all::<JsValue>().primitive().unwrap().await.unwrap();
    let values: Vec<Vec<u8>> = all.map(|v| Uint8Array::new(&v.unwrap()).to_vec()).collect();
    let t2 = now();
    assert_eq!(values.len(), DOCS);
    drop(tx);
    db.close();
    Database::delete_by_name(&name).unwrap().await.unwrap();
    (t1 - t0, t2 - t1)
}

async fn chunked_run() -> (f64, f64) {
    let name = unique("bench-chunk");
    let db = raw_db(&name).await;
    let t0 = now();
    for b in 0..DOCS / BATCH {
        let mut blob = Vec::with_capacity(BATCH * 120);
        for i in b * BATCH..(b + 1) * BATCH {
            blob.extend_from_slice(key(i).as_bytes());
            blob.extend_from_slice(&value(i));
        }
        let tx = db.transaction("r").with_mode(TransactionMode::Readwrite).build().unwrap();
        let store = tx.object_store("r").unwrap();
        let v: JsValue = Uint8Array::from(blob.as_slice()).into();
        store.put(v).with_key(format!("chunk/{b}")).without_key_type().primitive().unwrap();
        tx.commit().await.unwrap();
    }
    let t1 = now();
    let tx = db.transaction("r").build().unwrap();
    let store = tx.object_store("r").unwrap();
    let requests: Vec<_> = (0..DOCS / BATCH)
        .map(|b| store.get::<JsValue, _, _>(format!("chunk/{b}")).primitive().unwrap())
        .collect();
    let mut bytes = 0;
    for r in requests {
        bytes += Uint8Array::new(&r.await.unwrap().unwrap()).to_vec().len();
    }
    let t2 = now();
    assert!(bytes > DOCS * 100);
    drop(tx);
    db.close();
    Database::delete_by_name(&name).unwrap().await.unwrap();
    (t1 - t0, t2 - t1)
}

#[wasm_bindgen_test]
async fn ten_thousand_small_docs_through_the_lsm_and_the_two_floors() {
    let (mut lw, mut lr, mut lc, mut pw, mut pr, mut cw, mut cr) = Default::default();
    let (mut nw, mut nr, mut nc) = Default::default();
    let all: [&mut Vec<f64>; 10] =
        [&mut lw, &mut lr, &mut lc, &mut pw, &mut pr, &mut cw, &mut cr, &mut nw, &mut nr, &mut nc];
    let mut samples: Vec<[f64; 10]> = Vec::new();
    for _ in 0..RUNS {
        let (w, r, c) = lsm_run(LsmOptions::default()).await;
        let (nw, nr, nc) = lsm_run(LsmOptions { auto_compact: false, ..LsmOptions::default() }).await;
        let (pw, pr) = per_record_run().await;
        let (cw, cr) = chunked_run().await;
        samples.push([w, r, c, pw, pr, cw, cr, nw, nr, nc]);
    }
    for (i, v) in all.into_iter().enumerate() {
        *v = samples.iter().map(|s| s[i]).collect();
    }
    let report = format!(
        "10,000 docs (~100 B JSON), batches of 1,000, median of {RUNS} runs (ms):\n\
         | layout | write | read back |\n|---|---|---|\n\
         | Settee LSM (write incl. compaction; read warm / cold cache) | {:.1} | {:.1} / {:.1} |\n\
         | Settee LSM, no automatic compaction (10 runs) | {:.1} | {:.1} / {:.1} |\n\
         | floor: one record per doc, getAll | {:.1} | {:.1} |\n\
         | floor: one record per 1,000 docs, get | {:.1} | {:.1} |",
        median(lw),
        median(lr),
        median(lc),
        median(nw),
        median(nr),
        median(nc),
        median(pw),
        median(pr),
        median(cw),
        median(cr)
    );
    console_log!("{report}");
}
