//! One-shot replication, source → target, and `sync` (both ways at once).
//!
//! Per batch: `changes` → `revs_diff` → `bulk_get` of the missing revs (stubs) → the
//! attachment data the target lacks (`attachments`) → `bulk_docs` (new_edits: false) →
//! checkpoint on both sides → a `Change` event. Rules:
//! - Batches are pipelined: while batch N is written, batch N-1's checkpoint is written and
//!   batch N+1 is read (`reader`: its `revs_diff` and `bulk_get`), with the page of changes
//!   after it. Writes, and checkpoints, stay strictly in order, one batch at a time. A short
//!   page ends the run, so an in-sync run costs two `info`, two `get_local` and one `changes`
//!   call, whatever the database size. A live replication's later passes cost only the
//!   `changes` call: a completed pass carries its replication id and checkpoint state over
//!   (`ReplicateOptions::carry`); after a failed pass everything is read again.
//! - The checkpoint is written only after its batch is on the target, and skipped when the
//!   seq did not move. A failed run therefore resumes at the last completed batch, and
//!   re-sending a batch is harmless (`new_edits: false` ignores revs already present).
//!   Whatever stops the run (an error, a cancellation), the batch already written gets its
//!   checkpoint first, unless that checkpoint is what failed.
//! - A batch's `Change` event follows its checkpoint, so it comes while the next batch is
//!   being written.
//! - Per-doc write failures are counted and never retried; forbidden/unauthorized ones are
//!   also reported as `Denied`. A failed request aborts the run (`ReplicationFailure`).
//! - Cancellation is checked between batches, never inside one: a batch being written when
//!   it is asked for (e.g. from the previous batch's event) is finished and checkpointed; a
//!   batch only read ahead is dropped unwritten.

use super::checkpointer::Checkpointer;
use super::id::replication_id;
use super::options::{
    Progress, ReplicateOptions, ReplicationEvent, ReplicationFailure, ReplicationResult, Status,
};
use super::peer::{DocError, Peer, RevRequest, Seq};
use super::reader::Reader;
use super::writer::{write_batch, Landed, Written};
use crate::error::Result;
use md5::{Digest, Md5};
use std::sync::atomic::{AtomicU64, Ordering};

pub async fn replicate(
    source: &dyn Peer,
    target: &dyn Peer,
    opts: &ReplicateOptions,
) -> std::result::Result<ReplicationResult, ReplicationFailure> {
    let mut run = Run::new(opts);
    match run.run(source, target).await {
        Ok(status) => Ok(run.finish(status)),
        Err(error) => Err(ReplicationFailure { error, result: run.finish(Status::Aborted) }),
    }
}

/// What a completed pass hands the next one (`ReplicateOptions::carry`).
pub struct Carried {
    rep_id: String,
    checkpointer: Checkpointer,
    last_seq: Seq,
    target_is_origin: bool,
    /// Whether the last pass asked pages with their bodies (`Reader::asks_docs`).
    with_docs: bool,
}

#[derive(Clone, Debug, PartialEq)]
pub struct SyncResult {
    pub push: ReplicationResult,
    pub pull: ReplicationResult,
}

/// `a → b` with `push` and `b → a` with `pull`, concurrently. Two option sets, so that each
/// direction has its own filter and events. (`live::sync`, which the library uses, also keeps
/// each direction from sending back what the other wrote: `echo`.)
pub async fn sync(
    a: &dyn Peer,
    b: &dyn Peer,
    push: &ReplicateOptions,
    pull: &ReplicateOptions,
) -> std::result::Result<SyncResult, ReplicationFailure> {
    let (pushed, pulled) = futures::future::join(replicate(a, b, push), replicate(b, a, pull)).await;
    Ok(SyncResult { push: pushed?, pull: pulled? })
}

struct Run<'a> {
    opts: &'a ReplicateOptions,
    progress: Progress,
    errors: Vec<DocError>,
    start_time: String,
}

impl<'a> Run<'a> {
    fn new(opts: &'a ReplicateOptions) -> Self {
        let progress = Progress {
            docs_read: 0,
            docs_written: 0,
            doc_write_failures: 0,
            pending: None,
            last_seq: Seq::zero(),
        };
        Run { opts, progress, errors: Vec::new(), start_time: now(opts) }
    }

    fn finish(self, status: Status) -> ReplicationResult {
        ReplicationResult {
            ok: status != Status::Aborted,
            docs_read: self.progress.docs_read,
            docs_written: self.progress.docs_written,
            doc_write_failures: self.progress.doc_write_failures,
            errors: self.errors,
            last_seq: self.progress.last_seq,
            start_time: self.start_time,
            end_time: now(self.opts),
            status,
        }
    }

    fn emit(&self, event: ReplicationEvent) {
        if let Some(f) = &self.opts.on_event {
            f(&event);
        }
    }

    async fn run(&mut self, source: &dyn Peer, target: &dyn Peer) -> Result<Status> {
        let opts = self.opts;
        let carried = opts.carry.borrow_mut().take();
        let (rep_id, mut checkpointer, target_is_origin, with_docs) = match carried {
            Some(c) => {
                self.progress.last_seq = opts.since.clone().unwrap_or(c.last_seq);
                (c.rep_id, c.checkpointer, c.target_is_origin, c.with_docs)
            }
            None => {
                let (source_info, target_info) = futures::future::join(source.info(), target.info()).await;
                let target_info = target_info?;
                let rep_id = replication_id(
                    &source_info?.id,
                    &target_info.id,
                    &opts.filter,
                    opts.doc_filter_key.as_deref(),
                );
                let session =
                    opts.session_id.clone().unwrap_or_else(|| new_session_id(&rep_id, &self.start_time));
                let mut checkpointer = Checkpointer::new(&rep_id, &session);
                let resumed = checkpointer.load(source, target).await?;
                self.progress.last_seq = opts.since.clone().unwrap_or(resumed);
                (rep_id, checkpointer, target_info.update_seq.is_origin(), false)
            }
        };
        let reader = Reader::new(
            opts.batch_size,
            &opts.filter,
            opts.doc_filter.as_ref(),
            target_is_origin,
            &opts.in_doubt,
        )
        .skipping(opts.echoes.as_ref().map(|e| &e.skip))
        .asking_docs(with_docs);
        let first = reader.changes(source, &self.progress.last_seq).await?;
        let (mut batch, mut next) = reader.read_ahead(source, target, first).await;
        // The batch written last, awaiting its checkpoint.
        let mut landed: Option<Landed> = None;
        loop {
            if opts.cancel.get() {
                self.settle(source, target, &mut checkpointer, landed).await?;
                return Ok(Status::Cancelled);
            }
            let ready = match batch {
                Ok(b) => b,
                Err(e) => {
                    self.settle(source, target, &mut checkpointer, landed).await?;
                    return Err(e);
                }
            };
            // Nothing to read ahead after the last page.
            let read_next = async {
                match next {
                    Some(Ok(page)) => Some(reader.read_ahead(source, target, page).await),
                    Some(Err(e)) => Some((Err(e), None)),
                    None => None,
                }
            };
            // The checkpoint goes first: its small requests then do not queue behind the
            // batch's `bulk_docs` on a single-threaded server, and the checkpoint's second
            // write (the other side's) runs while that server is busy with the batch.
            self.resolve_doubts(&ready.doubts);
            let (settled, written, ahead) = futures::future::join3(
                self.settle(source, target, &mut checkpointer, landed),
                write_batch(source, target, ready),
                read_next,
            )
            .await;
            // A write without an answer may have landed: its revisions are left in doubt for
            // the next pass to ask about, and counted then (`ReplicateOptions::in_doubt`).
            let written = written.map(|w| self.account(w)).map_err(|u| {
                opts.in_doubt.borrow_mut().extend(u.sent);
                u.error
            });
            settled?;
            let written = written?;
            if let Some(echoes) = &opts.echoes {
                // Written here from the source: known there, so the other direction skips them.
                let mut known = echoes.record.borrow_mut();
                for d in &written.docs {
                    if let (Some(id), Some(rev)) = (d["_id"].as_str(), d["_rev"].as_str()) {
                        known.record(id, rev);
                    }
                }
            }
            landed = Some(written);
            match ahead {
                Some((b, n)) => (batch, next) = (b, n),
                None => {
                    self.settle(source, target, &mut checkpointer, landed).await?;
                    *opts.carry.borrow_mut() = Some(Carried {
                        rep_id,
                        checkpointer,
                        last_seq: self.progress.last_seq.clone(),
                        // It may have been empty at the first pass; it is not any more.
                        target_is_origin: false,
                        with_docs: reader.asks_docs(),
                    });
                    return Ok(Status::Complete);
                }
            }
        }
    }

    /// Counts the revisions in doubt that turned out to be on the target, as the pass that
    /// sent them would have, and forgets every doubt the target answered.
    fn resolve_doubts(&mut self, doubts: &[(RevRequest, bool)]) {
        let mut in_doubt = self.opts.in_doubt.borrow_mut();
        for (rev, landed) in doubts {
            if in_doubt.remove(rev) && *landed {
                self.progress.docs_read += 1;
                self.progress.docs_written += 1;
            }
        }
    }

    /// Adds a written batch to the counts and reports its denied docs.
    fn account(&mut self, w: Written) -> Landed {
        self.progress.docs_read += w.read as u64;
        self.progress.docs_written += w.read.saturating_sub(w.failures.len()) as u64;
        self.progress.doc_write_failures += w.failures.len() as u64;
        for f in w.failures.iter().filter(|f| f.is_denied()) {
            self.emit(ReplicationEvent::Denied(f));
        }
        self.errors.extend(w.failures);
        Landed { page: w.page, docs: w.docs, echo_only: w.echo_only }
    }

    /// Checkpoints a batch that is on the target, then reports it.
    async fn settle(
        &mut self,
        source: &dyn Peer,
        target: &dyn Peer,
        checkpointer: &mut Checkpointer,
        landed: Option<Landed>,
    ) -> Result<()> {
        let Some(Landed { page, docs, echo_only }) = landed else { return Ok(()) };
        if echo_only {
            // Nothing but echoes: move on without a checkpoint (see `echo`).
            self.progress.last_seq = page.last_seq;
            return Ok(());
        }
        checkpointer.save(source, target, &page.last_seq).await?;
        self.progress.last_seq = page.last_seq;
        self.progress.pending = page.pending;
        if !page.results.is_empty() {
            self.emit(ReplicationEvent::Change { progress: &self.progress, docs: &docs });
        }
        Ok(())
    }
}

fn now(opts: &ReplicateOptions) -> String {
    opts.clock.as_ref().map(|c| c()).unwrap_or_default()
}

/// Unique within this process, and across processes as far as the clock differs.
fn new_session_id(rep_id: &str, start_time: &str) -> String {
    static COUNTER: AtomicU64 = AtomicU64::new(0);
    let n = COUNTER.fetch_add(1, Ordering::Relaxed);
    let digest = Md5::digest(format!("{rep_id}\0{start_time}\0{n}").as_bytes());
    digest.iter().map(|b| format!("{b:02x}")).collect()
}
