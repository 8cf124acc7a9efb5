//! Batched primitives for replication (`replicate::LocalPeer`), beside the JSON API.
//!
//! `bulk_get_latest` answers a whole batch of `(id, rev)` through `resolve` (two `get_many`
//! reads), with `_bulk_get`'s `revs=true&latest=true` meaning: each rev resolves to the leaves
//! that descend from it.

use super::read::Render;
use super::resolve::{Answer, Revs};
use super::Database;
use crate::error::Result;

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
}
