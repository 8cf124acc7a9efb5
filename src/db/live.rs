//! `LiveChanges`: a live changes feed as a pull API. `next()` resolves with the next non-empty
//! batch of change rows, waiting for a commit (this handle's or another tab's) when there is
//! none, and with `None` once cancelled, closed, or past its `limit`.

use super::changes::ChangesRequest;
use super::changes_filter::FilterContext;
use super::changes_out::ChangesOut;
use super::notify::Notify;
use super::shape::Shape;
use super::Database;
use crate::error::Result;
use futures::future::{select, Either};
use serde_json::Value;
use std::cell::{Cell, RefCell};
use std::rc::Rc;

pub struct LiveChanges {
    db: Rc<Database>,
    /// Options are parsed on the first `next()`, so that `since: 'now'` means "when started".
    options: RefCell<Option<Result<Value>>>,
    filter_ctx: FilterContext,
    request: RefCell<Option<ChangesRequest>>,
    cancelled: Cell<bool>,
    cancel: Rc<Notify>,
    last_seq: Cell<u64>,
}

impl LiveChanges {
    pub fn new(db: Rc<Database>, options: Result<Value>) -> LiveChanges {
        Self::with_filters(db, options, FilterContext::default())
    }

    /// A feed whose filter functions or design doc filters run with `filter_ctx`.
    pub fn with_filters(db: Rc<Database>, options: Result<Value>, filter_ctx: FilterContext) -> LiveChanges {
        LiveChanges {
            db,
            options: RefCell::new(Some(options)),
            filter_ctx,
            request: RefCell::new(None),
            cancelled: Cell::new(false),
            cancel: Rc::new(Notify::default()),
            last_seq: Cell::new(0),
        }
    }

    pub fn last_seq(&self) -> u64 {
        self.last_seq.get()
    }

    pub fn cancel(&self) {
        self.cancelled.set(true);
        self.cancel.notify();
    }

    fn done(&self) -> bool {
        self.cancelled.get() || self.db.is_closed()
    }

    /// The next batch of rows as a JSON array, or `None` when the feed has ended.
    pub async fn next(&self) -> Result<Option<String>> {
        if self.request.borrow().is_none() {
            let options = self.options.borrow_mut().take().unwrap_or(Ok(Value::Null))?;
            let req = ChangesRequest::parse_with(&self.db, &options, &self.filter_ctx).await?;
            self.last_seq.set(req.since);
            *self.request.borrow_mut() = Some(req);
        }
        let notify = self.db.notifier();
        loop {
            let req = self.request.borrow().clone().expect("parsed above");
            if self.done() || req.limit == Some(0) {
                return Ok(None);
            }
            // Read the generations before scanning, so a commit during the scan still wakes us.
            let seen = (notify.generation(), self.cancel.generation());
            let mut rows = ChangesOut::new(Shape::Rows, &req);
            let last_seq = self.db.changes_page(&req, &mut rows).await?;
            if let Some(r) = self.request.borrow_mut().as_mut() {
                r.since = last_seq;
                r.limit = r.limit.map(|l| l.saturating_sub(rows.len() as u64));
            }
            self.last_seq.set(last_seq);
            if !rows.is_empty() {
                return Ok(Some(self.db.with_attachment_data(&req, rows.into_rows()).await?));
            }
            let changed = notify.changed_since(seen.0);
            let cancelled = self.cancel.changed_since(seen.1);
            if let Either::Right(_) = select(changed, cancelled).await {
                return Ok(None);
            }
        }
    }
}
