// Type tests of the message bus (tests/node/bus.test.mjs runs `tsc --noEmit --strict` on
// this file with tests/types/tsconfig.json): the good usage must compile, and every
// `@ts-expect-error` line must fail (tsc reports an unused one as an error).
import { Bus, Settee, type BusMessage, type Listener } from 'settee';

interface Msgs {
  Posting: { text: string };
  Query: { q: string; limit?: number };
}

export async function good(): Promise<void> {
  const db = new Settee('hydra');
  const bus = new Bus<Msgs>(db, { node: 'tab-1', bufferDelay: 500 });
  const id: string = await bus.post({ topic: 'Posting', data: { text: 'hi' } });
  await bus.post({ topic: 'Query', destination: 'server', data: { q: 'x', limit: 2 } });

  const l: Listener<BusMessage<Msgs, 'Posting'>> = bus.listen({ topic: 'Posting', name: 'ui', since: id }, (msg) => {
    msg.data.text.toUpperCase();
    const t: 'Posting' = msg.topic;
    void t;
  });
  await l.ready;
  l.position?.toUpperCase();
  await l.stop();

  for await (const msg of bus.listen({ topic: 'Query', destination: 'tab-1', since: 'start' })) {
    msg.data.q.toUpperCase();
    break;
  }
  bus.listen({ topic: 'Posting', name: 'atomic' }, (msg) => ({ write: [{ _id: `seen-${msg._id}`, n: 1 }] }));

  bus.serve('Query', async (data) => [data.q]);
  const answer = await bus.request<'Query', string[]>('server', 'Query', { q: 'y' }, { timeout: 1000 });
  answer.map((s) => s.length);
  const { deleted }: { deleted: number } = await bus.scavenge({ olderThan: 86_400_000 });
  void deleted;
  await bus.scavenge({ olderThan: new Date(0) });

  const remote = new Bus<Msgs>([new Settee('http://a:5984/bus'), new Settee('http://b:5984/bus')], { node: 'worker' });
  void remote.store;
  await bus.close();
}

export async function bad(bus: Bus<Msgs>): Promise<void> {
  // @ts-expect-error: no such topic
  await bus.post({ topic: 'Nope', data: { text: 'x' } });
  // @ts-expect-error: data of the wrong shape for the topic
  await bus.post({ topic: 'Posting', data: { q: 'x' } });
  // @ts-expect-error: data is required
  await bus.post({ topic: 'Posting' });
  // @ts-expect-error: node is required
  new Bus<Msgs>(new Settee('x'), {});
  bus.listen({ topic: 'Posting' }, (msg) => {
    // @ts-expect-error: a Posting's data has no q
    msg.data.q;
  });
  // @ts-expect-error: no such topic to listen to
  bus.listen({ topic: 'Nope' });
  // @ts-expect-error: the request's data must fit the topic
  await bus.request('server', 'Query', { text: 'x' });
  // @ts-expect-error: olderThan is required
  await bus.scavenge({});
}
