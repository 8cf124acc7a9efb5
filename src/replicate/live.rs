//! Live and retrying replication: one-shot passes (`replicate`) repeated.
//!
//! - **Live:** after a pass, wait until the source has a change past the checkpoint
//!   (`Peer::wait_for_changes`: a local db's commit signal, a remote's longpoll feed), then run
//!   the next pass. Events: `Active` when a pass starts, `Paused(None)` when caught up.
//! - **Retry:** each request is first retried a few times at once (`Retrying`), so a flaky
//!   network costs a request, not a pass. A pass that still fails with a retryable error
//!   (network, timeout, 5xx: `is_retryable`) emits `Paused(Some(err))`, sleeps (`Backoff`:
//!   random 0..base, then doubling, capped at 10 min), and runs again from the checkpoint.
//!   The back-off starts over when each peer answered something during the failed pass (it
//!   is up, only flaky: doubling then would stall a replication for minutes on a network
//!   that works 6 times in 10), and after a pass that completes. It only keeps growing while
//!   a peer answers nothing (`Retrying::up`). `LiveOptions::wake` (the browser's `online` event) ends a sleep at once.
//!   Anything else (401/403, 404…) ends the run with the error.
//! - **Counts** add up over passes, in the result and in each `Change` event's progress (as
//!   PouchDB's do): a live replication's `docs_written` only grows.
//! - **Cancel:** `ReplicateOptions::cancel` set, then `LiveOptions::cancel_signal` notified;
//!   waits and sleeps end at once, a running pass stops after its batch.
//! - The result adds up all passes: counts and errors summed, `last_seq` of the last one.
//! - Every pass must use the same session id (`ReplicateOptions::session_id`), or each would
//!   push a new entry into the checkpoint history.
//!
//! Timers and randomness are injected (`sleep`, `random`), so this file has no wasm
//! dependency and is tested natively.

use super::echo::Echoes;
use super::options::{
    Progress, ReplicateOptions, ReplicationEvent, ReplicationFailure, ReplicationResult, Status,
};
use super::peer::Peer;
use super::remote::is_retryable;
use super::replicator::{replicate, SyncResult};
use super::retrying::Retrying;
use crate::db::notify::Notify;
use crate::error::Error;
use futures::future::{select, Either, LocalBoxFuture};
use std::cell::Cell;
use std::future::Future;
use std::rc::Rc;

pub const DEFAULT_BACKOFF_BASE_MS: u64 = 2_000;
pub const BACKOFF_CAP_MS: u64 = 600_000;

/// Resolves after the given number of milliseconds.
pub type Sleep = Rc<dyn Fn(u64) -> LocalBoxFuture<'static, ()>>;
pub type StateHandler = Box<dyn Fn(LiveEvent)>;

#[derive(Debug)]
pub enum LiveEvent<'a> {
    Active,
    /// Caught up (`None`) or waiting to retry after an error.
    Paused(Option<&'a Error>),
}

pub struct LiveOptions {
    pub live: bool,
    pub retry: bool,
    pub backoff: Backoff,
    pub sleep: Sleep,
    /// Uniform in `[0, 1)`.
    pub random: Box<dyn Fn() -> f64>,
    pub on_state: Option<StateHandler>,
    pub cancel_signal: Rc<Notify>,
    /// Notified when a retry should not wait any longer (the network came back).
    pub wake: Rc<Notify>,
}

/// PouchDB's default back-off: a random start below `base_ms`, doubling, capped.
#[derive(Clone, Debug, PartialEq)]
pub struct Backoff {
    pub base_ms: u64,
    pub cap_ms: u64,
    current: Option<u64>,
}

impl Backoff {
    pub fn new(base_ms: u64) -> Backoff {
        Backoff { base_ms, cap_ms: BACKOFF_CAP_MS, current: None }
    }

    /// The next delay; `random` is uniform in `[0, 1)`.
    pub fn next(&mut self, random: f64) -> u64 {
        let delay = match self.current {
            None => (random.clamp(0.0, 1.0) * self.base_ms as f64) as u64,
            // Doubling from a tiny random start would stay tiny: never below a 20th of the base.
            Some(d) => d.max(self.base_ms / 20).max(1).saturating_mul(2),
        }
        .min(self.cap_ms);
        self.current = Some(delay);
        delay
    }

    pub fn reset(&mut self) {
        self.current = None;
    }
}

impl Default for Backoff {
    fn default() -> Backoff {
        Backoff::new(DEFAULT_BACKOFF_BASE_MS)
    }
}

/// `fut`, unless the replication is cancelled first (then `None`).
async fn unless_cancelled<T>(
    opts: &ReplicateOptions,
    live: &LiveOptions,
    fut: impl Future<Output = T>,
) -> Option<T> {
    if opts.cancel.get() {
        return None;
    }
    let cancelled = live.cancel_signal.changed_since(live.cancel_signal.generation());
    match select(Box::pin(fut), cancelled).await {
        Either::Left((v, _)) => Some(v),
        Either::Right(_) => None,
    }
}

fn emit(live: &LiveOptions, event: LiveEvent) {
    if let Some(f) = &live.on_state {
        f(event);
    }
}

fn add(total: &mut Option<ReplicationResult>, pass: ReplicationResult, earlier: &Cell<Earlier>) {
    match total {
        None => *total = Some(pass),
        Some(t) => {
            t.docs_read += pass.docs_read;
            t.docs_written += pass.docs_written;
            t.doc_write_failures += pass.doc_write_failures;
            t.errors.extend(pass.errors);
            t.last_seq = pass.last_seq;
            t.end_time = pass.end_time;
            t.status = pass.status;
            t.ok = pass.ok;
        }
    }
    let t = total.as_ref().expect("set above");
    earlier.set(Earlier { read: t.docs_read, written: t.docs_written, failures: t.doc_write_failures });
}

fn cancelled(mut total: ReplicationResult) -> ReplicationResult {
    total.status = Status::Cancelled;
    total.ok = true;
    total
}

/// Counts of the passes before the current one, added to its `Change` events.
#[derive(Clone, Copy, Default)]
struct Earlier {
    read: u64,
    written: u64,
    failures: u64,
}

/// Makes `opts.on_event` report counts since the start of the run, not of the pass.
fn cumulative_events(opts: &mut ReplicateOptions) -> Rc<Cell<Earlier>> {
    let earlier = Rc::new(Cell::new(Earlier::default()));
    if let Some(inner) = opts.on_event.take() {
        let before = earlier.clone();
        opts.on_event = Some(Box::new(move |event: &ReplicationEvent| match event {
            ReplicationEvent::Change { progress, docs } => {
                let e = before.get();
                let progress = Progress {
                    docs_read: progress.docs_read + e.read,
                    docs_written: progress.docs_written + e.written,
                    doc_write_failures: progress.doc_write_failures + e.failures,
                    ..(*progress).clone()
                };
                inner(&ReplicationEvent::Change { progress: &progress, docs })
            }
            other => inner(other),
        }));
    }
    earlier
}

/// Replicates `source` → `target`, live and/or retrying as `live` says.
pub async fn run(
    source: &dyn Peer,
    target: &dyn Peer,
    mut opts: ReplicateOptions,
    mut live: LiveOptions,
) -> Result<ReplicationResult, ReplicationFailure> {
    let random = &*live.random;
    let (retry_source, retry_target) = (
        Retrying::new(source, live.sleep.clone(), random),
        Retrying::new(target, live.sleep.clone(), random),
    );
    let (source, target): (&dyn Peer, &dyn Peer) =
        if live.retry { (&retry_source, &retry_target) } else { (source, target) };
    let earlier = cumulative_events(&mut opts);
    let mut total: Option<ReplicationResult> = None;
    loop {
        emit(&live, LiveEvent::Active);
        let pass = replicate(source, target, &opts).await;
        let error = match pass {
            Ok(r) => {
                live.backoff.reset();
                let seq = r.last_seq.clone();
                add(&mut total, r, &earlier);
                if opts.since.is_some() {
                    opts.since = Some(seq.clone());
                }
                let t = total.take().expect("just added");
                if !live.live || t.status == Status::Cancelled {
                    return Ok(t);
                }
                total = Some(t);
                emit(&live, LiveEvent::Paused(None));
                let wait = source.wait_for_changes(&seq, &opts.filter);
                match unless_cancelled(&opts, &live, wait).await {
                    None => return Ok(cancelled(total.take().expect("set above"))),
                    Some(Ok(())) => continue,
                    Some(Err(e)) => e,
                }
            }
            Err(failure) => {
                if opts.since.is_some() {
                    opts.since = Some(failure.result.last_seq.clone());
                }
                add(&mut total, failure.result, &earlier);
                failure.error
            }
        };
        let mut t = total.take().expect("every path adds a pass");
        if !(live.retry && is_retryable(&error)) {
            t.ok = false;
            t.status = Status::Aborted;
            return Err(ReplicationFailure { error, result: t });
        }
        if opts.cancel.get() {
            return Ok(cancelled(t));
        }
        total = Some(t);
        emit(&live, LiveEvent::Paused(Some(&error)));
        // Both are read (and cleared): `&` does not short-circuit.
        if retry_source.up() & retry_target.up() {
            live.backoff.reset();
        }
        let delay = live.backoff.next((live.random)());
        let woken = live.wake.changed_since(live.wake.generation());
        let nap = select(Box::pin((live.sleep)(delay)), woken);
        if unless_cancelled(&opts, &live, nap).await.is_none() {
            return Ok(cancelled(total.take().expect("set above")));
        }
    }
}

/// Both directions at once, each live/retrying as its options say. A direction that fails
/// for good cancels the other, and the sync fails with its error. Neither sends back what the
/// other just wrote (`echo`).
pub async fn sync(
    a: &dyn Peer,
    b: &dyn Peer,
    mut push: (ReplicateOptions, LiveOptions),
    mut pull: (ReplicateOptions, LiveOptions),
) -> Result<SyncResult, ReplicationFailure> {
    let (push_echoes, pull_echoes) = Echoes::pair();
    (push.0.echoes, pull.0.echoes) = (Some(push_echoes), Some(pull_echoes));
    let stop = |o: &ReplicateOptions, l: &LiveOptions| {
        let (flag, signal) = (o.cancel.clone(), l.cancel_signal.clone());
        move || {
            flag.set(true);
            signal.notify();
        }
    };
    let (stop_push, stop_pull) = (stop(&push.0, &push.1), stop(&pull.0, &pull.1));
    let pushing = async {
        let r = run(a, b, push.0, push.1).await;
        if r.is_err() {
            stop_pull();
        }
        r
    };
    let pulling = async {
        let r = run(b, a, pull.0, pull.1).await;
        if r.is_err() {
            stop_push();
        }
        r
    };
    let (pushed, pulled) = futures::future::join(pushing, pulling).await;
    Ok(SyncResult { push: pushed?, pull: pulled? })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_backoff_starts_below_the_base_doubles_and_is_capped() {
        let mut b = Backoff::new(2_000);
        assert_eq!(b.next(0.5), 1_000);
        assert_eq!(b.next(0.9), 2_000);
        assert_eq!(b.next(0.0), 4_000);
        for _ in 0..20 {
            b.next(0.3);
        }
        assert_eq!(b.next(0.3), BACKOFF_CAP_MS);
        b.reset();
        assert_eq!(b.next(0.25), 500);
    }

    #[test]
    fn a_zero_random_start_still_grows() {
        let mut b = Backoff::new(2_000);
        assert_eq!(b.next(0.0), 0);
        assert_eq!(b.next(0.0), 200);
        assert_eq!(b.next(0.0), 400);
    }
}
