//! Views and Mango indexes: persisted, incremental map/reduce indexes over the KV store.
//!
//! A view is identified by `ViewDef::id()`: a hash of its design doc id, its name and its
//! signature (a hash of the map and reduce sources), so editing a design doc gives its views
//! new ids and they are rebuilt from seq 0. Old ids stay until `view_cleanup`.
//!
//! Rules:
//! - The map function is abstract (`MapFn`): native tests pass Rust closures, the wasm layer a
//!   JS function, Mango a built-in. It sees a batch of docs at once, so the wasm layer
//!   crosses into JS once per batch. A doc whose map fails is skipped (it has no rows), as in
//!   CouchDB; the build goes on.
//! - `update` (in `index`) applies the changes since the view's last indexed seq, in pages
//!   of `BATCH` docs gathered into KV writes of a few MB. Each write (rows, back-index and
//!   meta) is made only if the store version still holds (else it is re-planned), so an index
//!   is never half-updated.
//!   `MapFn::map_batch` is async: the wasm implementation yields to the event loop there.
//! - Design docs are never mapped (CouchDB's default), deleted docs only drop their rows.
//! - A doc emitting one key twice gets one KV row holding both values; reads expand it.
//! - Reduces run at query time over the rows in range (`reduce`), as PouchDB does.

mod cleanup;
mod design;
mod find;
mod index;
mod mango;
mod options;
mod query;
mod reduce;

pub use design::{js_views, view_def, DesignView, ViewCompiler};
pub use index::ViewMeta;
pub use mango::MangoIndex;

/// See `Database::mango_indexes`.
pub(crate) type MangoCache = std::cell::RefCell<Option<(Vec<u8>, Rc<Vec<MangoIndex>>)>>;
pub use options::{query_parse_error, QueryOpts, Stale};

use crate::core::reduce::BuiltinReduce;
use crate::error::Result;
use async_trait::async_trait;
use md5::{Digest, Md5};
use serde_json::Value;
use std::rc::Rc;

/// What a map function emitted for one doc: `(key, value)` pairs, in order.
pub type Emits = Vec<(Value, Value)>;

/// A map function over a batch of docs (each with `_id` and `_rev`), given as JSON text: the
/// JS map hands the texts to JS as they are, without building a `Value` first. One result per
/// doc, in order; an `Err` means the function threw for that doc, which then gets no rows.
#[async_trait(?Send)]
pub trait MapFn {
    async fn map_batch(&self, docs: &[String]) -> Vec<Result<Emits>>;
}

/// A plain Rust function as a `MapFn`, called once per doc.
pub struct FnMap<F>(pub F);

#[async_trait(?Send)]
impl<F: Fn(&Value) -> Result<Emits>> MapFn for FnMap<F> {
    async fn map_batch(&self, docs: &[String]) -> Vec<Result<Emits>> {
        docs.iter().map(|text| (self.0)(&parse_doc(text)?)).collect()
    }
}

/// A doc's JSON text as a `Value`.
pub(crate) fn parse_doc(text: &str) -> Result<Value> {
    serde_json::from_str(text).map_err(|e| crate::error::Error::corruption(format!("doc body: {e}")))
}

/// A custom reduce function, CouchDB style: `keys` are `(key, doc id)` pairs when reducing
/// rows, `None` when `rereduce` combines earlier reductions.
pub trait ReduceFn {
    fn reduce(&self, keys: Option<&[(Value, String)]>, values: &[Value], rereduce: bool) -> Result<Value>;
}

#[derive(Clone)]
pub enum Reduce {
    Builtin(BuiltinReduce),
    Custom(Rc<dyn ReduceFn>),
}

/// Everything needed to build and query one view.
#[derive(Clone)]
pub struct ViewDef {
    /// The design doc id (`_design/x`), or `None` for a temporary view.
    pub ddoc: Option<String>,
    pub name: String,
    /// Changes whenever the map or reduce changes; see `signature`.
    pub signature: String,
    pub map: Rc<dyn MapFn>,
    pub reduce: Option<Reduce>,
}

impl ViewDef {
    /// The id its index is stored under: 32 hex digits.
    pub fn id(&self) -> String {
        view_id(self.ddoc.as_deref(), &self.name, &self.signature)
    }
}

/// The signature of a view: a hash of its map and reduce sources.
pub fn signature(map_source: &str, reduce_source: Option<&str>) -> String {
    hex_md5(&[map_source, reduce_source.unwrap_or("")])
}

/// The id of a view's index (see the module doc).
pub fn view_id(ddoc: Option<&str>, name: &str, signature: &str) -> String {
    match ddoc {
        Some(d) => hex_md5(&["design", d, name, signature]),
        None => hex_md5(&["temp", signature]),
    }
}

fn hex_md5(parts: &[&str]) -> String {
    let mut h = Md5::new();
    for p in parts {
        h.update((p.len() as u64).to_be_bytes());
        h.update(p.as_bytes());
    }
    h.finalize().iter().map(|b| format!("{b:02x}")).collect()
}
