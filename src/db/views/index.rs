//! Building a view's index incrementally: from its last indexed seq to the current one, pages
//! of changed docs (one map call each) gathered into KV writes of up to `WRITE_BYTES`.
//!
//! For each changed doc the back-index (`w` key) lists the keys it emitted last time, with how
//! many values each, so its old rows are dropped without a scan and the row count stays exact.
//! A change row whose doc record has moved on to a newer seq is skipped: that doc is indexed
//! when the scan reaches its newer seq.

use super::{Emits, ViewDef};
use crate::core::keycodec::encode;
use crate::db::read::{render_doc, Render};
use crate::db::record::{DocRecord, RecordHead};
use crate::db::{json, keys, Database};
use crate::error::{Error, Result};
use crate::kv::{Range, SharedBytes, WriteBatch};
use serde::{Deserialize, Serialize};
use serde_json::Value;
use std::collections::BTreeMap;
use std::ops::Bound;

/// Docs per page of changes: one map call each.
pub(super) const BATCH: usize = 500;
/// Pages go into one KV write (one IndexedDB transaction, one LSM run) until it holds this
/// many bytes: a build of 10,000 small docs is one write, not twenty runs to merge again.
const WRITE_BYTES: usize = 4 << 20;
/// Consecutive stale-version retries before giving up (another tab keeps writing).
const MAX_STALE: usize = 50;

/// What the `V` key of a view holds.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct ViewMeta {
    /// The last seq whose change is reflected in the rows.
    pub seq: u64,
    /// Rows in the index (a doc emitting twice counts twice).
    pub rows: u64,
    pub ddoc: Option<String>,
    pub name: String,
    pub signature: String,
}

/// One doc's entry in the back-index: encoded key and how many values it has under it.
type Back = Vec<(Vec<u8>, u32)>;

fn encode_back(back: &Back) -> Vec<u8> {
    let mut out = Vec::new();
    for (key, n) in back {
        out.extend_from_slice(&(key.len() as u32).to_be_bytes());
        out.extend_from_slice(key);
        out.extend_from_slice(&n.to_be_bytes());
    }
    out
}

fn decode_back(mut bytes: &[u8]) -> Result<Back> {
    let total = bytes.len();
    let corrupt =
        |left: usize| Error::corruption(format!("view back-index: truncated at byte {}", total - left));
    let word =
        |b: &[u8], at: usize| b.get(at..at + 4).map(|w| u32::from_be_bytes(w.try_into().expect("4 bytes")));
    let mut out = Vec::new();
    while !bytes.is_empty() {
        let len = word(bytes, 0).ok_or_else(|| corrupt(bytes.len()))?;
        // `u64` math: on wasm32 a `usize` sum could wrap.
        let end = usize::try_from(4 + u64::from(len))
            .ok()
            .filter(|&e| e.checked_add(4).is_some_and(|x| x <= bytes.len()));
        let end = end.ok_or_else(|| corrupt(bytes.len()))?;
        let n = word(bytes, end).ok_or_else(|| corrupt(bytes.len()))?;
        out.push((bytes[4..end].to_vec(), n));
        bytes = &bytes[end + 4..];
    }
    Ok(out)
}

impl Database {
    /// The view's stored meta, or a fresh one (seq 0) for an index not built yet.
    pub(super) async fn view_meta(&self, view: &ViewDef) -> Result<ViewMeta> {
        let fresh = || ViewMeta {
            seq: 0,
            rows: 0,
            ddoc: view.ddoc.clone(),
            name: view.name.clone(),
            signature: view.signature.clone(),
        };
        match self.kv.get(&keys::view_meta(&view.id())).await? {
            Some(b) => serde_json::from_slice(&b)
                .map_err(|e| Error::corruption(format!("view meta of {}: {e}", view.id()))),
            None => Ok(fresh()),
        }
    }

    /// Brings the view's index up to date with every committed change; returns its meta.
    pub async fn update_view(&self, view: &ViewDef) -> Result<ViewMeta> {
        self.check_open()?;
        let _one_at_a_time = self.view_lock.lock().await;
        let mut stale = 0;
        // The store version after this call's last write while the view's back-index held
        // nothing but what this call wrote (see `fresh` below).
        let mut own: Option<u64> = None;
        loop {
            let version = self.kv.version();
            let mut meta = self.view_meta(view).await?;
            // With no back-index entries at all, no doc has rows yet: the pages skip reading
            // them (each would be a miss). A view never built can still have some, left by an
            // interrupted `view_cleanup`, hence the check.
            let fresh = own == Some(version) || (meta.seq == 0 && self.no_backs(view).await?);
            if meta.seq == 0 && !fresh {
                // Leftovers of an interrupted `view_cleanup` (it deletes the meta first): the
                // row count would start from 0 while their back-index entries subtract from
                // it. Clear them a page at a time under the version seen, so a build another
                // tab commits meanwhile is never touched (the write fails stale, and the
                // next round reads that tab's meta).
                match self.delete_view_page(&view.id(), Some(version)).await {
                    Ok(_) => {}
                    Err(e) if e.is_stale() && stale < MAX_STALE => {
                        stale += 1;
                        self.kv.refresh().await?;
                    }
                    Err(e) => return Err(e),
                }
                continue;
            }
            // Row and back-index ops apart, then rows first: the write sorts the batch, and
            // two stretches that are each often already in order sort fastest.
            let mut batch = WriteBatch::new();
            let mut backs = WriteBatch::new();
            let mut bytes = 0;
            let mut pages = 0;
            let done = loop {
                let range = Range {
                    start: Bound::Excluded(keys::seq(meta.seq)),
                    end: Range::prefix(&[keys::SEQ]).end,
                };
                let page = self.kv.scan_shared(range, false, Some(BATCH)).await?;
                if page.is_empty() {
                    break true;
                }
                pages += 1;
                let out = (&mut batch, &mut backs, &mut bytes);
                meta = self.plan_view_page(view, meta, &page, fresh, out).await?;
                if page.len() < BATCH {
                    break true;
                }
                if bytes >= WRITE_BYTES {
                    break false;
                }
            };
            if pages == 0 {
                return Ok(meta);
            }
            batch.ops.append(&mut backs.ops);
            batch.put(keys::view_meta(&view.id()), serde_json::to_vec(&meta).expect("meta serialises"));
            match self.kv.write(batch, Some(version)).await {
                Ok(_) if done => return Ok(meta),
                Ok(v) => {
                    stale = 0;
                    own = fresh.then_some(v);
                }
                Err(e) if e.is_stale() && stale < MAX_STALE => {
                    stale += 1;
                    own = None;
                    self.kv.refresh().await?;
                }
                Err(e) => return Err(e),
            }
        }
    }

    /// True when the view has no back-index entry at all.
    async fn no_backs(&self, view: &ViewDef) -> Result<bool> {
        Ok(self
            .kv
            .scan_shared(Range::prefix(&keys::view_backs(&view.id())), false, Some(1))
            .await?
            .is_empty())
    }

    /// Adds what indexes one page of the `s` (seq → id) range to `out`: the row ops, the
    /// back-index ops, and a count of the bytes put. Returns the meta after the page. `fresh`:
    /// no doc of the page has back-index entries.
    async fn plan_view_page(
        &self,
        view: &ViewDef,
        mut meta: ViewMeta,
        page: &[(SharedBytes, SharedBytes)],
        fresh: bool,
        out: (&mut WriteBatch, &mut WriteBatch, &mut usize),
    ) -> Result<ViewMeta> {
        let (batch, back_batch, bytes) = out;
        let vid = view.id();
        let ids: Vec<&str> = page.iter().map(|(_, v)| std::str::from_utf8(v).unwrap_or_default()).collect();
        let doc_keys: Vec<Vec<u8>> = ids.iter().map(|id| keys::doc(id)).collect();
        let records = self.kv.get_many_shared(&doc_keys).await?;
        let backs = if fresh {
            vec![None; ids.len()]
        } else {
            let back_keys: Vec<Vec<u8>> = ids.iter().map(|id| keys::view_back(&vid, id)).collect();
            self.kv.get_many_shared(&back_keys).await?
        };

        // The docs to map (live, not design docs), as JSON text, and for each changed id its
        // slot in `docs`.
        let mut docs: Vec<String> = Vec::new();
        let mut changed: Vec<(usize, Option<usize>)> = Vec::new();
        for (i, ((key, _), record)) in page.iter().zip(&records).enumerate() {
            let seq = keys::seq_of(key).unwrap_or_default();
            let Some(bytes) = record else { continue };
            let Some(text) = render_if_current(ids[i], bytes, seq)? else { continue };
            let slot = match text {
                Some(text) if !ids[i].starts_with("_design/") => {
                    docs.push(text);
                    Some(docs.len() - 1)
                }
                _ => None,
            };
            changed.push((i, slot));
        }
        let mut emitted = if docs.is_empty() { Vec::new() } else { view.map.map_batch(&docs).await };
        emitted.resize_with(docs.len(), || Err(Error::storage("map returned too few results")));

        let rows_prefix = keys::view_rows(&vid);
        let row_key = |enc: &[u8], id: &str| {
            let mut k = Vec::with_capacity(rows_prefix.len() + enc.len() + id.len());
            k.extend_from_slice(&rows_prefix);
            k.extend_from_slice(enc);
            k.extend_from_slice(id.as_bytes());
            k
        };
        let mut put = |batch: &mut WriteBatch, k: Vec<u8>, v: Vec<u8>| {
            *bytes += k.len() + v.len();
            batch.put(k, v);
        };
        for (i, slot) in changed {
            let id = ids[i];
            let old = backs[i].as_deref().map(decode_back).transpose()?.unwrap_or_default();
            let new_rows = match slot.map(|s| std::mem::replace(&mut emitted[s], Ok(Vec::new()))) {
                Some(Ok(emits)) => group_emits(emits),
                // No live doc, or its map threw: it has no rows.
                Some(Err(_)) | None => BTreeMap::new(),
            };
            for (enc, n) in &old {
                meta.rows -= u64::from(*n).min(meta.rows);
                if !new_rows.contains_key(enc) {
                    batch.delete(row_key(enc, id));
                }
            }
            let mut back: Back = Vec::with_capacity(new_rows.len());
            for (enc, values) in new_rows {
                meta.rows += values.len() as u64;
                back.push((enc.clone(), values.len() as u32));
                put(batch, row_key(&enc, id), serde_json::to_vec(&values).expect("values serialise"));
            }
            if back.is_empty() {
                if !old.is_empty() {
                    back_batch.delete(keys::view_back(&vid, id));
                }
            } else {
                put(back_batch, keys::view_back(&vid, id), encode_back(&back));
            }
        }
        meta.seq = page.last().and_then(|(k, _)| keys::seq_of(k)).unwrap_or(meta.seq);
        Ok(meta)
    }
}

/// For a doc record read at change `seq`: `None` when the doc has changed since (it is
/// indexed at its newer seq), else `Some` of its live winner as `get` renders it, or `None`
/// inside when it has none (deleted, or no body). The record's head gives the winner without
/// parsing the rev tree.
fn render_if_current(id: &str, bytes: &[u8], seq: u64) -> Result<Option<Option<String>>> {
    // A doc with other leaves may have conflicts, which its map sees as `_conflicts` (as in
    // CouchDB): that needs the rev tree, so only the head of a doc without them is enough.
    if let Some(h) = RecordHead::read(bytes)?.filter(|h| !h.other_leaves) {
        if h.seq != seq {
            return Ok(None);
        }
        let Some(body) = h.body.filter(|_| !h.deleted) else { return Ok(Some(None)) };
        let mut text = String::with_capacity(body.len() + id.len() + 48);
        json::push_doc(&mut text, id, |o| h.winner.push_json(o), body, &[]);
        return Ok(Some(Some(text)));
    }
    let record = DocRecord::decode(bytes)?;
    if record.meta.seq != seq {
        return Ok(None);
    }
    Ok(Some(match (record.meta.tree.winner().filter(|w| !w.deleted), &record.winner_body) {
        (Some(w), Some(body)) => {
            Some(render_doc(id, &record, &w.rev, body, Render { conflicts: true, ..Render::default() }))
        }
        _ => None,
    }))
}

/// A doc's emits by encoded key; one key emitted twice keeps both values, ordered by
/// collation (rows sort by key, doc id, then value, as PouchDB's do).
fn group_emits(emits: Emits) -> BTreeMap<Vec<u8>, Vec<Value>> {
    let mut rows: BTreeMap<Vec<u8>, Vec<Value>> = BTreeMap::new();
    for (key, value) in emits {
        rows.entry(encode(&key)).or_default().push(value);
    }
    for values in rows.values_mut() {
        if values.len() > 1 {
            values.sort_by(crate::core::collate::collate);
        }
    }
    rows
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn back_index_entries_round_trip() {
        let back = vec![(vec![0x40, b'a', 0, 1], 2), (vec![], 1)];
        assert_eq!(decode_back(&encode_back(&back)).unwrap(), back);
        let e = decode_back(&[0, 0, 0, 9, 1]).unwrap_err();
        assert_eq!(
            (e.name, e.message.as_str()),
            ("corruption", "corrupt view back-index: truncated at byte 0")
        );
        // A length near `u32::MAX` must not wrap the offset (it would on wasm32's 32-bit usize).
        assert!(decode_back(&[0xFF, 0xFF, 0xFF, 0xFF, 1, 2, 3, 4]).unwrap_err().is_corruption());
    }
}
