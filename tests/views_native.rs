//! The views and Mango suite, natively: over `MemoryKv` and over the LSM tree on in-memory
//! records (the same engine that runs on IndexedDB in the browser).
#![cfg(not(target_arch = "wasm32"))]

#[macro_use]
mod common;

use settee::db::{Database, DatabaseOptions};
use settee::kv::KvStore;
use std::cell::Cell;
use std::rc::Rc;

fn open(kv: Rc<dyn KvStore>) -> (Database, Rc<dyn KvStore>) {
    let n = Rc::new(Cell::new(0u64));
    let options = DatabaseOptions {
        adapter: "memory",
        revs_limit: 1000,
        new_id: Box::new(move || {
            n.set(n.get() + 1);
            format!("gen{:06}", n.get())
        }),
    };
    (Database::new("views", kv.clone(), options), kv)
}

mod memory {
    use super::*;

    async fn make() -> (Database, Rc<dyn KvStore>) {
        open(Rc::new(settee::kv::memory::MemoryKv::new()))
    }

    settee_views_suite!(native, make());
}

mod lsm {
    use super::*;
    use settee::kv::lsm::Lsm;
    use settee::kv::records::MemoryRecords;

    async fn make() -> (Database, Rc<dyn KvStore>) {
        open(Rc::new(Lsm::open(MemoryRecords::new()).await.expect("opens")))
    }

    settee_views_suite!(native, make());
}
