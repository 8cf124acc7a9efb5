//! `Database::verify`'s lighter checks (see `verify`): bodies of non-winning revisions belong
//! to their doc's rev tree, `_local` docs decode, and view metas decode and are not ahead of
//! the update seq. View rows and attachment data are not read.

use super::record::{self, DocRecord};
use super::verify::{quoted, Pages, VerifyReport};
use super::views::ViewMeta;
use super::{keys, local, Database, Meta};
use crate::core::rev::Rev;
use crate::error::{Error, Result};
use std::collections::HashMap;

impl Database {
    /// The conflict index holds exactly `expected` (ids in order, as the doc scan found them),
    /// once the store says it is complete (see `conflicts`).
    pub(super) async fn verify_conflicts(
        &self,
        expected: &[(String, Vec<u8>)],
        r: &mut VerifyReport,
    ) -> Result<()> {
        if self.kv.get(&super::conflicts::indexed_flag()).await?.is_none() {
            return Ok(());
        }
        let bad = |what: String| Error::corruption(format!("conflict index: {what}"));
        let mut want = expected.iter().peekable();
        let mut pages = Pages::of(keys::CONFLICT);
        while let Some(page) = pages.next(&*self.kv).await? {
            for (k, v) in &page {
                let id = keys::id_of(k)
                    .ok_or_else(|| bad(format!("key \"{}\" is not UTF-8", k.escape_ascii())))?;
                // Every expected id before this key has no entry.
                if let Some((missing, _)) = want.next_if(|(w, _)| w.as_str() < id) {
                    return Err(bad(format!("doc {} has conflicts but no entry", quoted(missing))));
                }
                match want.next_if(|(w, _)| w == id) {
                    None => {
                        return Err(bad(format!("an entry for doc {}, which has no conflicts", quoted(id))))
                    }
                    Some((_, entry)) if entry[..] != v[..] => {
                        return Err(bad(format!(
                            "the entry for doc {} disagrees with its rev tree",
                            quoted(id)
                        )))
                    }
                    Some(_) => r.conflicts += 1,
                }
            }
        }
        match want.next() {
            Some((missing, _)) => Err(bad(format!("doc {} has conflicts but no entry", quoted(missing)))),
            None => Ok(()),
        }
    }

    /// Every body under a `b` key belongs to a rev in its doc's tree.
    pub(super) async fn verify_bodies(&self, r: &mut VerifyReport) -> Result<()> {
        let mut pages = Pages::of(keys::BODY);
        while let Some(page) = pages.next(&*self.kv).await? {
            let bodies: Vec<(&str, Rev)> = page.iter().map(|(k, _)| body_key(k)).collect::<Result<_>>()?;
            // Keys sort by id first, so one doc's bodies are adjacent.
            let mut ids: Vec<&str> = bodies.iter().map(|(id, _)| *id).collect();
            ids.dedup();
            let doc_keys: Vec<Vec<u8>> = ids.iter().map(|id| keys::doc(id)).collect();
            let records = self.kv.get_many_shared(&doc_keys).await?;
            let mut trees = HashMap::with_capacity(ids.len());
            for (id, record) in ids.iter().zip(records) {
                let record = record.map(|b| DocRecord::decode(&b).map_err(record::for_id(id))).transpose()?;
                trees.insert(*id, record.map(|r| r.meta.tree));
            }
            for (id, rev) in &bodies {
                let tree = trees.get(id).and_then(Option::as_ref);
                if !tree.is_some_and(|t| t.contains(rev)) {
                    return Err(Error::corruption(format!(
                        "body of doc {} rev {rev}: {}",
                        quoted(id),
                        if tree.is_some() {
                            "the rev is not in the doc's rev tree"
                        } else {
                            "the doc has no record"
                        }
                    )));
                }
                r.bodies += 1;
            }
        }
        Ok(())
    }

    pub(super) async fn verify_locals(&self, r: &mut VerifyReport) -> Result<()> {
        let mut pages = Pages::of(keys::LOCAL);
        while let Some(page) = pages.next(&*self.kv).await? {
            for (k, v) in &page {
                let id = String::from_utf8_lossy(&k[1..]);
                local::decode(&id, v)?;
                r.local_docs += 1;
            }
        }
        Ok(())
    }

    pub(super) async fn verify_views(&self, meta: &Meta, r: &mut VerifyReport) -> Result<()> {
        let mut pages = Pages::of(keys::VIEW_META);
        while let Some(page) = pages.next(&*self.kv).await? {
            for (k, v) in &page {
                let view = String::from_utf8_lossy(&k[1..]);
                let m: ViewMeta = serde_json::from_slice(v)
                    .map_err(|e| Error::corruption(format!("view meta of {view}: {e}")))?;
                if m.seq > meta.update_seq {
                    return Err(Error::corruption(format!(
                        "view meta of {view}: indexed up to seq {}, past update_seq {}",
                        m.seq, meta.update_seq
                    )));
                }
                r.views += 1;
            }
        }
        Ok(())
    }
}

/// The doc id and rev in a body key (`keys::body`).
fn body_key(k: &[u8]) -> Result<(&str, Rev)> {
    let parse = || {
        let len = u32::from_be_bytes(k.get(1..5)?.try_into().ok()?) as usize;
        let id = std::str::from_utf8(k.get(5..5usize.checked_add(len)?)?).ok()?;
        let rev = Rev::parse(std::str::from_utf8(&k[5 + len..]).ok()?).ok()?;
        Some((id, rev))
    };
    parse()
        .ok_or_else(|| Error::corruption(format!("body key \"{}\" names no doc and rev", k.escape_ascii())))
}
