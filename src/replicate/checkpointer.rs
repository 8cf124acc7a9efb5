//! Reading and writing one replication's checkpoint docs on both peers.
//!
//! - Writes go to the target first, then the source (see `checkpoint` for why).
//! - A write is skipped when the seq has not moved, so an in-sync replication writes nothing.
//! - A 409 means someone else (another tab's run of the same replication) wrote the doc, or
//!   our own write landed but its answer was lost: it is re-read and written again on top,
//!   unless the doc read back is already our write. After `WRITE_ATTEMPTS` 409s this
//!   checkpoint is skipped (the other run's is just as valid: each run only records seqs
//!   whose batches it landed itself), never failed.
//! - A source that refuses the write (401/403: a read-only remote) is left alone for the rest
//!   of the run; resuming then falls back to the histories, as CouchDB's replicator does.

use super::checkpoint::{resume_from, Checkpoint};
use super::peer::{Peer, Seq};
use crate::error::Result;
use serde_json::Value;

#[derive(Default)]
struct Side {
    rev: Option<String>,
    previous: Option<Checkpoint>,
    writable: bool,
}

impl Side {
    fn load(doc: Option<Value>) -> Side {
        let rev = doc.as_ref().and_then(|d| d["_rev"].as_str()).map(str::to_string);
        Side { rev, previous: doc.as_ref().and_then(Checkpoint::from_doc), writable: true }
    }
}

pub struct Checkpointer {
    doc_id: String,
    session_id: String,
    source: Side,
    target: Side,
    saved: Seq,
}

impl Checkpointer {
    pub fn new(replication_id: &str, session_id: &str) -> Checkpointer {
        Checkpointer {
            doc_id: format!("_local/{replication_id}"),
            session_id: session_id.to_string(),
            source: Side::default(),
            target: Side::default(),
            saved: Seq::zero(),
        }
    }

    pub fn doc_id(&self) -> &str {
        &self.doc_id
    }

    /// Reads both docs and returns the seq to resume from.
    pub async fn load(&mut self, source: &dyn Peer, target: &dyn Peer) -> Result<Seq> {
        let (s, t) =
            futures::future::join(source.get_local(&self.doc_id), target.get_local(&self.doc_id)).await;
        self.source = Side::load(s?);
        self.target = Side::load(t?);
        self.saved = resume_from(self.source.previous.as_ref(), self.target.previous.as_ref());
        Ok(self.saved.clone())
    }

    /// Records that everything up to `seq` is on the target.
    pub async fn save(&mut self, source: &dyn Peer, target: &dyn Peer, seq: &Seq) -> Result<()> {
        if *seq == self.saved {
            return Ok(());
        }
        write_side(target, &mut self.target, &self.doc_id, &self.session_id, seq).await?;
        if self.source.writable {
            match write_side(source, &mut self.source, &self.doc_id, &self.session_id, seq).await {
                Ok(()) => {}
                Err(e) if matches!(e.status, 401 | 403) => self.source.writable = false,
                Err(e) => return Err(e),
            }
        }
        self.saved = seq.clone();
        Ok(())
    }
}

/// How often a checkpoint write is tried after 409s. A 409 is another writer (another tab's
/// run of the same replication) or our own earlier write whose answer was lost and whose
/// repetition (`Retrying`) then came back 409: on a flaky network that can happen twice in
/// a row, and giving up would end a retrying replication on a non-retryable error.
const WRITE_ATTEMPTS: usize = 5;

async fn write_side(
    peer: &dyn Peer,
    side: &mut Side,
    doc_id: &str,
    session_id: &str,
    seq: &Seq,
) -> Result<()> {
    for attempt in 0..WRITE_ATTEMPTS {
        let checkpoint = Checkpoint::next(side.previous.as_ref(), session_id, seq);
        match peer.put_local(checkpoint.to_doc(doc_id, side.rev.as_deref())).await {
            Ok(rev) => {
                side.rev = Some(rev);
                side.previous = Some(checkpoint);
                return Ok(());
            }
            Err(e) if e.status == 409 => {
                let fresh = Side::load(peer.get_local(doc_id).await?);
                side.rev = fresh.rev;
                side.previous = fresh.previous;
                // Our own write landed after all: it is there, as this session's, at `seq`.
                let ours = side
                    .previous
                    .as_ref()
                    .is_some_and(|p| p.session_id == session_id && &p.source_last_seq == seq);
                // Conflicting every time: another run of this replication keeps rewriting the
                // doc between our read and write (their calls interleave). Its checkpoints
                // are as true as ours, so this one is skipped rather than failing the run;
                // the next save builds on the doc just read.
                if ours || attempt + 1 == WRITE_ATTEMPTS {
                    return Ok(());
                }
            }
            Err(e) => return Err(e),
        }
    }
    unreachable!("the last attempt returns")
}
