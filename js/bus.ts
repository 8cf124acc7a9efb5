/**
 * A message bus on Settee databases, after Hydra's design on mutually replicating CouchDB
 * databases: messages are documents that are only ever created, every store replicates with
 * every other, and each client reads its nearest store. Here the nearest store is a local
 * Settee database (kept in sync by ordinary replication or `_replicator` docs), or, for a
 * Node client without one, a list of remote databases to fail over between.
 *
 * ```ts
 * const bus = new Bus<{ Chat: { text: string } }>(db, { node: 'laptop' });
 * bus.listen({ topic: 'Chat', name: 'ui' }, (msg) => show(msg.data.text));
 * await bus.post({ topic: 'Chat', data: { text: 'hi' } });
 * ```
 * The rules that are not obvious:
 * - Ids are `<16-digit µs>-<node>` from a hybrid logical clock ({@link HybridClock}) fed with
 *   every message id this bus sees, so ids sort by time across nodes.
 * - A listener delivers each message once, in id order among what it holds, and holds a
 *   message until `bufferDelay` after the earlier of its id's time and its arrival: later
 *   arrivals with older ids slot in before it. A message that arrives after a younger one was
 *   delivered is still delivered (out of order), never dropped.
 * - On a local database a listener's position is the changes seq below which everything was
 *   handled, plus the ids handled above it; a named listener stores both in a `_local` doc
 *   after each handler completes (the acknowledgement).
 * - Messages are immutable: `_design/settee-bus` holds a `validate_doc_update` that refuses
 *   any change to a message except a deletion marked `scavenged: true` (what
 *   {@link Bus.scavenge} writes). It runs for local and replicated writes, and on CouchDB
 *   stores the design doc replicates to.
 * @module
 */
import type { Settee } from './index.js';
import type { ChangeRow, Seq, SetteeError } from './types.js';
import { HybridClock, MESSAGE_ID, idAt, idTime, messageId, wallMs } from './hlc.js';
import { SourceOrder } from './bus-order.js';
import type {
  BusMessage,
  BusMessageOf,
  BusOptions,
  BusTopics,
  HandlerResult,
  ListenOptions,
  PostOptions,
  RequestOptions,
  ScavengeOptions,
  ScavengeResult,
} from './bus-types.js';

export type * from './bus-types.js';
export { HybridClock } from './hlc.js';

// eslint-disable-next-line @typescript-eslint/no-explicit-any
type AnyDb = Settee<any>;
type Msg = BusMessageOf<string, unknown>;
type RawPost = { topic: string; destination?: string; data: unknown; inReplyTo?: string; error?: unknown };

/** The guard. A replay of the same message (replication writing a rev the store already
 * has, which Settee validates too) carries the same fields, so equal content is let through;
 * any other change to a message is refused, except scavenging's marked deletion. */
const GUARD = `function (newDoc, oldDoc) {
  if (!oldDoc || oldDoc.type !== 'message') return;
  if (newDoc._deleted) { if (newDoc.scavenged === true) return; throw({forbidden: 'messages are immutable: only a deletion marked scavenged may remove one'}); }
  var same = ['type', 'topic', 'source', 'destination', 'posted', 'prev', 'inReplyTo'].every(function (k) { return newDoc[k] === oldDoc[k]; });
  if (same && JSON.stringify(newDoc.data) === JSON.stringify(oldDoc.data) && JSON.stringify(newDoc.error) === JSON.stringify(oldDoc.error)) return;
  throw({forbidden: 'messages are immutable'});
}`;
const GUARD_ID = '_design/settee-bus';
/** Every node writes the guard with this one rev (`new_edits: false`), so the copies that
 * meet by replication are the same revision, never a conflict, and each store's own write
 * marks it trusted (Settee runs only design docs the app wrote; see README, Validation).
 * Change the hash when GUARD changes. */
const GUARD_REV = '1-5e77ee0b05000000000000000001c0de';

const NODE_NAME = /^[A-Za-z0-9._~-]+$/;

function busError(status: number, name: string, message: string): SetteeError {
  return Object.assign(new Error(message), { status, name, message, error: true as const, reason: message });
}
const badRequest = (message: string) => busError(400, 'bad_request', message);

/** Where `value` is not JSON (a function, undefined, a non-finite number, a Date, a cycle…), or null. */
function nonJson(value: unknown, path = '', seen = new Set<object>()): string | null {
  if (value === null || typeof value === 'string' || typeof value === 'boolean') return null;
  if (typeof value === 'number') return Number.isFinite(value) ? null : path || '/';
  if (typeof value !== 'object') return path || '/';
  if (seen.has(value)) return path || '/';
  const proto = Object.getPrototypeOf(value);
  if (!Array.isArray(value) && proto !== Object.prototype && proto !== null) return path || '/';
  seen.add(value);
  for (const [k, v] of Object.entries(value)) {
    const bad = nonJson(v, `${path}/${k}`, seen);
    if (bad) return bad;
  }
  seen.delete(value);
  return null;
}


const isNetworkish = (e: unknown) => {
  const s = (e as SetteeError)?.status;
  return s === undefined || s === 0 || s >= 500 || (e as SetteeError)?.name === 'network_error';
};

/**
 * A message bus over one local Settee database, or (Node, no local store) over a list of
 * remote databases it fails over between.
 */
export class Bus<Msgs extends BusTopics = BusTopics> {
  /** This participant's name. */
  readonly node: string;
  readonly bufferDelay: number;
  /** The clock ids come from (exposed for tests and for ordering other events with it). */
  readonly clock: HybridClock;
  #stores: AnyDb[];
  #current = 0;
  #ready: Promise<void> | undefined;
  #observer: { cancel(): void } | undefined;
  #replies = new Map<string, (msg: Msg) => void>();
  #subscribers = new Set<Subscriber>();
  #feedRestarts = 0;
  #lastPosted: string | undefined;
  #retryTimer: ReturnType<typeof setTimeout> | undefined;
  /** Replies to this node no `request` waited for yet (the last 100). */
  #orphans = new Map<string, Msg>();
  #listeners = new Set<Listener<Msg>>();
  #closed = false;
  #switching: Promise<void> | undefined;

  /**
   * `db`: the local database, or an array of remote databases (`new Settee(url)` each) for a
   * client without a local store: the bus uses the fastest to answer, and moves to the next
   * when one fails. Throws a 400 for a bad `node` or `bufferDelay`. `clockSkewMs` shifts this
   * bus's wall clock (tests of the hybrid clock: a node whose clock is behind).
   */
  constructor(db: AnyDb | AnyDb[], options: BusOptions & { clockSkewMs?: number }) {
    if (typeof options?.node !== 'string' || !NODE_NAME.test(options.node)) {
      throw badRequest('node must be a non-empty string of [A-Za-z0-9._~-]');
    }
    const delay = options.bufferDelay ?? 1000;
    if (typeof delay !== 'number' || !(delay >= 0)) throw badRequest('bufferDelay must be a number >= 0');
    this.#stores = Array.isArray(db) ? db.slice() : [db];
    if (!this.#stores.length) throw badRequest('no database');
    this.node = options.node;
    this.bufferDelay = delay;
    this.clock = new HybridClock(options.clockSkewMs ?? 0);
  }

  /** True when the bus reads a list of remote stores (no local database). */
  get failover(): boolean {
    return this.#stores.length > 1 || this.#stores[0].name.startsWith('http');
  }

  /** How many times the bus's local feed failed and was reopened (see `#follow`). */
  get feedRestarts(): number {
    return this.#feedRestarts;
  }

  /** The store in use now. */
  get store(): AnyDb {
    return this.#stores[this.#current];
  }

  /** Posts a message; resolves to its id. */
  async post<T extends keyof Msgs & string>(msg: PostOptions<Msgs, T>): Promise<string> {
    return this.#post(msg as RawPost);
  }

  async #post(msg: RawPost): Promise<string> {
    if (!msg || typeof msg !== 'object') throw badRequest('post takes {topic, destination?, data}');
    const { topic, destination, data } = msg;
    if (typeof topic !== 'string' || !topic) throw badRequest('topic must be a non-empty string');
    if (destination !== undefined && (typeof destination !== 'string' || !destination)) {
      throw badRequest('destination must be a non-empty string');
    }
    if (!('data' in msg)) throw badRequest('data is missing');
    const where = nonJson(data);
    if (where !== null) throw badRequest(`data is not JSON at ${where}`);
    await this.#start();
    let doc: Record<string, unknown> | undefined;
    let resent = false;
    for (let attempt = 0; ; attempt++) {
      if (!doc) {
        doc = { _id: messageId(this.clock.tick(), this.node), type: 'message', topic, source: this.node };
        if (destination !== undefined) doc.destination = destination;
        doc.data = data;
        doc.posted = new Date().toISOString();
        // The last message this bus stored: listeners use the chain to keep a source's order.
        if (this.#lastPosted !== undefined) doc.prev = this.#lastPosted;
        if (msg.inReplyTo !== undefined) doc.inReplyTo = msg.inReplyTo;
        if (msg.error !== undefined) doc.error = msg.error;
      }
      const id = doc._id as string;
      const stored = () => {
        if (this.#lastPosted === undefined || id > this.#lastPosted) this.#lastPosted = id;
        return id;
      };
      try {
        await this.store.put(doc as never);
        return stored();
      } catch (e) {
        if ((e as SetteeError).status === 409) {
          // Sent again after a failure: the first write landed (only this node makes ids
          // ending in its name), and replication brought it here. Else another tab of this
          // node took the same microsecond, and a fresh tick differs.
          if (resent) return stored();
          if (attempt < 5) {
            doc = undefined;
            continue;
          }
        }
        if (this.failover && isNetworkish(e) && attempt < this.#stores.length) {
          // The same doc to the next store: a write whose answer was lost is not doubled.
          await this.#switch(this.store);
          resent = true;
          continue;
        }
        throw e;
      }
    }
  }

  /**
   * Delivers matching messages, one at a time in id order, to `handler` (its completion is
   * the acknowledgement), or, without a handler, through `for await (const msg of listener)`
   * (asking for the next message acknowledges the previous one; leaving the loop
   * acknowledges nothing). Broadcasts of `topic` come to every listener; messages with a
   * `destination` only to listeners of that destination.
   */
  listen<T extends keyof Msgs & string>(
    options: ListenOptions<T>,
    handler?: (msg: BusMessage<Msgs, T>) => HandlerResult | Promise<HandlerResult>,
  ): Listener<BusMessage<Msgs, T>> {
    if (!options || typeof options !== 'object') throw badRequest('listen takes {topic, destination?, name?, since?}');
    const { topic, destination, name, since = 'now', bufferDelay = this.bufferDelay } = options;
    if (typeof topic !== 'string' || !topic) throw badRequest('topic must be a non-empty string');
    if (destination !== undefined && (typeof destination !== 'string' || !destination)) {
      throw badRequest('destination must be a non-empty string');
    }
    if (name !== undefined && (typeof name !== 'string' || !NODE_NAME.test(name))) {
      throw badRequest('name must be a string of [A-Za-z0-9._~-]');
    }
    if (since !== 'now' && since !== 'start' && (typeof since !== 'string' || !MESSAGE_ID.test(since))) {
      throw badRequest(`since must be 'now', 'start' or a message id, not ${JSON.stringify(since)}`);
    }
    if (typeof bufferDelay !== 'number' || !(bufferDelay >= 0)) throw badRequest('bufferDelay must be a number >= 0');
    if (handler !== undefined && typeof handler !== 'function') throw badRequest('handler must be a function');
    if (this.#closed) throw busError(400, 'bad_request', 'the bus is closed');
    const listener = new Listener<Msg>(this._internals, {
      topic,
      destination,
      name,
      since,
      bufferDelay,
      handler: handler as ((msg: Msg) => HandlerResult | Promise<HandlerResult>) | undefined,
    });
    this.#listeners.add(listener);
    void listener.done.finally(() => this.#listeners.delete(listener)).catch(() => {});
    return listener as unknown as Listener<BusMessage<Msgs, T>>;
  }

  /**
   * Sends `data` on `topic` to `destination` and resolves to the data of its reply (from
   * `serve` there). Rejects with 408 `timeout` after `timeout` ms (default 10 s), or with
   * the error the serving handler threw.
   */
  async request<T extends keyof Msgs & string, R = unknown>(
    destination: string,
    topic: T,
    data: Msgs[T],
    { timeout = 10_000 }: RequestOptions = {},
  ): Promise<R> {
    if (typeof destination !== 'string' || !destination) throw badRequest('destination must be a non-empty string');
    await this.#start();
    // The reply can only come after the request is stored; register first anyway, since the
    // id is known only once posted and a fast reply must not be missed.
    let resolve!: (m: Msg) => void;
    const replied = new Promise<Msg>((ok) => (resolve = ok));
    const id = await this.#post({ topic, destination, data });
    this.#replies.set(id, resolve);
    // A reply seen before the post resolved (a server on this same store can be that fast).
    const early = this.#orphans.get(id);
    if (early) resolve(early);
    let timer: ReturnType<typeof setTimeout> | undefined;
    const timedOut = new Promise<never>((_, fail) => {
      timer = setTimeout(() => fail(busError(408, 'timeout', `no reply to ${id} (${topic} to ${destination}) within ${timeout} ms`)), timeout);
    });
    try {
      const reply = await Promise.race([replied, timedOut]);
      if (reply.error) throw busError(reply.error.status ?? 500, reply.error.name ?? 'unknown_error', reply.error.message ?? '');
      return reply.data as R;
    } finally {
      clearTimeout(timer);
      this.#replies.delete(id);
    }
  }

  /**
   * Answers requests on `topic` sent to this node: each request's data goes to `handler`, and
   * what it returns (or throws) is posted back to the requester as a directed reply.
   * Requests are not buffered (`bufferDelay` 0). Returns the listener (`stop()` ends it).
   */
  serve<T extends keyof Msgs & string, R = unknown>(
    topic: T,
    handler: (data: Msgs[T], msg: BusMessage<Msgs, T>) => R | Promise<R>,
    { name, since }: { name?: string; since?: ListenOptions<T>['since'] } = {},
  ): Listener<BusMessage<Msgs, T>> {
    if (typeof handler !== 'function') throw badRequest('handler must be a function');
    return this.listen({ topic, destination: this.node, name, since, bufferDelay: 0 }, async (msg) => {
      // Only requests: a reply (inReplyTo) or a broadcast on the topic is not for `serve`.
      if (msg.inReplyTo !== undefined || msg.destination !== this.node) return;
      let reply: { data: unknown; error?: { status: number; name: string; message: string } };
      try {
        reply = { data: (await handler(msg.data as Msgs[T], msg)) ?? null };
      } catch (e) {
        const err = e as Partial<SetteeError>;
        reply = { data: null, error: { status: err?.status ?? 500, name: err?.name ?? 'unknown_error', message: String(err?.message ?? e) } };
      }
      await this.#post({ topic, destination: msg.source, data: reply.data as never, inReplyTo: msg._id, error: reply.error });
    });
  }

  /**
   * Deletes messages older than `olderThan` (ms ago, or a Date), by their id's time. The
   * deletions carry `scavenged: true`, the one change the guard allows, and replicate like
   * any write, so every store drops them. Listeners' positions are untouched: they skip
   * deletions. (Settee has no purge yet: see the README.)
   */
  async scavenge({ olderThan }: ScavengeOptions): Promise<ScavengeResult> {
    const cutoff = olderThan instanceof Date ? olderThan.getTime() : typeof olderThan === 'number' && olderThan >= 0 ? Date.now() - olderThan : NaN;
    if (!Number.isFinite(cutoff)) throw badRequest('olderThan must be a number of ms >= 0 or a Date');
    await this.#start();
    let deleted = 0;
    for (;;) {
      // Ids sort by time: the old messages are one id range, read a page at a time.
      const { rows } = await this.store.allDocs({ startkey: idAt(0), endkey: idAt(cutoff * 1000), inclusive_end: false, limit: 500 });
      const ids = rows.filter((r) => MESSAGE_ID.test(r.id));
      if (!ids.length) break;
      const results = await this.store.bulkDocs(ids.map((r) => ({ _id: r.id, _rev: r.value.rev, _deleted: true, scavenged: true })) as never);
      const ok = results.filter((r) => 'ok' in r && r.ok).length;
      deleted += ok;
      if (rows.length < 500 || ok === 0) break;
    }
    return { deleted };
  }

  /** Stops every listener and the bus's own feed. The database stays open. */
  async close(): Promise<void> {
    this.#closed = true;
    clearTimeout(this.#retryTimer);
    this.#observer?.cancel();
    await Promise.all([...this.#listeners].map((l) => l.stop()));
  }

  // ------------------------------------------------------------------------------------------
  // internals, used by Listener through BusInternals

  /** Once: picks the store, writes the guard, seeds the clock, follows every message. */
  #start(): Promise<void> {
    this.#ready ??= (async () => {
      if (this.failover) await this.#rank();
      await this.#installGuard();
      await this.#seedClock();
      await this.#follow();
    })().catch((e) => {
      this.#ready = undefined; // no store answered: the next call tries again
      throw e;
    });
    return this.#ready;
  }

  async #installGuard(): Promise<void> {
    const write = this.store.bulkDocs([{ _id: GUARD_ID, _rev: GUARD_REV, validate_doc_update: GUARD }] as never, { new_edits: false });
    if (this.failover) await write.catch(() => {}); // a non-admin may not write design docs on a server: its admin installs it
    else await write;
  }

  /** The clock starts after the newest message id in the store (ids sort by time). */
  async #seedClock(): Promise<void> {
    const { rows } = await this.store.allDocs({ descending: true, startkey: idAt(9e15) + '\uffff', endkey: idAt(0), limit: 20 });
    for (const r of rows) this.clock.observe(r.id);
  }

  /**
   * The bus's one feed of the store, shared by all its listeners (one feed per listener
   * would read every change once per listener): every message id moves the clock, replies go
   * to `request`s, and every row goes to the subscribed listeners. It starts at the store's
   * `update_seq` read first, so a listener that subscribes after `#start` and then reads
   * the backlog misses nothing in between.
   */
  async #follow(from?: Seq, failures = 0): Promise<void> {
    const feedStore = this.store;
    const since = from ?? (await feedStore.info()).update_seq;
    if (this.#closed) return;
    const feed = feedStore.changes({ live: true, since, include_docs: true });
    this.#observer = feed;
    let rows = 0;
    let last: Seq = since; // the feed's own lastSeq is 0 until its first row
    feed.on('change', (row: ChangeRow<Msg>) => {
      rows++;
      last = row.seq;
      if (!MESSAGE_ID.test(row.id)) return;
      this.clock.observe(row.id);
      for (const s of this.#subscribers) s.row(row);
      const doc = row.doc;
      if (!doc || row.deleted || doc.inReplyTo === undefined || doc.destination !== this.node) return;
      const waiting = this.#replies.get(doc.inReplyTo);
      if (waiting) return waiting(doc);
      this.#orphans.set(doc.inReplyTo, doc);
      if (this.#orphans.size > 100) this.#orphans.delete(this.#orphans.keys().next().value!);
    });
    feed.on('error', (e: SetteeError) => {
      if (this.#closed) return;
      if (!this.failover) {
        // A local feed that fails (the database closed under it, a storage error) is reopened
        // from the last row delivered: listeners drop the rows they already have. Fail them
        // only if it keeps failing without progress.
        const again = rows > 0 ? 0 : failures + 1;
        this.#feedRestarts++;
        if (again > 5) return this.#subscribers.forEach((s) => s.failed(e));
        this.#retryTimer = setTimeout(() => void this.#follow(last, again).catch((err) => this.#subscribers.forEach((s) => s.failed(err))), 50 * 2 ** again);
        return;
      }
      this.#recover(feedStore);
    });
  }

  /** A remote store failed under the feed: move to the next, follow it, and have the
   * listeners re-read; while no store answers, try again every 5 s. */
  #recover(bad: AnyDb): void {
    if (this.#closed) return;
    this.#switch(bad).then(
      async () => {
        const now = this.store;
        try {
          await this.#follow();
        } catch {
          return void (this.#retryTimer = setTimeout(() => this.#recover(now), 1000));
        }
        this.#subscribers.forEach((s) => s.switched());
      },
      () => void (this.#retryTimer = setTimeout(() => this.#recover(bad), 5000)),
    );
  }

  /** Orders the stores by how fast they answer `info()`; the first that answers is used. */
  async #rank(): Promise<void> {
    const timed = await Promise.all(
      this.#stores.map(async (db, i) => {
        const t0 = Date.now();
        let timer: ReturnType<typeof setTimeout> | undefined;
        try {
          await Promise.race([db.info(), new Promise((_, fail) => (timer = setTimeout(fail, 5000)))]);
          return { i, ms: Date.now() - t0 };
        } catch {
          return { i, ms: Infinity };
        } finally {
          clearTimeout(timer); // a pending timer would keep a Node process alive
        }
      }),
    );
    timed.sort((a, b) => a.ms - b.ms);
    if (timed[0].ms === Infinity) throw busError(503, 'unavailable', 'no store answers');
    const order = timed.map((t) => this.#stores[t.i]);
    this.#stores = order;
    this.#current = 0;
  }

  /** After store `bad` failed: re-rank, the failed one last. Nothing to do if another
   * caller (the bus's feed, a listener's, a post) already moved away from it. Rejects (503)
   * when no store answers for about 6 s, so that a `post` fails rather than hangs. */
  #switch(bad: AnyDb): Promise<void> {
    if (this.store !== bad) return this.#switching ?? Promise.resolve();
    this.#switching ??= (async () => {
      for (let tries = 0; ; tries++) {
        try {
          await this.#rank();
          if (this.#stores[0] === bad && this.#stores.length > 1) this.#stores.push(this.#stores.shift()!);
          break;
        } catch (e) {
          if (this.#closed || tries >= 5) throw e;
          await new Promise((ok) => setTimeout(ok, Math.min(5000, 200 * 2 ** tries)));
        }
      }
    })().finally(() => (this.#switching = undefined));
    return this.#switching;
  }

  /** @internal */
  get _internals(): BusInternals {
    return {
      start: () => this.#start(),
      store: () => this.store,
      failover: this.failover,
      node: this.node,
      switchStore: (bad: AnyDb) => this.#switch(bad),
      subscribe: (s: Subscriber) => {
        this.#subscribers.add(s);
        return () => this.#subscribers.delete(s);
      },
    };
  }
}

/** @internal What a Listener needs from its bus. */
interface BusInternals {
  start(): Promise<void>;
  store(): AnyDb;
  failover: boolean;
  node: string;
  switchStore(bad: AnyDb): Promise<void>;
  /** Adds a receiver of the bus feed's rows; returns its removal. */
  subscribe(s: Subscriber): () => void;
}

/** A listener, as the bus's feed sees it. */
interface Subscriber {
  row(row: ChangeRow<Msg>): void;
  /** The bus moved to another store (failover): re-read from the position. */
  switched(): void;
  failed(e: unknown): void;
}

interface Held<M> {
  msg: M;
  seq: number;
  /** Deliverable from this time (ms). */
  due: number;
  /** Arrival (ms): a message whose source's earlier messages are missing waits until
   * `at + bufferDelay + ORDER_WAIT_MS` at most. */
  at: number;
}

/** How long (ms, beyond `bufferDelay`) a message waits for its source's earlier messages. */
const ORDER_WAIT_MS = 5_000;

interface ListenerConfig<M> {
  topic: string;
  destination?: string;
  name?: string;
  since: string;
  bufferDelay: number;
  handler?: (msg: M) => HandlerResult | Promise<HandlerResult>;
}

/** In failover mode, how far back (ms, beyond `bufferDelay`) a resumed read looks for late messages. */
const LOOKBACK_MS = 10_000;

/**
 * One listener: its feed, its held messages, its position. `stop()` ends it; `done` settles
 * when it has stopped (rejects with the handler's error if a handler threw: that message is
 * not acknowledged, so a named listener gets it again on its next start).
 */
export class Listener<M extends Msg = Msg> implements AsyncIterable<M> {
  readonly name: string | undefined;
  /** Settles once the listener has stopped. */
  readonly done: Promise<void>;
  /**
   * Resolves once the listener has its starting point (for `since: 'now'`, the store's
   * current end) and has read its backlog: messages stored after this are surely seen.
   */
  readonly ready: Promise<void>;
  #bus: BusInternals;
  #cfg: ListenerConfig<M>;
  /** Held messages, sorted by id (arrivals are mostly at the end). */
  #held: Held<M>[] = [];
  #heldIds = new Set<string>();
  /** Ids handled whose seq is above the watermark (local), or recently (failover: id -> time). */
  #handled = new Map<string, number>();
  /** Every change with seq <= this was handled or was not for us (local mode). */
  #watermark = 0;
  #lastSeen = 0;
  #from = '';
  #last: string | undefined;
  #localRev: string | undefined;
  #timer: ReturnType<typeof setTimeout> | undefined;
  #running = false;
  #stopped = false;
  #finish!: (error?: unknown) => void;
  #handoff: { msg: M; ack: (acked: boolean) => void } | undefined;
  #wakeIterator: (() => void) | undefined;
  #pendingAck: ((acked: boolean) => void) | undefined;
  #ready: Promise<void>;
  #reread1 = false;
  #lockAbort: AbortController | undefined;
  #releaseLock: (() => void) | undefined;
  #order = new SourceOrder(Math.floor(wallMs() * 1000));
  #unsubscribe: (() => void) | undefined;
  #error: unknown;

  /** @internal Use `bus.listen()`. */
  constructor(bus: BusInternals, cfg: ListenerConfig<M>) {
    this.#bus = bus;
    this.#cfg = cfg;
    this.name = cfg.name;
    this.done = new Promise<void>((ok, fail) => {
      this.#finish = (error) => (error === undefined ? ok() : fail(error));
    });
    this.done.catch(() => {}); // not an unhandled rejection: `done` is for those who ask
    this.#ready = this.#begin().catch((e) => this.#fail(e));
    this.ready = this.#ready;
  }

  /** How many messages are held back, waiting for their time or for the one in hand. */
  get held(): number {
    return this.#held.length;
  }

  /** The id of the last message delivered and acknowledged. */
  get position(): string | undefined {
    return this.#last;
  }

  /** Stops delivery; resolves once the message in hand (if any) is done. */
  async stop(): Promise<void> {
    if (this.#stopped) return this.done.catch(() => {});
    this.#stopped = true;
    clearTimeout(this.#timer);
    this.#lockAbort?.abort(); // if still waiting for the tab lock
    this.#unsubscribe?.();
    this.#handoff?.ack(false);
    this.#wakeIterator?.();
    await this.#ready;
    if (!this.#running) this.#end();
    return this.done.catch(() => {});
  }

  [Symbol.asyncIterator](): AsyncIterator<M> {
    if (this.#cfg.handler) throw badRequest('a listener with a handler is not iterable');
    return {
      next: async () => {
        this.#pendingAck?.(true);
        this.#pendingAck = undefined;
        while (!this.#handoff && !this.#stopped) await new Promise<void>((wake) => (this.#wakeIterator = wake));
        if (this.#stopped || !this.#handoff) return { value: undefined, done: true };
        const { msg, ack } = this.#handoff;
        this.#handoff = undefined;
        this.#pendingAck = ack;
        return { value: msg, done: false };
      },
      return: async () => {
        this.#pendingAck?.(false);
        this.#pendingAck = undefined;
        await this.stop();
        return { value: undefined, done: true };
      },
    };
  }

  get #localId(): `_local/${string}` {
    return `_local/settee-bus-${this.#bus.node}-${this.#cfg.name}`;
  }

  #matches(doc: Msg | undefined): doc is Msg {
    if (!doc || doc.type !== 'message' || doc.topic !== this.#cfg.topic) return false;
    return doc.destination === undefined || doc.destination === this.#cfg.destination;
  }

  async #begin(): Promise<void> {
    await this.#bus.start();
    if (this.#bus.failover) return this.#beginFailover();
    const db = this.#bus.store();
    await this.#lock();
    if (this.#stopped) return;
    // Subscribe first and keep the rows aside while the backlog is read, so nothing falls
    // between the backlog's end and the feed; the two overlap, and #accept drops repeats.
    const early: ChangeRow<M>[] = [];
    let live = false;
    this.#unsubscribe = this.#bus.subscribe({
      row: (row) => {
        if (!live) return void early.push(row as ChangeRow<M>);
        this.#accept(row as ChangeRow<M>, false);
        this.#kick();
      },
      switched: () => {},
      failed: (e) => this.#fail(e),
    });
    const { since, name } = this.#cfg;
    const saved = name ? await db.get(this.#localId).catch((e: SetteeError) => (e.status === 404 ? null : Promise.reject(e))) : null;
    if (saved) {
      this.#localRev = saved._rev as string;
      this.#watermark = saved.seq as number;
      this.#from = saved.from as string;
      this.#last = saved.last as string | undefined;
      for (const [id, seq] of saved.handled as [string, number][]) this.#handled.set(id, seq);
    } else if (since === 'now') {
      this.#watermark = (await db.info()).update_seq as number;
    } else if (since !== 'start') {
      // From an id: the ids after it are one `_all_docs` range (ids sort by time), much
      // cheaper than the changes feed from 0 on a long history (20,000 messages on disk:
      // 1 ms against 52-72 ms). Everything up to `update_seq` read first is in the range or
      // before `since`; later writes come from the changes read below. A message in both is
      // held once (nothing is delivered before the backlog is read), and one read here counts
      // as at the watermark: its doc cannot change later, messages being immutable.
      this.#from = since;
      this.#watermark = (await db.info()).update_seq as number;
      for (let key: string | undefined = since; key !== undefined && !this.#stopped; ) {
        const page = await db.allDocs({ startkey: key, endkey: idAt(9e15), include_docs: true, limit: 1000 });
        const rows = page.rows as { id: string; doc?: M }[];
        for (const r of rows) if (r.doc) this.#accept({ id: r.id, seq: this.#watermark + 0.5, changes: [], doc: r.doc } as ChangeRow<M>, true);
        key = rows.length < 1000 ? undefined : rows[rows.length - 1].id;
      }
    }
    this.#lastSeen = this.#watermark;
    // Catch up in full before anything is delivered, so a backlog comes out in id order.
    for (;;) {
      if (this.#stopped) return;
      const page = await db.changes({ since: this.#lastSeen, include_docs: true, limit: 1000 });
      for (const row of page.results) this.#accept(row as ChangeRow<M>, true);
      if (page.results.length < 1000) break;
    }
    for (const row of early) this.#accept(row, false);
    live = true;
    this.#kick();
  }

  /** Failover mode: positions are message ids. After each start on a store, the listener
   * re-reads the ids from a little before the last one it handled (or from `since`); ids
   * handled recently are remembered and skipped. */
  async #beginFailover(): Promise<void> {
    this.#unsubscribe = this.#bus.subscribe({
      row: (row) => {
        this.#accept(row as ChangeRow<M>, false);
        this.#kick();
      },
      switched: () => void this.#reread().catch((e) => this.#fail(e)),
      failed: (e) => this.#fail(e),
    });
    await this.#reread();
  }

  async #reread(): Promise<void> {
    const db = this.#bus.store();
    const { since } = this.#cfg;
    let startkey: string | undefined;
    if (this.#last) startkey = idAt((idTime(this.#last) ?? 0) - (this.#cfg.bufferDelay + LOOKBACK_MS) * 1000);
    else if (!this.#reread1 && since === 'start') startkey = idAt(0);
    else if (!this.#reread1 && since !== 'now') startkey = this.#from = since;
    try {
      while (startkey !== undefined && !this.#stopped) {
        const key: string = startkey;
        const page = await db.allDocs({ startkey: key, endkey: idAt(9e15), include_docs: true, limit: 1000 });
        const rows = page.rows as { id: string; doc?: M }[];
        for (const r of rows) if (r.doc && r.id !== key) this.#accept({ id: r.id, seq: 0, changes: [], doc: r.doc } as ChangeRow<M>, true);
        startkey = rows.length < 1000 ? undefined : rows[rows.length - 1].id;
      }
      this.#reread1 = true;
    } catch (e) {
      if (!isNetworkish(e)) throw e;
      // The bus moves to the next store and calls `switched`, which reads again.
      void this.#bus.switchStore(db).catch(() => {});
    }
    this.#kick();
  }

  /** Takes one change: holds it if it is a message for us not handled yet. */
  #accept(row: ChangeRow<M>, backlog: boolean): void {
    const seq = typeof row.seq === 'number' ? row.seq : 0;
    if (Number.isInteger(seq) && seq > this.#lastSeen) this.#lastSeen = seq; // not the range read's W + 0.5
    const doc = row.doc as M | undefined;
    if (MESSAGE_ID.test(row.id)) this.#order.see(row.id, row.deleted ? undefined : (doc as { prev?: string } | undefined)?.prev);
    if (row.deleted || !this.#matches(doc) || !MESSAGE_ID.test(row.id)) return;
    // At or below the watermark everything is handled (its ids are no longer in #handled).
    if (!this.#bus.failover && seq <= this.#watermark) return;
    if (row.id <= this.#from || this.#handled.has(row.id) || this.#heldIds.has(row.id)) return;
    const now = wallMs();
    // Due a buffer after the earlier of its id's time and its arrival: a message from a
    // clock that runs ahead waits no more than the buffer, and a late one is due at once.
    const due = backlog ? 0 : Math.min((idTime(row.id) ?? 0) / 1000, now) + this.#cfg.bufferDelay;
    const held = { msg: doc, seq, due, at: now };
    let i = this.#held.length;
    while (i > 0 && this.#held[i - 1].msg._id > row.id) i--;
    this.#held.splice(i, 0, held);
    this.#heldIds.add(row.id);
  }

  #kick(): void {
    if (!this.#running && !this.#stopped) void this.#run();
  }

  /** Delivers held messages in id order while the first is due; one at a time. */
  async #run(): Promise<void> {
    this.#running = true;
    clearTimeout(this.#timer);
    try {
      while (!this.#stopped && this.#held.length) {
        const head = this.#held[0];
        const now = wallMs();
        let wait = head.due - now;
        if (wait <= 0 && !this.#order.ready(head.msg._id)) {
          // Its source's earlier messages are not all here yet: wait for them (an arrival
          // kicks the loop), but not for ever.
          const limit = head.at + this.#cfg.bufferDelay + ORDER_WAIT_MS - now;
          if (limit <= 0) this.#order.force(head.msg._id);
          else wait = limit;
        }
        if (wait > 0) {
          this.#timer = setTimeout(() => this.#kick(), wait);
          break;
        }
        this.#held.shift();
        this.#heldIds.delete(head.msg._id);
        const outcome = await this.#deliver(head.msg);
        if (outcome === undefined) {
          // Not acknowledged (stopped with the message in hand): it stays unhandled.
          break;
        }
        await this.#acknowledge(head, outcome);
      }
    } catch (e) {
      this.#fail(e);
    } finally {
      this.#running = false;
      if (this.#stopped) this.#end(this.#error);
      else if (this.#held.length && !this.#timer) this.#kick();
    }
  }

  /** Hands one message over; resolves to the handler's result, or undefined if not acknowledged. */
  async #deliver(msg: M): Promise<Exclude<HandlerResult, void> | {} | undefined> {
    if (this.#cfg.handler) {
      // Only a `{write}` object means something; any other return value is ignored.
      const result: unknown = await this.#cfg.handler(msg);
      return result !== null && typeof result === 'object' && Array.isArray((result as { write?: unknown }).write) ? result : {};
    }
    const acked = await new Promise<boolean>((ack) => {
      this.#handoff = { msg, ack };
      this.#wakeIterator?.();
    });
    return acked ? {} : undefined;
  }

  /** Records `held` as handled and moves the watermark; a named listener saves it all in one
   * write with the handler's `write` docs. */
  async #acknowledge(held: Held<M>, outcome: Exclude<HandlerResult, void> | {}): Promise<void> {
    const id = held.msg._id;
    this.#last = !this.#last || id > this.#last ? id : this.#last;
    const writes = ('write' in outcome && outcome.write) || [];
    if (this.#bus.failover) {
      this.#handled.set(id, idTime(id) ?? 0);
      const horizon = ((idTime(this.#last) ?? 0) / 1000 - this.#cfg.bufferDelay - 2 * LOOKBACK_MS) * 1000;
      for (const [k, t] of this.#handled) if (t < horizon) this.#handled.delete(k);
      if (writes.length) await this.#bus.store().bulkDocs(writes as never);
      return;
    }
    this.#handled.set(id, held.seq);
    let lowest = this.#lastSeen;
    for (const h of this.#held) if (h.seq - 1 < lowest) lowest = h.seq - 1;
    if (lowest > this.#watermark) this.#watermark = lowest;
    for (const [k, seq] of this.#handled) if (seq <= this.#watermark) this.#handled.delete(k);
    const db = this.#bus.store();
    if (!this.#cfg.name) {
      if (writes.length) await db.bulkDocs(writes as never);
      return;
    }
    const state = {
      _id: this.#localId,
      ...(this.#localRev ? { _rev: this.#localRev } : {}),
      seq: this.#watermark,
      handled: [...this.#handled],
      from: this.#from,
      last: this.#last,
    };
    const results = await db.bulkDocs([state, ...writes] as never);
    const first = results[0] as { ok?: boolean; rev?: string } & Partial<SetteeError>;
    if (!first.ok) throw busError(first.status ?? 500, first.name ?? 'unknown_error', `saving listener ${this.#cfg.name}: ${first.message}`);
    this.#localRev = first.rev;
    const failed = results.slice(1).find((r) => !('ok' in r && r.ok)) as SetteeError | undefined;
    if (failed) throw busError(failed.status, failed.name, `handler write ${failed.id}: ${failed.message}`);
  }

  /** Settles `done`, after releasing the tab lock (once the message in hand is acknowledged). */
  #end(error?: unknown): void {
    this.#lockAbort?.abort();
    this.#releaseLock?.();
    this.#finish(error);
  }

  /**
   * A named listener on a browser database holds a Web Lock named after it, so that of the
   * tabs that open it only one delivers (the others wait, and one takes over when that tab
   * closes or stops it): its position is one `_local` doc, and two tabs running it at once
   * would each deliver every message.
   */
  async #lock(): Promise<void> {
    const locks = (globalThis.navigator as { locks?: LockManager } | undefined)?.locks;
    if (!this.#cfg.name || !locks?.request) return;
    const key = `settee-bus:${this.#bus.store().name}:${this.#localId}`;
    this.#lockAbort = new AbortController();
    await new Promise<void>((granted) => {
      locks
        .request(key, { signal: this.#lockAbort!.signal }, () => new Promise<void>((release) => {
          this.#releaseLock = release;
          granted();
        }))
        .catch(() => granted()); // aborted by stop(): #begin sees #stopped
    });
    if (this.#stopped) return;
    // This tab's handle can lag behind the last commit of the tab that held the lock until
    // that tab's cross-tab notice arrives (from a background tab in Firefox, up to ~1 s
    // late), and a read now could see a position older than its last acknowledgements. A
    // write checks the manifest and refreshes a stale handle, so one write here makes the
    // read of the position that follows current.
    const db = this.#bus.store();
    const claim = `${this.#localId}~claim` as `_local/${string}`;
    for (let attempt = 0; attempt < 3; attempt++) {
      const old = await db.get(claim).catch(() => null);
      const [r] = await db.bulkDocs([{ _id: claim, ...(old ? { _rev: old._rev } : {}), at: Date.now() }] as never);
      if ('ok' in r && r.ok) break;
    }
  }

  #fail(e: unknown): void {
    if (this.#stopped) return;
    this.#stopped = true;
    this.#error = e;
    clearTimeout(this.#timer);
    this.#unsubscribe?.();
    this.#wakeIterator?.();
    if (!this.#running) this.#end(e);
  }
}
