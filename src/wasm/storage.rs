//! Choosing the KV store behind a database: `{adapter: 'memory'}` or IndexedDB (the default).

use crate::error::{Error, Result};
use crate::kv::memory::MemoryKv;
use crate::kv::KvStore;
use std::rc::Rc;

pub async fn open(name: &str, adapter: &str) -> Result<(Rc<dyn KvStore>, &'static str)> {
    match adapter {
        "memory" => Ok((Rc::new(MemoryKv::new()), "memory")),
        "idb" | "indexeddb" => Ok((Rc::new(crate::kv::idb::open_idb(name).await?), "idb")),
        other => Err(Error::bad_request(format!("unknown adapter '{other}': use 'idb' or 'memory'"))),
    }
}
