//! A wake-up signal for live changes feeds: every commit, by this handle or noticed from
//! another tab, bumps a generation counter and wakes whoever waits for a newer one.

use std::cell::{Cell, RefCell};
use std::future::Future;
use std::pin::Pin;
use std::rc::Rc;
use std::task::{Context, Poll, Waker};

#[derive(Default)]
pub struct Notify {
    generation: Cell<u64>,
    wakers: RefCell<Vec<Waker>>,
}

impl Notify {
    pub fn generation(&self) -> u64 {
        self.generation.get()
    }

    pub fn notify(&self) {
        self.generation.set(self.generation.get() + 1);
        for w in self.wakers.borrow_mut().drain(..) {
            w.wake();
        }
    }

    /// Resolves once the generation differs from `seen`.
    pub fn changed_since(self: &Rc<Self>, seen: u64) -> Changed {
        Changed { notify: self.clone(), seen }
    }
}

pub struct Changed {
    notify: Rc<Notify>,
    seen: u64,
}

impl Future for Changed {
    type Output = ();
    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<()> {
        if self.notify.generation() != self.seen {
            Poll::Ready(())
        } else {
            self.notify.wakers.borrow_mut().push(cx.waker().clone());
            Poll::Pending
        }
    }
}
