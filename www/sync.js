// Live sync of one local database with its server twin, reduced to what the status line shows:
// a state (`connecting`, `active`, `paused`, `offline`, `retrying`, `error`), what is pending each way,
// and how far a first pull has got. Which tab talks to the server is the library's business
// (one tab per origin runs a live sync); this file just calls `db.sync`.

/**
 * Starts `db.sync(url, {live, retry})` and calls `onUpdate(snapshot)` on every event.
 * Returns `{cancel, snapshot}`.
 */
export function liveSync(db, url, onUpdate) {
  const snap = {
    url,
    state: 'connecting',
    detail: '',
    pending: { push: 0, pull: 0 },
    pulled: 0,
    pushedSeq: null,
    firstPull: true,
    remoteSeq: null, // the server's update_seq when the sync started: the first pull's goal
  };
  let cancelled = false;
  // Events a cancelled sync still sends (its last `paused`, `complete`) must not overwrite
  // the status of the sync that replaced it.
  const emit = () => cancelled || onUpdate({ ...snap, pending: { ...snap.pending } });
  // The last events of every sync, for DevTools (`inboxSyncLog`) and for the tests' failures.
  const log = (event, detail = '') => {
    const entries = (globalThis.inboxSyncLog ??= []);
    entries.push(`${new Date().toISOString().slice(11, 23)} ${url.replace(/^.*\//, '')} ${event} ${detail}`.trim());
    if (entries.length > 60) entries.splice(0, entries.length - 60);
  };
  const offline = () => typeof navigator !== 'undefined' && navigator.onLine === false;

  if (offline()) snap.state = 'offline';
  // One plain request first: the server's update_seq is the first pull's goal, and a server
  // that cannot be reached is reported now. The replication only reports it (`paused` with
  // an error) after its retries, 5 to 20 s later, and says `active` meanwhile.
  fetch(url)
    .then((res) => (res.ok ? res.json() : null))
    .then(
      (info) => {
        if (info) snap.remoteSeq = seqNumber(info.update_seq);
      },
      () => {
        if (offline() || snap.state === 'paused') return;
        snap.state = 'retrying';
        snap.detail = `cannot reach ${new URL(url).host}`;
        log('unreachable');
        emit();
      },
    );
  const rep = db.sync(url, { live: true, retry: true, back_off_base: 1000 });
  rep
    .on('active', () => {
      log('active');
      // A retry starting is not a success: keep saying "retrying" (and why) until data moves
      // or the sync catches up.
      if (snap.state === 'retrying') return;
      snap.state = offline() ? 'offline' : 'active';
      snap.detail = '';
      emit();
    })
    .on('change', ({ direction, change }) => {
      log('change', `${direction} read=${change.docs_read} pending=${change.pending}`);
      if (direction === 'pull') {
        snap.pulled = change.docs_read;
        // CouchDB's feed says how much is pending; pouchdb-server's does not (null), so
        // fall back to the server's seq against the seq pulled so far.
        const bySeq = snap.remoteSeq === null ? 0 : Math.max(0, snap.remoteSeq - seqNumber(change.last_seq));
        snap.pending.pull = change.pending ?? bySeq;
      } else {
        snap.pending.push = change.pending ?? 0;
        snap.pushedSeq = change.last_seq; // local seq up to which the server has everything
      }
      if (snap.state !== 'offline') snap.state = 'active';
      snap.detail = '';
      emit();
    })
    .on('paused', (err) => {
      log('paused', err ? describe(err) : '');
      // `paused` with an error means "waiting to retry"; without, "caught up".
      if (err) {
        snap.state = offline() ? 'offline' : 'retrying';
        snap.detail = describe(err);
      } else {
        snap.state = 'paused';
        snap.detail = '';
        snap.pending = { push: 0, pull: 0 };
        snap.firstPull = false;
        // Caught up both ways: everything written here so far is on the server.
        db.info().then((info) => {
          snap.pushedSeq = info.update_seq;
          emit();
        }, () => {});
      }
      emit();
    })
    .on('denied', (err) => {
      snap.detail = `the server refused a document: ${describe(err)}`;
      emit();
    })
    .on('error', (err) => {
      log('error', describe(err));
      snap.state = 'error';
      snap.detail = describe(err);
      emit();
    });
  // A sync can end with an error (bad URL, 401); that is reported above, not thrown.
  Promise.resolve(rep).catch(() => {});

  // The browser knows it is offline before a request fails: say so at once.
  const onNet = () => {
    if (offline()) snap.state = 'offline';
    else if (snap.state === 'offline') snap.state = 'connecting';
    emit();
  };
  addEventListener('online', onNet);
  addEventListener('offline', onNet);
  emit();
  return {
    snapshot: () => ({ ...snap }),
    cancel() {
      cancelled = true;
      log('cancel');
      removeEventListener('online', onNet);
      removeEventListener('offline', onNet);
      rep.cancel();
    },
  };
}

/** A seq as a number: pouchdb-server's are integers, CouchDB's are "N-opaque" strings. */
function seqNumber(seq) {
  return typeof seq === 'number' ? seq : parseInt(String(seq), 10) || 0;
}

function describe(err) {
  if (!err) return '';
  const status = err.status ? `${err.status} ` : '';
  return `${status}${err.name ?? 'error'}${err.message ? `: ${err.message}` : ''}`;
}

/** Checks a server URL typed by the user; returns it normalised or throws a clear message. */
export function checkServerUrl(text) {
  let url;
  try {
    url = new URL(text.trim());
  } catch {
    throw new Error(`"${text}" is not a URL. Use one like http://127.0.0.1:5984`);
  }
  if (url.protocol !== 'http:' && url.protocol !== 'https:') throw new Error('The sync server URL must start with http:// or https://');
  if (url.search || url.hash) throw new Error('The sync server URL takes no ?query or #fragment.');
  return url.href.replace(/\/+$/, '');
}
