//! `StdFs`: `FileSystem` over `std::fs`, for native tests and benches (synchronous calls
//! behind the async trait). `fail_after(n)` makes the `n`-th mutating call from now fail and
//! every later one too, as if the process died there: what reached the disk before stays.

use super::host::FileSystem;
use crate::error::{Error, Result};
use async_trait::async_trait;
use std::cell::Cell;
use std::fs::{self, File, OpenOptions};
use std::io::{ErrorKind, Write};
use std::path::Path;

#[derive(Default)]
pub struct StdFs {
    /// Mutating calls left before the injected death; 0 = never.
    fail_in: Cell<u64>,
    dead: Cell<bool>,
    /// Mutating calls made so far (writes, renames, syncs, removes).
    ops: Cell<u64>,
    /// Bytes read so far (whole files and parts).
    read_bytes: Cell<u64>,
    /// Set by `fail_once`: the next fault is transient (later calls succeed again).
    transient: Cell<bool>,
}

fn io_err(what: &str, path: &str, e: std::io::Error) -> Error {
    if e.raw_os_error() == Some(28) {
        return Error::new(507, "quota_exceeded", format!("disk full: {what} {path}: {e}"));
    }
    Error::storage(format!("{what} {path}: {e}"))
}

impl StdFs {
    pub fn new() -> Self {
        Self::default()
    }

    /// The `n`-th mutating call from now (1 = the next) and all after it fail.
    pub fn fail_after(&self, n: u64) {
        self.fail_in.set(n);
    }

    /// The `n`-th mutating call from now fails (an append leaves half its bytes), as a
    /// transient I/O error would, and later calls succeed again.
    pub fn fail_once(&self, n: u64) {
        self.fail_in.set(n);
        self.transient.set(true);
    }

    pub fn mutations(&self) -> u64 {
        self.ops.get()
    }

    pub fn bytes_read(&self) -> u64 {
        self.read_bytes.get()
    }

    fn step(&self, what: &str) -> Result<()> {
        self.ops.set(self.ops.get() + 1);
        if self.dead.get() {
            return Err(Error::storage(format!("injected death: {what} not done")));
        }
        match self.fail_in.get() {
            0 => Ok(()),
            1 => {
                self.fail_in.set(0);
                if self.transient.replace(false) {
                    return Err(Error::storage(format!("injected I/O error: {what} not done")));
                }
                self.dead.set(true);
                Err(Error::storage(format!("injected death: {what} not done")))
            }
            n => {
                self.fail_in.set(n - 1);
                Ok(())
            }
        }
    }
}

#[async_trait(?Send)]
impl FileSystem for StdFs {
    fn resolve(&self, path: &str) -> String {
        let p = Path::new(path);
        let abs = if p.is_absolute() {
            p.to_path_buf()
        } else {
            std::env::current_dir().map(|d| d.join(p)).unwrap_or_else(|_| p.to_path_buf())
        };
        abs.to_string_lossy().trim_end_matches('/').to_string()
    }

    async fn read(&self, path: &str) -> Result<Option<Vec<u8>>> {
        match fs::read(path) {
            Ok(b) => {
                self.read_bytes.set(self.read_bytes.get() + b.len() as u64);
                Ok(Some(b))
            }
            Err(e) if e.kind() == ErrorKind::NotFound => Ok(None),
            Err(e) => Err(io_err("read", path, e)),
        }
    }

    async fn read_parts(&self, parts: &[(String, u64, usize)]) -> Result<Vec<Option<Vec<u8>>>> {
        use std::os::unix::fs::FileExt;
        let mut out = Vec::with_capacity(parts.len());
        for (path, start, len) in parts {
            let f = match File::open(path) {
                Ok(f) => f,
                Err(e) if e.kind() == ErrorKind::NotFound => {
                    out.push(None);
                    continue;
                }
                Err(e) => return Err(io_err("open", path, e)),
            };
            let mut buf = vec![0; *len];
            let mut got = 0;
            while got < buf.len() {
                match f.read_at(&mut buf[got..], start + got as u64).map_err(|e| io_err("read", path, e))? {
                    0 => break,
                    n => got += n,
                }
            }
            buf.truncate(got);
            self.read_bytes.set(self.read_bytes.get() + got as u64);
            out.push(Some(buf));
        }
        Ok(out)
    }

    async fn write(&self, path: &str, data: &[u8]) -> Result<()> {
        self.step("write")?;
        let mut f = File::create(path).map_err(|e| io_err("create", path, e))?;
        f.write_all(data).map_err(|e| io_err("write", path, e))?;
        f.sync_data().map_err(|e| io_err("sync", path, e))
    }

    async fn append(&self, path: &str, data: &[u8]) -> Result<()> {
        let open = || OpenOptions::new().create(true).append(true).open(path);
        if !self.dead.get() && self.fail_in.get() == 1 {
            // The dying append leaves half its bytes, as a crash in the middle of a write may.
            if let Ok(mut f) = open() {
                let _ = f.write_all(&data[..data.len() / 2]);
            }
        }
        self.step("append")?;
        let mut f = open().map_err(|e| io_err("open", path, e))?;
        f.write_all(data).map_err(|e| io_err("append", path, e))?;
        f.sync_data().map_err(|e| io_err("sync", path, e))
    }

    async fn rename(&self, from: &str, to: &str) -> Result<()> {
        self.step("rename")?;
        fs::rename(from, to).map_err(|e| io_err("rename", from, e))
    }

    async fn sync_dir(&self, dir: &str) -> Result<()> {
        self.step("sync_dir")?;
        File::open(dir).and_then(|d| d.sync_all()).map_err(|e| io_err("sync", dir, e))
    }

    async fn remove(&self, path: &str) -> Result<()> {
        self.step("remove")?;
        match fs::remove_file(path) {
            Err(e) if e.kind() != ErrorKind::NotFound => Err(io_err("remove", path, e)),
            _ => Ok(()),
        }
    }

    fn remove_now(&self, path: &str) {
        if !self.dead.get() {
            let _ = fs::remove_file(path);
        }
    }

    async fn list(&self, dir: &str) -> Result<Vec<(String, f64)>> {
        let entries = match fs::read_dir(dir) {
            Ok(e) => e,
            Err(e) if e.kind() == ErrorKind::NotFound => return Ok(Vec::new()),
            Err(e) => return Err(io_err("list", dir, e)),
        };
        let mut out = Vec::new();
        for entry in entries {
            let entry = entry.map_err(|e| io_err("list", dir, e))?;
            let modified = entry
                .metadata()
                .and_then(|m| m.modified())
                .ok()
                .and_then(|t| t.duration_since(std::time::UNIX_EPOCH).ok())
                .map_or(0.0, |d| d.as_secs_f64() * 1000.0);
            out.push((entry.file_name().to_string_lossy().into_owned(), modified));
        }
        Ok(out)
    }

    async fn mkdirs(&self, dir: &str) -> Result<()> {
        fs::create_dir_all(dir).map_err(|e| io_err("mkdir", dir, e))
    }

    async fn remove_all(&self, dir: &str) -> Result<()> {
        self.step("remove_all")?;
        match fs::remove_dir_all(dir) {
            Err(e) if e.kind() != ErrorKind::NotFound => Err(io_err("remove", dir, e)),
            _ => Ok(()),
        }
    }

    async fn create_new(&self, path: &str, data: &[u8]) -> Result<bool> {
        match OpenOptions::new().write(true).create_new(true).open(path) {
            Ok(mut f) => {
                f.write_all(data).map_err(|e| io_err("write", path, e))?;
                Ok(true)
            }
            Err(e) if e.kind() == ErrorKind::AlreadyExists => Ok(false),
            Err(e) => Err(io_err("create", path, e)),
        }
    }

    fn pid(&self) -> u32 {
        std::process::id()
    }

    fn pid_alive(&self, pid: u32) -> bool {
        // Linux and most Unixes with procfs; elsewhere a lock is assumed live.
        if Path::new("/proc/self").exists() {
            Path::new(&format!("/proc/{pid}")).exists()
        } else {
            true
        }
    }
}
