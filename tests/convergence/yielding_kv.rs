//! `YieldingKv`: a store wrapper that suspends before every read and write.

use crate::helpers::yield_now;
use async_trait::async_trait;
use settee::error::Result;
use settee::kv::blobs::BlobStore;
use settee::kv::{KvStore, Range, SharedBytes, WriteBatch};
use std::rc::Rc;

/// A store that suspends before every read and write, so that a joined task's calls land
/// between the reads of one database call (a changes page, a write's plan and its commit).
pub struct YieldingKv(pub Rc<dyn KvStore>);

#[async_trait(?Send)]
impl KvStore for YieldingKv {
    async fn get(&self, key: &[u8]) -> Result<Option<Vec<u8>>> {
        yield_now().await;
        self.0.get(key).await
    }
    async fn get_many(&self, keys: &[Vec<u8>]) -> Result<Vec<Option<Vec<u8>>>> {
        yield_now().await;
        self.0.get_many(keys).await
    }
    async fn get_many_shared(&self, keys: &[Vec<u8>]) -> Result<Vec<Option<SharedBytes>>> {
        yield_now().await;
        self.0.get_many_shared(keys).await
    }
    async fn scan(
        &self,
        range: Range,
        reverse: bool,
        limit: Option<usize>,
    ) -> Result<Vec<(Vec<u8>, Vec<u8>)>> {
        yield_now().await;
        self.0.scan(range, reverse, limit).await
    }
    async fn scan_shared(
        &self,
        range: Range,
        reverse: bool,
        limit: Option<usize>,
    ) -> Result<Vec<(SharedBytes, SharedBytes)>> {
        yield_now().await;
        self.0.scan_shared(range, reverse, limit).await
    }
    async fn write(&self, batch: WriteBatch, expected: Option<u64>) -> Result<u64> {
        yield_now().await;
        self.0.write(batch, expected).await
    }
    fn version(&self) -> u64 {
        self.0.version()
    }
    async fn refresh(&self) -> Result<bool> {
        self.0.refresh().await
    }
    fn on_external_change(&self, f: Rc<dyn Fn()>) {
        self.0.on_external_change(f)
    }
    async fn compact(&self) -> Result<()> {
        yield_now().await;
        self.0.compact().await
    }
    async fn destroy(&self) -> Result<()> {
        self.0.destroy().await
    }
    fn close(&self) {
        self.0.close()
    }
    fn blobs(&self) -> Rc<dyn BlobStore> {
        self.0.blobs()
    }
}
