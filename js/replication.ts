/**
 * Replication handles: what `db.replicate.to/from`, `db.sync` and `Settee.replicate` return.
 * An event emitter that is also awaitable. The protocol runs in Rust (`src/replicate/`); this
 * file only fans the wasm `Replication`'s events out to listeners and fires `complete` or
 * `error` when its result settles.
 * @module
 */
import type { Replication as WasmReplication } from './settee_core.js';
import { TabLeader } from './tab-leader.js';
import type { ConflictEvent, ExistingDoc, Revisions, SetteeError } from './types.js';

/** Options of a replication (PouchDB's names). */
export interface ReplicationOptions<Doc = Record<string, unknown>> {
  /** Keep replicating new changes until cancelled. */
  live?: boolean;
  /**
   * On network errors, timeouts and 5xx answers: retry the request a few times at once, then
   * back off and resume from the checkpoint. The back-off starts over while the server
   * answers anything, and the browser's `online` event ends it at once.
   */
  retry?: boolean;
  /** Changes per batch (default 1000). */
  batch_size?: number;
  /** Only these documents. */
  doc_ids?: string[];
  /** A Mango selector on each changed doc's winning revision (a local or remote source). */
  selector?: Record<string, unknown>;
  /**
   * A function deciding which fetched revisions to write, or `'ddoc/name'`: a filter
   * function in a design document of a remote source, with `query_params`, or `'_view'`:
   * the docs a remote source's view (`view`) emits rows for.
   */
  filter?: ((doc: ExistingDoc<Doc> & { _deleted?: true; _revisions?: Revisions }) => boolean) | string;
  query_params?: Record<string, unknown>;
  /** With `filter: '_view'`: the view, `'ddoc/name'`. */
  view?: string;
  /** Start from this source seq instead of the checkpoint. */
  since?: number | string;
  /**
   * A live replication runs in one tab (or worker) of the origin at a time, whichever tabs
   * start it; the others mirror its events and one takes over when it closes. `false` runs
   * it in this tab regardless (default `true`; one-shots always run where they are called).
   */
  coordinate?: boolean;
  /** Create a missing remote target. */
  create_target?: boolean;
  /** Longpoll heartbeat and timeout (ms) when following a remote source live. */
  heartbeat?: number;
  timeout?: number;
  /** The retry backoff's base delay in ms (default 2000): the first retry waits up to it. */
  back_off_base?: number;
  /**
   * How long any request but a longpoll may take, answer and body included, in ms (default
   * 60,000; 10× that for a request carrying an attachment's data). A request past it fails
   * as a `network_error`, which `retry` retries.
   */
  request_timeout?: number;
}

/** A document write refused by the target (e.g. a validation function's `forbidden`). */
export interface ReplicationDocError {
  id: string;
  rev?: string;
  status: number;
  error: string;
  reason: string;
}

/** What a finished one-way replication resolves to. */
export interface ReplicationResult {
  ok: boolean;
  docs_read: number;
  docs_written: number;
  doc_write_failures: number;
  errors: ReplicationDocError[];
  /** The source seq checkpointed last (opaque for CouchDB). */
  last_seq: number | string;
  start_time: string;
  end_time: string;
  status: 'complete' | 'cancelled' | 'aborted';
}

/** What a finished sync resolves to. */
export interface SyncResult {
  ok: boolean;
  status: 'complete' | 'cancelled' | 'aborted';
  push: ReplicationResult;
  pull: ReplicationResult;
}

/** The `change` event of a one-way replication: cumulative counts after a batch. */
export interface ReplicationChange<Doc> {
  ok: true;
  docs_read: number;
  docs_written: number;
  doc_write_failures: number;
  /** Changes left on the source, when it can tell. */
  pending: number | null;
  last_seq: number | string;
  /** The revisions written in this batch. */
  docs: (ExistingDoc<Doc> & { _deleted?: true })[];
}

/** The `change` event of a sync. */
export interface SyncChange<Doc> {
  direction: 'push' | 'pull';
  change: ReplicationChange<Doc>;
}

/** A replication error: a Settee error; `result` holds what was done before it. */
export type ReplicationError = SetteeError & { result?: unknown };

/** The events of a replication handle, by name. */
export interface ReplicationEvents<C, R> {
  change: (info: C) => void;
  /** Caught up (live), or waiting to retry after `err`. */
  paused: (err?: ReplicationError) => void;
  active: () => void;
  denied: (err: ReplicationDocError & { direction?: 'push' | 'pull' }) => void;
  complete: (result: R) => void;
  error: (err: ReplicationError) => void;
  /**
   * A replicated write left a doc of a local target with a new conflicting leaf. Heard
   * through the target's `'conflict'` events that are `replicated`: while two replications
   * write into one database, each hears the other's too.
   */
  conflict: (event: ConflictEvent) => void;
}

/** @internal A local database whose conflict events a replication forwards. */
export interface ConflictSource {
  on(event: 'conflict', listener: (event: ConflictEvent) => void): unknown;
  off(event: 'conflict', listener: (event: ConflictEvent) => void): unknown;
}

/**
 * @internal How a live replication is shared by the tabs of an origin: `key` names it (the
 * same source, target and options give the same key), `idle` is the result a tab that never
 * ran it resolves to when cancelled.
 */
export interface Shared<R> {
  key: string;
  idle: () => R;
}

/** What the running tab tells the others. */
type Mirrored = { event: string; payload: unknown } | { error: unknown };

type Start = (emit: (name: string, payload: unknown) => void) => Promise<WasmReplication>;

/**
 * A running replication. Listen with `on(event, listener)`; `await` it for the result;
 * `cancel()` stops it (the result then has `status: 'cancelled'`).
 *
 * A live replication runs in one tab of the origin at a time (`shared`, see `TabLeader`):
 * in the other tabs the same call returns a `Replication` whose events are the running
 * tab's, and one of them takes over from the checkpoint when that tab closes.
 */
export class Replication<C, R> implements PromiseLike<R> {
  #listeners: { [K in keyof ReplicationEvents<C, R>]?: ReplicationEvents<C, R>[K][] } = {};
  #wasm: WasmReplication | undefined;
  #cancelled = false;
  #result: Promise<R>;
  #tab: TabLeader | undefined;
  /** The last `active` or `paused` event (with its payload), for tabs that join later. */
  #state: { event: string; payload: unknown } | undefined;
  /** In a tab that shares the replication: ends the result when this tab is not running it. */
  #settle: { ok: (r: R) => void; fail: (e: unknown) => void; idle: () => R } | undefined;

  /**
   * @internal `start` gets the emit callback and resolves to the wasm replication; `targets`
   * are the local databases it writes into, whose replicated conflicts it reports.
   */
  constructor(start: Start, targets: ConflictSource[] = [], shared?: Shared<R>) {
    if (shared) {
      let settle!: { ok: (r: R) => void; fail: (e: unknown) => void; idle: () => R };
      this.#result = new Promise<R>((ok, fail) => (settle = { ok, fail, idle: shared.idle }));
      this.#settle = settle;
      this.#tab = TabLeader.create(
        `settee:replication:${shared.key}`,
        (tab) => {
          if (this.#cancelled) return Promise.resolve();
          const run = this.#run(start, targets, (name, payload) => tab.post({ event: name, payload }));
          run.then(settle.ok, (err: unknown) => {
            tab.post({ error: err });
            settle.fail(err);
          });
          return run.catch(() => {});
        },
        (message) => this.#hear(message as Mirrored),
        // A tab that joins late hears where the replication stands: its last state event.
        (tab) => {
          if (this.#state) tab.post(this.#state);
        },
      );
      if (this.#tab) {
        this.#result.catch(() => {});
        return;
      }
    }
    this.#result = this.#run(start, targets);
    // Listeners may be the only consumer: an unawaited failure must not be an unhandled rejection.
    this.#result.catch(() => {});
  }

  /** Runs the replication in this tab; `mirror` also gets each event but the last. */
  #run(start: Start, targets: ConflictSource[], mirror?: (name: string, payload: unknown) => void): Promise<R> {
    const emit = (name: string, payload: unknown) => {
      if (name === 'active' || name === 'paused') this.#state = { event: name, payload };
      this.#emit(name as keyof ReplicationEvents<C, R>, payload);
      mirror?.(name, payload);
    };
    // Listen before starting, so the first batch's conflicts are heard.
    const onConflict = (event: ConflictEvent) => {
      if (event.replicated) emit('conflict', event);
    };
    for (const db of targets) db.on('conflict', onConflict);
    // The events of the last batch reach the listeners a tick after its write: stop later.
    const unwatch = () =>
      setTimeout(() => {
        for (const db of targets) db.off('conflict', onConflict);
      }, 0);
    return start(emit)
      .then((wasm) => {
        this.#wasm = wasm;
        if (this.#cancelled) wasm.cancel();
        return wasm.result() as Promise<R>;
      })
      .then(
        (result) => {
          unwatch();
          this.#emit('complete', result);
          return result;
        },
        (err: unknown) => {
          unwatch();
          this.#emit('error', err);
          throw err;
        },
      );
  }

  /** A follower hears the running tab: its events are ours; its fatal error ends us too. */
  #hear(message: Mirrored): void {
    if (this.#cancelled) return;
    if ('error' in message) {
      this.#cancelled = true;
      void this.#tab?.stop();
      this.#emit('error', message.error);
      this.#settle?.fail(message.error);
    } else {
      this.#emit(message.event as keyof ReplicationEvents<C, R>, message.payload);
    }
  }

  /**
   * Whether this tab runs the replication: `false` while another tab of the origin runs it
   * and this one mirrors its events (a live replication with `coordinate` on, the default).
   */
  get running(): boolean {
    return this.#tab ? this.#tab.leading : !this.#cancelled;
  }

  /** Adds a listener; returns the replication, so calls chain. */
  on<E extends keyof ReplicationEvents<C, R>>(event: E, listener: ReplicationEvents<C, R>[E]): this {
    ((this.#listeners[event] ??= []) as ReplicationEvents<C, R>[E][]).push(listener);
    return this;
  }

  /** Stops the replication after its current batch. */
  cancel(): void {
    if (this.#cancelled) return;
    this.#cancelled = true;
    this.#wasm?.cancel();
    if (this.#tab && !this.#tab.leading && this.#settle) {
      // Never ran here (or not now): nothing to wait for.
      const result = this.#settle.idle();
      this.#emit('complete', result);
      this.#settle.ok(result);
    }
    void this.#tab?.stop();
  }

  then<T1 = R, T2 = never>(
    onfulfilled?: ((value: R) => T1 | PromiseLike<T1>) | null,
    onrejected?: ((reason: ReplicationError) => T2 | PromiseLike<T2>) | null,
  ): Promise<T1 | T2> {
    return this.#result.then(onfulfilled, onrejected);
  }

  /** Like a promise's `catch` (PouchDB's replication has it too). */
  catch<T = never>(onrejected?: ((reason: ReplicationError) => T | PromiseLike<T>) | null): Promise<R | T> {
    return this.#result.catch(onrejected);
  }

  #emit(event: keyof ReplicationEvents<C, R>, payload: unknown): void {
    for (const listener of this.#listeners[event] ?? []) {
      try {
        (listener as (arg: unknown) => void)(payload);
      } catch (err) {
        globalThis.reportError?.(err);
      }
    }
  }
}
