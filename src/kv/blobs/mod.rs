//! Attachment data beside the ordered store: `AttData` and the content-addressed `BlobStore`.
//!
//! - Data is stored once per digest (`md5-<base64>`) per database, whatever docs and revs
//!   name it. `put` of a digest already present changes nothing.
//! - In the browser the data is a `Blob` from end to end (a file picked by the user, a fetch
//!   response, an IndexedDB value), so a 50 MB attachment never has to sit in the JS heap or
//!   in wasm memory: only its digest is computed, in 1 MiB slices (`js::digest_of_blob`).
//! - Stores do not count references. `Database::sweep_attachments` deletes what no body
//!   names; `stored_at` lets it spare data another tab stored a moment ago for a doc it has
//!   not committed yet.

#[cfg(target_arch = "wasm32")]
pub mod js;
mod memory;

pub use memory::MemoryBlobs;

use crate::error::Result;
use async_trait::async_trait;
use base64::engine::general_purpose::STANDARD;
use base64::Engine;
use md5::{Digest, Md5};
use std::rc::Rc;

/// One attachment's data: bytes in wasm memory, or a browser `Blob` kept outside it.
#[derive(Clone, Debug)]
pub enum AttData {
    Bytes(Rc<Vec<u8>>),
    #[cfg(target_arch = "wasm32")]
    Blob(web_sys::Blob),
}

impl AttData {
    pub fn bytes(data: Vec<u8>) -> AttData {
        AttData::Bytes(Rc::new(data))
    }

    pub fn len(&self) -> u64 {
        match self {
            AttData::Bytes(b) => b.len() as u64,
            #[cfg(target_arch = "wasm32")]
            AttData::Blob(b) => b.size() as u64,
        }
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// CouchDB's digest of the data: `md5-` and the base64 of its md5.
    pub async fn digest(&self) -> Result<String> {
        match self {
            AttData::Bytes(b) => Ok(digest_of(b)),
            #[cfg(target_arch = "wasm32")]
            AttData::Blob(b) => js::digest_of_blob(b).await,
        }
    }

    /// The whole data as bytes (a copy into wasm memory for a `Blob`).
    pub async fn to_vec(&self) -> Result<Vec<u8>> {
        match self {
            AttData::Bytes(b) => Ok(b.as_ref().clone()),
            #[cfg(target_arch = "wasm32")]
            AttData::Blob(b) => js::read_blob(b).await,
        }
    }
}

/// CouchDB's digest form: `md5-` and the base64 of the md5 of the bytes.
pub fn digest_of(data: &[u8]) -> String {
    format!("md5-{}", STANDARD.encode(Md5::digest(data)))
}

/// Milliseconds since the Unix epoch, for `stored_at`.
pub fn now_ms() -> f64 {
    #[cfg(target_arch = "wasm32")]
    {
        js_sys::Date::now()
    }
    #[cfg(not(target_arch = "wasm32"))]
    {
        std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map(|d| d.as_secs_f64() * 1000.0)
            .unwrap_or(0.0)
    }
}

#[async_trait(?Send)]
pub trait BlobStore {
    /// Stores `data` under `digest` (which the caller has checked). Callers skip digests
    /// `contains` reports; storing one again keeps the same bytes.
    async fn put(&self, digest: &str, data: &AttData) -> Result<()>;
    async fn get(&self, digest: &str) -> Result<Option<AttData>>;
    /// Whether each digest is stored, in the order asked.
    async fn contains(&self, digests: &[String]) -> Result<Vec<bool>>;
    /// Every stored digest with the time it was stored (`now_ms`).
    async fn list(&self) -> Result<Vec<(String, f64)>>;
    async fn delete(&self, digests: &[String]) -> Result<()>;
}

#[cfg(test)]
mod tests {
    use super::*;
    use futures::executor::block_on;

    #[test]
    fn digests_are_md5_in_base64_like_couchdb() {
        // md5("hello") = 5d41402abc4b2a76b9719d911017c592
        assert_eq!(digest_of(b"hello"), "md5-XUFAKrxLKna5cZ2REBfFkg==");
        assert_eq!(block_on(AttData::bytes(b"hello".to_vec()).digest()).unwrap(), digest_of(b"hello"));
    }

    #[test]
    fn a_memory_store_keeps_one_copy_per_digest_and_forgets_deleted_ones() {
        block_on(async {
            let s = MemoryBlobs::default();
            let d = digest_of(b"x");
            s.put(&d, &AttData::bytes(b"x".to_vec())).await.unwrap();
            s.put(&d, &AttData::bytes(b"x".to_vec())).await.unwrap();
            assert_eq!(s.list().await.unwrap().len(), 1);
            assert_eq!(s.contains(&[d.clone(), "md5-none".into()]).await.unwrap(), vec![true, false]);
            assert_eq!(s.get(&d).await.unwrap().unwrap().to_vec().await.unwrap(), b"x");
            s.delete(std::slice::from_ref(&d)).await.unwrap();
            assert!(s.get(&d).await.unwrap().is_none());
        });
    }
}
