//! The attachment suite in headless Chromium, over the LSM tree on IndexedDB.
#![cfg(target_arch = "wasm32")]

mod common {
    #[macro_use]
    #[path = "../common/attachments_suite.rs"]
    pub mod attachments_suite;
}

use settee::db::{Database, DatabaseOptions};
use settee::kv::KvStore;
use std::cell::Cell;
use std::rc::Rc;

wasm_bindgen_test::wasm_bindgen_test_configure!(run_in_browser);

thread_local! {
    static NEXT: Cell<u64> = const { Cell::new(0) };
}

/// A fresh IndexedDB-backed database: tests share one origin, so every one gets its own name.
async fn make() -> (Database, Rc<dyn KvStore>) {
    let n = NEXT.with(|c| {
        c.set(c.get() + 1);
        c.get()
    });
    let name = format!("attachments-{}-{n}", js_sys::Date::now());
    let kv: Rc<dyn KvStore> = Rc::new(settee::kv::idb::open_idb(&name).await.expect("IndexedDB opens"));
    let options =
        DatabaseOptions { adapter: "idb", revs_limit: 1000, new_id: Box::new(|| "generated".to_string()) };
    (Database::new(&name, kv.clone(), options), kv)
}

settee_attachments_suite!(web, make());
