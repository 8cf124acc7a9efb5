//! Validation before a write: the `schema` option (pure Rust, `core::schema`) and design
//! docs' `validate_doc_update` functions (JS in the browser, through a `VduCompiler`).
//!
//! - Both run for every write path: `put`, `post`, `remove`, `bulkDocs` (per doc, both
//!   `new_edits` modes) and docs written by replication. `_local/` docs are never validated.
//! - The schema is checked while a doc is prepared, before any read: it depends on the doc
//!   alone. Deletions and `_design/` docs are not checked against it.
//! - VDUs run while the batch is planned, since `oldDoc` is the doc's current winner (after
//!   earlier docs of the same batch), or `null` when there is none or it is deleted (CouchDB
//!   validates the recreation of a deleted doc against `nil`). A deletion runs them too, with
//!   `newDoc._deleted === true`. Every design doc's function runs, in design doc id order (the
//!   order CouchDB loads them); the first that throws decides the doc's error.
//! - Trust: a design doc's VDU runs when the app wrote its winning revision here (`put`,
//!   `bulkDocs`…: recorded in the meta key `vdu-trust` as `{id: rev}`), or when the database
//!   was opened with `trustDesignDocs`. A design doc that arrived by replication is stored, but
//!   its function is code from elsewhere and does not run by default.
//! - Admins: as CouchDB skips VDUs for design docs written by an admin, a `_design/` write
//!   skips them when the `userCtx` has the `_admin` role (the default: a browser database is
//!   like CouchDB's "admin party", see the wasm layer).
//! - A design doc whose VDU does not compile is refused when the app writes it (400
//!   `compilation_error`, as CouchDB); one that arrived by replication (trusted) fails the
//!   writes it would have checked with a 500, rather than letting them through unchecked.
//! - The compiled functions are cached with the design doc records (and trust marks) they came
//!   from, as `views::mango` caches its index list: a write reads the records (a cached scan)
//!   but compiles nothing while they are unchanged.

use super::doc::{is_local, ParsedDoc};
use super::{keys, Database};
use crate::core::rev_tree::RevTree;
use crate::core::schema::DocSchema;
use crate::error::{Error, Result};
use serde_json::{Map, Value};
use std::cell::RefCell;
use std::rc::Rc;

/// One design doc's `validate_doc_update`, compiled.
pub trait VduFn {
    /// `newDoc` and `oldDoc` as JSON text. `Err` is what the function threw: 403 `forbidden`,
    /// 401 `unauthorized`, or 500 for anything else.
    fn check(&self, new_doc: &str, old_doc: Option<&str>) -> Result<()>;
}

/// Turns a design doc's `validate_doc_update` source into a function (the wasm layer's
/// compiler also holds the `userCtx` and `secObj` every call gets).
pub trait VduCompiler {
    fn compile(&self, ddoc: &str, source: &str) -> Result<Rc<dyn VduFn>>;
}

/// How a database runs `validate_doc_update` functions.
pub struct Validation {
    pub compiler: Rc<dyn VduCompiler>,
    /// Run VDUs of design docs that arrived by replication too.
    pub trust_design_docs: bool,
    /// The `userCtx` has the `_admin` role: `_design/` writes skip VDUs.
    pub admin: bool,
}

type Vdus = Vec<(String, Rc<dyn VduFn>)>;

/// The per-database validation state.
#[derive(Default)]
pub(super) struct State {
    schema: RefCell<Option<Rc<DocSchema>>>,
    vdu: RefCell<Option<Rc<Validation>>>,
    cache: RefCell<Option<(Vec<u8>, Rc<Vdus>)>>,
}

/// The VDUs a batch runs, and how.
pub(super) struct Loaded {
    pub validation: Rc<Validation>,
    pub fns: Rc<Vdus>,
}

const TRUST_KEY: &str = "vdu-trust";
const VDU: &str = "validate_doc_update";

pub(super) fn is_design(id: &str) -> bool {
    id.starts_with("_design/")
}

/// A compiled VDU that fails every doc it sees (its source did not compile).
struct Broken(Error);

impl VduFn for Broken {
    fn check(&self, _: &str, _: Option<&str>) -> Result<()> {
        Err(self.0.clone())
    }
}

impl Database {
    /// Sets (or with `None` clears) the JSON Schemas docs are checked against; a bad spec is a
    /// 400 and leaves the current one in place.
    pub fn set_schema(&self, spec: Option<&Value>) -> Result<()> {
        let parsed = match spec {
            None | Some(Value::Null) => None,
            Some(s) => Some(Rc::new(DocSchema::parse(s)?)),
        };
        *self.validation.schema.borrow_mut() = parsed;
        Ok(())
    }

    /// Runs design docs' `validate_doc_update` through `validation` from now on.
    pub fn set_validation(&self, validation: Validation) {
        *self.validation.vdu.borrow_mut() = Some(Rc::new(validation));
        *self.validation.cache.borrow_mut() = None;
    }

    /// The schema check of one prepared doc (see the module doc for what is skipped).
    pub(super) fn check_schema(&self, p: &ParsedDoc) -> Result<()> {
        let Some(schema) = self.validation.schema.borrow().clone() else { return Ok(()) };
        let id = p.id.as_deref().unwrap_or("");
        if p.deleted || is_local(id) || is_design(id) {
            return Ok(());
        }
        match &p.raw_body {
            Some(raw) => schema.check_body_text(raw),
            None => schema.check_body(&p.body),
        }
    }

    /// The VDUs of the current design docs, or `None` when this database runs none (no
    /// compiler: native builds).
    pub(super) async fn load_vdus(&self) -> Result<Option<Loaded>> {
        let Some(validation) = self.validation.vdu.borrow().clone() else { return Ok(None) };
        let mut rows = self.design_doc_records().await?;
        // Most databases have no VDU at all: then a write costs this one (cached) scan.
        rows.retain(|(_, v)| has_vdu(v));
        if rows.is_empty() {
            return Ok(Some(Loaded { validation, fns: Rc::default() }));
        }
        let trust_bytes = self.kv.get(&keys::meta(TRUST_KEY)).await?.unwrap_or_default();
        let mut stamp = Vec::new();
        for part in rows.iter().flat_map(|(k, v)| [&k[..], &v[..]]).chain([&trust_bytes[..]]) {
            stamp.extend_from_slice(&(part.len() as u64).to_le_bytes());
            stamp.extend_from_slice(part);
        }
        if let Some((seen, fns)) = &*self.validation.cache.borrow() {
            if *seen == stamp {
                return Ok(Some(Loaded { validation, fns: fns.clone() }));
            }
        }
        let trust: Map<String, Value> = serde_json::from_slice(&trust_bytes).unwrap_or_default();
        let mut fns: Vdus = Vec::new();
        for (k, v) in &rows {
            let Some(id) = keys::id_of(k) else { continue };
            let record = super::record::DocRecord::decode(v).map_err(super::record::for_id(id))?;
            let Some(winner) = record.meta.tree.winner().filter(|w| !w.deleted) else { continue };
            let Some(body) = &record.winner_body else { continue };
            if !has_vdu(body) {
                continue;
            }
            let body: Value = serde_json::from_slice(body)
                .map_err(|e| Error::corruption(format!("doc body for id {id:?}: {e}")))?;
            let Some(source) = body.get(VDU).and_then(Value::as_str) else { continue };
            let trusted = validation.trust_design_docs
                || trust.get(id).and_then(Value::as_str) == Some(winner.rev.to_string().as_str());
            if !trusted {
                continue;
            }
            let f = validation.compiler.compile(id, source).unwrap_or_else(|e| {
                let message = format!("{VDU} of {id} does not compile: {}", e.message);
                Rc::new(Broken(Error::new(500, "compilation_error", message.clone()).with_reason(message)))
            });
            fns.push((id.to_string(), f));
        }
        let fns = Rc::new(fns);
        *self.validation.cache.borrow_mut() = Some((stamp, fns.clone()));
        Ok(Some(Loaded { validation, fns }))
    }

    /// A design doc the app writes must hold a VDU that compiles (CouchDB's check).
    pub(super) fn check_design_source(&self, d: &ParsedDoc) -> Result<()> {
        let Some(validation) = self.validation.vdu.borrow().clone() else { return Ok(()) };
        match d.body.get(VDU) {
            None => Ok(()),
            Some(Value::String(source)) if !d.deleted => {
                validation.compiler.compile(d.id.as_deref().unwrap_or(""), source).map(|_| ()).map_err(|e| {
                    Error::new(400, "compilation_error", e.message.clone()).with_reason(e.message)
                })
            }
            Some(Value::String(_)) => Ok(()),
            Some(_) => Err(Error::bad_request(format!("{VDU} must be a string"))),
        }
    }

    /// The trust marks (`{ddoc id: rev written here}`), for a batch that writes design docs.
    pub(super) async fn trust_marks(&self) -> Result<Map<String, Value>> {
        let bytes = self.kv.get(&keys::meta(TRUST_KEY)).await?;
        Ok(bytes.and_then(|b| serde_json::from_slice(&b).ok()).unwrap_or_default())
    }
}

/// Whether `bytes` (a doc record or body) may hold a VDU: most design docs hold views only,
/// and are skipped without being decoded.
fn has_vdu(bytes: &[u8]) -> bool {
    bytes.windows(VDU.len()).any(|w| w == VDU.as_bytes())
}

pub(super) fn trust_key() -> Vec<u8> {
    keys::meta(TRUST_KEY)
}

impl Loaded {
    /// Runs every VDU over one doc; `old_doc` is the current winner's JSON or `None`.
    pub(super) fn run(&self, d: &ParsedDoc, old_doc: Option<&str>) -> Result<()> {
        let id = d.id.as_deref().unwrap_or("");
        if self.fns.is_empty() || (is_design(id) && self.validation.admin) {
            return Ok(());
        }
        let body = d.body_json();
        let mut head = Map::new();
        head.insert("_id".into(), Value::String(id.to_string()));
        if let Some(rev) = &d.rev {
            head.insert("_rev".into(), Value::String(rev.to_string()));
        }
        if d.deleted {
            head.insert("_deleted".into(), Value::Bool(true));
        }
        if let Some(path) = &d.revisions {
            let ids: Vec<Value> = path.iter().map(|r| Value::String(r.hash.clone())).collect();
            head.insert("_revisions".into(), serde_json::json!({"start": path[0].pos, "ids": ids}));
        }
        let new_doc = splice(&head, &body);
        for (_, f) in self.fns.iter() {
            f.check(&new_doc, old_doc)?;
        }
        Ok(())
    }
}

/// `{head members…, body members…}` as JSON text, from the body's own text.
pub(super) fn splice(head: &Map<String, Value>, body: &[u8]) -> String {
    let head = serde_json::to_string(head).expect("maps serialise");
    let inner = body.strip_prefix(b"{").and_then(|b| b.strip_suffix(b"}")).unwrap_or_default();
    let inner = std::str::from_utf8(inner).unwrap_or_default();
    if inner.trim().is_empty() {
        return head;
    }
    format!("{},{inner}}}", &head[..head.len() - 1])
}

/// The JSON of a doc's winner for `oldDoc`, given its body: `_id` and `_rev` spliced in.
pub(super) fn old_doc_json(id: &str, tree: &RevTree, body: Option<&[u8]>) -> Option<String> {
    let winner = tree.winner().filter(|w| !w.deleted)?;
    let mut head = Map::new();
    head.insert("_id".into(), Value::String(id.to_string()));
    head.insert("_rev".into(), Value::String(winner.rev.to_string()));
    Some(splice(&head, body.unwrap_or(b"{}")))
}
