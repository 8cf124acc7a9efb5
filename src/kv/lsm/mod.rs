//! `Lsm`: the ordered key-value store as a log-structured merge tree over a `RecordStore`.
//!
//! Layout: immutable sorted chunks of about `LsmOptions::chunk_bytes`, one record each, and
//! one manifest record listing the live chunks as sorted runs, newest first (see `manifest`).
//! A chunk (format 2, `table`) holds blocks of ~4 KiB, a block index and a Bloom filter, so a
//! get of a chunk not in the cache decodes one block, not the whole record.
//!
//! - A write sorts its batch (the last op on a key wins), encodes it as a new run and commits
//!   the chunks and the new manifest in one `RecordStore::commit`, conditioned on the manifest
//!   version this handle read. So a batch is all or nothing, and two handles (tabs) never
//!   overwrite each other's manifest.
//! - `write(batch, None)` is a blind write: it has no read to invalidate, so when another handle
//!   committed first it refreshes and retries by itself. `write(batch, Some(v))` fails with
//!   `Error::stale()` if the data changed since version `v`. Changes made only by compactions
//!   do not count: they move entries around without changing them, so such a write retries
//!   too (this handle remembers the data version of its recent manifest versions).
//! - Reads take a snapshot (`Rc<Manifest>`) and never hold a `RefCell` borrow across an await.
//!   A chunk that is missing when read was deleted by another handle's compaction: the read
//!   refreshes the manifest and starts again.
//! - A handle commits one thing at a time (`Inner::committing`): a background merge's commit
//!   and a write's commit used to be in flight together, both built on the same version, so
//!   one of them always failed as stale and retried (~0.6 extra transactions per put in a
//!   stream of single-doc writes). Now the second waits for the first and builds on its
//!   manifest; only other handles' commits can make one stale.
//! - Compaction (`compact` module) merges runs in one handle at a time (`RecordStore::try_lock`)
//!   and, after a write, is scheduled in the background when the policy (`policy`) asks for
//!   it: a write returns as soon as its own batch is committed.
//! - `verify` (`verify` module) checks every chunk the manifest lists against it, on one
//!   snapshot, restarting like a read when another handle's compaction deleted a chunk.
//! - Another handle's announced commit makes this one refresh and, if the data changed, call
//!   the `on_external_change` callbacks. They are also called when a refresh for any other
//!   reason (a stale retry, an explicit `refresh`) loads another handle's writes.

pub(crate) mod bloom;
mod cache;
// Public for the decoders' fuzz tests (tests/fuzz_props.rs) only.
#[doc(hidden)]
pub mod chunk;
mod compact;
#[doc(hidden)]
pub mod manifest;
mod merge;
mod policy;
mod read;
mod spawn;
#[doc(hidden)]
pub mod table;
pub(crate) mod varint;
mod verify;
mod write;

use crate::error::{Error, Result};
use crate::kv::records::{RecordStore, MANIFEST_KEY};
use crate::kv::{KvStore, Range, SharedBytes, WriteBatch};
use async_trait::async_trait;
use cache::ChunkCache;
use manifest::Manifest;
use std::cell::{Cell, RefCell};
use std::collections::VecDeque;
use std::rc::Rc;

pub use manifest::FORMAT;
pub use policy::SMALL_BYTES;

/// How many recent (version, data_version) pairs a handle remembers; see the module doc.
const HISTORY: usize = 64;
/// How many times a read restarts after chunks vanished, or a blind write after losing a race.
const MAX_ATTEMPTS: usize = 32;

#[derive(Debug, Clone)]
pub struct LsmOptions {
    /// Target size of one chunk record.
    pub chunk_bytes: usize,
    /// Budget of the chunk cache (whole chunks and point-read tables, see `cache`), in bytes of
    /// wasm memory. 16 MB holds 85 of the 107 chunks of 100,000 small docs, and 1,000 random
    /// gets miss 57 times (at 8 MB, ~540: each miss reads a 256 KiB record from IndexedDB,
    /// ~1.2 ms in Chromium). The chunks' Bloom filters are kept apart, in up to 1/8 more
    /// (see `cache`).
    pub cache_bytes: usize,
    /// Merge runs after a write when the policy asks (awaited inside `write`).
    pub auto_compact: bool,
    /// How many runs of similar size merge into one (see `policy`).
    pub fanout: usize,
    /// How many small runs (under `policy::SMALL_BYTES` each) the newest tier gathers before
    /// they merge all at once (see `policy`); at most `fanout` turns that tier off.
    pub small_runs: usize,
}

impl Default for LsmOptions {
    fn default() -> Self {
        LsmOptions {
            chunk_bytes: 256 * 1024,
            cache_bytes: 16 << 20,
            auto_compact: true,
            fanout: 4,
            small_runs: 32,
        }
    }
}

/// What a handle currently sees, for tests and diagnostics.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LsmStats {
    pub version: u64,
    pub data_version: u64,
    pub runs: usize,
    pub chunks: usize,
    /// Entries (values and tombstones) over all runs, counting overwritten ones.
    pub entries: u64,
    pub cached_chunks: usize,
    pub cached_bytes: usize,
}

struct State {
    manifest: Rc<Manifest>,
    /// (version, data_version) of manifests this handle has seen, oldest first.
    history: VecDeque<(u64, u64)>,
}

struct Inner<R> {
    store: R,
    opts: LsmOptions,
    state: RefCell<State>,
    cache: RefCell<ChunkCache>,
    listeners: RefCell<Vec<Rc<dyn Fn()>>>,
    closed: Cell<bool>,
    /// A background merge is scheduled or running (see `compact::schedule_compaction`).
    compacting: Cell<bool>,
    /// Serialises this handle's merges, so an explicit `compact` waits for a background one
    /// instead of finding the Web Lock taken by its own handle and skipping.
    merging: futures::lock::Mutex<()>,
    /// Serialises this handle's commits (writes and merges): each builds its commit on the
    /// manifest the previous one installed, so they never fail each other's version check.
    committing: futures::lock::Mutex<()>,
    /// Kept alive here; the store only holds a weak reference.
    _subscription: RefCell<Option<Rc<dyn Fn()>>>,
}

/// The LSM store; cheap to clone (clones share one handle's state and cache).
pub struct Lsm<R: RecordStore> {
    inner: Rc<Inner<R>>,
}

impl<R: RecordStore> Clone for Lsm<R> {
    fn clone(&self) -> Self {
        Lsm { inner: self.inner.clone() }
    }
}

impl<R: RecordStore + 'static> Lsm<R> {
    /// Opens the store over `store` with default options, reading its manifest.
    pub async fn open(store: R) -> Result<Self> {
        Self::open_with(store, LsmOptions::default()).await
    }

    pub async fn open_with(store: R, opts: LsmOptions) -> Result<Self> {
        let manifest = read_manifest(&store).await?;
        let state = State {
            history: VecDeque::from([(manifest.version, manifest.data_version)]),
            manifest: Rc::new(manifest),
        };
        let mut cache = ChunkCache::new(opts.cache_bytes);
        if store.reads_parts() {
            cache.keep_sparse_on_evict();
        }
        let inner = Rc::new(Inner {
            cache: RefCell::new(cache),
            store,
            opts,
            state: RefCell::new(state),
            listeners: RefCell::new(Vec::new()),
            closed: Cell::new(false),
            compacting: Cell::new(false),
            merging: futures::lock::Mutex::new(()),
            committing: futures::lock::Mutex::new(()),
            _subscription: RefCell::new(None),
        });
        let weak = Rc::downgrade(&inner);
        let on_announce: Rc<dyn Fn()> = Rc::new(move || {
            let Some(inner) = weak.upgrade() else { return };
            let lsm = Lsm { inner };
            spawn::spawn(async move {
                // A failed refresh is retried by the next read or write that needs it.
                let _ = lsm.refresh().await;
            });
        });
        inner.store.subscribe(Rc::downgrade(&on_announce));
        *inner._subscription.borrow_mut() = Some(on_announce);
        Ok(Lsm { inner })
    }

    /// The record store underneath (tests use it to inject faults).
    pub fn store(&self) -> &R {
        &self.inner.store
    }

    pub fn stats(&self) -> LsmStats {
        let m = self.manifest();
        let cache = self.inner.cache.borrow();
        LsmStats {
            version: m.version,
            data_version: m.data_version,
            runs: m.runs.len(),
            chunks: m.chunk_count(),
            entries: m.runs.iter().flat_map(|r| &r.chunks).map(|c| c.entries).sum(),
            cached_chunks: cache.len(),
            cached_bytes: cache.used(),
        }
    }

    /// The record keys of every live chunk, for consistency checks.
    pub fn live_chunk_keys(&self) -> Vec<String> {
        self.manifest().runs.iter().flat_map(|r| &r.chunks).map(|c| manifest::chunk_key(c.id)).collect()
    }

    fn manifest(&self) -> Rc<Manifest> {
        self.inner.state.borrow().manifest.clone()
    }

    fn check_open(&self) -> Result<()> {
        if self.inner.closed.get() {
            Err(Error::closed())
        } else {
            Ok(())
        }
    }

    /// Makes `m` current unless this handle already has it or something newer. `external`:
    /// `m` came from another handle, so listeners hear of a data change.
    fn install(&self, m: Manifest, external: bool) -> bool {
        let data_changed = {
            let mut st = self.inner.state.borrow_mut();
            let cur = &st.manifest;
            let new_epoch = m.epoch != cur.epoch;
            if !new_epoch && m.version <= cur.version {
                return false;
            }
            let data_changed = new_epoch || m.data_version != cur.data_version;
            if new_epoch {
                // Chunk ids restart in a new incarnation of the database.
                self.inner.cache.borrow_mut().clear();
                st.history.clear();
            }
            if st.history.len() == HISTORY {
                st.history.pop_front();
            }
            st.history.push_back((m.version, m.data_version));
            st.manifest = Rc::new(m);
            data_changed
        };
        if external && data_changed {
            let listeners = self.inner.listeners.borrow().clone();
            for f in listeners {
                f();
            }
        }
        true
    }

    /// True when the data at version `v` (as this handle saw it) is the data in `m`.
    fn same_data(&self, v: u64, m: &Manifest) -> bool {
        let st = self.inner.state.borrow();
        st.history.iter().rev().find(|(ver, _)| *ver == v).is_some_and(|(_, data)| *data == m.data_version)
    }
}

async fn read_manifest<R: RecordStore>(store: &R) -> Result<Manifest> {
    match store.get(MANIFEST_KEY).await? {
        Some(bytes) => Manifest::decode(&bytes),
        None => Ok(Manifest::empty()),
    }
}

/// A random id for a new incarnation of a database (never 0, which means "nothing on disk").
fn fresh_epoch() -> u64 {
    #[cfg(target_arch = "wasm32")]
    let seed = (js_sys::Math::random() * 9_007_199_254_740_992.0) as u64 ^ (js_sys::Date::now() as u64) << 20;
    #[cfg(not(target_arch = "wasm32"))]
    let seed = {
        use std::sync::atomic::{AtomicU64, Ordering};
        static COUNTER: AtomicU64 = AtomicU64::new(0);
        let nanos = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map(|d| d.as_nanos() as u64)
            .unwrap_or(0);
        nanos ^ COUNTER.fetch_add(1, Ordering::Relaxed).wrapping_mul(0x9E37_79B9_7F4A_7C15)
    };
    seed.max(1)
}

#[async_trait(?Send)]
impl<R: RecordStore + 'static> KvStore for Lsm<R> {
    async fn get(&self, key: &[u8]) -> Result<Option<Vec<u8>>> {
        self.check_open()?;
        self.get_impl(key).await
    }

    async fn get_many(&self, keys: &[Vec<u8>]) -> Result<Vec<Option<Vec<u8>>>> {
        Ok(self.get_many_shared(keys).await?.into_iter().map(|v| v.map(|v| v.to_vec())).collect())
    }

    async fn get_many_shared(&self, keys: &[Vec<u8>]) -> Result<Vec<Option<SharedBytes>>> {
        self.check_open()?;
        self.get_many_impl(keys).await
    }

    async fn scan(
        &self,
        range: Range,
        reverse: bool,
        limit: Option<usize>,
    ) -> Result<Vec<(Vec<u8>, Vec<u8>)>> {
        let rows = self.scan_shared(range, reverse, limit).await?;
        Ok(rows.into_iter().map(|(k, v)| (k.to_vec(), v.to_vec())).collect())
    }

    async fn scan_shared(
        &self,
        range: Range,
        reverse: bool,
        limit: Option<usize>,
    ) -> Result<Vec<(SharedBytes, SharedBytes)>> {
        self.check_open()?;
        self.scan_impl(range, reverse, limit).await
    }

    async fn write(&self, batch: WriteBatch, expected: Option<u64>) -> Result<u64> {
        self.check_open()?;
        self.write_impl(batch, expected).await
    }

    fn version(&self) -> u64 {
        self.inner.state.borrow().manifest.version
    }

    async fn refresh(&self) -> Result<bool> {
        self.check_open()?;
        self.refresh_inner().await
    }

    fn on_external_change(&self, f: Rc<dyn Fn()>) {
        self.inner.listeners.borrow_mut().push(f);
    }

    async fn compact(&self) -> Result<()> {
        self.compact_all().await.map(|_| ())
    }

    async fn destroy(&self) -> Result<()> {
        self.check_open()?;
        self.inner.store.destroy().await?;
        {
            let mut st = self.inner.state.borrow_mut();
            st.manifest = Rc::new(Manifest::empty());
            st.history = VecDeque::from([(0, 0)]);
        }
        self.inner.cache.borrow_mut().clear();
        self.inner.store.announce();
        Ok(())
    }

    fn close(&self) {
        self.inner.closed.set(true);
        self.inner.listeners.borrow_mut().clear();
        self.inner._subscription.borrow_mut().take();
        self.inner.cache.borrow_mut().clear();
        self.inner.store.close();
    }

    fn blobs(&self) -> Rc<dyn crate::kv::blobs::BlobStore> {
        self.inner.store.blobs()
    }

    async fn verify(&self) -> Result<crate::kv::verify::KvReport> {
        self.check_open()?;
        self.verify_impl().await
    }
}
