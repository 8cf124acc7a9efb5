//! `verify`: the LSM tree's integrity check, checking every chunk against the manifest.
//!
//! On one manifest snapshot it checks:
//! - the manifest's own rules (`Manifest::check`): chunk ids unique and below `next_id`, and
//!   each run's chunks in key order without overlap;
//! - every chunk it lists exists in the record store and decodes (`Chunk::decode`, which
//!   refuses keys that do not strictly increase);
//! - each chunk is the one the manifest describes: its byte length, entry and tombstone
//!   counts, and first and last keys are the ones listed. Equal end keys, with keys strictly
//!   increasing, put every key inside the chunk's span. A record cut exactly between two
//!   entries still decodes (format 1), and only these checks catch it;
//! - a format-2 chunk's Bloom filter passes every key of the chunk (gets trust it).
//!
//! Records are read from the record store, never from the chunk cache: a cached chunk
//! decoded once says nothing about the record as it is now. They are read a few at a time
//! (`BATCH`) and not cached, so a verify neither holds the database in memory nor evicts
//! the chunks readers use.
//!
//! Another handle's compaction can delete chunks of the snapshot while a verify runs. A
//! missing chunk therefore makes it refresh and, if the manifest has moved on, start over on
//! the new one, as reads do (`read::recover`). Only a chunk missing from a manifest that is
//! still current is corruption.

use super::chunk::Chunk;
use super::manifest::{chunk_key, ChunkMeta, Manifest};
use super::read::{is_missing, missing};
use super::{Lsm, MAX_ATTEMPTS};
use crate::error::{Error, Result};
use crate::kv::records::RecordStore;
use crate::kv::verify::KvReport;

/// Chunk records read per `get_many`: about 4 MiB of records at the default chunk size.
const BATCH: usize = 16;

impl<R: RecordStore + 'static> Lsm<R> {
    pub(super) async fn verify_impl(&self) -> Result<KvReport> {
        let mut attempt = 0;
        loop {
            let m = self.manifest();
            match self.verify_in(&m).await {
                Err(e) if is_missing(&e) && attempt + 1 < MAX_ATTEMPTS => {
                    if self.manifest().version == m.version && !self.refresh_inner().await? {
                        return Err(Error::corruption(format!(
                            "{}, though manifest version {} lists it",
                            e.message, m.version
                        )));
                    }
                }
                done => return done,
            }
            attempt += 1;
        }
    }

    async fn verify_in(&self, m: &Manifest) -> Result<KvReport> {
        m.check()?;
        let mut report = KvReport { runs: m.runs.len() as u64, ..KvReport::default() };
        for run in &m.runs {
            for metas in run.chunks.chunks(BATCH) {
                let keys: Vec<String> = metas.iter().map(|c| chunk_key(c.id)).collect();
                let records = self.inner.store.get_many(&keys).await?;
                for (meta, record) in metas.iter().zip(records) {
                    let Some(bytes) = record else {
                        return Err(missing(&format!(
                            "LSM chunk {} of run {}: its record is missing",
                            meta.id, run.id
                        )));
                    };
                    report.bytes += bytes.len() as u64;
                    let tombstones = check_chunk(run.id, meta, bytes)?;
                    report.chunks += 1;
                    report.entries += meta.entries;
                    report.tombstones += tombstones;
                }
            }
        }
        Ok(report)
    }
}

/// Decodes chunk `meta` of run `run` from `bytes` and compares it with what the manifest says
/// of it; returns its tombstone count.
fn check_chunk(run: u64, meta: &ChunkMeta, bytes: Vec<u8>) -> Result<u64> {
    let bad = |what: String| Err(Error::corruption(format!("LSM chunk {} of run {run}: {what}", meta.id)));
    let len = bytes.len() as u64;
    // Decoding first: its error says what is wrong inside the record, where a length that
    // differs from the manifest's would only say that something is.
    let chunk = Chunk::decode(meta.id, bytes)?;
    if chunk.is_empty() {
        return bad("no entries".into());
    }
    // Gets trust the filter: a key it lacks would read as absent.
    if let Some(k) = chunk.key_missing_from_filter() {
        return bad(format!("its Bloom filter lacks key \"{}\"", k.escape_ascii()));
    }
    let (first, last) = (chunk.key(0), chunk.key(chunk.len() - 1));
    let span = || format!("\"{}\"..\"{}\"", meta.first.escape_ascii(), meta.last.escape_ascii());
    if first < meta.first.as_slice() || last > meta.last.as_slice() {
        let stray = if first < meta.first.as_slice() { first } else { last };
        return bad(format!(
            "key \"{}\" is outside its span {} in the manifest",
            stray.escape_ascii(),
            span()
        ));
    }
    if first != meta.first.as_slice() || last != meta.last.as_slice() {
        return bad(format!(
            "its keys run \"{}\"..\"{}\", the manifest says {}",
            first.escape_ascii(),
            last.escape_ascii(),
            span()
        ));
    }
    let tombstones = (0..chunk.len()).filter(|&i| chunk.value(i).is_none()).count() as u64;
    if chunk.len() as u64 != meta.entries || tombstones != meta.tombstones {
        return bad(format!(
            "{} entries and {tombstones} tombstones, the manifest says {} and {}",
            chunk.len(),
            meta.entries,
            meta.tombstones
        ));
    }
    if len != meta.bytes {
        return bad(format!("{len} bytes, the manifest says {}", meta.bytes));
    }
    Ok(tombstones)
}

#[cfg(test)]
mod tests {
    use super::super::chunk::{encode_format_1, Splitter};
    use super::*;

    fn encoded(keys: &[&str]) -> (ChunkMeta, Vec<u8>) {
        let mut s = Splitter::new(1 << 20);
        for (i, k) in keys.iter().enumerate() {
            s.push(k.as_bytes(), (i % 2 == 0).then_some(&b"v"[..]));
        }
        let e = s.finish().remove(0);
        let meta = ChunkMeta {
            id: 7,
            bytes: e.bytes.len() as u64,
            entries: u64::from(e.entries),
            tombstones: u64::from(e.tombstones),
            first: e.first,
            last: e.last,
        };
        (meta, e.bytes)
    }

    fn message(r: Result<u64>) -> String {
        let e = r.unwrap_err();
        assert_eq!((e.status, e.name), (500, "corruption"));
        e.message
    }

    #[test]
    fn a_chunk_as_the_manifest_describes_it_passes_and_counts_its_tombstones() {
        let (meta, bytes) = encoded(&["a", "b", "c"]);
        assert_eq!(check_chunk(1, &meta, bytes).unwrap(), 1);
    }

    #[test]
    fn a_chunk_whose_keys_stray_past_its_span_names_the_stray_key() {
        let (mut meta, bytes) = encoded(&["a", "b", "c"]);
        meta.last = b"b".to_vec();
        assert_eq!(
            message(check_chunk(1, &meta, bytes)),
            r#"corrupt LSM chunk 7 of run 1: key "c" is outside its span "a".."b" in the manifest"#
        );
    }

    #[test]
    fn a_chunk_narrower_than_its_span_is_not_the_chunk_the_manifest_lists() {
        let (mut meta, bytes) = encoded(&["b", "c"]);
        meta.first = b"a".to_vec();
        assert_eq!(
            message(check_chunk(1, &meta, bytes)),
            r#"corrupt LSM chunk 7 of run 1: its keys run "b".."c", the manifest says "a".."c""#
        );
    }

    #[test]
    fn a_format_1_record_cut_between_entries_decodes_but_ends_before_its_span() {
        let (meta, _) = encoded(&["a", "b", "c"]);
        let v1 =
            |keys: &[&'static str]| encode_format_1(keys.iter().map(|k| (k.as_bytes(), Some(&b"v"[..]))));
        let (full, two) = (v1(&["a", "b", "c"]), v1(&["a", "b"]));
        assert!(full.starts_with(&two), "the cut record is a prefix of the whole one");
        assert_eq!(
            message(check_chunk(1, &meta, two)),
            r#"corrupt LSM chunk 7 of run 1: its keys run "a".."b", the manifest says "a".."c""#
        );
    }

    #[test]
    fn a_format_2_record_cut_short_is_refused_by_its_footer() {
        let (meta, full) = encoded(&["a", "b", "c"]);
        let cut = full[..full.len() - 3].to_vec();
        assert!(message(check_chunk(1, &meta, cut)).starts_with("corrupt LSM chunk 7: footer offsets"));
    }

    #[test]
    fn a_filter_that_lacks_a_key_is_corruption() {
        let (meta, mut full) = encoded(&["a", "b", "c"]);
        let n = full.len();
        let filter = u32::from_le_bytes(full[n - 4..].try_into().unwrap()) as usize;
        full[filter + 1..n - 8].fill(0);
        assert_eq!(
            message(check_chunk(1, &meta, full)),
            r#"corrupt LSM chunk 7 of run 1: its Bloom filter lacks key "a""#
        );
    }

    #[test]
    fn counts_or_a_length_other_than_the_manifests_are_corruption() {
        let (mut meta, full) = encoded(&["a", "b", "c"]);
        meta.tombstones = 0;
        assert_eq!(
            message(check_chunk(1, &meta, full.clone())),
            "corrupt LSM chunk 7 of run 1: 3 entries and 1 tombstones, the manifest says 3 and 0"
        );
        meta.tombstones = 1;
        meta.bytes += 1;
        let want =
            format!("corrupt LSM chunk 7 of run 1: {} bytes, the manifest says {}", full.len(), meta.bytes);
        assert_eq!(message(check_chunk(1, &meta, full)), want);
    }
}
