// Wrong usage: every line marked `// error: TSnnnn` must fail with that code, and no other
// line may fail (scripts/typecheck.mjs checks both).
import { Settee } from 'settee';
import type { FromSchema } from 'settee';

interface Note {
  text: string;
}

export async function misuse(): Promise<void> {
  const db = new Settee<Note>('notes');
  (await db.get('a')).nope; // error: TS2339
  await db.put({ _id: 'a' }); // error: TS2769
  await db.put({ _id: 'a', text: 42 }); // error: TS2769
  await db.put({ text: 'no id' }); // error: TS2769
  await db.post({ _id: 'a', text: 'post picks the id' }); // error: TS2322
  new Settee('x', { adapter: 'localStorage' }); // error: TS2322
  (await db.get('a'))._revisions.ids; // error: TS2339
  await db.resolveConflict('a', (winner) => ({ text: winner.text.length })); // error: TS2322
  db.on('conflicted', () => {}); // error: TS2345
  await Settee.configureScheduler({ max_connections: '4' }); // error: TS2322
  db.sync('http://h/db', { live: true, coordinate: 'yes' }); // error: TS2322
  await db.get('a', { revs: 'yes' }); // error: TS2769
  const all = await db.allDocs();
  all.rows[0]?.doc?.nope; // error: TS2339
  await db.remove('a'); // error: TS2345
  db.changes({ live: true }).then(() => 0); // error: TS2339
  db.changes({ live: true }).on('chnage', () => 0); // error: TS2769
  (await db.changes()).results[0]?.seq.toUpperCase(); // error: TS2339
  (await db.changes()).last_seq.toFixed(); // error: TS2339
  (await db.get('a'))._attachments?.['x']?.data; // error: TS2339
  await db.putAttachment('a', 'x', null, 42, 'text/plain'); // error: TS2345
  const info = await db.info();
  info.doc_count.length; // error: TS2339
  (await db.verify()).chunks.length; // error: TS2339
}

const schema = {
  types: {
    message: { type: 'object', required: ['text'], properties: { text: { type: 'string' }, n: { type: 'integer' } } },
    customer: { type: 'object', required: ['email'], properties: { email: { type: 'string' } } },
  },
} as const;

export async function schemaMisuse(): Promise<void> {
  const db = new Settee<FromSchema<typeof schema>>('typed', { schema });
  await db.put({ _id: 'm', type: 'message', txet: 'misspelt' }); // error: TS2769
  await db.put({ _id: 'm', type: 'message', text: 'hi', n: 'one' }); // error: TS2769
  await db.put({ _id: 'm', type: 'mesage', text: 'hi' }); // error: TS2769
  await db.post({ type: 'customer' }); // error: TS2345
  const doc = await db.get('m');
  doc.text; // error: TS2339
  if (doc.type === 'message') doc.email; // error: TS2339
  new Settee('x', { schema: { types: {}, others: 'maybe' } }); // error: TS2322
}

