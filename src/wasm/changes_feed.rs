//! `ChangesFeed`: the JS face of a live changes feed: `db::live::LiveChanges` for a local
//! database, `http::live_changes::RemoteChanges` (longpolls) for a remote one. The TS wrapper
//! turns its `next()` into an event emitter and an async iterator.

use super::attachments::fill_docs_of;
use super::convert::to_js;
use super::error::to_js as err_to_js;
use super::promise::spawn;
use crate::db::changes_filter::FilterContext;
use crate::db::{self, live::LiveChanges};
use crate::error::Result;
use crate::replicate::http::live_changes::RemoteChanges;
use crate::replicate::http::HttpPeer;
use js_sys::Promise;
use serde_json::Value;
use std::rc::Rc;
use wasm_bindgen::prelude::*;

#[derive(Clone)]
enum Feed {
    Local(Rc<LiveChanges>),
    Remote(Rc<RemoteChanges>),
}

#[wasm_bindgen]
pub struct ChangesFeed {
    feed: Feed,
    /// Fill each row's attachment stubs with `Blob`s (a local feed with `binary: true`).
    binary: Option<Rc<db::Database>>,
}

impl ChangesFeed {
    pub(super) fn new(db: Rc<db::Database>, options: Result<Value>) -> ChangesFeed {
        ChangesFeed { feed: Feed::Local(Rc::new(LiveChanges::new(db, options))), binary: None }
    }

    pub(super) fn with_filters(
        db: Rc<db::Database>,
        options: Result<Value>,
        ctx: FilterContext,
        binary: bool,
    ) -> ChangesFeed {
        let binary = binary.then(|| db.clone());
        ChangesFeed { feed: Feed::Local(Rc::new(LiveChanges::with_filters(db, options, ctx))), binary }
    }

    pub(super) fn remote(peer: Rc<HttpPeer>, options: Value) -> Result<ChangesFeed> {
        Ok(ChangesFeed { feed: Feed::Remote(Rc::new(RemoteChanges::new(peer, options)?)), binary: None })
    }
}

#[wasm_bindgen]
impl ChangesFeed {
    /// Resolves with the next batch of change rows, or `undefined` once the feed has ended.
    pub fn next(&self) -> Promise {
        let feed = self.feed.clone();
        let binary = self.binary.clone();
        spawn(async move {
            let rows = match &feed {
                Feed::Local(f) => f.next().await,
                Feed::Remote(f) => f.next().await,
            };
            match rows.map_err(err_to_js)? {
                Some(json) => {
                    let rows = to_js(&json).map_err(err_to_js)?;
                    if let Some(db) = binary {
                        fill_docs_of(&db, &rows, "doc").await.map_err(err_to_js)?;
                    }
                    Ok(rows)
                }
                None => Ok(JsValue::UNDEFINED),
            }
        })
    }

    pub fn cancel(&self) {
        match &self.feed {
            Feed::Local(f) => f.cancel(),
            Feed::Remote(f) => f.cancel(),
        }
    }

    /// The seq of the last change delivered: a number locally; a remote server's own seq
    /// (a number or, from CouchDB 2+, an opaque string).
    #[wasm_bindgen(getter, js_name = lastSeq)]
    pub fn last_seq(&self) -> JsValue {
        match &self.feed {
            Feed::Local(f) => JsValue::from(f.last_seq() as f64),
            Feed::Remote(f) => to_js(&f.last_seq().to_string()).unwrap_or(JsValue::NULL),
        }
    }
}
