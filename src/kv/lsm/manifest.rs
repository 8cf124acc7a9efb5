//! The manifest: the one record that says which chunks are live.
//!
//! Chunks are grouped into sorted runs, newest first. Within a run chunks do not overlap and are
//! ordered by key, so a `get` reads at most one chunk per run and a range scan reads only the
//! chunks whose `[first, last]` overlaps its range.
//!
//! Encoding: the fixed header that `records::manifest_version` reads (magic, format u32 LE,
//! version u64 LE), then varints: data_version, epoch, next_id, run count, and per run its id,
//! chunk count and per chunk id, bytes, entries, tombstones, first key, last key.
//!
//! - `version` grows with every commit (writes and compactions) and is what commits are
//!   conditioned on. `data_version` grows only with writes: a compaction changes the layout,
//!   never the contents, so a writer whose snapshot differs only by compactions may retry.
//! - `epoch` is random per database incarnation. Chunk ids restart after `destroy`, so a handle
//!   that sees a new epoch must forget its cached chunks.
//! - `FORMAT` is the on-disk format; `decode` upgrades older formats as they appear and refuses
//!   newer ones (written by a later Settee) instead of misreading them.
//!   - 1: chunks of format 1 (entries only, see `chunk`).
//!   - 2: the manifest's layout is unchanged; chunks may be of format 2 (blocks, block index,
//!     Bloom filter: see `table`), which a Settee reading up to 1 cannot read, so it must
//!     refuse the database rather than call its new chunks corrupt. A database of format 1
//!     opens as it is; its chunks stay format 1 until a merge rewrites them.

use super::varint::{self, Reader};
use crate::error::{Error, Result};
use crate::kv::records::MANIFEST_MAGIC;
use std::ops::Bound;

pub const FORMAT: u32 = 2;

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ChunkMeta {
    pub id: u64,
    pub bytes: u64,
    pub entries: u64,
    pub tombstones: u64,
    pub first: Vec<u8>,
    pub last: Vec<u8>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Run {
    pub id: u64,
    pub chunks: Vec<ChunkMeta>,
}

impl Run {
    pub fn bytes(&self) -> u64 {
        self.chunks.iter().map(|c| c.bytes).sum()
    }

    pub fn tombstones(&self) -> u64 {
        self.chunks.iter().map(|c| c.tombstones).sum()
    }

    /// The chunk whose key span holds `key`, if any.
    pub fn chunk_for(&self, key: &[u8]) -> Option<&ChunkMeta> {
        let i = self.chunks.partition_point(|c| c.last.as_slice() < key);
        self.chunks.get(i).filter(|c| c.first.as_slice() <= key)
    }

    /// Whether any chunk's span meets `[first, last]`.
    pub fn overlaps(&self, first: &[u8], last: &[u8]) -> bool {
        let i = self.chunks.partition_point(|c| c.last.as_slice() < first);
        self.chunks.get(i).is_some_and(|c| c.first.as_slice() <= last)
    }

    /// The chunks overlapping `[start, end]`, in key order.
    pub fn chunks_in(&self, start: &Bound<Vec<u8>>, end: &Bound<Vec<u8>>) -> &[ChunkMeta] {
        let lo = self.chunks.partition_point(|c| match start {
            Bound::Included(s) => c.last < *s,
            Bound::Excluded(s) => c.last <= *s,
            Bound::Unbounded => false,
        });
        let hi = self.chunks.partition_point(|c| match end {
            Bound::Included(e) => c.first <= *e,
            Bound::Excluded(e) => c.first < *e,
            Bound::Unbounded => true,
        });
        &self.chunks[lo..hi.max(lo)]
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Manifest {
    pub version: u64,
    pub data_version: u64,
    /// 0 while nothing is on disk.
    pub epoch: u64,
    pub next_id: u64,
    pub runs: Vec<Run>,
}

pub fn chunk_key(id: u64) -> String {
    format!("chunk/{id:016x}")
}

impl Manifest {
    pub fn empty() -> Self {
        Manifest { next_id: 1, ..Default::default() }
    }

    pub fn chunk_count(&self) -> usize {
        self.runs.iter().map(|r| r.chunks.len()).sum()
    }

    pub fn encode(&self) -> Vec<u8> {
        let mut out = Vec::with_capacity(64 + self.chunk_count() * 48);
        out.extend_from_slice(MANIFEST_MAGIC);
        out.extend_from_slice(&FORMAT.to_le_bytes());
        out.extend_from_slice(&self.version.to_le_bytes());
        for v in [self.data_version, self.epoch, self.next_id, self.runs.len() as u64] {
            varint::put(&mut out, v);
        }
        for run in &self.runs {
            varint::put(&mut out, run.id);
            varint::put(&mut out, run.chunks.len() as u64);
            for c in &run.chunks {
                for v in [c.id, c.bytes, c.entries, c.tombstones] {
                    varint::put(&mut out, v);
                }
                varint::put_bytes(&mut out, &c.first);
                varint::put_bytes(&mut out, &c.last);
            }
        }
        out
    }

    pub fn decode(bytes: &[u8]) -> Result<Manifest> {
        let version = crate::kv::records::manifest_version(Some(bytes))?;
        let format = u32::from_le_bytes(bytes[4..8].try_into().expect("4 bytes"));
        match format {
            1 | 2 => Self::decode_v1(version, bytes),
            f if f > FORMAT => Err(Error::storage(format!(
                "database format {f} was written by a newer Settee (this one reads up to {FORMAT})"
            ))),
            f => Err(Error::corruption(format!("manifest: unknown database format {f}"))),
        }
    }

    fn decode_v1(version: u64, bytes: &[u8]) -> Result<Manifest> {
        Self::read_v1(version, bytes).map_err(|e| varint::name_record(e, "manifest"))
    }

    fn read_v1(version: u64, bytes: &[u8]) -> Result<Manifest> {
        let mut r = Reader::new(bytes, 16);
        let data_version = r.varint()?;
        let epoch = r.varint()?;
        let next_id = r.varint()?;
        let run_count = r.len()?;
        let mut runs = Vec::with_capacity(run_count.min(1024));
        for _ in 0..run_count {
            let id = r.varint()?;
            let n = r.len()?;
            let mut chunks = Vec::with_capacity(n.min(1 << 16));
            for _ in 0..n {
                chunks.push(ChunkMeta {
                    id: r.varint()?,
                    bytes: r.varint()?,
                    entries: r.varint()?,
                    tombstones: r.varint()?,
                    first: r.bytes()?.to_vec(),
                    last: r.bytes()?.to_vec(),
                });
            }
            runs.push(Run { id, chunks });
        }
        if !r.at_end() {
            return Err(Error::corruption(format!("manifest: trailing bytes at byte {}", r.pos)));
        }
        let m = Manifest { version, data_version, epoch, next_id, runs };
        m.check()?;
        Ok(m)
    }

    /// The rules reads and writes rely on: a chunk id below `next_id` (or a new chunk would
    /// overwrite it) and listed once, and each run's chunks in key order without overlap (or a
    /// read would look in the wrong chunk and answer "missing").
    pub(super) fn check(&self) -> Result<()> {
        let bad = |what: String| Err(Error::corruption(format!("manifest: {what}")));
        let mut ids = std::collections::HashSet::new();
        for run in &self.runs {
            for (i, c) in run.chunks.iter().enumerate() {
                if c.id >= self.next_id || !ids.insert(c.id) {
                    return bad(format!(
                        "chunk {} is listed twice or is not below next id {}",
                        c.id, self.next_id
                    ));
                }
                if c.first > c.last || i > 0 && run.chunks[i - 1].last >= c.first {
                    return bad(format!("run {} has chunk {} out of key order", run.id, c.id));
                }
            }
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn meta(id: u64, first: &str, last: &str) -> ChunkMeta {
        ChunkMeta {
            id,
            bytes: 100,
            entries: 3,
            tombstones: 1,
            first: first.as_bytes().to_vec(),
            last: last.as_bytes().to_vec(),
        }
    }

    #[test]
    fn manifest_round_trips_and_exposes_its_version_in_the_header() {
        let m = Manifest {
            version: 42,
            data_version: 40,
            epoch: 7,
            next_id: 9,
            runs: vec![Run { id: 8, chunks: vec![meta(3, "a", "c"), meta(4, "d", "f")] }],
        };
        let bytes = m.encode();
        assert_eq!(crate::kv::records::manifest_version(Some(&bytes)).unwrap(), 42);
        assert_eq!(Manifest::decode(&bytes).unwrap(), m);
    }

    #[test]
    fn a_damaged_manifest_is_a_corruption_error_naming_it() {
        let m = Manifest {
            next_id: 9,
            runs: vec![Run { id: 8, chunks: vec![meta(3, "a", "c"), meta(4, "d", "f")] }],
            ..Manifest::empty()
        };
        let bytes = m.encode();
        let e = Manifest::decode(&bytes[..bytes.len() - 1]).unwrap_err();
        assert_eq!((e.status, e.name), (500, "corruption"));
        assert!(e.message.starts_with("corrupt manifest: length 1 past the end at byte"), "{}", e.message);
        let unordered = Manifest {
            runs: vec![Run { id: 8, chunks: vec![meta(4, "d", "f"), meta(3, "a", "c")] }],
            ..m.clone()
        };
        let e = Manifest::decode(&unordered.encode()).unwrap_err();
        assert_eq!(e.message, "corrupt manifest: run 8 has chunk 3 out of key order");
        let reused = Manifest { next_id: 4, ..m };
        assert!(Manifest::decode(&reused.encode()).unwrap_err().message.contains("chunk 4"));
        assert_eq!(Manifest::decode(b"STMX").unwrap_err().message, "corrupt manifest: bad header");
    }

    #[test]
    fn a_newer_format_is_refused_rather_than_misread() {
        let mut bytes = Manifest::empty().encode();
        bytes[4..8].copy_from_slice(&(FORMAT + 1).to_le_bytes());
        assert!(Manifest::decode(&bytes).unwrap_err().message.contains("newer Settee"));
    }

    #[test]
    fn runs_locate_chunks_by_key_and_by_range() {
        let run = Run { id: 1, chunks: vec![meta(1, "b", "d"), meta(2, "f", "h"), meta(3, "j", "l")] };
        assert_eq!(run.chunk_for(b"c").map(|c| c.id), Some(1));
        assert_eq!(run.chunk_for(b"e").map(|c| c.id), None);
        assert_eq!(run.chunk_for(b"a").map(|c| c.id), None);
        assert_eq!(run.chunk_for(b"l").map(|c| c.id), Some(3));
        let ids = |s: Bound<&str>, e: Bound<&str>| {
            let s = s.map(|x| x.as_bytes().to_vec());
            let e = e.map(|x| x.as_bytes().to_vec());
            run.chunks_in(&s, &e).iter().map(|c| c.id).collect::<Vec<_>>()
        };
        assert_eq!(ids(Bound::Included("e"), Bound::Included("j")), vec![2, 3]);
        assert_eq!(ids(Bound::Excluded("h"), Bound::Excluded("j")), Vec::<u64>::new());
        assert_eq!(ids(Bound::Unbounded, Bound::Unbounded), vec![1, 2, 3]);
        assert_eq!(ids(Bound::Included("x"), Bound::Included("a")), Vec::<u64>::new());
        assert!(run.overlaps(b"a", b"b") && run.overlaps(b"c", b"c") && run.overlaps(b"e", b"z"));
        assert!(!run.overlaps(b"e", b"ez") && !run.overlaps(b"m", b"z") && !run.overlaps(b"0", b"a"));
    }
}
