//! Convergence at scale: 3–5 replicas in a full mesh run a random schedule of edits, stale
//! edits, deletions, `new_edits: false` branches, compactions and one-shot replications (with
//! small batches, injected faults, and two tasks interleaved); then every pair is replicated
//! until quiescent, and every replica must hold the same rev trees with CouchDB's winners.
//!
//! - Cases: `CONVERGENCE_CASES` (default `DEFAULT_CASES`, the CI run); `scripts/convergence.sh`
//!   is the long run. A failing case is shrunk by proptest and saved, with its seed, in
//!   `convergence_props.proptest-regressions`, which is replayed first on every run.
//! - Interleaving: memory stores never suspend, so `join!` alone would run two tasks one after
//!   the other. Every replication goes through `Yielding` peers, which suspend once before each
//!   call, so two joined tasks alternate at every peer call; a write in a joined step first
//!   waits a generated number of yields, to land anywhere inside the other task.
//! - The winner is checked against an oracle written here from the leaves alone (CouchDB's
//!   rule), not against the crate's own winner function.
//! - Branch revs are made-up hashes that depend on their parent, seed and deleted flag, so the
//!   same rev is never given two different histories (which real revs cannot have either).
#![cfg(not(target_arch = "wasm32"))]

#[path = "common/replicate_helpers.rs"]
mod helpers;

use async_trait::async_trait;
use futures::executor::block_on;
use helpers::{parse, snapshot, yield_now, Fault, Faulty, Yielding};
use proptest::prelude::*;
use serde_json::{json, Value};
use settee::db::{Database, DatabaseOptions};
use settee::error::Result;
use settee::kv::blobs::BlobStore;
use settee::kv::lsm::{Lsm, LsmOptions};
use settee::kv::records::MemoryRecords;
use settee::kv::{KvStore, Range, SharedBytes, WriteBatch};
use settee::replicate::{
    replicate, Filter, LocalPeer, Peer, ReplicateOptions, ReplicationEvent, ReplicationResult,
};
use std::cell::Cell;
use std::rc::Rc;

/// Cases when `CONVERGENCE_CASES` is unset: keeps the debug run of this file near a minute.
const DEFAULT_CASES: u32 = 400;
/// Runs of a replication until one succeeds: a peer fault and up to two store faults (one per
/// side) each strike once.
const RERUNS: usize = 4;

// ---------------------------------------------------------------------------------------------
// Schedules

/// A write on one replica. Replica and doc indices are reduced modulo the schedule's counts.
#[derive(Clone, Debug)]
enum Write {
    /// An edit (or a deletion) of one leaf: `leaf` 0 is the winner, others pick a losing
    /// leaf in winner order; creates the doc when it has none. `v` is the body, from a small
    /// set so that two replicas sometimes make the very same edit (the same rev).
    Edit { r: usize, id: usize, leaf: usize, delete: bool, v: u8 },
    /// An edit naming a rev that is not a leaf: must be a 409 that changes nothing.
    Stale { r: usize, id: usize },
    /// A `new_edits: false` write of a new rev whose parent is the leaf's ancestor `depth` levels
    /// up (0: the leaf itself), as a replicated conflict would arrive.
    Branch { r: usize, id: usize, leaf: usize, depth: usize, seed: u16, delete: bool },
    /// The winner written again with `new_edits: false`: a replay, which must change nothing.
    Replay { r: usize, id: usize },
}

#[derive(Clone, Debug)]
struct Inject {
    /// Which call fails: the `at`-th of all calls, or of `method`'s only.
    at: usize,
    method: Option<&'static str>,
    fault: Fault,
    on_source: bool,
}

#[derive(Clone, Debug)]
struct Rep {
    from: usize,
    to: usize,
    batch_size: usize,
    fault: Option<Inject>,
    filter: RepFilter,
    /// Cancels the run after this many batches (from the batch's `Change` event).
    cancel_after: Option<u8>,
}

/// A filtered replication has checkpoints of its own; the final mesh is unfiltered.
#[derive(Clone, Debug)]
enum RepFilter {
    None,
    /// Doc indices, reduced modulo the schedule's id count.
    DocIds(Vec<usize>),
    /// Docs whose winner has `"v": k`.
    Selector(u8),
}

#[derive(Clone, Debug)]
enum Task {
    Write(Write),
    Compact(usize),
    /// Makes the `n`-th commit from now on an LSM replica's records fail, applying nothing (a
    /// tab dying mid-transaction); whichever write or merge it hits fails, or retries.
    StoreFault {
        r: usize,
        n: u64,
    },
    Replicate(Rep),
}

#[derive(Clone, Debug)]
enum Step {
    One(Task),
    /// Two tasks joined on the single-threaded executor; `second` starts after `delay` yields.
    Together {
        first: Task,
        second: Task,
        delay: u8,
    },
}

#[derive(Clone, Debug)]
struct Schedule {
    replicas: usize,
    /// Per replica: on the LSM store (tiny chunks, so it merges often) instead of the memory one.
    lsm: Vec<bool>,
    /// Per LSM replica: a second handle on its records, as a second tab would open.
    two_tabs: Vec<bool>,
    /// Per replica: its store suspends before every call (`YieldingKv`).
    yielding: Vec<bool>,
    ids: usize,
    steps: Vec<Step>,
}

fn write() -> impl Strategy<Value = Write> {
    let leaf = prop_oneof![4 => Just(0usize), 1 => 1usize..4];
    prop_oneof![
        6 => (0..5usize, 0..8usize, leaf.clone(), prop::bool::weighted(0.2), 0..3u8)
            .prop_map(|(r, id, leaf, delete, v)| Write::Edit { r, id, leaf, delete, v }),
        1 => (0..5usize, 0..8usize).prop_map(|(r, id)| Write::Stale { r, id }),
        3 => (0..5usize, 0..8usize, leaf, 0..4usize, any::<u16>(), prop::bool::weighted(0.25)).prop_map(
            |(r, id, leaf, depth, seed, delete)| Write::Branch { r, id, leaf, depth, seed, delete }
        ),
        1 => (0..5usize, 0..8usize).prop_map(|(r, id)| Write::Replay { r, id }),
    ]
}

fn rep() -> impl Strategy<Value = Rep> {
    let batch_size = prop_oneof![Just(1usize), Just(2), Just(3), Just(5), Just(100)];
    let method = prop_oneof![
        3 => Just(None),
        1 => prop::sample::select(vec!["changes", "revs_diff", "bulk_get", "bulk_docs", "get_local", "put_local"])
            .prop_map(Some),
    ];
    let fault = (0..8usize, method, prop_oneof![Just(Fault::Before), Just(Fault::After)], any::<bool>())
        .prop_map(|(at, method, fault, on_source)| Inject { at, method, fault, on_source });
    let filter = prop_oneof![
        6 => Just(RepFilter::None),
        1 => prop::collection::vec(0..8usize, 1..4).prop_map(RepFilter::DocIds),
        1 => (0..3u8).prop_map(RepFilter::Selector),
    ];
    let cancel_after = prop::option::weighted(0.1, 1..3u8);
    (0..5usize, 0..5usize, batch_size, prop::option::weighted(0.25, fault), filter, cancel_after).prop_map(
        |(from, to, batch_size, fault, filter, cancel_after)| Rep {
            from,
            to,
            batch_size,
            fault,
            filter,
            cancel_after,
        },
    )
}

fn task() -> impl Strategy<Value = Task> {
    prop_oneof![
        5 => write().prop_map(Task::Write),
        1 => (0..5usize).prop_map(Task::Compact),
        1 => (0..5usize, 1..4u64).prop_map(|(r, n)| Task::StoreFault { r, n }),
        4 => rep().prop_map(Task::Replicate),
    ]
}

fn step() -> impl Strategy<Value = Step> {
    prop_oneof![
        4 => task().prop_map(Step::One),
        1 => (task(), task(), 0..12u8)
            .prop_map(|(first, second, delay)| Step::Together { first, second, delay }),
    ]
}

fn schedule() -> impl Strategy<Value = Schedule> {
    let flags = |p| prop::collection::vec(prop::bool::weighted(p), 5);
    (3..=5usize, flags(0.3), flags(0.5), flags(0.5), 4..=8usize, prop::collection::vec(step(), 10..=60))
        .prop_map(|(replicas, lsm, two_tabs, yielding, ids, steps)| Schedule {
            replicas,
            lsm,
            two_tabs,
            yielding,
            ids,
            steps,
        })
}

// ---------------------------------------------------------------------------------------------
// Running a schedule

/// One replica: a database, on the LSM store sometimes with a second handle on the same
/// records (a second tab). Calls alternate between the handles.
struct Replica {
    tabs: Vec<Rc<Database>>,
    next: Cell<usize>,
    /// A handle on an LSM replica's records, to inject commit failures through.
    records: Option<MemoryRecords>,
    /// A commit failure was injected: storage errors are then expected on this replica.
    faulted: Cell<bool>,
}

struct Mesh {
    replicas: Vec<Replica>,
    ids: usize,
}

fn options() -> DatabaseOptions {
    DatabaseOptions { adapter: "memory", revs_limit: 1000, new_id: Box::new(|| "unused".to_string()) }
}

async fn replica(name: &str, lsm: bool, two_tabs: bool, yielding: bool) -> Replica {
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

/// A leaf with its history, as `open_revs` returns it.
#[derive(Clone, Debug)]
struct LeafInfo {
    pos: u64,
    hash: String,
    deleted: bool,
    /// Hashes from the leaf back to the oldest rev kept (`_revisions.ids`).
    ids: Vec<String>,
}

impl LeafInfo {
    fn rev(&self) -> String {
        format!("{}-{}", self.pos, self.hash)
    }
}

/// CouchDB's winner order, best first: a live leaf beats a deleted one, then the higher
/// generation, then the higher hash compared as a string. Written independently of the crate.
fn couchdb_order(a: &LeafInfo, b: &LeafInfo) -> std::cmp::Ordering {
    (!b.deleted, b.pos, b.hash.as_str()).cmp(&(!a.deleted, a.pos, a.hash.as_str()))
}

async fn leaves(db: &Database, id: &str) -> Vec<LeafInfo> {
    let Ok(text) = db.get(id, &json!({"open_revs": "all", "revs": true})).await else { return Vec::new() };
    let mut out: Vec<LeafInfo> = parse(&text)
        .as_array()
        .expect("open_revs answers an array")
        .iter()
        .filter_map(|row| row.get("ok"))
        .map(|doc| {
            let rev = doc["_rev"].as_str().unwrap();
            let (pos, hash) = rev.split_once('-').unwrap();
            let ids = doc["_revisions"]["ids"].as_array().unwrap();
            LeafInfo {
                pos: pos.parse().unwrap(),
                hash: hash.to_string(),
                deleted: doc["_deleted"] == true,
                ids: ids.iter().map(|h| h.as_str().unwrap().to_string()).collect(),
            }
        })
        .collect();
    out.sort_by(couchdb_order);
    out
}

/// A made-up rev hash for a branch: 10–16 hex digits, a function of what defines the rev.
fn branch_hash(seed: u16, parent: &str, delete: bool) -> String {
    // FNV-1a: any deterministic mixing will do.
    let mut h: u64 = 0xcbf2_9ce4_8422_2325;
    for b in format!("{seed}/{parent}/{delete}").bytes() {
        h = (h ^ b as u64).wrapping_mul(0x0100_0000_01b3);
    }
    let hex = format!("{h:016x}");
    hex[..10 + (seed as usize % 7)].to_string()
}

/// A store that suspends before every read and write, so that a joined task's calls land
/// between the reads of one database call (a changes page, a write's plan and its commit).
struct YieldingKv(Rc<dyn KvStore>);

#[async_trait(?Send)]
impl KvStore for YieldingKv {
    async fn get(&self, key: &[u8]) -> Result<Option<Vec<u8>>> {
        yield_now().await;
        self.0.get(key).await
    }
    async fn get_many(&self, keys: &[Vec<u8>]) -> Result<Vec<Option<Vec<u8>>>> {
        yield_now().await;
        self.0.get_many(keys).await
    }
    async fn get_many_shared(&self, keys: &[Vec<u8>]) -> Result<Vec<Option<SharedBytes>>> {
        yield_now().await;
        self.0.get_many_shared(keys).await
    }
    async fn scan(
        &self,
        range: Range,
        reverse: bool,
        limit: Option<usize>,
    ) -> Result<Vec<(Vec<u8>, Vec<u8>)>> {
        yield_now().await;
        self.0.scan(range, reverse, limit).await
    }
    async fn scan_shared(
        &self,
        range: Range,
        reverse: bool,
        limit: Option<usize>,
    ) -> Result<Vec<(SharedBytes, SharedBytes)>> {
        yield_now().await;
        self.0.scan_shared(range, reverse, limit).await
    }
    async fn write(&self, batch: WriteBatch, expected: Option<u64>) -> Result<u64> {
        yield_now().await;
        self.0.write(batch, expected).await
    }
    fn version(&self) -> u64 {
        self.0.version()
    }
    async fn refresh(&self) -> Result<bool> {
        self.0.refresh().await
    }
    fn on_external_change(&self, f: Rc<dyn Fn()>) {
        self.0.on_external_change(f)
    }
    async fn compact(&self) -> Result<()> {
        yield_now().await;
        self.0.compact().await
    }
    async fn destroy(&self) -> Result<()> {
        self.0.destroy().await
    }
    fn close(&self) {
        self.0.close()
    }
    fn blobs(&self) -> Rc<dyn BlobStore> {
        self.0.blobs()
    }
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
        LocalPeer::with_id(self.db(r).clone(), format!("r{r}"))
    }

    async fn run(&self, step: &Step) {
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
            Write::Edit { r, id, leaf, delete, v } => {
                let (db, id) = (self.db(r), doc_id(id % self.ids));
                let leaves = leaves(db, &id).await;
                let mut doc = json!({"_id": id, "v": v});
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
                assert_eq!(rows[0]["ok"], true, "a replicated write never fails: {doc} → {rows}");
            }
            Write::Replay { r, id } => {
                let (db, id) = (self.db(r), doc_id(id % self.ids));
                let Some(w) = leaves(db, &id).await.into_iter().next() else { return };
                let mut doc = parse(&db.get(&id, &json!({"rev": w.rev(), "revs": true})).await.unwrap());
                doc["_deleted"] = json!(w.deleted);
                let seq = db.update_seq().await.unwrap();
                let rows = parse(&db.bulk_docs(vec![doc.clone()], false).await.unwrap());
                assert_eq!(rows[0]["ok"], true, "{doc} → {rows}");
                if alone {
                    assert_eq!(db.update_seq().await.unwrap(), seq, "a replay writes nothing: {doc}");
                }
            }
        }
    }

    async fn replicate(&self, rep: &Rep) {
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
                    cancel.set(batches.get() >= after);
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
        let mut failures = Vec::new();
        for _ in 0..RERUNS {
            match replicate(&*src, &*tgt, &opts).await {
                Ok(_) => return,
                Err(f) => failures.push(f.error),
            }
        }
        panic!("a replication succeeds once its injected faults have struck: {failures:?}");
    }

    /// Every ordered pair once, fault-free; returns each run's result.
    async fn full_round(&self) -> Vec<(usize, usize, ReplicationResult)> {
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

/// What every replica must agree on: `snapshot` (leaves with `_revisions`, winners and
/// `_conflicts` in `_all_docs`, doc count) plus each doc's `_deleted_conflicts`.
async fn state(db: &Database) -> Value {
    let mut base = snapshot(db).await;
    let mut winners = serde_json::Map::new();
    for id in base["docs"].as_object().unwrap().keys() {
        let got = match db.get(id, &json!({"conflicts": true, "deleted_conflicts": true})).await {
            Ok(text) => parse(&text),
            Err(e) => json!({"status": e.status, "reason": e.reason}),
        };
        winners.insert(id.clone(), got);
    }
    base["winners"] = Value::Object(winners);
    base
}

/// Checks one replica's winners, conflicts and doc count against the oracle.
async fn check_winners(db: &Database, label: &str) {
    let changes = parse(&db.changes(&json!({"style": "all_docs"})).await.unwrap());
    let mut live = 0;
    for row in changes["results"].as_array().unwrap() {
        let id = row["id"].as_str().unwrap();
        let leaves = leaves(db, id).await;
        let winner = &leaves[0];
        let revs = |deleted: bool| -> Vec<String> {
            leaves[1..].iter().filter(|l| l.deleted == deleted).map(LeafInfo::rev).collect()
        };
        let place = format!("{label} {id}: leaves {leaves:?}");
        assert_eq!(row["changes"][0]["rev"], json!(winner.rev()), "changes lists the winner first, {place}");
        assert_eq!(row["deleted"] == true, winner.deleted, "{place}");
        let got = db.get(id, &json!({"conflicts": true, "deleted_conflicts": true})).await;
        if winner.deleted {
            assert_eq!(got.unwrap_err().reason.as_deref(), Some("deleted"), "{place}");
            continue;
        }
        live += 1;
        let doc = parse(&got.unwrap());
        let listed = |field: &str| -> Vec<String> {
            doc.get(field)
                .map(|v| v.as_array().unwrap().iter().map(|r| r.as_str().unwrap().to_string()).collect())
                .unwrap_or_default()
        };
        assert_eq!(doc["_rev"], json!(winner.rev()), "{place}");
        assert_eq!(listed("_conflicts"), revs(false), "{place}");
        assert_eq!(listed("_deleted_conflicts"), revs(true), "{place}");
    }
    assert_eq!(parse(&db.info().await.unwrap())["doc_count"], live, "{label}: doc_count counts live winners");
}

async fn run_schedule(s: &Schedule) {
    let mut replicas = Vec::new();
    for r in 0..s.replicas {
        replicas.push(replica(&format!("r{r}"), s.lsm[r], s.two_tabs[r], s.yielding[r]).await);
    }
    let mesh = Mesh { replicas, ids: s.ids };
    for step in &s.steps {
        mesh.run(step).await;
    }
    for records in mesh.replicas.iter().filter_map(|r| r.records.as_ref()) {
        records.fail_nth_commit(0);
    }
    // One round already carries every rev everywhere (the last source has heard from all);
    // the second makes quiescence explicit.
    mesh.full_round().await;
    mesh.full_round().await;
    let first = state(&mesh.replicas[0].tabs[0]).await;
    for (r, replica) in mesh.replicas.iter().enumerate() {
        for (t, db) in replica.tabs.iter().enumerate() {
            assert_eq!(state(db).await, first, "replica r{r} (tab {t}) differs from r0");
            check_winners(db, &format!("r{r} (tab {t})")).await;
        }
    }
    for (from, to, r) in mesh.full_round().await {
        assert_eq!((r.docs_read, r.docs_written), (0, 0), "a quiescent mesh moves nothing: r{from} → r{to}");
    }
}

fn cases() -> u32 {
    std::env::var("CONVERGENCE_CASES").ok().and_then(|v| v.parse().ok()).unwrap_or(DEFAULT_CASES)
}

proptest! {
    #![proptest_config(ProptestConfig { cases: cases(), ..ProptestConfig::default() })]

    #[test]
    fn replicas_in_a_full_mesh_converge_on_identical_trees_and_couchdb_winners(s in schedule()) {
        block_on(run_schedule(&s));
    }
}
