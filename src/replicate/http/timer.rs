//! `sleep(ms)` on the global `setTimeout`, so it works in a window, a worker and Node alike.
//!
//! Dropping the future before it fires calls `clearTimeout`: a request that answered before
//! its deadline, or a replication cancelled during its back-off, leaves no timer behind. In
//! Node a pending timer keeps the process alive, so a forgotten 60 s deadline would hold a
//! finished script open for a minute.

use js_sys::{Function, Promise, Reflect};
use std::future::Future;
use std::pin::Pin;
use std::task::{Context, Poll};
use wasm_bindgen::{JsCast, JsValue};
use wasm_bindgen_futures::JsFuture;

fn global_fn(name: &str) -> Option<Function> {
    Reflect::get(&js_sys::global(), &JsValue::from_str(name)).ok().and_then(|f| f.dyn_into::<Function>().ok())
}

/// A pending `setTimeout`; cleared if dropped before it fires.
pub struct Sleep {
    fired: JsFuture,
    timer: JsValue,
    done: bool,
}

impl Future for Sleep {
    type Output = ();
    fn poll(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<()> {
        match Pin::new(&mut self.fired).poll(cx) {
            Poll::Ready(_) => {
                self.done = true;
                Poll::Ready(())
            }
            Poll::Pending => Poll::Pending,
        }
    }
}

impl Drop for Sleep {
    fn drop(&mut self) {
        if !self.done && !self.timer.is_undefined() {
            if let Some(clear) = global_fn("clearTimeout") {
                let _ = clear.call1(&JsValue::UNDEFINED, &self.timer);
            }
        }
    }
}

pub fn sleep(ms: u64) -> Sleep {
    let mut timer = JsValue::UNDEFINED;
    let promise = Promise::new(&mut |resolve, _reject| match global_fn("setTimeout") {
        Some(f) => {
            timer = f.call2(&JsValue::UNDEFINED, &resolve, &JsValue::from_f64(ms as f64)).unwrap_or_default();
        }
        None => {
            let _ = resolve.call0(&JsValue::UNDEFINED);
        }
    });
    Sleep { fired: JsFuture::from(promise), timer, done: false }
}

/// Milliseconds since the epoch (`Date.now()`).
pub fn now_ms() -> f64 {
    js_sys::Date::now()
}
