//! One-shot replication, source → target, and `sync` (both ways at once).
//!
//! Per batch: `changes` → `revs_diff` → `bulk_get` of the missing revs (stubs) → the
//! attachment data the target lacks (`attachments`) → `bulk_docs` (new_edits: false) →
//! checkpoint on both sides → a `Change` event. Rules:
//! - Batches are pipelined: while a full page is being written, the next page of changes is
//!   already being read (`futures::future::join`). A short page ends the run, so an in-sync run costs
//!   two `info`, two `get_local` and one `changes` call, whatever the database size.
//! - The checkpoint is written only after its batch is on the target, and skipped when the
//!   seq did not move. A failed run therefore resumes at the last completed batch, and
//!   re-sending a batch is harmless (`new_edits: false` ignores revs already present).
//! - Per-doc write failures are counted and never retried; forbidden/unauthorized ones are
//!   also reported as `Denied`. A failed request aborts the run (`ReplicationFailure`).
//! - Cancellation is checked between batches, never inside one.

use super::attachments;
use super::checkpointer::Checkpointer;
use super::id::replication_id;
use super::options::{
    Progress, ReplicateOptions, ReplicationEvent, ReplicationFailure, ReplicationResult, Status,
};
use super::peer::{ChangesPage, DocError, Peer, RevsDiff, Seq};
use super::planner::{docs_to_write, fetch_list, is_last_page, revs_diff_request};
use crate::error::Result;
use md5::{Digest, Md5};
use serde_json::Value;
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

#[derive(Clone, Debug, PartialEq)]
pub struct SyncResult {
    pub push: ReplicationResult,
    pub pull: ReplicationResult,
}

/// `a → b` with `push` and `b → a` with `pull`, concurrently. Two option sets, so that each
/// direction has its own filter and events.
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
        let (source_info, target_info) = futures::future::join(source.info(), target.info()).await;
        let rep_id =
            replication_id(&source_info?.id, &target_info?.id, &opts.filter, opts.doc_filter_key.as_deref());
        let session = opts.session_id.clone().unwrap_or_else(|| new_session_id(&rep_id, &self.start_time));
        let mut checkpointer = Checkpointer::new(&rep_id, &session);
        let resumed = checkpointer.load(source, target).await?;
        self.progress.last_seq = opts.since.clone().unwrap_or(resumed);
        let limit = opts.batch_size.max(1);
        let mut page = source.changes(&self.progress.last_seq, limit, &opts.filter).await?;
        loop {
            if opts.cancel.get() {
                return Ok(Status::Cancelled);
            }
            let (written, next) = if is_last_page(page.results.len(), limit) {
                (self.transfer(source, target, &page).await, None)
            } else {
                let next = source.changes(&page.last_seq, limit, &opts.filter);
                let (written, next) = futures::future::join(self.transfer(source, target, &page), next).await;
                (written, Some(next))
            };
            let docs = written?;
            checkpointer.save(source, target, &page.last_seq).await?;
            self.progress.last_seq = page.last_seq.clone();
            self.progress.pending = page.pending;
            if !page.results.is_empty() {
                self.emit(ReplicationEvent::Change { progress: &self.progress, docs: &docs });
            }
            match next {
                None => return Ok(Status::Complete),
                Some(next) => page = next?,
            }
        }
    }

    /// Writes what the target lacks of one page; returns the revisions written.
    async fn transfer(
        &mut self,
        source: &dyn Peer,
        target: &dyn Peer,
        page: &ChangesPage,
    ) -> Result<Vec<Value>> {
        if page.results.is_empty() {
            return Ok(Vec::new());
        }
        let diff = target.revs_diff(&revs_diff_request(&page.results)).await?;
        let wanted = fetch_list(&diff);
        if wanted.is_empty() {
            return Ok(Vec::new());
        }
        let mut docs = docs_to_write(source.bulk_get(&wanted).await?);
        if let Some(keep) = &self.opts.doc_filter {
            docs.retain(|d| keep(d));
        }
        self.progress.docs_read += docs.len() as u64;
        if docs.is_empty() {
            return Ok(docs);
        }
        let read = docs.len();
        let failures = self.write(source, target, &mut docs, &diff).await?;
        self.progress.docs_written += read.saturating_sub(failures.len()) as u64;
        self.progress.doc_write_failures += failures.len() as u64;
        for f in failures.iter().filter(|f| f.is_denied()) {
            self.emit(ReplicationEvent::Denied(f));
        }
        drop_failed(&mut docs, &failures);
        self.errors.extend(failures);
        Ok(docs)
    }

    /// Writes `docs` with the attachment data the target lacks; returns one failure per doc
    /// that could not be written.
    async fn write(
        &self,
        source: &dyn Peer,
        target: &dyn Peer,
        docs: &mut [Value],
        diff: &RevsDiff,
    ) -> Result<Vec<DocError>> {
        let (data, mut failures) = attachments::fetch(source, target, docs, diff, false).await?;
        let mut sendable = docs.to_vec();
        drop_failed(&mut sendable, &failures);
        failures.extend(target.bulk_docs_replicated(&sendable, &data).await?);
        // A target that lacked data its ancestors should have had (412 missing_stub) gets
        // those docs again with all their data.
        let (again, mut failures): (Vec<DocError>, Vec<DocError>) =
            failures.into_iter().partition(|f| f.status == 412 && f.error == "missing_stub");
        if !again.is_empty() {
            let named = |d: &Value| again.iter().any(|f| Some(f.id.as_str()) == d["_id"].as_str());
            let mut retry: Vec<Value> = docs.iter().filter(|d| named(d)).cloned().collect();
            let (data, more) = attachments::fetch(source, target, &mut retry, diff, true).await?;
            drop_failed(&mut retry, &more);
            failures.extend(more);
            failures.extend(target.bulk_docs_replicated(&retry, &data).await?);
            // Stub rewrites (gzipped data) must show in the docs reported as written.
            for d in retry {
                if let Some(slot) = docs.iter_mut().find(|x| x["_id"] == d["_id"] && x["_rev"] == d["_rev"]) {
                    *slot = d;
                }
            }
        }
        let mut seen = std::collections::HashSet::new();
        failures.retain(|f| seen.insert((f.id.clone(), f.rev.clone())));
        Ok(failures)
    }
}

fn drop_failed(docs: &mut Vec<Value>, failures: &[DocError]) {
    if !failures.is_empty() {
        docs.retain(|d| !failures.iter().any(|f| Some(f.id.as_str()) == d["_id"].as_str()));
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
