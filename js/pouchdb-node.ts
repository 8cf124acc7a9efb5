/**
 * `settee/pouchdb` in Node.js: loads Settee for Node first (`node.ts`), then the
 * PouchDB-shaped entry, so `new PouchDB('name')` stores on disk as PouchDB's leveldb does.
 * @module
 */
import './node.js';

export * from './pouchdb.js';
export { default } from './pouchdb.js';
