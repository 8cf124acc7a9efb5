//! `Database::resolve_conflict(id, merge)`: reads a doc's winner and its non-deleted losing
//! revisions, asks `merge(winner, losers)` for the body to keep, and writes it on top of the
//! winner together with a deletion of every loser, all or nothing (`write_all_or_nothing`).
//!
//! Rules:
//! - If the doc moved on meanwhile (another write made the winner or a loser a non-leaf, so
//!   a row is a 409), nothing was written: read again and call `merge` again, up to
//!   `MAX_ATTEMPTS` times, then answer the 409.
//! - `merge` gets the winner without `_conflicts` and the losers as full docs (with `_id`
//!   and `_rev`); what it returns is the new body. Its `_id` and `_rev` are set by Settee,
//!   so a merge that returns a loser's body still lands on the winner's branch. Anything but
//!   a JSON object is 400 `bad_request`, and nothing is written.
//! - A doc without conflicts is answered with its current winner, unwritten and unmerged.
//! - A deleted or missing doc is the 404 `get` gives.

use super::write::WriteResult;
use super::{json, Database};
use crate::error::{Error, Result};
use serde_json::{json, Value};
use std::future::Future;

/// Resolutions tried while other writes keep moving the doc on.
const MAX_ATTEMPTS: usize = 5;

/// Members that describe a revision rather than belong to a body Settee writes.
const META_MEMBERS: [&str; 6] =
    ["_rev", "_conflicts", "_deleted_conflicts", "_revisions", "_revs_info", "_local_seq"];

impl Database {
    /// Resolves with `{"ok":true,"id":…,"rev":…}`: the merged revision, or the current
    /// winner when there was nothing to resolve.
    pub async fn resolve_conflict<F, Fut>(&self, id: &str, mut merge: F) -> Result<String>
    where
        F: FnMut(Value, Vec<Value>) -> Fut,
        Fut: Future<Output = Result<Value>>,
    {
        for _ in 0..MAX_ATTEMPTS {
            let mut winner: Value = serde_json::from_str(&self.get(id, &json!({"conflicts": true})).await?)
                .map_err(|e| Error::storage(format!("get answered bad JSON: {e}")))?;
            let rev = winner["_rev"].as_str().unwrap_or_default().to_string();
            let conflicts = winner.as_object_mut().and_then(|m| m.remove("_conflicts"));
            let conflicts: Vec<String> = match conflicts {
                Some(Value::Array(revs)) => {
                    revs.into_iter().filter_map(|r| r.as_str().map(str::to_string)).collect()
                }
                _ => Vec::new(),
            };
            if conflicts.is_empty() {
                return Ok(json::to_json(&json!({"ok": true, "id": id, "rev": rev})));
            }
            let losers = self.loser_docs(id, &conflicts).await?;
            let merged = match merge(winner, losers).await? {
                Value::Object(m) => m,
                _ => return Err(Error::bad_request("merge must return the merged document, an object")),
            };
            let mut merged = merged;
            for k in META_MEMBERS {
                merged.remove(k);
            }
            merged.insert("_id".into(), Value::from(id));
            merged.insert("_rev".into(), Value::from(rev.as_str()));
            let mut docs = vec![Value::Object(merged)];
            // Every conflict is deleted, also one `open_revs` could not read: if it is no leaf
            // any more, its row is the 409 that sends the resolution round again.
            for loser in &conflicts {
                docs.push(json!({"_id": id, "_rev": loser, "_deleted": true}));
            }
            let parsed =
                docs.into_iter().map(|d| (Some(id.to_string()), self.prepare(d, true))).collect::<Vec<_>>();
            // A bad merged body (an unknown `_` member…) fails before anything is written.
            if let Some((_, Err(e))) = parsed.iter().find(|(_, p)| p.is_err()) {
                return Err(e.clone());
            }
            let rows = self.write_all_or_nothing(parsed).await?;
            match rows.iter().find_map(failure) {
                None => {}
                Some(e) if e.status == 409 => continue,
                Some(e) => return Err(e),
            }
            let new_rev = match rows.first() {
                Some(WriteResult::Ok { rev, .. }) => rev.clone(),
                _ => return Err(Error::storage("the merged revision has no result row")),
            };
            return Ok(json::to_json(&json!({"ok": true, "id": id, "rev": new_rev})));
        }
        Err(Error::conflict())
    }

    /// The losing revisions as docs; a rev that has gone meanwhile is left out.
    async fn loser_docs(&self, id: &str, revs: &[String]) -> Result<Vec<Value>> {
        let answer = self.get(id, &json!({"open_revs": revs})).await?;
        let rows: Vec<Value> = serde_json::from_str(&answer)
            .map_err(|e| Error::storage(format!("open_revs answered bad JSON: {e}")))?;
        Ok(rows.into_iter().filter_map(|mut r| r.get_mut("ok").map(Value::take)).collect())
    }
}

/// The error of a failed row.
fn failure(row: &WriteResult) -> Option<Error> {
    match row {
        WriteResult::Err { status, name, message, reason, .. } => {
            Some(Error { status: *status, name, message: message.clone(), reason: reason.clone() })
        }
        WriteResult::Ok { .. } => None,
    }
}
