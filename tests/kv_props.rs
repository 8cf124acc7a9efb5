//! The LSM against a `BTreeMap` model: random writes, deletes, gets, scans both ways with
//! limits, compactions, crashes and reopens, from two handles on one `MemoryRecords` (one hears
//! the other's announcements, one is "deaf" and lags until it refreshes or loses a race). Then
//! the multi-handle and crash cases one by one.

#![cfg(not(target_arch = "wasm32"))]

use async_trait::async_trait;
use futures::executor::block_on;
use proptest::prelude::*;
use settee::kv::lsm::{Lsm, LsmOptions};
use settee::kv::records::{Commit, LockGuard, MemoryRecords, RecordStore, MANIFEST_KEY};
use settee::kv::{KvStore, Range, WriteBatch};
use settee::Result;
use std::cell::{Cell, RefCell};
use std::collections::{BTreeMap, HashMap};
use std::future::Future;
use std::ops::Bound;
use std::rc::{Rc, Weak};

type Model = BTreeMap<Vec<u8>, Vec<u8>>;

fn key(k: u8) -> Vec<u8> {
    // Three families with shared prefixes, like Settee's doc/seq/local keys.
    format!("{}{:03}", ["a/", "doc/", "doc/x/"][(k % 3) as usize], k).into_bytes()
}

#[derive(Debug, Clone)]
enum Action {
    Write { h: usize, ops: Vec<(u8, Option<Vec<u8>>)>, conditioned: bool },
    Crash { h: usize, ops: Vec<(u8, Option<Vec<u8>>)> },
    Get { h: usize, keys: Vec<u8> },
    Scan { h: usize, start: Option<(u8, bool)>, end: Option<(u8, bool)>, reverse: bool, limit: Option<usize> },
    Compact { h: usize, crash: bool },
    Refresh { h: usize },
    Reopen { h: usize },
}

fn action() -> impl Strategy<Value = Action> {
    let h = 0..2usize;
    let k = 0..40u8;
    let op = (k.clone(), prop::option::weighted(0.8, prop::collection::vec(any::<u8>(), 0..24)));
    let ops = prop::collection::vec(op, 0..24);
    let bound = prop::option::of((k.clone(), any::<bool>()));
    prop_oneof![
        6 => (h.clone(), ops.clone(), any::<bool>()).prop_map(|(h, ops, conditioned)| Action::Write { h, ops, conditioned }),
        1 => (h.clone(), ops).prop_map(|(h, ops)| Action::Crash { h, ops }),
        2 => (h.clone(), prop::collection::vec(k, 1..6)).prop_map(|(h, keys)| Action::Get { h, keys }),
        3 => (h.clone(), bound.clone(), bound, any::<bool>(), prop::option::of(0..12usize))
            .prop_map(|(h, start, end, reverse, limit)| Action::Scan { h, start, end, reverse, limit }),
        1 => (h.clone(), any::<bool>()).prop_map(|(h, crash)| Action::Compact { h, crash }),
        1 => h.clone().prop_map(|h| Action::Refresh { h }),
        1 => h.prop_map(|h| Action::Reopen { h }),
    ]
}

fn to_bound((k, incl): (u8, bool)) -> Bound<Vec<u8>> {
    if incl {
        Bound::Included(key(k))
    } else {
        Bound::Excluded(key(k))
    }
}

fn model_scan(m: &Model, r: &Range, reverse: bool, limit: Option<usize>) -> Vec<(Vec<u8>, Vec<u8>)> {
    let rows = m.iter().filter(|(k, _)| r.contains(k)).map(|(k, v)| (k.clone(), v.clone()));
    let limit = limit.unwrap_or(usize::MAX);
    if reverse {
        rows.rev().take(limit).collect()
    } else {
        rows.take(limit).collect()
    }
}

fn batch(ops: &[(u8, Option<Vec<u8>>)]) -> WriteBatch {
    WriteBatch { ops: ops.iter().map(|(k, v)| (key(*k), v.clone())).collect() }
}

fn assert_no_orphans(records: &MemoryRecords, current: &Lsm<MemoryRecords>) {
    let mut stored = records.keys();
    stored.retain(|k| k != MANIFEST_KEY);
    let mut live = current.live_chunk_keys();
    live.sort();
    assert_eq!(stored, live, "every stored chunk is live and every live chunk is stored");
}

async fn open(records: &MemoryRecords, h: usize, opts: &LsmOptions) -> Lsm<MemoryRecords> {
    let store = if h == 0 { records.reopen() } else { records.reopen_deaf() };
    Lsm::open_with(store, opts.clone()).await.unwrap()
}

async fn run(actions: Vec<Action>, opts: LsmOptions) {
    let records = MemoryRecords::new();
    let mut handles = [open(&records, 0, &opts).await, open(&records, 1, &opts).await];
    // The model after each data version: a lagging handle must read exactly its snapshot.
    let mut snapshots: HashMap<u64, Model> = HashMap::from([(0, Model::new())]);
    let mut model = Model::new();
    let latest = |hs: &[Lsm<MemoryRecords>; 2]| hs[0].stats().data_version;

    for action in actions {
        match action {
            Action::Write { h, ops, conditioned } => {
                let up_to_date = handles[h].stats().data_version == latest(&handles);
                let expected = conditioned.then(|| handles[h].version());
                match handles[h].write(batch(&ops), expected).await {
                    Ok(v) => {
                        assert!(!conditioned || up_to_date, "a write conditioned on old data must fail");
                        assert!(v >= 1);
                        for (k, val) in ops {
                            match val {
                                Some(val) => model.insert(key(k), val),
                                None => model.remove(&key(k)),
                            };
                        }
                        snapshots.insert(handles[h].stats().data_version, model.clone());
                    }
                    Err(e) => {
                        assert!(e.is_stale() && conditioned && !up_to_date, "unexpected {e}");
                    }
                }
            }
            Action::Crash { h, ops } => {
                records.fail_nth_commit(1);
                let err = handles[h].write(batch(&ops), None).await.expect_err("the commit fails");
                assert!(!err.is_stale());
                records.fail_nth_commit(0);
            }
            Action::Get { h, keys } => {
                let keys: Vec<Vec<u8>> = keys.into_iter().map(key).collect();
                let many = handles[h].get_many(&keys).await.unwrap();
                let seen = &snapshots[&handles[h].stats().data_version];
                for (k, got) in keys.iter().zip(&many) {
                    assert_eq!(got, &seen.get(k).cloned(), "get_many {:?}", String::from_utf8_lossy(k));
                    let one = handles[h].get(k).await.unwrap();
                    assert_eq!(&one, &snapshots[&handles[h].stats().data_version].get(k).cloned());
                }
            }
            Action::Scan { h, start, end, reverse, limit } => {
                let r = Range {
                    start: start.map_or(Bound::Unbounded, to_bound),
                    end: end.map_or(Bound::Unbounded, to_bound),
                };
                let got = handles[h].scan(r.clone(), reverse, limit).await.unwrap();
                let seen = &snapshots[&handles[h].stats().data_version];
                assert_eq!(
                    got,
                    model_scan(seen, &r, reverse, limit),
                    "scan {r:?} reverse={reverse} limit={limit:?}"
                );
            }
            Action::Compact { h, crash } => {
                if crash {
                    records.fail_nth_commit(1);
                    // Fails if there was something to merge; either way nothing changes.
                    let _ = handles[h].compact().await;
                    records.fail_nth_commit(0);
                } else {
                    handles[h].compact().await.unwrap();
                    let s = handles[h].stats();
                    assert!(s.runs <= 1, "a full compaction leaves one run: {s:?}");
                }
            }
            Action::Refresh { h } => {
                handles[h].refresh().await.unwrap();
                assert_eq!(handles[h].stats().data_version, latest(&handles));
            }
            Action::Reopen { h } => {
                handles[h].close();
                handles[h] = open(&records, h, &opts).await;
            }
        }
        // Handle 0 hears every announcement, so it is always current.
        assert_eq!(handles[0].version(), {
            let fresh = Lsm::open_with(records.reopen_deaf(), opts.clone()).await.unwrap();
            fresh.version()
        });
        assert_no_orphans(&records, &handles[0]);
    }
    let fresh = Lsm::open_with(records.reopen_deaf(), opts).await.unwrap();
    assert_eq!(
        fresh.scan(Range::all(), false, None).await.unwrap(),
        model_scan(&model, &Range::all(), false, None)
    );
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 160, ..ProptestConfig::default() })]

    #[test]
    fn the_lsm_behaves_like_a_btreemap_across_handles_compactions_crashes_and_reopens(
        actions in prop::collection::vec(action(), 1..60),
        chunk_bytes in 48..600usize,
        cache_bytes in prop_oneof![Just(0usize), 512..8192usize, Just(1 << 20)],
        auto_compact in any::<bool>(),
        fanout in 2..5usize,
        small_runs in 0..8usize,
    ) {
        let opts = LsmOptions { chunk_bytes, cache_bytes, auto_compact, fanout, small_runs };
        block_on(run(actions, opts));
    }
}

fn docs(from: usize, to: usize, tag: &str) -> WriteBatch {
    let mut batch = WriteBatch::new();
    for i in from..to {
        batch.put(format!("k{i:04}").into_bytes(), format!("{tag}{i}").into_bytes());
    }
    batch
}

fn manual() -> LsmOptions {
    LsmOptions { chunk_bytes: 256, cache_bytes: 4096, auto_compact: false, fanout: 2, small_runs: 0 }
}

async fn everything(s: &dyn KvStore) -> Vec<(Vec<u8>, Vec<u8>)> {
    s.scan(Range::all(), false, None).await.unwrap()
}

#[test]
fn a_crash_in_the_middle_of_a_commit_leaves_all_or_nothing() {
    block_on(async {
        let records = MemoryRecords::new();
        let a = Lsm::open_with(records.reopen(), manual()).await.unwrap();
        a.write(docs(0, 100, "one"), None).await.unwrap();
        let after_first = everything(&a).await;

        records.fail_nth_commit(1);
        let err = a.write(docs(50, 400, "two"), None).await.expect_err("the tab dies mid-commit");
        assert!(!err.is_stale());
        assert_eq!(everything(&a).await, after_first, "none of the batch is visible");
        let reloaded = Lsm::open_with(records.reopen(), manual()).await.unwrap();
        assert_eq!(everything(&reloaded).await, after_first, "nor after a reload");
        assert_no_orphans(&records, &a);

        a.write(docs(50, 400, "two"), None).await.expect("the same batch commits afterwards");
        let all = everything(&a).await;
        assert_eq!(all.len(), 400);
        assert_eq!(all[60].1, b"two60");

        records.fail_nth_commit(1);
        a.compact().await.expect_err("the compaction's commit fails");
        assert_eq!(everything(&a).await, all, "a failed compaction changes nothing");
        assert_eq!(a.stats().runs, 2);
        assert_no_orphans(&records, &a);
        assert_eq!(everything(&Lsm::open(records.reopen()).await.unwrap()).await, all);
        a.compact().await.unwrap();
        assert_eq!((a.stats().runs, everything(&a).await), (1, all));
        assert_no_orphans(&records, &a);
    });
}

#[test]
fn a_failed_automatic_compaction_does_not_fail_the_write_that_triggered_it() {
    block_on(async {
        let records = MemoryRecords::new();
        let opts = LsmOptions { auto_compact: true, ..manual() };
        let a = Lsm::open_with(records.reopen(), opts).await.unwrap();
        a.write(docs(0, 10, "x"), None).await.unwrap();
        records.fail_nth_commit(2);
        a.write(docs(10, 20, "x"), None).await.expect("the write itself committed");
        assert_eq!(a.stats().runs, 2, "the merge that should have followed failed");
        assert_eq!(everything(&a).await.len(), 20);
        a.write(docs(20, 30, "x"), None).await.unwrap();
        assert_eq!(a.stats().runs, 1, "the next write's merge catches up");
        assert_no_orphans(&records, &a);
    });
}

#[test]
fn two_handles_reject_stale_writes_and_see_each_other_after_refresh() {
    block_on(async {
        let records = MemoryRecords::new();
        let a = Lsm::open_with(records.reopen(), manual()).await.unwrap();
        let lagging = Lsm::open_with(records.reopen_deaf(), manual()).await.unwrap();
        let listening = Lsm::open_with(records.reopen(), manual()).await.unwrap();
        let fired = Rc::new(Cell::new(0));
        let f = fired.clone();
        listening.on_external_change(Rc::new(move || f.set(f.get() + 1)));

        let v = lagging.version();
        a.write(docs(0, 5, "a"), None).await.unwrap();
        assert_eq!(fired.get(), 1, "the announcement made the listening handle refresh");
        assert_eq!(listening.get(b"k0001").await.unwrap(), Some(b"a1".to_vec()));
        assert_eq!(lagging.get(b"k0001").await.unwrap(), None, "the lagging handle reads its snapshot");

        assert!(lagging.refresh().await.unwrap(), "the refresh loads a's write");
        assert!(!lagging.refresh().await.unwrap(), "and then there is nothing new");
        let err = lagging.write(docs(0, 1, "lost"), Some(v)).await.expect_err("planned on old data");
        assert!(err.is_stale());
        assert_eq!(lagging.get(b"k0001").await.unwrap(), Some(b"a1".to_vec()));
        lagging.write(docs(5, 6, "l"), Some(lagging.version())).await.unwrap();
        assert_eq!(a.get(b"k0005").await.unwrap(), Some(b"l5".to_vec()), "a heard the lagging handle");
        assert_eq!(fired.get(), 2);
        assert_eq!(everything(&a).await, everything(&lagging).await);
    });
}

#[test]
fn a_blind_write_from_a_lagging_handle_retries_on_the_fresh_manifest() {
    block_on(async {
        let records = MemoryRecords::new();
        let a = Lsm::open_with(records.reopen(), manual()).await.unwrap();
        let lagging = Lsm::open_with(records.reopen_deaf(), manual()).await.unwrap();
        a.write(docs(0, 3, "a"), None).await.unwrap();
        lagging.write(docs(3, 6, "b"), None).await.expect("a blind write has no read to invalidate");
        assert_eq!(everything(&lagging).await.len(), 6);
        assert_eq!(everything(&a).await, everything(&lagging).await);
        assert_no_orphans(&records, &a);
    });
}

#[test]
fn a_conditioned_write_survives_another_handles_compaction_and_listeners_stay_quiet() {
    block_on(async {
        let records = MemoryRecords::new();
        let a = Lsm::open_with(records.reopen(), manual()).await.unwrap();
        a.write(docs(0, 20, "a"), None).await.unwrap();
        a.write(docs(10, 30, "b"), None).await.unwrap();
        let lagging = Lsm::open_with(records.reopen_deaf(), manual()).await.unwrap();
        let listening = Lsm::open_with(records.reopen(), manual()).await.unwrap();
        let fired = Rc::new(Cell::new(0));
        let f = fired.clone();
        listening.on_external_change(Rc::new(move || f.set(f.get() + 1)));
        let v = lagging.version();

        a.compact().await.unwrap();
        assert_eq!(a.stats().runs, 1);
        assert_eq!(fired.get(), 0, "a compaction changes no data, so listeners are not called");
        lagging.write(docs(30, 31, "c"), Some(v)).await.expect("only the layout changed since v");
        assert_eq!(everything(&lagging).await.len(), 31);
        assert_eq!(fired.get(), 1);
        assert_no_orphans(&records, &a);
    });
}

#[test]
fn a_merge_keeps_the_chunks_no_other_run_overlaps_and_rewrites_the_rest() {
    block_on(async {
        let records = MemoryRecords::new();
        let a = Lsm::open_with(records.reopen(), manual()).await.unwrap();
        a.write(docs(0, 100, "a"), None).await.unwrap();
        a.write(docs(100, 200, "b"), None).await.unwrap();
        let disjoint = a.live_chunk_keys();
        let bytes: Vec<Option<Vec<u8>>> = disjoint.iter().map(|k| records.raw(k)).collect();
        a.write(docs(150, 151, "c"), None).await.unwrap();
        let before = everything(&a).await;

        a.compact().await.unwrap();
        assert_eq!(a.stats().runs, 1);
        assert_eq!(everything(&a).await, before);
        let live = a.live_chunk_keys();
        let kept: Vec<usize> = (0..disjoint.len()).filter(|&i| live.contains(&disjoint[i])).collect();
        // The chunks of the first two writes stay, record and all, except the one holding
        // k0150 and those under a quarter of chunk_bytes (at most each write's last one).
        assert!(
            kept.len() < disjoint.len() && kept.len() + 3 >= disjoint.len(),
            "kept {kept:?} of {disjoint:?}"
        );
        for i in kept {
            assert!(bytes[i].is_some());
            assert_eq!(records.raw(&disjoint[i]), bytes[i], "chunk {} is unchanged", disjoint[i]);
        }
        assert_no_orphans(&records, &a);

        // Tombstones must go once a merge reaches the oldest run, so a chunk of them is not
        // kept even where nothing overlaps it (k0500..k0599 never existed).
        let mut gone = WriteBatch::new();
        for i in (0..100).chain(500..600) {
            gone.delete(format!("k{i:04}").into_bytes());
        }
        a.write(gone, None).await.unwrap();
        a.compact().await.unwrap();
        let stats = a.stats();
        assert_eq!((stats.runs, stats.entries), (1, 100), "no tombstone is left: {stats:?}");
        assert_eq!(everything(&a).await, before[100..].to_vec());
        assert_no_orphans(&records, &a);
    });
}

#[test]
fn a_read_that_finds_its_chunk_compacted_away_refreshes_and_retries() {
    block_on(async {
        let records = MemoryRecords::new();
        let writer = Lsm::open_with(records.reopen(), manual()).await.unwrap();
        writer.write(docs(0, 100, "old"), None).await.unwrap();
        writer.write(docs(100, 200, "old"), None).await.unwrap();
        let reader = Lsm::open_with(records.reopen_deaf(), manual()).await.unwrap();
        assert_eq!(reader.get(b"k0001").await.unwrap(), Some(b"old1".to_vec()));
        let seen = reader.version();

        writer.write(docs(150, 151, "new"), None).await.unwrap();
        writer.compact().await.unwrap();
        // The new write overlaps the chunk holding k0150, so the merge rewrote that one.
        assert!(
            reader.live_chunk_keys().iter().any(|k| records.raw(k).is_none()),
            "some of the reader's chunks are gone"
        );

        assert_eq!(reader.get(b"k0150").await.unwrap(), Some(b"new150".to_vec()));
        assert!(reader.version() > seen, "the missing chunk made the reader refresh");
        assert_eq!(reader.version(), writer.version());
        assert_eq!(everything(&reader).await, everything(&writer).await);
        let rev = reader.scan(Range::all(), true, Some(3)).await.unwrap();
        assert_eq!(rev[0].0, b"k0199");
    });
}

#[test]
fn a_scan_on_a_lagging_handle_restarts_when_its_chunks_vanish() {
    block_on(async {
        let records = MemoryRecords::new();
        let writer = Lsm::open_with(records.reopen(), manual()).await.unwrap();
        for b in 0..4 {
            writer.write(docs(b * 50, b * 50 + 50, "v"), None).await.unwrap();
        }
        let opts = LsmOptions { cache_bytes: 0, ..manual() };
        let reader = Lsm::open_with(records.reopen_deaf(), opts).await.unwrap();
        writer.write(docs(0, 1, "w"), None).await.unwrap();
        writer.compact().await.unwrap();
        let rows = reader.scan(Range::all(), false, None).await.unwrap();
        assert_eq!(rows.len(), 200);
        assert_eq!(rows[0].1, b"w0", "the restarted scan read the new layout");
    });
}

#[test]
fn compaction_is_skipped_while_another_handle_holds_the_lock() {
    block_on(async {
        let records = MemoryRecords::new();
        let a = Lsm::open_with(records.reopen(), manual()).await.unwrap();
        a.write(docs(0, 10, "a"), None).await.unwrap();
        a.write(docs(5, 15, "b"), None).await.unwrap();
        let other_tab = records.hold_lock().expect("free");
        a.compact().await.unwrap();
        assert_eq!(a.stats().runs, 2, "someone else is compacting");
        drop(other_tab);
        a.compact().await.unwrap();
        assert_eq!(a.stats().runs, 1);
    });
}

/// A record store whose next commit first lets something else happen, as when another tab's
/// transaction gets in between this tab's merge and its commit.
struct Interleaved {
    inner: MemoryRecords,
    before_commit: RefCell<Option<Box<dyn FnOnce()>>>,
}

#[async_trait(?Send)]
impl RecordStore for Interleaved {
    async fn get(&self, key: &str) -> Result<Option<Vec<u8>>> {
        self.inner.get(key).await
    }
    async fn commit(&self, commit: Commit<'_>) -> Result<()> {
        let hook = self.before_commit.borrow_mut().take();
        if let Some(f) = hook {
            f();
        }
        self.inner.commit(commit).await
    }
    async fn destroy(&self) -> Result<()> {
        self.inner.destroy().await
    }
    fn announce(&self) {
        self.inner.announce()
    }
    fn subscribe(&self, f: Weak<dyn Fn()>) {
        self.inner.subscribe(f)
    }
    /// No lock: like a worker without `navigator.locks`, so two handles can compact at once.
    async fn try_lock(&self) -> Result<Option<LockGuard>> {
        Ok(Some(Box::new(())))
    }
    fn blobs(&self) -> Rc<dyn settee::kv::blobs::BlobStore> {
        self.inner.blobs()
    }
}

/// Runs a future that never suspends (everything over `MemoryRecords`) from sync code.
fn run_now<F: Future>(f: F) -> F::Output {
    let mut f = std::pin::pin!(f);
    match f.as_mut().poll(&mut std::task::Context::from_waker(std::task::Waker::noop())) {
        std::task::Poll::Ready(v) => v,
        std::task::Poll::Pending => panic!("memory futures complete at once"),
    }
}

#[test]
fn a_compaction_that_loses_a_race_keeps_the_runs_another_handle_added() {
    block_on(async {
        let records = MemoryRecords::new();
        let store = Interleaved { inner: records.reopen_deaf(), before_commit: RefCell::new(None) };
        let a = Lsm::open_with(store, manual()).await.unwrap();
        for b in 0..3 {
            a.write(docs(b * 10, b * 10 + 15, &format!("r{b}")), None).await.unwrap();
        }
        let expected_old = everything(&a).await;
        let b = Rc::new(Lsm::open_with(records.reopen(), manual()).await.unwrap());
        let b2 = b.clone();
        *a.store().before_commit.borrow_mut() =
            Some(Box::new(move || run_now(b2.write(docs(100, 101, "late"), None)).map(|_| ()).unwrap()));

        let commits = records.commits();
        a.compact().await.unwrap();
        // b's write, then a's merge of its three runs committed behind the late run, then (a
        // full compaction goes on until one run is left) the merge of those two.
        assert_eq!(records.commits() - commits, 3);
        assert_eq!(a.stats().runs, 1);
        assert_eq!(a.get(b"k0100").await.unwrap(), Some(b"late100".to_vec()));
        let mut expected = expected_old;
        expected.push((b"k0100".to_vec(), b"late100".to_vec()));
        assert_eq!(everything(&a).await, expected);
        assert_eq!(everything(&*b).await, expected);
        assert_no_orphans(&records, &b);
    });
}

#[test]
fn a_compaction_whose_runs_another_handle_already_merged_is_abandoned() {
    block_on(async {
        let records = MemoryRecords::new();
        let store = Interleaved { inner: records.reopen_deaf(), before_commit: RefCell::new(None) };
        let a = Lsm::open_with(store, manual()).await.unwrap();
        a.write(docs(0, 30, "x"), None).await.unwrap();
        a.write(docs(20, 40, "y"), None).await.unwrap();
        let expected = everything(&a).await;
        let b = Rc::new(Lsm::open_with(records.reopen(), manual()).await.unwrap());
        let b2 = b.clone();
        *a.store().before_commit.borrow_mut() = Some(Box::new(move || run_now(b2.compact()).unwrap()));

        a.compact().await.unwrap();
        assert_eq!(a.stats().runs, 1);
        assert_eq!(a.version(), b.version(), "a adopted b's merge instead of committing its own");
        assert_eq!(everything(&a).await, expected);
        assert_no_orphans(&records, &b);
    });
}

#[test]
fn after_destroy_a_lagging_handle_forgets_chunks_cached_from_the_old_database() {
    block_on(async {
        let records = MemoryRecords::new();
        let a = Lsm::open_with(records.reopen(), manual()).await.unwrap();
        a.write(docs(0, 3, "old"), None).await.unwrap();
        let lagging = Lsm::open_with(records.reopen_deaf(), manual()).await.unwrap();
        assert_eq!(lagging.get(b"k0001").await.unwrap(), Some(b"old1".to_vec()));

        a.destroy().await.unwrap();
        assert!(records.keys().is_empty(), "destroy removes every record");
        assert!(everything(&a).await.is_empty());
        a.write(docs(0, 3, "new"), None).await.unwrap();
        assert_eq!(a.live_chunk_keys(), vec!["chunk/0000000000000002".to_string()], "chunk ids restart");

        assert!(lagging.refresh().await.unwrap());
        assert_eq!(lagging.get(b"k0001").await.unwrap(), Some(b"new1".to_vec()), "not the cached old chunk");
    });
}

#[test]
fn a_database_written_by_a_newer_format_is_refused_on_open() {
    block_on(async {
        let records = MemoryRecords::new();
        let mut manifest = b"STMF".to_vec();
        manifest.extend_from_slice(&(settee::kv::lsm::FORMAT + 1).to_le_bytes());
        manifest.extend_from_slice(&7u64.to_le_bytes());
        let commit = Commit { expect: 0, puts: vec![(MANIFEST_KEY.to_string(), &manifest)], deletes: vec![] };
        records.commit(commit).await.unwrap();
        let err = Lsm::open(records.reopen()).await.err().expect("refused");
        assert!(err.message.contains("newer Settee"), "{err}");
    });
}
