//! Running a background task (the refresh after another handle's announcement).
//!
//! In the browser it goes to the event loop. Natively there is no executor; the only native
//! record store (`MemoryRecords`) never suspends, so one poll runs the task to its end, right
//! inside the announcing handle's call. A task that does suspend is dropped: the next read or
//! write that needs fresh data refreshes anyway.

use std::future::Future;

#[cfg(target_arch = "wasm32")]
pub fn spawn(task: impl Future<Output = ()> + 'static) {
    wasm_bindgen_futures::spawn_local(task);
}

#[cfg(not(target_arch = "wasm32"))]
pub fn spawn(task: impl Future<Output = ()> + 'static) {
    let mut task = std::pin::pin!(task);
    let mut cx = std::task::Context::from_waker(std::task::Waker::noop());
    let _ = task.as_mut().poll(&mut cx);
}
