//! Merging runs in key order, ascending or descending, newest run winning.
//!
//! Each run gets a cursor over the chunks that overlap the range. Chunks are loaded lazily:
//! when a cursor runs dry, `step` answers `Load` and the caller (which owns the async record
//! store) fetches the chunk and hands it back with `supply`. So a scan with a small limit reads
//! only the chunks it needs, and the merge itself stays synchronous.
//!
//! For equal keys the entry of the newest run (lowest cursor index) is returned and the older
//! ones are skipped. Tombstones are returned too; callers decide whether to hide or keep them.
//!
//! A cursor whose current chunk is used up and whose next chunk is not loaded yet is *pending*:
//! the manifest gives that chunk's first key in scan order (its `first`, or its `last` when
//! reversed), and the merge asks for the chunk only once no loaded entry comes before that key
//! (an equal key must be loaded too: the newer run's entry wins). Until then the key bounds the
//! spans it yields. So a scan with a small limit that starts inside one run reads that run's
//! chunk alone, not the first chunk of every run whose key span lies further on (an allDocs
//! page of 100 from a random key used to read one 256 KiB record per run, ~5 at 1,000,000 docs).
//!
//! `step` yields one entry; `step_span` yields every entry of the leading chunk that comes
//! before all other runs' next keys in one go. Runs written by separate batches often cover
//! disjoint key ranges (a bulk load in id order, seqs), so a scan then merges a span per chunk
//! rather than comparing every entry against every run.

use super::chunk::Chunk;
use super::manifest::Run;
use crate::kv::Range;
use std::rc::Rc;

struct Cursor {
    /// Chunk ids in visiting order (descending keys when reversed).
    ids: Vec<u64>,
    /// Per chunk (same indexing): its first and last key in visiting order, from the manifest.
    ends: Vec<(Vec<u8>, Vec<u8>)>,
    /// Chunks handed over ahead of time, same indexing as `ids`.
    ready: Vec<Option<Rc<Chunk>>>,
    next: usize,
    cur: Option<Rc<Chunk>>,
    lo: usize,
    hi: usize,
}

pub enum Step {
    /// An entry: the chunk and the entry's index in it.
    Item(Rc<Chunk>, usize),
    /// Cursor `.0` needs chunk `.1`; fetch it and call `supply`.
    Load(usize, u64),
    Done,
}

/// What `step_span` yields.
pub enum Span {
    /// Entries `.1` of the chunk, in scan order: ascending indices, or descending when the merge
    /// is reversed.
    Items(Rc<Chunk>, std::ops::Range<usize>),
    /// As `Step::Load`.
    Load(usize, u64),
    Done,
}

pub struct Merger {
    cursors: Vec<Cursor>,
    range: Range,
    reverse: bool,
}

impl Cursor {
    fn key(&self, reverse: bool) -> Option<&[u8]> {
        let c = self.cur.as_ref()?;
        (self.lo < self.hi).then(|| c.key(if reverse { self.hi - 1 } else { self.lo }))
    }

    /// The first key (in visiting order) the next chunk may hold, while this cursor waits for
    /// that chunk to be loaded (see the module doc).
    fn pending(&self) -> Option<&[u8]> {
        (self.lo >= self.hi && self.next < self.ids.len()).then(|| self.ends[self.next].0.as_slice())
    }
}

impl Merger {
    /// `runs` newest first.
    pub fn new<'a>(runs: impl IntoIterator<Item = &'a Run>, range: Range, reverse: bool) -> Self {
        let cursors = runs
            .into_iter()
            .map(|run| {
                let mut metas: Vec<_> = run.chunks_in(&range.start, &range.end).iter().collect();
                if reverse {
                    metas.reverse();
                }
                let ids: Vec<u64> = metas.iter().map(|c| c.id).collect();
                let ends = metas
                    .iter()
                    .map(|c| {
                        if reverse {
                            (c.last.clone(), c.first.clone())
                        } else {
                            (c.first.clone(), c.last.clone())
                        }
                    })
                    .collect();
                Cursor { ready: vec![None; ids.len()], ids, ends, next: 0, cur: None, lo: 0, hi: 0 }
            })
            .collect();
        Merger { cursors, range, reverse }
    }

    /// Every chunk id this merge may visit, for fetching them all in one go.
    pub fn all_ids(&self) -> Vec<u64> {
        self.cursors.iter().flat_map(|c| c.ids.iter().copied()).collect()
    }

    /// The first chunks the merge will surely need, to fetch together: each run's first chunk
    /// that starts no later than the earliest end of those first chunks (the others start
    /// beyond a chunk that must be read through first, and may never be needed).
    pub fn first_ids(&self) -> Vec<u64> {
        let firsts: Vec<(u64, &[u8], &[u8])> = self
            .cursors
            .iter()
            .filter_map(|c| Some((*c.ids.first()?, c.ends[0].0.as_slice(), c.ends[0].1.as_slice())))
            .collect();
        let Some(end) = firsts.iter().map(|f| f.2).reduce(|a, b| if self.before(b, a) { b } else { a })
        else {
            return Vec::new();
        };
        firsts.iter().filter(|f| !self.before(end, f.1)).map(|f| f.0).collect()
    }

    /// Hands over chunks ahead of time (any ids; unknown ones are ignored).
    pub fn preload(&mut self, chunks: &[(u64, Rc<Chunk>)]) {
        let by_id: std::collections::HashMap<u64, &Rc<Chunk>> = chunks.iter().map(|(i, c)| (*i, c)).collect();
        for cur in &mut self.cursors {
            for (slot, id) in cur.ready.iter_mut().zip(&cur.ids) {
                if let Some(c) = by_id.get(id) {
                    *slot = Some((*c).clone());
                }
            }
        }
    }

    /// Answers a `Load`.
    pub fn supply(&mut self, cursor: usize, chunk: Rc<Chunk>) {
        let c = &mut self.cursors[cursor];
        c.ready[c.next] = Some(chunk);
    }

    /// Moves every dry cursor on through the chunks already handed over; the others stay
    /// pending.
    fn advance_dry_cursors(&mut self) {
        let range = &self.range;
        for c in &mut self.cursors {
            while c.lo >= c.hi && c.next < c.ids.len() {
                let Some(chunk) = c.ready[c.next].take() else { break };
                (c.lo, c.hi) = chunk.span(range);
                c.cur = Some(chunk);
                c.next += 1;
            }
        }
    }

    /// The pending cursor (and its chunk) that must be loaded before an entry at `best` (the
    /// first loaded key, if any) can be yielded: the one whose next chunk starts first, if that
    /// is at or before `best`.
    fn needed_load(&self, best: Option<&[u8]>) -> Option<(usize, u64)> {
        let mut earliest: Option<(usize, &[u8])> = None;
        for (i, c) in self.cursors.iter().enumerate() {
            let Some(first) = c.pending() else { continue };
            if earliest.is_none_or(|(_, e)| self.before(first, e)) {
                earliest = Some((i, first));
            }
        }
        let (i, first) = earliest?;
        best.is_none_or(|k| !self.before(k, first)).then(|| (i, self.cursors[i].ids[self.cursors[i].next]))
    }

    /// Whether key `a` comes before `b` in scan order.
    fn before(&self, a: &[u8], b: &[u8]) -> bool {
        if self.reverse {
            a > b
        } else {
            a < b
        }
    }

    pub fn step_span(&mut self) -> Span {
        self.advance_dry_cursors();
        let reverse = self.reverse;
        // The cursor whose next key comes first (the newest on ties), and the first next key
        // of all the others.
        let mut best: Option<(usize, &[u8])> = None;
        let mut bound: Option<&[u8]> = None;
        for (i, c) in self.cursors.iter().enumerate() {
            let Some(k) = c.key(reverse) else { continue };
            match best {
                Some((_, b)) if !self.before(k, b) => {
                    if bound.is_none_or(|x| self.before(k, x)) {
                        bound = Some(k);
                    }
                }
                _ => {
                    if let Some((_, b)) = best {
                        bound = Some(b);
                    }
                    best = Some((i, k));
                }
            }
        }
        if let Some((i, id)) = self.needed_load(best.map(|b| b.1)) {
            return Span::Load(i, id);
        }
        let Some((i, key)) = best else { return Span::Done };
        // Pending chunks start after `key` (else one was loaded above), but may start before
        // `bound`: the span stops there.
        for c in &self.cursors {
            if let Some(first) = c.pending() {
                if bound.is_none_or(|x| self.before(first, x)) {
                    bound = Some(first);
                }
            }
        }
        if bound == Some(key) {
            // Another run has the same key: one entry, skipping the older ones.
            return match self.step() {
                Step::Item(chunk, at) => Span::Items(chunk, at..at + 1),
                Step::Load(c, id) => Span::Load(c, id),
                Step::Done => Span::Done,
            };
        }
        let c = &self.cursors[i];
        let chunk = c.cur.clone().expect("cursor with a key has a chunk");
        let (lo, hi) = (c.lo, c.hi);
        let span = match (bound, reverse) {
            (None, _) => lo..hi,
            (Some(b), false) => lo..chunk.partition_within(lo, hi, |k| k < b),
            (Some(b), true) => chunk.partition_within(lo, hi, |k| k <= b)..hi,
        };
        let c = &mut self.cursors[i];
        if reverse {
            c.hi = span.start;
        } else {
            c.lo = span.end;
        }
        Span::Items(chunk, span)
    }

    pub fn step(&mut self) -> Step {
        self.advance_dry_cursors();
        let reverse = self.reverse;
        let mut best: Option<(usize, &[u8])> = None;
        for (i, c) in self.cursors.iter().enumerate() {
            let Some(k) = c.key(reverse) else { continue };
            if best.is_none_or(|(_, b)| self.before(k, b)) {
                best = Some((i, k));
            }
        }
        if let Some((i, id)) = self.needed_load(best.map(|b| b.1)) {
            return Step::Load(i, id);
        }
        let Some((i, _)) = best else { return Step::Done };
        let c = &self.cursors[i];
        let chunk = c.cur.clone().expect("cursor with a key has a chunk");
        let idx = if reverse { c.hi - 1 } else { c.lo };
        let key = chunk.key(idx);
        for c in &mut self.cursors {
            if c.key(reverse) == Some(key) {
                if reverse {
                    c.hi -= 1;
                } else {
                    c.lo += 1;
                }
            }
        }
        Step::Item(chunk, idx)
    }
}

#[cfg(test)]
mod tests {
    use super::super::chunk::Splitter;
    use super::super::manifest::ChunkMeta;
    use super::*;
    use std::collections::BTreeMap;
    use std::ops::Bound;

    /// Runs (newest first) from sorted entries, cut into small chunks, and every chunk by id.
    fn runs(contents: &[BTreeMap<u32, Option<u32>>]) -> (Vec<Run>, Vec<(u64, Rc<Chunk>)>) {
        let mut next_id = 0;
        let mut chunks = Vec::new();
        let runs = contents
            .iter()
            .enumerate()
            .map(|(run_id, entries)| {
                let mut s = Splitter::new(64);
                for (k, v) in entries {
                    let value = v.map(|v| v.to_be_bytes());
                    s.push(&k.to_be_bytes(), value.as_ref().map(|v| &v[..]));
                }
                let metas = s
                    .finish()
                    .into_iter()
                    .map(|e| {
                        next_id += 1;
                        let meta = ChunkMeta {
                            id: next_id,
                            bytes: e.bytes.len() as u64,
                            entries: u64::from(e.entries),
                            tombstones: u64::from(e.tombstones),
                            first: e.first.clone(),
                            last: e.last.clone(),
                        };
                        chunks.push((next_id, Rc::new(Chunk::decode(next_id, e.bytes).unwrap())));
                        meta
                    })
                    .collect();
                Run { id: run_id as u64, chunks: metas }
            })
            .collect();
        (runs, chunks)
    }

    type Entries = Vec<(Vec<u8>, Option<Vec<u8>>)>;

    fn drain_steps(mut m: Merger) -> Entries {
        let mut out = Vec::new();
        loop {
            match m.step() {
                Step::Item(c, i) => out.push((c.key(i).to_vec(), c.value(i).map(<[u8]>::to_vec))),
                Step::Load(..) => panic!("every chunk was preloaded"),
                Step::Done => return out,
            }
        }
    }

    fn drain_spans(mut m: Merger, reverse: bool) -> Entries {
        let mut out = Vec::new();
        loop {
            match m.step_span() {
                Span::Items(c, span) => {
                    let idx: Vec<usize> = if reverse { span.rev().collect() } else { span.collect() };
                    out.extend(idx.into_iter().map(|i| (c.key(i).to_vec(), c.value(i).map(<[u8]>::to_vec))));
                }
                Span::Load(..) => panic!("every chunk was preloaded"),
                Span::Done => return out,
            }
        }
    }

    #[test]
    fn spans_give_exactly_the_entries_single_steps_give() {
        // A small linear congruential generator: deterministic runs, some overlapping (random
        // keys), some disjoint (consecutive blocks), with tombstones.
        let mut seed = 12345u64;
        let mut rand = |n: u32| {
            seed = seed.wrapping_mul(6364136223846793005).wrapping_add(1442695040888963407);
            ((seed >> 33) as u32) % n
        };
        for case in 0..60 {
            let n_runs = 1 + rand(5) as usize;
            let contents: Vec<BTreeMap<u32, Option<u32>>> = (0..n_runs)
                .map(|r| {
                    let disjoint = case % 2 == 0;
                    (0..rand(40))
                        .map(|j| {
                            let k = if disjoint { r as u32 * 1000 + j } else { rand(120) };
                            (k, (rand(5) != 0).then_some(j))
                        })
                        .collect()
                })
                .collect();
            let (runs, chunks) = runs(&contents);
            let bound = |b: u32| match b % 3 {
                0 => Bound::Unbounded,
                1 => Bound::Included((b * 17 % 5000).to_be_bytes().to_vec()),
                _ => Bound::Excluded((b * 17 % 5000).to_be_bytes().to_vec()),
            };
            let range = Range { start: bound(rand(300)), end: bound(rand(300) + 150) };
            if range.is_backwards() {
                continue;
            }
            for reverse in [false, true] {
                let make = || {
                    let mut m = Merger::new(&runs, range.clone(), reverse);
                    m.preload(&chunks);
                    m
                };
                assert_eq!(
                    drain_spans(make(), reverse),
                    drain_steps(make()),
                    "case {case} reverse {reverse}"
                );
            }
        }
    }

    #[test]
    fn a_limited_scan_loads_only_chunks_that_can_hold_its_next_entries() {
        // Five runs over disjoint key blocks (a load in key order), newest first.
        let contents: Vec<BTreeMap<u32, Option<u32>>> =
            (0..5u32).rev().map(|r| (0..40).map(|j| (r * 1000 + j, Some(j))).collect()).collect();
        let (runs, chunks) = runs(&contents);
        let by_id: std::collections::HashMap<u64, Rc<Chunk>> = chunks.into_iter().collect();
        for reverse in [false, true] {
            let start = 2010u32.to_be_bytes().to_vec();
            let range = if reverse {
                Range { start: Bound::Unbounded, end: Bound::Included(start) }
            } else {
                Range { start: Bound::Included(start), end: Bound::Unbounded }
            };
            let mut m = Merger::new(&runs, range, reverse);
            assert_eq!(m.first_ids().len(), 1, "only the run holding the start key, reverse {reverse}");
            let (mut loads, mut keys) = (Vec::new(), Vec::new());
            while keys.len() < 5 {
                match m.step_span() {
                    Span::Items(c, span) => keys.extend(span.map(|i| c.key(i).to_vec())),
                    Span::Load(cursor, id) => {
                        loads.push(id);
                        m.supply(cursor, by_id[&id].clone());
                    }
                    Span::Done => break,
                }
            }
            let run_2: Vec<u64> = runs[2].chunks.iter().map(|c| c.id).collect();
            assert!(
                loads.iter().all(|id| run_2.contains(id)),
                "reverse {reverse}: loaded {loads:?}, run 2 is {run_2:?}"
            );
            assert!(loads.len() <= 2, "reverse {reverse}: {loads:?}");
        }
    }
}
