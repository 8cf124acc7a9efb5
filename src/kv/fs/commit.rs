//! How the disk store's commits reach the disk (log append, files then log, or checkpoint) and
//! how an open gets back to the last durable commit (`recover`). The rules are in the parent
//! module's doc.

use super::blobs::FsBlobs;
use super::host::FileSystem;
use super::log;
use super::packed::{self, Head, Layout};
use super::state::State;
use super::{log_warning, names, FsOptions, Shared, ATTACHMENTS, STATE, STATE_TMP};
use crate::error::{Error, Result};
use crate::kv::records::{manifest_version, Commit, Subscribers, MANIFEST_KEY};
use futures::lock::Mutex;
use std::cell::{Cell, RefCell};
use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::rc::Rc;

/// How a commit goes to disk.
enum Path {
    /// One log record holding every record.
    Inline,
    /// Record files, then a log record naming them.
    Files,
    /// Record files, every logged record as files, a new `STATE` and a fresh log.
    Checkpoint,
}

impl Shared {
    /// Makes `commit` durable and current (the caller holds `committing` and checked the
    /// version), then carries out its deletes.
    pub(super) async fn commit(&self, commit: Commit<'_>) -> Result<()> {
        let mut manifest = self.manifest.borrow().clone();
        let mut records: Vec<(String, &[u8])> = Vec::new();
        for (k, v) in &commit.puts {
            if k == MANIFEST_KEY {
                manifest = Some(Rc::new(v.to_vec()));
            } else {
                records.push((k.clone(), v));
            }
        }
        let version = manifest_version(manifest.as_deref().map(|m| m.as_slice()))?;
        let bytes: usize = records.iter().map(|(_, v)| v.len()).sum();
        let path = if self.log_bytes.get() >= self.opts.log_max {
            Path::Checkpoint
        } else if bytes <= self.opts.inline_max {
            Path::Inline
        } else {
            Path::Files
        };
        match path {
            Path::Inline => {
                let mut puts: Vec<(String, Option<&[u8]>)> =
                    records.iter().map(|(k, v)| (k.clone(), Some(*v))).collect();
                if let Some(m) = &manifest {
                    puts.push((MANIFEST_KEY.to_string(), Some(m.as_slice())));
                }
                self.append(&puts, &commit.deletes).await?;
                let mut inline = self.inline.borrow_mut();
                for (k, v) in records {
                    inline.insert(k, Rc::new(v.to_vec()));
                }
            }
            Path::Files => {
                self.write_files(&records, Vec::new()).await?;
                let mut puts: Vec<(String, Option<&[u8]>)> =
                    records.iter().map(|(k, _)| (k.clone(), None)).collect();
                if let Some(m) = &manifest {
                    puts.push((MANIFEST_KEY.to_string(), Some(m.as_slice())));
                }
                self.append(&puts, &commit.deletes).await?;
                self.forget_inline(records.iter().map(|(k, _)| k));
            }
            Path::Checkpoint => {
                self.checkpoint(records, manifest.as_deref().cloned(), &commit.deletes).await?
            }
        }
        *self.manifest.borrow_mut() = manifest;
        self.version.set(version);
        // Committed. A failure from here on leaves files that the next open removes.
        if let Err(e) = apply_deletes(self, &commit.deletes).await {
            log_warning(&format!("settee: removing merged chunk files failed (retried at next open): {e}"));
        }
        Ok(())
    }

    async fn append(&self, puts: &[(String, Option<&[u8]>)], deletes: &[(String, String)]) -> Result<()> {
        let mut rec = Vec::new();
        log::encode(puts, deletes, &mut rec);
        let appended = async {
            self.fs.append(&self.log_path(self.log.get()), &rec).await?;
            if !self.log_named.get() {
                self.fs.sync_dir(&self.dir).await?;
                self.log_named.set(true);
            }
            Ok(())
        };
        self.unless_broken(appended.await)?;
        self.log_bytes.set(self.log_bytes.get() + rec.len());
        Ok(())
    }

    /// Passes `done` on, marking the store broken if it failed (see `Shared::broken`).
    fn unless_broken(&self, done: Result<()>) -> Result<()> {
        if done.is_err() {
            self.broken.set(true);
        }
        done
    }

    /// Writes `records` (packed, see `packed`) and `extra` files (as they are), each synced,
    /// all in parallel; then syncs the directory so that their names are durable too.
    async fn write_files(&self, records: &[(String, &[u8])], extra: Vec<(String, &[u8])>) -> Result<()> {
        let packed: Vec<Vec<u8>> = records.iter().map(|(_, v)| packed::pack(v)).collect();
        let mut files: Vec<(String, &[u8])> = records
            .iter()
            .zip(&packed)
            .map(|((k, _), p)| (self.path(&names::encode(k)), p.as_slice()))
            .collect();
        files.extend(extra);
        self.fs.write_many(&files).await?;
        self.fs.sync_dir(&self.dir).await?;
        self.keys.borrow_mut().extend(records.iter().map(|(k, _)| k.clone()));
        let mut layouts = self.layouts.borrow_mut();
        for ((k, _), p) in records.iter().zip(&packed) {
            if let Ok(Head::Known(layout)) = Layout::from_head(k, p) {
                layouts.insert(k.clone(), Rc::new(layout));
            }
        }
        Ok(())
    }

    /// The records now in files are no longer read from memory.
    fn forget_inline<'a>(&self, keys: impl Iterator<Item = &'a String>) {
        let mut inline = self.inline.borrow_mut();
        for k in keys {
            inline.remove(k);
        }
    }

    /// Writes `records` and every logged record (but those `deletes` drop) to files, with a
    /// `STATE` that names `manifest`, `deletes` and a fresh, empty log; then removes the old log.
    async fn checkpoint(
        &self,
        mut records: Vec<(String, &[u8])>,
        manifest: Option<Vec<u8>>,
        deletes: &[(String, String)],
    ) -> Result<()> {
        let logged: Vec<(String, Rc<Vec<u8>>)> = self
            .inline
            .borrow()
            .iter()
            .filter(|(k, _)| !deletes.iter().any(|(a, b)| a <= *k && *k <= b))
            .filter(|(k, _)| !records.iter().any(|(r, _)| r == *k))
            .map(|(k, v)| (k.clone(), v.clone()))
            .collect();
        records.extend(logged.iter().map(|(k, v)| (k.clone(), v.as_slice())));
        let next = self.log.get() + 1;
        let state = State { manifest, deletes: deletes.to_vec(), log: next }.encode();
        let (tmp, fresh) = (self.path(STATE_TMP), self.log_path(next));
        self.write_files(&records, vec![(tmp.clone(), &state), (fresh, &[])]).await?;
        let renamed = async {
            self.fs.rename(&tmp, &self.path(STATE)).await?;
            self.fs.sync_dir(&self.dir).await
        };
        self.unless_broken(renamed.await)?;
        let old = self.log_path(self.log.replace(next));
        self.log_bytes.set(0);
        self.log_named.set(true);
        self.inline.borrow_mut().clear();
        self.fs.release(&old);
        if let Err(e) = self.fs.remove(&old).await {
            log_warning(&format!("settee: removing the old log {old} failed (retried at next open): {e}"));
        }
        Ok(())
    }
}

/// Reads `STATE`, replays the log on it, removes what the last commits dropped, and
/// checkpoints if the log held anything.
pub(super) async fn recover(fs: Rc<dyn FileSystem>, dir: &str, opts: FsOptions) -> Result<Shared> {
    let state = read_state(&*fs, dir).await?;
    let mut keys = BTreeSet::new();
    let mut stale_logs = Vec::new();
    for (name, _) in fs.list(dir).await? {
        if name.ends_with(".tmp") {
            fs.remove(&format!("{dir}/{name}")).await?;
        } else if let Some(generation) = name.strip_prefix("LOG-").and_then(|g| g.parse::<u64>().ok()) {
            if generation != state.log {
                stale_logs.push(format!("{dir}/{name}"));
            }
        } else if name.contains('~') {
            if let Some(k) = names::decode(&name) {
                keys.insert(k);
            }
        }
    }
    let log_name = format!("LOG-{}", state.log);
    let log_bytes = fs.read(&format!("{dir}/{log_name}")).await?;
    let replay = log::replay(&format!("{dir}/{log_name}"), log_bytes.as_deref().unwrap_or_default())?;
    let shared = Shared {
        blobs: Rc::new(FsBlobs::new(fs.clone(), format!("{dir}/{ATTACHMENTS}"))),
        fs: fs.clone(),
        dir: dir.to_string(),
        opts,
        manifest: RefCell::new(None),
        version: Cell::new(0),
        keys: RefCell::new(keys),
        layouts: RefCell::new(HashMap::new()),
        inline: RefCell::new(BTreeMap::new()),
        log: Cell::new(state.log),
        log_bytes: Cell::new(log_bytes.as_ref().map_or(0, Vec::len)),
        log_named: Cell::new(log_bytes.is_some()),
        broken: Cell::new(false),
        committing: Mutex::new(()),
        compacting: Cell::new(false),
        handles: Cell::new(0),
        next_handle: Cell::new(0),
        subscribers: Subscribers::default(),
        gone: Cell::new(false),
    };
    // Deletes of the checkpoint that the process may not have finished.
    apply_deletes(&shared, &state.deletes).await?;
    let mut manifest = state.manifest;
    // A log record may drop files that a later record names (not with fresh chunk ids, but
    // cheap to honour): a file is removed only if no later record wrote it.
    let mut last_file_put: HashMap<&str, usize> = HashMap::new();
    for (i, e) in replay.entries.iter().enumerate() {
        for (k, v) in &e.puts {
            if v.is_none() {
                last_file_put.insert(k, i);
            }
        }
    }
    for (i, e) in replay.entries.iter().enumerate() {
        for (k, v) in &e.puts {
            match (k.as_str(), v) {
                (MANIFEST_KEY, Some(m)) => manifest = Some(m.clone()),
                (MANIFEST_KEY, None) => {
                    return Err(Error::corruption(format!("{dir}/{log_name}: a manifest named as a file")));
                }
                (_, Some(v)) => {
                    shared.inline.borrow_mut().insert(k.clone(), Rc::new(v.clone()));
                }
                (_, None) => {
                    shared.inline.borrow_mut().remove(k);
                }
            }
        }
        let kept_later = |k: &str| last_file_put.get(k).is_some_and(|&j| j > i);
        delete_ranges(&shared, &e.deletes, kept_later).await?;
    }
    shared.version.set(manifest_version(manifest.as_deref())?);
    *shared.manifest.borrow_mut() = manifest.map(Rc::new);
    for old in stale_logs {
        fs.remove(&old).await?;
    }
    if !replay.entries.is_empty() || replay.torn {
        let m = shared.manifest.borrow().as_deref().cloned();
        shared.checkpoint(Vec::new(), m, &[]).await?;
    }
    Ok(shared)
}

async fn read_state(fs: &dyn FileSystem, dir: &str) -> Result<State> {
    match fs.read(&format!("{dir}/{STATE}")).await? {
        Some(bytes) => State::decode(&bytes).map_err(|e| {
            Error::corruption(format!("{dir}/{STATE}: {}", e.message.trim_start_matches("STATE file: ")))
        }),
        None => Ok(State::default()),
    }
}

/// Removes the records in `ranges`: from memory, and their files.
pub(super) async fn apply_deletes(shared: &Shared, ranges: &[(String, String)]) -> Result<()> {
    delete_ranges(shared, ranges, |_| false).await
}

/// As `apply_deletes`, but leaves the files of keys `keep_file` names (replay: a later log
/// record wrote them).
async fn delete_ranges(
    shared: &Shared,
    ranges: &[(String, String)],
    keep_file: impl Fn(&str) -> bool,
) -> Result<()> {
    for (first, last) in ranges {
        if first > last {
            continue;
        }
        {
            let mut inline = shared.inline.borrow_mut();
            let doomed: Vec<String> =
                inline.range(first.clone()..=last.clone()).map(|(k, _)| k.clone()).collect();
            for k in doomed {
                inline.remove(&k);
            }
        }
        let doomed: Vec<String> = shared
            .keys
            .borrow()
            .range(first.clone()..=last.clone())
            .filter(|k| !keep_file(k))
            .cloned()
            .collect();
        remove_files(shared, doomed).await?;
    }
    Ok(())
}

async fn remove_files(shared: &Shared, doomed: Vec<String>) -> Result<()> {
    // All at once: in Node each is a request to the thread pool, which runs them in parallel.
    let paths: Vec<String> = doomed.iter().map(|k| shared.path(&names::encode(k))).collect();
    futures::future::try_join_all(paths.iter().map(|p| shared.fs.remove(p))).await?;
    let mut keys = shared.keys.borrow_mut();
    let mut layouts = shared.layouts.borrow_mut();
    for k in doomed {
        layouts.remove(&k);
        keys.remove(&k);
    }
    Ok(())
}
