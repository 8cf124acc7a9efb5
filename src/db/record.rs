//! `DocRecord`: what the `d` key of a doc holds.
//!
//! Encoding: a 4-byte little-endian length, the JSON of `{seq, tree}`, then the winning
//! revision's body JSON verbatim. The winner's body is stored only here (other revisions'
//! bodies live under `b` keys), so a new doc is written as one record plus its seq entry, and
//! `allDocs` / `changes` with `include_docs` read one record per doc, splicing the body bytes
//! into the output without parsing them. When the winner changes, `write` moves bodies
//! between the two places.

use crate::core::rev_tree::RevTree;
use crate::error::{Error, Result};
use serde::{Deserialize, Serialize};

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct DocMeta {
    pub seq: u64,
    pub tree: RevTree,
}

#[derive(Debug, Clone)]
pub struct DocRecord {
    pub meta: DocMeta,
    /// The winning revision's body (a JSON object), if it still has one.
    pub winner_body: Option<Vec<u8>>,
}

impl DocRecord {
    pub fn encode(&self) -> Vec<u8> {
        let meta = serde_json::to_vec(&self.meta).expect("doc meta serialises");
        let body = self.winner_body.as_deref().unwrap_or(b"");
        let mut out = Vec::with_capacity(4 + meta.len() + body.len());
        out.extend_from_slice(&(meta.len() as u32).to_le_bytes());
        out.extend_from_slice(&meta);
        out.extend_from_slice(body);
        out
    }

    pub fn decode(bytes: &[u8]) -> Result<DocRecord> {
        let corrupt = || Error::storage("corrupt doc record");
        let len = u32::from_le_bytes(bytes.get(..4).ok_or_else(corrupt)?.try_into().map_err(|_| corrupt())?);
        let meta_end = 4 + len as usize;
        let meta: DocMeta = serde_json::from_slice(bytes.get(4..meta_end).ok_or_else(corrupt)?)
            .map_err(|e| Error::storage(format!("corrupt doc record: {e}")))?;
        let body = &bytes[meta_end..];
        Ok(DocRecord { meta, winner_body: (!body.is_empty()).then(|| body.to_vec()) })
    }
}
