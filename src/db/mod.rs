//! `Database`: documents, changes and `_local` docs over one ordered KV store.
//!
//! This layer only orchestrates: rev-tree logic lives in `core`, bytes in `kv`. Rules:
//! - Every write (`bulk_docs`, `put`, a `_local` write) is one atomic KV batch, planned from
//!   reads at one store version and committed only if that version still holds. A stale
//!   version (another tab wrote) means refresh, re-read and re-plan: the loop in `write`.
//! - Writers on one handle queue on an async lock, so concurrent puts from JS don't keep
//!   invalidating each other's plans; calls that queue are committed as one batch (`group`).
//! - Attachment data never sits in a rev body: bodies hold stubs and the data is stored once
//!   per digest in the store's `BlobStore` (see `attachments`, `attachment_data`); `compact`
//!   sweeps data no body names.
//! - Responses are built as JSON text (see `json`) so that the wasm layer crosses to JS once
//!   per call, with one `JSON.parse`.

mod all_docs;
mod all_docs_keys;
mod all_docs_out;
mod attachment_api;
mod attachment_data;
pub mod attachments;
pub mod changes;
pub mod changes_filter;
pub mod changes_out;
pub mod conflict_events;
mod conflict_resolve;
mod conflicts;
pub mod doc;
mod doc_raw;
mod group;
pub mod json;
pub mod keys;
pub mod live;
mod local;
pub mod notify;
pub mod options;
pub mod peer_api;
mod read;
pub mod record;
mod resolve;
pub mod rev_ref;
pub mod shape;
pub mod validate;
mod verify;
mod verify_more;
pub mod views;
mod write;

pub use changes::ChangesRequest;
pub use verify::VerifyReport;

use crate::error::{Error, Result};
use crate::kv::blobs::BlobStore;
use crate::kv::KvStore;
use notify::Notify;
use serde::Serialize;
use std::cell::{Cell, RefCell};
use std::collections::HashSet;
use std::rc::Rc;

pub const DEFAULT_REVS_LIMIT: usize = 1000;

pub struct Database {
    name: String,
    adapter: &'static str,
    kv: Rc<dyn KvStore>,
    blobs: Rc<dyn BlobStore>,
    /// Digests whose data this handle stored (see `attachment_data`'s sweep rule).
    stored_here: RefCell<HashSet<String>>,
    revs_limit: usize,
    write_lock: futures::lock::Mutex<()>,
    /// Held while a view (or Mango index) is brought up to date, so that two queries at once
    /// map each doc once: the second waits, then finds the index current (PouchDB #4967).
    view_lock: futures::lock::Mutex<()>,
    /// Write calls waiting for `write_lock`, committed in groups (`group`).
    writes: group::WriteQueue,
    notify: Rc<Notify>,
    closed: Cell<bool>,
    new_id: Box<dyn Fn() -> String>,
    /// The Mango indexes and the design doc records they were read from (`views::mango`).
    mango_cache: views::MangoCache,
    /// The schema and the `validate_doc_update` functions writes are checked against.
    validation: validate::State,
    /// The conflict events of this handle's writes (`conflict_events`).
    conflict_log: conflict_events::ConflictLog,
}

#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Meta {
    pub update_seq: u64,
    pub doc_count: u64,
}

impl Meta {
    /// The keys of the counters, in the order `decode` takes their values.
    fn keys() -> [Vec<u8>; 2] {
        [keys::meta("seq"), keys::meta("count")]
    }

    /// A missing counter is 0 (a new database); a damaged one is a corruption error, never 0:
    /// the next write would reuse seqs.
    fn decode(values: &[Option<Vec<u8>>]) -> Result<Meta> {
        let num = |v: &Option<Vec<u8>>, name: &str| match v.as_deref() {
            None => Ok(0),
            Some(b) => b
                .try_into()
                .map(u64::from_be_bytes)
                .map_err(|_| Error::corruption(format!("database meta {name}: {} bytes, not 8", b.len()))),
        };
        Ok(Meta { update_seq: num(&values[0], "seq")?, doc_count: num(&values[1], "count")? })
    }
}

#[derive(Serialize)]
pub struct Info<'a> {
    pub db_name: &'a str,
    pub doc_count: u64,
    pub update_seq: u64,
    pub adapter: &'a str,
}

pub struct DatabaseOptions {
    pub adapter: &'static str,
    pub revs_limit: usize,
    /// Makes ids for docs written without one (`post`, `bulkDocs`).
    pub new_id: Box<dyn Fn() -> String>,
}

impl Database {
    pub fn new(name: &str, kv: Rc<dyn KvStore>, options: DatabaseOptions) -> Database {
        let notify = Rc::new(Notify::default());
        let n = notify.clone();
        kv.on_external_change(Rc::new(move || n.notify()));
        Database {
            name: name.to_string(),
            adapter: options.adapter,
            blobs: kv.blobs(),
            stored_here: RefCell::default(),
            kv,
            revs_limit: options.revs_limit.max(1),
            write_lock: futures::lock::Mutex::new(()),
            view_lock: futures::lock::Mutex::new(()),
            writes: group::WriteQueue::default(),
            notify,
            closed: Cell::new(false),
            new_id: options.new_id,
            mango_cache: RefCell::default(),
            validation: validate::State::default(),
            conflict_log: conflict_events::ConflictLog::default(),
        }
    }

    pub fn name(&self) -> &str {
        &self.name
    }

    pub fn notifier(&self) -> Rc<Notify> {
        self.notify.clone()
    }

    pub fn is_closed(&self) -> bool {
        self.closed.get()
    }

    fn check_open(&self) -> Result<()> {
        if self.closed.get() {
            Err(Error::closed())
        } else {
            Ok(())
        }
    }

    async fn meta(&self) -> Result<Meta> {
        Meta::decode(&self.kv.get_many(&Meta::keys()).await?)
    }

    pub async fn info(&self) -> Result<String> {
        self.check_open()?;
        let m = self.meta().await?;
        Ok(json::to_json(&Info {
            db_name: &self.name,
            doc_count: m.doc_count,
            update_seq: m.update_seq,
            adapter: self.adapter,
        }))
    }

    pub async fn update_seq(&self) -> Result<u64> {
        Ok(self.meta().await?.update_seq)
    }

    /// Drops the bodies of non-leaf revisions and the attachment data nothing refers to any
    /// more, then lets the store merge its files.
    pub async fn compact(&self) -> Result<String> {
        self.check_open()?;
        write::compact_bodies(self).await?;
        self.sweep_attachments().await?;
        self.kv.compact().await?;
        Ok(r#"{"ok":true}"#.to_string())
    }

    pub async fn destroy(&self) -> Result<String> {
        self.kv.destroy().await?;
        self.close();
        Ok(r#"{"ok":true}"#.to_string())
    }

    pub fn close(&self) {
        if !self.closed.replace(true) {
            self.kv.close();
            self.notify.notify();
        }
    }
}
