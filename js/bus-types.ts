/**
 * Types of the message bus ({@link Bus}). `Msgs` maps each topic to the type of its `data`:
 *
 * ```ts
 * interface Msgs { Posting: { text: string }; Query: { q: string } }
 * const bus = new Bus<Msgs>(db, { node: 'tab-1' });
 * await bus.post({ topic: 'Posting', data: { text: 'hi' } });   // data checked against Msgs['Posting']
 * ```
 * @module
 */

/** Topic name → type of the message's `data` (an interface or a type literal). */
export type BusTopics = object;

/** A message of one topic, as stored: a document that is created once and never updated. */
export interface BusMessageOf<T extends string, D> {
  /** `<16-digit µs timestamp>-<node>`: ids sort by time across nodes (see `hlc.ts`). */
  _id: string;
  _rev?: string;
  type: 'message';
  topic: T;
  /** The node that posted it. */
  source: string;
  /** Only listeners of this destination get it; absent for a broadcast. */
  destination?: string;
  data: D;
  /** Wall-clock time of posting, ISO 8601 (informational; order comes from `_id`). */
  posted: string;
  /** The id of the message the same bus stored before this one (any topic): listeners use
   * it to deliver each source's messages in posting order. */
  prev?: string;
  /** On a reply ({@link Bus.serve}): the id of the request it answers. */
  inReplyTo?: string;
  /** On a reply whose handler threw: the error, PouchDB-shaped. */
  error?: { status: number; name: string; message: string };
}

/** A message of any of `Topics`' topics (or of the given ones): `msg.topic` narrows `msg.data`. */
export type BusMessage<Msgs extends BusTopics, T extends keyof Msgs & string = keyof Msgs & string> = {
  [K in T]: BusMessageOf<K, Msgs[K]>;
}[T];

export interface BusOptions {
  /** This participant's name, unique across the bus: `[A-Za-z0-9._~-]+`. It ends every id it posts. */
  node: string;
  /**
   * How long (ms) a message is held back before delivery, so that messages from other nodes
   * that arrive a little late still come before younger ones. Default 1000.
   */
  bufferDelay?: number;
}

export interface PostOptions<Msgs extends BusTopics, T extends keyof Msgs & string> {
  topic: T;
  /** A node name: only that node's listeners of `destination` get it. */
  destination?: string;
  /** JSON only: plain objects, arrays, strings, finite numbers, booleans, null. */
  data: Msgs[T];
}

export interface ListenOptions<T extends string> {
  topic: T;
  /** Also receive messages directed to this node (broadcasts of the topic always come). */
  destination?: string;
  /**
   * A named listener keeps its position in a `_local` doc of the database and continues from
   * it after a reload or a crash; `since` only applies to its first start.
   */
  name?: string;
  /**
   * `'now'` (default): messages that arrive from now on; `'start'`: every stored message; a
   * message id: messages with greater ids.
   */
  since?: 'now' | 'start' | string;
  /** Override the bus's `bufferDelay` for this listener (ms). */
  bufferDelay?: number;
}

/**
 * What a handler may return: `write` docs are written in the same atomic `bulkDocs` as a
 * named listener's new position, so the handler's effect and its acknowledgement commit
 * together (exactly once, even across a crash).
 */
export type HandlerResult = void | { write?: Array<{ _id: string } & Record<string, unknown>> };

export interface RequestOptions {
  /** ms until the request rejects with 408 `timeout`. Default 10,000. */
  timeout?: number;
}

export interface ScavengeOptions {
  /** Remove messages posted more than this many ms ago (by their id's timestamp), or before this Date. */
  olderThan: number | Date;
}

export interface ScavengeResult {
  /** Messages deleted. */
  deleted: number;
}
