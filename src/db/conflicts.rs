//! The conflict index (`c` keys) and `Database::conflicts`, which lists the docs that have
//! `_conflicts` by reading only that index.
//!
//! Rules:
//! - A doc has an entry exactly while its rev tree has two or more non-deleted leaves (then the
//!   winner is one of them and the others are its `_conflicts`). The entry holds
//!   `{"rev":winner,"conflicts":[losers]}` as JSON, so listing needs no doc record.
//! - `write::commit_docs` puts or deletes the entry in the same batch as the doc record, from
//!   the same tree, so a crash can never leave the two disagreeing. It deletes only when the
//!   doc had conflicts before the write: an unconditional delete would add a tombstone to
//!   every write of every doc.
//! - A store written before the index existed has no `m conflicts` flag: opening it (in the
//!   wasm layer), or else the first `conflicts()`, builds the index from the doc records, in
//!   one batch with the flag. A new database gets the flag with its first write, so it never
//!   needs that scan. `verify` only checks the index once the flag is there.
//! - Each write that adds a live leaf to a doc that then has conflicts is a conflict event
//!   (`ConflictEvent`), published after its batch commits; see `events`.

use super::options::Opts;
use super::record::DocRecord;
use super::verify::Pages;
use super::{json, keys, Database};
use crate::core::rev_tree::RevTree;
use crate::error::{Error, Result};
use crate::kv::{Range, WriteBatch};
use std::ops::Bound;

/// Rebuild attempts while other tabs keep committing first.
const MAX_ATTEMPTS: usize = 20;

/// The meta key whose presence says the conflict index covers every doc.
pub(super) fn indexed_flag() -> Vec<u8> {
    keys::meta("conflicts")
}

/// The conflict-index value for a doc with this tree, or `None` when it has no conflicts.
pub(super) fn entry(tree: &RevTree) -> Option<Vec<u8>> {
    if tree.live_leaf_count() < 2 {
        return None;
    }
    let winner = tree.winner()?;
    let conflicts: Vec<String> = tree.conflicts().iter().map(ToString::to_string).collect();
    let value = serde_json::json!({"rev": winner.rev.to_string(), "conflicts": conflicts});
    Some(serde_json::to_vec(&value).expect("json serialises"))
}

/// What `conflicts()` was asked for.
struct Request {
    start: Option<String>,
    end: Option<String>,
    limit: Option<usize>,
    skip: usize,
    include_docs: bool,
}

impl Request {
    fn parse(options: &serde_json::Value) -> Result<Request> {
        let o = Opts::new(options)?;
        Ok(Request {
            start: o.str_alias("startkey", "start_key")?.map(str::to_string),
            end: o.str_alias("endkey", "end_key")?.map(str::to_string),
            limit: o.count("limit")?.map(|n| n as usize),
            skip: o.count("skip")?.unwrap_or(0) as usize,
            include_docs: o.bool("include_docs")?,
        })
    }

    fn range(&self) -> Range {
        let all = Range::prefix(&[keys::CONFLICT]);
        Range {
            start: self.start.as_deref().map_or(all.start, |id| Bound::Included(keys::conflict(id))),
            end: self.end.as_deref().map_or(all.end, |id| Bound::Included(keys::conflict(id))),
        }
    }
}

impl Database {
    /// `conflicts({startkey, endkey, limit, skip, include_docs})`: `{"rows":[{id, rev,
    /// conflicts, doc?}]}` in id order, one row per doc that has `_conflicts`.
    pub async fn conflicts(&self, options: &serde_json::Value) -> Result<String> {
        self.check_open()?;
        let req = Request::parse(options)?;
        self.ensure_conflict_index().await?;
        if req.limit == Some(0) {
            return Ok(r#"{"rows":[]}"#.to_string());
        }
        let want = req.limit.map(|l| l.saturating_add(req.skip));
        let rows = self.kv.scan(req.range(), false, want).await?;
        let rows: Vec<_> = rows.into_iter().skip(req.skip).collect();
        let ids: Vec<&str> = rows
            .iter()
            .map(|(k, _)| {
                keys::id_of(k).ok_or_else(|| Error::corruption("conflict index: a key is not UTF-8"))
            })
            .collect::<Result<_>>()?;
        let records = match req.include_docs {
            true => self.records(&ids).await?,
            false => Vec::new(),
        };
        let mut out = String::from(r#"{"rows":["#);
        for (i, ((_, value), id)) in rows.iter().zip(&ids).enumerate() {
            let members =
                std::str::from_utf8(value).ok().and_then(|v| v.strip_prefix('{')).ok_or_else(|| {
                    Error::corruption(format!("conflict index entry of {id}: not a JSON object"))
                })?;
            if i > 0 {
                out.push(',');
            }
            out.push_str(r#"{"id":"#);
            json::push_str_json(&mut out, id);
            out.push(',');
            match records.get(i) {
                Some(record) => {
                    out.push_str(members.strip_suffix('}').unwrap_or(members));
                    out.push_str(r#","doc":"#);
                    push_winner_doc(&mut out, id, record.as_ref());
                    out.push('}');
                }
                None => out.push_str(members),
            }
        }
        out.push_str("]}");
        Ok(out)
    }

    /// Builds the index from the doc records unless the meta flag says it is there: once per
    /// store written before the index existed. The wasm layer calls it on open; `conflicts`
    /// calls it too, for a handle whose open could not build it.
    pub async fn ensure_conflict_index(&self) -> Result<()> {
        if self.kv.get(&indexed_flag()).await?.is_some() {
            return Ok(());
        }
        // A database never written to has nothing to index, and its first write sets the flag
        // (`write::commit_docs`): opening it must not write.
        if self.update_seq().await? == 0 {
            return Ok(());
        }
        let _guard = self.write_lock.lock().await;
        for _ in 0..MAX_ATTEMPTS {
            let version = self.kv.version();
            if self.kv.get(&indexed_flag()).await?.is_some() {
                return Ok(());
            }
            let batch = self.conflict_index_rebuild().await?;
            match self.kv.write(batch, Some(version)).await {
                Ok(_) => return Ok(()),
                Err(e) if e.is_stale() => {
                    self.kv.refresh().await?;
                }
                Err(e) => return Err(e),
            }
        }
        Err(Error::new(409, "stale_version", "other tabs kept writing while the conflict index was built"))
    }

    /// A batch that makes the index match every doc record, with the flag.
    async fn conflict_index_rebuild(&self) -> Result<WriteBatch> {
        let mut entries = std::collections::BTreeMap::new();
        let mut docs = Pages::of(keys::DOC);
        while let Some(page) = docs.next(&*self.kv).await? {
            for (k, v) in page {
                let id = keys::id_of(&k).ok_or_else(|| Error::corruption("doc key: the id is not UTF-8"))?;
                let record = DocRecord::decode(&v).map_err(super::record::for_id(id))?;
                if let Some(value) = entry(&record.meta.tree) {
                    entries.insert(keys::conflict(id), value);
                }
            }
        }
        // Entries that writes already keep (this version's writes maintain the index even
        // before it is built) are rewritten; any other is stale and goes.
        let mut batch = WriteBatch::new();
        let mut old = Pages::of(keys::CONFLICT);
        while let Some(page) = old.next(&*self.kv).await? {
            for (k, _) in page {
                if !entries.contains_key(&k[..]) {
                    batch.delete(k.to_vec());
                }
            }
        }
        for (k, v) in entries {
            batch.put(k, v);
        }
        batch.put(indexed_flag(), Vec::new());
        Ok(batch)
    }
}

/// The winning revision as a doc with `_conflicts` (`{}` if the record went away meanwhile).
fn push_winner_doc(out: &mut String, id: &str, record: Option<&DocRecord>) {
    let Some(record) = record else { return out.push_str("null") };
    let tree = &record.meta.tree;
    let Some(winner) = tree.winner() else { return out.push_str("null") };
    let conflicts: Vec<String> = tree.conflicts().iter().map(ToString::to_string).collect();
    let extras = [("_conflicts", json::to_json(&conflicts))];
    let body = record.winner_body.as_deref().unwrap_or(b"{}");
    json::push_doc(out, id, |o| json::push_str_json(o, &winner.rev.to_string()), body, &extras);
}
