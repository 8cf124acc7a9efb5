//! `Database`'s conflict methods (a third `#[wasm_bindgen] impl` block): `conflicts`,
//! `conflictFeed` and `resolveConflict`; and `ConflictFeed`, the JS face of
//! `db::conflict_events::ConflictFeed`, which the TS wrapper turns into `'conflict'` events.
//!
//! `resolveConflict(id, merge)`: `merge(winner, losers)` may return the merged doc or a
//! promise of it. If it throws (or its promise rejects), the call rejects with that very
//! value, not a Settee error: it is the app's own error, and nothing was written.

use super::convert::{from_js, to_js};
use super::database::Database;
use super::error::{to_js as err_to_js, to_js_for_doc};
use super::promise::spawn;
use crate::db::{self, conflict_events};
use crate::error::{Error, Result};
use js_sys::{Function, Promise};
use serde_json::Value;
use std::cell::RefCell;
use std::rc::Rc;
use wasm_bindgen::prelude::*;
use wasm_bindgen::JsCast;
use wasm_bindgen_futures::JsFuture;

#[wasm_bindgen]
impl Database {
    /// `conflicts({startkey, endkey, limit, skip, include_docs})`: `{rows: [{id, rev,
    /// conflicts, doc?}]}` from the conflict index.
    pub fn conflicts(&self, options: JsValue) -> Promise {
        let db = self.inner.clone();
        spawn(async move {
            let run = async { to_js(&db.conflicts(&from_js(&options)?).await?) };
            run.await.map_err(err_to_js)
        })
    }

    /// A live feed of this handle's conflict events, from now on.
    #[wasm_bindgen(js_name = conflictFeed)]
    pub fn conflict_feed(&self) -> ConflictFeed {
        ConflictFeed { feed: Rc::new(conflict_events::ConflictFeed::new(self.inner.clone())) }
    }

    /// `resolveConflict(id, merge)`: resolves with `{ok, id, rev}` (see `db::conflict_resolve`).
    #[wasm_bindgen(js_name = resolveConflict)]
    pub fn resolve_conflict(&self, id: JsValue, merge: JsValue) -> Promise {
        let db = self.inner.clone();
        spawn(async move {
            let thrown: Rc<RefCell<Option<JsValue>>> = Rc::default();
            let run = async {
                let id = id.as_string().ok_or_else(|| Error::bad_request("id must be a string"))?;
                let merge: Function =
                    merge.dyn_into().map_err(|_| Error::bad_request("merge must be a function"))?;
                let thrown = thrown.clone();
                db.resolve_conflict(&id, move |winner, losers| {
                    call_merge(merge.clone(), winner, losers, thrown.clone())
                })
                .await
            };
            match run.await {
                Ok(json) => to_js(&json).map_err(err_to_js),
                Err(e) => Err(thrown
                    .borrow_mut()
                    .take()
                    .unwrap_or_else(|| to_js_for_doc(e, id.as_string().as_deref()))),
            }
        })
    }
}

/// Calls the app's `merge` and awaits what it returns; a throw is kept in `thrown`.
async fn call_merge(
    merge: Function,
    winner: Value,
    losers: Vec<Value>,
    thrown: Rc<RefCell<Option<JsValue>>>,
) -> Result<Value> {
    let keep = |e: JsValue| {
        *thrown.borrow_mut() = Some(e);
        Error::new(500, "merge_failed", "merge threw")
    };
    let w = to_js(&winner.to_string())?;
    let l = to_js(&Value::Array(losers).to_string())?;
    let out = merge.call2(&JsValue::NULL, &w, &l).map_err(keep)?;
    // `Promise.resolve` takes a plain value, a promise or any thenable alike.
    let out = JsFuture::from(Promise::resolve(&out)).await.map_err(keep)?;
    from_js(&out)
}

#[wasm_bindgen]
pub struct ConflictFeed {
    feed: Rc<conflict_events::ConflictFeed>,
}

#[wasm_bindgen]
impl ConflictFeed {
    /// Resolves with the next events (`[{id, rev, conflicts, replicated}]`), or `undefined`
    /// once the feed is cancelled or the database closed.
    pub fn next(&self) -> Promise {
        let feed = self.feed.clone();
        spawn(async move {
            match feed.next().await.map_err(err_to_js)? {
                Some(events) => to_js(&db::json::to_json(&events)).map_err(err_to_js),
                None => Ok(JsValue::UNDEFINED),
            }
        })
    }

    pub fn cancel(&self) {
        self.feed.cancel();
    }
}
