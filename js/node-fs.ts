/**
 * The file system that the disk store (`src/kv/fs`, Rust) works through in Node.js: a plain
 * object of functions over `node:fs/promises`, handed to the wasm once by `node.ts`.
 *
 * Durability is decided here: `write` syncs the file's data (`fdatasync`) before it answers,
 * and `syncDir` syncs a directory's entries (a no-op where directories cannot be opened, as on
 * Windows). Attachments are streamed to and from files, never read whole into memory.
 * @internal
 */
import { open, readFile, rename, rm, mkdir, readdir, stat } from 'node:fs/promises';
import { openAsBlob, rmSync } from 'node:fs';
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

/** The host object `setFileSystem` expects (see `src/kv/fs/js_fs.rs` for the contract). */
export function nodeFileSystem(): Record<string, (...args: never[]) => unknown> {
  return {
    resolve: (path: string) => resolve(path),
    read: readOrNull,
    readMany: (paths: string[]) => Promise.all(paths.map(readOrNull)),
    write,
    writeMany: (paths: string[], datas: Uint8Array[]) => Promise.all(paths.map((p, i) => write(p, datas[i]))),
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
    remove: (path: string) => rm(path, { force: true }),
    removeNow: (path: string) => rmSync(path, { force: true }),
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
    removeAll: (dir: string) => rm(dir, { recursive: true, force: true }),
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
