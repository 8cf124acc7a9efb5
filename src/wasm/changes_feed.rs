//! `ChangesFeed`: the JS face of `db::live::LiveChanges`. The TS wrapper turns its `next()`
//! into an event emitter and an async iterator.

use super::convert::to_js;
use super::error::to_js as err_to_js;
use super::promise::spawn;
use crate::db::{self, live::LiveChanges};
use crate::error::Result;
use js_sys::Promise;
use serde_json::Value;
use std::rc::Rc;
use wasm_bindgen::prelude::*;

#[wasm_bindgen]
pub struct ChangesFeed {
    feed: Rc<LiveChanges>,
}

impl ChangesFeed {
    pub(super) fn new(db: Rc<db::Database>, options: Result<Value>) -> ChangesFeed {
        ChangesFeed { feed: Rc::new(LiveChanges::new(db, options)) }
    }
}

#[wasm_bindgen]
impl ChangesFeed {
    /// Resolves with the next batch of change rows, or `undefined` once the feed has ended.
    pub fn next(&self) -> Promise {
        let feed = self.feed.clone();
        spawn(async move {
            match feed.next().await.map_err(err_to_js)? {
                Some(json) => to_js(&json).map_err(err_to_js),
                None => Ok(JsValue::UNDEFINED),
            }
        })
    }

    pub fn cancel(&self) {
        self.feed.cancel();
    }

    #[wasm_bindgen(getter, js_name = lastSeq)]
    pub fn last_seq(&self) -> f64 {
        self.feed.last_seq() as f64
    }
}
