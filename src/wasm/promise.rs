//! Promises that always settle, even when Rust panics.
//!
//! On wasm32 a panic aborts: the trap unwinds out of whatever JS callback was polling the
//! future, and a plain `future_to_promise` promise would then stay pending forever. So every
//! promise Settee hands out registers its `reject` here, and the panic hook rejects them all
//! with a readable 500 error before the trap. After a panic the module's memory may hold
//! half-done state, so every later call is rejected at once with the same message: the page
//! has to reload Settee.

use crate::error::Error;
use js_sys::{Function, Promise};
use std::cell::{Cell, RefCell};
use std::collections::HashMap;
use std::future::Future;
use std::pin::Pin;
use wasm_bindgen::JsValue;

thread_local! {
    static PENDING: RefCell<HashMap<u32, Function>> = RefCell::new(HashMap::new());
    static NEXT_ID: Cell<u32> = const { Cell::new(0) };
    static POISONED: RefCell<Option<String>> = const { RefCell::new(None) };
}

fn internal_error(panic: &str) -> JsValue {
    super::error::to_js(Error::new(500, "unknown_error", format!("Settee internal error: {panic}")))
}

type JsFuture = Pin<Box<dyn Future<Output = Result<JsValue, JsValue>>>>;

/// Runs `f` and settles the returned promise with its outcome.
#[inline]
pub fn spawn<F>(f: F) -> Promise
where
    F: Future<Output = Result<JsValue, JsValue>> + 'static,
{
    spawn_boxed(Box::pin(f))
}

/// `spawn`'s body, compiled once: generic, it was compiled (and `f` inlined into it) once per
/// exported method (~51 kB of raw wasm, ~12 kB gzip). The extra cost: one small allocation a call.
#[inline(never)]
fn spawn_boxed(f: JsFuture) -> Promise {
    if let Some(panic) = POISONED.with(|p| p.borrow().clone()) {
        return Promise::reject(&internal_error(&panic));
    }
    let mut settle = None;
    let promise = Promise::new(&mut |resolve, reject| settle = Some((resolve, reject)));
    let (resolve, reject) = settle.expect("the Promise executor runs synchronously");
    let id = NEXT_ID.with(|n| {
        n.set(n.get().wrapping_add(1));
        n.get()
    });
    PENDING.with(|p| p.borrow_mut().insert(id, reject.clone()));
    wasm_bindgen_futures::spawn_local(async move {
        let outcome = f.await;
        PENDING.with(|p| p.borrow_mut().remove(&id));
        let _ = match outcome {
            Ok(v) => resolve.call1(&JsValue::UNDEFINED, &v),
            Err(e) => reject.call1(&JsValue::UNDEFINED, &e),
        };
    });
    promise
}

/// Logs the panic and rejects every pending promise with it.
pub fn install_panic_hook() {
    std::panic::set_hook(Box::new(|info| {
        let message = info.to_string();
        web_sys::console::error_1(&JsValue::from_str(&format!("Settee panicked: {message}")));
        POISONED.with(|p| {
            if let Ok(mut p) = p.try_borrow_mut() {
                *p = Some(message.clone());
            }
        });
        let pending =
            PENDING.with(|p| p.try_borrow_mut().map(|mut m| std::mem::take(&mut *m)).unwrap_or_default());
        for reject in pending.values() {
            let _ = reject.call1(&JsValue::UNDEFINED, &internal_error(&message));
        }
    }));
}
