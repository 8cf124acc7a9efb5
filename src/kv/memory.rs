//! `MemoryKv`: the ordered store as a `BTreeMap`, for `{adapter: 'memory'}` databases and fast
//! native tests. Its version counts commits; it has no other handles, so it is never stale.

use super::blobs::{BlobStore, MemoryBlobs};
use super::{KvStore, Range, WriteBatch};
use crate::error::{Error, Result};
use async_trait::async_trait;
use std::cell::{Cell, RefCell};
use std::collections::BTreeMap;
use std::rc::Rc;

#[derive(Default)]
pub struct MemoryKv {
    map: RefCell<BTreeMap<Vec<u8>, Vec<u8>>>,
    version: Cell<u64>,
    blobs: MemoryBlobs,
}

impl MemoryKv {
    pub fn new() -> Self {
        Self::default()
    }
}

#[async_trait(?Send)]
impl KvStore for MemoryKv {
    async fn get(&self, key: &[u8]) -> Result<Option<Vec<u8>>> {
        Ok(self.map.borrow().get(key).cloned())
    }

    async fn get_many(&self, keys: &[Vec<u8>]) -> Result<Vec<Option<Vec<u8>>>> {
        let map = self.map.borrow();
        Ok(keys.iter().map(|k| map.get(k).cloned()).collect())
    }

    async fn scan(
        &self,
        range: Range,
        reverse: bool,
        limit: Option<usize>,
    ) -> Result<Vec<(Vec<u8>, Vec<u8>)>> {
        if range.is_backwards() {
            return Ok(Vec::new());
        }
        let map = self.map.borrow();
        let iter = map.range((range.start, range.end)).map(|(k, v)| (k.clone(), v.clone()));
        let limit = limit.unwrap_or(usize::MAX);
        Ok(if reverse { iter.rev().take(limit).collect() } else { iter.take(limit).collect() })
    }

    async fn write(&self, batch: WriteBatch, expected: Option<u64>) -> Result<u64> {
        if matches!(expected, Some(v) if v != self.version.get()) {
            return Err(Error::stale());
        }
        let mut map = self.map.borrow_mut();
        for (k, v) in batch.ops {
            match v {
                Some(v) => map.insert(k, v),
                None => map.remove(&k),
            };
        }
        self.version.set(self.version.get() + 1);
        Ok(self.version.get())
    }

    fn version(&self) -> u64 {
        self.version.get()
    }

    async fn refresh(&self) -> Result<bool> {
        Ok(false)
    }

    fn on_external_change(&self, _f: Rc<dyn Fn()>) {}

    async fn compact(&self) -> Result<()> {
        Ok(())
    }

    async fn destroy(&self) -> Result<()> {
        self.map.borrow_mut().clear();
        self.blobs.clear();
        Ok(())
    }

    fn close(&self) {}

    fn blobs(&self) -> Rc<dyn BlobStore> {
        Rc::new(self.blobs.clone())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::ops::Bound;

    #[test]
    fn a_backwards_range_scans_to_nothing_instead_of_panicking() {
        let kv = MemoryKv::new();
        futures::executor::block_on(async {
            let mut b = WriteBatch::new();
            b.put(b"m".to_vec(), b"1".to_vec());
            kv.write(b, None).await.unwrap();
            let r = Range { start: Bound::Included(b"z".to_vec()), end: Bound::Excluded(b"a".to_vec()) };
            assert!(kv.scan(r.clone(), false, None).await.unwrap().is_empty());
            assert!(kv.scan(r, true, Some(3)).await.unwrap().is_empty());
            let same = Range { start: Bound::Excluded(b"m".to_vec()), end: Bound::Included(b"m".to_vec()) };
            assert!(kv.scan(same, false, None).await.unwrap().is_empty());
        });
    }
}
