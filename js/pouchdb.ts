/**
 * `settee/pouchdb`: a PouchDB-shaped constructor over {@link Settee}, so that
 * `import PouchDB from 'settee/pouchdb'` is the whole migration for most PouchDB apps.
 *
 * This is the PouchDB *surface* only, as pouchdb-core shapes it: every method takes an optional
 * trailing Node-style callback and still returns the promise; `PouchDB(name)` works with or
 * without `new`; `PouchDB.plugin()`, `PouchDB.defaults()`; databases and the constructor are
 * event emitters (`created`, `destroyed`, `closed`); `changes()` is always an emitter that is
 * also awaitable; replications get `catch`/`finally`/`removeListener`/`once`. What the data
 * does (errors, views, Mango, changes rows) is Settee's own and lives in the core.
 * @module
 */
import { Settee } from './index.js';
import { Emitter } from './emitter.js';
import type { Replication } from './replication.js';
import type { ChangesOptions } from './types.js';

/* eslint-disable @typescript-eslint/no-explicit-any */
type Callback = (err: any, result?: any) => void;
type AnyFn = (...args: any[]) => any;

/** Splits a trailing callback off an argument list (PouchDB's `adapterFun` convention). */
function takeCallback(args: unknown[]): [unknown[], Callback | undefined] {
  const last = args[args.length - 1];
  return typeof last === 'function' ? [args.slice(0, -1), last as Callback] : [args, undefined];
}

/**
 * Hands `promise`'s outcome to `cb` as well, and returns `promise` itself: with a callback the
 * rejection is handled (no unhandled-rejection event), as in PouchDB.
 */
function withCallback<T>(promise: Promise<T>, cb?: Callback): Promise<T> {
  if (cb) promise.then((r) => cb(null, r), (e) => cb(e));
  return promise;
}

/** Function-valued options (callbacks) never go to the wasm layer, which takes JSON. */
function jsonOptions(options: unknown): Record<string, unknown> {
  if (options === null || typeof options !== 'object') return {};
  return Object.fromEntries(Object.entries(options).filter(([, v]) => typeof v !== 'function'));
}

/** `jsonOptions`, keeping `filter` functions: the core calls them for each doc. */
function filterOptions(options: unknown): Record<string, unknown> {
  const out = jsonOptions(options);
  const given = options as Record<string, unknown> | null;
  if (typeof given?.filter === 'function') out.filter = given.filter;
  // A sync's `push` / `pull` options may hold a filter of their own.
  for (const direction of ['push', 'pull']) {
    if (given?.[direction] && typeof given[direction] === 'object') out[direction] = filterOptions(given[direction]);
  }
  return out;
}

const VERSION = '9.0.0';

/** The adapter names PouchDB apps pass; all but `memory` and `http(s)` mean IndexedDB. */
const ADAPTERS = ['idb', 'indexeddb', 'memory', 'http', 'https'];

/**
 * One Settee per database name (and adapter) for all the PouchDB handles on it, as PouchDB's
 * adapters share one connection: a write through one handle is seen at once through another.
 * Counted, so that the last `close()` closes it.
 */
const databases = new Map<string, { db: Settee; handles: number }>();

function shared(name: string, options: Record<string, unknown>, adapter: string): Settee {
  const key = `${adapter}\u0000${name}`;
  let entry = databases.get(key);
  if (!entry) databases.set(key, (entry = { db: new Settee(name, options as never), handles: 0 }));
  entry.handles++;
  return entry.db;
}

function release(name: string, adapter: string, db: Settee): Promise<void> {
  const key = `${adapter}\u0000${name}`;
  const entry = databases.get(key);
  if (entry?.db !== db) return db.close();
  if (--entry.handles > 0) return Promise.resolve();
  databases.delete(key);
  return db.close();
}

function forget(name: string, adapter: string): void {
  databases.delete(`${adapter}\u0000${name}`);
}

/** Open handles by database name (weakly held), for `destroyed` on all of them. */
const open = new Map<string, Set<WeakRef<PouchDatabase>>>();

function track(db: PouchDatabase): void {
  let set = open.get(db.name);
  if (!set) open.set(db.name, (set = new Set()));
  set.add(new WeakRef(db));
}

function handles(name: string): PouchDatabase[] {
  const set = open.get(name);
  if (!set) return [];
  const live: PouchDatabase[] = [];
  for (const ref of set) {
    const db = ref.deref();
    if (db) live.push(db);
    else set.delete(ref);
  }
  if (!set.size) open.delete(name);
  return live;
}

// ---------------------------------------------------------------------------------------------
// Databases

/** The methods that are plain promise calls on Settee, given a trailing callback. */
const PROMISE_METHODS = [
  'put', 'post', 'get', 'remove', 'bulkDocs', 'bulkGet', 'revsDiff', 'allDocs', 'info', 'compact',
  'putAttachment', 'getAttachment', 'removeAttachment', 'query', 'viewCleanup', 'createIndex',
  'getIndexes', 'deleteIndex', 'find', 'explain',
] as const;

export interface PouchDBOptions {
  name?: string;
  adapter?: string;
  revs_limit?: number;
  auto_compaction?: boolean;
  [option: string]: unknown;
}

/** One database, as PouchDB shapes it. Plugins add methods to its prototype. */
export class PouchDatabase extends Emitter {
  readonly name: string;
  readonly adapter: string;
  readonly __opts: PouchDBOptions;
  /** The Settee database underneath; use it for Settee's typed, promise-only API. */
  readonly settee: Settee;
  #ctor: PouchDBConstructor;

  constructor(name: string, options: PouchDBOptions, ctor: PouchDBConstructor) {
    super();
    this.#ctor = ctor;
    this.__opts = options;
    for (const [key, label] of [['adapter', 'Adapter'], ['view_adapter', 'View Adapter']] as const) {
      const value = options[key];
      if (value !== undefined && !ADAPTERS.includes(value as string)) throw new Error(`Invalid ${label}: ${String(value)}`);
    }
    const remote = /^https?:\/\//i.test(name);
    this.adapter = remote ? 'http' : options.adapter === 'memory' ? 'memory' : 'idb';
    const settee: Record<string, unknown> = { ...jsonOptions(options), adapter: this.adapter === 'memory' ? 'memory' : 'idb' };
    delete settee.name;
    delete settee.auto_compaction;
    if (remote) delete settee.adapter;
    this.settee = shared(name, settee, this.adapter);
    this.name = name;
    // Methods are bound, so `promise.then(db.get)` works (PouchDB #7259); plugins added before
    // the database was made are bound too.
    for (const method of [...PROMISE_METHODS, 'changes', 'sync', 'close', 'destroy', 'id', 'info'] as const) {
      const fn = (Object.getPrototypeOf(this) as Record<string, AnyFn>)[method];
      Object.defineProperty(this, method, { value: fn.bind(this), writable: true, configurable: true });
    }
    // PouchDB opens at once and tells the constructor; a failure surfaces on the first call.
    this.settee.info().then(
      () => {
        this.emit('created', this);
        ctor.emit('created', name);
      },
      () => {},
    );
    track(this);
    const replicate = {
      to: (target: unknown, ...rest: unknown[]) => ctor.replicate(this, target, ...rest),
      from: (source: unknown, ...rest: unknown[]) => ctor.replicate(source, this, ...rest),
    };
    Object.defineProperty(this, 'replicate', { value: replicate });
  }

  declare replicate: { to: AnyFn; from: AnyFn };

  /**
   * A stable id for this database: its name (a remote one's URL without credentials). PouchDB
   * keeps a random instance id instead; Settee's replication ids are built from names.
   */
  id(callback?: Callback): Promise<string> {
    return withCallback(Promise.resolve(this.settee.name), callback);
  }

  /** `'idb'`, `'memory'` or `'http'` (PouchDB's deprecated `type()`). */
  type(): string {
    return this.adapter;
  }

  changes(options?: Record<string, unknown> | Callback, callback?: Callback): PouchChanges {
    if (typeof options === 'function') [options, callback] = [{}, options];
    return new PouchChanges(this.settee, options ?? {}, callback);
  }

  sync(other: unknown, ...rest: unknown[]): PouchReplication {
    return this.#ctor.sync(this, other, ...rest);
  }

  close(callback?: Callback): Promise<void> {
    return withCallback(
      release(this.name, this.adapter, this.settee).then(() => {
        this.emit('closed');
      }),
      callback,
    );
  }

  destroy(options?: unknown, callback?: Callback): Promise<{ ok: true }> {
    if (typeof options === 'function') callback = options as Callback;
    return withCallback(
      this.settee.destroy().then((r) => {
        forget(this.name, this.adapter);
        // Every open handle on this database hears it, as in PouchDB.
        for (const db of handles(this.name)) db.emit('destroyed');
        this.#ctor.emit('destroyed', this.name);
        return r;
      }),
      callback,
    );
  }
}

/** Methods whose first argument holds docs that may carry binary attachment data. */
const BINARY_INPUT = new Set(['put', 'post', 'bulkDocs']);

/** A deep copy (Blobs kept as they are), or `value` itself when it cannot be cloned. */
function snapshot(value: unknown): unknown {
  if (value === null || typeof value !== 'object') return value;
  try {
    return structuredClone(value);
  } catch {
    return value; // e.g. a function inside: the core drops those anyway
  }
}

function docsOf(arg: unknown): unknown[] {
  if (Array.isArray(arg)) return arg;
  const docs = (arg as { docs?: unknown } | null)?.docs;
  return Array.isArray(docs) ? docs : [arg];
}

function isBinary(data: unknown): data is Blob | ArrayBuffer | ArrayBufferView {
  return (typeof Blob !== 'undefined' && data instanceof Blob) || data instanceof ArrayBuffer || ArrayBuffer.isView(data);
}

function hasBinaryData(doc: unknown): boolean {
  const atts = (doc as { _attachments?: Record<string, { data?: unknown }> } | null)?._attachments;
  return !!atts && typeof atts === 'object' && Object.values(atts).some((a) => isBinary(a?.data));
}

/** A copy of `doc` whose Blob / ArrayBuffer / typed array attachment data is base64. */
async function base64Attachments(doc: any): Promise<any> {
  if (!hasBinaryData(doc)) return doc;
  const atts: Record<string, any> = { ...doc._attachments };
  for (const [name, att] of Object.entries(atts)) {
    const data = att?.data;
    if (!isBinary(data)) continue;
    const bytes =
      data instanceof ArrayBuffer ? new Uint8Array(data)
      : ArrayBuffer.isView(data) ? new Uint8Array(data.buffer, data.byteOffset, data.byteLength)
      : new Uint8Array(await data.arrayBuffer());
    let text = '';
    for (let i = 0; i < bytes.length; i += 0x8000) text += String.fromCharCode(...bytes.subarray(i, i + 0x8000));
    const type = att.content_type ?? (data instanceof Blob && data.type ? data.type : undefined);
    atts[name] = { ...att, data: btoa(text), ...(type === undefined ? {} : { content_type: type }) };
  }
  return { ...doc, _attachments: atts };
}

/** Writes after which `auto_compaction: true` compacts, as PouchDB does. */
const WRITES = new Set(['put', 'post', 'remove', 'bulkDocs', 'putAttachment', 'removeAttachment']);

for (const method of PROMISE_METHODS) {
  Object.defineProperty(PouchDatabase.prototype, method, {
    configurable: true,
    writable: true,
    value: function (this: PouchDatabase, ...all: unknown[]) {
      // `query(fn)`: a lone function is the map function, not a callback.
      const [args, cb] = method === 'query' && all.length < 2 ? [all, undefined] : takeCallback(all);
      // PouchDB reports what a map or reduce function throws as the database's `error` event.
      if (method === 'query') {
        const options = (args[1] ?? {}) as Record<string, unknown>;
        if (typeof options === 'object' && typeof options.onError !== 'function') {
          args[1] = { ...options, onError: (err: unknown) => this.emit('error', err) };
        }
      }
      let promise: Promise<unknown>;
      try {
        // PouchDB writes the docs as they are at the call: a caller may change them right after.
        if (BINARY_INPUT.has(method)) args[0] = snapshot(args[0]);
        const docs = BINARY_INPUT.has(method) ? docsOf(args[0]) : [];
        if (docs.some(hasBinaryData)) {
          // The core takes attachment data in docs as base64 (JSON); PouchDB also takes Blobs.
          promise = Promise.all(docs.map(base64Attachments)).then((converted) => {
            const given = args[0] as any;
            args[0] = Array.isArray(given) ? converted : given?.docs ? { ...given, docs: converted } : converted[0];
            return (this.settee[method] as AnyFn)(...args);
          });
        } else {
          promise = Promise.resolve((this.settee[method] as AnyFn)(...args));
        }
      } catch (err) {
        promise = Promise.reject(err);
      }
      if (method === 'info') {
        promise = promise.then((info) => ({ ...(info as object), auto_compaction: !!this.__opts.auto_compaction }));
      } else if (WRITES.has(method) && this.__opts.auto_compaction) {
        promise = promise.then((r) => this.settee.compact().then(() => r));
      }
      return withCallback(promise, cb);
    },
  });
}

// eslint-disable-next-line @typescript-eslint/no-unsafe-declaration-merging
export interface PouchDatabase {
  put(...args: any[]): Promise<any>;
  post(...args: any[]): Promise<any>;
  get(...args: any[]): Promise<any>;
  remove(...args: any[]): Promise<any>;
  bulkDocs(...args: any[]): Promise<any>;
  bulkGet(...args: any[]): Promise<any>;
  revsDiff(...args: any[]): Promise<any>;
  allDocs(...args: any[]): Promise<any>;
  info(...args: any[]): Promise<any>;
  compact(...args: any[]): Promise<any>;
  putAttachment(...args: any[]): Promise<any>;
  getAttachment(...args: any[]): Promise<any>;
  removeAttachment(...args: any[]): Promise<any>;
  query(...args: any[]): Promise<any>;
  viewCleanup(...args: any[]): Promise<any>;
  createIndex(...args: any[]): Promise<any>;
  getIndexes(...args: any[]): Promise<any>;
  deleteIndex(...args: any[]): Promise<any>;
  find(...args: any[]): Promise<any>;
  explain(...args: any[]): Promise<any>;
  [plugin: string]: any;
}

// ---------------------------------------------------------------------------------------------
// Changes

/**
 * `db.changes(options)`: an emitter of `change`, `complete` and `error` that is also a promise
 * of the final `{results, last_seq}` (for a live feed: when it is cancelled). `onChange` and
 * `complete` options and a callback argument are PouchDB's older ways to listen.
 */
export class PouchChanges extends Emitter implements PromiseLike<any> {
  #promise: Promise<any>;
  #cancel: () => void = () => {};
  #cancelled = false;

  constructor(db: Settee, options: Record<string, any>, callback?: Callback) {
    super();
    const onChange = typeof options.onChange === 'function' ? options.onChange : undefined;
    const complete = typeof options.complete === 'function' ? (options.complete as Callback) : undefined;
    const returnDocs = options.return_docs !== false && options.returnDocs !== false;
    const { live, ...rest } = filterOptions(options);
    if (onChange) this.on('change', onChange);
    this.#promise = new Promise((resolve, reject) => {
      const done = (err: unknown, result?: any) => {
        if (err) {
          this.emit('error', err);
          complete?.(err);
          reject(err);
        } else {
          this.emit('complete', result);
          complete?.(null, result);
          resolve(result);
        }
      };
      // Listeners attached right after the call must see every event: start on a later tick.
      queueMicrotask(() => (live ? this.#live(db, rest, returnDocs, done) : this.#once(db, rest, returnDocs, done)));
    });
    withCallback(this.#promise, callback);
    this.#promise.catch(() => {}); // listeners may be the only consumer
  }

  #once(db: Settee, options: Record<string, unknown>, returnDocs: boolean, done: Callback): void {
    // A cancelled feed resolves to just `{status: 'cancelled'}`, as PouchDB's does; a listener
    // may cancel between two rows, and no row is emitted after that.
    if (this.#cancelled) return done(null, { status: 'cancelled' });
    db.changes(options as ChangesOptions & { live?: false }).then(
      (res: any) => {
        for (const row of res.results) {
          if (this.#cancelled) break;
          this.emit('change', row);
        }
        if (this.#cancelled) return done(null, { status: 'cancelled' });
        done(null, returnDocs ? res : { ...res, results: [] });
      },
      (err: unknown) => done(err),
    );
  }

  #live(db: Settee, options: Record<string, unknown>, returnDocs: boolean, done: Callback): void {
    const results: unknown[] = [];
    const feed = db.changes({ ...options, live: true } as ChangesOptions & { live: true });
    this.#cancel = () => feed.cancel();
    feed
      .on('change', (row) => {
        if (returnDocs) results.push(row);
        this.emit('change', row);
      })
      .on('complete', (info) => done(null, { status: info.status, results, last_seq: info.last_seq }))
      .on('error', (err: unknown) => done(err));
    if (this.#cancelled) feed.cancel();
  }

  cancel(): void {
    this.#cancelled = true;
    this.#cancel();
  }

  then<A = any, B = never>(ok?: ((v: any) => A | PromiseLike<A>) | null, fail?: ((e: any) => B | PromiseLike<B>) | null): Promise<A | B> {
    return this.#promise.then(ok, fail);
  }

  catch<B = never>(fail?: ((e: any) => B | PromiseLike<B>) | null): Promise<any> {
    return this.#promise.catch(fail);
  }

  finally(f?: (() => void) | null): Promise<any> {
    return this.#promise.finally(f);
  }
}

// ---------------------------------------------------------------------------------------------
// Replication

const REPLICATION_EVENTS = ['change', 'paused', 'active', 'denied', 'complete', 'error'] as const;

/** A replication or sync as PouchDB returns it: an emitter, awaitable, cancellable. */
export class PouchReplication extends Emitter implements PromiseLike<any> {
  #inner: Replication<unknown, unknown>;
  #cancelled = false;

  constructor(inner: Replication<unknown, unknown>, options: Record<string, any>, callback?: Callback) {
    super();
    this.#inner = inner;
    for (const event of REPLICATION_EVENTS) {
      inner.on(event, (arg: unknown) => {
        // Once cancelled, the batch still in flight may finish, but PouchDB reports no more changes.
        if (event === 'change' && this.#cancelled) return;
        this.emit(event, arg);
        const change = arg as { direction?: 'push' | 'pull'; change?: unknown } | undefined;
        if (event === 'change' && change?.direction) this[change.direction].emit('change', change.change);
        // PouchDB drops every listener once a replication has ended (no leak for long-lived apps).
        if (event === 'complete' || event === 'error') {
          this.removeAllListeners();
          this.push.removeAllListeners();
          this.pull.removeAllListeners();
        }
      });
    }
    const complete = typeof options.complete === 'function' ? (options.complete as Callback) : undefined;
    for (const cb of [complete, callback]) if (cb) withCallback(Promise.resolve(inner), cb);
  }

  /**
   * A sync's directions, as PouchDB's `sync.push` / `sync.pull`: each emits its own `change`
   * events, and cancelling either ends the sync (PouchDB stops both when one stops).
   */
  readonly push: ReplicationDirection = new ReplicationDirection(() => this.cancel());
  readonly pull: ReplicationDirection = new ReplicationDirection(() => this.cancel());

  cancel(): void {
    this.#cancelled = true;
    this.#inner.cancel();
  }

  then<A = any, B = never>(ok?: ((v: any) => A | PromiseLike<A>) | null, fail?: ((e: any) => B | PromiseLike<B>) | null): Promise<A | B> {
    return Promise.resolve(this.#inner).then(ok, fail);
  }

  catch<B = never>(fail?: ((e: any) => B | PromiseLike<B>) | null): Promise<any> {
    return this.then(undefined, fail);
  }

  finally(f?: (() => void) | null): Promise<any> {
    return Promise.resolve(this.#inner).finally(f);
  }
}

/** One direction of a sync: see `PouchReplication.push`. */
export class ReplicationDirection extends Emitter {
  #cancel: () => void;

  constructor(cancel: () => void) {
    super();
    this.#cancel = cancel;
  }

  cancel(): void {
    this.#cancel();
  }
}

function asSettee(db: unknown, ctor: PouchDBConstructor): Settee | string {
  if (db instanceof PouchDatabase) return db.settee;
  if (db instanceof Settee) return db;
  if (typeof db === 'string') return /^https?:\/\//i.test(db) ? db : new ctor(db).settee;
  throw Object.assign(new Error('source and target must be databases or names'), { status: 400, name: 'bad_request', error: true });
}

/** `(source, target, options?, callback?)` with PouchDB's leniency about what is passed. */
function replicationArgs(rest: unknown[]): [Record<string, any>, Callback | undefined] {
  const [args, cb] = takeCallback(rest);
  const options = (args[0] ?? {}) as Record<string, any>;
  return [options, cb];
}

// ---------------------------------------------------------------------------------------------
// The constructor

/** What `import PouchDB from 'settee/pouchdb'` is: callable with or without `new`. */
export interface PouchDBConstructor {
  new (name?: string | PouchDBOptions, options?: PouchDBOptions): PouchDatabase;
  (name?: string | PouchDBOptions, options?: PouchDBOptions): PouchDatabase;
  prototype: PouchDatabase;
  version: string;
  adapters: Record<string, unknown>;
  preferredAdapters: string[];
  /** Adds methods to every database (`{name: fn}`), or calls `plugin(PouchDB)`. */
  plugin(plugin: Record<string, unknown> | ((ctor: PouchDBConstructor) => void)): PouchDBConstructor;
  /** A constructor whose databases get these options unless they pass their own. */
  defaults(options: PouchDBOptions): PouchDBConstructor;
  replicate(source: unknown, target: unknown, ...rest: unknown[]): PouchReplication;
  sync(a: unknown, b: unknown, ...rest: unknown[]): PouchReplication;
  fetch: typeof fetch;
  on: Emitter['on'];
  once: Emitter['once'];
  emit: Emitter['emit'];
  removeListener: Emitter['removeListener'];
  removeAllListeners: Emitter['removeAllListeners'];
  listeners: Emitter['listeners'];
}

function makeConstructor(defaults: PouchDBOptions, parent?: PouchDBConstructor): PouchDBConstructor {
  const ctor = function (name?: string | PouchDBOptions, options?: PouchDBOptions): PouchDatabase {
    if (name !== null && typeof name === 'object') [name, options] = [name.name, name];
    if (typeof name !== 'string' || name === '') {
      throw Object.assign(new Error('Missing/invalid DB name'), { status: 400, name: 'bad_request', error: true });
    }
    const db = new PouchDatabase(name, { ...defaults, ...options }, ctor);
    if (parent) Object.setPrototypeOf(db, ctor.prototype);
    return db;
  } as unknown as PouchDBConstructor;
  ctor.prototype = parent ? Object.create(parent.prototype) : PouchDatabase.prototype;
  Object.defineProperty(ctor.prototype, 'constructor', { value: ctor, configurable: true, writable: true });
  // The constructor is an emitter too (`PouchDB.on('created', name => …)`).
  const events = new Emitter();
  for (const m of ['on', 'once', 'emit', 'removeListener', 'removeAllListeners', 'listeners', 'addListener', 'off'] as const) {
    (ctor as any)[m] = (...args: unknown[]) => {
      const r = (events[m] as AnyFn)(...args);
      return r === events ? ctor : r;
    };
  }
  if (parent) {
    // Events of a defaults() constructor's databases reach the parent's listeners as well.
    ctor.on('created', (name: string) => parent.emit('created', name));
    ctor.on('destroyed', (name: string) => parent.emit('destroyed', name));
  }
  ctor.version = VERSION;
  (ctor as unknown as { __defaults: PouchDBOptions }).__defaults = defaults;
  ctor.adapters = parent?.adapters ?? { idb: {}, memory: {}, http: {} };
  ctor.preferredAdapters = parent?.preferredAdapters ?? ['idb', 'memory'];
  ctor.fetch = (...args) => fetch(...args);
  ctor.plugin = (plugin) => {
    if (typeof plugin === 'function') plugin(ctor);
    else if (plugin === null || typeof plugin !== 'object' || !Object.keys(plugin).length) {
      throw new Error('Invalid plugin: got "' + String(plugin) + '", expected an object or a function');
    } else Object.assign(ctor.prototype, plugin);
    return ctor;
  };
  ctor.defaults = (options) => makeConstructor({ ...defaults, ...options }, ctor);
  ctor.replicate = (source, target, ...rest) => {
    const [options, cb] = replicationArgs(rest);
    const inner = Settee.replicate(asSettee(source, ctor), asSettee(target, ctor), filterOptions(options));
    return new PouchReplication(inner as never, options, cb);
  };
  ctor.sync = (a, b, ...rest) => {
    const [options, cb] = replicationArgs(rest);
    const left = asSettee(a, ctor);
    const inner = (typeof left === 'string' ? new Settee(left) : left).sync(asSettee(b, ctor) as never, filterOptions(options));
    return new PouchReplication(inner as never, options, cb);
  };
  return ctor;
}

/** PouchDB, on Settee. */
const PouchDB: PouchDBConstructor = makeConstructor({});
export default PouchDB;
export { PouchDB };
