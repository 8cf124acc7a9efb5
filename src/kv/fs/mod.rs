//! `FsRecords`: the record store on disk, under the same LSM as IndexedDB (Node.js, and
//! natively for tests and benches). A database is a directory:
//!
//! ```text
//! <dir>/STATE                   the commit point: manifest + the commit's deletes (`state`)
//! <dir>/LOCK                    the id of the process that has the directory open
//! <dir>/chunk~000000000000007b  one file per record (`names`)
//! <dir>/attachments/md5-…       attachment data, one file per digest (`blobs`)
//! ```
//!
//! Rules:
//! - **A commit is all or nothing across `kill -9`.** Its records and `STATE.tmp` are written
//!   to their files and synced (in parallel), the directory is synced, then `STATE.tmp` is
//!   renamed over `STATE`, and the directory synced again. Before the rename the old state stands whole.
//!   This relies on the LSM's records being new keys (chunk ids are never reused below the
//!   manifest's `next_id`): a record file written by a commit that never reached its rename
//!   is at an id no manifest names, and is overwritten when that id is next used.
//! - **One process per directory.** Opening takes `LOCK` (created exclusively, holding the
//!   pid); a live other process's lock is a `423 locked` error. A lock left by a dead process
//!   (or by this same pid, as after a restart in a container) is taken over. Handles in one
//!   process share one store (a registry by resolved path), hear each other's commits, and the
//!   last `close` removes `LOCK`.
//! - The current state is kept in memory, since no other process writes the directory: the
//!   manifest is answered without a read and the commit condition is checked against it.

mod blobs;
pub mod host;
mod names;
mod state;
#[cfg(not(target_arch = "wasm32"))]
pub mod std_fs;

#[cfg(target_arch = "wasm32")]
pub mod js_fs;

use self::blobs::FsBlobs;
use self::host::FileSystem;
use self::state::State;
use crate::error::{Error, Result};
use crate::kv::blobs::BlobStore;
use crate::kv::records::{manifest_version, Commit, LockGuard, RecordStore, Subscribers, MANIFEST_KEY};
use async_trait::async_trait;
use futures::lock::Mutex;
use std::cell::{Cell, RefCell};
use std::collections::{BTreeSet, HashMap};
use std::rc::{Rc, Weak};

const STATE: &str = "STATE";
const STATE_TMP: &str = "STATE.tmp";
const LOCK: &str = "LOCK";
const ATTACHMENTS: &str = "attachments";

struct Shared {
    fs: Rc<dyn FileSystem>,
    dir: String,
    /// The manifest record of the current `STATE` (`None` before the first commit).
    manifest: RefCell<Option<Rc<Vec<u8>>>>,
    version: Cell<u64>,
    /// Every record key with a file, for range deletes.
    keys: RefCell<BTreeSet<String>>,
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
        let dir = fs.resolve(dir);
        let existing = OPEN.with(|o| o.borrow().get(&dir).and_then(Weak::upgrade));
        let shared = match existing {
            Some(s) if !s.gone.get() => s,
            _ => {
                let s = Rc::new(load(fs, &dir).await?);
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
}

/// Takes the lock and reads the directory into a new `Shared`.
async fn load(fs: Rc<dyn FileSystem>, dir: &str) -> Result<Shared> {
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
    let opened = read_state(&*fs, dir).await;
    let state = match opened {
        Ok(s) => s,
        Err(e) => {
            fs.remove_now(&lock_path);
            return Err(e);
        }
    };
    let mut keys = BTreeSet::new();
    for (name, _) in fs.list(dir).await? {
        if name.ends_with(".tmp") {
            fs.remove(&format!("{dir}/{name}")).await?;
        } else if name.contains('~') {
            if let Some(k) = names::decode(&name) {
                keys.insert(k);
            }
        }
    }
    let version = manifest_version(state.manifest.as_deref())?;
    let shared = Shared {
        blobs: Rc::new(FsBlobs::new(fs.clone(), format!("{dir}/{ATTACHMENTS}"))),
        fs,
        dir: dir.to_string(),
        manifest: RefCell::new(state.manifest.map(Rc::new)),
        version: Cell::new(version),
        keys: RefCell::new(keys),
        committing: Mutex::new(()),
        compacting: Cell::new(false),
        handles: Cell::new(0),
        next_handle: Cell::new(0),
        subscribers: Subscribers::default(),
        gone: Cell::new(false),
    };
    // Deletes of the last commit that the process may not have finished.
    apply_deletes(&shared, &state.deletes).await?;
    Ok(shared)
}

async fn read_state(fs: &dyn FileSystem, dir: &str) -> Result<State> {
    match fs.read(&format!("{dir}/{STATE}")).await? {
        Some(bytes) => State::decode(&bytes).map_err(|e| {
            Error::corruption(format!("{dir}/{STATE}: {}", e.message.trim_start_matches("STATE file: ")))
        }),
        None => Ok(State::default()),
    }
}

async fn apply_deletes(shared: &Shared, ranges: &[(String, String)]) -> Result<()> {
    for (first, last) in ranges {
        if first > last {
            continue;
        }
        let doomed: Vec<String> = shared.keys.borrow().range(first.clone()..=last.clone()).cloned().collect();
        // All at once: in Node each is a request to the thread pool, which runs them in parallel.
        let paths: Vec<String> = doomed.iter().map(|k| shared.path(&names::encode(k))).collect();
        futures::future::try_join_all(paths.iter().map(|p| shared.fs.remove(p))).await?;
        let mut keys = shared.keys.borrow_mut();
        for k in doomed {
            keys.remove(&k);
        }
    }
    Ok(())
}

struct FsLock(Rc<Shared>);

impl Drop for FsLock {
    fn drop(&mut self) {
        self.0.compacting.set(false);
    }
}

#[async_trait(?Send)]
impl RecordStore for FsRecords {
    async fn get(&self, key: &str) -> Result<Option<Vec<u8>>> {
        if key == MANIFEST_KEY {
            return Ok(self.shared.manifest.borrow().as_ref().map(|m| m.to_vec()));
        }
        self.shared.fs.read(&self.shared.path(&names::encode(key))).await
    }

    async fn get_many(&self, keys: &[String]) -> Result<Vec<Option<Vec<u8>>>> {
        let paths: Vec<String> = keys.iter().map(|k| self.shared.path(&names::encode(k))).collect();
        let mut out = self.shared.fs.read_many(&paths).await?;
        for (k, slot) in keys.iter().zip(out.iter_mut()) {
            if k == MANIFEST_KEY {
                *slot = self.shared.manifest.borrow().as_ref().map(|m| m.to_vec());
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
        if s.version.get() != commit.expect {
            return Err(Error::stale());
        }
        let mut manifest = s.manifest.borrow().clone();
        let mut files: Vec<(String, &[u8])> = Vec::new();
        let mut new_keys = Vec::new();
        for (k, v) in &commit.puts {
            if k == MANIFEST_KEY {
                manifest = Some(Rc::new(v.to_vec()));
            } else {
                files.push((s.path(&names::encode(k)), v));
                new_keys.push(k.clone());
            }
        }
        let version = manifest_version(manifest.as_deref().map(|m| m.as_slice()))?;
        let state = State { manifest: manifest.as_deref().cloned(), deletes: commit.deletes };
        let encoded = state.encode();
        let tmp = s.path(STATE_TMP);
        // The chunk files and STATE.tmp are written and synced together (one round of
        // fdatasyncs, not two in a row): STATE.tmp means nothing until the rename. Then the
        // directory is synced, so every new name is durable before the rename that needs them.
        files.push((tmp.clone(), &encoded));
        s.fs.write_many(&files).await?;
        s.fs.sync_dir(&s.dir).await?;
        s.keys.borrow_mut().extend(new_keys);
        s.fs.rename(&tmp, &s.path(STATE)).await?;
        s.fs.sync_dir(&s.dir).await?;
        *s.manifest.borrow_mut() = manifest;
        s.version.set(version);
        // Committed. A failure from here on leaves files that the next open removes.
        if let Err(e) = apply_deletes(s, &state.deletes).await {
            log_warning(&format!("settee: removing merged chunk files failed (retried at next open): {e}"));
        }
        Ok(())
    }

    async fn destroy(&self) -> Result<()> {
        let s = &self.shared;
        let _one = s.committing.lock().await;
        s.gone.set(true);
        OPEN.with(|o| o.borrow_mut().remove(&s.dir));
        s.fs.remove_all(&s.dir).await
    }

    fn close(&self) {
        if self.closed.replace(true) {
            return;
        }
        let s = &self.shared;
        s.handles.set(s.handles.get().saturating_sub(1));
        if s.handles.get() == 0 && !s.gone.get() {
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
