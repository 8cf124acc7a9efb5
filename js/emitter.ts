/**
 * A minimal Node-style event emitter (on/once/addListener/removeListener/off/
 * removeAllListeners/emit/listeners/listenerCount), for the PouchDB-shaped objects of
 * `settee/pouchdb`: PouchDB apps call these names on databases, feeds and replications.
 * A throwing listener is logged (`console.error`), never allowed to stop the others or the
 * feed: PouchDB swallows such errors (its #3539), and a global `error` event would make test
 * runners and error trackers fail whatever is running at that moment.
 * @module
 */
// eslint-disable-next-line @typescript-eslint/no-explicit-any
export type Listener = (...args: any[]) => void;

export class Emitter {
  #events = new Map<string | symbol, Listener[]>();

  on(event: string | symbol, listener: Listener): this {
    const list = this.#events.get(event) ?? [];
    list.push(listener);
    this.#events.set(event, list);
    return this;
  }

  addListener(event: string | symbol, listener: Listener): this {
    return this.on(event, listener);
  }

  /** The listener runs once; `removeListener` with the original listener still removes it. */
  once(event: string | symbol, listener: Listener): this {
    const wrapper: Listener & { listener?: Listener } = (...args) => {
      this.removeListener(event, wrapper);
      listener.apply(this, args);
    };
    wrapper.listener = listener;
    return this.on(event, wrapper);
  }

  removeListener(event: string | symbol, listener: Listener): this {
    const list = this.#events.get(event);
    if (!list) return this;
    const i = list.findIndex((l) => l === listener || (l as { listener?: Listener }).listener === listener);
    if (i >= 0) list.splice(i, 1);
    if (!list.length) this.#events.delete(event);
    return this;
  }

  off(event: string | symbol, listener: Listener): this {
    return this.removeListener(event, listener);
  }

  removeAllListeners(event?: string | symbol): this {
    if (event === undefined) this.#events.clear();
    else this.#events.delete(event);
    return this;
  }

  listeners(event: string | symbol): Listener[] {
    return [...(this.#events.get(event) ?? [])];
  }

  listenerCount(event: string | symbol): number {
    return this.#events.get(event)?.length ?? 0;
  }

  /** Node's leak warning threshold: there is no warning here, so this only chains. */
  setMaxListeners(_n: number): this {
    return this;
  }

  getMaxListeners(): number {
    return Infinity;
  }

  /** The listeners by event, as Node's `_events` (PouchDB's tests check it for leaks). */
  get _events(): Record<string, Listener[]> {
    const out: Record<string, Listener[]> = {};
    for (const [event, list] of this.#events) if (typeof event === 'string') out[event] = [...list];
    return out;
  }

  /** Calls each listener with `args`; returns whether there was any. */
  emit(event: string | symbol, ...args: unknown[]): boolean {
    const list = this.#events.get(event);
    if (!list?.length) return false;
    for (const listener of [...list]) {
      try {
        listener.apply(this, args);
      } catch (err) {
        console.error('settee/pouchdb: a listener threw', err);
      }
    }
    return true;
  }
}
