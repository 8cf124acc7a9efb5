/**
 * The types of views (`query`) and Mango queries (`find`, `createIndex`, …). No runtime code.
 * @module
 */
import type { ExistingDoc } from './types.js';

/** A JSON value as a view key or value. */
export type JsonValue = null | boolean | number | string | JsonValue[] | { [key: string]: JsonValue };

/** `emit(key, value)`: adds a row to the view for the doc being mapped. */
export type Emit = (key: unknown, value?: unknown) => void;

/**
 * A map function: `(doc, emit) => …`, or `function (doc) { emit(…) }` (a global `emit` is set
 * while it runs). Throwing skips that doc only.
 */
export type MapFunction<Doc> = (doc: ExistingDoc<Doc>, emit: Emit) => void;

/** A custom reduce, CouchDB style: `keys` is `[[key, docId], …]`, or `null` on rereduce. */
export type ReduceFunction = (keys: [unknown, string][] | null, values: unknown[], rereduce: boolean) => unknown;

/** A reduce: a built-in or a function (or its source text). */
export type Reducer = '_sum' | '_count' | '_stats' | ReduceFunction | string;

/** A view given in code: what a design doc's `views.<name>` holds, as functions or source. */
export interface ViewFunctions<Doc> {
  map: MapFunction<Doc> | string;
  reduce?: Reducer;
}

/** Options of `query`. Keys collate as in CouchDB (null < false < true < numbers < strings < arrays < objects). */
export interface QueryOptions {
  /**
   * Hears each exception a map or reduce function throws. A doc whose map throws is skipped
   * either way; with `onError` a reduce that throws gives `null` (PouchDB's way) instead of
   * failing the query (CouchDB's).
   */
  onError?: (err: unknown) => void;
  key?: unknown;
  keys?: unknown[];
  startkey?: unknown;
  endkey?: unknown;
  startkey_docid?: string;
  endkey_docid?: string;
  /** Whether rows with `endkey` are in the range (default true). */
  inclusive_end?: boolean;
  descending?: boolean;
  skip?: number;
  limit?: number;
  /** Add each row's doc (or the doc whose `_id` the value names). Not with a reduce. */
  include_docs?: boolean;
  /** With `include_docs`: add `_conflicts`. */
  conflicts?: boolean;
  /**
   * `false` returns map rows of a view that has a reduce (default: reduce when it has one).
   * For a temporary view given as a map function, a reduce to run (`'_stats'`, a function…).
   */
  reduce?: boolean | Reducer;
  /** Group the reduce by exact key. */
  group?: boolean;
  /** Group the reduce by the first N elements of array keys. */
  group_level?: number;
  /** Add the seq the index is at. */
  update_seq?: boolean;
  /** `'ok'`: answer from the index as it is; `'update_after'`: then update it. */
  stale?: 'ok' | 'update_after';
}

/** One map row. */
export interface ViewRow<Doc> {
  id: string;
  key: unknown;
  value: unknown;
  /** With `include_docs`; `null` for a missing or deleted doc. */
  doc?: (ExistingDoc<Doc> & { _conflicts?: string[] }) | null;
}

/** What `query` resolves to for a map (or `reduce: false`). */
export interface QueryResponse<Doc> {
  total_rows: number;
  offset: number;
  rows: ViewRow<Doc>[];
  update_seq?: number;
}

/** What `query` resolves to for a reduce: one row per group (`key: null` without grouping). */
export interface ReduceResponse {
  rows: { key: unknown; value: unknown }[];
  update_seq?: number;
}

/** A Mango selector, e.g. `{type: 'message', topic: {$in: ['a', 'b']}}`. */
export type Selector = Record<string, unknown>;

/** A sort: field names, each ascending or `{field: 'asc' | 'desc'}` (one direction for all). */
export type SortSpec = (string | Record<string, 'asc' | 'desc'>)[];

/** Options of `createIndex`. */
export interface CreateIndexOptions {
  index: {
    fields: (string | Record<string, 'asc' | 'desc'>)[];
    /** Default: `idx-<hash of the fields>`. */
    name?: string;
    /** The design doc to store it in (default `_design/<name>`). */
    ddoc?: string;
    type?: 'json';
  };
}

export interface CreateIndexResponse {
  result: 'created' | 'exists';
  id: string;
  name: string;
}

/** An index as `getIndexes` lists it. */
export interface IndexInfo {
  ddoc: string | null;
  name: string;
  type: 'json' | 'special';
  def: { fields: Record<string, 'asc' | 'desc'>[] };
}

export interface GetIndexesResponse {
  total_rows: number;
  indexes: IndexInfo[];
}

/** Options of `find` and `explain`. */
export interface FindRequest {
  selector: Selector;
  /** Return only these fields (dotted paths); `_id`/`_rev` only when listed. */
  fields?: string[];
  sort?: SortSpec;
  /** At most this many docs; 25 when not given (CouchDB's default). */
  limit?: number;
  skip?: number;
  /** `'ddoc'`, `'ddoc/name'` or `[ddoc, name]`. */
  use_index?: string | [string, string];
  conflicts?: boolean;
}

/** What `find` resolves to. `warning` says when no index could be used. */
export interface FindResponse<Doc> {
  docs: (Partial<ExistingDoc<Doc>> & Record<string, unknown>)[];
  warning?: string;
}

/** What `explain` resolves to: the index `find` would read, and its range. */
export interface ExplainResponse {
  dbname: string;
  index: IndexInfo;
  selector: Selector;
  opts: Record<string, unknown>;
  skip: number;
  limit: number | null;
  fields: string[] | 'all_fields';
  descending: boolean;
  range: {
    eq_prefix: unknown[];
    lower: { value: unknown; inclusive: boolean } | null;
    upper: { value: unknown; inclusive: boolean } | null;
  };
  warning?: string;
}
