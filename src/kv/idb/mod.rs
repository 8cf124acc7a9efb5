//! `IdbRecordStore`: the LSM's records in IndexedDB (wasm only), and `open_idb`.
//!
//! One IndexedDB database per Settee database, named `settee:<name>`, with an object store
//! (`schema::STORE`) holding the manifest and the chunks as `Uint8Array`s by string key, and
//! one holding attachment data as `Blob`s by digest (`blobs`).
//!
//! Rules this file keeps:
//! - Each `commit` is one readwrite transaction whose body only awaits IndexedDB requests:
//!   get the manifest, put the chunks and the manifest, delete the dropped chunks (by key
//!   ranges), all issued back to back (one round trip, not two), then compare the version the
//!   get saw and commit or drop. Requests of a transaction run in order, so the get sees the manifest from before
//!   this commit's puts. Any other await inside would let the transaction auto-commit half
//!   done. indexed_db_futures rolls a transaction back when it is dropped without `commit()`,
//!   so an early return (stale version, error) undoes the queued writes, and so does a killed
//!   tab.
//! - Requests go out when built, so puts and deletes are built back to back and their errors
//!   surface from `commit()`.
//! - One crossing into JS per record: a chunk is copied once into a `Uint8Array` when written
//!   and once out when read. Only the 16-byte header of the manifest is copied for the check.
//! - Another tab deleting or upgrading the database fires `versionchange`: we close our
//!   connection so it is not blocked; this store then answers `Error::closed()`.
//! - `indexedDB` comes from the global object, so all of this works in a Window or a Worker.

pub mod blobs;
mod channel;
mod lock;
mod schema;

use crate::error::{Error, Result};
use crate::kv::lsm::{Lsm, LsmOptions};
use crate::kv::records::{manifest_version, Commit, LockGuard, RecordStore, MANIFEST_KEY};
use async_trait::async_trait;
use channel::Channel;
use indexed_db_futures::database::Database;
use indexed_db_futures::factory::DBFactory;
use indexed_db_futures::prelude::*;
use indexed_db_futures::transaction::TransactionMode;
use indexed_db_futures::KeyRange;
use js_sys::{Reflect, Uint8Array};
use std::cell::{Cell, RefCell};
use std::rc::{Rc, Weak};
use std::task::{Poll, Waker};
use wasm_bindgen::{JsCast, JsValue};

pub use schema::VERSION as SCHEMA_VERSION;

/// The IndexedDB database (and channel, and lock) name of a Settee database.
pub fn idb_name(name: &str) -> String {
    format!("settee:{name}")
}

/// Opens (creating or upgrading) the Settee database `name` on IndexedDB, with default options.
pub async fn open_idb(name: &str) -> Result<Lsm<IdbRecordStore>> {
    open_idb_with(name, LsmOptions::default()).await
}

/// As `open_idb`, with the LSM over `Box<dyn RecordStore>`, the type the disk store's is over
/// too, so the wasm holds one copy of the LSM's code (see `records`). The library opens this;
/// tests that reach into `IdbRecordStore` open the typed one.
pub async fn open_idb_dyn(name: &str) -> Result<Lsm<Box<dyn RecordStore>>> {
    let records: Box<dyn RecordStore> = Box::new(IdbRecordStore::open(name).await?);
    Lsm::open_with(records, LsmOptions::default()).await
}

pub async fn open_idb_with(name: &str, opts: LsmOptions) -> Result<Lsm<IdbRecordStore>> {
    Lsm::open_with(IdbRecordStore::open(name).await?, opts).await
}

/// Deletes the Settee database `name` without opening it. Waits while other connections are
/// open; Settee's own close when asked (`versionchange`).
pub async fn destroy_idb(name: &str) -> Result<()> {
    let factory = DBFactory::new().map_err(idb_err)?;
    factory.delete_db(&idb_name(name)).map_err(idb_err)?.await.map_err(idb_err)
}

/// An IndexedDB failure as a Settee error. A full quota (`QuotaExceededError`, which also
/// aborts the transaction, so nothing of it is stored) is `507 quota_exceeded`, the one a
/// caller can act on: free space, or write less. Anything else is a storage error.
fn idb_err(e: impl std::fmt::Display) -> Error {
    let text = e.to_string();
    if is_quota_error(&text) {
        return Error::new(
            507,
            "quota_exceeded",
            format!("The browser's storage quota for this site is full: {text}"),
        )
        .with_reason("quota_exceeded");
    }
    Error::storage(format!("IndexedDB: {text}"))
}

fn is_quota_error(text: &str) -> bool {
    text.contains("QuotaExceeded") || text.contains("quota")
}

/// The error of a commit that failed. Chromium reports a full quota only as the aborted
/// transaction's `error`, which indexed_db_futures does not hand over (its commit says
/// "aborted"), so an abort this code did not ask for is checked against
/// `navigator.storage.estimate()`: if `bytes` more would not fit, it is `quota_exceeded`.
/// (Stored values may be compressed, so `bytes` overstates what was needed: when the quota
/// was the cause, this always sees it.)
async fn commit_err(e: impl std::fmt::Display, bytes: u64) -> Error {
    let error = idb_err(e);
    if error.name == "quota_exceeded" || !error.message.contains("aborted") {
        return error;
    }
    match storage_estimate().await {
        Some((usage, quota)) if usage + bytes as f64 > quota => idb_err(format!(
            "QuotaExceededError: {bytes} bytes more do not fit ({usage} of {quota} bytes used)"
        )),
        _ => error,
    }
}

/// `(usage, quota)` from `navigator.storage.estimate()`, in a window or a worker.
async fn storage_estimate() -> Option<(f64, f64)> {
    let get =
        |v: &JsValue, k: &str| Reflect::get(v, &JsValue::from_str(k)).ok().filter(|v| !v.is_undefined());
    let storage = get(&get(&js_sys::global().into(), "navigator")?, "storage")?;
    let estimate: js_sys::Function = get(&storage, "estimate")?.dyn_into().ok()?;
    let promise: js_sys::Promise = estimate.call0(&storage).ok()?.dyn_into().ok()?;
    let answer = wasm_bindgen_futures::JsFuture::from(promise).await.ok()?;
    Some((get(&answer, "usage")?.as_f64()?, get(&answer, "quota")?.as_f64()?))
}

/// Wakes and ends the task that waits for `versionchange` once the store is closed.
#[derive(Default)]
struct Stop {
    stopped: Cell<bool>,
    waker: RefCell<Option<Waker>>,
}

impl Stop {
    fn stop(&self) {
        self.stopped.set(true);
        if let Some(w) = self.waker.borrow_mut().take() {
            w.wake();
        }
    }
}

pub struct IdbRecordStore {
    name: String,
    /// `None` once closed, destroyed, or closed for another tab's `versionchange`.
    db: Rc<RefCell<Option<Database>>>,
    channel: Option<Channel>,
    stop: Rc<Stop>,
    fail_in: Cell<u64>,
    blobs: Rc<blobs::IdbBlobs>,
}

impl IdbRecordStore {
    /// Opens the IndexedDB database of the Settee database `name`, running schema upgrades.
    pub async fn open(name: &str) -> Result<IdbRecordStore> {
        let full = idb_name(name);
        let factory = DBFactory::new().map_err(idb_err)?;
        let db = factory
            .open_db(full.as_str())
            .with_version(schema::VERSION)
            .with_on_upgrade_needed(|event, db| schema::upgrade(&db, event.old_version() as u32))
            .await
            .map_err(|e| {
                let msg = e.to_string();
                if msg.contains("VersionError") {
                    Error::storage(format!("IndexedDB database {full} was created by a newer Settee"))
                } else {
                    idb_err(msg)
                }
            })?;
        let slot = Rc::new(RefCell::new(Some(db.clone())));
        let store = IdbRecordStore {
            name: full.clone(),
            blobs: Rc::new(blobs::IdbBlobs { db: slot.clone(), parts: Cell::new(false) }),
            db: slot,
            channel: Channel::open(&full),
            stop: Rc::default(),
            fail_in: Cell::new(0),
        };
        store.close_on_version_change(db);
        Ok(store)
    }

    /// Stores attachment data as `ArrayBuffer` parts, as it does on its own in an engine that
    /// refuses Blobs in IndexedDB; lets the tests run that path in any engine.
    pub fn store_attachments_as_parts(&self) {
        self.blobs.use_parts();
    }

    fn close_on_version_change(&self, db: Database) {
        let slot = self.db.clone();
        let stop = self.stop.clone();
        wasm_bindgen_futures::spawn_local(async move {
            let Ok(mut changes) = db.version_changes() else { return };
            let change = std::future::poll_fn(|cx| {
                if stop.stopped.get() {
                    return Poll::Ready(None);
                }
                *stop.waker.borrow_mut() = Some(cx.waker().clone());
                changes.poll_recv(cx)
            })
            .await;
            if change.is_some() {
                if let Some(db) = slot.borrow_mut().take() {
                    db.close();
                }
            }
        });
    }

    /// The IndexedDB database name.
    pub fn name(&self) -> &str {
        &self.name
    }

    /// Test hook: the `n`-th commit from now (1 = next) puts its records and then aborts
    /// instead of committing, as if the tab died in the middle of the transaction.
    pub fn fail_nth_commit(&self, n: u64) {
        self.fail_in.set(n);
    }

    /// Every record key, for consistency checks (one read-only transaction).
    pub async fn record_keys(&self) -> Result<Vec<String>> {
        let db = self.db()?;
        let tx = db.transaction(schema::STORE).build().map_err(idb_err)?;
        let store = tx.object_store(schema::STORE).map_err(idb_err)?;
        let keys = store.get_all_keys::<String>().primitive().map_err(idb_err)?.await.map_err(idb_err)?;
        keys.collect::<std::result::Result<Vec<_>, _>>().map_err(idb_err)
    }

    fn db(&self) -> Result<Database> {
        self.db.borrow().clone().ok_or_else(Error::closed)
    }

    fn injected_fault(&self) -> bool {
        let n = self.fail_in.get();
        if n > 0 {
            self.fail_in.set(n - 1);
        }
        n == 1
    }
}

fn bytes_of(value: JsValue) -> Vec<u8> {
    Uint8Array::new(&value).to_vec()
}

#[async_trait(?Send)]
impl RecordStore for IdbRecordStore {
    async fn get(&self, key: &str) -> Result<Option<Vec<u8>>> {
        Ok(self.get_many(&[key.to_string()]).await?.pop().flatten())
    }

    async fn get_many(&self, keys: &[String]) -> Result<Vec<Option<Vec<u8>>>> {
        let db = self.db()?;
        let tx = db.transaction(schema::STORE).build().map_err(idb_err)?;
        let store = tx.object_store(schema::STORE).map_err(idb_err)?;
        let requests = keys
            .iter()
            .map(|k| store.get::<JsValue, _, _>(k.as_str()).primitive())
            .collect::<std::result::Result<Vec<_>, _>>()
            .map_err(idb_err)?;
        let mut out = Vec::with_capacity(keys.len());
        for r in requests {
            out.push(r.await.map_err(idb_err)?.map(bytes_of));
        }
        // Dropping a read-only transaction after its requests finished changes nothing.
        Ok(out)
    }

    async fn commit(&self, commit: Commit<'_>) -> Result<()> {
        let db = self.db()?;
        let tx =
            db.transaction(schema::STORE).with_mode(TransactionMode::Readwrite).build().map_err(idb_err)?;
        let store = tx.object_store(schema::STORE).map_err(idb_err)?;
        // Pipelined: the manifest read goes out first and the writes right behind it, without
        // waiting for its answer. Requests of a transaction run in order, so the read sees the
        // manifest as it was before this commit; if its version is not the expected one we
        // return, which drops `tx` uncommitted and so rolls the queued writes back.
        let check = store.get(MANIFEST_KEY).primitive().map_err(idb_err)?;
        for (key, bytes) in &commit.puts {
            let value: JsValue = Uint8Array::from(*bytes).into();
            store.put(value).with_key(key.as_str()).without_key_type().primitive().map_err(idb_err)?;
        }
        for (first, last) in &commit.deletes {
            let range = if first == last {
                KeyRange::Only(first.as_str())
            } else {
                KeyRange::Bound(first.as_str(), false, last.as_str(), false)
            };
            store.delete::<&str, _>(range).primitive().map_err(idb_err)?;
        }
        let current: Option<JsValue> = check.await.map_err(idb_err)?;
        let header = current.map(|v| Uint8Array::new(&v).subarray(0, 16).to_vec());
        if manifest_version(header.as_deref())? != commit.expect {
            return Err(Error::stale());
        }
        if self.injected_fault() {
            tx.abort().await.map_err(idb_err)?;
            return Err(Error::storage("injected fault: transaction aborted before commit"));
        }
        let bytes = commit.puts.iter().map(|(_, b)| b.len() as u64).sum();
        match tx.commit().await {
            Ok(()) => Ok(()),
            Err(e) => Err(commit_err(e, bytes).await),
        }
    }

    async fn destroy(&self) -> Result<()> {
        if let Some(db) = self.db.borrow_mut().take() {
            db.close();
        }
        self.stop.stop();
        let factory = DBFactory::new().map_err(idb_err)?;
        factory.delete_db(&self.name).map_err(idb_err)?.await.map_err(idb_err)
    }

    fn close(&self) {
        if let Some(db) = self.db.borrow_mut().take() {
            db.close();
        }
        self.stop.stop();
        if let Some(c) = &self.channel {
            c.close();
        }
    }

    fn announce(&self) {
        if let Some(c) = &self.channel {
            c.post();
        }
    }

    fn subscribe(&self, f: Weak<dyn Fn()>) {
        if let Some(c) = &self.channel {
            c.subscribe(f);
        }
    }

    async fn try_lock(&self) -> Result<Option<LockGuard>> {
        lock::try_lock(&format!("{}:compaction", self.name)).await
    }

    fn blobs(&self) -> Rc<dyn crate::kv::blobs::BlobStore> {
        self.blobs.clone()
    }
}
