//! Merging runs in key order, ascending or descending, newest run winning.
//!
//! Each run gets a cursor over the chunks that overlap the range. Chunks are loaded lazily:
//! when a cursor runs dry, `step` answers `Load` and the caller (which owns the async record
//! store) fetches the chunk and hands it back with `supply`. So a scan with a small limit reads
//! only the chunks it needs, and the merge itself stays synchronous.
//!
//! For equal keys the entry of the newest run (lowest cursor index) is returned and the older
//! ones are skipped. Tombstones are returned too; callers decide whether to hide or keep them.

use super::chunk::Chunk;
use super::manifest::Run;
use crate::kv::Range;
use std::cmp::Ordering;
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

    pub fn step(&mut self) -> Step {
        let (range, reverse) = (&self.range, self.reverse);
        for (i, c) in self.cursors.iter_mut().enumerate() {
            while c.lo >= c.hi && c.next < c.ids.len() {
                let Some(chunk) = c.ready[c.next].take() else { return Step::Load(i, c.ids[c.next]) };
                (c.lo, c.hi) = chunk.span(range);
                c.cur = Some(chunk);
                c.next += 1;
            }
        }
        let mut best: Option<(usize, &[u8])> = None;
        for (i, c) in self.cursors.iter().enumerate() {
            let Some(k) = c.key(reverse) else { continue };
            let better = match best {
                None => true,
                Some((_, b)) => {
                    let ord = k.cmp(b);
                    if reverse {
                        ord == Ordering::Greater
                    } else {
                        ord == Ordering::Less
                    }
                }
            };
            if better {
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
