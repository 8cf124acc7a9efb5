//! The attachment suite, natively: over `MemoryKv` and over the LSM tree on in-memory records.
#![cfg(not(target_arch = "wasm32"))]

mod common {
    #[macro_use]
    #[path = "../common/attachments_suite.rs"]
    pub mod attachments_suite;
}

use settee::db::{Database, DatabaseOptions};
use settee::kv::KvStore;
use std::rc::Rc;

fn options() -> DatabaseOptions {
    DatabaseOptions { adapter: "memory", revs_limit: 1000, new_id: Box::new(|| "generated".to_string()) }
}

mod memory {
    use super::*;

    async fn make() -> (Database, Rc<dyn KvStore>) {
        let kv: Rc<dyn KvStore> = Rc::new(settee::kv::memory::MemoryKv::new());
        (Database::new("t", kv.clone(), options()), kv)
    }

    settee_attachments_suite!(native, make());
}

mod lsm {
    use super::*;
    use settee::kv::lsm::Lsm;
    use settee::kv::records::MemoryRecords;

    async fn make() -> (Database, Rc<dyn KvStore>) {
        let kv: Rc<dyn KvStore> = Rc::new(Lsm::open(MemoryRecords::new()).await.expect("opens"));
        (Database::new("t", kv.clone(), options()), kv)
    }

    settee_attachments_suite!(native, make());
}
