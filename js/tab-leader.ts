/**
 * One runner per origin: `TabLeader` runs a task in exactly one tab or worker of the origin at
 * a time, and lets the others hear what it reports. Used for live replications and the
 * `_replicator` manager, so two tabs never replicate the same thing twice.
 *
 * Rules that are not obvious:
 * - Leadership is a Web Lock named after the task: every tab that wants the task queues a
 *   request for it; the holder runs it. When the holder's tab closes (or crashes, or its
 *   worker ends), the browser releases the lock and the next tab in the queue starts at once,
 *   from the checkpoint: there is no heartbeat to time out.
 * - The others are followers: they hear the leader's messages on a `BroadcastChannel` of the
 *   same name. A channel never hears its own messages, so a leader does not echo itself.
 *   A follower says `hello` when it joins, so the leader can tell it the current state (a
 *   follower that joins an idle replication would otherwise hear nothing until it moves).
 * - `stop()` leaves the queue (a follower) or ends the lock once `run` settles (the leader:
 *   the caller ends `run`, e.g. by cancelling its replication).
 * - Where Web Locks or `BroadcastChannel` are missing (Node.js, old browsers), `create`
 *   answers `undefined` and callers run the task themselves.
 * @module
 */

/** What a leader's `run` gets: a way to tell the followers. */
export interface Broadcast {
  post(message: unknown): void;
}

interface LockManagerLike {
  request(name: string, options: { signal: AbortSignal }, run: () => Promise<unknown>): Promise<unknown>;
}

function lockManager(): LockManagerLike | undefined {
  const nav = (globalThis as { navigator?: { locks?: LockManagerLike } }).navigator;
  return nav?.locks && typeof BroadcastChannel === 'function' ? nav.locks : undefined;
}

/** What a joining follower posts. */
const HELLO = 'settee:hello';

export class TabLeader implements Broadcast {
  #channel: BroadcastChannel;
  #abort = new AbortController();
  #leading = false;
  #stopped = false;
  #done: Promise<void>;

  /**
   * Queues for the lock `name`; `run` is called once this tab holds it, and the lock is kept
   * until `run` settles. `hear` gets the leader's messages while this tab is not leading.
   * `undefined` where the platform has no Web Locks.
   */
  static create(
    name: string,
    run: (tab: Broadcast) => Promise<unknown>,
    hear: (message: unknown) => void,
    greet?: (tab: Broadcast) => void,
  ): TabLeader | undefined {
    const locks = lockManager();
    return locks && new TabLeader(locks, name, run, hear, greet);
  }

  /** `greet` runs in the leader when a follower joins: it may `post` the current state. */
  private constructor(
    locks: LockManagerLike,
    name: string,
    run: (tab: Broadcast) => Promise<unknown>,
    hear: (message: unknown) => void,
    greet?: (tab: Broadcast) => void,
  ) {
    this.#channel = new BroadcastChannel(name);
    this.#channel.onmessage = (e: MessageEvent) => {
      if (this.#stopped) return;
      const hello = (e.data as { hello?: unknown } | null)?.hello === HELLO;
      if (this.#leading) {
        if (hello) greet?.(this);
      } else if (!hello) {
        hear(e.data);
      }
    };
    this.#channel.postMessage({ hello: HELLO });
    this.#done = locks
      .request(name, { signal: this.#abort.signal }, async () => {
        if (this.#stopped) return;
        this.#leading = true;
        try {
          await run(this);
        } finally {
          this.#leading = false;
        }
      })
      .then(
        () => undefined,
        (err: unknown) => {
          // Leaving the queue rejects the request with an AbortError: that is `stop()`.
          if ((err as { name?: string })?.name !== 'AbortError') globalThis.reportError?.(err);
        },
      );
  }

  /** Whether this tab runs the task now. */
  get leading(): boolean {
    return this.#leading;
  }

  /** Sends `message` to the followers (structured clone; a value that cannot be cloned goes as JSON). */
  post(message: unknown): void {
    if (this.#stopped) return;
    try {
      this.#channel.postMessage(message);
    } catch {
      try {
        this.#channel.postMessage(JSON.parse(JSON.stringify(message)));
      } catch {
        // Not even JSON (a cycle): the followers miss this one event, nothing else breaks.
      }
    }
  }

  /** Leaves the queue, or (leading) releases the lock once `run` has settled. */
  stop(): Promise<void> {
    if (!this.#stopped) {
      this.#stopped = true;
      if (!this.#leading) this.#abort.abort();
      this.#channel.close();
    }
    return this.#done;
  }
}
