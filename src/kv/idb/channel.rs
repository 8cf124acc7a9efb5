//! Cross-tab announcements over a `BroadcastChannel` named after the database.
//!
//! A message carries nothing but "I committed": receivers re-read the manifest, which is the
//! truth. A channel never receives its own messages, but another `BroadcastChannel` object with
//! the same name in the same page does, so two handles in one page hear each other like tabs.
//!
//! Posts are throttled to one per `THROTTLE_MS`; a commit inside that window gets one trailing
//! post. In a hidden tab the trailing post goes out at the next task (a message to ourselves)
//! instead of on a `setTimeout`: browsers stretch a background tab's timers to ~1 s (Firefox
//! did, in the bus tests), which held other tabs' view of the commit back that long.

use js_sys::{Function, JsString, Reflect};
use std::cell::{Cell, RefCell};
use std::rc::{Rc, Weak};
use wasm_bindgen::closure::Closure;
use wasm_bindgen::{JsCast, JsValue};
use web_sys::{BroadcastChannel, MessageChannel, MessageEvent};

/// The shortest interval between two posts, in milliseconds.
const THROTTLE_MS: f64 = 16.0;

/// When the last post went out, and the timer of the trailing one if it is pending.
#[derive(Default)]
struct Throttle {
    last: Cell<f64>,
    timer: Cell<Option<i32>>,
}

fn send(channel: &BroadcastChannel, throttle: &Throttle) {
    throttle.last.set(js_sys::Date::now());
    // Delivery is best effort by design; a closed channel just stays quiet.
    let _ = channel.post_message(&JsString::from("commit"));
}

fn global_fn(name: &str) -> Option<Function> {
    Reflect::get(&js_sys::global(), &name.into()).ok()?.dyn_into().ok()
}

type Subscribers = Rc<RefCell<Vec<Weak<dyn Fn()>>>>;

pub struct Channel {
    channel: BroadcastChannel,
    subscribers: Subscribers,
    _on_message: Closure<dyn FnMut(MessageEvent)>,
    throttle: Rc<Throttle>,
    /// Sends the trailing post; called by `setTimeout`, or by `soon`'s message.
    on_timer: Closure<dyn FnMut()>,
    /// A message to ourselves: the trailing post's timer in a hidden tab.
    soon: Option<MessageChannel>,
}

/// Whether this is a window whose document is hidden (a background tab).
fn hidden() -> bool {
    Reflect::get(&js_sys::global(), &"document".into())
        .ok()
        .filter(|d| d.is_object())
        .and_then(|d| Reflect::get(&d, &"visibilityState".into()).ok())
        .and_then(|v| v.as_string())
        .is_some_and(|v| v == "hidden")
}

impl Channel {
    /// `None` where `BroadcastChannel` does not exist; the store then only sees other tabs'
    /// commits when it refreshes or loses a race.
    pub fn open(name: &str) -> Option<Channel> {
        let channel = BroadcastChannel::new(name).ok()?;
        let subscribers: Subscribers = Rc::default();
        let subs = subscribers.clone();
        let on_message = Closure::<dyn FnMut(MessageEvent)>::new(move |_event: MessageEvent| {
            // Collect first: a subscriber may subscribe again while being called.
            let live: Vec<Rc<dyn Fn()>> = {
                let mut subs = subs.borrow_mut();
                subs.retain(|f| f.strong_count() > 0);
                subs.iter().filter_map(Weak::upgrade).collect()
            };
            for f in live {
                f();
            }
        });
        channel.set_onmessage(Some(on_message.as_ref().unchecked_ref()));
        let throttle: Rc<Throttle> = Rc::default();
        let (ch, th) = (channel.clone(), throttle.clone());
        let on_timer = Closure::<dyn FnMut()>::new(move || {
            th.timer.set(None);
            send(&ch, &th);
        });
        let soon = MessageChannel::new().ok();
        if let Some(ch) = &soon {
            ch.port1().set_onmessage(Some(on_timer.as_ref().unchecked_ref()));
        }
        Some(Channel { channel, subscribers, _on_message: on_message, throttle, on_timer, soon })
    }

    pub fn post(&self) {
        let t = &self.throttle;
        if t.timer.get().is_some() {
            return;
        }
        let wait = t.last.get() + THROTTLE_MS - js_sys::Date::now();
        if wait <= 0.0 {
            return send(&self.channel, t);
        }
        if let (true, Some(soon)) = (hidden(), &self.soon) {
            if soon.port2().post_message(&JsValue::NULL).is_ok() {
                // Not a timer id: `cancel` then clears nothing, and the message, if it still
                // comes, finds the handlers detached (`close`).
                t.timer.set(Some(-1));
                return;
            }
        }
        let timer = global_fn("setTimeout").and_then(|f| {
            f.call2(&JsValue::UNDEFINED, self.on_timer.as_ref(), &JsValue::from_f64(wait.ceil())).ok()
        });
        match timer.and_then(|id| id.as_f64()) {
            Some(id) => t.timer.set(Some(id as i32)),
            None => send(&self.channel, t),
        }
    }

    /// Cancels a pending trailing post; true if there was one.
    fn cancel(&self) -> bool {
        let Some(id) = self.throttle.timer.take() else { return false };
        if id < 0 {
            return true;
        }
        if let Some(f) = global_fn("clearTimeout") {
            let _ = f.call1(&JsValue::UNDEFINED, &JsValue::from(id));
        }
        true
    }

    pub fn subscribe(&self, f: Weak<dyn Fn()>) {
        self.subscribers.borrow_mut().push(f);
    }

    pub fn close(&self) {
        if self.cancel() {
            send(&self.channel, &self.throttle);
        }
        self.channel.set_onmessage(None);
        self.channel.close();
        if let Some(soon) = &self.soon {
            soon.port1().set_onmessage(None);
            soon.port1().close();
            soon.port2().close();
        }
    }
}

impl Drop for Channel {
    /// Neither the timer nor a message may call into a dropped closure (wasm-bindgen throws
    /// "closure invoked … after being dropped"): a handle dropped without `close` (a
    /// garbage-collected database) detaches and closes its channel, and its pending post
    /// goes out now.
    fn drop(&mut self) {
        self.close();
    }
}
