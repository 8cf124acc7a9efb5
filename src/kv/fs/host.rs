//! `FileSystem`: the few file operations the disk store needs, so that one store works over
//! `std::fs` natively (tests, benches) and over Node's `fs` from wasm (`js_fs`).
//!
//! Rules every implementation keeps:
//! - `write` makes the file's data durable before it answers (write, then `fdatasync`). It is
//!   not atomic: callers that need all-or-nothing write a temporary name and `rename` it.
//! - `sync_dir` makes the directory's entries (creates, renames) durable; where a platform
//!   cannot open a directory (Windows), it is a no-op.
//! - A missing file is `Ok(None)` from `read`, and `Ok(())` from `remove`.
//! - Paths are `/`-separated strings; relative ones are relative to the working directory.

use crate::error::Result;
use crate::kv::blobs::AttData;
use crate::kv::records::slice_part;
use async_trait::async_trait;

#[async_trait(?Send)]
pub trait FileSystem {
    /// An absolute, normalised form of `path`: two names for one directory share one store.
    fn resolve(&self, path: &str) -> String;

    async fn read(&self, path: &str) -> Result<Option<Vec<u8>>>;

    /// Several files at once (Node reads them in parallel on its thread pool).
    async fn read_many(&self, paths: &[String]) -> Result<Vec<Option<Vec<u8>>>> {
        let mut out = Vec::with_capacity(paths.len());
        for p in paths {
            out.push(self.read(p).await?);
        }
        Ok(out)
    }

    /// Byte ranges of files, `(path, start, len)`: one answer per range, shorter where the file
    /// ends first, `None` for a missing file. Node keeps the files open between calls (chunk
    /// files never change once written), so a range costs one positioned read.
    async fn read_parts(&self, parts: &[(String, u64, usize)]) -> Result<Vec<Option<Vec<u8>>>> {
        let mut out = Vec::with_capacity(parts.len());
        for (path, start, len) in parts {
            out.push(self.read(path).await?.map(|b| slice_part(&b, *start, *len)));
        }
        Ok(out)
    }

    /// Appends `data` to `path` (created if missing) and makes it durable (`fdatasync`) before
    /// answering. An append cut short by a crash may leave a prefix of `data`.
    async fn append(&self, path: &str, data: &[u8]) -> Result<()>;

    /// Lets go of whatever the file system keeps open for `path` (an append or read handle).
    fn release(&self, _path: &str) {}

    /// Creates or truncates `path` and writes `data`, durably.
    async fn write(&self, path: &str, data: &[u8]) -> Result<()>;

    /// Several `write`s at once; all are durable when it answers.
    async fn write_many(&self, files: &[(String, &[u8])]) -> Result<()> {
        for (p, d) in files {
            self.write(p, d).await?;
        }
        Ok(())
    }

    /// Replaces `to` by `from` atomically.
    async fn rename(&self, from: &str, to: &str) -> Result<()>;

    async fn sync_dir(&self, dir: &str) -> Result<()>;

    async fn remove(&self, path: &str) -> Result<()>;

    /// Removes a file now, without waiting (for a lock file released by `close`).
    fn remove_now(&self, path: &str);

    /// The names in `dir` with their modification times (ms since the epoch); empty if `dir`
    /// does not exist.
    async fn list(&self, dir: &str) -> Result<Vec<(String, f64)>>;

    async fn mkdirs(&self, dir: &str) -> Result<()>;

    async fn remove_all(&self, dir: &str) -> Result<()>;

    /// Creates `path` holding `data` only if it does not exist; false if it does.
    async fn create_new(&self, path: &str, data: &[u8]) -> Result<bool>;

    /// This process's id, and whether a process id is alive on this host (the lock file).
    fn pid(&self) -> u32;
    fn pid_alive(&self, pid: u32) -> bool;

    /// Writes attachment data durably. In Node a `Blob` is streamed to the file, never held
    /// whole in wasm memory.
    async fn write_att(&self, path: &str, data: &AttData) -> Result<()> {
        self.write(path, &data.to_vec().await?).await
    }

    /// Attachment data from a file; in Node a file-backed `Blob` (`fs.openAsBlob`).
    async fn read_att(&self, path: &str) -> Result<Option<AttData>> {
        Ok(self.read(path).await?.map(AttData::bytes))
    }
}
