//! Conflict events: `{id, rev, conflicts, replicated}` for each write that left a doc with
//! `_conflicts` and gave it a conflicting leaf it did not have: a live leaf that is not one
//! of the doc's live leaves before the write nor their descendant (a fork, a replicated
//! branch, a resurrected deleted branch; see `write::adds_conflict`). Editing the winner or a
//! loser, or deleting a loser, is not an event.
//!
//! Events are published after their batch commits (never for a plan thrown away as stale)
//! into a bounded log on the handle; a `ConflictFeed` reads the log from where it started, as
//! `LiveChanges` reads the changes. A feed that falls more than `KEPT` events behind misses
//! the oldest (a listener that wants every conflict can still list them with `conflicts()`).
//! Only this handle's writes are seen, replication into it included; other tabs' are not.

use super::notify::Notify;
use super::Database;
use crate::error::Result;
use futures::future::{select, Either};
use serde::Serialize;
use std::cell::{Cell, RefCell};
use std::collections::VecDeque;
use std::rc::Rc;

/// Events kept for feeds that have not read them yet.
const KEPT: usize = 1000;

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ConflictEvent {
    pub id: String,
    /// The winning rev after the write.
    pub rev: String,
    /// The non-deleted losing revs after the write.
    pub conflicts: Vec<String>,
    /// Written by replication into this database (`new_edits: false` from a peer).
    pub replicated: bool,
}

/// The handle's recent events, numbered from 0.
#[derive(Default)]
pub struct ConflictLog {
    events: RefCell<VecDeque<ConflictEvent>>,
    /// The number of the next event to be published.
    next: Cell<u64>,
    notify: Rc<Notify>,
}

impl ConflictLog {
    pub(super) fn publish(&self, events: Vec<ConflictEvent>) {
        if events.is_empty() {
            return;
        }
        let mut log = self.events.borrow_mut();
        for e in events {
            log.push_back(e);
            self.next.set(self.next.get() + 1);
        }
        while log.len() > KEPT {
            log.pop_front();
        }
        drop(log);
        self.notify.notify();
    }

    /// The events numbered `from` and later that are still kept.
    fn since(&self, from: u64) -> Vec<ConflictEvent> {
        let log = self.events.borrow();
        let first = self.next.get() - log.len() as u64;
        let skip = from.saturating_sub(first) as usize;
        log.iter().skip(skip).cloned().collect()
    }
}

/// A live feed of the conflict events published after it was made.
pub struct ConflictFeed {
    db: Rc<Database>,
    cursor: Cell<u64>,
    cancelled: Cell<bool>,
    cancel: Rc<Notify>,
}

impl ConflictFeed {
    pub fn new(db: Rc<Database>) -> ConflictFeed {
        let cursor = Cell::new(db.conflict_log.next.get());
        ConflictFeed { db, cursor, cancelled: Cell::new(false), cancel: Rc::new(Notify::default()) }
    }

    pub fn cancel(&self) {
        self.cancelled.set(true);
        self.cancel.notify();
    }

    /// The next events (at least one), or `None` once cancelled or the database closed.
    pub async fn next(&self) -> Result<Option<Vec<ConflictEvent>>> {
        let log = &self.db.conflict_log;
        let closed = self.db.notifier();
        loop {
            if self.cancelled.get() || self.db.is_closed() {
                return Ok(None);
            }
            let seen = (log.notify.generation(), closed.generation(), self.cancel.generation());
            let events = log.since(self.cursor.get());
            if !events.is_empty() {
                self.cursor.set(log.next.get());
                return Ok(Some(events));
            }
            // A commit or `close` bumps the database's notifier; an event bumps the log's.
            let woken = select(log.notify.changed_since(seen.0), closed.changed_since(seen.1));
            if let Either::Right(_) = select(Box::pin(woken), self.cancel.changed_since(seen.2)).await {
                return Ok(None);
            }
        }
    }
}
