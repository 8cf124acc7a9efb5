//! Echoes in a sync: revisions one direction just wrote, which the other direction would
//! otherwise send straight back.
//!
//! A sync's pull writes the server's new revisions into the local database; the push then sees
//! them in the local changes feed and asks the server about them (`revs_diff`) and writes a
//! checkpoint there, for nothing: they came from the server. The seed's rule is that applied
//! revisions are not re-replicated. So each direction records what it wrote (`KnownRevs`,
//! shared with the other direction, as "known on your target") and the other direction drops
//! a change whose every leaf is recorded. A page of nothing but echoes writes no checkpoint:
//! the seq moves on in memory (the next pass starts after it) and the next real batch's
//! checkpoint covers it. After a restart the echoes are read once more and `revs_diff`
//! answers them, as before.
//!
//! - A change with a leaf not recorded (a local edit made meanwhile, a conflict) goes through
//!   whole, as any other.
//! - Dropped changes are forgotten; the set is capped (`CAP`) and cleared when full, which
//!   only costs the requests this saves.

use super::peer::Change;
use std::cell::RefCell;
use std::collections::HashMap;
use std::rc::Rc;

/// More recorded revisions than this and the set starts over.
const CAP: usize = 100_000;

/// Revisions known to be on a peer, because a replication just copied them from (or to) it.
#[derive(Default)]
pub struct KnownRevs {
    by_id: HashMap<String, Vec<String>>,
    count: usize,
}

pub type Known = Rc<RefCell<KnownRevs>>;

impl KnownRevs {
    pub fn record(&mut self, id: &str, rev: &str) {
        if self.count >= CAP {
            self.by_id.clear();
            self.count = 0;
        }
        let revs = self.by_id.entry(id.to_string()).or_default();
        if !revs.iter().any(|r| r == rev) {
            revs.push(rev.to_string());
            self.count += 1;
        }
    }

    /// Removes from `changes` those whose every leaf is known (and forgets them); answers how
    /// many it removed.
    pub fn drop_echoes(&mut self, changes: &mut Vec<Change>) -> usize {
        if self.count == 0 {
            return 0;
        }
        let before = changes.len();
        changes.retain(|c| {
            let echo = self.by_id.get(&c.id).is_some_and(|known| c.revs.iter().all(|r| known.contains(r)));
            if echo {
                let gone = self.by_id.remove(&c.id).map_or(0, |v| v.len());
                self.count -= gone;
            }
            !echo
        });
        before - changes.len()
    }
}

/// The two sets of a sync `a ⇄ b`: revisions known on `a` (pushed from it or pulled into it)
/// and on `b`.
#[derive(Default)]
pub struct Echoes {
    /// Changes whose revisions are all here are not sent.
    pub skip: Known,
    /// What this direction writes is recorded here (known on its source: it came from there).
    pub record: Known,
}

impl Echoes {
    /// (push a→b, pull b→a).
    pub fn pair() -> (Echoes, Echoes) {
        let (on_a, on_b) = (Known::default(), Known::default());
        (Echoes { skip: on_b.clone(), record: on_a.clone() }, Echoes { skip: on_a, record: on_b })
    }
}
