//! `_local/` docs: no rev tree, no seq, never in changes or allDocs, never replicated.
//! Their rev is `0-N`, counting writes; a write must name the current rev, as CouchDB asks.

use super::doc::ParsedDoc;
use super::{json, keys, Database};
use crate::error::{Error, Result};
use crate::kv::WriteBatch;
use std::collections::HashMap;

/// Local docs touched by one batch: current rev number and body (None = absent).
pub(super) struct LocalPlan {
    docs: HashMap<String, Option<(u64, Vec<u8>)>>,
    dirty: Vec<String>,
}

impl LocalPlan {
    pub async fn load(db: &Database, ids: &[&str]) -> Result<LocalPlan> {
        let mut docs = HashMap::new();
        if !ids.is_empty() {
            let ks: Vec<Vec<u8>> = ids.iter().map(|id| keys::local(id)).collect();
            for (id, v) in ids.iter().zip(db.kv.get_many(&ks).await?) {
                docs.insert(id.to_string(), v.map(|b| decode(id, &b)).transpose()?);
            }
        }
        Ok(LocalPlan { docs, dirty: Vec::new() })
    }

    pub fn apply(&mut self, d: &ParsedDoc) -> Result<String> {
        let id = d.id.clone().expect("prepared");
        let current = self.docs.get(&id).cloned().flatten();
        let given = d.local_rev;
        let current_n = current.as_ref().map(|(n, _)| *n);
        // A write must name the current rev; creating needs none (or `0-0`, as some clients send).
        let ok = match (current_n, given) {
            (Some(n), Some(g)) => n == g,
            (None, None) | (None, Some(0)) => true,
            _ => false,
        };
        if !ok {
            return Err(if d.deleted && current.is_none() { Error::missing() } else { Error::conflict() });
        }
        let next = current_n.unwrap_or(0) + 1;
        self.dirty.push(id.clone());
        if d.deleted {
            self.docs.insert(id, None);
            return Ok("0-0".into());
        }
        self.docs.insert(id, Some((next, d.body_json())));
        Ok(format!("0-{next}"))
    }

    pub fn write_into(&self, batch: &mut WriteBatch) {
        for id in &self.dirty {
            match &self.docs[id] {
                Some((n, body)) => batch.put(keys::local(id), encode(*n, body)),
                None => batch.delete(keys::local(id)),
            }
        }
    }
}

fn encode(n: u64, body: &[u8]) -> Vec<u8> {
    let mut v = n.to_be_bytes().to_vec();
    v.extend_from_slice(body);
    v
}

pub(super) fn decode(id: &str, bytes: &[u8]) -> Result<(u64, Vec<u8>)> {
    let n = bytes.get(..8).and_then(|b| b.try_into().ok()).map(u64::from_be_bytes);
    let n = n.ok_or_else(|| {
        Error::corruption(format!("local doc record for id {id:?}: {} bytes, too short", bytes.len()))
    })?;
    Ok((n, bytes[8..].to_vec()))
}

impl Database {
    pub(super) async fn get_local(&self, id: &str) -> Result<String> {
        let stored = self.kv.get(&keys::local(id)).await?.ok_or_else(Error::missing)?;
        let (n, body) = decode(id, &stored)?;
        Ok(json::doc(id, &format!("0-{n}"), &body, &[]))
    }
}
