/**
 * The types of Settee's public API: options, documents, results and errors. No runtime code.
 * @module
 */

/** Options of `new Settee(name, options)`. */
export interface SetteeOptions {
  /**
   * Where the database lives. In a browser `'idb'` (default) stores in IndexedDB. In Node.js
   * `'fs'` (default; `'leveldb'` is accepted as PouchDB's name for it) stores in the directory
   * `prefix + name`. `'memory'` keeps everything in this page or process only.
   */
  adapter?: 'idb' | 'fs' | 'leveldb' | 'memory';
  /** Node.js: prepended to the name to form the directory, e.g. `'/var/lib/app/'` (PouchDB's option). */
  prefix?: string;
  /** How many ancestor revisions each document remembers (default 1000). */
  revs_limit?: number;
  /**
   * Remote databases (the name is an http(s) URL): credentials, sent as basic auth, or with
   * `session: true` used once for a cookie session (`POST /_session`), logging in again when
   * the session expires.
   */
  auth?: { username: string; password: string; session?: boolean };
  /** Remote databases: headers sent with every request, e.g. `{Authorization: 'Bearer …'}`. */
  headers?: Record<string, string>;
  /** Remote databases: don't create the database when it is missing. */
  skip_setup?: boolean;
  /**
   * Local databases: JSON Schemas by document type, checked before every write (`put`,
   * `post`, `bulkDocs`, replication). A failing document is a 403 `forbidden` naming the JSON
   * Pointer and the rule. See the README's "Validation".
   */
  schema?: import('./schema-types.js').SchemaSpec;
  /** The user `validate_doc_update` functions see (default `{name: null, roles: ['_admin']}`). */
  userCtx?: { name: string | null; roles: string[] };
  /** The security object `validate_doc_update` functions see as `secObj`. */
  secObj?: {
    admins?: { names?: string[]; roles?: string[] };
    members?: { names?: string[]; roles?: string[] };
  };
  /** Also run `validate_doc_update` of design docs that arrived by replication (default false). */
  trustDesignDocs?: boolean;
}

/**
 * What every Settee promise rejects with: a real `Error` carrying PouchDB's fields, e.g.
 * `{status: 409, name: 'conflict'}`, `{status: 404, name: 'not_found', reason: 'deleted'}`,
 * `{status: 400, name: 'bad_request' | 'invalid_rev' | 'doc_validation'}`, `{status: 412, name: 'missing_id'}`,
 * `{status: 500, name: 'corruption'}` (stored bytes are damaged; the message names what),
 * `{status: 507, name: 'quota_exceeded'}` (the site's storage quota, or the disk, is full; nothing was written),
 * `{status: 423, name: 'locked'}` (Node.js: another process has the database directory open),
 * `{status: 0, name: 'network_error'}` (a remote request got no answer in time).
 */
export interface SetteeError extends Error {
  status: number;
  name: string;
  message: string;
  reason?: string;
  error: true;
  /** The document id, when the error belongs to one document of a batch. */
  id?: string;
}

/** The answer to a successful write. */
export interface PutResponse {
  ok: true;
  id: string;
  rev: string;
}

/** A per-document failure inside a `bulkDocs` answer (the other documents still succeed). */
export interface BulkDocsError {
  error: true;
  status: number;
  name: string;
  message: string;
  reason?: string;
  id?: string;
}

/** The fields Settee keeps next to yours. */
export interface DocMeta {
  _id: string;
  _rev: string;
}

/** A stored document as `get`/`allDocs`/`changes` return it. */
export type ExistingDoc<Doc> = Doc & DocMeta;

/** A tombstone: what `put` accepts to delete a document. */
export interface DeletedDoc {
  _id: string;
  _rev: string;
  _deleted: true;
}

/**
 * A stored attachment as `get` and `allDocs` return it by default: its metadata, no data.
 * `digest` is `md5-<base64>`, as in CouchDB; `revpos` is the generation that last changed it.
 */
export interface AttachmentStub {
  content_type: string;
  digest: string;
  length: number;
  revpos: number;
  stub: true;
}

/** A stored attachment with its data: base64 with `{attachments: true}`, a `Blob` with `binary: true` too. */
export interface AttachmentWithData<Data extends string | Blob = string> {
  content_type: string;
  digest: string;
  revpos: number;
  data: Data;
}

/**
 * An `_attachments` entry `put`/`bulkDocs` accept: new data as base64, or a stub that keeps the
 * parent revision's attachment of that name (matched by `digest` too when given).
 */
export type PutAttachmentEntry =
  | { content_type?: string; data: string }
  | { stub: true; digest?: string; content_type?: string; length?: number; revpos?: number };

/** What `putAttachment` takes as data. A `Blob` is read with `arrayBuffer()`. */
export type AttachmentInput = Blob | Uint8Array | ArrayBuffer | string;

/** What `put` accepts: your fields plus an `_id` (and the current `_rev` to update). */
export type PutDoc<Doc> =
  | (Doc & { _id: string; _rev?: string; _deleted?: boolean; _attachments?: Record<string, PutAttachmentEntry> })
  | DeletedDoc;

/** What `post` accepts: your fields; Settee picks the `_id`. */
export type PostDoc<Doc> = Doc & { _id?: never; _rev?: never };

/** A `_local/` document: never replicated, no history, any fields. */
export type LocalDoc = { _id: `_local/${string}`; _rev?: string } & Record<string, unknown>;

/** The history of one revision (`get(id, {revs: true})`). */
export interface Revisions {
  start: number;
  ids: string[];
}

/** One entry of `_revs_info` (`get(id, {revs_info: true})`). */
export interface RevInfo {
  rev: string;
  status: 'available' | 'missing' | 'deleted';
}

/** Options of `get`. */
export interface GetOptions {
  /** Fetch this revision instead of the winner. */
  rev?: string;
  /** Include `_revisions`. */
  revs?: boolean;
  /** Include `_revs_info`. */
  revs_info?: boolean;
  /** Include `_conflicts` (the losing leaf revisions), when there are any. */
  conflicts?: boolean;
  /** Include `_deleted_conflicts`, when there are any. */
  deleted_conflicts?: boolean;
  /** With `rev`: return the latest leaf descending from it. */
  latest?: boolean;
  /** Return each attachment's data (base64) instead of a stub. */
  attachments?: boolean;
  /** With `attachments`: the data as `Blob`s instead of base64. */
  binary?: boolean;
}

/** Options of `getAttachment`. */
export interface GetAttachmentOptions {
  /** Read the attachment of this revision instead of the winner's. */
  rev?: string;
}

/** Options of `get` that ask for several leaves at once. */
export interface OpenRevsOptions extends Omit<GetOptions, 'rev' | 'conflicts' | 'deleted_conflicts'> {
  /** `'all'` leaves, or these revisions. */
  open_revs: 'all' | string[];
}

/** What `get(id, options)` resolves to; the meta fields follow the options asked for. */
export type GetResult<Doc, O extends GetOptions = {}> = ExistingDoc<Doc> &
  (O extends { revs: true } ? { _revisions: Revisions } : {}) &
  (O extends { revs_info: true } ? { _revs_info: RevInfo[] } : {}) &
  (O extends { conflicts: true } ? { _conflicts?: string[] } : {}) &
  (O extends { deleted_conflicts: true } ? { _deleted_conflicts?: string[] } : {}) & {
    _attachments?: Record<
      string,
      O extends { attachments: true; binary: true }
        ? AttachmentWithData<Blob>
        : O extends { attachments: true }
          ? AttachmentWithData
          : AttachmentStub
    >;
  };

/** One element of a `get(id, {open_revs})` answer. */
export type OpenRevsResult<Doc> =
  | { ok: ExistingDoc<Doc> & { _deleted?: true; _revisions?: Revisions } }
  | { missing: string };

/** Options of `put`, `post`, `remove`. */
export interface PutOptions {
  /** `false` stores the given `_rev` as is (replication); default `true`. */
  new_edits?: boolean;
  /**
   * `put` only: write on top of `_rev` even when it is no longer the latest revision, which
   * starts a conflicting branch instead of failing with 409 (PouchDB's option).
   */
  force?: boolean;
}

/** Options of `bulkDocs`. */
export interface BulkDocsOptions {
  /** `false` stores revisions as given, including conflicting ones (replication). */
  new_edits?: boolean;
}

/** Options of `bulkGet`. */
export interface BulkGetOptions {
  docs: { id: string; rev?: string }[];
  revs?: boolean;
  latest?: boolean;
  /** Each attachment with its data (base64) instead of a stub. */
  attachments?: boolean;
}

/** What `bulkGet` resolves to. */
export interface BulkGetResponse<Doc> {
  results: {
    id: string;
    docs: (
      | { ok: ExistingDoc<Doc> & { _deleted?: true; _revisions?: Revisions } }
      | { error: { id: string; rev: string; error: string; reason: string } }
    )[];
  }[];
}

/** What `revsDiff` resolves to: for each id, the revisions this database lacks. */
export type RevsDiffResponse = Record<string, { missing: string[]; possible_ancestors?: string[] }>;

/** Options of `allDocs`. Keys are document ids; ranges follow CouchDB collation of strings. */
export interface AllDocsOptions {
  include_docs?: boolean;
  /** With `include_docs`: add `_conflicts` to each doc. */
  conflicts?: boolean;
  /** With `include_docs`: attachments with their data (base64) instead of stubs. */
  attachments?: boolean;
  /** With `attachments`: the data as `Blob`s instead of base64. */
  binary?: boolean;
  startkey?: string;
  endkey?: string;
  /** Whether `endkey` itself is in the range (default true). */
  inclusive_end?: boolean;
  key?: string;
  /** Exactly these ids, in this order; deleted and missing ids get rows too. */
  keys?: string[];
  descending?: boolean;
  skip?: number;
  limit?: number;
}

/** One `allDocs` row. `doc` is present with `include_docs` (null for a deleted id in `keys`). */
export interface AllDocsRow<Doc> {
  id: string;
  key: string;
  value: { rev: string; deleted?: true };
  doc?:
    | (ExistingDoc<Doc> & {
        _conflicts?: string[];
        _attachments?: Record<string, AttachmentStub | AttachmentWithData | AttachmentWithData<Blob>>;
      })
    | null;
}

/** The row for an id asked for in `keys` that was never in the database. */
export interface AllDocsMissingRow {
  key: string;
  error: 'not_found';
}

/** What `allDocs(options)` resolves to. */
export interface AllDocsResponse<Doc, O extends AllDocsOptions = {}> {
  total_rows: number;
  offset: number;
  rows: O extends { keys: string[] } ? (AllDocsRow<Doc> | AllDocsMissingRow)[] : AllDocsRow<Doc>[];
}

/** A changes-feed position: a number locally; a remote server's own (an opaque string from CouchDB 2+). */
export type Seq = number | string;

/** Options of `changes`. */
export interface ChangesOptions {
  /** Start after this seq; `'now'` starts at the current end. */
  since?: Seq | 'now';
  limit?: number;
  descending?: boolean;
  include_docs?: boolean;
  /** With `include_docs`: add `_conflicts` to each doc. */
  conflicts?: boolean;
  /** With `include_docs`: attachments with their data (base64) instead of stubs. */
  attachments?: boolean;
  /** `'all_docs'` lists every leaf revision in `changes`, not only the winner. */
  style?: 'main_only' | 'all_docs';
  /** Only changes of these ids. */
  doc_ids?: string[];
  /**
   * Only the changes whose doc passes: a function `(doc, req) => boolean` (`req.query` is
   * `query_params`), a design doc filter `'ddoc/name'`, `'_view'` (with `view`),
   * `'_selector'` (with `selector`) or `'_doc_ids'` (with `doc_ids`). `limit` counts passing rows.
   */
  filter?: string | ((doc: any, req: { query: any }) => unknown);
  /** A Mango selector the docs must match. */
  selector?: Record<string, unknown>;
  /** A view `'ddoc/name'`: only docs its map emits for (implies `filter: '_view'`). */
  view?: string;
  /** Passed to filter functions as `req.query`. */
  query_params?: Record<string, unknown>;
  /** `true` keeps listening: `changes()` then returns a {@link Changes} feed. */
  live?: boolean;
}

/** One change: the latest state of one document, at `seq`. */
export interface ChangeRow<Doc> {
  id: string;
  seq: Seq;
  changes: { rev: string }[];
  deleted?: true;
  doc?: ExistingDoc<Doc> & { _deleted?: true; _conflicts?: string[] };
}

/** What a one-shot `changes()` resolves to. */
export interface ChangesResponse<Doc> {
  results: ChangeRow<Doc>[];
  last_seq: Seq;
}

/** What `info()` resolves to. */
export interface DatabaseInfo {
  db_name: string;
  doc_count: number;
  /** A number locally; a remote CouchDB 2+ answers an opaque string. */
  update_seq: Seq;
  adapter: string;
}

/**
 * What `verify()` resolves to: the counts of a storage that passed every check. A problem
 * rejects instead, with a `corruption` error (status 500) naming it.
 */
export interface VerifyReport {
  ok: true;
  /** Doc records, deleted docs included. */
  docs: number;
  /** Docs whose winning revision is not deleted: `info().doc_count`. */
  doc_count: number;
  /** Entries of the changes index: one per doc record. */
  seqs: number;
  update_seq: number;
  /** Stored bodies of revisions other than the winners. */
  bodies: number;
  local_docs: number;
  /** Views and Mango indexes with a stored index. */
  views: number;
  /** Entries of the conflict index: docs with `_conflicts` (checked once the index is built). */
  conflicts: number;
  /** Sorted runs and chunk records of the storage engine (0 for `adapter: 'memory'`). */
  runs: number;
  chunks: number;
  /** Entries stored, overwritten ones and deletion markers included, until merged away. */
  entries: number;
  tombstones: number;
  bytes: number;
}

/** Options of `conflicts()`: a page of the conflict index, by doc id. */
export interface ConflictsOptions {
  include_docs?: boolean;
  /** The first doc id to list (inclusive). */
  startkey?: string;
  /** The last doc id to list (inclusive). */
  endkey?: string;
  limit?: number;
  skip?: number;
}

/** One doc with conflicts: its winning rev and its non-deleted losing revs. */
export interface ConflictRow<Doc> {
  id: string;
  rev: string;
  /** The losing revs that are not deleted (the doc's `_conflicts`), best first. */
  conflicts: string[];
  /** With `include_docs`: the winning revision with its `_conflicts`. */
  doc?: ExistingDoc<Doc> & { _conflicts: string[] };
}

export interface ConflictsResponse<Doc> {
  rows: ConflictRow<Doc>[];
}

/** A `'conflict'` event: a write left doc `id` with a new conflicting leaf. */
export interface ConflictEvent {
  id: string;
  /** The winning rev after the write. */
  rev: string;
  /** The non-deleted losing revs after the write. */
  conflicts: string[];
  /** Written by a replication into this database. */
  replicated: boolean;
}

/**
 * `resolveConflict`'s merge: given the winner (without `_conflicts`) and the losing
 * revisions, returns (or resolves to) the body to keep. Its `_id` and `_rev` are ignored.
 */
export type MergeFunction<Doc> = (
  winner: ExistingDoc<Doc>,
  losers: ExistingDoc<Doc>[],
) => Doc | Partial<ExistingDoc<Doc>> | PromiseLike<Doc | Partial<ExistingDoc<Doc>>>;

export type * from './query-types.js';

/** One side of a `_replicator` doc: a local database name, a URL, or a URL with headers/auth. */
export type ReplicatorEndpoint =
  | string
  | {
      url: string;
      headers?: Record<string, string>;
      auth?: { basic: { username: string; password: string } };
    };

/**
 * A document of the local `_replicator` database: one replication, CouchDB 3's fields. The
 * replicator writes only terminal states back (`_replication_*`).
 */
export interface ReplicatorDoc {
  _id?: string;
  _rev?: string;
  source: ReplicatorEndpoint;
  target: ReplicatorEndpoint;
  continuous?: boolean;
  create_target?: boolean;
  doc_ids?: string[];
  selector?: Record<string, unknown>;
  /** A design doc filter of a remote source, `'ddoc/name'`, or `'_view'` (with `query_params.view`). */
  filter?: string;
  query_params?: Record<string, unknown>;
  since_seq?: number | string;
  _replication_state?: 'completed' | 'failed';
  _replication_state_reason?: string;
  _replication_state_time?: string;
  _replication_id?: string;
  _replication_stats?: {
    docs_read: number;
    docs_written: number;
    doc_write_failures: number;
    checkpointed_source_seq: number | string;
    start_time: string;
    end_time: string;
  };
}

/** `Settee.startReplicator` options. */
export interface ReplicatorOptions {
  /** The adapter of `_replicator` and of the local databases the docs name. */
  adapter?: SetteeOptions['adapter'];
  /** Node.js: where `_replicator` and the local databases live (`SetteeOptions.prefix`). */
  prefix?: string;
  /**
   * Run the replicator in one tab (or worker) of the origin at a time, the others showing its
   * jobs in `activeTasks()` and taking over when it closes (default `true`).
   */
  coordinate?: boolean;
}

/** The page's replication scheduler (`Settee.configureScheduler`). */
export interface SchedulerOptions {
  /** Requests in flight to one server at once, 1–64 (default 4: below browsers' 6 per host). */
  max_connections?: number;
  /**
   * With more live replications waiting on one server than `max_connections` − 1, each polls
   * in turn, this many ms apart (default 2000; 50–3,600,000).
   */
  poll_interval?: number;
  /** While replications poll a server, follow its `_db_updates` where it allows (default true). */
  db_updates?: boolean;
}

/** The settings in force. */
export type SchedulerSettings = Required<SchedulerOptions>;

/** One server as the scheduler sees it (`Settee.schedulerStats()`). */
export interface SchedulerStats {
  /** The server root URL. */
  server: string;
  /** Requests in flight now, and the most at once since the last `reset`. */
  in_flight: number;
  peak: number;
  /** Requests waiting for a connection. */
  queued: number;
  /** Live replications waiting for the server's next change, and of those, how many poll. */
  waiting: number;
  polling: number;
}

/** A `_replicator` job as `Settee.activeTasks()` shows it (CouchDB's `_scheduler/docs` rows). */
export interface ActiveTask {
  doc_id: string;
  database: '_replicator';
  /** The job id: the md5 of the doc's definition. */
  id: string;
  state: 'initializing' | 'running' | 'pending' | 'completed' | 'failed' | 'crashing';
  /** Without credentials; null when the doc has none. */
  source: string | null;
  target: string | null;
  start_time: string;
  last_updated: string;
  info: {
    docs_read: number;
    docs_written: number;
    doc_write_failures: number;
    changes_pending?: number;
    /** The last error (`crashing`: retrying after it; `failed`: the reason). */
    error?: string;
  };
}
