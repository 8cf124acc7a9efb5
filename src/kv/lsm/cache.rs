//! A least-recently-used cache of chunks, bounded by bytes of wasm memory.
//!
//! Chunks are immutable and their ids are never reused within a database epoch, so a cached
//! chunk is never stale: it only stops being needed. A chunk larger than the whole budget is
//! not cached.
//!
//! A chunk is cached in one of two forms (`Cached`): decoded whole (`Chunk`, what scans and
//! merges walk, ~1.1–1.6× its record in memory), or as its record plus block index (`Table`, what
//! point reads of a format-2 chunk need, ~1× its record). Gets cache tables, so the same budget
//! holds more chunks for them and a miss costs no whole-chunk decode; a scan that meets a
//! cached table decodes it from the record it holds, without a fetch. Writes cache their
//! chunks whole (scans read fresh data too); when the budget is reached, the less recently
//! used half of the whole chunks are demoted to tables, oldest first, before anything is
//! evicted.
//!
//! *Filters.* The Bloom filter of every format-2 chunk this handle writes or reads is also kept
//! apart (`filters`, a copy of ~1.25 bytes per key, up to `budget / FILTER_SHARE`, oldest pinned
//! evicted first), and outlives the chunk's place in the cache. A get consults it before
//! fetching a chunk: a key the filter rules out costs no record read. That is what keeps a
//! batch of new docs with scattered ids (uuids) cheap at a million docs: each new id falls in
//! some chunk's key span of every run, and without the filters the write's existence check
//! fetched nearly every chunk of the database (~1,000 records of 256 KiB per batch of 1,000
//! at 1,000,000 docs, natively ~5× the insert time per doc of 10,000 docs).
//!
//! *Sparse tables.* Where the store reads parts of records (files), a get does not fetch a
//! chunk it lacks: it keeps the chunk's index and filter (`Sparse`, ~4 KiB for 256 KiB of small
//! docs, up to `budget / FILTER_SHARE`, oldest first evicted) and reads the one block it needs.

use super::chunk::Chunk;
use super::table::{filter_of, Found, Sparse, Table};
use crate::error::Result;
use std::collections::{BTreeMap, HashMap, VecDeque};
use std::rc::Rc;

/// The filters take at most 1/`FILTER_SHARE` of the cache budget (2 MB of 16: the doc chunks'
/// filters of ~1.6 million docs), on top of it.
const FILTER_SHARE: usize = 8;

#[derive(Clone)]
pub enum Cached {
    Whole(Rc<Chunk>),
    Table(Rc<Table>),
}

impl Cached {
    pub fn mem_size(&self) -> usize {
        match self {
            Cached::Whole(c) => c.mem_size(),
            Cached::Table(t) => t.mem_size(),
        }
    }

    /// The record the chunk was read from.
    pub fn raw(&self) -> &Rc<Vec<u8>> {
        match self {
            Cached::Whole(c) => c.raw(),
            Cached::Table(t) => t.raw(),
        }
    }

    /// The entry this chunk holds for `key`, if any.
    pub fn lookup(&self, key: &[u8]) -> Result<Found> {
        match self {
            Cached::Whole(c) => Ok(c.find(key).map(|i| c.value_shared(i))),
            Cached::Table(t) => t.lookup(key),
        }
    }
}

pub struct ChunkCache {
    budget: usize,
    used: usize,
    tick: u64,
    map: HashMap<u64, (Cached, u64)>,
    /// tick of last use → chunk id, oldest first.
    order: BTreeMap<u64, u64>,
    /// Chunk id → its Bloom filter (see the module doc), and the ids in pinning order.
    filters: HashMap<u64, Box<[u8]>>,
    filter_order: VecDeque<u64>,
    filter_bytes: usize,
    /// Chunk id → its index and filter, for gets that read single blocks (see the module doc).
    sparse: HashMap<u64, Rc<Sparse>>,
    sparse_order: VecDeque<u64>,
    sparse_bytes: usize,
    /// Whether evicted chunks leave their sparse table behind (the store reads parts).
    sparse_on_evict: bool,
}

impl ChunkCache {
    pub fn new(budget: usize) -> Self {
        ChunkCache {
            budget,
            used: 0,
            tick: 0,
            map: HashMap::new(),
            order: BTreeMap::new(),
            filters: HashMap::new(),
            filter_order: VecDeque::new(),
            filter_bytes: 0,
            sparse: HashMap::new(),
            sparse_order: VecDeque::new(),
            sparse_bytes: 0,
            sparse_on_evict: false,
        }
    }

    /// Evicted format-2 chunks leave their index and filter behind as a sparse table (parsed
    /// from the record in hand), so that the gets that follow a scan read no record tails.
    pub fn keep_sparse_on_evict(&mut self) {
        self.sparse_on_evict = true;
    }

    /// The kept index and filter of chunk `id`.
    pub fn sparse(&self, id: u64) -> Option<Rc<Sparse>> {
        self.sparse.get(&id).cloned()
    }

    /// Whether chunk `id` is cached whole or as a table (a get reads it from memory).
    pub fn holds(&self, id: u64) -> bool {
        self.map.contains_key(&id)
    }

    pub fn keep_sparse(&mut self, id: u64, table: Rc<Sparse>) {
        let size = table.mem_size();
        let cap = self.budget / FILTER_SHARE;
        if size > cap || self.sparse.contains_key(&id) {
            return;
        }
        while self.sparse_bytes + size > cap {
            let Some(old) = self.sparse_order.pop_front() else { break };
            if let Some(t) = self.sparse.remove(&old) {
                self.sparse_bytes -= t.mem_size();
            }
        }
        self.sparse_bytes += size;
        self.sparse_order.push_back(id);
        self.sparse.insert(id, table);
    }

    /// Keeps the Bloom filter of chunk `id` (record `raw`), if it is format 2 and not kept yet.
    pub fn pin_filter(&mut self, id: u64, raw: &[u8]) {
        if self.filters.contains_key(&id) {
            return;
        }
        let Some(filter) = filter_of(raw) else { return };
        let cap = self.budget / FILTER_SHARE;
        if filter.len() > cap {
            return;
        }
        while self.filter_bytes + filter.len() > cap {
            let Some(old) = self.filter_order.pop_front() else { break };
            if let Some(f) = self.filters.remove(&old) {
                self.filter_bytes -= f.len();
            }
        }
        self.filter_bytes += filter.len();
        self.filter_order.push_back(id);
        self.filters.insert(id, filter.into());
    }

    /// True when chunk `id`'s kept filter rules out the key of hash `h` (false when no filter
    /// is kept: the chunk must be read).
    pub fn surely_absent(&self, id: u64, h: u64) -> bool {
        self.filters.get(&id).is_some_and(|f| !super::bloom::may_contain(f, h))
    }

    pub fn get(&mut self, id: u64) -> Option<Cached> {
        self.tick += 1;
        let (chunk, tick) = self.map.get_mut(&id)?;
        self.order.remove(tick);
        *tick = self.tick;
        self.order.insert(self.tick, id);
        Some(chunk.clone())
    }

    pub fn insert(&mut self, id: u64, chunk: Cached) {
        let size = chunk.mem_size();
        if size > self.budget {
            return;
        }
        self.forget_chunk(id);
        self.demote_for(size);
        while self.used + size > self.budget {
            let Some((_, victim)) = self.order.pop_first() else { break };
            if let Some((c, _)) = self.map.remove(&victim) {
                self.used -= c.mem_size();
                if self.sparse_on_evict && !self.sparse.contains_key(&victim) && Table::is_format_2(c.raw()) {
                    if let Ok(t) = Sparse::open(victim, c.raw(), 0, c.raw().len()) {
                        self.keep_sparse(victim, Rc::new(t));
                    }
                }
            }
        }
        self.tick += 1;
        self.used += size;
        self.order.insert(self.tick, id);
        self.map.insert(id, (chunk, self.tick));
    }

    /// Makes room for `size` more bytes by turning whole format-2 chunks into tables, least
    /// recently used first, before anything is evicted: a table keeps the record, so gets still
    /// hit and a scan decodes it again without a fetch, for ~15–40% less memory. Only the less
    /// recently used half is demoted: a paged scan (changes reads 2,000 rows a page) comes back
    /// to the chunks it just used, and demoting those made it decode each of them again
    /// (changes since 0 over 100,000 docs took 2× as long).
    fn demote_for(&mut self, size: usize) {
        if self.used + size <= self.budget {
            return;
        }
        let half = self.order.len() / 2;
        let oldest_first: Vec<u64> = self.order.values().take(half).copied().collect();
        for id in oldest_first {
            if self.used + size <= self.budget {
                break;
            }
            let Some((Cached::Whole(c), _)) = self.map.get(&id) else { continue };
            if !Table::is_format_2(c.raw()) {
                continue;
            }
            let Ok(table) = Table::open(id, c.raw().clone()) else { continue };
            let table = Cached::Table(Rc::new(table));
            let entry = self.map.get_mut(&id).expect("just found");
            self.used = self.used - entry.0.mem_size() + table.mem_size();
            entry.0 = table;
        }
    }

    fn forget_chunk(&mut self, id: u64) {
        if let Some((c, tick)) = self.map.remove(&id) {
            self.order.remove(&tick);
            self.used -= c.mem_size();
        }
    }

    /// Forgets chunk `id`, filter and sparse table included (its record is gone).
    pub fn remove(&mut self, id: u64) {
        self.forget_chunk(id);
        if let Some(t) = self.sparse.remove(&id) {
            self.sparse_bytes -= t.mem_size();
            self.sparse_order.retain(|&s| s != id);
        }
        if let Some(f) = self.filters.remove(&id) {
            self.filter_bytes -= f.len();
            // Its id stays in `filter_order` until popped (popping an absent id frees nothing);
            // drop such ids once they outnumber the kept filters, so the queue stays bounded.
            if self.filter_order.len() > 2 * self.filters.len() + 64 {
                let filters = &self.filters;
                self.filter_order.retain(|id| filters.contains_key(id));
            }
        }
    }

    pub fn clear(&mut self) {
        self.map.clear();
        self.order.clear();
        self.used = 0;
        self.filters.clear();
        self.filter_order.clear();
        self.filter_bytes = 0;
        self.sparse.clear();
        self.sparse_order.clear();
        self.sparse_bytes = 0;
    }

    pub fn used(&self) -> usize {
        self.used
    }

    pub fn len(&self) -> usize {
        self.map.len()
    }
}

#[cfg(test)]
mod tests {
    use super::super::chunk::{encode_format_1, Splitter};
    use super::*;

    fn chunk(n: usize) -> Cached {
        let mut s = Splitter::new(1 << 20);
        for i in 0..n {
            s.push(format!("{i:06}").as_bytes(), Some(b"v"));
        }
        Cached::Whole(Rc::new(Chunk::decode(0, s.finish().remove(0).bytes).unwrap()))
    }

    /// A whole format-1 chunk of `n` entries: it has no table to be demoted to.
    fn format_1(n: usize) -> Cached {
        let keys: Vec<String> = (0..n).map(|i| format!("{i:06}")).collect();
        let raw = encode_format_1(keys.iter().map(|k| (k.as_bytes(), Some(&b"v"[..]))));
        Cached::Whole(Rc::new(Chunk::decode(0, raw).unwrap()))
    }

    fn is_table(c: Option<Cached>) -> bool {
        matches!(c, Some(Cached::Table(_)))
    }

    #[test]
    fn least_recently_used_chunks_are_evicted_first_within_the_budget() {
        let size = format_1(100).mem_size();
        let mut cache = ChunkCache::new(size * 2 + size / 2);
        cache.insert(1, format_1(100));
        cache.insert(2, format_1(100));
        assert!(cache.get(1).is_some());
        cache.insert(3, format_1(100));
        assert!(cache.get(2).is_none(), "2 was least recently used");
        assert!(cache.get(1).is_some() && cache.get(3).is_some());
        assert!(cache.used() <= size * 2 + size / 2);
    }

    #[test]
    fn the_older_half_of_whole_chunks_become_tables_before_any_is_evicted() {
        let (whole, table) = (chunk(2000).mem_size(), {
            let Cached::Whole(c) = chunk(2000) else { unreachable!() };
            Table::open(0, c.raw().clone()).unwrap().mem_size()
        });
        assert!(table < whole * 6 / 10, "a table ({table}) is smaller than its chunk ({whole})");
        let budget = whole * 6 + whole / 10;
        let mut cache = ChunkCache::new(budget);
        for id in 1..=6 {
            cache.insert(id, chunk(2000));
        }
        assert!(cache.get(1).is_some());
        cache.insert(7, chunk(2000));
        assert_eq!(cache.len(), 7, "nothing evicted");
        assert!(is_table(cache.get(2)), "2 was least recently used: demoted first");
        for id in [1, 5, 6, 7] {
            assert!(matches!(cache.get(id), Some(Cached::Whole(_))), "{id}: the recent half stays whole");
        }
        assert!(cache.used() <= budget);
        for id in 8..40 {
            cache.insert(id, chunk(2000));
        }
        assert!(cache.get(2).is_none(), "then the least recently used go");
        assert!(cache.used() <= budget);
    }

    #[test]
    fn a_chunk_larger_than_the_budget_is_not_cached() {
        let mut cache = ChunkCache::new(10);
        cache.insert(1, chunk(10));
        assert_eq!(cache.len(), 0);
    }

    /// The raw record of a format-2 chunk of `n` keys (a filter of ~1.25 bytes per key).
    fn record(n: usize) -> Vec<u8> {
        let Cached::Whole(c) = chunk(n) else { unreachable!() };
        c.raw().to_vec()
    }

    #[test]
    fn kept_filters_stay_within_their_share_and_the_newest_are_kept() {
        let raw = record(2000);
        let filter = filter_of(&raw).unwrap().len();
        // Room for 3 filters: the share is 1/8 of the budget.
        let mut cache = ChunkCache::new(filter * 3 * FILTER_SHARE + FILTER_SHARE);
        let absent = super::super::bloom::hash(b"not a key");
        for id in 1..=10 {
            cache.pin_filter(id, &raw);
            assert!(cache.filter_bytes <= filter * 3, "after {id}: {} bytes", cache.filter_bytes);
        }
        assert!((1..=7).all(|id| !cache.surely_absent(id, absent)), "the oldest were let go");
        // The same record each time, so the same filter: it rules this key out (checked once,
        // the hash being fixed by the format) for each of the three kept.
        assert!((8..=10).all(|id| cache.surely_absent(id, absent)), "the newest three are kept");
        assert!(!cache.surely_absent(9, super::super::bloom::hash(b"001999")), "a present key passes");
        cache.remove(9);
        assert!(!cache.surely_absent(9, absent), "a removed chunk's filter goes with it");
        assert_eq!(cache.filter_bytes, filter * 2);
    }
}
