/**
 * The hybrid logical clock behind message ids ({@link Bus}).
 *
 * A message id is `<16-digit microseconds>-<node>`: fixed width, so ids sort by time as
 * strings (CouchDB's `_all_docs` compares ids byte by byte, and Settee does too). The time is
 * not the wall clock but `max(wall clock, last id made or seen + 1 µs)`, so a node whose
 * clock is behind still makes ids after every id it has already seen, and one node's ids
 * strictly increase even when its clock steps back. The node suffix keeps two nodes that
 * pick the same microsecond apart.
 * @module
 */

/** `^\d{16}-node$`; the node part is `[A-Za-z0-9._~-]+`. */
export const MESSAGE_ID = /^(\d{16})-([A-Za-z0-9._~-]+)$/;

/**
 * Wall clock in ms, with the sub-millisecond part where the platform gives it. Ids and the
 * bus's hold times both read this one clock: `Date.now()` can differ from it by a few ms, and
 * a hold computed across the two would set needless timers (which a background tab in
 * Firefox stretches to 1 s).
 */
export function wallMs(): number {
  const p = globalThis.performance;
  return p && p.timeOrigin ? p.timeOrigin + p.now() : Date.now();
}

function wallMicros(): number {
  return Math.floor(wallMs() * 1000);
}

export class HybridClock {
  #last = 0;
  /** For tests: a clock that is `skewMs` off the real one. */
  constructor(private readonly skewMs = 0) {}

  /** The next timestamp (µs): after the wall clock's reading and after everything seen. */
  tick(): number {
    const t = Math.max(wallMicros() + Math.round(this.skewMs * 1000), this.#last + 1);
    this.#last = t;
    return t;
  }

  /** Takes in an id (or µs timestamp) made elsewhere, so later ticks come after it. */
  observe(idOrMicros: string | number): void {
    const t = typeof idOrMicros === 'number' ? idOrMicros : idTime(idOrMicros);
    if (t !== undefined && t > this.#last) this.#last = t;
  }

  /** The highest timestamp made or seen (µs). */
  get last(): number {
    return this.#last;
  }
}

/** The id for timestamp `micros` (µs) made by `node`. */
export function messageId(micros: number, node: string): string {
  return `${String(micros).padStart(16, '0')}-${node}`;
}

/** The smallest possible id at `micros`: `allDocs` ranges by time start or end here. */
export function idAt(micros: number): string {
  return String(Math.max(0, Math.floor(micros))).padStart(16, '0');
}

/** The timestamp (µs) of a message id, or `undefined` if `id` is not one. */
export function idTime(id: string): number | undefined {
  const m = MESSAGE_ID.exec(id);
  return m ? Number(m[1]) : undefined;
}
