//! Helpers for the replication tests: named memory databases, a state snapshot to compare two
//! databases by, and `Peer` wrappers that count calls, inject faults, or deny writes.

#![allow(dead_code)]

use async_trait::async_trait;
use serde_json::{json, Value};
use settee::db::{Database, DatabaseOptions};
use settee::error::{Error, Result};
use settee::kv::blobs::AttData;
use settee::replicate::{
    AttMap, AttRef, ChangesPage, DocError, Fetched, Filter, Peer, PeerInfo, RevRequest, RevsByDoc, RevsDiff,
    Seq,
};
use std::cell::{Cell, RefCell};
use std::collections::BTreeMap;
use std::rc::Rc;

pub fn mem_db(name: &str) -> Rc<Database> {
    let n = Rc::new(Cell::new(0u64));
    let prefix = name.to_string();
    Rc::new(Database::new(
        name,
        Rc::new(settee::kv::memory::MemoryKv::new()),
        DatabaseOptions {
            adapter: "memory",
            revs_limit: 1000,
            new_id: Box::new(move || {
                n.set(n.get() + 1);
                format!("{prefix}-{:06}", n.get())
            }),
        },
    ))
}

pub fn parse(s: &str) -> Value {
    serde_json::from_str(s).expect("responses are JSON")
}

pub async fn put(db: &Database, doc: Value) -> String {
    parse(&db.put(doc, true).await.expect("put succeeds"))["rev"].as_str().unwrap().to_string()
}

/// Writes `n` docs `{prefix}{i:05}` in one bulk call.
pub async fn put_many(db: &Database, prefix: &str, n: usize) {
    let docs: Vec<Value> = (0..n).map(|i| json!({"_id": format!("{prefix}{i:05}"), "i": i})).collect();
    db.bulk_docs(docs, true).await.unwrap();
}

/// `n` docs `{prefix}{i:05}` with some history: every 3rd updated, every 7th deleted, and
/// every 11th given a second branch (a conflict) with `new_edits: false`, as replication
/// from another replica would. Returns the number of leaves: what a replication writes.
pub async fn seed_mixed(db: &Database, prefix: &str, n: usize) -> u64 {
    put_many(db, prefix, n).await;
    let id = |i: usize| format!("{prefix}{i:05}");
    let read = |i: usize| async move { parse(&db.get(&id(i), &Value::Null).await.unwrap()) };
    let mut edits = Vec::new();
    for i in (0..n).filter(|i| i % 3 == 0) {
        let mut doc = read(i).await;
        doc["edited"] = json!(true);
        edits.push(doc);
    }
    db.bulk_docs(edits, true).await.unwrap();
    let mut leaves = n as u64;
    let mut branches = Vec::new();
    for i in (0..n).filter(|i| i % 11 == 0) {
        branches.push(json!({"_id": id(i), "_rev": format!("1-{:032x}", i + 1), "_revisions": {"start": 1, "ids": [format!("{:032x}", i + 1)]}, "branch": true}));
        leaves += 1;
    }
    db.bulk_docs(branches, false).await.unwrap();
    for i in (0..n).filter(|i| i % 7 == 0) {
        let doc = read(i).await;
        db.remove(&id(i), doc["_rev"].as_str().unwrap()).await.unwrap();
    }
    leaves
}

/// Everything replication must make equal: every leaf of every doc (bodies and `_revisions`),
/// the winners with their `_conflicts`, and the doc count. Seqs are left out: they are local.
pub async fn snapshot(db: &Database) -> Value {
    let changes = parse(&db.changes(&json!({"style": "all_docs"})).await.unwrap());
    let mut docs = BTreeMap::new();
    for row in changes["results"].as_array().unwrap() {
        let id = row["id"].as_str().unwrap();
        let mut leaves = parse(&db.get(id, &json!({"open_revs": "all", "revs": true})).await.unwrap());
        leaves.as_array_mut().unwrap().sort_by_key(|l| l["ok"]["_rev"].as_str().unwrap().to_string());
        docs.insert(id.to_string(), json!({"deleted": row["deleted"], "leaves": leaves}));
    }
    let all = parse(&db.all_docs(&json!({"include_docs": true, "conflicts": true})).await.unwrap());
    let count = parse(&db.info().await.unwrap())["doc_count"].clone();
    json!({"docs": docs, "all_docs": all["rows"], "doc_count": count})
}

/// A peer wrapper that counts calls by method and records the `since` of each changes call;
/// `journaled` ones also log "<label> <method>" in call order to a log shared between peers.
pub struct Counting<P> {
    pub inner: P,
    calls: RefCell<BTreeMap<&'static str, usize>>,
    pub sinces: RefCell<Vec<Seq>>,
    journal: Option<(&'static str, Rc<RefCell<Vec<String>>>)>,
}

impl<P: Peer> Counting<P> {
    pub fn new(inner: P) -> Self {
        Counting { inner, calls: RefCell::default(), sinces: RefCell::default(), journal: None }
    }
    pub fn journaled(inner: P, label: &'static str, journal: &Rc<RefCell<Vec<String>>>) -> Self {
        Counting { journal: Some((label, journal.clone())), ..Counting::new(inner) }
    }
    fn hit(&self, method: &'static str) {
        *self.calls.borrow_mut().entry(method).or_default() += 1;
        if let Some((label, log)) = &self.journal {
            log.borrow_mut().push(format!("{label} {method}"));
        }
    }
    pub fn calls(&self, method: &str) -> usize {
        self.calls.borrow().get(method).copied().unwrap_or(0)
    }
    pub fn total(&self) -> usize {
        self.calls.borrow().values().sum()
    }
    pub fn reset(&self) {
        self.calls.borrow_mut().clear();
        self.sinces.borrow_mut().clear();
    }
}

#[async_trait(?Send)]
impl<P: Peer> Peer for Counting<P> {
    async fn info(&self) -> Result<PeerInfo> {
        self.hit("info");
        self.inner.info().await
    }
    async fn changes(&self, since: &Seq, limit: usize, filter: &Filter) -> Result<ChangesPage> {
        self.hit("changes");
        self.sinces.borrow_mut().push(since.clone());
        self.inner.changes(since, limit, filter).await
    }
    async fn changes_with_docs(&self, since: &Seq, limit: usize, filter: &Filter) -> Result<ChangesPage> {
        self.hit("changes");
        self.sinces.borrow_mut().push(since.clone());
        self.inner.changes_with_docs(since, limit, filter).await
    }
    async fn revs_diff(&self, revs: &RevsByDoc) -> Result<RevsDiff> {
        self.hit("revs_diff");
        self.inner.revs_diff(revs).await
    }
    async fn bulk_get(&self, revs: &[RevRequest]) -> Result<Vec<Fetched>> {
        self.hit("bulk_get");
        self.inner.bulk_get(revs).await
    }
    async fn bulk_docs_replicated(&self, docs: &[Value], data: &AttMap) -> Result<Vec<DocError>> {
        self.hit("bulk_docs");
        self.inner.bulk_docs_replicated(docs, data).await
    }
    async fn has_attachments(&self, digests: &[String]) -> Result<Option<Vec<bool>>> {
        self.hit("has_attachments");
        self.inner.has_attachments(digests).await
    }
    async fn get_attachment(&self, att: &AttRef) -> Result<AttData> {
        self.hit("get_attachment");
        self.inner.get_attachment(att).await
    }
    async fn stub_in_ancestor(&self, id: &str, revs: &[String], name: &str) -> Result<Option<(String, u64)>> {
        self.hit("stub_in_ancestor");
        self.inner.stub_in_ancestor(id, revs, name).await
    }
    async fn get_local(&self, id: &str) -> Result<Option<Value>> {
        self.hit("get_local");
        self.inner.get_local(id).await
    }
    async fn put_local(&self, doc: Value) -> Result<String> {
        self.hit("put_local");
        self.inner.put_local(doc).await
    }
    async fn wait_for_changes(&self, since: &Seq, filter: &Filter) -> Result<()> {
        self.hit("wait_for_changes");
        self.inner.wait_for_changes(since, filter).await
    }
}

/// When an injected fault strikes: before the call reaches the peer (a refused request) or
/// after it ran (the response was lost: the write happened but the caller sees an error).
#[derive(Clone, Copy, Debug, PartialEq)]
pub enum Fault {
    Before,
    After,
}

/// Fails its `fail_at`-th call (counting from 0, all methods, or only `method`) once, or
/// that call and the `times - 1` after it (`repeated`), or each call with a probability
/// (`flaky`, seeded: a run is reproducible).
pub struct Faulty<P> {
    pub inner: P,
    fail_at: Cell<Option<usize>>,
    times: usize,
    method: Option<&'static str>,
    fault: Fault,
    seen: Cell<usize>,
    /// `Some((rate, rng state))` for `flaky`: the fault (before or after) is drawn too.
    random: Option<(f64, Cell<u64>)>,
    /// How many calls failed.
    pub failed: Cell<usize>,
}

impl<P: Peer> Faulty<P> {
    pub fn new(inner: P, fail_at: usize, method: Option<&'static str>, fault: Fault) -> Self {
        Self::repeated(inner, fail_at, 1, method, fault)
    }
    pub fn repeated(
        inner: P,
        fail_at: usize,
        times: usize,
        method: Option<&'static str>,
        fault: Fault,
    ) -> Self {
        let fail_at = Cell::new(Some(fail_at));
        let failed = Cell::new(0);
        Faulty { inner, fail_at, times, method, fault, seen: Cell::new(0), random: None, failed }
    }
    /// Fails each call with probability `rate`, half of them before the call reaches the
    /// peer and half after it ran (a lost answer).
    pub fn flaky(inner: P, rate: f64, seed: u64) -> Self {
        let random = Some((rate, Cell::new(seed.wrapping_mul(0x9E37_79B9_7F4A_7C15) | 1)));
        Faulty { random, fail_at: Cell::new(None), ..Self::repeated(inner, 0, 0, None, Fault::Before) }
    }
    /// Whether the fault has struck (every time it was to).
    pub fn struck(&self) -> bool {
        self.fail_at.get().is_none()
    }
    /// xorshift64*: uniform in [0, 1).
    fn draw(state: &Cell<u64>) -> f64 {
        let mut x = state.get();
        x ^= x >> 12;
        x ^= x << 25;
        x ^= x >> 27;
        state.set(x);
        (x.wrapping_mul(0x2545_F491_4F6C_DD1D) >> 11) as f64 / (1u64 << 53) as f64
    }
    /// Whether this call fails, and how.
    fn strikes(&self, method: &'static str) -> Option<Fault> {
        if let Some((rate, state)) = &self.random {
            if Self::draw(state) >= *rate {
                return None;
            }
            self.failed.set(self.failed.get() + 1);
            return Some(if Self::draw(state) < 0.5 { Fault::Before } else { Fault::After });
        }
        if self.method.is_some_and(|m| m != method) {
            return None;
        }
        let n = self.seen.get();
        self.seen.set(n + 1);
        match self.fail_at.get() {
            Some(at) if (at..at + self.times).contains(&n) => {
                self.failed.set(self.failed.get() + 1);
                if n + 1 == at + self.times {
                    self.fail_at.set(None);
                }
                Some(self.fault)
            }
            _ => None,
        }
    }
    async fn wrap<T>(
        &self,
        method: &'static str,
        call: impl std::future::Future<Output = Result<T>>,
    ) -> Result<T> {
        let strike = self.strikes(method);
        if strike == Some(Fault::Before) {
            return Err(injected(method));
        }
        let out = call.await;
        if strike.is_some() {
            return Err(injected(method));
        }
        out
    }
}

fn injected(method: &str) -> Error {
    Error::new(500, "unknown_error", format!("injected fault in {method}"))
}

#[async_trait(?Send)]
impl<P: Peer> Peer for Faulty<P> {
    async fn info(&self) -> Result<PeerInfo> {
        self.wrap("info", self.inner.info()).await
    }
    async fn changes(&self, since: &Seq, limit: usize, filter: &Filter) -> Result<ChangesPage> {
        self.wrap("changes", self.inner.changes(since, limit, filter)).await
    }
    async fn changes_with_docs(&self, since: &Seq, limit: usize, filter: &Filter) -> Result<ChangesPage> {
        self.wrap("changes", self.inner.changes_with_docs(since, limit, filter)).await
    }
    async fn revs_diff(&self, revs: &RevsByDoc) -> Result<RevsDiff> {
        self.wrap("revs_diff", self.inner.revs_diff(revs)).await
    }
    async fn bulk_get(&self, revs: &[RevRequest]) -> Result<Vec<Fetched>> {
        self.wrap("bulk_get", self.inner.bulk_get(revs)).await
    }
    async fn bulk_docs_replicated(&self, docs: &[Value], data: &AttMap) -> Result<Vec<DocError>> {
        self.wrap("bulk_docs", self.inner.bulk_docs_replicated(docs, data)).await
    }
    async fn has_attachments(&self, digests: &[String]) -> Result<Option<Vec<bool>>> {
        self.wrap("has_attachments", self.inner.has_attachments(digests)).await
    }
    async fn get_attachment(&self, att: &AttRef) -> Result<AttData> {
        self.wrap("get_attachment", self.inner.get_attachment(att)).await
    }
    async fn stub_in_ancestor(&self, id: &str, revs: &[String], name: &str) -> Result<Option<(String, u64)>> {
        self.wrap("stub_in_ancestor", self.inner.stub_in_ancestor(id, revs, name)).await
    }
    async fn get_local(&self, id: &str) -> Result<Option<Value>> {
        self.wrap("get_local", self.inner.get_local(id)).await
    }
    async fn put_local(&self, doc: Value) -> Result<String> {
        self.wrap("put_local", self.inner.put_local(doc)).await
    }
    async fn wait_for_changes(&self, since: &Seq, filter: &Filter) -> Result<()> {
        self.wrap("wait_for_changes", self.inner.wait_for_changes(since, filter)).await
    }
}

/// A target whose validation refuses docs with ids starting with `secret`: they come back
/// as per-doc `forbidden` errors, the others are written.
pub struct Denying<P> {
    pub inner: P,
    pub attempts: RefCell<Vec<String>>,
}

#[async_trait(?Send)]
impl<P: Peer> Peer for Denying<P> {
    async fn info(&self) -> Result<PeerInfo> {
        self.inner.info().await
    }
    async fn changes(&self, since: &Seq, limit: usize, filter: &Filter) -> Result<ChangesPage> {
        self.inner.changes(since, limit, filter).await
    }
    async fn revs_diff(&self, revs: &RevsByDoc) -> Result<RevsDiff> {
        self.inner.revs_diff(revs).await
    }
    async fn bulk_get(&self, revs: &[RevRequest]) -> Result<Vec<Fetched>> {
        self.inner.bulk_get(revs).await
    }
    async fn has_attachments(&self, digests: &[String]) -> Result<Option<Vec<bool>>> {
        self.inner.has_attachments(digests).await
    }
    async fn get_attachment(&self, att: &AttRef) -> Result<AttData> {
        self.inner.get_attachment(att).await
    }
    async fn stub_in_ancestor(&self, id: &str, revs: &[String], name: &str) -> Result<Option<(String, u64)>> {
        self.inner.stub_in_ancestor(id, revs, name).await
    }
    async fn bulk_docs_replicated(&self, docs: &[Value], data: &AttMap) -> Result<Vec<DocError>> {
        let (denied, allowed): (Vec<Value>, Vec<Value>) =
            docs.iter().cloned().partition(|d| d["_id"].as_str().unwrap().starts_with("secret"));
        self.attempts.borrow_mut().extend(denied.iter().map(|d| d["_id"].as_str().unwrap().to_string()));
        let mut errors = self.inner.bulk_docs_replicated(&allowed, data).await?;
        errors.extend(denied.iter().map(|d| DocError {
            id: d["_id"].as_str().unwrap().to_string(),
            rev: d["_rev"].as_str().map(str::to_string),
            status: 403,
            error: "forbidden".into(),
            reason: "only admins may write secrets".into(),
        }));
        Ok(errors)
    }
    async fn get_local(&self, id: &str) -> Result<Option<Value>> {
        self.inner.get_local(id).await
    }
    async fn put_local(&self, doc: Value) -> Result<String> {
        self.inner.put_local(doc).await
    }
}

/// A peer that behaves like a remote server towards attachments: it cannot say which
/// digests it holds (so the replicator goes by its ancestors), and it can corrupt the data it
/// serves for attachments named `corrupt*`.
pub struct RemoteLike<P> {
    pub inner: P,
    pub written_with_data: RefCell<Vec<(String, usize)>>,
    pub attachment_fetches: Cell<usize>,
    /// A rev `revs_diff` claims as an ancestor of every doc, as a server might wrongly do.
    pub fake_ancestor: RefCell<Option<String>>,
}

impl<P: Peer> RemoteLike<P> {
    pub fn new(inner: P) -> Self {
        RemoteLike {
            inner,
            written_with_data: RefCell::default(),
            attachment_fetches: Cell::new(0),
            fake_ancestor: RefCell::default(),
        }
    }
}

#[async_trait(?Send)]
impl<P: Peer> Peer for RemoteLike<P> {
    async fn info(&self) -> Result<PeerInfo> {
        self.inner.info().await
    }
    async fn changes(&self, since: &Seq, limit: usize, filter: &Filter) -> Result<ChangesPage> {
        self.inner.changes(since, limit, filter).await
    }
    async fn revs_diff(&self, revs: &RevsByDoc) -> Result<RevsDiff> {
        let mut diff = self.inner.revs_diff(revs).await?;
        if let Some(fake) = self.fake_ancestor.borrow().as_ref() {
            for m in diff.values_mut() {
                m.possible_ancestors.push(fake.clone());
            }
        }
        Ok(diff)
    }
    async fn bulk_get(&self, revs: &[RevRequest]) -> Result<Vec<Fetched>> {
        self.inner.bulk_get(revs).await
    }
    async fn bulk_docs_replicated(&self, docs: &[Value], data: &AttMap) -> Result<Vec<DocError>> {
        for d in docs {
            let atts = d["_attachments"].as_object().map(|a| {
                a.values().filter(|v| data.contains_key(v["digest"].as_str().unwrap_or(""))).count()
            });
            self.written_with_data
                .borrow_mut()
                .push((d["_id"].as_str().unwrap_or("").to_string(), atts.unwrap_or(0)));
        }
        self.inner.bulk_docs_replicated(docs, data).await
    }
    async fn has_attachments(&self, _digests: &[String]) -> Result<Option<Vec<bool>>> {
        Ok(None)
    }
    async fn get_attachment(&self, att: &AttRef) -> Result<AttData> {
        self.attachment_fetches.set(self.attachment_fetches.get() + 1);
        let data = self.inner.get_attachment(att).await?;
        if att.name.starts_with("corrupt") {
            let mut bytes = data.to_vec().await?;
            bytes.push(0);
            return Ok(AttData::bytes(bytes));
        }
        Ok(data)
    }
    async fn get_local(&self, id: &str) -> Result<Option<Value>> {
        self.inner.get_local(id).await
    }
    async fn put_local(&self, doc: Value) -> Result<String> {
        self.inner.put_local(doc).await
    }
}

/// Suspends once (waking itself at once), so a joined task gets its turn.
pub async fn yield_now() {
    let mut yielded = false;
    futures::future::poll_fn(|cx| {
        if yielded {
            std::task::Poll::Ready(())
        } else {
            yielded = true;
            cx.waker().wake_by_ref();
            std::task::Poll::Pending
        }
    })
    .await
}

/// A peer that suspends before every call, so that two replications joined on one thread
/// (memory stores never suspend) alternate at every peer call instead of running one by one.
pub struct Yielding<P>(pub P);

#[async_trait(?Send)]
impl<P: Peer> Peer for Yielding<P> {
    async fn info(&self) -> Result<PeerInfo> {
        yield_now().await;
        self.0.info().await
    }
    async fn changes(&self, since: &Seq, limit: usize, filter: &Filter) -> Result<ChangesPage> {
        yield_now().await;
        self.0.changes(since, limit, filter).await
    }
    async fn changes_with_docs(&self, since: &Seq, limit: usize, filter: &Filter) -> Result<ChangesPage> {
        yield_now().await;
        self.0.changes_with_docs(since, limit, filter).await
    }
    async fn revs_diff(&self, revs: &RevsByDoc) -> Result<RevsDiff> {
        yield_now().await;
        self.0.revs_diff(revs).await
    }
    async fn bulk_get(&self, revs: &[RevRequest]) -> Result<Vec<Fetched>> {
        yield_now().await;
        self.0.bulk_get(revs).await
    }
    async fn bulk_docs_replicated(&self, docs: &[Value], data: &AttMap) -> Result<Vec<DocError>> {
        yield_now().await;
        self.0.bulk_docs_replicated(docs, data).await
    }
    async fn has_attachments(&self, digests: &[String]) -> Result<Option<Vec<bool>>> {
        yield_now().await;
        self.0.has_attachments(digests).await
    }
    async fn get_attachment(&self, att: &AttRef) -> Result<AttData> {
        yield_now().await;
        self.0.get_attachment(att).await
    }
    async fn get_local(&self, id: &str) -> Result<Option<Value>> {
        yield_now().await;
        self.0.get_local(id).await
    }
    async fn put_local(&self, doc: Value) -> Result<String> {
        yield_now().await;
        self.0.put_local(doc).await
    }
    async fn wait_for_changes(&self, since: &Seq, filter: &Filter) -> Result<()> {
        yield_now().await;
        self.0.wait_for_changes(since, filter).await
    }
}
