//! Reads: point gets (at most one chunk per run), batched gets (one record-store round per
//! run for all keys) and merged range scans. Each works on a manifest snapshot and starts
//! over on a fresher one if a chunk it needs was compacted away meanwhile.
//!
//! Gets read format-2 chunks as `Table`s (filter, index, one block) and cache them so; scans
//! and merges decode chunks whole (see `cache`). Every chunk read or written leaves its Bloom
//! filter in the cache, and gets skip a chunk whose filter rules the key out without fetching
//! it.

use super::bloom;
use super::cache::Cached;
use super::chunk::Chunk;
use super::manifest::{chunk_key, Manifest};
use super::merge::{Merger, Span};
use super::table::Table;
use super::{Lsm, MAX_ATTEMPTS};
use crate::error::{Error, Result};
use crate::kv::records::RecordStore;
use crate::kv::{Range, SharedBytes};
use std::rc::Rc;

const MISSING: &str = "missing_chunk";

/// A batched get decodes a chunk whole when at least this many of its keys look in it (a
/// whole decode costs about as much as walking this many of its ~64 blocks).
const WHOLE_AT: usize = 16;

pub(super) fn is_missing(e: &Error) -> bool {
    e.reason.as_deref() == Some(MISSING)
}

/// The error for a chunk record that is not there (yet `recover` may find it compacted away).
pub(super) fn missing(what: &str) -> Error {
    Error::storage(what).with_reason(MISSING)
}

impl<R: RecordStore + 'static> Lsm<R> {
    /// Fetches chunks by id, decoded whole, through the cache; one `get_many` for all that are
    /// not cached. `keep`: put fetched chunks in the cache (compaction reads bypass it).
    pub(super) async fn load(&self, ids: &[u64], keep: bool) -> Result<Vec<Rc<Chunk>>> {
        let cached = self.fetch(ids, keep, false).await?;
        let mut out = Vec::with_capacity(ids.len());
        for (&id, c) in ids.iter().zip(cached) {
            out.push(match c {
                Cached::Whole(c) => c,
                Cached::Table(t) => {
                    // Cached for gets: decode from the record it holds, and keep the whole
                    // chunk in its place, as a fetch would have.
                    let c = Rc::new(Chunk::decode_shared(id, t.raw().clone())?);
                    if keep {
                        self.inner.cache.borrow_mut().insert(id, Cached::Whole(c.clone()));
                    }
                    c
                }
            });
        }
        Ok(out)
    }

    /// Fetches chunks by id for point reads: a format-2 chunk as a `Table`, an older one
    /// decoded whole; cached either way.
    pub(super) async fn load_points(&self, ids: &[u64]) -> Result<Vec<Cached>> {
        self.fetch(ids, true, true).await
    }

    /// Cached chunks as they are; the others fetched in one `get_many` and opened as tables
    /// (`points`, format 2 only) or decoded whole.
    async fn fetch(&self, ids: &[u64], keep: bool, points: bool) -> Result<Vec<Cached>> {
        let mut out: Vec<Option<Cached>> = {
            let mut cache = self.inner.cache.borrow_mut();
            ids.iter().map(|id| cache.get(*id)).collect()
        };
        let wanted: Vec<usize> = (0..ids.len()).filter(|&i| out[i].is_none()).collect();
        if !wanted.is_empty() {
            let keys: Vec<String> = wanted.iter().map(|&i| chunk_key(ids[i])).collect();
            let records = self.inner.store.get_many(&keys).await?;
            for (&i, record) in wanted.iter().zip(records) {
                let Some(bytes) = record else {
                    return Err(missing(&format!("chunk {} is missing", ids[i])));
                };
                let raw = Rc::new(bytes);
                self.inner.cache.borrow_mut().pin_filter(ids[i], &raw);
                let chunk = if points && Table::is_format_2(&raw) {
                    Cached::Table(Rc::new(Table::open(ids[i], raw)?))
                } else {
                    Cached::Whole(Rc::new(Chunk::decode_shared(ids[i], raw)?))
                };
                if keep {
                    self.inner.cache.borrow_mut().insert(ids[i], chunk.clone());
                }
                out[i] = Some(chunk);
            }
        }
        Ok(out.into_iter().map(|c| c.expect("every chunk loaded")).collect())
    }

    pub(super) async fn load_one(&self, id: u64, keep: bool) -> Result<Rc<Chunk>> {
        Ok(self.load(&[id], keep).await?.remove(0))
    }

    /// Decides whether a failed read may start over: only when a chunk was missing and the
    /// manifest has moved on since the snapshot `seen` (refreshing if this handle had not yet
    /// noticed). A chunk missing from the current manifest means corruption.
    async fn recover(&self, err: Error, attempt: usize, seen: u64) -> Result<()> {
        if !is_missing(&err) || attempt + 1 >= MAX_ATTEMPTS {
            return Err(err);
        }
        if self.manifest().version != seen || self.refresh_inner().await? {
            Ok(())
        } else {
            Err(Error::corruption(format!("database: {}, though the manifest lists it", err.message)))
        }
    }

    pub(super) async fn refresh_inner(&self) -> Result<bool> {
        let m = super::read_manifest(&self.inner.store).await?;
        Ok(self.install(m, true))
    }

    pub(super) async fn get_impl(&self, key: &[u8]) -> Result<Option<Vec<u8>>> {
        let mut attempt = 0;
        loop {
            let m = self.manifest();
            match self.get_in(&m, key).await {
                Err(e) => self.recover(e, attempt, m.version).await?,
                ok => return ok,
            }
            attempt += 1;
        }
    }

    async fn get_in(&self, m: &Manifest, key: &[u8]) -> Result<Option<Vec<u8>>> {
        let h = bloom::hash(key);
        for run in &m.runs {
            if let Some(meta) =
                run.chunk_for(key).filter(|c| !self.inner.cache.borrow().surely_absent(c.id, h))
            {
                let chunk = self.load_points(&[meta.id]).await?.remove(0);
                if let Some(found) = chunk.lookup(key)? {
                    return Ok(found.map(|v| v.to_vec()));
                }
            }
        }
        Ok(None)
    }

    pub(super) async fn get_many_impl(&self, keys: &[Vec<u8>]) -> Result<Vec<Option<SharedBytes>>> {
        let mut attempt = 0;
        loop {
            let m = self.manifest();
            match self.get_many_in(&m, keys).await {
                Err(e) => self.recover(e, attempt, m.version).await?,
                ok => return ok,
            }
            attempt += 1;
        }
    }

    /// Run by run, newest first: every key still unanswered looks in that run's one candidate
    /// chunk, and all those chunks are fetched together.
    async fn get_many_in(&self, m: &Manifest, keys: &[Vec<u8>]) -> Result<Vec<Option<SharedBytes>>> {
        let mut answers: Vec<Option<Option<SharedBytes>>> = vec![None; keys.len()];
        let hashes: Vec<u64> = keys.iter().map(|k| bloom::hash(k)).collect();
        for run in &m.runs {
            let todo: Vec<(usize, u64)> = {
                let cache = self.inner.cache.borrow();
                (0..keys.len())
                    .filter(|&i| answers[i].is_none())
                    .filter_map(|i| run.chunk_for(&keys[i]).map(|c| (i, c.id)))
                    .filter(|&(i, id)| !cache.surely_absent(id, hashes[i]))
                    .collect()
            };
            if todo.is_empty() {
                continue;
            }
            let mut ids: Vec<u64> = todo.iter().map(|t| t.1).collect();
            ids.sort_unstable();
            // Chunks that many keys look in are decoded whole (one decode, then binary
            // searches) rather than walked block by block per key; `ids` keeps a copy per key.
            let mut whole: Vec<u64> = Vec::new();
            let mut points: Vec<u64> = Vec::new();
            for group in ids.chunk_by(|a, b| a == b) {
                if group.len() >= WHOLE_AT { &mut whole } else { &mut points }.push(group[0]);
            }
            let mut chunks: Vec<(u64, Cached)> = whole
                .iter()
                .copied()
                .zip(self.load(&whole, true).await?.into_iter().map(Cached::Whole))
                .collect();
            chunks.extend(points.iter().copied().zip(self.load_points(&points).await?));
            chunks.sort_unstable_by_key(|c| c.0);
            // Sorted by id: a binary search finds each key's chunk (hashing every key's chunk
            // id cost more, for batches of hundreds of keys over several runs).
            for (i, id) in todo {
                let at = chunks.binary_search_by_key(&id, |c| c.0).expect("every chunk id was loaded");
                if let Some(found) = chunks[at].1.lookup(&keys[i])? {
                    answers[i] = Some(found);
                }
            }
        }
        Ok(answers.into_iter().map(Option::flatten).collect())
    }

    pub(super) async fn scan_impl(
        &self,
        range: Range,
        reverse: bool,
        limit: Option<usize>,
    ) -> Result<Vec<(SharedBytes, SharedBytes)>> {
        if limit == Some(0) {
            return Ok(Vec::new());
        }
        let mut attempt = 0;
        loop {
            let m = self.manifest();
            match self.scan_in(&m, range.clone(), reverse, limit).await {
                Err(e) => self.recover(e, attempt, m.version).await?,
                ok => return ok,
            }
            attempt += 1;
        }
    }

    async fn scan_in(
        &self,
        m: &Manifest,
        range: Range,
        reverse: bool,
        limit: Option<usize>,
    ) -> Result<Vec<(SharedBytes, SharedBytes)>> {
        let mut merger = Merger::new(&m.runs, range, reverse);
        // Without a limit every overlapping chunk is needed: fetch them in one round. With one,
        // fetch each run's first chunk together and the rest only if the scan gets that far.
        let ids = if limit.is_none() { merger.all_ids() } else { merger.first_ids() };
        let chunks = self.load(&ids, true).await?;
        merger.preload(&ids.into_iter().zip(chunks).collect::<Vec<_>>());
        let limit = limit.unwrap_or(usize::MAX);
        let mut out = Vec::new();
        loop {
            match merger.step_span() {
                Span::Items(chunk, span) => {
                    let mut take = |i: usize| {
                        if let Some(v) = chunk.value_shared(i) {
                            out.push((chunk.key_shared(i), v));
                        }
                        out.len() < limit
                    };
                    let more =
                        if reverse { span.rev().all(&mut take) } else { span.into_iter().all(&mut take) };
                    if !more {
                        break;
                    }
                }
                Span::Load(cursor, id) => {
                    let chunk = self.load_one(id, true).await?;
                    merger.supply(cursor, chunk);
                }
                Span::Done => break,
            }
        }
        Ok(out)
    }
}
