//! Batched primitives for replication (`replicate::LocalPeer`), beside the JSON API.
//!
//! `bulk_get_latest` answers a whole batch of `(id, rev)` with two `get_many` reads (records,
//! then the non-winner bodies), where `bulk_get` reads once per doc. It has `_bulk_get`'s
//! `revs=true&latest=true` meaning: each rev resolves to the leaves that descend from it.

use super::read::{render_doc, Render};
use super::{keys, Database};
use crate::core::rev::Rev;
use crate::error::Result;
use std::collections::HashMap;

/// `bulk_docs_results` rows, nameable outside `db`.
pub use super::write::WriteResult;

/// One answer of [`Database::bulk_get_latest`].
#[derive(Debug, Clone, PartialEq)]
pub enum LatestRev {
    /// The doc's JSON text, with `_revisions`.
    Doc(String),
    /// The requested rev is unknown, or its leaf has no body any more.
    Missing { id: String, rev: String },
}

impl Database {
    pub async fn bulk_get_latest(&self, wanted: &[(String, String)]) -> Result<Vec<LatestRev>> {
        self.check_open()?;
        let mut ids: Vec<&str> = wanted.iter().map(|(id, _)| id.as_str()).collect();
        ids.sort_unstable();
        ids.dedup();
        let records: HashMap<&str, _> = ids.iter().copied().zip(self.records(&ids).await?).collect();

        // Resolve each request to (id, leaf); note which bodies are not inline.
        let mut resolved: Vec<(usize, Option<Rev>)> = Vec::new();
        let mut body_keys: Vec<Vec<u8>> = Vec::new();
        let mut body_slot: HashMap<(usize, Rev), usize> = HashMap::new();
        for (i, (id, rev)) in wanted.iter().enumerate() {
            let record = records.get(id.as_str()).and_then(Option::as_ref);
            let leaves = match (record, Rev::parse(rev)) {
                (Some(r), Ok(rev)) => r.meta.tree.latest(&rev),
                _ => Vec::new(),
            };
            if leaves.is_empty() {
                resolved.push((i, None));
            }
            for leaf in leaves {
                let record = record.expect("leaves come from a record");
                let inline =
                    record.meta.tree.winner().is_some_and(|w| w.rev == leaf) && record.winner_body.is_some();
                if !inline && !body_slot.contains_key(&(i, leaf.clone())) {
                    body_slot.insert((i, leaf.clone()), body_keys.len());
                    body_keys.push(keys::body(id, &leaf.to_string()));
                }
                resolved.push((i, Some(leaf)));
            }
        }
        let bodies = if body_keys.is_empty() { Vec::new() } else { self.kv.get_many(&body_keys).await? };

        let render = Render { revs: true, ..Render::default() };
        let out = resolved
            .into_iter()
            .map(|(i, leaf)| {
                let (id, rev) = &wanted[i];
                let missing = || LatestRev::Missing { id: id.clone(), rev: rev.clone() };
                let Some(leaf) = leaf else { return missing() };
                let record = records[id.as_str()].as_ref().expect("resolved from a record");
                let body = match body_slot.get(&(i, leaf.clone())) {
                    Some(&slot) => bodies[slot].as_deref(),
                    None => record.winner_body.as_deref(),
                };
                match body {
                    Some(b) => LatestRev::Doc(render_doc(id, record, &leaf, b, render)),
                    None => missing(),
                }
            })
            .collect();
        Ok(out)
    }
}
