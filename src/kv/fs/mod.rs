//! `FsRecords`: the record store on disk, under the same LSM as IndexedDB (Node.js, and
//! natively for tests and benches). A database is a directory:
//!
//! ```text
//! <dir>/STATE                   the checkpoint: manifest, deletes, log generation (`state`)
//! <dir>/LOG-<generation>        the commits since that checkpoint, appended (`log`)
//! <dir>/LOCK                    the id of the process that has the directory open
//! <dir>/chunk~000000000000007b  one file per record (`names`)
//! <dir>/attachments/md5-…       attachment data, one file per digest (`blobs`)
//! ```
//!
//! Rules:
//! - **A commit is all or nothing across `kill -9`, and costs one sync when small.** A commit
//!   whose records add up to at most `FsOptions::inline_max` is one record appended to the log
//!   and `fdatasync`ed (`log`): its records live in memory and in the log until the next
//!   checkpoint. A larger one first writes its records to their own files and syncs them and
//!   the directory, then appends a log record naming them. A torn append is dropped at replay.
//! - **Checkpoints bound the log.** Once the log holds `FsOptions::log_max` bytes, the next
//!   commit is a checkpoint: its records and every record still only in the log are written
//!   to files, with `STATE.tmp` naming a fresh log and that empty log file, all synced (in
//!   parallel); the directory is synced, `STATE.tmp` renamed over `STATE`, the directory
//!   synced again, and the old log removed. Before the rename the old state and log stand
//!   whole. Opening replays the log, then checkpoints if it held anything, so a torn tail is
//!   never appended to.
//! - This relies on the LSM's records being new keys (chunk ids are never reused below the
//!   manifest's `next_id`): a record file written by a commit that never became durable is at
//!   an id no manifest names, and is overwritten when that id is next used (a record kept in
//!   memory is read before any file of the same key).
//! - **One process per directory.** Opening takes `LOCK` (created exclusively, holding the
//!   pid); a live other process's lock is a `423 locked` error. A lock left by a dead process
//!   (or by this same pid, as after a restart in a container) is taken over. Handles in one
//!   process share one store (a registry by resolved path), hear each other's commits, and the
//!   last `close` removes `LOCK`.
//! - The current state is kept in memory, since no other process writes the directory: the
//!   manifest is answered without a read and the commit condition is checked against it.

mod blobs;
mod commit;
pub mod host;
mod log;
mod names;
mod packed;
mod reads;
mod state;
#[cfg(not(target_arch = "wasm32"))]
pub mod std_fs;

#[cfg(target_arch = "wasm32")]
pub mod js_fs;

use self::blobs::FsBlobs;
use self::host::FileSystem;
use crate::error::{Error, Result};
use crate::kv::blobs::BlobStore;
use crate::kv::records::{slice_part, Commit, LockGuard, RecordStore, Subscribers, MANIFEST_KEY};
use async_trait::async_trait;
use futures::lock::Mutex;
use std::cell::{Cell, RefCell};
use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::rc::{Rc, Weak};

const STATE: &str = "STATE";
const STATE_TMP: &str = "STATE.tmp";
const LOCK: &str = "LOCK";
const ATTACHMENTS: &str = "attachments";

/// Sizes that decide how a commit reaches the disk (see the module doc).
#[derive(Debug, Clone)]
pub struct FsOptions {
    /// A commit whose records add up to at most this many bytes goes into the log whole.
    pub inline_max: usize,
    /// The log's size that makes the next commit a checkpoint.
    pub log_max: usize,
}

impl Default for FsOptions {
    /// Single-doc writes and small batches go into the log; a batch of 1,000 docs (~300 KiB of
    /// chunks) and the merges of such batches go to files, so the log does not fill with
    /// records that merges soon drop (with 512 KiB and 4 MiB, 10,000 docs left 2.3 MB of log
    /// beside 2.0 MB of live records; with these, 0.13 MB). 1 MiB of log is replayed at open
    /// in milliseconds and held in memory meanwhile.
    fn default() -> Self {
        FsOptions { inline_max: 128 << 10, log_max: 1 << 20 }
    }
}

struct Shared {
    fs: Rc<dyn FileSystem>,
    dir: String,
    opts: FsOptions,
    /// The current manifest record (`None` before the first commit).
    manifest: RefCell<Option<Rc<Vec<u8>>>>,
    version: Cell<u64>,
    /// Every record key with a file, for range deletes.
    keys: RefCell<BTreeSet<String>>,
    /// The layout of the files written or read so far, by record key (`reads`).
    layouts: RefCell<HashMap<String, Rc<packed::Layout>>>,
    /// Records written to the log since the checkpoint and not deleted since: read before any
    /// file of the same key.
    inline: RefCell<BTreeMap<String, Rc<Vec<u8>>>>,
    /// The log's generation (`LOG-<log>`) and its size so far.
    log: Cell<u64>,
    log_bytes: Cell<usize>,
    /// Whether the log file's name is durable (a checkpoint creates it and syncs the
    /// directory; a new database's first append creates it, and must sync the directory).
    log_named: Cell<bool>,
    /// Set when a commit failed past the point where the disk may hold it (an append or a
    /// rename that may have happened): memory no longer knows what the disk says, so later
    /// commits are refused until the directory is opened again, which replays the truth.
    broken: Cell<bool>,
    /// One commit at a time: each is a sequence of awaited file operations.
    committing: Mutex<()>,
    compacting: Cell<bool>,
    handles: Cell<usize>,
    next_handle: Cell<u64>,
    subscribers: Subscribers,
    blobs: Rc<FsBlobs>,
    gone: Cell<bool>,
}

thread_local! {
    static OPEN: RefCell<HashMap<String, Weak<Shared>>> = RefCell::new(HashMap::new());
}

pub struct FsRecords {
    shared: Rc<Shared>,
    handle: u64,
    closed: Cell<bool>,
}

impl Shared {
    fn path(&self, name: &str) -> String {
        format!("{}/{}", self.dir, name)
    }

    fn log_path(&self, generation: u64) -> String {
        self.path(&format!("LOG-{generation}"))
    }
}

/// The error for a directory another live process has open.
fn locked(dir: &str, pid: u32) -> Error {
    Error::new(
        423,
        "locked",
        format!(
            "the database directory {dir} is open in another process (pid {pid}); \
             a directory is used by one process at a time"
        ),
    )
}

impl FsRecords {
    /// Opens (creating if needed) the store in directory `dir`.
    pub async fn open(fs: Rc<dyn FileSystem>, dir: &str) -> Result<FsRecords> {
        Self::open_with(fs, dir, FsOptions::default()).await
    }

    /// As `open`; `opts` apply if no handle in this process has the directory open yet.
    pub async fn open_with(fs: Rc<dyn FileSystem>, dir: &str, opts: FsOptions) -> Result<FsRecords> {
        let dir = fs.resolve(dir);
        let existing = OPEN.with(|o| o.borrow().get(&dir).and_then(Weak::upgrade));
        let shared = match existing {
            Some(s) if !s.gone.get() => s,
            _ => {
                let s = Rc::new(load(fs, &dir, opts).await?);
                OPEN.with(|o| o.borrow_mut().insert(dir.clone(), Rc::downgrade(&s)));
                s
            }
        };
        shared.handles.set(shared.handles.get() + 1);
        let handle = shared.next_handle.get() + 1;
        shared.next_handle.set(handle);
        Ok(FsRecords { shared, handle, closed: Cell::new(false) })
    }

    /// The directory, resolved.
    pub fn dir(&self) -> &str {
        &self.shared.dir
    }

    /// The record files on disk right now (tests check that merges remove what they drop).
    pub async fn files(&self) -> Result<Vec<String>> {
        let listed = self.shared.fs.list(&self.shared.dir).await?;
        Ok(listed.into_iter().filter_map(|(n, _)| names::decode(&n).filter(|_| n.contains('~'))).collect())
    }

    /// The keys of the records held only in the log so far (not yet in files).
    pub fn logged(&self) -> Vec<String> {
        self.shared.inline.borrow().keys().cloned().collect()
    }
}

/// The record a record file holds, packed or plain (for tests that write older layouts).
#[doc(hidden)]
pub fn unpack_file(name: &str, bytes: Vec<u8>) -> Result<Vec<u8>> {
    packed::unpack(name, bytes)
}

/// Takes the lock, reads the directory into a new `Shared` and replays its log.
async fn load(fs: Rc<dyn FileSystem>, dir: &str, opts: FsOptions) -> Result<Shared> {
    fs.mkdirs(dir).await?;
    let lock_path = format!("{dir}/{LOCK}");
    let me = fs.pid().to_string();
    if !fs.create_new(&lock_path, me.as_bytes()).await? {
        let holder = fs.read(&lock_path).await?.unwrap_or_default();
        let pid = String::from_utf8_lossy(&holder).trim().parse::<u32>().unwrap_or(0);
        if pid != 0 && pid != fs.pid() && fs.pid_alive(pid) {
            return Err(locked(dir, pid));
        }
        // A dead process's lock (or ours from before a restart): take it over.
        fs.write(&lock_path, me.as_bytes()).await?;
    }
    match commit::recover(fs.clone(), dir, opts).await {
        Ok(s) => Ok(s),
        Err(e) => {
            fs.remove_now(&lock_path);
            Err(e)
        }
    }
}

struct FsLock(Rc<Shared>);

impl Drop for FsLock {
    fn drop(&mut self) {
        self.0.compacting.set(false);
    }
}

impl FsRecords {
    fn record(&self, key: &str) -> Option<Rc<Vec<u8>>> {
        if key == MANIFEST_KEY {
            return self.shared.manifest.borrow().clone();
        }
        self.shared.inline.borrow().get(key).cloned()
    }
}

#[async_trait(?Send)]
impl RecordStore for FsRecords {
    async fn get(&self, key: &str) -> Result<Option<Vec<u8>>> {
        Ok(self.get_many(&[key.to_string()]).await?.remove(0))
    }

    async fn get_many(&self, keys: &[String]) -> Result<Vec<Option<Vec<u8>>>> {
        let mut out: Vec<Option<Vec<u8>>> = keys.iter().map(|k| self.record(k).map(|r| r.to_vec())).collect();
        let from_files: Vec<usize> =
            (0..keys.len()).filter(|&i| out[i].is_none() && keys[i] != MANIFEST_KEY).collect();
        if !from_files.is_empty() {
            let wanted: Vec<&str> = from_files.iter().map(|&i| keys[i].as_str()).collect();
            for (i, got) in from_files.iter().zip(self.shared.read_files(&wanted).await?) {
                out[*i] = got;
            }
        }
        Ok(out)
    }

    fn reads_parts(&self) -> bool {
        true
    }

    async fn get_parts(&self, parts: &[(String, u64, usize)]) -> Result<Vec<Option<Vec<u8>>>> {
        let mut out: Vec<Option<Vec<u8>>> =
            parts.iter().map(|(k, s, l)| self.record(k).map(|r| slice_part(&r, *s, *l))).collect();
        let from_files: Vec<usize> =
            (0..parts.len()).filter(|&i| out[i].is_none() && parts[i].0 != MANIFEST_KEY).collect();
        if !from_files.is_empty() {
            let wanted: Vec<(&str, u64, usize)> =
                from_files.iter().map(|&i| (parts[i].0.as_str(), parts[i].1, parts[i].2)).collect();
            for (i, got) in from_files.iter().zip(self.shared.read_file_parts(&wanted).await?) {
                out[*i] = got;
            }
        }
        Ok(out)
    }

    async fn commit(&self, commit: Commit<'_>) -> Result<()> {
        let s = &self.shared;
        if self.closed.get() || s.gone.get() {
            return Err(Error::new(500, "database_closed", "the database is closed"));
        }
        let _one = s.committing.lock().await;
        if s.broken.get() {
            return Err(Error::storage(format!(
                "an earlier write to {} failed part way; close and open the database again",
                s.dir
            )));
        }
        if s.version.get() != commit.expect {
            return Err(Error::stale());
        }
        s.commit(commit).await
    }

    async fn destroy(&self) -> Result<()> {
        let s = &self.shared;
        let _one = s.committing.lock().await;
        s.gone.set(true);
        OPEN.with(|o| o.borrow_mut().remove(&s.dir));
        s.fs.release(&s.log_path(s.log.get()));
        s.inline.borrow_mut().clear();
        s.fs.remove_all(&s.dir).await
    }

    fn close(&self) {
        if self.closed.replace(true) {
            return;
        }
        let s = &self.shared;
        s.handles.set(s.handles.get().saturating_sub(1));
        if s.handles.get() == 0 && !s.gone.get() {
            s.fs.release(&s.log_path(s.log.get()));
            s.fs.remove_now(&s.path(LOCK));
            OPEN.with(|o| o.borrow_mut().remove(&s.dir));
            s.gone.set(true);
        }
    }

    fn announce(&self) {
        self.shared.subscribers.notify_others(self.handle);
    }

    fn subscribe(&self, f: Weak<dyn Fn()>) {
        self.shared.subscribers.add(self.handle, f);
    }

    async fn try_lock(&self) -> Result<Option<LockGuard>> {
        if self.shared.compacting.replace(true) {
            return Ok(None);
        }
        Ok(Some(Box::new(FsLock(self.shared.clone()))))
    }

    fn blobs(&self) -> Rc<dyn BlobStore> {
        self.shared.blobs.clone()
    }
}

fn log_warning(text: &str) {
    #[cfg(target_arch = "wasm32")]
    web_sys::console::warn_1(&text.into());
    #[cfg(not(target_arch = "wasm32"))]
    eprintln!("{text}");
}
