//! Running a schedule on a mesh of replicas: each step's writes, compactions, injected faults
//! and replications, with the checks that hold after each step.

use crate::helpers::{parse, snapshot, yield_now, Faulty, Yielding};
use crate::oracle::leaves;
use crate::schedule::{Inject, Rep, RepFilter, Step, Task, Write};
use crate::yielding_kv::YieldingKv;
use serde_json::json;
use settee::db::notify::Notify;
use settee::db::{Database, DatabaseOptions};
use settee::kv::lsm::{Lsm, LsmOptions};
use settee::kv::records::MemoryRecords;
use settee::kv::KvStore;
use settee::replicate::live::{self, Backoff, LiveOptions};
use settee::replicate::{
    replicate, Filter, LocalPeer, Peer, ReplicateOptions, ReplicationEvent, ReplicationResult,
};
use std::cell::Cell;
use std::rc::Rc;

/// Runs of a replication until one succeeds. Each injected fault strikes once, but store
/// faults can be armed on both sides, before and while it runs (a joined step), so this is a
/// bound, not a count; a failure other than an injected one fails the case at once.
const RERUNS: usize = 12;

/// One replica: a database, on the LSM store sometimes with a second handle on the same
/// records (a second tab). Calls alternate between the handles.
pub struct Replica {
    pub tabs: Vec<Rc<Database>>,
    next: Cell<usize>,
    /// A handle on an LSM replica's records, to inject commit failures through.
    pub records: Option<MemoryRecords>,
    /// A commit failure was injected: storage errors are then expected on this replica.
    faulted: Cell<bool>,
}

pub struct Mesh {
    pub replicas: Vec<Replica>,
    pub ids: usize,
    /// Live replications started: each gets its own session id, kept over its passes.
    pub lives: Cell<u64>,
}

fn options() -> DatabaseOptions {
    DatabaseOptions { adapter: "memory", revs_limit: 1000, new_id: Box::new(|| "unused".to_string()) }
}

pub async fn replica(name: &str, lsm: bool, two_tabs: bool, yielding: bool) -> Replica {
    let (stores, records): (Vec<Rc<dyn KvStore>>, _) = if lsm {
        let opts = LsmOptions { chunk_bytes: 512, cache_bytes: 8192, ..LsmOptions::default() };
        let records = MemoryRecords::new();
        let mut stores: Vec<Rc<dyn KvStore>> = Vec::new();
        for _ in 0..1 + two_tabs as usize {
            stores.push(Rc::new(Lsm::open_with(records.reopen(), opts.clone()).await.expect("opens")));
        }
        (stores, Some(records))
    } else {
        (vec![Rc::new(settee::kv::memory::MemoryKv::new())], None)
    };
    let tabs = stores
        .into_iter()
        .map(|kv| {
            let kv: Rc<dyn KvStore> = if yielding { Rc::new(YieldingKv(kv)) } else { kv };
            Rc::new(Database::new(name, kv, options()))
        })
        .collect();
    Replica { tabs, next: Cell::new(0), records, faulted: Cell::new(false) }
}

/// A made-up rev hash for a branch: 10–16 hex digits (md5 revs have 32), a function of what
/// defines the rev (seed, parent, deleted flag), so that one rev never gets two different
/// histories or flags, which real revs cannot have either.
fn branch_hash(seed: u16, parent: &str, delete: bool) -> String {
    // FNV-1a: any deterministic mixing will do.
    let mut h: u64 = 0xcbf2_9ce4_8422_2325;
    for b in format!("{seed}/{parent}/{delete}").bytes() {
        h = (h ^ b as u64).wrapping_mul(0x0100_0000_01b3);
    }
    let hex = format!("{h:016x}");
    hex[..10 + (seed as usize % 7)].to_string()
}

fn doc_id(i: usize) -> String {
    format!("doc{i}")
}

impl Mesh {
    /// Replica `r`'s next handle (they take turns).
    fn db(&self, r: usize) -> &Rc<Database> {
        let replica = &self.replicas[r % self.replicas.len()];
        let k = replica.next.get();
        replica.next.set(k + 1);
        &replica.tabs[k % replica.tabs.len()]
    }

    fn replica(&self, r: usize) -> &Replica {
        &self.replicas[r % self.replicas.len()]
    }

    /// Whether `e` is the storage failure injected on replica `r`.
    fn injected(&self, r: usize, e: &settee::error::Error) -> bool {
        self.replica(r).faulted.get() && e.message.contains("injected fault")
    }

    /// A peer on replica `r`: its handles share one replication id, being one database.
    fn peer(&self, r: usize) -> LocalPeer {
        LocalPeer::with_id(self.db(r).clone(), format!("r{}", r % self.replicas.len()))
    }

    pub async fn run(&self, step: &Step) {
        match step {
            Step::One(task) => self.task(task, true).await,
            Step::Together { first, second, delay } => {
                let second = async {
                    for _ in 0..*delay {
                        yield_now().await;
                    }
                    self.task(second, false).await
                };
                futures::future::join(self.task(first, false), second).await;
            }
            Step::Live { rep, during, delay } => {
                let (source, target, mut opts) = self.endpoints(rep);
                opts.session_id
                    .get_or_insert_with(|| format!("live-{}", self.lives.replace(self.lives.get() + 1)));
                let stop = Rc::new(Notify::default());
                let live = LiveOptions {
                    live: true,
                    retry: true,
                    backoff: Backoff::new(10),
                    // Time is not simulated: a back-off is one turn of the executor.
                    sleep: Rc::new(|_| Box::pin(yield_now())),
                    random: Box::new(|| 0.5),
                    on_state: None,
                    cancel_signal: stop.clone(),
                    wake: Rc::new(Notify::default()),
                };
                let cancel = opts.cancel.clone();
                let during = async {
                    for _ in 0..*delay {
                        yield_now().await;
                    }
                    self.task(during, false).await;
                    cancel.set(true);
                    stop.notify();
                };
                let (done, ()) =
                    futures::future::join(live::run(&*source, &*target, opts, live), during).await;
                assert!(done.is_ok(), "a retrying live replication only ends when cancelled: {done:?}");
            }
        }
    }

    /// `alone`: no other task runs meanwhile, so a write's effect on its database is exact.
    async fn task(&self, task: &Task, alone: bool) {
        match task {
            Task::Write(w) => self.write(w, alone).await,
            Task::Compact(r) => {
                let done = self.db(*r).compact().await;
                assert!(done.is_ok() || done.as_ref().is_err_and(|e| self.injected(*r, e)), "{done:?}");
            }
            Task::StoreFault { r, n } => {
                let replica = self.replica(*r);
                if let Some(records) = &replica.records {
                    records.fail_nth_commit(*n);
                    replica.faulted.set(true);
                }
            }
            Task::Replicate(rep) => self.replicate(rep).await,
        }
    }

    async fn write(&self, w: &Write, alone: bool) {
        match *w {
            Write::Edit { r, id, leaf, delete, v, att } => {
                let (db, id) = (self.db(r), doc_id(id % self.ids));
                let leaves = leaves(db, &id).await;
                let mut doc = json!({"_id": id, "v": v});
                if let Some(k) = att {
                    // "a", "b", "c" in base64.
                    let data = ["YQ==", "Yg==", "Yw=="][k as usize % 3];
                    doc["_attachments"] = json!({"att": {"content_type": "text/plain", "data": data}});
                }
                match leaves.get(leaf % leaves.len().max(1)) {
                    // Half the time a deleted winner is re-created without a `_rev` (which
                    // extends its deleted branch), as an app that does not know it existed would.
                    Some(l) if l.deleted && leaf == 0 && v % 2 == 1 => {}
                    Some(l) => {
                        doc["_rev"] = json!(l.rev());
                        if delete {
                            doc["_deleted"] = json!(true);
                        }
                    }
                    None => {}
                }
                let done = db.put(doc.clone(), true).await;
                // A replication running meanwhile may have replaced the leaf read above.
                let raced = !alone && done.as_ref().is_err_and(|e| e.status == 409);
                let failed = done.as_ref().is_err_and(|e| self.injected(r, e));
                assert!(done.is_ok() || raced || failed, "an edit of a leaf succeeds: {doc} → {done:?}");
            }
            Write::Stale { r, id } => {
                let (db, id) = (self.db(r), doc_id(id % self.ids));
                let leaves = leaves(db, &id).await;
                // The winner's parent is never a leaf; a doc with no history gets a made-up rev.
                let rev = match leaves.first() {
                    Some(w) if w.ids.len() > 1 => format!("{}-{}", w.pos - 1, w.ids[1]),
                    _ => "1-stale".to_string(),
                };
                let before = if alone { Some(snapshot(db).await) } else { None };
                let err = db.put(json!({"_id": id, "_rev": rev, "stale": true}), true).await.unwrap_err();
                assert_eq!(err.status, 409, "{err:?}");
                if let Some(before) = before {
                    assert_eq!(snapshot(db).await, before, "a rejected edit changes nothing");
                }
            }
            Write::Branch { r, id, leaf, depth, seed, delete } => {
                let (db, id) = (self.db(r), doc_id(id % self.ids));
                let leaves = leaves(db, &id).await;
                let (pos, ancestors) = match leaves.get(leaf % leaves.len().max(1)) {
                    Some(l) => {
                        let d = depth.min(l.ids.len() - 1);
                        (l.pos - d as u64 + 1, l.ids[d..].to_vec())
                    }
                    None => (1, Vec::new()),
                };
                let parent = ancestors.first().cloned().unwrap_or_default();
                let hash = branch_hash(seed, &format!("{}-{parent}", pos - 1), delete);
                let mut ids = vec![hash.clone()];
                ids.extend(ancestors);
                let doc = json!({
                    "_id": id, "_rev": format!("{pos}-{hash}"), "_deleted": delete,
                    "_revisions": {"start": pos, "ids": ids}, "b": seed,
                });
                let rows = match db.bulk_docs(vec![doc.clone()], false).await {
                    Err(e) if self.injected(r, &e) => return,
                    done => parse(&done.unwrap()),
                };
                // With new_edits: false only failures are listed (CouchDB's answer).
                assert_eq!(rows, json!([]), "a replicated write never fails: {doc} → {rows}");
            }
            Write::Replay { r, id } => {
                let (db, id) = (self.db(r), doc_id(id % self.ids));
                let Some(w) = leaves(db, &id).await.into_iter().next() else { return };
                let mut doc = parse(&db.get(&id, &json!({"rev": w.rev(), "revs": true})).await.unwrap());
                doc["_deleted"] = json!(w.deleted);
                let seq = db.update_seq().await.unwrap();
                let rows = parse(&db.bulk_docs(vec![doc.clone()], false).await.unwrap());
                assert_eq!(rows, json!([]), "{doc} → {rows}");
                if alone {
                    assert_eq!(db.update_seq().await.unwrap(), seq, "a replay writes nothing: {doc}");
                }
            }
        }
    }

    async fn replicate(&self, rep: &Rep) {
        let (src, tgt, opts) = self.endpoints(rep);
        let mut failures = Vec::new();
        for _ in 0..RERUNS {
            match replicate(&*src, &*tgt, &opts).await {
                Ok(_) => return,
                Err(f) if f.error.message.contains("injected fault") => failures.push(f.error),
                Err(f) => panic!("only injected faults fail a replication: {:?}", f.error),
            }
        }
        panic!("a replication succeeds once its injected faults have struck: {failures:?}");
    }

    /// The source and target peers of `rep` (with its fault, if any) and its options.
    fn endpoints(&self, rep: &Rep) -> (Box<dyn Peer>, Box<dyn Peer>, ReplicateOptions) {
        let n = self.replicas.len();
        let from = rep.from % n;
        let to = if rep.to % n == from { (from + 1) % n } else { rep.to % n };
        let filter = match &rep.filter {
            RepFilter::None => Filter::None,
            RepFilter::DocIds(ids) => Filter::DocIds(ids.iter().map(|i| doc_id(i % self.ids)).collect()),
            RepFilter::Selector(v) => Filter::Selector(json!({"v": v})),
        };
        let mut opts = ReplicateOptions { batch_size: rep.batch_size, filter, ..ReplicateOptions::default() };
        if let Some(after) = rep.cancel_after {
            let (cancel, batches) = (opts.cancel.clone(), Cell::new(0u8));
            opts.on_event = Some(Box::new(move |e: &ReplicationEvent| {
                if let ReplicationEvent::Change { .. } = e {
                    batches.set(batches.get() + 1);
                    // Only ever set: the flag may be set already, by the end of a live step.
                    if batches.get() >= after {
                        cancel.set(true);
                    }
                }
            }));
        }
        let (source, target) = (Yielding(self.peer(from)), Yielding(self.peer(to)));
        let faulty = |p, i: &Inject| Yielding(Faulty::new(p, i.at, i.method, i.fault));
        let (src, tgt): (Box<dyn Peer>, Box<dyn Peer>) = match &rep.fault {
            Some(i) if i.on_source => (Box::new(faulty(source.0, i)), Box::new(target)),
            Some(i) => (Box::new(source), Box::new(faulty(target.0, i))),
            None => (Box::new(source), Box::new(target)),
        };
        (src, tgt, opts)
    }

    /// Every ordered pair once, fault-free; returns each run's result.
    pub async fn full_round(&self) -> Vec<(usize, usize, ReplicationResult)> {
        let n = self.replicas.len();
        let mut results = Vec::new();
        for from in 0..n {
            for to in (0..n).filter(|&to| to != from) {
                let (s, t) = (self.peer(from), self.peer(to));
                let r =
                    replicate(&s, &t, &ReplicateOptions::default()).await.expect("mesh replication succeeds");
                results.push((from, to, r));
            }
        }
        results
    }
}
