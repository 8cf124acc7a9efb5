//! Choosing the KV store behind a database: IndexedDB (the browser's default), a directory on
//! disk (Node's default: `'fs'`, alias `'leveldb'` as PouchDB names its Node adapter), or
//! `{adapter: 'memory'}`.
//!
//! The disk store needs a file system, which wasm has not: the Node entry (`js/node.ts`) hands
//! one over once with `setFileSystem` before any database opens. A directory is
//! `prefix + name` (PouchDB's rule), relative to the working directory unless absolute.

use crate::error::{Error, Result};
use crate::kv::fs::js_fs::JsFs;
use crate::kv::fs::FsRecords;
use crate::kv::lsm::Lsm;
use crate::kv::memory::MemoryKv;
use crate::kv::records::RecordStore;
use crate::kv::KvStore;
use std::cell::RefCell;
use std::rc::Rc;
use wasm_bindgen::prelude::*;

thread_local! {
    static FILE_SYSTEM: RefCell<Option<Rc<JsFs>>> = const { RefCell::new(None) };
}

/// Gives the disk store its file system (called by the Node entry; see `js/node-fs.ts`).
#[wasm_bindgen(js_name = setFileSystem)]
pub fn set_file_system(host: JsValue) {
    FILE_SYSTEM.with(|f| *f.borrow_mut() = Some(Rc::new(JsFs::new(host))));
}

/// Whether a file system was given: the default adapter is then `'fs'`.
pub fn has_file_system() -> bool {
    FILE_SYSTEM.with(|f| f.borrow().is_some())
}

pub async fn open(name: &str, adapter: &str, prefix: &str) -> Result<(Rc<dyn KvStore>, &'static str)> {
    match adapter {
        "memory" => Ok((Rc::new(MemoryKv::new()), "memory")),
        "idb" | "indexeddb" => Ok((Rc::new(crate::kv::idb::open_idb_dyn(name).await?), "idb")),
        "fs" | "leveldb" => {
            let fs = FILE_SYSTEM.with(|f| f.borrow().clone()).ok_or_else(|| {
                Error::bad_request(format!(
                    "adapter '{adapter}' stores on disk and needs Node.js (import 'settee' in Node)"
                ))
            })?;
            let records = FsRecords::open(fs, &format!("{prefix}{name}")).await?;
            // Boxed, as IndexedDB's records are: one copy of the LSM's code (`kv::records`).
            let records: Box<dyn RecordStore> = Box::new(records);
            Ok((Rc::new(Lsm::open(records).await?), "fs"))
        }
        other => Err(Error::bad_request(format!("unknown adapter '{other}': use 'idb', 'fs' or 'memory'"))),
    }
}
