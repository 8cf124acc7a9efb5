//! The views and Mango suite in headless Chromium, over the LSM tree on IndexedDB.
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
async fn make() -> (Database, Rc<dyn KvStore>) {
    let n = NEXT.with(|c| {
        c.set(c.get() + 1);
        c.get()
    });
    let name = format!("views-{}-{n}", js_sys::Date::now());
    let kv: Rc<dyn KvStore> = Rc::new(settee::kv::idb::open_idb(&name).await.expect("IndexedDB opens"));
    let ids = Rc::new(Cell::new(0u64));
    let options = DatabaseOptions {
        adapter: "idb",
        revs_limit: 1000,
        new_id: Box::new(move || {
            ids.set(ids.get() + 1);
            format!("gen{:06}", ids.get())
        }),
    };
    (Database::new(&name, kv.clone(), options), kv)
}

settee_views_suite!(web, make());

/// In the browser Mango's `$regex` is JS `RegExp`, as in PouchDB: JS syntax (look-behind,
/// which regex-lite lacks), an unanchored search, and a bad pattern is a 400 at parse time.
#[wasm_bindgen_test::wasm_bindgen_test]
fn mango_regex_is_js_regexp() {
    use serde_json::json;
    use settee::core::mango::Selector;
    let sel = Selector::parse(&json!({"s": {"$regex": "(?<=a)n"}})).expect("JS accepts look-behind");
    assert!(sel.matches(&json!({"s": "banana"})));
    assert!(!sel.matches(&json!({"s": "nope"})));
    assert!(!sel.matches(&json!({"s": 5})));
    let not = Selector::parse(&json!({"s": {"$not": {"$regex": "^b"}}})).expect("parses");
    assert!(not.matches(&json!({"s": "abc"})) && !not.matches(&json!({"s": "bcd"})));
    let err = Selector::parse(&json!({"s": {"$regex": "("}})).expect_err("an unclosed group");
    assert_eq!((err.status, err.name), (400, "bad_request"));
    assert!(err.message.contains("$regex"), "{}", err.message);
}
