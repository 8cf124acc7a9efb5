//! `KvStore::verify`: what a store can check of its own structure, below the database's keys.
//!
//! - The LSM tree (`lsm::verify`) reads every chunk the manifest lists from the record store
//!   and checks it against the manifest: that is where a killed tab or damage on disk shows.
//! - Any other store gets `scan_check`, the trait's default: a paged scan of every key that
//!   checks they come back strictly increasing. A `BTreeMap` cannot break that, so for
//!   `MemoryKv` it is a count; it is there so that a new store gets a real check, not none.

use super::{KvStore, Range};
use crate::error::{Error, Result};
use serde::Serialize;

/// Rows per page of `scan_check`: the whole store is never in memory at once.
const PAGE: usize = 1000;

/// What a store's check saw. `runs` and `chunks` are 0 for a store without them.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize)]
pub struct KvReport {
    pub runs: u64,
    pub chunks: u64,
    /// Entries stored, tombstones and overwritten ones included (LSM), or keys (others).
    pub entries: u64,
    pub tombstones: u64,
    /// Bytes stored: chunk records (LSM), or keys plus values (others).
    pub bytes: u64,
}

/// Scans every key in pages and checks that they strictly increase across the whole store.
pub async fn scan_check<S: KvStore + ?Sized>(kv: &S) -> Result<KvReport> {
    let mut report = KvReport::default();
    let mut range = Range::all();
    let mut prev: Option<Vec<u8>> = None;
    loop {
        let page = kv.scan_shared(range.clone(), false, Some(PAGE)).await?;
        for (k, v) in &page {
            if prev.as_deref().is_some_and(|p| p >= &k[..]) {
                return Err(Error::corruption(format!(
                    "store: key \"{}\" comes after \"{}\" in a scan",
                    k.escape_ascii(),
                    prev.unwrap_or_default().escape_ascii()
                )));
            }
            prev = Some(k.to_vec());
            report.entries += 1;
            report.bytes += (k.len() + v.len()) as u64;
        }
        if !range.continue_after(&page, PAGE, false) {
            return Ok(report);
        }
    }
}
