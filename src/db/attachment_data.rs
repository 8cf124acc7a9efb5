//! The store side of attachments: putting, finding and sweeping their data.
//!
//! - Data goes to the KV store's `BlobStore` before the batch naming it commits, under the
//!   write lock. A failed or stale commit leaves data nothing names; the sweep removes it.
//! - Databases written before the `BlobStore` kept bytes inside the KV store under
//!   `keys::attachment(digest)`; reads fall back to them and the sweep deletes them when
//!   nothing names them.
//! - Nothing counts references: `sweep_attachments` (from `compact`) deletes data that no
//!   stored rev body names. Deleting a doc keeps its old rev bodies until compaction, as
//!   CouchDB does, so its data goes then too.
//! - The sweep runs under this handle's write lock, so this handle's writes are never in
//!   flight during it. Another tab's may be (data stored, doc not committed yet), so data
//!   this handle did not store is swept only once it is `OTHERS_GRACE_MS` old. Another tab
//!   may also commit, between this sweep's read and its delete, a new doc naming data this
//!   handle stored and that nothing else named: a commit after the delete, conditioned on
//!   the version the references were read at, detects it, and the data is put back
//!   (`fence_sweep`).

use super::{attachments, keys, Database};
use crate::error::{Error, Result};
use crate::kv::blobs::{now_ms, AttData};
use crate::kv::{Range, WriteBatch};
use base64::engine::general_purpose::STANDARD;
use base64::Engine;
use serde_json::{Map, Value};
use std::collections::HashSet;

/// How old data stored by another handle must be before a sweep may delete it: far longer
/// than any write takes between storing data and committing the doc that names it.
const OTHERS_GRACE_MS: f64 = 10.0 * 60.0 * 1000.0;
/// Tries of the sweep's fence (`fence_sweep`) before it gives up and keeps the data.
const FENCE_ATTEMPTS: usize = 20;

impl Database {
    /// Stores the data this batch brings and the store lacks (once per digest).
    pub(super) async fn store_new_data(&self, new: Vec<&attachments::NewAttachment>) -> Result<()> {
        let mut seen = HashSet::new();
        let unique: Vec<&attachments::NewAttachment> =
            new.into_iter().filter(|a| seen.insert(a.digest.as_str())).collect();
        if unique.is_empty() {
            return Ok(());
        }
        let digests: Vec<String> = unique.iter().map(|a| a.digest.clone()).collect();
        let present = self.blobs.contains(&digests).await?;
        for (a, p) in unique.into_iter().zip(present) {
            if !p {
                self.blobs.put(&a.digest, &a.data).await?;
                self.stored_here.borrow_mut().insert(a.digest.clone());
            }
        }
        Ok(())
    }

    /// Whether each digest's data is stored (in the `BlobStore` or the old in-KV place).
    pub async fn has_attachment_data(&self, digests: &[String]) -> Result<Vec<bool>> {
        let mut present = self.blobs.contains(digests).await?;
        let missing: Vec<usize> = (0..digests.len()).filter(|&i| !present[i]).collect();
        if !missing.is_empty() {
            let ks: Vec<Vec<u8>> = missing.iter().map(|&i| keys::attachment(&digests[i])).collect();
            for (i, v) in missing.into_iter().zip(self.kv.get_many(&ks).await?) {
                present[i] = v.is_some();
            }
        }
        Ok(present)
    }

    /// The digests whose data is stored, in the `BlobStore` (diagnostics and tests: the
    /// count is how many distinct attachments take space).
    pub async fn stored_attachments(&self) -> Result<Vec<String>> {
        Ok(self.blobs.list().await?.into_iter().map(|(d, _)| d).collect())
    }

    /// The data stored for `digest`.
    pub async fn attachment_data(&self, digest: &str) -> Result<Option<AttData>> {
        if let Some(d) = self.blobs.get(digest).await? {
            return Ok(Some(d));
        }
        Ok(self.kv.get(&keys::attachment(digest)).await?.map(AttData::bytes))
    }

    /// Replaces the stubs in a body with inline base64 `data`.
    pub(super) async fn inline_data(&self, body: &[u8]) -> Result<Vec<u8>> {
        if attachments::digests_in(body).is_empty() {
            return Ok(body.to_vec());
        }
        let mut map: Map<String, Value> =
            serde_json::from_slice(body).map_err(|e| Error::corruption(format!("doc body: {e}")))?;
        if let Some(Value::Object(atts)) = map.get_mut(attachments::FIELD) {
            self.inline_stubs(atts.values_mut().collect()).await?;
        }
        Ok(serde_json::to_vec(&map).expect("bodies serialise"))
    }

    /// Gives each `_attachments` entry that names a digest its base64 `data`, without `stub`.
    async fn inline_stubs(&self, entries: Vec<&mut Value>) -> Result<()> {
        for entry in entries {
            let Some(digest) = entry.get("digest").and_then(Value::as_str) else { continue };
            let data = self.attachment_data(digest).await?.ok_or_else(|| {
                Error::corruption(format!("attachment record {digest}: its data is missing"))
            })?;
            let encoded = STANDARD.encode(data.to_vec().await?);
            if let Value::Object(e) = entry {
                // As CouchDB: `length` describes a stub, and an inlined attachment has none.
                e.remove("stub");
                e.remove("length");
                e.insert("data".into(), encoded.into());
            }
        }
        Ok(())
    }

    /// `inline_data` for every doc inside a rendered answer (`open_revs` rows, `bulkGet`
    /// results): any `_attachments` stub found at any depth gets its base64 `data`.
    pub(super) async fn inline_everywhere(&self, text: String) -> Result<String> {
        let mut answer: Value =
            serde_json::from_str(&text).map_err(|e| Error::storage(format!("unparsable answer: {e}")))?;
        let mut stack = vec![&mut answer];
        let mut stubs = Vec::new();
        while let Some(v) = stack.pop() {
            match v {
                Value::Array(items) => stack.extend(items.iter_mut()),
                Value::Object(m) => {
                    for (k, child) in m.iter_mut() {
                        if k == attachments::FIELD {
                            if let Value::Object(atts) = child {
                                stubs.extend(atts.values_mut());
                            }
                        } else {
                            stack.push(child);
                        }
                    }
                }
                _ => {}
            }
        }
        self.inline_stubs(stubs).await?;
        Ok(serde_json::to_string(&answer).expect("JSON serialises"))
    }

    /// Deletes attachment data that no stored revision body refers to (see the module doc).
    pub(super) async fn sweep_attachments(&self) -> Result<()> {
        let _guard = self.write_lock.lock().await;
        // Other tabs' commits must be seen, or data their docs name would look unreferenced.
        self.kv.refresh().await?;
        let version = self.kv.version();
        let started = now_ms();
        let stored = self.blobs.list().await?;
        let old_keys: Vec<Vec<u8>> = self
            .kv
            .scan(Range::prefix(&[keys::ATTACHMENT]), false, None)
            .await?
            .into_iter()
            .map(|(k, _)| k)
            .collect();
        if stored.is_empty() && old_keys.is_empty() {
            return Ok(());
        }
        let referenced = self.referenced_digests().await?;
        let sweepable = |digest: &str, at: f64| {
            !referenced.contains(digest)
                && (self.stored_here.borrow().contains(digest) || started - at > OTHERS_GRACE_MS)
        };
        let doomed: Vec<String> =
            stored.into_iter().filter(|(d, at)| sweepable(d, *at)).map(|(d, _)| d).collect();
        // Kept until the fence holds. In IndexedDB these are `Blob`s of the records, which stay
        // readable after the records are deleted while something holds them.
        let mut saved = Vec::new();
        for d in &doomed {
            saved.extend(self.blobs.get(d).await?.map(|data| (d.clone(), data)));
        }
        self.blobs.delete(&doomed).await?;
        {
            let mut here = self.stored_here.borrow_mut();
            for d in &doomed {
                here.remove(d);
            }
        }
        let (version, referenced) = self.fence_sweep(version, referenced, &saved).await?;
        self.sweep_old_keys(old_keys, &referenced, version).await
    }

    /// Another tab may have committed, between the reference scan at `version` and the delete,
    /// a doc naming data just deleted (it found the data stored when it planned its write). A
    /// commit conditioned on the scan's version tells: while it fails, the references are read
    /// again and the deleted data they name now is put back. Once it holds, a write planned
    /// before the delete fails as stale and plans again, finding the data gone (so it stores
    /// it again, or fails as a missing stub). Returns the version and references that hold.
    async fn fence_sweep(
        &self,
        mut version: u64,
        mut referenced: HashSet<String>,
        saved: &[(String, AttData)],
    ) -> Result<(u64, HashSet<String>)> {
        if saved.is_empty() {
            return Ok((version, referenced));
        }
        for _ in 0..FENCE_ATTEMPTS {
            let mut fence = WriteBatch::new();
            fence.put(keys::meta("sweep"), version.to_be_bytes().to_vec());
            match self.kv.write(fence, Some(version)).await {
                Ok(v) => return Ok((v, referenced)),
                Err(e) if e.is_stale() => {
                    self.kv.refresh().await?;
                    version = self.kv.version();
                    referenced = self.referenced_digests().await?;
                    for (d, data) in saved.iter().filter(|(d, _)| referenced.contains(d)) {
                        self.blobs.put(d, data).await?;
                    }
                }
                Err(e) => return Err(e),
            }
        }
        // Other tabs keep committing: put everything back; this handle's next compaction sweeps
        // what is still unnamed then.
        for (d, data) in saved {
            self.blobs.put(d, data).await?;
            self.stored_here.borrow_mut().insert(d.clone());
        }
        Ok((version, referenced))
    }

    /// Every digest a stored body (winner or other rev) names.
    async fn referenced_digests(&self) -> Result<HashSet<String>> {
        let mut referenced = HashSet::new();
        for (_, v) in self.kv.scan(Range::prefix(&[keys::DOC]), false, None).await? {
            let record = super::record::DocRecord::decode(&v)?;
            referenced.extend(record.winner_body.as_deref().map(attachments::digests_in).unwrap_or_default());
        }
        for (_, v) in self.kv.scan(Range::prefix(&[keys::BODY]), false, None).await? {
            referenced.extend(attachments::digests_in(&v));
        }
        Ok(referenced)
    }

    /// Deletes unreferenced bytes kept in the KV store by databases of the first format.
    async fn sweep_old_keys(
        &self,
        old_keys: Vec<Vec<u8>>,
        referenced: &HashSet<String>,
        version: u64,
    ) -> Result<()> {
        let mut batch = WriteBatch::new();
        for k in old_keys {
            if keys::digest_of(&k).is_none_or(|d| !referenced.contains(d)) {
                batch.delete(k);
            }
        }
        if batch.is_empty() {
            return Ok(());
        }
        // Conditioned on the version the references were read at; if another tab wrote since,
        // the next compaction sweeps instead.
        match self.kv.write(batch, Some(version)).await {
            Err(e) if e.is_stale() => Ok(()),
            other => other.map(|_| ()),
        }
    }
}
