// Typed usage that must compile under `tsc --noEmit --strict`.
import { Settee, isSetteeError } from 'settee';
import type {
  ActiveTask,
  SchedulerSettings,
  SchedulerStats,
  ChangeRow,
  ConflictEvent,
  FromSchema,
  PutResponse,
  SchemaSpec,
  Seq,
  SetteeError,
  SetteeOptions,
  ReplicatorDoc,
  VerifyReport,
} from 'settee';

interface Note {
  text: string;
  tags?: string[];
}

export async function usage(): Promise<void> {
  const options: SetteeOptions = { adapter: 'memory', revs_limit: 10 };
  const db = new Settee<Note>('notes', options);
  const name: string = db.name;

  // put / get: the result carries the doc's fields and the meta fields.
  const res: PutResponse = await db.put({ _id: 'a', text: 'hi' });
  const d = await db.get('a');
  d.text.toUpperCase();
  const rev: string = d._rev;
  const id: string = d._id;
  await db.put({ ...d, text: 'edited' });
  await db.put({ _id: 'a', _rev: rev, _deleted: true });
  await db.post({ text: 'generated id' });

  // Options shape the meta fields.
  const withRevs = await db.get('a', { revs: true, revs_info: true });
  withRevs._revisions.ids.map((h) => h.length);
  withRevs._revs_info[0]?.status;
  const withConflicts = await db.get('a', { conflicts: true });
  const losers: string[] = withConflicts._conflicts ?? [];
  const leaves = await db.get('a', { open_revs: 'all' });
  for (const leaf of leaves) if ('ok' in leaf) leaf.ok.text.trim();

  // remove, both forms
  await db.remove(d);
  await db.remove('a', res.rev);

  // bulk operations: per-doc results are either a success or an error object.
  const results = await db.bulkDocs([{ _id: 'b', text: 'b' }, { text: 'c' }]);
  for (const r of results) {
    if ('ok' in r) r.rev.startsWith('1-');
    else r.status.toFixed();
  }
  await db.bulkDocs({ docs: [{ _id: 'x', _rev: '1-abc', text: 'x' }] }, { new_edits: false });
  const got = await db.bulkGet({ docs: [{ id: 'b' }], revs: true });
  got.results[0]?.docs[0];
  const diff = await db.revsDiff({ b: ['1-abc'] });
  diff['b']?.missing.length;

  // allDocs: docs are typed with include_docs; `keys` rows may be errors.
  const all = await db.allDocs({ include_docs: true, startkey: 'a', endkey: 'z', limit: 10 });
  all.rows[0]?.doc?.text;
  const n: number = all.total_rows + all.offset;
  const byKeys = await db.allDocs({ keys: ['a', 'missing'] });
  for (const row of byKeys.rows) if ('error' in row) row.error satisfies 'not_found';

  // changes: one-shot promise or a live emitter / async iterator.
  const once = await db.changes({ since: 0, include_docs: true, style: 'all_docs' });
  once.results[0]?.doc?.text;
  // A seq is a number locally and may be a string from a remote CouchDB 2+ (as in PouchDB).
  const since: Seq = once.last_seq;
  if (typeof since === 'number') since.toFixed();
  await db.changes({ since });
  const live = db
    .changes({ live: true, since: 'now', include_docs: true })
    .on('change', (row: ChangeRow<Note>) => row.doc?.text)
    .on('complete', (info) => info.last_seq)
    .on('error', (err) => err.status);
  for await (const row of live) {
    String(row.seq).length;
    row.changes[0]?.rev;
    break;
  }
  live.cancel();

  // _local docs take any fields.
  await db.put({ _id: '_local/checkpoint', seq: 42 });
  const local = await db.get('_local/checkpoint');
  local._id;

  // Errors are typed.
  try {
    await db.put({ _id: 'a', text: 'stale' });
  } catch (e) {
    if (isSetteeError(e)) {
      const status: number = e.status;
      const reason: string | undefined = e.reason;
      const err: SetteeError = e;
      err.stack;
    }
  }

  const info = await db.info();
  info.doc_count.toFixed();
  const updateSeq: Seq = info.update_seq;
  updateSeq.toString();
  info.db_name.length + info.adapter.length;
  await db.compact();
  const report: VerifyReport = await db.verify();
  const verified: true = report.ok;
  report.docs.toFixed() + report.chunks.toFixed() + report.conflicts.toFixed() + String(verified);

  // Conflicts: the index, the event (on a database and a replication) and the resolution.
  const { rows: conflicted } = await db.conflicts({ include_docs: true, limit: 10 });
  conflicted[0]?.conflicts.map((r) => r.length);
  conflicted[0]?.doc?.text.toUpperCase();
  conflicted[0]?.doc?._conflicts.length;
  db.on('conflict', (e: ConflictEvent) => e.conflicts.length + e.rev.length + Number(e.replicated)).off('conflict', () => {});
  db.replicate.to('http://h/db').on('conflict', (e) => e.id.length);
  const resolved: PutResponse = await db.resolveConflict('a', async (winner, losers) => ({
    text: [winner.text, ...losers.map((l) => l.text)].join(' '),
  }));
  void resolved;
  // The `_replicator` database: docs, the replicator, its tasks.
  const job: ReplicatorDoc = {
    _id: 'job',
    source: { url: 'http://h/db', auth: { basic: { username: 'u', password: 'p' } } },
    target: 'local',
    continuous: true,
  };
  await new Settee<ReplicatorDoc>('_replicator').put({ ...job, _id: 'job' });
  const replicator = Settee.startReplicator({ adapter: 'idb' });
  const tasks: ActiveTask[] = Settee.activeTasks();
  tasks[0]?.info.docs_written.toFixed();
  const state: 'running' | 'completed' | 'failed' | 'initializing' | 'pending' | 'crashing' | undefined = tasks[0]?.state;
  void state;
  const leads: boolean = replicator.running;
  void leads;
  // One tab runs a live replication; the scheduler shares each server between replications.
  const shared = db.sync('http://h/db', { live: true, retry: true, coordinate: true });
  const here: boolean = shared.running;
  void here;
  shared.cancel();
  await shared.catch(() => undefined);
  const settings: SchedulerSettings = await Settee.configureScheduler({ max_connections: 3, poll_interval: 500 });
  settings.db_updates.valueOf();
  const servers: SchedulerStats[] = await Settee.schedulerStats({ reset: true });
  servers[0]?.peak.toFixed();
  await replicator.stop();
  await Settee.stopReplicator();
  await db.close();
  await db.destroy();

  // Attachments: inline base64 on put, stubs by default, data with `attachments`, Blobs with `binary`.
  await db.put({ _id: 'att', text: 't', _attachments: { 'a.txt': { content_type: 'text/plain', data: 'aGk=' } } });
  const stubbed = await db.get('att');
  const digest: string | undefined = stubbed._attachments?.['a.txt']?.digest;
  const inline = await db.get('att', { attachments: true });
  const b64: string | undefined = inline._attachments?.['a.txt']?.data;
  const binary = await db.get('att', { attachments: true, binary: true });
  const blobData: Blob | undefined = binary._attachments?.['a.txt']?.data;
  const put1 = await db.putAttachment('att', 'b.bin', stubbed._rev, new Uint8Array([1, 2]), 'application/octet-stream');
  await db.putAttachment('att', 'c.bin', put1.rev, new Blob(['x']), 'text/plain');
  await db.putAttachment('new', 'd.txt', null, 'aGk=', 'text/plain');
  const blob: Blob = await db.getAttachment('att', 'b.bin', { rev: put1.rev });
  await db.removeAttachment('att', 'b.bin', put1.rev);
  void [digest, b64, blobData, blob];

  // An untyped database accepts any object.
  const loose = new Settee('loose');
  await loose.put({ _id: 'z', anything: [1, 2, 3] });
  void [name, id, losers, n];
}

// Types from a schema: the document union, narrowed by the type field.
const hoptreeSchema = {
  typeField: 'type',
  types: {
    message: {
      type: 'object',
      required: ['topic', 'data'],
      properties: {
        topic: { enum: ['Posting', 'Query'] },
        data: { type: 'object', properties: { p1: { type: 'array', items: { $ref: '#/$defs/part' } } } },
        sent: { type: 'string', format: 'date-time' },
      },
      $defs: { part: { type: 'string' } },
    },
    customer: {
      type: 'object',
      required: ['email'],
      properties: { email: { type: 'string' }, tier: { oneOf: [{ const: 'free' }, { const: 'paid' }] } },
    },
  },
  others: 'reject',
} as const;

export async function schemaUsage(): Promise<void> {
  const db = new Settee<FromSchema<typeof hoptreeSchema>>('hoptree', { schema: hoptreeSchema });
  await db.put({ _id: 'm1', type: 'message', topic: 'Posting', data: { p1: ['a'] } });
  await db.put({ _id: 'c1', type: 'customer', email: 'a@b.co', tier: 'paid' });
  const doc = await db.get('m1');
  if (doc.type === 'message') {
    const topic: 'Posting' | 'Query' = doc.topic;
    const parts: string[] | undefined = doc.data.p1;
    const sent: string | undefined = doc.sent;
    void [topic, parts, sent];
  } else {
    const email: string = doc.email;
    const tier: 'free' | 'paid' | undefined = doc.tier;
    void [email, tier];
  }
  // The same, inferred from the options without `as const`.
  const inferred = Settee.withSchema('inline', {
    adapter: 'memory',
    schema: { types: { note: { type: 'object', required: ['text'], properties: { text: { type: 'string' } } } } },
  });
  const note = await inferred.get('n');
  const text: string = note.text;
  const kind: 'note' = note.type;
  await db.setSchema(hoptreeSchema);
  await db.setSchema(null);
  const spec: SchemaSpec = hoptreeSchema;
  Settee.registerValidateDocUpdate('_design/hydra', (newDoc, oldDoc) => {
    if (oldDoc && !newDoc._deleted) throw { forbidden: 'messages are immutable' };
  });
  new Settee('vdu', { userCtx: { name: 'ann', roles: ['writer'] }, secObj: { members: { names: ['ann'] } }, trustDesignDocs: true });
  void [text, kind, spec];
}
