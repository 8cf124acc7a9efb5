/**
 * Settee in Node.js (the package's `node` export condition): the same API as in the browser,
 * with the wasm loaded from the package's own file and databases stored on disk.
 *
 * ```js
 * import { Settee } from 'settee';
 * const db = new Settee('config'); // ./config/ ; {prefix: '/var/lib/app/'} puts it elsewhere
 * ```
 * Importing this module reads and compiles the wasm (top-level await), then gives the disk
 * store its file system, so no init call is needed. `{adapter: 'memory'}` still works.
 * @module
 */
import { readFile } from 'node:fs/promises';
import { setFileSystem } from './settee_core.js';
import { initSettee } from './index.js';
import { nodeFileSystem } from './node-fs.js';

await initSettee(await readFile(new URL('./settee_core_bg.wasm', import.meta.url)));
setFileSystem(nodeFileSystem());

export * from './index.js';
