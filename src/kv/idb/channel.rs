//! Cross-tab announcements over a `BroadcastChannel` named after the database.
//!
//! A message carries nothing but "I committed": receivers re-read the manifest, which is the
//! truth. A channel never receives its own messages, but another `BroadcastChannel` object with
//! the same name in the same page does, so two handles in one page hear each other like tabs.

use js_sys::JsString;
use std::cell::RefCell;
use std::rc::{Rc, Weak};
use wasm_bindgen::closure::Closure;
use wasm_bindgen::JsCast;
use web_sys::{BroadcastChannel, MessageEvent};

type Subscribers = Rc<RefCell<Vec<Weak<dyn Fn()>>>>;

pub struct Channel {
    channel: BroadcastChannel,
    subscribers: Subscribers,
    _on_message: Closure<dyn FnMut(MessageEvent)>,
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
        Some(Channel { channel, subscribers, _on_message: on_message })
    }

    pub fn post(&self) {
        // Delivery is best effort by design; a closed channel just stays quiet.
        let _ = self.channel.post_message(&JsString::from("commit"));
    }

    pub fn subscribe(&self, f: Weak<dyn Fn()>) {
        self.subscribers.borrow_mut().push(f);
    }

    pub fn close(&self) {
        self.channel.set_onmessage(None);
        self.channel.close();
    }
}
