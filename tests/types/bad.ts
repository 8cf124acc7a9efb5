// Wrong usage: every line marked `// error: TSnnnn` must fail with that code, and no other
// line may fail (scripts/typecheck.mjs checks both).
import { Settee } from 'settee';

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
