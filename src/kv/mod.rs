//! The ordered key-value store that everything in Settee is written through.
//!
//! Keys and values are bytes; keys sort by plain byte order. Each database keeps its docs,
//! changes, `_local` docs and metadata as key prefixes in one store (see `db::keys`).
//!
//! Rules every implementation keeps:
//! - `write` is atomic: after a crash either the whole batch is visible or none of it.
//! - `write(batch, Some(v))` commits only if the store's version is still `v`, and otherwise
//!   fails with `Error::stale()` and changes nothing. The database layer reads, plans a batch
//!   and writes it conditioned on the version it read, so two tabs never interleave a
//!   read-modify-write. After a stale error the caller calls `refresh` and plans again.
//! - Reads see every batch this handle committed, and other handles' batches after `refresh`.
//! - Reads return whole batches of rows (`scan`, `get_many`) so that a caller crosses from
//!   wasm to JS once per batch, never once per record.

pub mod blobs;
pub mod fs;
#[cfg(target_arch = "wasm32")]
pub mod idb;
pub mod lsm;
pub mod memory;
pub mod records;
pub mod verify;

use crate::error::Result;
use async_trait::async_trait;
use std::ops::Bound;
use std::rc::Rc;

/// One write: `None` deletes the key.
pub type Op = (Vec<u8>, Option<Vec<u8>>);

#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct WriteBatch {
    pub ops: Vec<Op>,
}

impl WriteBatch {
    pub fn new() -> Self {
        Self::default()
    }
    pub fn put(&mut self, key: Vec<u8>, value: Vec<u8>) {
        self.ops.push((key, Some(value)));
    }
    pub fn delete(&mut self, key: Vec<u8>) {
        self.ops.push((key, None));
    }
    pub fn is_empty(&self) -> bool {
        self.ops.is_empty()
    }
    pub fn len(&self) -> usize {
        self.ops.len()
    }
}

/// A key range: `(start, end)` bounds in ascending key order, whatever the scan direction.
#[derive(Debug, Clone)]
pub struct Range {
    pub start: Bound<Vec<u8>>,
    pub end: Bound<Vec<u8>>,
}

impl Range {
    pub fn all() -> Self {
        Range { start: Bound::Unbounded, end: Bound::Unbounded }
    }
    /// Every key that starts with `prefix`.
    pub fn prefix(prefix: &[u8]) -> Self {
        Range {
            start: Bound::Included(prefix.to_vec()),
            end: match prefix_successor(prefix) {
                Some(k) => Bound::Excluded(k),
                None => Bound::Unbounded,
            },
        }
    }
    /// For paged scans: after a page of `page_size` rows read in this range (descending when
    /// `reverse`), narrows the range to the keys after the page's last one, in scan order.
    /// Returns false when the page was short, so the scan has reached the end.
    pub fn continue_after<K: std::ops::Deref<Target = [u8]>, V>(
        &mut self,
        page: &[(K, V)],
        page_size: usize,
        reverse: bool,
    ) -> bool {
        match page.last() {
            Some((last, _)) if page.len() == page_size => {
                if reverse {
                    self.end = Bound::Excluded(last.to_vec());
                } else {
                    self.start = Bound::Excluded(last.to_vec());
                }
                true
            }
            _ => false,
        }
    }

    /// True when no key can be in the range (start above end), which `BTreeMap::range` would
    /// panic on.
    pub fn is_backwards(&self) -> bool {
        match (&self.start, &self.end) {
            (Bound::Included(a), Bound::Included(b)) => a > b,
            (Bound::Included(a) | Bound::Excluded(a), Bound::Included(b) | Bound::Excluded(b)) => a >= b,
            _ => false,
        }
    }

    pub fn contains(&self, key: &[u8]) -> bool {
        let lo = match &self.start {
            Bound::Included(s) => key >= s.as_slice(),
            Bound::Excluded(s) => key > s.as_slice(),
            Bound::Unbounded => true,
        };
        let hi = match &self.end {
            Bound::Included(e) => key <= e.as_slice(),
            Bound::Excluded(e) => key < e.as_slice(),
            Bound::Unbounded => true,
        };
        lo && hi
    }
}

/// The smallest key greater than every key starting with `prefix`, if any.
pub fn prefix_successor(prefix: &[u8]) -> Option<Vec<u8>> {
    let mut k = prefix.to_vec();
    while let Some(last) = k.pop() {
        if last < 0xff {
            k.push(last + 1);
            return Some(k);
        }
    }
    None
}

/// A value read without copying it out of the store's own decoded data (an LSM chunk's
/// record): a shared buffer and the value's place in it. Derefs to the value's bytes. The
/// buffer is an `Rc<Vec<u8>>`, not an `Rc<[u8]>`, so that wrapping a `Vec` copies nothing.
/// Holding one keeps its whole chunk in memory, past the chunk cache's budget: hold them for
/// the call that read them, not longer.
#[derive(Debug, Clone)]
pub struct SharedBytes {
    buf: Rc<Vec<u8>>,
    start: usize,
    end: usize,
}

impl SharedBytes {
    pub fn new(buf: Rc<Vec<u8>>, range: std::ops::Range<usize>) -> Self {
        assert!(range.start <= range.end && range.end <= buf.len(), "value within its buffer");
        SharedBytes { buf, start: range.start, end: range.end }
    }

    pub fn from_vec(v: Vec<u8>) -> Self {
        let end = v.len();
        SharedBytes { buf: Rc::new(v), start: 0, end }
    }
}

impl std::ops::Deref for SharedBytes {
    type Target = [u8];
    fn deref(&self) -> &[u8] {
        &self.buf[self.start..self.end]
    }
}

#[async_trait(?Send)]
pub trait KvStore {
    async fn get(&self, key: &[u8]) -> Result<Option<Vec<u8>>>;
    /// One answer per key, in the order asked.
    async fn get_many(&self, keys: &[Vec<u8>]) -> Result<Vec<Option<Vec<u8>>>>;
    /// `get_many` without copying each value (see `SharedBytes`), for readers of many values.
    async fn get_many_shared(&self, keys: &[Vec<u8>]) -> Result<Vec<Option<SharedBytes>>> {
        Ok(self.get_many(keys).await?.into_iter().map(|v| v.map(SharedBytes::from_vec)).collect())
    }
    /// Rows in `range`, ascending or (`reverse`) descending, at most `limit` of them.
    async fn scan(
        &self,
        range: Range,
        reverse: bool,
        limit: Option<usize>,
    ) -> Result<Vec<(Vec<u8>, Vec<u8>)>>;
    /// `scan` without copying each key and value (see `SharedBytes`), for readers of many rows.
    async fn scan_shared(
        &self,
        range: Range,
        reverse: bool,
        limit: Option<usize>,
    ) -> Result<Vec<(SharedBytes, SharedBytes)>> {
        let rows = self.scan(range, reverse, limit).await?;
        Ok(rows.into_iter().map(|(k, v)| (SharedBytes::from_vec(k), SharedBytes::from_vec(v))).collect())
    }
    /// Commits the batch atomically; see the module doc for `expected`. Returns the new version.
    async fn write(&self, batch: WriteBatch, expected: Option<u64>) -> Result<u64>;
    /// The version this handle last saw.
    fn version(&self) -> u64;
    /// Re-reads what other handles (tabs) committed. Returns true when something changed.
    async fn refresh(&self) -> Result<bool>;
    /// Calls `f` after another handle's commit has been noticed and loaded (cross-tab).
    fn on_external_change(&self, f: Rc<dyn Fn()>);
    /// Merges and drops overwritten entries; a no-op where there is nothing to do.
    async fn compact(&self) -> Result<()>;
    /// Deletes everything this store holds, on disk too.
    async fn destroy(&self) -> Result<()>;
    /// Releases handles (IndexedDB connection, channels).
    fn close(&self);
    /// Where this database keeps attachment data (destroyed with the store).
    fn blobs(&self) -> Rc<dyn blobs::BlobStore>;
    /// Checks the store's own structure and counts what it holds; damage is a `corruption`
    /// error naming it (see `verify`). The default checks that a scan of every key comes back
    /// in order.
    async fn verify(&self) -> Result<verify::KvReport> {
        verify::scan_check(self).await
    }
}
