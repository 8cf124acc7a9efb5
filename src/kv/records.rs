//! `RecordStore`: what the LSM tree (`kv::lsm`) needs of the storage under it, plus
//! `MemoryRecords`, its in-memory twin for native tests.
//!
//! A record store holds byte blobs by string key (`"manifest"`, `"chunk/000000000000007b"`).
//! Rules every implementation keeps:
//! - `commit` is one atomic transaction: it reads the stored manifest, compares its version with
//!   `Commit::expect` and, only if they are equal, applies every put and delete. Otherwise it
//!   fails with `Error::stale()` and changes nothing. A failure of any other kind (crash, quota,
//!   closed tab) also changes nothing.
//! - The manifest's version is read from its fixed header (`manifest_version`), so a store
//!   checks the condition without understanding the rest of the manifest.
//! - The cross-handle hooks (`announce`, `subscribe`, `try_lock`) are how several handles on
//!   the same records (browser tabs) hear of each other's commits and keep compaction to one
//!   handle at a time. A store with a single handle can leave the defaults.

use super::blobs::{BlobStore, MemoryBlobs};
use crate::error::{Error, Result};
use async_trait::async_trait;
use std::any::Any;
use std::cell::{Cell, RefCell};
use std::collections::BTreeMap;
use std::rc::{Rc, Weak};

/// The key of the manifest record.
pub const MANIFEST_KEY: &str = "manifest";

/// Magic bytes that start every manifest record.
pub const MANIFEST_MAGIC: &[u8; 4] = b"STMF";

/// Reads the version from a manifest record's header: magic (4 bytes), format (u32 LE),
/// version (u64 LE). A missing manifest has version 0.
pub fn manifest_version(record: Option<&[u8]>) -> Result<u64> {
    let Some(bytes) = record else { return Ok(0) };
    if bytes.len() < 16 || &bytes[..4] != MANIFEST_MAGIC {
        return Err(Error::corruption("manifest: bad header"));
    }
    Ok(u64::from_le_bytes(bytes[8..16].try_into().expect("8 bytes")))
}

/// Bytes `start..start + len` of `record`, cut short where it ends.
pub fn slice_part(record: &[u8], start: u64, len: usize) -> Vec<u8> {
    let from = usize::try_from(start).unwrap_or(usize::MAX).min(record.len());
    record[from..from.saturating_add(len).min(record.len())].to_vec()
}

/// One atomic change: applied only if the stored manifest's version is still `expect`.
#[derive(Debug, Default)]
pub struct Commit<'a> {
    pub expect: u64,
    pub puts: Vec<(String, &'a [u8])>,
    /// Inclusive key ranges `(first, last)` whose records all go: one request each in
    /// IndexedDB, where each single-key delete costs ~0.1 ms inside the transaction (31 of them
    /// made a merge's transaction 4–5 ms instead of ~1). A caller names only ranges holding no
    /// record it keeps.
    pub deletes: Vec<(String, String)>,
}

/// Held while a handle compacts; dropping it releases the lock.
pub type LockGuard = Box<dyn Any>;

#[async_trait(?Send)]
pub trait RecordStore {
    async fn get(&self, key: &str) -> Result<Option<Vec<u8>>>;

    /// One answer per key, in the order asked; IndexedDB answers them in one transaction.
    async fn get_many(&self, keys: &[String]) -> Result<Vec<Option<Vec<u8>>>> {
        let mut out = Vec::with_capacity(keys.len());
        for k in keys {
            out.push(self.get(k).await?);
        }
        Ok(out)
    }

    /// Whether `get_parts` reads a part of a record without the rest (files do; IndexedDB
    /// reads records whole, so the LSM reads whole chunks there).
    fn reads_parts(&self) -> bool {
        false
    }

    /// Byte ranges of records, `(key, start, len)`: one answer per range, shorter where the
    /// record ends first, `None` for a missing record.
    async fn get_parts(&self, parts: &[(String, u64, usize)]) -> Result<Vec<Option<Vec<u8>>>> {
        let keys: Vec<String> = parts.iter().map(|p| p.0.clone()).collect();
        let records = self.get_many(&keys).await?;
        Ok(records
            .into_iter()
            .zip(parts)
            .map(|(r, (_, start, len))| r.map(|r| slice_part(&r, *start, *len)))
            .collect())
    }

    /// See the module doc: all or nothing, conditioned on the manifest version.
    async fn commit(&self, commit: Commit<'_>) -> Result<()>;

    /// Deletes every record (for IndexedDB: the whole database).
    async fn destroy(&self) -> Result<()>;

    fn close(&self) {}

    /// Tells the other handles that this one committed.
    fn announce(&self) {}

    /// Calls `f` when another handle announces a commit, for as long as `f` is alive.
    fn subscribe(&self, _f: Weak<dyn Fn()>) {}

    /// Takes the compaction lock if no other handle holds it; `None` means someone else is
    /// compacting right now, so there is nothing to do.
    async fn try_lock(&self) -> Result<Option<LockGuard>> {
        Ok(Some(Box::new(())))
    }

    /// The attachment store that lives and dies with these records (every handle shares it).
    fn blobs(&self) -> Rc<dyn BlobStore>;
}

/// A record store chosen at run time. The wasm layer opens every LSM over this one type, so the
/// LSM's code is compiled once rather than once per store (IndexedDB, disk): two copies of it
/// were ~2 × 10 kB of wasm for each of its larger functions.
#[async_trait(?Send)]
impl RecordStore for Box<dyn RecordStore> {
    async fn get(&self, key: &str) -> Result<Option<Vec<u8>>> {
        (**self).get(key).await
    }
    async fn get_many(&self, keys: &[String]) -> Result<Vec<Option<Vec<u8>>>> {
        (**self).get_many(keys).await
    }
    fn reads_parts(&self) -> bool {
        (**self).reads_parts()
    }
    async fn get_parts(&self, parts: &[(String, u64, usize)]) -> Result<Vec<Option<Vec<u8>>>> {
        (**self).get_parts(parts).await
    }
    async fn commit(&self, commit: Commit<'_>) -> Result<()> {
        (**self).commit(commit).await
    }
    async fn destroy(&self) -> Result<()> {
        (**self).destroy().await
    }
    fn close(&self) {
        (**self).close()
    }
    fn announce(&self) {
        (**self).announce()
    }
    fn subscribe(&self, f: Weak<dyn Fn()>) {
        (**self).subscribe(f)
    }
    async fn try_lock(&self) -> Result<Option<LockGuard>> {
        (**self).try_lock().await
    }
    fn blobs(&self) -> Rc<dyn BlobStore> {
        (**self).blobs()
    }
}

/// Records in a `BTreeMap`. `reopen` gives another handle on the same map, standing in for a
/// second tab or a reload, and `fail_nth_commit` simulates a crash in the middle of a commit.
pub struct MemoryRecords {
    shared: Rc<Shared>,
    handle: u64,
    deaf: bool,
}

#[derive(Default)]
struct Shared {
    map: RefCell<BTreeMap<String, Vec<u8>>>,
    /// Commits left before the injected fault; 1 means the next commit fails.
    fail_in: Cell<u64>,
    gets: Cell<u64>,
    commits: Cell<u64>,
    /// Bytes of every record put by an applied commit (all keys), and of those the manifest's.
    put_bytes: Cell<u64>,
    manifest_put_bytes: Cell<u64>,
    locked: Cell<bool>,
    next_handle: Cell<u64>,
    /// (handle, callback) of every subscribed handle.
    subscribers: Subscribers,
    blobs: MemoryBlobs,
}

/// The handles on one set of records that asked to hear of commits: (handle, callback).
/// Shared by the stores whose handles live in one page or process (memory, disk).
#[derive(Default)]
pub struct Subscribers(RefCell<Vec<Subscriber>>);

type Subscriber = (u64, Weak<dyn Fn()>);

impl Subscribers {
    pub fn add(&self, handle: u64, f: Weak<dyn Fn()>) {
        self.0.borrow_mut().push((handle, f));
    }

    /// Calls every live callback of a handle other than `from`.
    pub fn notify_others(&self, from: u64) {
        // Collect first: a subscriber refreshes, which reads the store and may subscribe again.
        let targets: Vec<Rc<dyn Fn()>> = {
            let mut subs = self.0.borrow_mut();
            subs.retain(|(_, f)| f.strong_count() > 0);
            subs.iter().filter(|(h, _)| *h != from).filter_map(|(_, f)| f.upgrade()).collect()
        };
        for f in targets {
            f();
        }
    }
}

struct MemoryLock(Rc<Shared>);

impl Drop for MemoryLock {
    fn drop(&mut self) {
        self.0.locked.set(false);
    }
}

impl Default for MemoryRecords {
    fn default() -> Self {
        Self::new()
    }
}

impl MemoryRecords {
    pub fn new() -> Self {
        MemoryRecords { shared: Rc::default(), handle: 0, deaf: false }
    }

    /// Another handle on the same records, like a second tab or the page after a reload.
    pub fn reopen(&self) -> Self {
        let handle = self.shared.next_handle.get() + 1;
        self.shared.next_handle.set(handle);
        MemoryRecords { shared: self.shared.clone(), handle, deaf: false }
    }

    /// Like `reopen`, but the new handle never hears the others' announcements, like a tab
    /// whose BroadcastChannel message has not arrived yet: it sees their commits only when it
    /// refreshes (or when a conditioned commit of its own fails).
    pub fn reopen_deaf(&self) -> Self {
        MemoryRecords { deaf: true, ..self.reopen() }
    }

    /// Makes the `n`-th commit from now (1 = the next one) fail without applying anything, as
    /// if the tab died in the middle of the transaction.
    pub fn fail_nth_commit(&self, n: u64) {
        self.shared.fail_in.set(n);
    }

    /// How many records were read so far (each `get`, and each key of `get_many`).
    pub fn reads(&self) -> u64 {
        self.shared.gets.get()
    }

    /// How many commits were applied so far.
    pub fn commits(&self) -> u64 {
        self.shared.commits.get()
    }

    /// Bytes put by the commits applied so far (every record, the manifest included): what
    /// IndexedDB would have been asked to write, for measuring write amplification.
    pub fn bytes_put(&self) -> u64 {
        self.shared.put_bytes.get()
    }

    /// The part of `bytes_put` that went to the manifest record.
    pub fn manifest_bytes_put(&self) -> u64 {
        self.shared.manifest_put_bytes.get()
    }

    /// Bytes of every record held now.
    pub fn bytes_stored(&self) -> u64 {
        self.shared.map.borrow().values().map(|v| v.len() as u64).sum()
    }

    pub fn keys(&self) -> Vec<String> {
        self.shared.map.borrow().keys().cloned().collect()
    }

    pub fn raw(&self, key: &str) -> Option<Vec<u8>> {
        self.shared.map.borrow().get(key).cloned()
    }

    /// Replaces a record's bytes behind every handle's back, as damage on disk would.
    pub fn damage(&self, key: &str, bytes: Vec<u8>) {
        self.shared.map.borrow_mut().insert(key.to_string(), bytes);
    }

    /// Deletes a record behind every handle's back, as a lost write or damage would.
    pub fn remove(&self, key: &str) {
        self.shared.map.borrow_mut().remove(key);
    }

    /// Takes the compaction lock as another handle would, until the guard is dropped.
    pub fn hold_lock(&self) -> Option<LockGuard> {
        if self.shared.locked.replace(true) {
            return None;
        }
        Some(Box::new(MemoryLock(self.shared.clone())))
    }
}

#[async_trait(?Send)]
impl RecordStore for MemoryRecords {
    async fn get(&self, key: &str) -> Result<Option<Vec<u8>>> {
        self.shared.gets.set(self.shared.gets.get() + 1);
        Ok(self.shared.map.borrow().get(key).cloned())
    }

    async fn commit(&self, commit: Commit<'_>) -> Result<()> {
        let fail_in = self.shared.fail_in.get();
        if fail_in > 0 {
            self.shared.fail_in.set(fail_in - 1);
            if fail_in == 1 {
                return Err(Error::storage("injected fault: commit failed before applying"));
            }
        }
        let mut map = self.shared.map.borrow_mut();
        if manifest_version(map.get(MANIFEST_KEY).map(|v| v.as_slice()))? != commit.expect {
            return Err(Error::stale());
        }
        for (k, v) in commit.puts {
            let n = v.len() as u64;
            self.shared.put_bytes.set(self.shared.put_bytes.get() + n);
            if k == MANIFEST_KEY {
                self.shared.manifest_put_bytes.set(self.shared.manifest_put_bytes.get() + n);
            }
            map.insert(k, v.to_vec());
        }
        for (first, last) in commit.deletes {
            let doomed: Vec<String> = map.range(first..=last).map(|(k, _)| k.clone()).collect();
            for k in doomed {
                map.remove(&k);
            }
        }
        self.shared.commits.set(self.shared.commits.get() + 1);
        Ok(())
    }

    async fn destroy(&self) -> Result<()> {
        self.shared.map.borrow_mut().clear();
        self.shared.blobs.clear();
        Ok(())
    }

    fn blobs(&self) -> Rc<dyn BlobStore> {
        Rc::new(self.shared.blobs.clone())
    }

    fn announce(&self) {
        self.shared.subscribers.notify_others(self.handle);
    }

    fn subscribe(&self, f: Weak<dyn Fn()>) {
        if self.deaf {
            return;
        }
        self.shared.subscribers.add(self.handle, f);
    }

    async fn try_lock(&self) -> Result<Option<LockGuard>> {
        Ok(self.hold_lock())
    }
}
