//! The LSM on IndexedDB inside a dedicated Web Worker: no `window`, so `indexedDB`, the
//! BroadcastChannel and `navigator.locks` all come from the worker's global object.

#![cfg(target_arch = "wasm32")]

#[macro_use]
#[path = "common/kv_suite.rs"]
mod kv_suite;

use kv_suite::Opener;
use settee::kv::idb::open_idb;
use settee::kv::{KvStore, Range, WriteBatch};
use std::rc::Rc;
use wasm_bindgen_test::*;

wasm_bindgen_test_configure!(run_in_dedicated_worker);

struct IdbOpener(String);

impl Opener for IdbOpener {
    async fn open(&self) -> Rc<dyn KvStore> {
        Rc::new(open_idb(&self.0).await.unwrap())
    }
}

fn unique(prefix: &str) -> String {
    format!("{prefix}-{}-{}", js_sys::Date::now() as u64, (js_sys::Math::random() * 1e9) as u64)
}

macro_rules! worker {
    ($name:ident, $opener:expr) => {
        #[wasm_bindgen_test]
        async fn $name() {
            kv_suite::$name(&$opener).await;
        }
    };
}

kv_suite_tests!(worker, IdbOpener(unique("worker")));

#[wasm_bindgen_test]
async fn compaction_takes_the_web_lock_and_writes_reach_another_handle_in_a_worker() {
    let name = unique("worker-tabs");
    let a = open_idb(&name).await.unwrap();
    let b = open_idb(&name).await.unwrap();
    for i in 0..5u8 {
        let mut batch = WriteBatch::new();
        batch.put(vec![b'k', i], vec![i]);
        a.write(batch, None).await.unwrap();
    }
    a.compact().await.unwrap();
    assert_eq!(a.stats().runs, 1);
    b.refresh().await.unwrap();
    assert_eq!(
        b.scan(Range::all(), true, Some(2)).await.unwrap(),
        vec![(vec![b'k', 4], vec![4]), (vec![b'k', 3], vec![3])]
    );
    a.close();
    b.close();
}
