//! `ChangesFeed`: a live changes feed as a pull API. `next()` resolves with the next non-empty
//! batch of change rows, waiting for a commit (this handle's or another tab's) when there is
//! none, and with `undefined` once cancelled, closed, or past its `limit`. The TS wrapper turns
//! it into an event emitter and an async iterator.

use super::convert::to_js;
use super::error::to_js as err_to_js;
use crate::db::{self, notify::Notify, ChangesRequest};
use crate::error::Result;
use futures::future::{select, Either};
use js_sys::Promise;
use serde_json::Value;
use std::cell::{Cell, RefCell};
use std::rc::Rc;
use wasm_bindgen::prelude::*;
use wasm_bindgen_futures::future_to_promise;

struct Feed {
    db: Rc<db::Database>,
    options: RefCell<Option<Result<Value>>>,
    request: RefCell<Option<ChangesRequest>>,
    cancelled: Cell<bool>,
    cancel: Rc<Notify>,
    last_seq: Cell<u64>,
}

#[wasm_bindgen]
pub struct ChangesFeed {
    feed: Rc<Feed>,
}

impl ChangesFeed {
    pub(super) fn new(db: Rc<db::Database>, options: Result<Value>) -> ChangesFeed {
        ChangesFeed {
            feed: Rc::new(Feed {
                db,
                options: RefCell::new(Some(options)),
                request: RefCell::new(None),
                cancelled: Cell::new(false),
                cancel: Rc::new(Notify::default()),
                last_seq: Cell::new(0),
            }),
        }
    }
}

impl Feed {
    fn done(&self) -> bool {
        self.cancelled.get() || self.db.is_closed()
    }

    async fn next(&self) -> Result<Option<String>> {
        if self.request.borrow().is_none() {
            let options = self.options.borrow_mut().take().unwrap_or(Ok(Value::Null))?;
            let req = ChangesRequest::parse(&self.db, &options).await?;
            self.last_seq.set(req.since);
            *self.request.borrow_mut() = Some(req);
        }
        let notify = self.db.notifier();
        loop {
            let req = self.request.borrow().clone().expect("parsed above");
            if self.done() || req.limit == Some(0) {
                return Ok(None);
            }
            let seen = (notify.generation(), self.cancel.generation());
            let (rows, last_seq) = self.db.changes_page(&req).await?;
            {
                let mut r = self.request.borrow_mut();
                let r = r.as_mut().expect("parsed above");
                r.since = last_seq;
                r.limit = r.limit.map(|l| l.saturating_sub(rows.len() as u64));
            }
            self.last_seq.set(last_seq);
            if !rows.is_empty() {
                return Ok(Some(db::changes::ChangeRow::to_json(&rows)));
            }
            let changed = notify.changed_since(seen.0);
            let cancelled = self.cancel.changed_since(seen.1);
            if let Either::Right(_) = select(changed, cancelled).await {
                return Ok(None);
            }
        }
    }
}

#[wasm_bindgen]
impl ChangesFeed {
    pub fn next(&self) -> Promise {
        let feed = self.feed.clone();
        future_to_promise(async move {
            match feed.next().await.map_err(err_to_js)? {
                Some(json) => to_js(&json).map_err(err_to_js),
                None => Ok(JsValue::UNDEFINED),
            }
        })
    }

    pub fn cancel(&self) {
        self.feed.cancelled.set(true);
        self.feed.cancel.notify();
    }

    #[wasm_bindgen(getter, js_name = lastSeq)]
    pub fn last_seq(&self) -> f64 {
        self.feed.last_seq.get() as f64
    }
}
