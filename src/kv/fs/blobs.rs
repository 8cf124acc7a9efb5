//! `FsBlobs`: attachment data as files, one per digest, in `<dir>/attachments/`.
//!
//! A file is written under a temporary name, synced and renamed, so a digest's file is either
//! whole or absent (a `kill -9` mid-write leaves a `.tmp`, which is never listed or read and is
//! overwritten by the next put of that digest). Its modification time is the `stored_at` that
//! `Database::sweep_attachments` spares recent data by.
//!
//! `contains` answers from a set of stored digests read once from the directory: only this
//! process writes it (the database's `LOCK`), so the set stays true as `put` and `delete`
//! keep it, and a replication batch's check costs no file system call.

use super::host::FileSystem;
use super::names;
use crate::error::Result;
use crate::kv::blobs::{AttData, BlobStore};
use async_trait::async_trait;
use std::cell::RefCell;
use std::collections::HashSet;
use std::rc::Rc;

pub struct FsBlobs {
    fs: Rc<dyn FileSystem>,
    dir: String,
    /// The stored digests, once read (the directory exists from then on).
    stored: RefCell<Option<HashSet<String>>>,
}

impl FsBlobs {
    pub fn new(fs: Rc<dyn FileSystem>, dir: String) -> Self {
        FsBlobs { fs, dir, stored: RefCell::new(None) }
    }

    fn path(&self, digest: &str) -> String {
        format!("{}/{}", self.dir, names::encode(digest))
    }

    /// Reads the directory into `stored` the first time (creating it).
    async fn load(&self) -> Result<()> {
        if self.stored.borrow().is_none() {
            self.fs.mkdirs(&self.dir).await?;
            let digests = self.list().await?.into_iter().map(|(d, _)| d).collect();
            *self.stored.borrow_mut() = Some(digests);
        }
        Ok(())
    }
}

#[async_trait(?Send)]
impl BlobStore for FsBlobs {
    async fn put(&self, digest: &str, data: &AttData) -> Result<()> {
        self.load().await?;
        let path = self.path(digest);
        let tmp = format!("{path}.tmp");
        self.fs.write_att(&tmp, data).await?;
        self.fs.rename(&tmp, &path).await?;
        self.fs.sync_dir(&self.dir).await?;
        self.stored.borrow_mut().get_or_insert_with(HashSet::new).insert(digest.to_string());
        Ok(())
    }

    async fn get(&self, digest: &str) -> Result<Option<AttData>> {
        self.fs.read_att(&self.path(digest)).await
    }

    async fn contains(&self, digests: &[String]) -> Result<Vec<bool>> {
        let stored: std::collections::HashSet<String> =
            self.list().await?.into_iter().map(|(d, _)| d).collect();
        Ok(digests.iter().map(|d| stored.contains(d)).collect())
    }

    async fn list(&self) -> Result<Vec<(String, f64)>> {
        Ok(self
            .fs
            .list(&self.dir)
            .await?
            .into_iter()
            .filter(|(n, _)| !n.ends_with(".tmp"))
            .filter_map(|(n, t)| names::decode(&n).map(|d| (d, t)))
            .collect())
    }

    async fn delete(&self, digests: &[String]) -> Result<()> {
        for d in digests {
            self.fs.remove(&self.path(d)).await?;
            if let Some(stored) = self.stored.borrow_mut().as_mut() {
                stored.remove(d);
            }
        }
        Ok(())
    }
}
