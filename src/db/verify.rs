//! `Database::verify`: an integrity check of a database's storage, for after a crash (a tab
//! killed mid-write) or when a reader suspects damage. It answers a report of what it counted
//! (`VerifyReport`) or the `corruption` error naming the first problem found.
//!
//! What it checks, in this order:
//! 1. The store's own structure (`KvStore::verify`; for the LSM tree: every chunk the manifest
//!    lists exists, decodes, and is the chunk the manifest describes).
//! 2. Doc records (`d` keys): each decodes, its winner body is JSON, its head agrees with its
//!    rev tree, and its seq is a seq the database has given out. Its seq-index entry (`s`
//!    key) exists and names it back.
//! 3. The seq index: every key is a seq, every value an id; there are as many entries as doc
//!    records (with 2, that means no stale entry); the newest is the meta `update_seq`.
//! 4. The meta `doc_count` is the number of records whose winner is not deleted.
//! 5. The conflict index (`c` keys, once the store has its `m conflicts` flag): one entry per
//!    doc whose tree has `_conflicts`, holding that doc's winner and conflicts, and no other.
//! 6. Lighter (`verify_more`): every non-winning body (`b` key) belongs to a rev of its doc's
//!    tree; `_local` docs decode; view metas (`V` keys) decode and are not ahead of
//!    `update_seq`. View rows and attachment data are not checked.
//!
//! It reads page by page (`PAGE` rows, then one `get_many` for what the page points to), so a
//! database of 100k docs is never in memory at once. A stale seq entry (more entries than
//! docs) is found by a second, slower pass over the seq index that only runs then.
//!
//! The pages must all come from one state of the data: this handle's writes wait for the
//! check (it holds the write lock), and if the store's version moved while it ran (another
//! tab wrote, a merge committed) the check starts over, a few times at most.

use super::record::{self, DocRecord, RecordHead};
use super::rev_ref::RevRef;
use super::{json, keys, Database, Meta};
use crate::error::{Error, Result};
use crate::kv::{KvStore, Range, SharedBytes};
use serde::Serialize;

/// Rows per page of each scan.
const PAGE: usize = 1000;
/// Checks started over because the store changed under them, before giving up.
const MAX_ATTEMPTS: usize = 8;

/// What `verify` counted; `ok` is always true (a problem is an error instead).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct VerifyReport {
    pub ok: bool,
    /// Doc records, deleted docs included.
    pub docs: u64,
    /// Docs whose winner is not deleted (what `info().doc_count` says).
    pub doc_count: u64,
    /// Seq-index entries: one per doc record.
    pub seqs: u64,
    pub update_seq: u64,
    /// Bodies of revisions other than the winners.
    pub bodies: u64,
    pub local_docs: u64,
    pub views: u64,
    /// Conflict-index entries: docs with `_conflicts` (0 while an old store's index is unbuilt).
    pub conflicts: u64,
    /// LSM runs and chunks (0 for the memory store).
    pub runs: u64,
    pub chunks: u64,
    /// Entries the store holds (LSM: tombstones and overwritten ones too).
    pub entries: u64,
    pub tombstones: u64,
    pub bytes: u64,
}

/// A disagreement between the doc records and the seq index.
fn index_error(what: String) -> Error {
    Error::corruption(format!("doc/seq index: {what}"))
}

/// `id` as a JSON string, as error messages name docs.
pub(super) fn quoted(id: &str) -> String {
    serde_json::Value::from(id).to_string()
}

/// A prefix's rows, a page at a time.
pub(super) struct Pages {
    range: Range,
    done: bool,
}

impl Pages {
    pub(super) fn of(prefix: u8) -> Self {
        Pages { range: Range::prefix(&[prefix]), done: false }
    }

    pub(super) async fn next(&mut self, kv: &dyn KvStore) -> Result<Option<Vec<(SharedBytes, SharedBytes)>>> {
        if self.done {
            return Ok(None);
        }
        let page = kv.scan_shared(self.range.clone(), false, Some(PAGE)).await?;
        self.done = !self.range.continue_after(&page, PAGE, false);
        Ok((!page.is_empty()).then_some(page))
    }
}

impl Database {
    /// `verify()`: the report as JSON text.
    pub async fn verify(&self) -> Result<String> {
        Ok(json::to_json(&self.verify_report().await?))
    }

    pub async fn verify_report(&self) -> Result<VerifyReport> {
        self.check_open()?;
        let _guard = self.write_lock.lock().await;
        for _ in 0..MAX_ATTEMPTS {
            // Check what is on disk now, not what this handle last noticed.
            self.kv.refresh().await?;
            let version = self.kv.version();
            let outcome = self.verify_once().await;
            if self.kv.version() == version {
                return outcome;
            }
        }
        Err(Error::new(
            409,
            "stale_version",
            "The database kept changing while verify read it (other tabs writing): try again",
        ))
    }

    async fn verify_once(&self) -> Result<VerifyReport> {
        let kv = self.kv.verify().await?;
        let meta = self.meta().await?;
        let mut r = VerifyReport {
            ok: true,
            update_seq: meta.update_seq,
            runs: kv.runs,
            chunks: kv.chunks,
            entries: kv.entries,
            tombstones: kv.tombstones,
            bytes: kv.bytes,
            ..VerifyReport::default()
        };
        let mut conflicted = Vec::new();
        self.verify_docs(&meta, &mut r, &mut conflicted).await?;
        self.verify_seqs(&meta, &mut r).await?;
        if r.doc_count != meta.doc_count {
            return Err(Error::corruption(format!(
                "database meta count: doc_count is {} but {} doc records have a live winner",
                meta.doc_count, r.doc_count
            )));
        }
        self.verify_conflicts(&conflicted, &mut r).await?;
        self.verify_bodies(&mut r).await?;
        self.verify_locals(&mut r).await?;
        self.verify_views(&meta, &mut r).await?;
        Ok(r)
    }

    /// Each doc record, and the seq-index entry its seq names. Collects the conflict-index
    /// entries the records call for, by id.
    async fn verify_docs(
        &self,
        meta: &Meta,
        r: &mut VerifyReport,
        conflicted: &mut Vec<(String, Vec<u8>)>,
    ) -> Result<()> {
        let mut pages = Pages::of(keys::DOC);
        while let Some(page) = pages.next(&*self.kv).await? {
            let mut claims: Vec<(u64, &str)> = Vec::with_capacity(page.len());
            for (k, v) in &page {
                let id = keys::id_of(k).ok_or_else(|| {
                    Error::corruption(format!("doc key \"{}\": the id is not UTF-8", k.escape_ascii()))
                })?;
                let (seq, live, conflict_entry) = check_record(id, v)?;
                if let Some(entry) = conflict_entry {
                    conflicted.push((id.to_string(), entry));
                }
                if seq == 0 || seq > meta.update_seq {
                    return Err(index_error(format!(
                        "doc {} is at seq {seq}, but the seqs given out are 1 to {}",
                        quoted(id),
                        meta.update_seq
                    )));
                }
                claims.push((seq, id));
                r.docs += 1;
                r.doc_count += u64::from(live);
            }
            let seq_keys: Vec<Vec<u8>> = claims.iter().map(|(seq, _)| keys::seq(*seq)).collect();
            let entries = self.kv.get_many_shared(&seq_keys).await?;
            for ((seq, id), entry) in claims.iter().zip(entries) {
                match entry {
                    None => {
                        return Err(index_error(format!(
                            "doc {} is at seq {seq} but the seq index has no entry {seq}",
                            quoted(id)
                        )))
                    }
                    Some(named) if &named[..] != id.as_bytes() => {
                        return Err(index_error(format!(
                            "doc {} is at seq {seq} but seq-index entry {seq} names doc {}",
                            quoted(id),
                            quoted(&String::from_utf8_lossy(&named))
                        )))
                    }
                    Some(_) => {}
                }
            }
        }
        Ok(())
    }

    /// The seq index's own shape, its size against the doc records', and its newest entry.
    async fn verify_seqs(&self, meta: &Meta, r: &mut VerifyReport) -> Result<()> {
        let mut pages = Pages::of(keys::SEQ);
        let mut newest = 0;
        while let Some(page) = pages.next(&*self.kv).await? {
            for (k, v) in &page {
                let seq = seq_of_key(k)?;
                if std::str::from_utf8(v).is_err() {
                    return Err(index_error(format!("seq-index entry {seq} does not hold a UTF-8 doc id")));
                }
                r.seqs += 1;
                newest = seq;
            }
        }
        // Every doc record has its own entry (`verify_docs`), so any entry beyond one per
        // record is claimed by no doc: find it, to name it.
        if r.seqs != r.docs {
            self.find_stale_seq().await?;
            return Err(index_error(format!("{} seq-index entries for {} doc records", r.seqs, r.docs)));
        }
        if newest != meta.update_seq {
            return Err(Error::corruption(format!(
                "database meta seq: update_seq is {} but the newest seq-index entry is {newest}",
                meta.update_seq
            )));
        }
        Ok(())
    }

    /// The first seq-index entry whose doc is missing or at another seq.
    async fn find_stale_seq(&self) -> Result<()> {
        let mut pages = Pages::of(keys::SEQ);
        while let Some(page) = pages.next(&*self.kv).await? {
            let ids: Vec<String> =
                page.iter().map(|(_, v)| String::from_utf8_lossy(v).into_owned()).collect();
            let doc_keys: Vec<Vec<u8>> = ids.iter().map(|id| keys::doc(id)).collect();
            let records = self.kv.get_many_shared(&doc_keys).await?;
            for (((k, _), id), record) in page.iter().zip(&ids).zip(records) {
                let seq = seq_of_key(k)?;
                let Some(bytes) = record else {
                    return Err(index_error(format!(
                        "seq-index entry {seq} names doc {}, which has no doc record",
                        quoted(id)
                    )));
                };
                let at = record_seq(id, &bytes)?;
                if at != seq {
                    return Err(index_error(format!(
                        "seq-index entry {seq} names doc {}, which is at seq {at} (a stale entry)",
                        quoted(id)
                    )));
                }
            }
        }
        Ok(())
    }
}

/// Decodes a doc record whole and checks it; returns its seq, whether its winner is live, and
/// the conflict-index entry it calls for.
fn check_record(id: &str, bytes: &[u8]) -> Result<(u64, bool, Option<Vec<u8>>)> {
    let bad = |what: String| Error::corruption(format!("doc record for id {}: {what}", quoted(id)));
    let rec = DocRecord::decode(bytes).map_err(record::for_id(id))?;
    let tree = &rec.meta.tree;
    let winner = tree.winner_ref().ok_or_else(|| bad("no revisions".into()))?;
    if let Some(head) = RecordHead::read(bytes).map_err(record::for_id(id))? {
        let agrees = head.winner == RevRef::new(winner.pos, winner.hash)
            && head.deleted == winner.deleted
            && head.other_leaves == (tree.leaf_count() > 1);
        if !agrees {
            return Err(bad(format!(
                "its head names winner {} but its rev tree {}-{}",
                head.winner, winner.pos, winner.hash
            )));
        }
    }
    if let Some(body) = &rec.winner_body {
        serde_json::from_slice::<serde::de::IgnoredAny>(body).map_err(|e| bad(format!("body: {e}")))?;
    }
    Ok((rec.meta.seq, !winner.deleted, super::conflicts::entry(tree)))
}

/// A doc record's seq, from its head when it has one.
fn record_seq(id: &str, bytes: &[u8]) -> Result<u64> {
    match RecordHead::read(bytes).map_err(record::for_id(id))? {
        Some(head) => Ok(head.seq),
        None => Ok(DocRecord::decode(bytes).map_err(record::for_id(id))?.meta.seq),
    }
}

fn seq_of_key(k: &[u8]) -> Result<u64> {
    keys::seq_of(k)
        .filter(|_| k.len() == 9)
        .ok_or_else(|| index_error(format!("seq-index key \"{}\" is not a seq", k.escape_ascii())))
}
