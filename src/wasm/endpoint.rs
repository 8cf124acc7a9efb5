//! `Endpoint`: one side of a replication, a local `Database` or a `RemoteDatabase`, as the
//! `Peer` the replicator drives. JS gets one from `db.endpoint()` and passes it to
//! `Replication.start` / `Replication.sync`; it holds no state of its own.

use crate::replicate::http::HttpPeer;
use crate::replicate::{LocalPeer, Peer};
use std::rc::Rc;
use wasm_bindgen::prelude::*;

#[wasm_bindgen]
pub struct Endpoint {
    kind: Kind,
}

#[derive(Clone)]
pub(super) enum Kind {
    Local(Rc<LocalPeer>),
    Remote(Rc<HttpPeer>),
}

impl Endpoint {
    pub(super) fn local(peer: LocalPeer) -> Endpoint {
        Endpoint { kind: Kind::Local(Rc::new(peer)) }
    }

    pub(super) fn remote(peer: Rc<HttpPeer>) -> Endpoint {
        Endpoint { kind: Kind::Remote(peer) }
    }

    pub(super) fn peer(&self) -> Rc<dyn Peer> {
        match &self.kind {
            Kind::Local(p) => p.clone(),
            Kind::Remote(p) => p.clone(),
        }
    }

    pub(super) fn http(&self) -> Option<Rc<HttpPeer>> {
        match &self.kind {
            Kind::Remote(p) => Some(p.clone()),
            Kind::Local(_) => None,
        }
    }
}
