//! `MemoryBlobs`: attachment data in a map, for `{adapter: 'memory'}` and native tests. Clones
//! share one map, so reopening a `MemoryRecords` store finds its attachments again.

use super::{now_ms, AttData, BlobStore};
use crate::error::Result;
use async_trait::async_trait;
use std::cell::RefCell;
use std::collections::BTreeMap;
use std::rc::Rc;

#[derive(Clone, Default)]
pub struct MemoryBlobs {
    map: Rc<RefCell<BTreeMap<String, (AttData, f64)>>>,
}

impl MemoryBlobs {
    pub fn clear(&self) {
        self.map.borrow_mut().clear();
    }
}

#[async_trait(?Send)]
impl BlobStore for MemoryBlobs {
    async fn put(&self, digest: &str, data: &AttData) -> Result<()> {
        self.map.borrow_mut().entry(digest.to_string()).or_insert_with(|| (data.clone(), now_ms()));
        Ok(())
    }

    async fn get(&self, digest: &str) -> Result<Option<AttData>> {
        Ok(self.map.borrow().get(digest).map(|(d, _)| d.clone()))
    }

    async fn contains(&self, digests: &[String]) -> Result<Vec<bool>> {
        let map = self.map.borrow();
        Ok(digests.iter().map(|d| map.contains_key(d)).collect())
    }

    async fn list(&self) -> Result<Vec<(String, f64)>> {
        Ok(self.map.borrow().iter().map(|(k, (_, at))| (k.clone(), *at)).collect())
    }

    async fn delete(&self, digests: &[String]) -> Result<()> {
        let mut map = self.map.borrow_mut();
        for d in digests {
            map.remove(d);
        }
        Ok(())
    }
}
