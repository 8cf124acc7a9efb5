//! Record files compressed in segments, so that a part of a record (a chunk's block, its index)
//! is read and decompressed without the rest.
//!
//! A record of `L` bytes is cut into segments of `SEGMENT` bytes (the last one shorter); each
//! is compressed on its own with LZ4 (block format) and stored as is where that does not make
//! it smaller. Layout:
//!
//! ```text
//! 0..4        b"SZP1"
//! 4..8        L (u32 LE)
//! 8..12       segment count n (u32 LE)
//! 12..12+4n   per segment its stored length (u32 LE); the top bit set: stored uncompressed
//! then        the segments, back to back
//! ```
//!
//! The table comes first so that a reader that knows nothing of a file reads its head once
//! (`HEAD_GUESS` bytes hold the table of any record up to ~1 MiB) and then exactly the
//! segments a range needs. Files written before packing hold the record itself (an LSM chunk
//! starts with `SC`, never with the magic): `Layout::Plain`.
//!
//! Damage (a table that does not add up, a segment that does not decompress to its length)
//! is a `corruption` error naming the file, never a panic.

use crate::error::{Error, Result};

const MAGIC: &[u8; 4] = b"SZP1";
/// Uncompressed bytes per segment: an LSM block (~4 KiB) spans one or two.
pub const SEGMENT: usize = 4 << 10;
/// Bytes a first read of an unknown file takes from its start.
pub const HEAD_GUESS: usize = 1 << 10;
const RAW: u32 = 1 << 31;
const FIXED: usize = 12;

/// Packs `record` into the file layout above.
pub fn pack(record: &[u8]) -> Vec<u8> {
    let n = record.len().div_ceil(SEGMENT);
    let mut out = Vec::with_capacity(FIXED + 4 * n + record.len() / 2 + 64);
    out.extend_from_slice(MAGIC);
    out.extend_from_slice(&(record.len() as u32).to_le_bytes());
    out.extend_from_slice(&(n as u32).to_le_bytes());
    out.resize(FIXED + 4 * n, 0);
    let mut scratch = vec![0u8; lz4_flex::block::get_maximum_output_size(SEGMENT)];
    for (i, seg) in record.chunks(SEGMENT).enumerate() {
        let stored = match lz4_flex::block::compress_into(seg, &mut scratch) {
            Ok(c) if c < seg.len() => {
                out.extend_from_slice(&scratch[..c]);
                c as u32
            }
            _ => {
                out.extend_from_slice(seg);
                seg.len() as u32 | RAW
            }
        };
        out[FIXED + 4 * i..FIXED + 4 * i + 4].copy_from_slice(&stored.to_le_bytes());
    }
    out
}

/// How a record file is laid out.
#[derive(Debug)]
pub enum Layout {
    /// The record itself (written before packing).
    Plain,
    Packed(Segments),
}

/// A packed file's table: where each segment is stored.
#[derive(Debug)]
pub struct Segments {
    len: usize,
    /// Segment `i` is stored at `bounds[i]..bounds[i + 1]` of the file.
    bounds: Vec<usize>,
    raw: Vec<bool>,
}

/// What a file's head says: its layout, or that the table needs the first `n` bytes.
pub enum Head {
    Known(Layout),
    Need(usize),
}

impl Layout {
    /// Reads the layout from the first bytes of file `name` (all of it, or at least
    /// `HEAD_GUESS`).
    pub fn from_head(name: &str, head: &[u8]) -> Result<Head> {
        if head.len() < 4 || &head[..4] != MAGIC {
            return Ok(Head::Known(Layout::Plain));
        }
        let bad = |what: &str| Error::corruption(format!("{name}: {what}"));
        let word =
            |at: usize| head.get(at..at + 4).map(|w| u32::from_le_bytes(w.try_into().expect("4 bytes")));
        let (Some(len), Some(n)) = (word(4), word(8)) else {
            return Err(bad("packed file header cut short"));
        };
        let (len, n) = (len as usize, n as usize);
        if n != len.div_ceil(SEGMENT) {
            return Err(bad(&format!("{n} segments for a record of {len} bytes")));
        }
        let table = FIXED + 4 * n;
        if head.len() < table {
            return Ok(Head::Need(table));
        }
        let mut bounds = Vec::with_capacity(n + 1);
        let mut raw = Vec::with_capacity(n);
        bounds.push(table);
        for i in 0..n {
            let w = word(FIXED + 4 * i).expect("within the table");
            let stored = (w & !RAW) as usize;
            let plain = SEGMENT.min(len - i * SEGMENT);
            if stored == 0 || (w & RAW != 0 && stored != plain) {
                return Err(bad(&format!("segment {i} stored in {stored} bytes")));
            }
            bounds.push(bounds[i] + stored);
            raw.push(w & RAW != 0);
        }
        Ok(Head::Known(Layout::Packed(Segments { len, bounds, raw })))
    }
}

impl Segments {
    /// The segments holding record bytes `start..start + len` (cut at the record's end), and the
    /// file bytes that store them.
    pub fn span(&self, start: usize, len: usize) -> (std::ops::Range<usize>, std::ops::Range<usize>) {
        let end = start.saturating_add(len).min(self.len);
        let start = start.min(end);
        let first = start / SEGMENT;
        let last = if end == start { first } else { (end - 1) / SEGMENT + 1 };
        let last = last.min(self.raw.len()).max(first);
        (first..last, self.bounds[first.min(self.raw.len())]..self.bounds[last])
    }

    /// Record bytes `start..start + len` from `stored`, the file bytes `span` gave for them.
    pub fn read(&self, name: &str, stored: &[u8], start: usize, len: usize) -> Result<Vec<u8>> {
        let (segs, file) = self.span(start, len);
        if stored.len() != file.len() {
            return Err(Error::corruption(format!(
                "{name}: {} bytes where segments {segs:?} store {}",
                stored.len(),
                file.len()
            )));
        }
        let end = start.saturating_add(len).min(self.len);
        if start >= end {
            return Ok(Vec::new());
        }
        let from = segs.start * SEGMENT;
        let mut plain = vec![0u8; (segs.end * SEGMENT).min(self.len) - from];
        for i in segs.clone() {
            let s = &stored[self.bounds[i] - file.start..self.bounds[i + 1] - file.start];
            let out = &mut plain[i * SEGMENT - from..((i + 1) * SEGMENT).min(self.len) - from];
            if self.raw[i] {
                out.copy_from_slice(s);
            } else {
                match lz4_flex::block::decompress_into(s, out) {
                    Ok(n) if n == out.len() => {}
                    _ => return Err(Error::corruption(format!("{name}: segment {i} does not decompress"))),
                }
            }
        }
        plain.truncate(end - from);
        Ok(if start == from { plain } else { plain[start - from..].to_vec() })
    }
}

/// The record in file `name`, whole (`bytes`: the whole file).
pub fn unpack(name: &str, bytes: Vec<u8>) -> Result<Vec<u8>> {
    match Layout::from_head(name, &bytes)? {
        Head::Known(Layout::Plain) => Ok(bytes),
        Head::Known(Layout::Packed(segs)) => {
            let stored = bytes.get(segs.bounds[0]..*segs.bounds.last().expect("a first bound"));
            let stored = stored.filter(|_| *segs.bounds.last().expect("a first bound") == bytes.len());
            let stored = stored.ok_or_else(|| {
                Error::corruption(format!(
                    "{name}: {} bytes, the table says {}",
                    bytes.len(),
                    segs.bounds.last().unwrap_or(&0)
                ))
            })?;
            segs.read(name, stored, 0, segs.len)
        }
        Head::Need(_) => Err(Error::corruption(format!("{name}: packed file cut short in its table"))),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn record(n: usize) -> Vec<u8> {
        (0..n).map(|i| if i % 7 == 0 { (i % 251) as u8 } else { b"{\"name\":\"doc\"}"[i % 14] }).collect()
    }

    fn packed(record: &[u8]) -> (Vec<u8>, Segments) {
        let file = pack(record);
        let Head::Known(Layout::Packed(segs)) = Layout::from_head("f", &file).unwrap() else {
            panic!("packed")
        };
        (file, segs)
    }

    #[test]
    fn a_packed_record_unpacks_whole_and_is_smaller() {
        for n in [0, 1, SEGMENT - 1, SEGMENT, SEGMENT + 1, 300_000] {
            let r = record(n);
            let file = pack(&r);
            assert_eq!(unpack("f", file.clone()).unwrap(), r, "{n} bytes");
            if n > 1000 {
                assert!(file.len() < n * 6 / 10, "{n} bytes packed into {}", file.len());
            }
        }
        // Bytes that do not compress are stored as they are.
        let noise: Vec<u8> = (0..10_000u32).map(|i| (i.wrapping_mul(2_654_435_761) >> 13) as u8).collect();
        assert_eq!(unpack("f", pack(&noise)).unwrap(), noise);
    }

    #[test]
    fn any_range_reads_only_the_segments_that_hold_it() {
        let r = record(50_000);
        let (file, segs) = packed(&r);
        for (start, len) in [(0, 10), (4090, 12), (8192, 4096), (49_990, 100), (60_000, 5), (0, 50_000)] {
            let (seg_range, bytes) = segs.span(start, len);
            assert!(seg_range.len() <= len.div_ceil(SEGMENT) + 1, "{start}+{len}: {seg_range:?}");
            let got = segs.read("f", &file[bytes], start, len).unwrap();
            let want = &r[start.min(r.len())..(start + len).min(r.len())];
            assert_eq!(got, want, "{start}+{len}");
        }
    }

    #[test]
    fn plain_files_and_damage_are_told_apart() {
        assert!(matches!(Layout::from_head("f", b"SC\x02...").unwrap(), Head::Known(Layout::Plain)));
        let file = pack(&record(20_000));
        assert!(matches!(Layout::from_head("f", &file[..14]).unwrap(), Head::Need(32)));
        let mut bad = file.clone();
        bad[8] = 9; // segment count
        assert_eq!(Layout::from_head("chunk~7", &bad).err().unwrap().name, "corruption");
        let e = unpack("chunk~7", file[..file.len() - 1].to_vec()).unwrap_err();
        assert!(e.message.starts_with("corrupt chunk~7"), "{}", e.message);
    }
}
