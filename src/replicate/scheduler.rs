//! The replication scheduler of one page or worker: how many requests go to each server at
//! once, and how live replications wait for a remote source's next change.
//!
//! Browsers open ~6 connections per host; a page that live-syncs dozens of databases with one
//! longpoll each queues the rest inside the browser, where no one can tell a stuck request from
//! a waiting one (PouchDB #4606, #5012, #8218). So, per server (`Origin`, keyed by the URL of
//! the server root):
//! - **A bounded pool of connections** (`Pool`, `max_connections`, default 4): every request
//!   takes a permit first and gives it back when its answer is read. Waiters are served first
//!   come, first served, so jobs rotate fairly, within three priorities (`Priority`): the
//!   `_db_updates` feed first, then requests that move docs or checkpoints, then polls for
//!   changes (with 200 databases polling, a found change would otherwise queue behind a whole
//!   round, and the feed behind the passes it asked for). The only requests outside the pool are a remote
//!   database's own live changes feed (`changes({live: true})`), which an app holds open on
//!   purpose.
//! - **Longpoll while it fits:** a live replication waiting for the source's next change holds
//!   a longpoll only while fewer replications wait on this server than there are connections
//!   (one connection is always left for the passes that move docs). When more wait, the
//!   longpolls are pre-empted (`preempt`) and every waiter polls instead: a short `_changes`
//!   request, then a sleep of `poll_interval`, in turn with the others.
//! - **`_db_updates` where the server allows it:** while replications poll, one longpoll of
//!   the server's `_db_updates` feed says which databases changed; a polling waiter then sleeps
//!   until its database is named (`db_signal`) or `SAFETY_POLL_MS` passes. Once the feed has
//!   its starting seq (`feed_ready`), every waiter polls once more, so a change made before the
//!   feed began is not missed. A server that refuses the feed (not an admin: 401/403; no such
//!   endpoint: 400/404/405) is asked again after `UNSUPPORTED_RETRY_MS`.
//!
//! Everything here is single-threaded (wasm) state; the HTTP side is `http::client` and
//! `http::peer`.

use crate::db::notify::Notify;
use crate::error::{Error, Result};
use serde_json::Value;
use std::cell::{Cell, RefCell};
use std::collections::{HashMap, VecDeque};
use std::future::Future;
use std::pin::Pin;
use std::rc::{Rc, Weak};
use std::task::{Context, Poll, Waker};

pub const DEFAULT_MAX_CONNECTIONS: usize = 4;
/// How long a polling waiter sleeps between polls without `_db_updates`.
pub const DEFAULT_POLL_INTERVAL_MS: u64 = 2_000;
/// How long a polling waiter sleeps while `_db_updates` runs (it is woken when named).
pub const SAFETY_POLL_MS: u64 = 60_000;
/// When to ask again a server that refused `_db_updates`.
pub const UNSUPPORTED_RETRY_MS: f64 = 600_000.0;
/// When to ask again after the feed failed on the network.
pub const FAILED_RETRY_MS: f64 = 30_000.0;

/// The scheduler's settings for this page (`Settee.configureScheduler`).
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Settings {
    pub max_connections: usize,
    pub poll_interval_ms: u64,
    /// Whether to try the server's `_db_updates` feed while replications poll.
    pub db_updates: bool,
}

impl Default for Settings {
    fn default() -> Settings {
        Settings {
            max_connections: DEFAULT_MAX_CONNECTIONS,
            poll_interval_ms: DEFAULT_POLL_INTERVAL_MS,
            db_updates: true,
        }
    }
}

impl Settings {
    /// These settings with `options` (`{max_connections?, poll_interval?, db_updates?}`)
    /// applied; a bad value is a 400 and nothing is applied.
    pub fn with_options(&self, options: &Value) -> Result<Settings> {
        let Value::Object(map) = options else {
            return Err(Error::bad_request("scheduler options must be an object"));
        };
        let mut out = *self;
        for (key, value) in map {
            match key.as_str() {
                "max_connections" => match value.as_u64() {
                    Some(n @ 1..=64) => out.max_connections = n as usize,
                    _ => return Err(Error::bad_request("max_connections must be an integer from 1 to 64")),
                },
                "poll_interval" => match value.as_u64() {
                    Some(ms @ 50..=3_600_000) => out.poll_interval_ms = ms,
                    _ => {
                        return Err(Error::bad_request(
                            "poll_interval must be milliseconds from 50 to 3600000",
                        ))
                    }
                },
                "db_updates" => match value.as_bool() {
                    Some(b) => out.db_updates = b,
                    None => return Err(Error::bad_request("db_updates must be true or false")),
                },
                other => return Err(Error::bad_request(format!("unknown scheduler option {other:?}"))),
            }
        }
        Ok(out)
    }
}

/// Who goes first when connections are scarce.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub enum Priority {
    /// The `_db_updates` feed: it tells which databases to look at, so it never waits behind them.
    Urgent,
    /// Requests that move docs and checkpoints.
    Normal,
    /// Polls for changes.
    Background,
}

struct Queued {
    ticket: u64,
    priority: Priority,
    waker: Option<Waker>,
}

/// A first-come, first-served semaphore: at most `limit` permits out at once.
#[derive(Default)]
pub struct Pool {
    limit: Cell<usize>,
    in_flight: Cell<usize>,
    peak: Cell<usize>,
    next_ticket: Cell<u64>,
    /// Waiters in the order they are served: by priority, then first come, first served.
    queue: RefCell<VecDeque<Queued>>,
}

impl Pool {
    pub fn new(limit: usize) -> Rc<Pool> {
        let pool = Pool::default();
        pool.limit.set(limit.max(1));
        Rc::new(pool)
    }

    pub fn set_limit(&self, limit: usize) {
        self.limit.set(limit.max(1));
        self.wake_head();
    }

    pub fn limit(&self) -> usize {
        self.limit.get()
    }

    pub fn in_flight(&self) -> usize {
        self.in_flight.get()
    }

    /// The most permits out at once since the pool was made (or `reset_peak`).
    pub fn peak(&self) -> usize {
        self.peak.get()
    }

    pub fn reset_peak(&self) {
        self.peak.set(self.in_flight.get());
    }

    pub fn waiting(&self) -> usize {
        self.queue.borrow().len()
    }

    /// Resolves to a permit once one is free and every earlier caller has had theirs.
    pub fn acquire(self: &Rc<Self>) -> Acquire {
        self.acquire_as(Priority::Normal)
    }

    /// `acquire`, served after every waiting caller of a higher priority and before any of a
    /// lower one: a replication moving docs never queues behind a round of polls.
    pub fn acquire_as(self: &Rc<Self>, priority: Priority) -> Acquire {
        Acquire { pool: self.clone(), ticket: None, done: false, priority }
    }

    fn take(self: &Rc<Self>) -> Permit {
        self.in_flight.set(self.in_flight.get() + 1);
        self.peak.set(self.peak.get().max(self.in_flight.get()));
        Permit { pool: self.clone() }
    }

    fn free(&self) -> bool {
        self.in_flight.get() < self.limit.get()
    }

    fn wake_head(&self) {
        if self.free() {
            if let Some(Queued { waker: Some(waker), .. }) = self.queue.borrow().front() {
                waker.wake_by_ref();
            }
        }
    }
}

/// A connection in use; dropping it frees the slot for the next waiter.
pub struct Permit {
    pool: Rc<Pool>,
}

impl Drop for Permit {
    fn drop(&mut self) {
        self.pool.in_flight.set(self.pool.in_flight.get() - 1);
        self.pool.wake_head();
    }
}

pub struct Acquire {
    pool: Rc<Pool>,
    ticket: Option<u64>,
    done: bool,
    priority: Priority,
}

impl Future for Acquire {
    type Output = Permit;
    fn poll(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Permit> {
        let pool = self.pool.clone();
        match self.ticket {
            None if pool.free() && pool.queue.borrow().is_empty() => {
                self.done = true;
                Poll::Ready(pool.take())
            }
            None => {
                let ticket = pool.next_ticket.get();
                pool.next_ticket.set(ticket + 1);
                let priority = self.priority;
                let entry = Queued { ticket, priority, waker: Some(cx.waker().clone()) };
                let mut queue = pool.queue.borrow_mut();
                let at = queue.iter().position(|q| q.priority > priority).unwrap_or(queue.len());
                queue.insert(at, entry);
                drop(queue);
                self.ticket = Some(ticket);
                // It may have gone to the head past a waiter of a lower priority.
                pool.wake_head();
                Poll::Pending
            }
            Some(ticket) => {
                let mut queue = pool.queue.borrow_mut();
                if pool.free() && queue.front().map(|e| e.ticket) == Some(ticket) {
                    queue.pop_front();
                    drop(queue);
                    self.done = true;
                    let permit = pool.take();
                    // More than one slot may have freed: let the next in line look too.
                    pool.wake_head();
                    return Poll::Ready(permit);
                }
                if let Some(entry) = queue.iter_mut().find(|e| e.ticket == ticket) {
                    entry.waker = Some(cx.waker().clone());
                }
                Poll::Pending
            }
        }
    }
}

impl Drop for Acquire {
    fn drop(&mut self) {
        if let (false, Some(ticket)) = (self.done, self.ticket) {
            self.pool.queue.borrow_mut().retain(|e| e.ticket != ticket);
            self.pool.wake_head();
        }
    }
}

/// Where this page stands with a server's `_db_updates` feed.
#[derive(Clone, Copy, Debug, PartialEq)]
pub enum Feed {
    /// Not running; may be started.
    Idle,
    /// Started; `ready` once it has its starting seq.
    Running { ready: bool },
    /// Not to be asked before this time (ms since the epoch).
    Refused { until: f64 },
}

/// One server, as this page's replications see it.
pub struct Origin {
    pub pool: Rc<Pool>,
    /// Live replications waiting for this server's next change.
    waiters: Cell<usize>,
    /// Of those, the ones polling (not holding a longpoll).
    pollers: Cell<usize>,
    /// Notified when longpolls must give their connections back.
    pub preempt: Rc<Notify>,
    /// Notified when the `_db_updates` feed starts, becomes ready or stops.
    pub feed_changed: Rc<Notify>,
    feed: Cell<Feed>,
    dbs: RefCell<HashMap<String, Weak<Notify>>>,
}

impl Origin {
    fn new(max_connections: usize) -> Rc<Origin> {
        Rc::new(Origin {
            pool: Pool::new(max_connections),
            waiters: Cell::new(0),
            pollers: Cell::new(0),
            preempt: Rc::new(Notify::default()),
            feed_changed: Rc::new(Notify::default()),
            feed: Cell::new(Feed::Idle),
            dbs: RefCell::new(HashMap::new()),
        })
    }

    /// Counts a live replication as waiting on this server until the guard is dropped.
    pub fn wait(self: &Rc<Self>) -> Waiting {
        self.waiters.set(self.waiters.get() + 1);
        if !self.longpoll_allowed() {
            self.preempt.notify();
        }
        Waiting { origin: self.clone(), polling: Cell::new(false) }
    }

    pub fn waiters(&self) -> usize {
        self.waiters.get()
    }

    pub fn pollers(&self) -> usize {
        self.pollers.get()
    }

    /// A waiter may hold a longpoll while the waiters leave a connection free for passes.
    pub fn longpoll_allowed(&self) -> bool {
        self.waiters.get() < self.pool.limit()
    }

    /// The signal `db_updated(db)` notifies (kept while someone holds it).
    pub fn db_signal(&self, db: &str) -> Rc<Notify> {
        let mut dbs = self.dbs.borrow_mut();
        if let Some(signal) = dbs.get(db).and_then(Weak::upgrade) {
            return signal;
        }
        let signal = Rc::new(Notify::default());
        dbs.retain(|_, w| w.strong_count() > 0);
        dbs.insert(db.to_string(), Rc::downgrade(&signal));
        signal
    }

    /// The `_db_updates` feed named `db`.
    pub fn db_updated(&self, db: &str) {
        let signal = self.dbs.borrow().get(db).and_then(Weak::upgrade);
        if let Some(signal) = signal {
            signal.notify();
        }
    }

    pub fn feed(&self) -> Feed {
        self.feed.get()
    }

    pub fn set_feed(&self, feed: Feed) {
        if self.feed.replace(feed) != feed {
            self.feed_changed.notify();
        }
    }

    /// Whether a `_db_updates` feed should be started now (`now`: ms since the epoch).
    pub fn feed_wanted(&self, now: f64, settings: &Settings) -> bool {
        settings.db_updates
            && self.pollers.get() > 0
            && match self.feed.get() {
                Feed::Idle => true,
                Feed::Running { .. } => false,
                Feed::Refused { until } => now >= until,
            }
    }

    /// How long a polling waiter sleeps before its next poll.
    pub fn poll_sleep_ms(&self, settings: &Settings) -> u64 {
        match self.feed.get() {
            Feed::Running { ready: true } => SAFETY_POLL_MS,
            _ => settings.poll_interval_ms,
        }
    }
}

/// A live replication waiting on an `Origin`.
pub struct Waiting {
    origin: Rc<Origin>,
    polling: Cell<bool>,
}

impl Waiting {
    /// Marks this waiter as polling (or back to longpolling).
    pub fn set_polling(&self, polling: bool) {
        if self.polling.replace(polling) != polling {
            let n = self.origin.pollers.get();
            self.origin.pollers.set(if polling { n + 1 } else { n - 1 });
            if n == 1 && !polling {
                // The last poller is gone: the `_db_updates` feed should stop.
                self.origin.feed_changed.notify();
            }
        }
    }
}

impl Drop for Waiting {
    fn drop(&mut self) {
        self.set_polling(false);
        self.origin.waiters.set(self.origin.waiters.get() - 1);
    }
}

thread_local! {
    static SETTINGS: Cell<Settings> = Cell::new(Settings::default());
    static ORIGINS: RefCell<HashMap<String, Rc<Origin>>> = RefCell::new(HashMap::new());
}

pub fn settings() -> Settings {
    SETTINGS.with(Cell::get)
}

/// Applies new settings to this page's servers, the ones already in use included.
pub fn configure(settings: Settings) {
    SETTINGS.with(|s| s.set(settings));
    ORIGINS.with(|o| {
        for origin in o.borrow().values() {
            origin.pool.set_limit(settings.max_connections);
            // Waiters re-decide between longpoll and poll.
            origin.preempt.notify();
            origin.feed_changed.notify();
        }
    });
}

/// The state of the server whose root URL is `key`.
pub fn origin(key: &str) -> Rc<Origin> {
    ORIGINS.with(|o| {
        o.borrow_mut()
            .entry(key.to_string())
            .or_insert_with(|| Origin::new(settings().max_connections))
            .clone()
    })
}

/// Per server root: (requests in flight, most in flight at once, waiting for a connection,
/// live replications waiting for a change, of which polling).
pub fn stats() -> Vec<(String, [usize; 5])> {
    ORIGINS.with(|o| {
        let mut rows: Vec<_> = o
            .borrow()
            .iter()
            .map(|(k, v)| {
                (k.clone(), [v.pool.in_flight(), v.pool.peak(), v.pool.waiting(), v.waiters(), v.pollers()])
            })
            .collect();
        rows.sort();
        rows
    })
}

/// Starts every server's "most in flight at once" over from now.
pub fn reset_peaks() {
    ORIGINS.with(|o| o.borrow().values().for_each(|v| v.pool.reset_peak()));
}
