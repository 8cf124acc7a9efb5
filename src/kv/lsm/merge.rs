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
}

impl Merger {
    /// `runs` newest first.
    pub fn new<'a>(runs: impl IntoIterator<Item = &'a Run>, range: Range, reverse: bool) -> Self {
        let cursors = runs
            .into_iter()
            .map(|run| {
                let mut ids: Vec<u64> =
                    run.chunks_in(&range.start, &range.end).iter().map(|c| c.id).collect();
                if reverse {
                    ids.reverse();
                }
                Cursor { ready: vec![None; ids.len()], ids, next: 0, cur: None, lo: 0, hi: 0 }
            })
            .collect();
        Merger { cursors, range, reverse }
    }

    /// Every chunk id this merge may visit, for fetching them all in one go.
    pub fn all_ids(&self) -> Vec<u64> {
        self.cursors.iter().flat_map(|c| c.ids.iter().copied()).collect()
    }

    /// The first chunk each run's cursor will visit.
    pub fn first_ids(&self) -> Vec<u64> {
        self.cursors.iter().filter_map(|c| c.ids.first().copied()).collect()
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

    /// Moves every dry cursor on to its next chunk; `Some((cursor, id))` when that chunk must
    /// be loaded first.
    fn advance_dry_cursors(&mut self) -> Option<(usize, u64)> {
        let range = &self.range;
        for (i, c) in self.cursors.iter_mut().enumerate() {
            while c.lo >= c.hi && c.next < c.ids.len() {
                let Some(chunk) = c.ready[c.next].take() else { return Some((i, c.ids[c.next])) };
                (c.lo, c.hi) = chunk.span(range);
                c.cur = Some(chunk);
                c.next += 1;
            }
        }
        None
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
        if let Some((i, id)) = self.advance_dry_cursors() {
            return Span::Load(i, id);
        }
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
        let Some((i, key)) = best else { return Span::Done };
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
        if let Some((i, id)) = self.advance_dry_cursors() {
            return Step::Load(i, id);
        }
        let reverse = self.reverse;
        let mut best: Option<(usize, &[u8])> = None;
        for (i, c) in self.cursors.iter().enumerate() {
            let Some(k) = c.key(reverse) else { continue };
            if best.is_none_or(|(_, b)| self.before(k, b)) {
                best = Some((i, k));
            }
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
}
