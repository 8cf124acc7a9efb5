/**
 * Per-source order for the bus's listeners ({@link Bus}).
 *
 * Each message names `prev`, the id of the last message its bus had stored before it (any
 * topic). A store can receive one source's messages out of order (CouchDB's `_changes` is
 * merged from its shards), so a listener takes in every message row it sees, of every topic,
 * and keeps per source the newest id up to which the chain is whole. A message is ready to
 * deliver once it is within that: every earlier message of its source has arrived here, and
 * those meant for the listener, having smaller ids, come first.
 *
 * A `prev` from before the listener's start counts as there (it came before, or its absence
 * is not this listener's business), and so does a `prev` at or below the whole part (two
 * buses of one node, or posts in flight together, fork the chain; forks join there).
 * @module
 */
import { MESSAGE_ID, idTime } from './hlc.js';

const sourceOf = (id: string) => MESSAGE_ID.exec(id)?.[2];

export class SourceOrder {
  /** Source -> the newest id whose chain back to the start is whole. */
  #whole = new Map<string, string>();
  /** Source -> messages seen whose `prev` has not arrived yet. */
  #waiting = new Map<string, { id: string; prev: string }[]>();

  /** `startMicros`: the listener's start; links to earlier ids are taken as there. */
  constructor(private readonly startMicros: number) {}

  /** Takes in a message row seen in the store (any topic; `prev` undefined for a tombstone). */
  see(id: string, prev: string | undefined): void {
    const src = sourceOf(id);
    if (src === undefined) return;
    if (this.#linked(src, prev)) return this.#advance(src, id);
    const list = this.#waiting.get(src) ?? [];
    if (!list.some((w) => w.id === id)) list.push({ id, prev: prev! });
    this.#waiting.set(src, list);
    // A predecessor that never comes (filtered out of this store, scavenged) must not keep
    // a growing list: past 1,000, the oldest is let through.
    if (list.length > 1000) this.force(list.reduce((a, b) => (a.id < b.id ? a : b)).id);
  }

  /** Whether every earlier message of `id`'s source has arrived. */
  ready(id: string): boolean {
    const src = sourceOf(id);
    if (src === undefined) return true;
    const whole = this.#whole.get(src);
    return whole !== undefined && id <= whole;
  }

  /** Stops waiting for `id`'s predecessors (it waited too long). */
  force(id: string): void {
    const src = sourceOf(id);
    if (src !== undefined) this.#advance(src, id);
  }

  #linked(src: string, prev: string | undefined): boolean {
    if (prev === undefined) return true;
    const t = idTime(prev);
    if (t === undefined || t < this.startMicros) return true;
    const whole = this.#whole.get(src);
    return whole !== undefined && prev <= whole;
  }

  #advance(src: string, id: string): void {
    const whole = this.#whole.get(src);
    if (whole === undefined || id > whole) this.#whole.set(src, id);
    const list = this.#waiting.get(src);
    if (!list) return;
    // Waiting messages whose predecessor is now within the whole part join it, and so on.
    for (let moved = true; moved; ) {
      moved = false;
      for (let i = list.length - 1; i >= 0; i--) {
        if (this.#linked(src, list[i].prev)) {
          const w = list.splice(i, 1)[0];
          if (w.id > this.#whole.get(src)!) this.#whole.set(src, w.id);
          moved = true;
        }
      }
    }
    if (!list.length) this.#waiting.delete(src);
  }
}
