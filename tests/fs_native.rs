//! The disk record store (`FsRecords` over `std::fs`): the KV conformance suite, then what
//! only a directory can show: a reopen that reads everything back from the files, merges that
//! remove the chunk files they drop, the lock against a second process, damage, and a process
//! that dies at every step of a commit (all or nothing, property-tested).

#![cfg(not(target_arch = "wasm32"))]

#[macro_use]
#[path = "common/kv_suite.rs"]
mod kv_suite;

use futures::executor::block_on;
use kv_suite::Opener;
use proptest::prelude::*;
use settee::kv::fs::std_fs::StdFs;
use settee::kv::fs::{FsOptions, FsRecords};
use settee::kv::lsm::{Lsm, LsmOptions};
use settee::kv::{KvStore, Range, WriteBatch};
use std::collections::BTreeMap;
use std::path::PathBuf;
use std::rc::Rc;

/// A fresh directory under the system's temp dir, removed when dropped.
struct TempDir(PathBuf);

impl TempDir {
    fn new(tag: &str) -> TempDir {
        use std::sync::atomic::{AtomicU64, Ordering};
        static N: AtomicU64 = AtomicU64::new(0);
        let dir = std::env::temp_dir().join(format!(
            "settee-fs-{tag}-{}-{}",
            std::process::id(),
            N.fetch_add(1, Ordering::Relaxed)
        ));
        let _ = std::fs::remove_dir_all(&dir);
        TempDir(dir)
    }
    fn path(&self) -> String {
        self.0.to_string_lossy().into_owned()
    }
}

impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

async fn open_lsm(fs: Rc<StdFs>, dir: &str, opts: LsmOptions) -> settee::Result<Lsm<FsRecords>> {
    Lsm::open_with(FsRecords::open(fs, dir).await?, opts).await
}

struct FsOpener {
    dir: TempDir,
    opts: LsmOptions,
}

impl Opener for FsOpener {
    async fn open(&self) -> Rc<dyn KvStore> {
        Rc::new(open_lsm(Rc::new(StdFs::new()), &self.dir.path(), self.opts.clone()).await.unwrap())
    }
}

fn tiny() -> LsmOptions {
    LsmOptions { chunk_bytes: 256, cache_bytes: 4096, ..LsmOptions::default() }
}

macro_rules! native {
    ($name:ident, $opener:expr) => {
        #[test]
        fn $name() {
            block_on(kv_suite::$name(&$opener));
        }
    };
}

mod fs_default {
    use super::*;
    kv_suite_tests!(native, FsOpener { dir: TempDir::new("default"), opts: LsmOptions::default() });
}

mod fs_tiny_chunks {
    use super::*;
    kv_suite_tests!(native, FsOpener { dir: TempDir::new("tiny"), opts: tiny() });
}

fn docs(from: usize, to: usize) -> WriteBatch {
    let mut batch = WriteBatch::new();
    for i in from..to {
        batch.put(
            format!("doc/{i:06}").into_bytes(),
            format!("{{\"n\":{i},\"pad\":\"{}\"}}", "p".repeat(60)).into_bytes(),
        );
    }
    batch
}

async fn all(lsm: &dyn KvStore) -> Vec<(Vec<u8>, Vec<u8>)> {
    lsm.scan(Range::all(), false, None)
        .await
        .unwrap()
        .into_iter()
        .map(|(k, v)| (k.to_vec(), v.to_vec()))
        .collect()
}

#[test]
fn a_closed_store_reopens_from_its_files_alone() {
    block_on(async {
        let dir = TempDir::new("reopen");
        let lsm = open_lsm(Rc::new(StdFs::new()), &dir.path(), tiny()).await.unwrap();
        for b in 0..5 {
            lsm.write(docs(b * 100, b * 100 + 100), None).await.unwrap();
        }
        let before = all(&lsm).await;
        lsm.close();
        drop(lsm);
        let again = open_lsm(Rc::new(StdFs::new()), &dir.path(), tiny()).await.unwrap();
        assert_eq!(all(&again).await, before);
        assert_eq!(before.len(), 500);
    });
}

#[test]
fn merges_remove_the_chunk_files_they_drop() {
    block_on(async {
        let dir = TempDir::new("merge");
        let opts = LsmOptions { chunk_bytes: 1024, auto_compact: false, ..LsmOptions::default() };
        // Every record in its own file, none only in the log, so the files are the chunks.
        let files = FsOptions { inline_max: 0, ..FsOptions::default() };
        let records = FsRecords::open_with(Rc::new(StdFs::new()), &dir.path(), files).await.unwrap();
        let lsm = Lsm::open_with(records, opts).await.unwrap();
        // The same 300 keys six times over: a merge keeps only the newest values.
        for _ in 0..6 {
            lsm.write(docs(0, 300), None).await.unwrap();
        }
        let probe = FsRecords::open(Rc::new(StdFs::new()), &dir.path()).await.unwrap();
        let before = probe.files().await.unwrap().len();
        let runs = lsm.stats().runs;
        assert!(lsm.compact_all().await.unwrap(), "{runs} runs, {before} files");
        let after = probe.files().await.unwrap();
        assert_eq!(after.len(), lsm.stats().chunks, "exactly the live chunks have files");
        assert!(after.len() < before, "{} files before the merge, {} after", before, after.len());
        assert_eq!(all(&lsm).await.len(), 300);
    });
}

#[test]
fn a_directory_another_live_process_holds_is_locked_and_a_dead_ones_lock_is_taken_over() {
    block_on(async {
        let dir = TempDir::new("lock");
        std::fs::create_dir_all(&dir.0).unwrap();
        // pid 1 (init) is alive on any Unix and is not us.
        std::fs::write(dir.0.join("LOCK"), "1").unwrap();
        let err = FsRecords::open(Rc::new(StdFs::new()), &dir.path()).await.err().expect("locked");
        assert_eq!((err.status, err.name), (423, "locked"));
        assert!(err.message.contains("pid 1"), "{}", err.message);
        assert!(!dir.0.join("STATE").exists(), "nothing was written");

        // A pid that cannot be alive (above Linux's pid_max) is a dead process's lock.
        std::fs::write(dir.0.join("LOCK"), "4294967290").unwrap();
        let lsm = open_lsm(Rc::new(StdFs::new()), &dir.path(), tiny()).await.unwrap();
        lsm.write(docs(0, 3), None).await.unwrap();
        assert_eq!(std::fs::read_to_string(dir.0.join("LOCK")).unwrap(), std::process::id().to_string());
        lsm.close();
        assert!(!dir.0.join("LOCK").exists(), "the last close releases the lock");
    });
}

#[test]
fn a_damaged_state_file_is_a_corruption_error_naming_it() {
    block_on(async {
        let dir = TempDir::new("damage");
        let lsm = open_lsm(Rc::new(StdFs::new()), &dir.path(), tiny()).await.unwrap();
        lsm.write(docs(0, 10), None).await.unwrap();
        lsm.close();
        drop(lsm);
        // The write went to the log; a reopen replays it and checkpoints it into STATE.
        open_lsm(Rc::new(StdFs::new()), &dir.path(), tiny()).await.unwrap().close();
        let state = dir.0.join("STATE");
        let mut bytes = std::fs::read(&state).unwrap();
        bytes[10] ^= 1;
        std::fs::write(&state, bytes).unwrap();
        let err = open_lsm(Rc::new(StdFs::new()), &dir.path(), tiny()).await.err().expect("damaged");
        assert_eq!((err.status, err.name), (500, "corruption"));
        assert!(err.message.contains("STATE"), "{}", err.message);
        assert!(!dir.0.join("LOCK").exists(), "a failed open leaves no lock behind");
    });
}

#[test]
fn destroy_removes_the_directory_and_a_new_store_starts_empty() {
    block_on(async {
        let dir = TempDir::new("destroy");
        let lsm = open_lsm(Rc::new(StdFs::new()), &dir.path(), tiny()).await.unwrap();
        lsm.write(docs(0, 10), None).await.unwrap();
        lsm.destroy().await.unwrap();
        assert!(!dir.0.exists());
        let again = open_lsm(Rc::new(StdFs::new()), &dir.path(), tiny()).await.unwrap();
        assert!(all(&again).await.is_empty());
    });
}

/// The names of the files in `dir` that start with `prefix`.
fn named(dir: &TempDir, prefix: &str) -> Vec<String> {
    let mut out: Vec<String> = std::fs::read_dir(&dir.0)
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .filter(|n| n.starts_with(prefix))
        .collect();
    out.sort();
    out
}

#[test]
fn small_commits_are_log_appends_replayed_and_checkpointed_at_the_next_open() {
    block_on(async {
        let dir = TempDir::new("log");
        let records = FsRecords::open(Rc::new(StdFs::new()), &dir.path()).await.unwrap();
        let lsm = Lsm::open_with(records, tiny()).await.unwrap();
        for b in 0..4 {
            lsm.write(docs(b * 10, b * 10 + 10), None).await.unwrap();
        }
        assert!(named(&dir, "chunk~").is_empty(), "no record file yet: {:?}", named(&dir, ""));
        assert_eq!(named(&dir, "LOG-"), ["LOG-0"]);
        let before = all(&lsm).await;
        lsm.close();
        drop(lsm);
        let again = open_lsm(Rc::new(StdFs::new()), &dir.path(), tiny()).await.unwrap();
        assert_eq!(all(&again).await, before);
        assert_eq!(before.len(), 40);
        assert_eq!(named(&dir, "LOG-"), ["LOG-1"], "the open checkpointed to a fresh log");
        assert_eq!(std::fs::metadata(dir.0.join("LOG-1")).unwrap().len(), 0);
        assert!(!named(&dir, "chunk~").is_empty(), "the logged records are files now");
    });
}

#[test]
fn a_torn_log_tail_is_dropped_and_the_commits_before_it_stay() {
    block_on(async {
        let dir = TempDir::new("torn");
        let lsm = open_lsm(Rc::new(StdFs::new()), &dir.path(), tiny()).await.unwrap();
        lsm.write(docs(0, 10), None).await.unwrap();
        let first = all(&lsm).await;
        let log = dir.0.join("LOG-0");
        let whole = std::fs::metadata(&log).unwrap().len();
        lsm.write(docs(10, 20), None).await.unwrap();
        lsm.close();
        drop(lsm);
        // The second commit's record cut anywhere: as a crash in the middle of its append.
        let bytes = std::fs::read(&log).unwrap();
        let cut = whole as usize + (bytes.len() - whole as usize) / 3;
        std::fs::write(&log, &bytes[..cut]).unwrap();
        let again = open_lsm(Rc::new(StdFs::new()), &dir.path(), tiny()).await.unwrap();
        assert_eq!(all(&again).await, first);
        again.write(docs(30, 31), None).await.unwrap();
        assert_eq!(all(&again).await.len(), 11, "and it works on, past the dropped tail");
    });
}

#[test]
fn after_an_append_fails_part_way_later_commits_are_refused_until_the_store_is_reopened() {
    block_on(async {
        let dir = TempDir::new("broken");
        let fs = Rc::new(StdFs::new());
        let lsm = open_lsm(fs.clone(), &dir.path(), tiny()).await.unwrap();
        lsm.write(docs(0, 10), None).await.unwrap();
        let before = all(&lsm).await;
        fs.fail_once(1);
        assert!(lsm.write(docs(10, 20), None).await.is_err(), "the append failed, half written");
        // Appending after the torn half would hide this commit behind it at the next open
        // (a damaged record followed by whole ones is corruption): refused instead.
        let err = lsm.write(docs(20, 30), None).await.unwrap_err();
        assert!(err.message.contains("open the database again"), "{}", err.message);
        lsm.close();
        drop(lsm);
        let again = open_lsm(Rc::new(StdFs::new()), &dir.path(), tiny()).await.unwrap();
        assert_eq!(all(&again).await, before, "only the commits that succeeded");
        again.write(docs(20, 30), None).await.unwrap();
        assert_eq!(all(&again).await.len(), 20);
    });
}

#[test]
fn a_damaged_log_record_with_records_after_it_is_a_corruption_error() {
    block_on(async {
        let dir = TempDir::new("badlog");
        let lsm = open_lsm(Rc::new(StdFs::new()), &dir.path(), tiny()).await.unwrap();
        lsm.write(docs(0, 10), None).await.unwrap();
        lsm.write(docs(10, 20), None).await.unwrap();
        lsm.close();
        drop(lsm);
        let log = dir.0.join("LOG-0");
        let mut bytes = std::fs::read(&log).unwrap();
        bytes[20] ^= 0x10;
        std::fs::write(&log, bytes).unwrap();
        let err = open_lsm(Rc::new(StdFs::new()), &dir.path(), tiny()).await.err().expect("damaged");
        assert_eq!((err.status, err.name), (500, "corruption"));
        assert!(err.message.contains("LOG-0"), "{}", err.message);
    });
}

#[test]
fn a_full_log_makes_the_next_commit_a_checkpoint_so_the_log_stays_bounded() {
    block_on(async {
        let dir = TempDir::new("ckpt");
        let opts = FsOptions { log_max: 4096, ..FsOptions::default() };
        let records = FsRecords::open_with(Rc::new(StdFs::new()), &dir.path(), opts).await.unwrap();
        let lsm = Lsm::open_with(records, tiny()).await.unwrap();
        let mut biggest = 0;
        for b in 0..30 {
            lsm.write(docs(b * 5, b * 5 + 5), None).await.unwrap();
            let logs = named(&dir, "LOG-");
            assert_eq!(logs.len(), 1, "one log at a time: {logs:?}");
            biggest = biggest.max(std::fs::metadata(dir.0.join(&logs[0])).unwrap().len());
        }
        let generation: u64 = named(&dir, "LOG-")[0][4..].parse().unwrap();
        assert!(generation >= 3, "checkpointed {generation} times");
        // Below the limit plus one commit's record (the manifest grows with the runs).
        assert!(biggest < 4096 + 4096, "the log reached {biggest} bytes");
        assert_eq!(all(&lsm).await.len(), 150);
    });
}

#[test]
fn a_get_of_a_chunk_not_in_memory_reads_one_block_and_the_index_not_the_whole_chunk() {
    block_on(async {
        let dir = TempDir::new("blocks");
        let opts = LsmOptions { auto_compact: false, ..LsmOptions::default() };
        let lsm = open_lsm(Rc::new(StdFs::new()), &dir.path(), opts.clone()).await.unwrap();
        for b in 0..10 {
            lsm.write(docs(b * 2000, b * 2000 + 2000), None).await.unwrap();
        }
        lsm.compact_all().await.unwrap();
        let expect = all(&lsm).await;
        lsm.close();
        drop(lsm);
        let fs = Rc::new(StdFs::new());
        let again = open_lsm(fs.clone(), &dir.path(), opts).await.unwrap();
        let chunks = again.stats().chunks as u64;
        let at_open = fs.bytes_read();
        let picks: Vec<usize> = (0..50).map(|i| (i * 7919) % expect.len()).collect();
        for &i in &picks {
            let (k, v) = &expect[i];
            assert_eq!(again.get(k).await.unwrap().as_deref(), Some(v.as_slice()), "key {i}");
        }
        assert_eq!(again.get(b"doc/absent").await.unwrap(), None);
        let many: Vec<Vec<u8>> = picks.iter().rev().take(10).map(|&i| expect[i].0.clone()).collect();
        let got = again.get_many(&many).await.unwrap();
        assert!(got
            .iter()
            .zip(picks.iter().rev())
            .all(|(g, &i)| g.as_deref() == Some(expect[i].1.as_slice())));
        // Per get one block (~4 KiB); per chunk once its index and filter (an 8 KiB tail read).
        let read = fs.bytes_read() - at_open;
        let bound = 61 * 5 * 1024 + chunks * 9 * 1024;
        let total: usize = expect.iter().map(|(k, v)| k.len() + v.len()).sum();
        assert!(read < total as u64 / 4, "{read} bytes read of {total}: whole chunks were read");
        assert!(read < bound, "{read} bytes read for 61 gets over {chunks} chunks (bound {bound})");
        assert!(chunks >= 4, "{chunks} chunks");
    });
}

#[test]
fn record_files_are_packed_smaller_and_plain_files_from_before_packing_still_read() {
    block_on(async {
        let dir = TempDir::new("packed");
        let opts = LsmOptions { auto_compact: false, ..LsmOptions::default() };
        let lsm = open_lsm(Rc::new(StdFs::new()), &dir.path(), opts.clone()).await.unwrap();
        for b in 0..4 {
            lsm.write(docs(b * 2000, b * 2000 + 2000), None).await.unwrap();
        }
        lsm.compact_all().await.unwrap();
        let expect = all(&lsm).await;
        lsm.close();
        drop(lsm);
        let (mut packed, mut plain) = (0, 0);
        for name in named(&dir, "chunk~") {
            let path = dir.0.join(&name);
            let bytes = std::fs::read(&path).unwrap();
            packed += bytes.len();
            let record = settee::kv::fs::unpack_file(&name, bytes).unwrap();
            plain += record.len();
            // As Settee wrote record files before packing.
            std::fs::write(&path, record).unwrap();
        }
        assert!(packed * 2 < plain, "{packed} bytes packed for {plain} bytes of records");
        let again = open_lsm(Rc::new(StdFs::new()), &dir.path(), opts).await.unwrap();
        // Gets first: the chunks are not in memory, so they read parts of the plain files.
        for i in (0..expect.len()).step_by(997) {
            assert_eq!(again.get(&expect[i].0).await.unwrap().as_deref(), Some(expect[i].1.as_slice()));
        }
        assert_eq!(all(&again).await, expect);
    });
}

type Model = BTreeMap<Vec<u8>, Vec<u8>>;

fn batch_of(ops: &[(u8, Option<u16>)]) -> WriteBatch {
    let mut b = WriteBatch::new();
    for (k, v) in ops {
        let key = format!("k/{k:03}").into_bytes();
        match v {
            Some(v) => b.put(key, format!("{v}-{}", "x".repeat(*v as usize % 300)).into_bytes()),
            None => b.delete(key),
        }
    }
    b
}

fn apply(model: &mut Model, b: &WriteBatch) {
    for (k, v) in &b.ops {
        match v {
            Some(v) => model.insert(k.clone(), v.clone()),
            None => model.remove(k),
        };
    }
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 64, ..ProptestConfig::default() })]

    /// Writes batches (merging as the policy asks), and the process dies at the `die_at`-th
    /// file operation: whatever reached the disk stays. Reopened, the store holds every batch
    /// that returned Ok, and the dying batch whole or not at all; then it works on.
    #[test]
    fn a_process_that_dies_at_any_file_operation_leaves_whole_batches(
        batches in prop::collection::vec(prop::collection::vec((0u8..40, prop::option::weighted(0.8, 0u16..2000)), 1..12), 2..14),
        die_at in 1u64..120,
        log_max in prop_oneof![Just(0usize), Just(1500), Just(1 << 20)],
        inline_max in prop_oneof![Just(0usize), Just(2000), Just(1 << 20)],
    ) {
        block_on(async {
            let dir = TempDir::new("die");
            let fs = Rc::new(StdFs::new());
            let opts = LsmOptions { chunk_bytes: 512, cache_bytes: 2048, fanout: 2, small_runs: 2, ..LsmOptions::default() };
            // Every path a commit takes: log appends, files then a log record, checkpoints.
            let records = FsRecords::open_with(fs.clone(), &dir.path(), FsOptions { log_max, inline_max }).await.unwrap();
            let lsm = Lsm::open_with(records, opts.clone()).await.unwrap();
            fs.fail_after(die_at);
            let mut model = Model::new();
            let mut maybe = None;
            for ops in &batches {
                let b = batch_of(ops);
                match lsm.write(b.clone(), None).await {
                    Ok(_) => apply(&mut model, &b),
                    Err(_) => {
                        let mut with = model.clone();
                        apply(&mut with, &b);
                        maybe = Some(with);
                        break;
                    }
                }
            }
            lsm.close();
            drop(lsm);
            let again = open_lsm(Rc::new(StdFs::new()), &dir.path(), opts).await.unwrap();
            let got: Model = all(&again).await.into_iter().collect();
            prop_assert!(got == model || Some(&got) == maybe.as_ref(), "not whole batches after the death");
            let more = batch_of(&[(1, Some(7)), (2, None)]);
            again.write(more.clone(), None).await.unwrap();
            let mut expect = got.clone();
            apply(&mut expect, &more);
            let now: Model = all(&again).await.into_iter().collect();
            prop_assert_eq!(now, expect);
            Ok(())
        })?;
    }
}
