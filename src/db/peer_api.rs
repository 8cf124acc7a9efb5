//! Batched primitives for replication (`replicate::LocalPeer`), beside the JSON API.
//!
//! `bulk_docs_replicated` writes `new_edits: false` docs whose stubs' data a replication
//! fetched, by digest: that data is stored with the batch, and a stub with neither data sent
//! nor data stored fails that doc with 412 `missing_stub`.
//!
//! `bulk_get_latest` answers a whole batch of `(id, rev)` through `resolve` (two `get_many`
//! reads), with `_bulk_get`'s `revs=true&latest=true` meaning: each rev resolves to the leaves
//! that descend from it.

use super::attachments::{self, NewAttachment};
use super::read::Render;
use super::resolve::{Answer, Revs};
use super::Database;
use crate::error::Result;
use crate::kv::blobs::AttData;
use serde_json::Value;
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
        let requests: Vec<(&str, Revs)> =
            wanted.iter().map(|(id, rev)| (id.as_str(), Revs::One(rev))).collect();
        let answers = self.resolve_revs(&requests, true, Render { revs: true, ..Render::default() }).await?;
        let mut out = Vec::with_capacity(wanted.len());
        for ((id, rev), answer) in wanted.iter().zip(answers) {
            let missing = || LatestRev::Missing { id: id.clone(), rev: rev.clone() };
            match answer {
                None => out.push(missing()),
                Some(list) => out.extend(list.into_iter().map(|a| match a {
                    Answer::Doc(json) => LatestRev::Doc(json),
                    Answer::Missing(_) => missing(),
                })),
            }
        }
        Ok(out)
    }

    /// `new_edits: false` writes with attachment data by digest (see the module doc). The
    /// digests are trusted: the replicator checked them against the data.
    pub async fn bulk_docs_replicated(
        &self,
        docs: Vec<Value>,
        data: &HashMap<String, AttData>,
    ) -> Result<Vec<WriteResult>> {
        self.check_open()?;
        let parsed = docs
            .into_iter()
            .map(|d| {
                let raw_id = d.get("_id").and_then(Value::as_str).map(str::to_string);
                let doc = self.prepare(d, false).map(|mut p| {
                    p.from_peer = true;
                    let sent: Vec<NewAttachment> = attachments::stub_digests(&p.body)
                        .into_iter()
                        .filter(|(name, _)| !p.new_attachments.iter().any(|a| a.name == *name))
                        .filter_map(|(name, digest)| {
                            let data = data.get(digest)?.clone();
                            Some(NewAttachment { name: name.to_string(), digest: digest.to_string(), data })
                        })
                        .collect();
                    p.new_attachments.extend(sent);
                    p
                });
                (raw_id, doc)
            })
            .collect();
        self.write_parsed(parsed, false).await
    }
}
