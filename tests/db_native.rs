//! The database conformance suite, natively: over `MemoryKv` and over the LSM tree on
//! in-memory records (the same engine that runs on IndexedDB in the browser); and the feeds
//! suite (`changes` / `allDocs` encodings and shapes) and the `verify` suite over both.
#![cfg(not(target_arch = "wasm32"))]

#[macro_use]
mod common;

use settee::db::{Database, DatabaseOptions};
use settee::kv::KvStore;
use std::cell::Cell;
use std::rc::Rc;

fn options() -> DatabaseOptions {
    let n = Rc::new(Cell::new(0u64));
    DatabaseOptions {
        adapter: "memory",
        revs_limit: 1000,
        new_id: Box::new(move || {
            n.set(n.get() + 1);
            format!("gen{:06}", n.get())
        }),
    }
}

mod memory {
    use super::*;

    async fn make() -> Database {
        Database::new("t", Rc::new(settee::kv::memory::MemoryKv::new()), options())
    }

    async fn make_with_kv() -> (Database, Rc<dyn KvStore>) {
        let kv: Rc<dyn KvStore> = Rc::new(settee::kv::memory::MemoryKv::new());
        (Database::new("t", kv.clone(), options()), kv)
    }

    settee_db_suite!(native, make());
    settee_feeds_suite!(native, make_with_kv());
    settee_verify_suite!(native, make_with_kv());
}

mod lsm {
    use super::*;
    use settee::kv::lsm::Lsm;
    use settee::kv::records::MemoryRecords;

    async fn make() -> Database {
        let kv = Lsm::open(MemoryRecords::new()).await.expect("opens");
        Database::new("t", Rc::new(kv), options())
    }

    async fn make_with_kv() -> (Database, Rc<dyn KvStore>) {
        let kv: Rc<dyn KvStore> = Rc::new(Lsm::open(MemoryRecords::new()).await.expect("opens"));
        (Database::new("t", kv.clone(), options()), kv)
    }

    settee_db_suite!(native, make());
    settee_feeds_suite!(native, make_with_kv());
    settee_verify_suite!(native, make_with_kv());
}
