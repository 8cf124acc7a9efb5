//! `RemoteChanges`: `changes({live: true})` of a remote database, as a loop of longpoll
//! `_changes` requests, each starting at the `last_seq` of the one before.
//!
//! - `next()` resolves with the rows of the next non-empty answer; an answer with no rows
//!   (CouchDB's longpoll timing out) just starts the next request.
//! - `cancel()` aborts the request in flight (dropping it aborts its fetch) and ends the feed.
//! - A failed request ends the feed with its error, as PouchDB's live changes do without
//!   `retry`; replication (`replicate({live: true, retry: true})`) is the resilient way to
//!   follow a server.
//! - Seqs are CouchDB's: numbers from some servers, opaque strings from CouchDB 2+. `since`
//!   defaults to 0; `'now'` is resolved by the first request (`descending=true&limit=1`
//!   answers the current end without reading the feed).

use super::HttpPeer;
use crate::db::notify::Notify;
use crate::error::{Error, Result};
use crate::replicate::remote::api::changes_call;
use futures::future::{select, Either};
use serde_json::{json, Value};
use std::cell::{Cell, RefCell};
use std::rc::Rc;

pub struct RemoteChanges {
    peer: Rc<HttpPeer>,
    options: Value,
    /// Where the next request starts; `None` until `since: 'now'` is resolved.
    since: RefCell<Option<Value>>,
    /// Rows still wanted under `limit`.
    left: Cell<Option<u64>>,
    cancelled: Cell<bool>,
    cancel: Rc<Notify>,
}

impl RemoteChanges {
    pub fn new(peer: Rc<HttpPeer>, mut options: Value) -> Result<RemoteChanges> {
        if !options.is_object() && !options.is_null() {
            return Err(Error::bad_request("changes options must be an object"));
        }
        let since = match options.get("since") {
            Some(Value::String(s)) if s == "now" => None,
            Some(v) if !v.is_null() => Some(v.clone()),
            _ => Some(json!(0)),
        };
        let left = options.get("limit").and_then(Value::as_u64);
        if let Value::Object(m) = &mut options {
            m.remove("since");
            m.remove("limit");
        }
        Ok(RemoteChanges {
            peer,
            options,
            since: RefCell::new(since),
            left: Cell::new(left),
            cancelled: Cell::new(false),
            cancel: Rc::new(Notify::default()),
        })
    }

    /// The seq the next request starts from (`null` until `since: 'now'` is resolved).
    pub fn last_seq(&self) -> Value {
        self.since.borrow().clone().unwrap_or(Value::Null)
    }

    pub fn cancel(&self) {
        self.cancelled.set(true);
        self.cancel.notify();
    }

    /// The rows (JSON text of an array) of the next non-empty answer; `None` once cancelled
    /// or past `limit`.
    pub async fn next(&self) -> Result<Option<String>> {
        loop {
            if self.cancelled.get() || self.left.get() == Some(0) {
                return Ok(None);
            }
            let seen = self.cancel.generation();
            let since = self.since.borrow().clone();
            let Some(since) = since else {
                let now = self.request(json!({"descending": true, "limit": 1}), None, seen).await?;
                let Some(answer) = now else { return Ok(None) };
                *self.since.borrow_mut() = Some(answer["last_seq"].clone());
                continue;
            };
            let mut options = self.options.clone();
            if let Some(left) = self.left.get() {
                options["limit"] = left.into();
            }
            let Some(mut answer) = self.request(options, Some(&since), seen).await? else { return Ok(None) };
            let rows = match answer.get_mut("results").map(Value::take) {
                Some(Value::Array(rows)) => rows,
                _ => return Err(Error::storage("the server's _changes answer has no results")),
            };
            if let Some(seq) = answer.get_mut("last_seq").map(Value::take).filter(|s| !s.is_null()) {
                *self.since.borrow_mut() = Some(seq);
            }
            if rows.is_empty() {
                continue;
            }
            self.left.set(self.left.get().map(|l| l.saturating_sub(rows.len() as u64)));
            return Ok(Some(Value::Array(rows).to_string()));
        }
    }

    /// One `_changes` request, or `None` if the feed is cancelled first (the request is
    /// dropped, which aborts it).
    async fn request(&self, options: Value, since: Option<&Value>, seen: u64) -> Result<Option<Value>> {
        let call = changes_call(&options, since);
        let client = self.peer.client();
        let request = Box::pin(client.raw_unlimited(call.method, &call.path, call.body.as_ref()));
        let answer = match select(request, self.cancel.changed_since(seen)).await {
            Either::Left((answer, _)) => answer.map(Some),
            Either::Right(_) => Ok(None),
        };
        answer
    }
}
