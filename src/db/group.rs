//! Group commit: write calls that wait for the write lock are committed together.
//!
//! Every write call (`put`, `post`, `remove`, `bulkDocs`, a replicated batch, `putAttachment`)
//! queues its docs, then waits for the write lock. Whoever holds the lock takes the longest run
//! of queued calls, from the front, that share one `new_edits` mode, plans them as one batch
//! and commits it once, then hands each call its own rows. It repeats until its own call has
//! been served. So `Promise.all` of 1,000 puts costs two store commits (the first put alone, then
//! the 999 that queued behind it), not 1,000: on IndexedDB, one transaction each.
//!
//! The rows are the ones serial calls in call order would get, because a batch applies its docs
//! in order and later docs see earlier edits of the same id: a second put from the same `_rev`
//! is a 409, a bad doc fails only its own call. Taking a run from the front, never skipping a
//! call of the other mode, keeps that order across modes too. What is shared is the commit:
//! if it fails (storage error, another tab kept winning), every call in the group gets the error
//! and none of their docs is written. Seqs within a group go by id, as within one `bulkDocs`
//! (`write::commit_docs`): between writes nobody awaited there is no order to keep.
//!
//! A group stops at `MAX_GROUP_DOCS` so that a storm of puts is committed in bounded batches
//! (a single call bigger than that still goes whole, as `bulkDocs` always did).

use super::doc::ParsedDoc;
use super::write::WriteResult;
use crate::error::{Error, Result};
use std::cell::RefCell;
use std::collections::VecDeque;
use std::rc::Rc;

/// One call's docs, as `write_parsed` takes them: the raw `_id` (for error rows) and the
/// prepared doc or why it could not be prepared.
pub(super) type Docs = Vec<(Option<String>, Result<ParsedDoc>)>;

/// Docs in one group commit, unless its first call alone has more. As many as the bench's
/// biggest single `bulkDocs` (and the suite's `a_big_bulk_is_one_commit`) commit at once.
const MAX_GROUP_DOCS: usize = 10_000;

/// Where a call's rows are left by whoever commits them.
type Slot = Rc<RefCell<Option<Result<Vec<WriteResult>>>>>;

struct Pending {
    docs: Docs,
    new_edits: bool,
    out: Slot,
}

/// Write calls waiting for the lock, in call order.
#[derive(Default)]
pub(super) struct WriteQueue {
    pending: RefCell<VecDeque<Pending>>,
}

/// A run of calls taken off the queue, to be planned and committed as one batch.
pub(super) struct Group {
    pub new_edits: bool,
    /// Every call's docs, concatenated in call order.
    pub docs: Docs,
    calls: Vec<(usize, Slot)>,
}

/// A queued call: check `served` once the write lock is held.
pub(super) struct Ticket(Slot);

impl Ticket {
    /// The call's rows, once some group commit has carried them.
    pub fn served(&self) -> Option<Result<Vec<WriteResult>>> {
        self.0.borrow_mut().take()
    }
}

impl WriteQueue {
    pub fn enqueue(&self, docs: Docs, new_edits: bool) -> Ticket {
        let out = Slot::default();
        self.pending.borrow_mut().push_back(Pending { docs, new_edits, out: out.clone() });
        Ticket(out)
    }

    /// The longest run from the front in one `new_edits` mode; `None` when nothing waits. Call
    /// with the write lock held.
    pub fn take_group(&self) -> Option<Group> {
        let mut pending = self.pending.borrow_mut();
        let new_edits = pending.front()?.new_edits;
        let mut docs = 0;
        let n = pending
            .iter()
            .take_while(|p| {
                docs += p.docs.len();
                p.new_edits == new_edits && (docs <= MAX_GROUP_DOCS || docs == p.docs.len())
            })
            .count();
        let mut group = Group { new_edits, docs: Vec::new(), calls: Vec::with_capacity(n) };
        for p in pending.drain(..n) {
            group.calls.push((p.docs.len(), p.out));
            group.docs.extend(p.docs);
        }
        Some(group)
    }
}

impl Group {
    /// Hands each call its rows (one per doc, in order), or all of them the commit's error.
    pub fn finish(self, outcome: Result<Vec<WriteResult>>) {
        match outcome {
            Ok(rows) => {
                let mut rows = rows.into_iter();
                for (n, slot) in self.calls {
                    *slot.borrow_mut() = Some(Ok(rows.by_ref().take(n).collect()));
                }
            }
            Err(e) => {
                for (_, slot) in self.calls {
                    *slot.borrow_mut() = Some(Err(e.clone()));
                }
            }
        }
    }
}

/// For a call whose group was taken by a writer that was then dropped mid-commit (its future
/// cancelled): its docs went with that writer, and may or may not have been committed. The
/// other way round, a call dropped while it waits stays queued and is committed with a group;
/// JS promises are never dropped, so only native callers can see either.
pub(super) fn abandoned() -> Error {
    Error::storage("the write this call was grouped with was cancelled before it finished")
}
