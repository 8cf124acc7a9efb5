//! The write half of a batch: its docs onto the target with the attachment data the target
//! lacks. Checkpointing is the replicator's (after the write, in order).
//!
//! - A target that lacked data its ancestors should have had (412 `missing_stub`) gets those
//!   docs again with all their data, once.
//! - Per-doc failures come back once per (id, rev); a failed request is an `Err`.

use super::attachments;
use super::peer::{ChangesPage, DocError, Peer, RevRequest, RevsDiff};
use super::reader::Batch;
use crate::error::Result;
use serde_json::Value;

/// A batch whose write request(s) succeeded, before it is counted.
pub struct Written {
    pub page: ChangesPage,
    /// The revisions written (failed ones dropped).
    pub docs: Vec<Value>,
    /// How many revisions were read for it (written or failed).
    pub read: usize,
    pub failures: Vec<DocError>,
    /// The page was nothing but echoes (`reader::Batch::echo_only`): no checkpoint for it.
    pub echo_only: bool,
}

/// A batch whose write request failed: the revisions sent may or may not be on the target.
pub struct Unsure {
    pub error: crate::error::Error,
    pub sent: Vec<RevRequest>,
}

/// A counted batch awaiting its checkpoint.
pub struct Landed {
    pub page: ChangesPage,
    pub docs: Vec<Value>,
    pub echo_only: bool,
}

/// Writes `batch`; on failure, the revisions it sent are handed back as `Unsure`.
pub async fn write_batch(
    source: &dyn Peer,
    target: &dyn Peer,
    batch: Batch,
) -> std::result::Result<Written, Unsure> {
    let Batch { page, diff, mut docs, echo_only, .. } = batch;
    let read = docs.len();
    if docs.is_empty() {
        return Ok(Written { page, docs, read, failures: Vec::new(), echo_only });
    }
    match write(source, target, &mut docs, &diff).await {
        Ok(failures) => {
            drop_failed(&mut docs, &failures);
            Ok(Written { page, docs, read, failures, echo_only: false })
        }
        Err(error) => {
            let rev_of = |d: &Value| {
                Some(RevRequest { id: d["_id"].as_str()?.to_string(), rev: d["_rev"].as_str()?.to_string() })
            };
            Err(Unsure { error, sent: docs.iter().filter_map(rev_of).collect() })
        }
    }
}

/// Writes `docs` with the attachment data the target lacks; returns one failure per doc
/// that could not be written.
async fn write(
    source: &dyn Peer,
    target: &dyn Peer,
    docs: &mut [Value],
    diff: &RevsDiff,
) -> Result<Vec<DocError>> {
    let (data, mut failures) = attachments::fetch(source, target, docs, diff, false).await?;
    // Copied only when some docs must stay behind (a batch is up to `batch_size` docs).
    let written = if failures.is_empty() {
        target.bulk_docs_replicated(docs, &data).await?
    } else {
        let mut sendable = docs.to_vec();
        drop_failed(&mut sendable, &failures);
        target.bulk_docs_replicated(&sendable, &data).await?
    };
    failures.extend(written);
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

fn drop_failed(docs: &mut Vec<Value>, failures: &[DocError]) {
    if !failures.is_empty() {
        docs.retain(|d| !failures.iter().any(|f| Some(f.id.as_str()) == d["_id"].as_str()));
    }
}
