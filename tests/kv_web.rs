//! The KV conformance suite in the browser over the LSM on IndexedDB, plus what only a browser
//! has: two handles on one database hearing each other over BroadcastChannel, a transaction
//! aborted halfway, the compaction lock, destroy with another connection open, many databases
//! at once. Every test uses its own database name: tests share one page and origin.

#![cfg(target_arch = "wasm32")]

#[macro_use]
#[path = "common/kv_suite.rs"]
mod kv_suite;

use kv_suite::Opener;
use settee::kv::idb::{open_idb, open_idb_with, IdbRecordStore};
use settee::kv::lsm::{Lsm, LsmOptions};
use settee::kv::records::RecordStore;
use settee::kv::{KvStore, Range, WriteBatch};
use std::cell::Cell;
use std::rc::Rc;
use wasm_bindgen::JsCast;
use wasm_bindgen_test::*;

wasm_bindgen_test_configure!(run_in_browser);

fn unique(prefix: &str) -> String {
    format!("{prefix}-{}-{}", js_sys::Date::now() as u64, (js_sys::Math::random() * 1e9) as u64)
}

struct IdbOpener {
    name: String,
    opts: LsmOptions,
}

impl IdbOpener {
    fn new(opts: LsmOptions) -> Self {
        IdbOpener { name: unique("suite"), opts }
    }
}

impl Opener for IdbOpener {
    async fn open(&self) -> Rc<dyn KvStore> {
        Rc::new(open_idb_with(&self.name, self.opts.clone()).await.unwrap())
    }
}

fn tiny() -> LsmOptions {
    LsmOptions { chunk_bytes: 512, cache_bytes: 8192, ..LsmOptions::default() }
}

macro_rules! web {
    ($name:ident, $opener:expr) => {
        #[wasm_bindgen_test]
        async fn $name() {
            kv_suite::$name(&$opener).await;
        }
    };
}

mod idb_default {
    use super::*;
    kv_suite_tests!(web, IdbOpener::new(LsmOptions::default()));
}

mod idb_tiny_chunks {
    use super::*;
    kv_suite_tests!(web, IdbOpener::new(tiny()));
}

async fn sleep(ms: i32) {
    let promise = js_sys::Promise::new(&mut |resolve, _| {
        let set_timeout: js_sys::Function =
            js_sys::Reflect::get(&js_sys::global(), &"setTimeout".into()).unwrap().unchecked_into();
        set_timeout.call2(&wasm_bindgen::JsValue::UNDEFINED, &resolve, &ms.into()).unwrap();
    });
    wasm_bindgen_futures::JsFuture::from(promise).await.unwrap();
}

/// Waits up to two seconds for `done`.
async fn eventually(done: impl Fn() -> bool) -> bool {
    for _ in 0..200 {
        if done() {
            return true;
        }
        sleep(10).await;
    }
    done()
}

fn docs(from: usize, to: usize, tag: &str) -> WriteBatch {
    let mut batch = WriteBatch::new();
    for i in from..to {
        batch.put(
            format!("doc/{i:06}").into_bytes(),
            format!("{{\"_id\":\"{i}\",\"tag\":\"{tag}\"}}").into_bytes(),
        );
    }
    batch
}

async fn no_orphans(lsm: &Lsm<IdbRecordStore>) {
    let mut stored = lsm.store().record_keys().await.unwrap();
    stored.retain(|k| k != "manifest");
    let mut live = lsm.live_chunk_keys();
    live.sort();
    assert_eq!(stored, live, "every stored chunk is live and every live chunk is stored");
}

#[wasm_bindgen_test]
async fn two_handles_on_one_database_hear_each_other_over_the_broadcast_channel() {
    let name = unique("tabs");
    let a = open_idb(&name).await.unwrap();
    let b = open_idb(&name).await.unwrap();
    let heard = Rc::new(Cell::new(0));
    let h = heard.clone();
    b.on_external_change(Rc::new(move || h.set(h.get() + 1)));
    let b_before = b.version();

    a.write(docs(0, 10, "a"), None).await.unwrap();
    assert!(eventually(|| heard.get() == 1).await, "b's callback fired after a's commit");
    assert_eq!(b.version(), a.version(), "b refreshed before calling back");
    assert_eq!(b.get(b"doc/000003").await.unwrap(), Some(br#"{"_id":"3","tag":"a"}"#.to_vec()));

    let err = b.write(docs(0, 1, "lost"), Some(b_before)).await.expect_err("planned before a's write");
    assert!(err.is_stale());
    b.write(docs(10, 20, "b"), Some(b.version())).await.unwrap();
    a.refresh().await.unwrap();
    assert_eq!(a.scan(Range::all(), false, None).await.unwrap().len(), 20);
    assert_eq!(
        a.scan(Range::all(), true, None).await.unwrap(),
        b.scan(Range::all(), true, None).await.unwrap()
    );
    a.close();
    b.close();
}

#[wasm_bindgen_test]
async fn a_blind_write_from_a_lagging_handle_retries_and_both_converge() {
    let name = unique("lag");
    let a = open_idb(&name).await.unwrap();
    let b = open_idb(&name).await.unwrap();
    // No waiting between the two writes: b has not heard of a's commit yet.
    a.write(docs(0, 5, "a"), None).await.unwrap();
    b.write(docs(5, 10, "b"), None).await.unwrap();
    assert!(eventually(|| a.version() == b.version()).await);
    assert_eq!(a.scan(Range::all(), false, None).await.unwrap().len(), 10);
    assert_eq!(b.scan(Range::all(), false, None).await.unwrap().len(), 10);
    a.close();
    b.close();
}

#[wasm_bindgen_test]
async fn a_transaction_aborted_halfway_leaves_none_of_the_batch() {
    let name = unique("abort");
    let opts = LsmOptions { chunk_bytes: 4096, ..LsmOptions::default() };
    let a = open_idb_with(&name, opts.clone()).await.unwrap();
    a.write(docs(0, 100, "first"), None).await.unwrap();
    let before = a.scan(Range::all(), false, None).await.unwrap();

    a.store().fail_nth_commit(1);
    let err = a.write(docs(50, 3000, "big"), None).await.expect_err("aborted after its puts went out");
    assert!(!err.is_stale());
    assert_eq!(a.scan(Range::all(), false, None).await.unwrap(), before);
    no_orphans(&a).await;
    a.close();
    let reloaded = open_idb_with(&name, opts).await.unwrap();
    assert_eq!(reloaded.scan(Range::all(), false, None).await.unwrap(), before, "nor after a reload");
    reloaded.write(docs(50, 3000, "big"), None).await.unwrap();
    assert_eq!(reloaded.scan(Range::all(), false, None).await.unwrap().len(), 3000);
    no_orphans(&reloaded).await;
    reloaded.close();
}

#[wasm_bindgen_test]
async fn compaction_waits_for_no_one_and_skips_while_another_handle_holds_the_web_lock() {
    let name = unique("lock");
    let manual = LsmOptions { auto_compact: false, ..LsmOptions::default() };
    let a = open_idb_with(&name, manual.clone()).await.unwrap();
    let b = open_idb_with(&name, manual).await.unwrap();
    a.write(docs(0, 50, "x"), None).await.unwrap();
    a.write(docs(25, 75, "y"), None).await.unwrap();
    let guard = a.store().try_lock().await.unwrap().expect("free at first");
    assert!(b.store().try_lock().await.unwrap().is_none(), "held by a");
    b.compact().await.unwrap();
    b.refresh().await.unwrap();
    assert_eq!(b.stats().runs, 2, "b skipped: someone else holds the lock");
    drop(guard);
    // The browser releases a lock asynchronously, after the holder's promise settles.
    for _ in 0..100 {
        b.compact().await.unwrap();
        if b.stats().runs == 1 {
            break;
        }
        sleep(10).await;
    }
    assert_eq!(b.stats().runs, 1);
    a.refresh().await.unwrap();
    let rows = a.scan(Range::all(), false, None).await.unwrap();
    assert_eq!(rows.len(), 75);
    assert_eq!(rows[30].1, br#"{"_id":"30","tag":"y"}"#.to_vec());
    no_orphans(&b).await;
    a.close();
    b.close();
}

#[wasm_bindgen_test]
async fn destroy_deletes_the_database_even_with_another_connection_open() {
    let name = unique("destroy");
    let a = open_idb(&name).await.unwrap();
    let b = open_idb(&name).await.unwrap();
    a.write(docs(0, 10, "x"), None).await.unwrap();
    a.destroy().await.expect("b closes its connection on versionchange instead of blocking");
    let err = b.store().get("manifest").await.expect_err("b's connection was closed");
    assert_eq!(err.name, "database_closed");
    let again = open_idb(&name).await.unwrap();
    assert!(again.scan(Range::all(), false, None).await.unwrap().is_empty());
    again.close();
    a.close();
    b.close();
}

#[wasm_bindgen_test]
async fn many_databases_open_at_once_in_one_page_stay_separate() {
    let names: Vec<String> = (0..16).map(|i| unique(&format!("many{i}"))).collect();
    let stores = futures::future::join_all(names.iter().map(|n| open_idb(n))).await;
    let stores: Vec<_> = stores.into_iter().map(Result::unwrap).collect();
    let writes = stores.iter().enumerate().map(|(i, s)| s.write(docs(0, 20, &format!("db{i}")), None));
    for r in futures::future::join_all(writes).await {
        r.unwrap();
    }
    for (i, s) in stores.iter().enumerate() {
        let rows = s.scan(Range::all(), false, None).await.unwrap();
        assert_eq!(rows.len(), 20);
        assert!(rows.iter().all(|(_, v)| String::from_utf8_lossy(v).contains(&format!("\"db{i}\""))));
        s.close();
    }
}

#[wasm_bindgen_test]
async fn a_write_returns_before_the_merge_it_triggers_which_then_runs_in_the_background() {
    let lsm = open_idb(&unique("background-merge")).await.unwrap();
    // The default policy merges tiny runs once `small_runs` (16) of them stand side by side.
    let n = LsmOptions::default().small_runs as u8;
    for i in 0..n {
        let mut batch = WriteBatch::new();
        batch.put(vec![b'k', i], vec![i; 100]);
        lsm.write(batch, None).await.unwrap();
    }
    assert_eq!(lsm.stats().runs, n as usize, "the last write did not wait for the merge");
    assert!(eventually(|| lsm.stats().runs == 1).await, "the merge ran on its own");
    assert_eq!(lsm.scan(Range::all(), false, None).await.unwrap().len(), n as usize);
    no_orphans(&lsm).await;
    lsm.close();
}

/// Creates the raw IndexedDB database behind Settee database `name` at `version`, with the
/// object stores an earlier Settee had (`stores`), as that Settee would have left it.
async fn create_raw(name: &str, version: u32, stores: &'static [&'static str]) {
    use indexed_db_futures::factory::DBFactory;
    use indexed_db_futures::prelude::*;
    let db = DBFactory::new()
        .unwrap()
        .open_db(settee::kv::idb::idb_name(name).as_str())
        .with_version(version)
        .with_on_upgrade_needed(move |_, db| {
            for store in stores {
                db.create_object_store(store).build()?;
            }
            Ok(())
        })
        .await
        .unwrap();
    db.close();
}

#[wasm_bindgen_test]
async fn a_database_of_schema_version_2_upgrades_in_place() {
    let name = unique("schema2");
    create_raw(&name, 2, &["records", "attachments"]).await;
    let kv = open_idb(&name).await.expect("an older schema opens");
    let mut batch = WriteBatch::default();
    batch.put(b"k".to_vec(), b"v".to_vec());
    kv.write(batch, None).await.unwrap();
    assert_eq!(kv.get(b"k").await.unwrap(), Some(b"v".to_vec()));
    kv.destroy().await.unwrap();
}

#[wasm_bindgen_test]
async fn a_database_of_a_newer_schema_is_refused_with_a_clear_error() {
    let name = unique("schema-newer");
    create_raw(&name, settee::kv::idb::SCHEMA_VERSION + 1, &["records", "attachments"]).await;
    let err = open_idb(&name).await.err().expect("refused");
    assert!(err.message.contains("newer Settee"), "{err}");
    // Clean up with IndexedDB itself: Settee cannot open it.
    let factory = indexed_db_futures::factory::DBFactory::new().unwrap();
    factory.delete_db(settee::kv::idb::idb_name(&name).as_str()).unwrap().await.unwrap();
}
