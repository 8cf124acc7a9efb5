/**
 * Replication handles: what `db.replicate.to/from`, `db.sync` and `Settee.replicate` return.
 * An event emitter that is also awaitable. The protocol runs in Rust (`src/replicate/`); this
 * file only fans the wasm `Replication`'s events out to listeners and fires `complete` or
 * `error` when its result settles.
 * @module
 */
import type { Replication as WasmReplication } from './settee_core.js';
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
 * A running replication. Listen with `on(event, listener)`; `await` it for the result;
 * `cancel()` stops it (the result then has `status: 'cancelled'`).
 */
export class Replication<C, R> implements PromiseLike<R> {
  #listeners: { [K in keyof ReplicationEvents<C, R>]?: ReplicationEvents<C, R>[K][] } = {};
  #wasm: WasmReplication | undefined;
  #cancelled = false;
  #result: Promise<R>;

  /**
   * @internal `start` gets the emit callback and resolves to the wasm replication; `targets`
   * are the local databases it writes into, whose replicated conflicts it reports.
   */
  constructor(
    start: (emit: (name: string, payload: unknown) => void) => Promise<WasmReplication>,
    targets: ConflictSource[] = [],
  ) {
    const emit = (name: string, payload: unknown) => this.#emit(name as keyof ReplicationEvents<C, R>, payload);
    // Listen before starting, so the first batch's conflicts are heard.
    const onConflict = (event: ConflictEvent) => {
      if (event.replicated) this.#emit('conflict', event);
    };
    for (const db of targets) db.on('conflict', onConflict);
    // The events of the last batch reach the listeners a tick after its write: stop later.
    const unwatch = () =>
      setTimeout(() => {
        for (const db of targets) db.off('conflict', onConflict);
      }, 0);
    this.#result = start(emit)
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
    // Listeners may be the only consumer: an unawaited failure must not be an unhandled rejection.
    this.#result.catch(() => {});
  }

  /** Adds a listener; returns the replication, so calls chain. */
  on<E extends keyof ReplicationEvents<C, R>>(event: E, listener: ReplicationEvents<C, R>[E]): this {
    ((this.#listeners[event] ??= []) as ReplicationEvents<C, R>[E][]).push(listener);
    return this;
  }

  /** Stops the replication after its current batch. */
  cancel(): void {
    this.#cancelled = true;
    this.#wasm?.cancel();
  }

  then<T1 = R, T2 = never>(
    onfulfilled?: ((value: R) => T1 | PromiseLike<T1>) | null,
    onrejected?: ((reason: ReplicationError) => T2 | PromiseLike<T2>) | null,
  ): Promise<T1 | T2> {
    return this.#result.then(onfulfilled, onrejected);
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
