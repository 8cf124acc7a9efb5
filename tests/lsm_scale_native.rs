//! What 100,000 docs look like in the LSM tree over the memory record store: runs, chunks,
//! bytes, record reads per random get, and time (release build). `#[ignore]`d: a measurement,
//! not a check; run it with
//! `cargo test --release --test lsm_scale_native -- --ignored --nocapture`.
//! `SETTEE_SCALE_DOCS` overrides the doc count, `SETTEE_SCALE_CACHE_MB` the cache budget.

use futures::executor::block_on;
use serde_json::json;
use settee::db::{Database, DatabaseOptions};
use settee::kv::lsm::{Lsm, LsmOptions};
use settee::kv::records::MemoryRecords;
use std::alloc::{GlobalAlloc, Layout, System};
use std::rc::Rc;
use std::sync::atomic::{AtomicUsize, Ordering::Relaxed};
use std::time::Instant;

/// Counts live heap bytes and their high-water mark: what wasm linear memory must hold.
struct Counting;
static LIVE: AtomicUsize = AtomicUsize::new(0);
static PEAK: AtomicUsize = AtomicUsize::new(0);

unsafe impl GlobalAlloc for Counting {
    unsafe fn alloc(&self, l: Layout) -> *mut u8 {
        let now = LIVE.fetch_add(l.size(), Relaxed) + l.size();
        PEAK.fetch_max(now, Relaxed);
        System.alloc(l)
    }
    unsafe fn dealloc(&self, p: *mut u8, l: Layout) {
        LIVE.fetch_sub(l.size(), Relaxed);
        System.dealloc(p, l)
    }
}

#[global_allocator]
static ALLOC: Counting = Counting;

fn mb(b: usize) -> String {
    format!("{:.1} MB", b as f64 / 1e6)
}

fn options() -> DatabaseOptions {
    DatabaseOptions { adapter: "idb", revs_limit: 1000, new_id: Box::new(|| "x".into()) }
}

/// The bench's doc (bench/lib/workloads.js `makeDoc`).
fn make_doc(i: usize) -> serde_json::Value {
    json!({
        "_id": format!("doc-{i:06}"), "type": "item", "n": i, "name": format!("Item number {i}"),
        "tags": ["alpha", if i % 2 == 1 { "odd" } else { "even" }], "done": i.is_multiple_of(3),
    })
}

/// mulberry32-like seeded ids, as the bench draws them.
fn ids(n: usize, gets: usize) -> Vec<String> {
    let mut seed = 42u32;
    (0..gets)
        .map(|_| {
            seed = seed.wrapping_add(0x6d2b_79f5);
            let mut t = seed;
            t = (t ^ (t >> 15)).wrapping_mul(t | 1);
            t ^= t.wrapping_add((t ^ (t >> 7)).wrapping_mul(t | 61));
            let r = f64::from(t ^ (t >> 14)) / 4_294_967_296.0;
            format!("doc-{:06}", (r * n as f64) as usize)
        })
        .collect()
}

#[test]
#[ignore]
fn gets_at_scale_report() {
    let n: usize = std::env::var("SETTEE_SCALE_DOCS").ok().and_then(|s| s.parse().ok()).unwrap_or(100_000);
    block_on(async {
        let cache_mb: usize = std::env::var("SETTEE_SCALE_CACHE_MB")
            .ok()
            .and_then(|s| s.parse().ok())
            .unwrap_or(LsmOptions::default().cache_bytes >> 20);
        let opts = LsmOptions { cache_bytes: cache_mb << 20, ..LsmOptions::default() };
        let records = MemoryRecords::new();
        let lsm = Lsm::open_with(records.reopen(), opts.clone()).await.unwrap();
        let base = LIVE.load(Relaxed);
        PEAK.store(base, Relaxed);
        let db = Database::new("t", Rc::new(lsm.clone()), options());
        let t = Instant::now();
        for start in (0..n).step_by(1000) {
            let docs: Vec<_> = (start..(start + 1000).min(n)).map(make_doc).collect();
            db.bulk_docs(docs, true).await.unwrap();
        }
        let fill = t.elapsed();
        let written: usize = records.keys().iter().filter_map(|k| records.raw(k)).map(|r| r.len()).sum();
        // The records live in the memory store here; in a browser they are in IndexedDB.
        let peak = PEAK.load(Relaxed) - base;
        println!(
            "fill {n} (cache {cache_mb} MB): {fill:?}; stats {:?}; records {}; peak heap {} (records included)",
            lsm.stats(),
            mb(written),
            mb(peak)
        );
        let ids = ids(n, 1000);
        // A fresh handle on the same records: an empty cache, as after a page reload.
        let reopened = Lsm::open_with(records.reopen(), opts.clone()).await.unwrap();
        for (label, db) in [("warm", db), ("reopened", Database::new("t", Rc::new(reopened), options()))] {
            let before = records.reads();
            let t = Instant::now();
            for id in &ids {
                db.get(id, &json!({})).await.unwrap();
            }
            println!("{label}: 1000 gets {:?}, {} record reads", t.elapsed(), records.reads() - before);
            let base = LIVE.load(Relaxed);
            PEAK.store(base, Relaxed);
            let t = Instant::now();
            let out = db.all_docs(&json!({"include_docs": true})).await.unwrap();
            println!(
                "{label}: allDocs include_docs {:?}, {} of JSON, peak heap {} over the {} before it",
                t.elapsed(),
                mb(out.len()),
                mb(PEAK.load(Relaxed) - base),
                mb(base)
            );
            let t = Instant::now();
            let reads = records.reads();
            db.changes(&json!({"since": 0})).await.unwrap();
            println!("{label}: changes since 0 {:?}, {} record reads", t.elapsed(), records.reads() - reads);
        }
    });
}
