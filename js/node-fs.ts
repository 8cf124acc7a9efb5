/**
 * The file system that the disk store (`src/kv/fs`, Rust) works through in Node.js: a plain
 * object of functions over `node:fs/promises`, handed to the wasm once by `node.ts`.
 *
 * Durability is decided here: `write` and `append` sync the file's data (`fdatasync`) before
 * they answer, and `syncDir` syncs a directory's entries (a no-op where directories cannot be opened, as on
 * Windows). Attachments are streamed to and from files, never read whole into memory.
 * @internal
 */
import { open, readFile, rename, rm, mkdir, readdir, stat, type FileHandle } from 'node:fs/promises';
import { openAsBlob, rmSync, openSync, closeSync, readSync } from 'node:fs';
import { resolve } from 'node:path';

async function write(path: string, data: Uint8Array): Promise<void> {
  const file = await open(path, 'w');
  try {
    await file.writeFile(data);
    await file.datasync();
  } finally {
    await file.close();
  }
}

async function readOrNull(path: string): Promise<Uint8Array | null> {
  try {
    return await readFile(path);
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === 'ENOENT') return null;
    throw e;
  }
}

/** Read descriptors kept open, oldest first; chunk files never change once written. */
const MAX_READERS = 128;

/**
 * Files kept open for positioned reads (descriptors) and for appends to the commit log
 * (handles). A file's are closed when it is removed, rewritten or released, and the oldest
 * reader when there are too many.
 */
class Handles {
  private readers = new Map<string, number>();
  private appenders = new Map<string, Promise<FileHandle>>();

  /** A descriptor for `path`, or null if there is no such file. */
  reader(path: string): number | null {
    let fd = this.readers.get(path);
    if (fd !== undefined) {
      // Most recently used goes last.
      this.readers.delete(path);
    } else {
      try {
        fd = openSync(path, 'r');
      } catch (e) {
        if ((e as NodeJS.ErrnoException).code === 'ENOENT') return null;
        throw e;
      }
      if (this.readers.size >= MAX_READERS) {
        const [oldest] = this.readers.keys();
        this.dropReader(oldest);
      }
    }
    this.readers.set(path, fd);
    return fd;
  }

  appender(path: string): Promise<FileHandle> {
    let h = this.appenders.get(path);
    if (!h) {
      h = open(path, 'a');
      h.catch(() => this.appenders.delete(path));
      this.appenders.set(path, h);
    }
    return h;
  }

  /** Closes what is open for `path` (an appender once its pending writes are done). */
  release(path: string): void {
    this.dropReader(path);
    const h = this.appenders.get(path);
    if (h) {
      this.appenders.delete(path);
      h.then((f) => f.close()).catch(() => {});
    }
  }

  releaseUnder(dir: string): void {
    for (const path of [...this.readers.keys(), ...this.appenders.keys()]) {
      if (path.startsWith(`${dir}/`)) this.release(path);
    }
  }

  private dropReader(path: string): void {
    const fd = this.readers.get(path);
    if (fd === undefined) return;
    this.readers.delete(path);
    try {
      closeSync(fd);
    } catch {
      // Already closed: nothing held.
    }
  }
}

/**
 * Bytes `start..start+len` of `path`, read synchronously: a chunk's block or index is a few
 * KiB, which `pread` serves from the page cache in ~3–10 µs, where a round trip through the
 * thread pool costs ~20–60 µs (measured here: 1,000 reads of 4 KiB took 2.5–10 ms with
 * `readSync` and 18–60 ms with `FileHandle.read`). Reads of whole files stay asynchronous.
 */
function readPart(handles: Handles, path: string, start: number, len: number): Uint8Array | null {
  const fd = handles.reader(path);
  if (fd === null) return null;
  const buf = new Uint8Array(len);
  let got = 0;
  while (got < len) {
    const n = readSync(fd, buf, got, len - got, start + got);
    if (n === 0) break;
    got += n;
  }
  return buf.subarray(0, got);
}

/** The host object `setFileSystem` expects (see `src/kv/fs/js_fs.rs` for the contract). */
export function nodeFileSystem(): Record<string, (...args: never[]) => unknown> {
  const handles = new Handles();
  return {
    resolve: (path: string) => resolve(path),
    read: readOrNull,
    readMany: (paths: string[]) => Promise.all(paths.map(readOrNull)),
    readParts: (paths: string[], starts: number[], lens: number[]) =>
      paths.map((p, i) => readPart(handles, p, starts[i], lens[i])),
    async append(path: string, data: Uint8Array) {
      const file = await handles.appender(path);
      await file.writeFile(data);
      await file.datasync();
    },
    release: (path: string) => handles.release(path),
    // A write drops any handle kept for the path first: it must not read a file it replaced.
    write(path: string, data: Uint8Array) {
      handles.release(path);
      return write(path, data);
    },
    writeMany(paths: string[], datas: Uint8Array[]) {
      for (const p of paths) handles.release(p);
      return Promise.all(paths.map((p, i) => write(p, datas[i])));
    },
    rename: (from: string, to: string) => rename(from, to),
    async syncDir(dir: string) {
      let handle;
      try {
        handle = await open(dir, 'r');
      } catch (e) {
        const code = (e as NodeJS.ErrnoException).code;
        if (code === 'EISDIR' || code === 'EPERM' || code === 'EACCES') return; // Windows
        throw e;
      }
      try {
        await handle.sync();
      } catch (e) {
        if ((e as NodeJS.ErrnoException).code !== 'EINVAL') throw e;
      } finally {
        await handle.close();
      }
    },
    remove(path: string) {
      handles.release(path);
      return rm(path, { force: true });
    },
    removeNow(path: string) {
      handles.release(path);
      rmSync(path, { force: true });
    },
    async list(dir: string) {
      let names: string[];
      try {
        names = await readdir(dir);
      } catch (e) {
        if ((e as NodeJS.ErrnoException).code === 'ENOENT') return [];
        throw e;
      }
      return Promise.all(
        names.map(async (n) => {
          try {
            return [n, (await stat(`${dir}/${n}`)).mtimeMs];
          } catch {
            return [n, 0];
          }
        }),
      );
    },
    mkdirs: (dir: string) => mkdir(dir, { recursive: true }),
    removeAll(dir: string) {
      handles.releaseUnder(dir);
      return rm(dir, { recursive: true, force: true });
    },
    async createNew(path: string, data: Uint8Array) {
      try {
        const file = await open(path, 'wx');
        try {
          await file.writeFile(data);
        } finally {
          await file.close();
        }
        return true;
      } catch (e) {
        if ((e as NodeJS.ErrnoException).code === 'EEXIST') return false;
        throw e;
      }
    },
    pid: () => process.pid,
    pidAlive(pid: number) {
      try {
        process.kill(pid, 0);
        return true;
      } catch (e) {
        return (e as NodeJS.ErrnoException).code === 'EPERM'; // alive, someone else's
      }
    },
    async writeAttachment(path: string, data: Uint8Array | Blob) {
      if (data instanceof Uint8Array) return write(path, data);
      const file = await open(path, 'w');
      try {
        // Piece by piece, as the Blob's stream yields them: never the whole in memory.
        const reader = data.stream().getReader();
        for (;;) {
          const { done, value } = await reader.read();
          if (done) break;
          await file.write(value);
        }
        await file.datasync();
      } finally {
        await file.close();
      }
    },
    async openAttachment(path: string) {
      try {
        return await openAsBlob(path);
      } catch (e) {
        if ((e as NodeJS.ErrnoException).code === 'ENOENT') return null;
        throw e;
      }
    },
  };
}
