//! The read half of a batch: what the target lacks of one page of changes, fetched from the
//! source. The replicator reads batch N+1 (and the page after it) while it writes batch N.
//!
//! Rules:
//! - A target whose seq was at its origin when the run began (nothing ever written to it)
//!   lacks every rev, so its `revs_diff` answer is known without asking: every leaf missing,
//!   no possible ancestors. This saves a round trip per batch on a push to a new database.
//!   It stays safe if someone else writes to the target meanwhile: `new_edits: false` of a
//!   rev the target already has changes nothing, so the only cost is sending it again (with
//!   its attachment data, since no ancestor is reported). CouchDB's replicator always asks.
//! - Reading ahead means a `revs_diff` may be answered before the previous batch has landed
//!   (a doc changed mid-run can be in both): it can then only report more missing, which is
//!   sent again, harmlessly, for the same reason.
//! - Bodies come from the changes page when it brought them (`ChangesPage::docs`), the rest
//!   from `bulk_get`. Pages are asked `with_docs` while the target lacks most of what it is
//!   shown (always, for a target at its origin): bodies of revs the target already has would
//!   be read for nothing, as in a sync whose pull sees the docs its push just wrote.

use super::echo::Known;
use super::options::{DocFilter, InDoubt};
use super::peer::{
    revs_diff_of, Change, ChangesPage, Fetched, Filter, MissingRevs, Peer, RevRequest, RevsDiff, Seq,
};
use super::planner::{docs_to_write, fetch_list, is_last_page, revs_diff_request, take_prefetched};
use crate::core::order;
use crate::error::Result;
use serde_json::Value;
use std::cell::Cell;

/// One page of changes and what the target lacks of it, read and ready to write.
pub struct Batch {
    pub page: ChangesPage,
    pub diff: RevsDiff,
    /// The revisions to write (after the caller's `doc_filter`).
    pub docs: Vec<Value>,
    /// Revisions of this page that were in doubt (`ReplicateOptions::in_doubt`), each with
    /// whether the target turned out to have them.
    pub doubts: Vec<(RevRequest, bool)>,
    /// Every change of the page was an echo of the other direction of a sync (`echo`).
    pub echo_only: bool,
}

/// How a run reads: fixed at its start, except whether to ask for bodies with the feed.
pub struct Reader<'a> {
    pub limit: usize,
    pub filter: &'a Filter,
    pub doc_filter: Option<&'a DocFilter>,
    /// The target's seq was at its origin when the run began.
    pub target_empty: bool,
    in_doubt: &'a InDoubt,
    with_docs: Cell<bool>,
    /// Revisions known on the target (written there by the other direction of a sync).
    known: Option<&'a Known>,
}

impl<'a> Reader<'a> {
    pub fn new(
        limit: usize,
        filter: &'a Filter,
        doc_filter: Option<&'a DocFilter>,
        target_empty: bool,
        in_doubt: &'a InDoubt,
    ) -> Self {
        let with_docs = Cell::new(target_empty);
        Reader { limit: limit.max(1), filter, doc_filter, target_empty, in_doubt, with_docs, known: None }
    }

    /// Whether the next page is asked with its bodies (what a later pass starts with).
    pub fn asks_docs(&self) -> bool {
        self.with_docs.get()
    }

    /// Starts asking pages with their bodies if `yes` (a pass carrying on from one that did).
    pub fn asking_docs(self, yes: bool) -> Self {
        self.with_docs.set(self.with_docs.get() || yes);
        self
    }

    /// Drops the changes whose revisions are all in `known` (see `echo`).
    pub fn skipping(mut self, known: Option<&'a Known>) -> Self {
        self.known = known;
        self
    }

    /// The page of changes after `since`.
    pub async fn changes(&self, source: &dyn Peer, since: &Seq) -> Result<ChangesPage> {
        if self.with_docs.get() {
            source.changes_with_docs(since, self.limit, self.filter).await
        } else {
            source.changes(since, self.limit, self.filter).await
        }
    }

    /// Reads `page`'s batch and, unless `page` is the last, the next page meanwhile.
    pub async fn read_ahead(
        &self,
        source: &dyn Peer,
        target: &dyn Peer,
        page: ChangesPage,
    ) -> (Result<Batch>, Option<Result<ChangesPage>>) {
        if is_last_page(page.results.len(), self.limit) {
            return (self.read(source, target, page).await, None);
        }
        let since = page.last_seq.clone();
        // The next page is asked for first, so its request is out before this page's diff and
        // synchronous work: a remote feed paces a pull, and each of its pages then overlaps the
        // handling of the one before (6 of 7 A/B pairs of the pull bench were faster this way).
        let (next, batch) =
            futures::future::join(self.changes(source, &since), self.read(source, target, page)).await;
        (batch, Some(next))
    }

    async fn read(&self, source: &dyn Peer, target: &dyn Peer, mut page: ChangesPage) -> Result<Batch> {
        let echoes = self.known.map_or(0, |k| k.borrow_mut().drop_echoes(&mut page.results));
        if page.results.is_empty() {
            let echo_only = echoes > 0;
            return Ok(Batch {
                page,
                diff: RevsDiff::new(),
                docs: Vec::new(),
                doubts: Vec::new(),
                echo_only,
            });
        }
        let diff = if self.target_empty {
            all_missing(&page.results)
        } else {
            target.revs_diff(&revs_diff_request(&page.results)).await?
        };
        let doubts = self.doubts(&page.results, &diff);
        let wanted = fetch_list(&diff);
        self.with_docs.set(self.target_empty || wanted.len() * 2 >= page.results.len());
        let (mut fetched, rest) = take_prefetched(wanted, &mut page.docs);
        page.docs.clear();
        if !rest.is_empty() {
            let mut more = source.bulk_get(&rest).await?;
            if fetched.is_empty() {
                fetched = more;
            } else {
                fetched.append(&mut more);
                order::sort_by(&mut fetched, |a, b| key(a).cmp(&key(b)));
            }
        }
        let mut docs = docs_to_write(fetched);
        if let Some(keep) = self.doc_filter {
            docs.retain(|d| keep(d));
        }
        Ok(Batch { page, diff, docs, doubts, echo_only: false })
    }

    /// The revisions of `changes` in doubt, and whether the target has them (`diff` says
    /// what it lacks). Left in the set: the run takes them out once it counts the batch.
    fn doubts(&self, changes: &[Change], diff: &RevsDiff) -> Vec<(RevRequest, bool)> {
        let in_doubt = self.in_doubt.borrow();
        if in_doubt.is_empty() {
            return Vec::new();
        }
        let mut out = Vec::new();
        for c in changes {
            for rev in &c.revs {
                let r = RevRequest { id: c.id.clone(), rev: rev.clone() };
                if in_doubt.contains(&r) {
                    let lacks = diff.get(&c.id).is_some_and(|m| m.missing.contains(rev));
                    out.push((r, !lacks));
                }
            }
        }
        out
    }
}

/// The `revs_diff` answer of a target that has nothing: every leaf of every row.
fn all_missing(changes: &[Change]) -> RevsDiff {
    revs_diff_of(
        revs_diff_request(changes)
            .into_iter()
            .map(|(id, missing)| (id, MissingRevs { missing, possible_ancestors: Vec::new() })),
    )
}

/// Fetched docs in the order `bulk_get` would have answered them: by (id, rev).
fn key(f: &Fetched) -> (Option<&str>, Option<&str>) {
    match f {
        Fetched::Doc(d) => (d["_id"].as_str(), d["_rev"].as_str()),
        Fetched::Error(e) => (Some(e.id.as_str()), e.rev.as_deref()),
    }
}
