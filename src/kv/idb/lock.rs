//! The compaction lock: `navigator.locks.request(name, {ifAvailable: true}, callback)`.
//!
//! The Web Locks API holds a lock until the promise returned by the callback settles, so the
//! callback returns a promise that our guard resolves when dropped. `ifAvailable` makes the
//! browser call the callback with `null` at once if another tab holds the lock: that tab is
//! compacting, so we skip. web-sys's `LockManager` needs `--cfg web_sys_unstable_apis`, hence
//! the reflection. Where `navigator.locks` is missing (older workers) we run unlocked: the
//! manifest's version check still keeps two compactions from both committing.

use crate::error::{Error, Result};
use crate::kv::records::LockGuard;
use js_sys::{Function, Object, Promise, Reflect};
use wasm_bindgen::closure::Closure;
use wasm_bindgen::{JsCast, JsValue};
use wasm_bindgen_futures::JsFuture;

struct WebLock {
    release: Function,
}

impl Drop for WebLock {
    fn drop(&mut self) {
        let _ = self.release.call0(&JsValue::UNDEFINED);
    }
}

fn js_err(e: JsValue) -> Error {
    Error::storage(format!("Web Locks: {e:?}"))
}

/// A promise and the function that resolves it.
fn deferred() -> (Promise, Function) {
    let mut resolve = None;
    let promise = Promise::new(&mut |res, _rej| resolve = Some(res));
    (promise, resolve.expect("the executor runs synchronously"))
}

pub async fn try_lock(name: &str) -> Result<Option<LockGuard>> {
    let global = js_sys::global();
    let locks = Reflect::get(&global, &"navigator".into())
        .ok()
        .filter(|n| n.is_object())
        .and_then(|n| Reflect::get(&n, &"locks".into()).ok())
        .filter(|l| l.is_object());
    let Some(locks) = locks else { return Ok(Some(Box::new(()))) };
    let request: Function =
        Reflect::get(&locks, &"request".into()).map_err(js_err)?.dyn_into().map_err(js_err)?;

    let (held_until, release) = deferred();
    let (granted, grant) = deferred();
    let callback = Closure::once_into_js(move |lock: JsValue| -> JsValue {
        let got = !lock.is_null() && !lock.is_undefined();
        let _ = grant.call1(&JsValue::UNDEFINED, &JsValue::from_bool(got));
        if got {
            held_until.into()
        } else {
            JsValue::UNDEFINED
        }
    });
    let options = Object::new();
    Reflect::set(&options, &"ifAvailable".into(), &JsValue::TRUE).map_err(js_err)?;
    let outcome = request.call3(&locks, &name.into(), &options, &callback).map_err(js_err)?;
    // The request's own promise settles when the lock is released; nothing to wait for, but
    // a rejection must not surface as an unhandled one.
    if let Ok(catch) = Reflect::get(&outcome, &"catch".into()).and_then(|c| c.dyn_into::<Function>()) {
        let ignore = Closure::once_into_js(|_: JsValue| {});
        let _ = catch.call1(&outcome, &ignore);
    }
    let got = JsFuture::from(granted).await.map_err(js_err)?.as_bool().unwrap_or(false);
    Ok(got.then(|| Box::new(WebLock { release }) as LockGuard))
}
