//! The database conformance suite, the feeds suite and the `verify` suite in headless Chromium, over the LSM tree
//! on IndexedDB.
#![cfg(target_arch = "wasm32")]

#[macro_use]
mod common;

use settee::db::{Database, DatabaseOptions};
use settee::kv::KvStore;
use std::cell::Cell;
use std::rc::Rc;

wasm_bindgen_test::wasm_bindgen_test_configure!(run_in_browser);

thread_local! {
    static NEXT: Cell<u64> = const { Cell::new(0) };
}

/// A fresh IndexedDB-backed database: tests share one origin, so every one gets its own name.
async fn make() -> Database {
    make_with_kv().await.0
}

/// `make`, and the store under the database.
async fn make_with_kv() -> (Database, Rc<dyn KvStore>) {
    let n = NEXT.with(|c| {
        c.set(c.get() + 1);
        c.get()
    });
    let name = format!("suite-{}-{n}", js_sys::Date::now());
    let kv: Rc<dyn KvStore> = Rc::new(settee::kv::idb::open_idb(&name).await.expect("IndexedDB opens"));
    let ids = Rc::new(Cell::new(0u64));
    let db = Database::new(
        &name,
        kv.clone(),
        DatabaseOptions {
            adapter: "idb",
            revs_limit: 1000,
            new_id: Box::new(move || {
                ids.set(ids.get() + 1);
                format!("gen{:06}", ids.get())
            }),
        },
    );
    (db, kv)
}

settee_db_suite!(web, make());
settee_feeds_suite!(web, make_with_kv());
settee_verify_suite!(web, make_with_kv());
