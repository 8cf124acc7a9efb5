//! Reads: point gets (at most one chunk per run), batched gets (one record-store round per
//! run for all keys) and merged range scans. Each works on a manifest snapshot and starts
//! over on a fresher one if a chunk it needs was compacted away meanwhile.
//!
//! Gets read format-2 chunks as `Table`s (filter, index, one block) and cache them so; scans
//! and merges decode chunks whole (see `cache`). Every chunk read or written leaves its Bloom
//! filter in the cache, and gets skip a chunk whose filter rules the key out without fetching
//! it. Where the store reads parts of records (files), a get of a chunk the cache does not
//! hold reads the chunk's index and filter once (`Sparse`, kept) and then one block per get,
//! as LevelDB does, instead of the whole chunk.

use super::bloom;
use super::cache::Cached;
use super::chunk::Chunk;
use super::manifest::{chunk_key, ChunkMeta, Manifest};
use super::merge::{Merger, Span};
use super::table::{Found, Layout, Sparse, Table, TAIL_GUESS};
use super::{Lsm, MAX_ATTEMPTS};
use crate::error::{Error, Result};
use crate::kv::records::RecordStore;
use crate::kv::{Range, SharedBytes};
use std::rc::Rc;

/// A point read by block: the chunk's id, its sparse table, the key.
type BlockAsk<'a> = (u64, Rc<Sparse>, &'a [u8]);

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
    /// manifest has moved on since the snapshot `seen` (epoch, version), refreshing if this
    /// handle had not yet noticed. The installed manifest is compared after the refresh, not
    /// the refresh's answer: while it reads, another path (a cross-tab announcement, this
    /// handle's own write) may install the same newer manifest first, and the refresh then
    /// installs nothing though the snapshot is stale. A chunk missing from the current
    /// manifest means corruption.
    async fn recover(&self, err: Error, attempt: usize, seen: (u64, u64)) -> Result<()> {
        if !is_missing(&err) || attempt + 1 >= MAX_ATTEMPTS {
            return Err(err);
        }
        let moved = |m: &Manifest| (m.epoch, m.version) != seen;
        if moved(&self.manifest()) {
            return Ok(());
        }
        self.refresh_inner().await?;
        if moved(&self.manifest()) {
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
                Err(e) => self.recover(e, attempt, (m.epoch, m.version)).await?,
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
                let found = match self.sparse_tables(&[meta]).await?.remove(0) {
                    Some(table) => self.block_lookups(&[(meta.id, table, key)]).await?.remove(0),
                    None => self.load_points(&[meta.id]).await?.remove(0).lookup(key)?,
                };
                if let Some(found) = found {
                    return Ok(found.map(|v| v.to_vec()));
                }
            }
        }
        Ok(None)
    }

    /// For each chunk: its sparse table if gets should read its blocks alone (the store reads
    /// parts, the cache does not hold the chunk, and it is format 2); else `None`. Tables not
    /// kept yet are read in one `get_parts` round (head and tail of each record), and a second
    /// for any whose index starts before the tail read.
    async fn sparse_tables(&self, metas: &[&ChunkMeta]) -> Result<Vec<Option<Rc<Sparse>>>> {
        let mut out: Vec<Option<Rc<Sparse>>> = vec![None; metas.len()];
        if !self.inner.store.reads_parts() {
            return Ok(out);
        }
        let mut wanted = Vec::new();
        {
            let cache = self.inner.cache.borrow();
            for (i, meta) in metas.iter().enumerate() {
                if cache.holds(meta.id) {
                    continue;
                }
                match cache.sparse(meta.id) {
                    Some(t) => out[i] = Some(t),
                    None => wanted.push(i),
                }
            }
        }
        if wanted.is_empty() {
            return Ok(out);
        }
        let len = |i: usize| metas[i].bytes as usize;
        let base = |i: usize| len(i).saturating_sub(TAIL_GUESS);
        let mut parts = Vec::with_capacity(wanted.len() * 2);
        for &i in &wanted {
            parts.push((chunk_key(metas[i].id), 0, 3));
            parts.push((chunk_key(metas[i].id), base(i) as u64, len(i) - base(i)));
        }
        let got = self.inner.store.get_parts(&parts).await?;
        let mut again = Vec::new();
        for (n, &i) in wanted.iter().enumerate() {
            let (Some(head), Some(tail)) = (&got[2 * n], &got[2 * n + 1]) else {
                return Err(missing(&format!("chunk {} is missing", metas[i].id)));
            };
            if !Table::is_format_2(head) {
                continue; // Read whole, as before format 2.
            }
            match Layout::index_start(tail, len(i)) {
                Some(at) if at >= base(i) => out[i] = Some(self.keep_sparse(metas[i], tail, base(i))?),
                Some(at) if at < len(i) => again.push((i, at)),
                _ => {
                    out[i] = Some(self.keep_sparse(metas[i], tail, base(i))?); // Names the damage.
                }
            }
        }
        if !again.is_empty() {
            let parts: Vec<(String, u64, usize)> =
                again.iter().map(|&(i, at)| (chunk_key(metas[i].id), at as u64, len(i) - at)).collect();
            for ((i, at), part) in again.into_iter().zip(self.inner.store.get_parts(&parts).await?) {
                let part = part.ok_or_else(|| missing(&format!("chunk {} is missing", metas[i].id)))?;
                out[i] = Some(self.keep_sparse(metas[i], &part, at)?);
            }
        }
        Ok(out)
    }

    fn keep_sparse(&self, meta: &ChunkMeta, part: &[u8], base: usize) -> Result<Rc<Sparse>> {
        let table = Rc::new(Sparse::open(meta.id, part, base, meta.bytes as usize)?);
        self.inner.cache.borrow_mut().keep_sparse(meta.id, table.clone());
        Ok(table)
    }

    /// Looks up each `(chunk id, its sparse table, key)`, reading the blocks needed (each
    /// once) in one `get_parts` round.
    async fn block_lookups(&self, asks: &[BlockAsk<'_>]) -> Result<Vec<Found>> {
        let spans: Vec<Option<std::ops::Range<usize>>> =
            asks.iter().map(|(_, t, k)| t.block_for(k)).collect();
        let mut blocks: Vec<(u64, usize, usize)> = asks
            .iter()
            .zip(&spans)
            .filter_map(|((id, _, _), s)| s.as_ref().map(|s| (*id, s.start, s.end)))
            .collect();
        blocks.sort_unstable();
        blocks.dedup();
        let parts: Vec<(String, u64, usize)> =
            blocks.iter().map(|&(id, start, end)| (chunk_key(id), start as u64, end - start)).collect();
        let read = if parts.is_empty() { Vec::new() } else { self.inner.store.get_parts(&parts).await? };
        let mut bytes = Vec::with_capacity(read.len());
        for (&(id, _, _), b) in blocks.iter().zip(read) {
            bytes.push(Rc::new(b.ok_or_else(|| missing(&format!("chunk {id} is missing")))?));
        }
        let mut out = Vec::with_capacity(asks.len());
        for ((id, table, key), span) in asks.iter().zip(spans) {
            let Some(span) = span else {
                out.push(None);
                continue;
            };
            let at = blocks.binary_search(&(*id, span.start, span.end)).expect("every block was read");
            out.push(table.lookup_in(bytes[at].clone(), span, key)?);
        }
        Ok(out)
    }

    pub(super) async fn get_many_impl(&self, keys: &[Vec<u8>]) -> Result<Vec<Option<SharedBytes>>> {
        let mut attempt = 0;
        loop {
            let m = self.manifest();
            match self.get_many_in(&m, keys).await {
                Err(e) => self.recover(e, attempt, (m.epoch, m.version)).await?,
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
            let todo: Vec<(usize, &ChunkMeta)> = {
                let cache = self.inner.cache.borrow();
                (0..keys.len())
                    .filter(|&i| answers[i].is_none())
                    .filter_map(|i| run.chunk_for(&keys[i]).map(|c| (i, c)))
                    .filter(|&(i, c)| !cache.surely_absent(c.id, hashes[i]))
                    .collect()
            };
            if todo.is_empty() {
                continue;
            }
            let mut metas: Vec<&ChunkMeta> = todo.iter().map(|t| t.1).collect();
            metas.sort_unstable_by_key(|c| c.id);
            // Chunks that many keys look in are decoded whole (one decode, then binary
            // searches) rather than walked block by block per key; `metas` keeps a copy per key.
            let mut whole: Vec<u64> = Vec::new();
            let mut points: Vec<&ChunkMeta> = Vec::new();
            for group in metas.chunk_by(|a, b| a.id == b.id) {
                if group.len() >= WHOLE_AT {
                    whole.push(group[0].id);
                } else {
                    points.push(group[0]);
                }
            }
            // Of the others, those read block by block (see `sparse_tables`) are looked up now.
            let sparse = self.sparse_tables(&points).await?;
            let by_block: Vec<(u64, Rc<Sparse>)> =
                points.iter().zip(&sparse).filter_map(|(c, t)| t.clone().map(|t| (c.id, t))).collect();
            let points: Vec<u64> =
                points.iter().zip(&sparse).filter(|(_, t)| t.is_none()).map(|(c, _)| c.id).collect();
            if !by_block.is_empty() {
                let asks: Vec<(usize, BlockAsk)> = todo
                    .iter()
                    .filter_map(|&(i, c)| {
                        let at = by_block.binary_search_by_key(&c.id, |b| b.0).ok()?;
                        Some((i, (c.id, by_block[at].1.clone(), keys[i].as_slice())))
                    })
                    .collect();
                let found = self.block_lookups(&asks.iter().map(|a| a.1.clone()).collect::<Vec<_>>()).await?;
                for ((i, _), f) in asks.iter().zip(found) {
                    if f.is_some() {
                        answers[*i] = f;
                    }
                }
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
            for (i, c) in todo {
                let Ok(at) = chunks.binary_search_by_key(&c.id, |c| c.0) else { continue };
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
                Err(e) => self.recover(e, attempt, (m.epoch, m.version)).await?,
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
