//! `Retrying`: a `Peer` that retries each failed request a few times at once, for
//! replications with `retry: true`.
//!
//! Why per request, and not only per pass: a pass costs ~10 requests before its first batch
//! is checkpointed (two `info`, two checkpoint reads, the feed, `revs_diff`, `bulk_get`,
//! `bulk_docs`, two checkpoint writes). On a network where 4 in 10 requests fail, a whole
//! pass succeeds 0.6^10 ≈ 0.6% of the time, so retrying only passes never converges; with
//! up to `ATTEMPTS` tries per request, even at 7 in 10 a request gets through 94% of the time.
//!
//! Every replication request can be repeated safely: reads are reads, `new_edits: false`
//! writes of revs already there change nothing, and a checkpoint written twice answers 409,
//! which the checkpointer handles by re-reading. Only retryable errors (`is_retryable`: no
//! answer, a timeout, 5xx, 408, 429) are retried; a 401 or a 404 comes back at once.
//!
//! `up()` tells whether the peer looked alive since it was last asked: it answered a request,
//! or no request gave up on it. The live loop resets its back-off when both peers are up
//! (the server is only flaky), and lets it grow while one gives no answer at all: a dead
//! server is what the long back-off is for.

use super::live::Sleep;
use super::peer::{
    AttMap, AttRef, ChangesPage, DocError, Fetched, Filter, Peer, PeerInfo, RevRequest, RevsByDoc, RevsDiff,
    Seq,
};
use super::remote::is_retryable;
use crate::error::Result;
use crate::kv::blobs::AttData;
use async_trait::async_trait;
use serde_json::Value;
use std::cell::Cell;
use std::future::Future;

/// Tries per request, the first included.
pub const ATTEMPTS: u32 = 8;
/// The first delay between tries; it doubles, up to `MAX_DELAY_MS`, with ±50% jitter.
pub const FIRST_DELAY_MS: u64 = 100;
pub const MAX_DELAY_MS: u64 = 1_000;

pub struct Retrying<'a> {
    inner: &'a dyn Peer,
    sleep: Sleep,
    random: &'a dyn Fn() -> f64,
    answered: Cell<bool>,
    gave_up: Cell<bool>,
}

/// The delay before try `attempt + 1` (after `attempt` failures, from 1): jittered so that
/// the requests of a sync and of other tabs do not retry in lockstep.
pub fn delay_ms(attempt: u32, random: f64) -> u64 {
    let base = FIRST_DELAY_MS.saturating_mul(1 << attempt.saturating_sub(1).min(16)).min(MAX_DELAY_MS);
    (base as f64 * (0.5 + random.clamp(0.0, 1.0))) as u64
}

impl<'a> Retrying<'a> {
    pub fn new(inner: &'a dyn Peer, sleep: Sleep, random: &'a dyn Fn() -> f64) -> Self {
        Retrying { inner, sleep, random, answered: Cell::new(false), gave_up: Cell::new(false) }
    }

    /// Whether a request got an answer, or none gave up, since the last call (which is
    /// forgotten).
    pub fn up(&self) -> bool {
        let gave_up = self.gave_up.replace(false);
        self.answered.replace(false) || !gave_up
    }

    async fn retry<T, F: Future<Output = Result<T>>>(&self, call: impl Fn() -> F) -> Result<T> {
        let mut attempt = 0;
        loop {
            let out = call().await;
            match out {
                Err(e) if is_retryable(&e) && attempt + 1 < ATTEMPTS => {
                    attempt += 1;
                    (self.sleep)(delay_ms(attempt, (self.random)())).await;
                }
                Err(e) => {
                    // A refusal (4xx) is an answer: the server is up.
                    if is_retryable(&e) {
                        self.gave_up.set(true);
                    } else {
                        self.answered.set(true);
                    }
                    return Err(e);
                }
                ok => {
                    self.answered.set(true);
                    return ok;
                }
            }
        }
    }
}

#[async_trait(?Send)]
impl Peer for Retrying<'_> {
    async fn info(&self) -> Result<PeerInfo> {
        self.retry(|| self.inner.info()).await
    }
    async fn changes(&self, since: &Seq, limit: usize, filter: &Filter) -> Result<ChangesPage> {
        self.retry(|| self.inner.changes(since, limit, filter)).await
    }
    async fn changes_with_docs(&self, since: &Seq, limit: usize, filter: &Filter) -> Result<ChangesPage> {
        self.retry(|| self.inner.changes_with_docs(since, limit, filter)).await
    }
    async fn revs_diff(&self, revs: &RevsByDoc) -> Result<RevsDiff> {
        self.retry(|| self.inner.revs_diff(revs)).await
    }
    async fn bulk_get(&self, revs: &[RevRequest]) -> Result<Vec<Fetched>> {
        self.retry(|| self.inner.bulk_get(revs)).await
    }
    async fn bulk_docs_replicated(&self, docs: &[Value], data: &AttMap) -> Result<Vec<DocError>> {
        self.retry(|| self.inner.bulk_docs_replicated(docs, data)).await
    }
    async fn has_attachments(&self, digests: &[String]) -> Result<Option<Vec<bool>>> {
        self.retry(|| self.inner.has_attachments(digests)).await
    }
    async fn get_attachment(&self, att: &AttRef) -> Result<AttData> {
        self.retry(|| self.inner.get_attachment(att)).await
    }
    async fn stub_in_ancestor(&self, id: &str, revs: &[String], name: &str) -> Result<Option<(String, u64)>> {
        self.retry(|| self.inner.stub_in_ancestor(id, revs, name)).await
    }
    async fn get_local(&self, id: &str) -> Result<Option<Value>> {
        self.retry(|| self.inner.get_local(id)).await
    }
    async fn put_local(&self, doc: Value) -> Result<String> {
        self.retry(|| self.inner.put_local(doc.clone())).await
    }
    async fn wait_for_changes(&self, since: &Seq, filter: &Filter) -> Result<()> {
        self.retry(|| self.inner.wait_for_changes(since, filter)).await
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn delays_double_from_the_first_up_to_the_cap_with_jitter() {
        assert_eq!(delay_ms(1, 0.5), 100);
        assert_eq!(delay_ms(2, 0.5), 200);
        assert_eq!(delay_ms(4, 0.5), 800);
        assert_eq!(delay_ms(5, 0.5), 1_000);
        assert_eq!(delay_ms(30, 0.5), 1_000);
        assert_eq!(delay_ms(1, 0.0), 50);
        assert_eq!(delay_ms(1, 0.999), 149);
    }
}
