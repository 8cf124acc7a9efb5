//! The write path: sort the batch, encode it as one new run, commit chunks and manifest in one
//! conditioned `RecordStore::commit`, then let the compaction policy run.
//!
//! The chunks are encoded once, before any attempt: their bytes do not depend on their ids,
//! so a retry after a lost race only renames them and rewrites the manifest.
//!
//! A batch of at least `SPLIT_BATCH_BYTES` is cut into one chunk per kind of key (first byte),
//! so that compaction can keep its doc and seq chunks as they are (`compact`); a smaller one
//! (a single put) stays one chunk, since each chunk is one more IndexedDB record to write.

use super::cache::Cached;
use super::chunk::{Chunk, Encoded, Splitter};
use super::manifest::{chunk_key, ChunkMeta, Manifest, Run};
use super::{fresh_epoch, Lsm, MAX_ATTEMPTS};
use crate::error::{Error, Result};
use crate::kv::records::{Commit, RecordStore, MANIFEST_KEY};
use crate::kv::{Op, WriteBatch};
use std::rc::Rc;

/// Batches whose keys and values total at least this many bytes get a chunk per key kind.
const SPLIT_BATCH_BYTES: usize = 8 << 10;

/// Sorts by key, keeps the last op per key, and encodes into chunks.
pub(super) fn encode_batch(mut ops: Vec<Op>, chunk_bytes: usize) -> Vec<Encoded> {
    // Stable: among equal keys the batch order survives, so the last one is the latest.
    ops.sort_by(|a, b| a.0.cmp(&b.0));
    let size: usize = ops.iter().map(|(k, v)| k.len() + v.as_ref().map_or(0, Vec::len)).sum();
    let mut out = Splitter::new(chunk_bytes);
    if size >= SPLIT_BATCH_BYTES {
        out = out.split_kinds(0);
    }
    for (i, (k, v)) in ops.iter().enumerate() {
        if ops.get(i + 1).is_some_and(|next| next.0 == *k) {
            continue;
        }
        out.push(k, v.as_deref());
    }
    out.finish()
}

/// One chunk of a run being committed: freshly encoded, or kept from a merged run.
pub(super) enum Piece {
    New(Encoded),
    Kept(ChunkMeta),
}

/// The run `pieces` form, in their order: new chunks get fresh ids from `next`, kept ones keep
/// theirs (and their records).
pub(super) fn new_run(next: &mut Manifest, pieces: &[Piece]) -> Run {
    let id = next.next_id;
    let mut fresh = id + 1;
    let chunks = pieces
        .iter()
        .map(|p| match p {
            Piece::New(e) => {
                fresh += 1;
                ChunkMeta {
                    id: fresh - 1,
                    bytes: e.bytes.len() as u64,
                    entries: u64::from(e.entries),
                    tombstones: u64::from(e.tombstones),
                    first: e.first.clone(),
                    last: e.last.clone(),
                }
            }
            Piece::Kept(meta) => meta.clone(),
        })
        .collect();
    next.next_id = fresh;
    Run { id, chunks }
}

/// The puts of a commit: every new chunk of `run` (bytes from `pieces`, which formed it) and
/// the manifest.
pub(super) fn puts<'a>(run: &Run, pieces: &'a [Piece], manifest: &'a [u8]) -> Vec<(String, &'a [u8])> {
    let mut puts: Vec<(String, &[u8])> = run
        .chunks
        .iter()
        .zip(pieces)
        .filter_map(|(c, p)| match p {
            Piece::New(e) => Some((chunk_key(c.id), e.bytes.as_slice())),
            Piece::Kept(_) => None,
        })
        .collect();
    puts.push((MANIFEST_KEY.to_string(), manifest));
    puts
}

impl<R: RecordStore + 'static> Lsm<R> {
    /// Decodes the new chunks of `run` (formed from `pieces`) into the cache, whole: scans
    /// (allDocs, changes, views) read fresh data next as often as gets do, and a cached table
    /// would make them decode it then. Gets read whole chunks as fast.
    pub(super) fn cache_new(&self, run: &Run, pieces: Vec<Piece>) -> Result<()> {
        for (meta, piece) in run.chunks.iter().zip(pieces) {
            if let Piece::New(enc) = piece {
                self.inner.cache.borrow_mut().pin_filter(meta.id, &enc.bytes);
                let chunk = Rc::new(Chunk::decode(meta.id, enc.bytes)?);
                self.inner.cache.borrow_mut().insert(meta.id, Cached::Whole(chunk));
            }
        }
        Ok(())
    }

    pub(super) async fn write_impl(&self, batch: WriteBatch, expected: Option<u64>) -> Result<u64> {
        let pieces: Vec<Piece> =
            encode_batch(batch.ops, self.inner.opts.chunk_bytes).into_iter().map(Piece::New).collect();
        let mut attempt = 0;
        let (version, run) = loop {
            // Released at the end of each attempt, so before a merge is scheduled below.
            let _committing = self.inner.committing.lock().await;
            let cur = self.manifest();
            if let Some(v) = expected {
                if !self.same_data(v, &cur) {
                    return Err(Error::stale());
                }
            }
            let mut next = (*cur).clone();
            next.version += 1;
            next.data_version += 1;
            if next.epoch == 0 {
                next.epoch = fresh_epoch();
            }
            let run = new_run(&mut next, &pieces);
            if !run.chunks.is_empty() {
                next.runs.insert(0, run.clone());
            }
            let bytes = next.encode();
            let commit =
                Commit { expect: cur.version, puts: puts(&run, &pieces, &bytes), deletes: Vec::new() };
            match self.inner.store.commit(commit).await {
                Ok(()) => {
                    let version = next.version;
                    self.install(next, false);
                    break (version, run);
                }
                Err(e) if e.is_stale() && attempt + 1 < MAX_ATTEMPTS => {
                    // Loop again: a blind write retries on the fresh manifest; a conditioned
                    // one retries only if nothing but compactions happened since `expected`.
                    self.refresh_inner().await?;
                    attempt += 1;
                }
                Err(e) => return Err(e),
            }
        };
        // Freshly written chunks are the likeliest to be read next.
        self.cache_new(&run, pieces)?;
        self.inner.store.announce();
        if self.inner.opts.auto_compact {
            self.schedule_compaction();
        }
        Ok(version)
    }
}
