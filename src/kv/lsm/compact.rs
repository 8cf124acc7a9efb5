//! Compaction: merge a span of adjacent runs into one, dropping overwritten entries, and
//! tombstones too when the span reaches the oldest run (nothing older can hide behind them).
//!
//! Rules that keep tabs safe:
//! - One handle compacts at a time (`RecordStore::try_lock`); the others skip.
//! - A merge plans on the manifest this handle already has, without re-reading it: the checks
//!   below catch a stale one (missing chunk: refresh and plan again; stale commit: refresh and
//!   commit on the fresh manifest if the merged runs are intact).
//! - The merge reads a snapshot; the commit is built on the manifest current at commit time
//!   and only if the merged runs are all still there, adjacent and in order (another handle
//!   may have prepended newer runs, which are kept as they are). If they are not, the merge
//!   is abandoned and planned again.
//! - Replaced chunks are deleted in the same commit. Another handle still reading them gets
//!   "missing" and restarts its read on the new manifest.
//! - A chunk whose key span holds no key of any other merged run is *kept*: the merged run
//!   lists it as it is, its record is neither read nor rewritten nor deleted. Its entries are
//!   exactly the merge's output for that span, since nothing else is in it. Not kept: chunks
//!   under `chunk_bytes / KEEP_FRACTION`, so that a run holds at most a few times the chunks
//!   it would if rewritten (every commit rewrites the manifest, which lists every chunk), and,
//!   when the merge reaches the oldest run, chunks with tombstones (which must go). Runs
//!   written in key order (a bulk load in id order) then merge at little more than the cost
//!   of a manifest.

use super::chunk::{Chunk, Splitter};
use super::manifest::{chunk_key, ChunkMeta, Manifest, Run};
use super::merge::{Merger, Step};
use super::policy::plan;
use super::read::is_missing;
use super::write::{new_run, puts, Piece};
use super::{Lsm, MAX_ATTEMPTS};
use crate::error::{Error, Result};
use crate::kv::records::{Commit, RecordStore};
use crate::kv::Range;
use std::ops::Range as Span;
use std::rc::Rc;

/// Merges whose inputs are at most this large fetch all their chunks in one round.
const PRELOAD_BYTES: u64 = 16 << 20;

/// Chunks under `chunk_bytes / KEEP_FRACTION` are rewritten even where they could be kept.
const KEEP_FRACTION: usize = 4;

/// A small merge's own chunks are cut where the key kind changes once they hold this much (a
/// kind with a few entries does not get a record of its own).
const SPLIT_KINDS_BYTES: usize = 4 << 10;

/// The dropped chunk ids as inclusive id spans to delete, each as long as it can be without
/// taking in an id of `live` (sorted; ids in between that are neither were never records, or
/// are gone).
fn delete_spans(mut dropped: Vec<u64>, live: &[u64]) -> Vec<(u64, u64)> {
    dropped.sort_unstable();
    let live_below = |id: u64| live.partition_point(|&l| l < id);
    let mut spans: Vec<(u64, u64)> = Vec::new();
    for id in dropped {
        match spans.last_mut() {
            Some((_, last)) if live_below(*last + 1) == live_below(id) => *last = id,
            _ => spans.push((id, id)),
        }
    }
    spans
}

/// Which chunks of `runs` a merge keeps as they are (see the module doc), in key order, and
/// the runs with those chunks taken out.
fn keepers(runs: &[Run], oldest: bool, min_bytes: u64) -> (Vec<ChunkMeta>, Vec<Run>) {
    let mut kept = Vec::new();
    let rest = runs
        .iter()
        .enumerate()
        .map(|(i, run)| {
            let (keep, merge): (Vec<&ChunkMeta>, Vec<&ChunkMeta>) = run.chunks.iter().partition(|c| {
                c.bytes >= min_bytes
                    && !(oldest && c.tombstones > 0)
                    && runs.iter().enumerate().all(|(j, other)| j == i || !other.overlaps(&c.first, &c.last))
            });
            kept.extend(keep.into_iter().cloned());
            Run { id: run.id, chunks: merge.into_iter().cloned().collect() }
        })
        .collect();
    kept.sort_by(|a, b| a.first.cmp(&b.first));
    (kept, rest)
}

/// Every chunk id `m` lists, sorted.
fn live_ids(m: &Manifest) -> Vec<u64> {
    let mut ids: Vec<u64> = m.runs.iter().flat_map(|r| &r.chunks).map(|c| c.id).collect();
    ids.sort_unstable();
    ids
}

fn sizes(m: &Manifest) -> Vec<u64> {
    m.runs.iter().map(Run::bytes).collect()
}

impl<R: RecordStore + 'static> Lsm<R> {
    /// What the policy would merge in `m` under this handle's options.
    fn plan(&self, m: &Manifest) -> Option<Span<usize>> {
        plan(&sizes(m), self.inner.opts.fanout, self.inner.opts.small_runs)
    }

    /// Runs the merges the policy asks for. Returns whether anything was merged; false also when
    /// another handle holds the compaction lock.
    /// Runs `maybe_compact` in the background unless one is already scheduled, so that a
    /// write's caller does not wait for a merge (and a burst of small writes shares one).
    /// Natively `spawn` runs it to its end right here, which keeps tests deterministic. The
    /// batch is committed whatever happens to the merge; a failed one is retried after the
    /// next write.
    pub(super) fn schedule_compaction(&self) {
        if self.inner.compacting.get() || self.plan(&self.manifest()).is_none() {
            return;
        }
        self.inner.compacting.set(true);
        let lsm = self.clone();
        super::spawn::spawn(async move {
            // Clears the flag however the task ends, even if it is dropped unfinished.
            struct Done<R: RecordStore>(Lsm<R>);
            impl<R: RecordStore> Drop for Done<R> {
                fn drop(&mut self) {
                    self.0.inner.compacting.set(false);
                }
            }
            let done = Done(lsm);
            let _ = done.0.maybe_compact().await;
        });
    }

    pub async fn maybe_compact(&self) -> Result<bool> {
        if self.plan(&self.manifest()).is_none() {
            return Ok(false);
        }
        self.compact_where(|m| self.plan(m)).await
    }

    /// Merges everything into one run without tombstones.
    pub async fn compact_all(&self) -> Result<bool> {
        self.compact_where(|m| {
            let needed = m.runs.len() > 1 || m.runs.iter().any(|r| r.tombstones() > 0);
            needed.then_some(0..m.runs.len())
        })
        .await
    }

    async fn compact_where(&self, select: impl Fn(&Manifest) -> Option<Span<usize>>) -> Result<bool> {
        self.check_open()?;
        let _merging = self.inner.merging.lock().await;
        let Some(_lock) = self.inner.store.try_lock().await? else { return Ok(false) };
        // No refresh here (it cost a read transaction per merge): another handle's commit is
        // announced and refreshed on its own, and one this handle has not noticed yet makes
        // the merge find a chunk missing or its commit stale, both of which refresh and plan
        // again below.
        let mut merged = false;
        for _ in 0..MAX_ATTEMPTS {
            let m = self.manifest();
            let Some(span) = select(&m) else { break };
            match self.merge_span(&m, span).await {
                Ok(done) => merged |= done,
                Err(e) if is_missing(&e) => {
                    self.refresh_inner().await?;
                }
                Err(e) => return Err(e),
            }
        }
        Ok(merged)
    }

    /// Merges runs `span` of `m` and commits; false if those runs changed meanwhile.
    async fn merge_span(&self, m: &Manifest, span: Span<usize>) -> Result<bool> {
        let oldest = span.end == m.runs.len();
        let run_ids: Vec<u64> = m.runs[span.clone()].iter().map(|r| r.id).collect();
        let min_keep = (self.inner.opts.chunk_bytes / KEEP_FRACTION) as u64;
        let (kept, runs) = keepers(&m.runs[span], oldest, min_keep);
        let mut kept = kept.into_iter().peekable();
        let mut pieces = Vec::new();
        let mut merger = Merger::new(&runs, Range::all(), false);
        if runs.iter().map(Run::bytes).sum::<u64>() <= PRELOAD_BYTES {
            let ids = merger.all_ids();
            let chunks = self.load(&ids, false).await?;
            merger.preload(&ids.into_iter().zip(chunks).collect::<Vec<_>>());
        }
        // A merge that rewrites at least a keepable chunk's worth cuts at every kind change, as
        // a big write does. Else the tiny kind before a big one (the database's one meta key,
        // `m`, before its seqs, `s`) went into the big kind's first chunk, which then overlapped
        // that chunk of every other run (they all hold the meta key) and was never kept: every
        // tier merge of a load in id order reread and rewrote all its seq entries (3.2 MB of
        // the merge of 256 batches, and 1.43 bytes written per byte stored at 1,000,000 docs
        // instead of ~1.2).
        let rewritten: u64 = runs.iter().map(Run::bytes).sum();
        let split_at = if rewritten >= min_keep { 0 } else { SPLIT_KINDS_BYTES };
        let mut out = Splitter::new(self.inner.opts.chunk_bytes).split_kinds(split_at);
        let mut prev: Option<(Rc<Chunk>, usize)> = None;
        loop {
            match merger.step() {
                Step::Item(chunk, i) => {
                    let key = chunk.key(i);
                    // Keys come out increasing unless a chunk holds keys outside the span the
                    // manifest gives it (damage): refuse, rather than write the damage into
                    // new chunks.
                    if prev.as_ref().is_some_and(|(c, j)| c.key(*j) >= key) {
                        return Err(Error::corruption(format!(
                            "LSM: a chunk of runs {run_ids:?} holds keys outside its span in the manifest"
                        )));
                    }
                    // Kept chunks hold no merged key, so one that starts before `key` ends
                    // before it too: it goes between the chunks cut so far and this entry.
                    while kept.peek().is_some_and(|k| k.first.as_slice() < key) {
                        pieces.extend(out.take().into_iter().map(Piece::New));
                        pieces.extend(kept.next().map(Piece::Kept));
                    }
                    let value = chunk.value(i);
                    if value.is_some() || !oldest {
                        out.push(key, value);
                    }
                    prev = Some((chunk.clone(), i));
                }
                Step::Load(cursor, id) => {
                    let chunk = self.load_one(id, false).await?;
                    merger.supply(cursor, chunk);
                }
                Step::Done => break,
            }
        }
        pieces.extend(out.finish().into_iter().map(Piece::New));
        pieces.extend(kept.map(Piece::Kept));

        for _ in 0..MAX_ATTEMPTS {
            let _committing = self.inner.committing.lock().await;
            let cur = self.manifest();
            let Some(pos) = cur.runs.iter().position(|r| r.id == run_ids[0]) else { return Ok(false) };
            let end = pos + run_ids.len();
            let intact = cur.epoch == m.epoch
                && end <= cur.runs.len()
                && cur.runs[pos..end].iter().map(|r| r.id).eq(run_ids.iter().copied())
                && (!oldest || end == cur.runs.len());
            if !intact {
                return Ok(false);
            }
            let mut next = (*cur).clone();
            next.version += 1;
            let run = new_run(&mut next, &pieces);
            let replacement = if run.chunks.is_empty() { None } else { Some(run.clone()) };
            let merged: Vec<u64> =
                next.runs.splice(pos..end, replacement).flat_map(|r| r.chunks).map(|c| c.id).collect();
            // Kept chunks are in the new run, so still live.
            let live = live_ids(&next);
            let dropped: Vec<u64> = merged.into_iter().filter(|id| live.binary_search(id).is_err()).collect();
            let bytes = next.encode();
            let commit = Commit {
                expect: cur.version,
                puts: puts(&run, &pieces, &bytes),
                deletes: delete_spans(dropped.clone(), &live)
                    .into_iter()
                    .map(|(a, b)| (chunk_key(a), chunk_key(b)))
                    .collect(),
            };
            match self.inner.store.commit(commit).await {
                Ok(()) => {
                    self.install(next, false);
                    let mut cache = self.inner.cache.borrow_mut();
                    for id in dropped {
                        cache.remove(id);
                    }
                    drop(cache);
                    self.cache_output(&run, pieces)?;
                    self.inner.store.announce();
                    return Ok(true);
                }
                Err(e) if e.is_stale() => {
                    self.refresh_inner().await?;
                }
                Err(e) => return Err(e),
            }
        }
        Ok(false)
    }

    /// Keeps the merged chunks when they fit comfortably: they replace chunks readers wanted.
    /// Their filters are kept in any case (see `cache`).
    fn cache_output(&self, run: &Run, pieces: Vec<Piece>) -> Result<()> {
        if run.bytes() as usize > self.inner.opts.cache_bytes / 2 {
            let mut cache = self.inner.cache.borrow_mut();
            for (meta, piece) in run.chunks.iter().zip(&pieces) {
                if let Piece::New(enc) = piece {
                    cache.pin_filter(meta.id, &enc.bytes);
                }
            }
            return Ok(());
        }
        self.cache_new(run, pieces)
    }
}

#[cfg(test)]
mod tests {
    use super::delete_spans;

    #[test]
    fn dropped_ids_delete_as_spans_that_never_cover_a_live_id() {
        assert_eq!(delete_spans(vec![5, 3, 4, 9, 7], &[]), vec![(3, 9)]);
        assert_eq!(delete_spans(vec![3, 4, 5, 7, 9], &[6, 20]), vec![(3, 5), (7, 9)]);
        assert_eq!(delete_spans(vec![3, 5], &[4]), vec![(3, 3), (5, 5)]);
        assert_eq!(delete_spans(vec![10, 2], &[1, 11]), vec![(2, 10)]);
        assert_eq!(delete_spans(vec![], &[1]), vec![]);
    }
}
