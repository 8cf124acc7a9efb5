/**
 * The replicator: runs the replications that the local database `_replicator` describes, one
 * per document, with CouchDB 3's semantics. Each job is an ordinary `Settee.replicate` (with
 * `retry`); reading a doc as a job (validation, its definition id) is Rust's
 * (`parseReplicatorDoc`, `src/replicate/replicator_doc.rs`). This file only schedules.
 *
 * Rules that are not obvious:
 * - Docs are handled one at a time, in `_replicator`'s changes order (a queue), so a doc
 *   edited twice quickly never runs two jobs.
 * - A doc whose definition id equals its running (or finished) job's is left alone: the
 *   manager's own state writes come back through the changes feed and must not restart it.
 * - Only terminal states are written into the doc (`completed`, `failed`), with
 *   `_replication_id` naming the definition they are for. Everything live is in memory,
 *   read with `activeTasks()`.
 * - A state write goes on the doc's current rev; on a 409 it re-reads and retries, and gives
 *   up if the definition changed meanwhile (that edit has its own job).
 * @module
 */
import { type Broadcast, TabLeader } from './tab-leader.js';
import type { ActiveTask, ReplicatorOptions } from './types.js';

/** A `_replicator` doc as `parseReplicatorDoc` reads it. */
interface Parsed {
  kind: 'ignore' | 'terminal' | 'run' | 'invalid';
  id?: string;
  state?: 'completed' | 'failed';
  reason?: string;
  source?: JobEndpoint;
  target?: JobEndpoint;
  continuous?: boolean;
  options?: Record<string, unknown>;
  source_label?: string | null;
  target_label?: string | null;
}

interface JobEndpoint {
  name: string;
  headers?: Record<string, string>;
  remote: boolean;
}

/** The few things of a `Settee` the manager uses. */
export interface ReplicatorDb {
  get(id: string): Promise<Record<string, unknown> & { _id: string; _rev: string }>;
  put(doc: Record<string, unknown>): Promise<unknown>;
  changes(options: { live: true; since: 0; include_docs: true }): ReplicatorFeed;
}

interface Closable {
  close?(): Promise<void>;
}

interface ReplicatorFeed {
  on(event: 'change', listener: (row: { id: string; deleted?: true; doc?: unknown }) => void): unknown;
  on(event: 'error', listener: (err: unknown) => void): unknown;
  cancel(): void;
}

interface RunningReplication {
  on(event: 'change', listener: (info: Counts & { pending?: number | null; last_seq?: unknown }) => void): unknown;
  on(event: 'active', listener: () => void): unknown;
  on(event: 'paused', listener: (err?: { message?: string }) => void): unknown;
  cancel(): void;
  then<T>(ok: (r: Counts & { status: string; last_seq: unknown; start_time: string; end_time: string }) => T, fail: (e: unknown) => T): Promise<T>;
}

interface Counts {
  docs_read: number;
  docs_written: number;
  doc_write_failures: number;
}

/** What the manager needs from `index.ts`: opening databases, replicating, parsing docs. */
export interface ReplicatorDeps {
  openDb(name: string, options: Record<string, unknown>): unknown;
  replicatorDb(options: Record<string, unknown>): ReplicatorDb;
  replicate(source: unknown, target: unknown, options: Record<string, unknown>): RunningReplication;
  parse(doc: unknown): Parsed;
  /** Called by `stop()`, so that a new `startReplicator` starts afresh. */
  onStop?(replicator: Replicator): void;
}

interface Job {
  docId: string;
  id: string;
  task: ActiveTask;
  rep?: RunningReplication;
  done?: Promise<unknown>;
}

const now = () => new Date().toISOString();

/** A running replicator; `Settee.startReplicator` makes at most one per page or worker. */
export class Replicator {
  #deps: ReplicatorDeps;
  #options: ReplicatorOptions;
  #db: ReplicatorDb | undefined;
  #jobs = new Map<string, Job>();
  #queue: Promise<void> = Promise.resolve();
  #feed: ReplicatorFeed | undefined;
  #stopped = false;
  #dbs = new Map<string, unknown>();
  /** Shares the replicator between the tabs of the origin (one runs it), where possible. */
  #tab: TabLeader | undefined;
  /** In a tab that does not run it: the running tab's jobs, as it last reported them. */
  #mirrored: ActiveTask[] = [];
  #reporter: ReturnType<typeof setInterval> | undefined;
  #released: () => void = () => {};

  /** @internal Use `Settee.startReplicator`. */
  constructor(deps: ReplicatorDeps, options: ReplicatorOptions = {}) {
    this.#deps = deps;
    this.#options = { ...options };
    if (options.coordinate !== false && options.adapter !== 'memory') {
      const { adapter, prefix } = this.#options;
      this.#tab = TabLeader.create(
        `settee:replicator:${adapter ?? ''}:${prefix ?? ''}`,
        (tab) => {
          if (this.#stopped) return Promise.resolve();
          this.#lead(tab);
          return new Promise<void>((ok) => (this.#released = ok));
        },
        (message) => {
          const tasks = (message as { tasks?: ActiveTask[] }).tasks;
          if (Array.isArray(tasks)) this.#mirrored = tasks;
        },
      );
    }
    if (!this.#tab) this.#lead(undefined);
  }

  /** Whether this tab runs the jobs (false while another tab of the origin does). */
  get running(): boolean {
    return this.#db !== undefined && !this.#stopped;
  }

  /** Starts following `_replicator` in this tab; `tab` hears the jobs' state once a second. */
  #lead(tab: Broadcast | undefined): void {
    this.#db = this.#deps.replicatorDb(this.#local());
    this.#feed = this.#db.changes({ live: true, since: 0, include_docs: true });
    this.#feed.on('change', (row) => {
      this.#queue = this.#queue.then(() => this.#handle(row)).catch((err: unknown) => globalThis.reportError?.(err));
    });
    this.#feed.on('error', (err) => globalThis.reportError?.(err));
    if (tab) {
      let last = '';
      this.#reporter = setInterval(() => {
        const tasks = this.activeTasks();
        const text = JSON.stringify(tasks);
        if (text !== last) tab.post({ tasks });
        last = text;
      }, 500);
    }
  }

  /** The jobs, shaped like CouchDB's `_scheduler/docs` rows (another tab's, if it runs them). */
  activeTasks(): ActiveTask[] {
    if (!this.#db) return this.#mirrored.map((t) => ({ ...t, info: { ...t.info } }));
    return [...this.#jobs.values()].map((j) => ({ ...j.task, info: { ...j.task.info } }));
  }

  /**
   * Stops following `_replicator` and cancels every job; resolves once they have stopped.
   * In the tab that runs the jobs, another tab that started the replicator takes over.
   */
  async stop(): Promise<void> {
    if (this.#stopped) return;
    this.#stopped = true;
    this.#deps.onStop?.(this);
    clearInterval(this.#reporter);
    this.#feed?.cancel();
    await this.#queue;
    const jobs = [...this.#jobs.values()];
    for (const job of jobs) job.rep?.cancel();
    await Promise.all(jobs.map((j) => j.done));
    this.#jobs.clear();
    // Our own handles only: other `Settee`s on the same databases stay open.
    for (const db of [this.#db, ...this.#dbs.values()]) await (db as Closable | undefined)?.close?.().catch(() => {});
    this.#dbs.clear();
    this.#released();
    await this.#tab?.stop();
  }

  #local(): Record<string, unknown> {
    const { adapter, prefix } = this.#options;
    return { ...(adapter && { adapter }), ...(prefix !== undefined && { prefix }) };
  }

  async #handle(row: { id: string; deleted?: true; doc?: unknown }): Promise<void> {
    if (this.#stopped || row.id.startsWith('_design/')) return;
    const old = this.#jobs.get(row.id);
    if (row.deleted) {
      if (old) await this.#cancel(old);
      return;
    }
    const parsed = this.#deps.parse(row.doc);
    if (parsed.kind === 'ignore' || parsed.id === undefined) return;
    // Unchanged definition (e.g. our own state write) — unless a finished job's doc lost its
    // state, which asks for a new run, as in CouchDB.
    if (old && old.id === parsed.id && !(isTerminal(old.task.state) && parsed.kind === 'run')) return;
    if (old) await this.#cancel(old);
    const doc = row.doc as Record<string, unknown>;
    const task: ActiveTask = {
      doc_id: row.id,
      database: '_replicator',
      id: parsed.id,
      state: 'initializing',
      source: parsed.source_label ?? null,
      target: parsed.target_label ?? null,
      start_time: now(),
      last_updated: now(),
      info: { docs_read: 0, docs_written: 0, doc_write_failures: 0 },
    };
    const job: Job = { docId: row.id, id: parsed.id, task };
    this.#jobs.set(row.id, job);
    if (parsed.kind === 'terminal') {
      const stats = (doc._replication_stats ?? {}) as Partial<Counts>;
      task.state = parsed.state!;
      task.info = {
        docs_read: stats.docs_read ?? 0,
        docs_written: stats.docs_written ?? 0,
        doc_write_failures: stats.doc_write_failures ?? 0,
      };
      if (typeof doc._replication_state_reason === 'string') task.info.error = doc._replication_state_reason;
    } else if (parsed.kind === 'invalid') {
      await this.#fail(job, parsed.reason ?? 'invalid replication document');
    } else {
      this.#run(job, parsed);
    }
  }

  #endpoint(e: JobEndpoint): unknown {
    const key = JSON.stringify([e.name, e.headers ?? {}]);
    let db = this.#dbs.get(key);
    if (db === undefined) {
      // A remote side is never created implicitly (`create_target` does that for a target),
      // so a missing source fails instead of replicating an empty new database.
      const options = e.remote ? { headers: e.headers ?? {}, skip_setup: true } : this.#local();
      db = this.#deps.openDb(e.name, options);
      this.#dbs.set(key, db);
    }
    return db;
  }

  #run(job: Job, parsed: Parsed): void {
    const { task } = job;
    let rep: RunningReplication;
    try {
      rep = this.#deps.replicate(this.#endpoint(parsed.source!), this.#endpoint(parsed.target!), parsed.options ?? {});
    } catch (err) {
      this.#fail(job, errorText(err));
      return;
    }
    job.rep = rep;
    task.state = 'running';
    const touch = () => (task.last_updated = now());
    rep.on('change', (info) => {
      task.state = 'running';
      task.info.docs_read = info.docs_read;
      task.info.docs_written = info.docs_written;
      task.info.doc_write_failures = info.doc_write_failures;
      if (typeof info.pending === 'number') task.info.changes_pending = info.pending;
      delete task.info.error;
      touch();
    });
    rep.on('active', () => {
      task.state = 'running';
      touch();
    });
    rep.on('paused', (err) => {
      // Paused with an error: waiting to retry (CouchDB's `crashing`); without: caught up.
      if (err) {
        task.state = 'crashing';
        task.info.error = errorText(err);
      } else if (task.state === 'crashing') {
        task.state = 'running';
        delete task.info.error;
      }
      touch();
    });
    job.done = rep.then(
      async (result) => {
        if (result.status === 'cancelled' || this.#jobs.get(job.docId) !== job) return;
        task.state = 'completed';
        task.info.docs_read = result.docs_read;
        task.info.docs_written = result.docs_written;
        task.info.doc_write_failures = result.doc_write_failures;
        touch();
        await this.#writeState(job, {
          _replication_state: 'completed',
          _replication_stats: {
            docs_read: result.docs_read,
            docs_written: result.docs_written,
            doc_write_failures: result.doc_write_failures,
            checkpointed_source_seq: result.last_seq,
            start_time: result.start_time,
            end_time: result.end_time,
          },
        });
      },
      async (err: unknown) => {
        if (this.#jobs.get(job.docId) !== job || this.#stopped) return;
        const partial = (err as { result?: Partial<Counts> })?.result;
        if (partial) {
          task.info.docs_read = partial.docs_read ?? task.info.docs_read;
          task.info.docs_written = partial.docs_written ?? task.info.docs_written;
        }
        await this.#fail(job, errorText(err));
      },
    );
  }

  async #fail(job: Job, reason: string): Promise<void> {
    job.task.state = 'failed';
    job.task.info.error = reason;
    job.task.last_updated = now();
    await this.#writeState(job, { _replication_state: 'failed', _replication_state_reason: reason });
  }

  async #cancel(job: Job): Promise<void> {
    this.#jobs.delete(job.docId);
    job.rep?.cancel();
    await job.done;
  }

  /** Writes a terminal state into the job's doc, on its current rev (retrying 409s). */
  async #writeState(job: Job, fields: Record<string, unknown>): Promise<void> {
    for (let attempt = 0; attempt < 5 && !this.#stopped; attempt++) {
      let doc: Record<string, unknown>;
      try {
        doc = await this.#db!.get(job.docId);
      } catch {
        return; // deleted meanwhile: nothing to record
      }
      // Edited meanwhile: the new definition is another job, with its own state.
      if (this.#deps.parse(doc).id !== job.id || this.#jobs.get(job.docId) !== job) return;
      for (const k of Object.keys(doc)) if (k.startsWith('_replication_')) delete doc[k];
      Object.assign(doc, fields, { _replication_id: job.id, _replication_state_time: now() });
      try {
        await this.#db!.put(doc);
        return;
      } catch (err) {
        if ((err as { status?: number })?.status !== 409) {
          globalThis.reportError?.(err);
          return;
        }
      }
    }
  }
}

function isTerminal(state: ActiveTask['state']): boolean {
  return state === 'completed' || state === 'failed';
}

/** An error as the reason CouchDB would give: `name: message`. */
function errorText(err: unknown): string {
  if (err && typeof err === 'object') {
    const e = err as { name?: string; message?: string; reason?: string };
    const message = e.message ?? e.reason ?? String(err);
    return e.name && e.name !== 'Error' ? `${e.name}: ${message}` : message;
  }
  return String(err);
}
