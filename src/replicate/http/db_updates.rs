//! A server's `_db_updates` feed, followed while this page's live replications poll that
//! server (`scheduler`): each database it names wakes its polling replication at once.
//!
//! - It starts from the server's current end (`since=now`, a normal request that answers at
//!   once), and only then reports itself ready: the waiters then poll once more, so a change
//!   between their last poll and the feed's start is not missed.
//! - It stops when no replication polls any more, checked after each answer and whenever the
//!   scheduler's state changes (it never holds a connection for nothing).
//! - A refusal (400, 401, 403, 404, 405, 501: not an admin, or no such endpoint, as on
//!   pouchdb-server) is remembered for `UNSUPPORTED_RETRY_MS`; a network error or a 5xx for
//!   `FAILED_RETRY_MS`. Replications then poll at `poll_interval`.

use super::client::HttpClient;
use super::timer::now_ms;
use crate::error::Result;
use crate::replicate::remote::url::{percent_encode, DbUrl};
use crate::replicate::scheduler::{Feed, Origin, FAILED_RETRY_MS, UNSUPPORTED_RETRY_MS};
use futures::future::{select, Either};
use serde_json::Value;
use std::rc::Rc;

/// How long the server may hold a longpoll, and how long we wait for it.
const FEED_TIMEOUT_MS: u64 = 25_000;
const FEED_DEADLINE_MS: u64 = 30_000;

/// Starts following the feed of `origin`'s server with `url`'s credentials.
pub fn start(origin: &Rc<Origin>, url: &DbUrl) {
    origin.set_feed(Feed::Running { ready: false });
    let client = HttpClient::new(url.clone());
    let origin = origin.clone();
    wasm_bindgen_futures::spawn_local(async move {
        let next = match follow(&origin, &client).await {
            Ok(()) => Feed::Idle,
            Err(e) if matches!(e.status, 400 | 401 | 403 | 404 | 405 | 501) => {
                Feed::Refused { until: now_ms() + UNSUPPORTED_RETRY_MS }
            }
            Err(_) => Feed::Refused { until: now_ms() + FAILED_RETRY_MS },
        };
        origin.set_feed(next);
    });
}

fn seq_text(seq: &Value) -> String {
    match seq {
        Value::String(s) => percent_encode(s),
        other => other.to_string(),
    }
}

async fn follow(origin: &Rc<Origin>, client: &HttpClient) -> Result<()> {
    let first = client.server_poll("_db_updates?feed=normal&since=now", FEED_DEADLINE_MS).await?;
    let mut since = first.as_ref().map_or(Value::Null, |b| b["last_seq"].clone());
    if since.is_null() {
        // An answer without a seq cannot be resumed from: treat the feed as missing.
        return Err(crate::error::Error::new(501, "not_implemented", "_db_updates gave no last_seq"));
    }
    origin.set_feed(Feed::Running { ready: true });
    loop {
        if origin.pollers() == 0 {
            return Ok(());
        }
        let path = format!(
            "_db_updates?feed=longpoll&timeout={FEED_TIMEOUT_MS}&heartbeat=10000&since={}",
            seq_text(&since)
        );
        let seen = origin.feed_changed.generation();
        let poll = Box::pin(client.server_poll(&path, FEED_DEADLINE_MS));
        let answer = match select(poll, origin.feed_changed.changed_since(seen)).await {
            Either::Left((answer, _)) => answer?,
            // The scheduler changed (maybe no one polls any more): look again.
            Either::Right(_) => continue,
        };
        let Some(body) = answer else { continue };
        for row in body["results"].as_array().into_iter().flatten() {
            if let Some(db) = row["db_name"].as_str() {
                origin.db_updated(db);
            }
        }
        if let Some(seq) = body.get("last_seq").filter(|s| !s.is_null()) {
            since = seq.clone();
        }
    }
}
