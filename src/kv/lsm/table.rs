//! Format-2 chunks: data blocks, a block index and a Bloom filter, so a point read decodes one
//! block of ~`BLOCK_BYTES` instead of the whole ~256 KiB record (as LevelDB's tables do).
//!
//! Layout of a format-2 record of `L` bytes:
//!
//! ```text
//! 0..3      b"SC", 2
//! 3..I      data blocks, back to back: entries as in format 1 (see `chunk`), except that the
//!           first entry of every block shares no bytes with the key before it (a restart), so
//!           a block decodes on its own
//! I..F      index: varint block count, then per block its byte length (varint) and its first
//!           key (varint length, bytes); lengths add up to I − 3, first keys strictly increase
//! F..L−8    Bloom filter over every key of the chunk, tombstones included (see `bloom`)
//! L−8..L    I, then F, each a u32 little-endian
//! ```
//!
//! A `Table` is what a cache keeps for point reads: the record as read (shared, never copied)
//! plus the parsed index. A get checks the filter, finds the one block whose span may hold the
//! key and walks it. Scans and merges still decode whole chunks (`Chunk::decode`), from the same
//! shared record when the cache has its `Table`. Damage is a `corruption` error, never a panic:
//! `open` checks the layout and the index, a lookup checks the block it walks.

use super::bloom;
use super::varint::{self, Reader};
use crate::error::{Error, Result};
use crate::kv::SharedBytes;
use std::cell::Cell;
use std::rc::Rc;

pub const FORMAT: u8 = 2;
/// Target size of a data block. Point reads walk one block: ~20 small docs at 4 KiB.
pub const BLOCK_BYTES: usize = 4 << 10;
const FOOTER: usize = 8;

/// Where a format-2 record's parts lie, checked against its length.
pub struct Layout {
    /// Block `i` spans `bounds[i]..bounds[i + 1]`.
    pub bounds: Vec<u32>,
    /// Block `i`'s first key is `firsts[first_at[i]..first_at[i + 1]]`.
    firsts: Vec<u8>,
    first_at: Vec<u32>,
    /// The filter, `k` byte included.
    filter: std::ops::Range<usize>,
}

/// The Bloom filter of format-2 record `raw` (its `k` byte, then bits), read from the footer
/// alone; `None` for an older record or a footer that does not hold together (whoever reads the
/// chunk next reports the damage).
pub fn filter_of(raw: &[u8]) -> Option<&[u8]> {
    let len = raw.len();
    if !Table::is_format_2(raw) || len < 3 + FOOTER {
        return None;
    }
    let word = |at: usize| u32::from_le_bytes(raw[at..at + 4].try_into().expect("4 bytes")) as usize;
    let (index, filter) = (word(len - FOOTER), word(len - FOOTER + 4));
    let sane = 3 <= index && index <= filter && filter + 2 <= len - FOOTER;
    let k = *raw.get(filter)?;
    (sane && k != 0 && k <= bloom::MAX_PROBES).then(|| &raw[filter..len - FOOTER])
}

impl Layout {
    pub fn parse(name: &str, raw: &[u8]) -> Result<Layout> {
        Self::parse_part(name, raw, 0, raw.len())
    }

    /// Where the index starts, read from the footer in `tail` (the last bytes of a record of
    /// `len` bytes); `None` if `tail` is too short to hold the footer.
    pub fn index_start(tail: &[u8], len: usize) -> Option<usize> {
        let at = tail.len().checked_sub(FOOTER)?;
        (len >= 3 + FOOTER)
            .then(|| u32::from_le_bytes(tail[at..at + 4].try_into().expect("4 bytes")) as usize)
    }

    /// Parses the layout from `part`, the bytes `base..len` of a record of `len` bytes, which
    /// must hold its index, filter and footer (`base` at most `index_start`).
    pub fn parse_part(name: &str, part: &[u8], base: usize, len: usize) -> Result<Layout> {
        let bad = |what: String| Error::corruption(format!("{name}: {what}"));
        if len < 3 + FOOTER || u32::try_from(len).is_err() || base + part.len() != len {
            return Err(bad(format!("format 2 record of {len} bytes")));
        }
        let word = |at: usize| {
            u32::from_le_bytes(part[at - base..at - base + 4].try_into().expect("4 bytes")) as usize
        };
        let (index, filter) = (word(len - FOOTER), word(len - FOOTER + 4));
        if !(3 <= index && index <= filter && filter + 2 <= len - FOOTER && base <= index) {
            return Err(bad(format!("footer offsets {index}, {filter} out of order in {len} bytes")));
        }
        let k = part[filter - base];
        if k == 0 || k > bloom::MAX_PROBES {
            return Err(bad(format!("filter with {k} probes at byte {filter}")));
        }
        let mut r = Reader::new(&part[..filter - base], index - base);
        let named = |e| varint::name_record(e, &format!("{name}: index"));
        let n = r.len().map_err(named)?;
        let mut bounds = Vec::with_capacity(n.min(len / 2) + 1);
        let mut firsts = Vec::new();
        let mut first_at = Vec::with_capacity(n.min(len / 2) + 1);
        bounds.push(3u32);
        first_at.push(0u32);
        let mut end = 3usize;
        for i in 0..n {
            let at = r.pos + base;
            let size = r.len().map_err(named)?;
            let key = r.bytes().map_err(named)?;
            end = end.checked_add(size).filter(|&e| e <= index && size > 0).ok_or_else(|| {
                bad(format!("index entry at byte {at}: block of {size} bytes past the index"))
            })?;
            if i > 0 && key <= &firsts[first_at[i - 1] as usize..] {
                return Err(bad(format!("index entry at byte {at} is not above the one before")));
            }
            firsts.extend_from_slice(key);
            bounds.push(end as u32);
            first_at.push(firsts.len() as u32);
        }
        if r.pos + base != filter || end != index {
            return Err(bad(format!(
                "index ends at byte {} and blocks at {end}, not {filter} and {index}",
                r.pos + base
            )));
        }
        Ok(Layout { bounds, firsts, first_at, filter: filter..len - FOOTER })
    }

    /// The one block that may hold `key`: the last whose first key is at most `key`.
    pub fn block_for(&self, key: &[u8]) -> Option<usize> {
        let (mut lo, mut hi) = (0, self.blocks());
        while lo < hi {
            let mid = (lo + hi) / 2;
            if self.first(mid) <= key {
                lo = mid + 1;
            } else {
                hi = mid;
            }
        }
        lo.checked_sub(1)
    }

    pub fn blocks(&self) -> usize {
        self.bounds.len() - 1
    }

    pub fn first(&self, i: usize) -> &[u8] {
        &self.firsts[self.first_at[i] as usize..self.first_at[i + 1] as usize]
    }

    pub fn filter_range(&self) -> std::ops::Range<usize> {
        self.filter.clone()
    }

    /// The filter's bytes in `raw`.
    pub fn filter<'a>(&self, raw: &'a [u8]) -> &'a [u8] {
        &raw[self.filter.clone()]
    }

    fn mem_size(&self) -> usize {
        self.bounds.capacity() * 4 + self.first_at.capacity() * 4 + self.firsts.capacity()
    }
}

/// A format-2 chunk ready for point reads; immutable, shared by the cache and readers.
pub struct Table {
    id: u64,
    raw: Rc<Vec<u8>>,
    layout: Layout,
    /// Blocks walked so far, for tests and diagnostics.
    blocks_read: Cell<u64>,
}

/// What a chunk says of a key: nothing (`None`), a tombstone (`Some(None)`), or a value.
pub type Found = Option<Option<SharedBytes>>;

impl Table {
    /// Whether `raw` is a format-2 record (else it is older, or damage `Chunk::decode` names).
    pub fn is_format_2(raw: &[u8]) -> bool {
        raw.len() >= 3 && &raw[..2] == b"SC" && raw[2] == FORMAT
    }

    /// Parses the footer and index of format-2 chunk `id`; the blocks are checked as read.
    pub fn open(id: u64, raw: Rc<Vec<u8>>) -> Result<Table> {
        let layout = Layout::parse(&format!("LSM chunk {id}"), &raw)?;
        Ok(Table { id, raw, layout, blocks_read: Cell::new(0) })
    }

    pub fn raw(&self) -> &Rc<Vec<u8>> {
        &self.raw
    }

    pub fn blocks_read(&self) -> u64 {
        self.blocks_read.get()
    }

    /// Bytes of wasm memory this table holds, for the cache's budget.
    pub fn mem_size(&self) -> usize {
        self.raw.capacity() + self.layout.mem_size() + 64
    }

    /// The entry for `key`: filter, then the one block whose span may hold it.
    pub fn lookup(&self, key: &[u8]) -> Result<Found> {
        let l = &self.layout;
        if l.blocks() == 0 || !bloom::may_contain(l.filter(&self.raw), bloom::hash(key)) {
            return Ok(None);
        }
        let Some(b) = l.block_for(key) else { return Ok(None) };
        self.blocks_read.set(self.blocks_read.get() + 1);
        let (start, end) = (l.bounds[b] as usize, l.bounds[b + 1] as usize);
        walk(&format!("LSM chunk {}", self.id), &self.raw, start..end, 0, key)
    }
}

/// A format-2 chunk's index and filter without its blocks: what a get keeps of a chunk where
/// the store reads parts of records (files), so that a get reads one block, not the chunk.
pub struct Sparse {
    id: u64,
    layout: Layout,
    filter: Box<[u8]>,
}

/// How many bytes from a record's end a first read takes, hoping to get the index, filter and
/// footer at once (~1.7 KiB of index and ~1.6 KiB of filter for a 256 KiB chunk of small docs).
pub const TAIL_GUESS: usize = 8 << 10;

impl Sparse {
    /// From `part`, the bytes `base..len` of chunk `id`'s record (see `Layout::parse_part`).
    pub fn open(id: u64, part: &[u8], base: usize, len: usize) -> Result<Sparse> {
        let layout = Layout::parse_part(&format!("LSM chunk {id}"), part, base, len)?;
        let f = layout.filter_range();
        let filter = part[f.start - base..f.end - base].into();
        Ok(Sparse { id, layout, filter })
    }

    pub fn filter(&self) -> &[u8] {
        &self.filter
    }

    /// The byte span of the one block that may hold `key`, unless the filter rules it out.
    pub fn block_for(&self, key: &[u8]) -> Option<std::ops::Range<usize>> {
        if !bloom::may_contain(&self.filter, bloom::hash(key)) {
            return None;
        }
        let b = self.layout.block_for(key)?;
        Some(self.layout.bounds[b] as usize..self.layout.bounds[b + 1] as usize)
    }

    /// The entry for `key` in `block`, the bytes of the span `block_for` gave.
    pub fn lookup_in(&self, block: Rc<Vec<u8>>, span: std::ops::Range<usize>, key: &[u8]) -> Result<Found> {
        let name = format!("LSM chunk {}", self.id);
        if block.len() != span.len() {
            return Err(Error::corruption(format!(
                "{name}: block at byte {} is {} bytes, not {}",
                span.start,
                block.len(),
                span.len()
            )));
        }
        walk(&name, &block, 0..span.len(), span.start, key)
    }

    pub fn mem_size(&self) -> usize {
        self.layout.mem_size() + self.filter.len() + 64
    }
}

/// Walks the block at `span` of `raw` entry by entry until `key` or a key above it. `base`:
/// where `raw` starts in its record, for the byte positions errors name.
fn walk(
    name: &str,
    raw: &Rc<Vec<u8>>,
    span: std::ops::Range<usize>,
    base: usize,
    key: &[u8],
) -> Result<Found> {
    let start = span.start;
    let mut r = Reader::new(&raw[..span.end], start);
    let mut cur: Vec<u8> = Vec::with_capacity(key.len() + 16);
    while !r.at_end() {
        let at = r.pos;
        let byte = at + base;
        let entry = |e| varint::name_record(e, &format!("{name}: entry at byte {byte}"));
        let shared = r.len().map_err(entry)?;
        let suffix = r.bytes().map_err(entry)?;
        if shared > cur.len() || (at == start && shared > 0) {
            return Err(Error::corruption(format!(
                "{name}: entry at byte {byte} shares {shared} bytes with a previous key of {}",
                if at == start { 0 } else { cur.len() }
            )));
        }
        cur.truncate(shared);
        cur.extend_from_slice(suffix);
        let tag = r.varint().map_err(entry)?;
        let value = if tag == 0 {
            None
        } else {
            let n = usize::try_from(tag - 1).unwrap_or(usize::MAX);
            let from = r.pos;
            r.take(n).map_err(entry)?;
            Some(from..from + n)
        };
        match cur.as_slice().cmp(key) {
            std::cmp::Ordering::Less => continue,
            std::cmp::Ordering::Equal => return Ok(Some(value.map(|v| SharedBytes::new(raw.clone(), v)))),
            std::cmp::Ordering::Greater => return Ok(None),
        }
    }
    Ok(None)
}

#[cfg(test)]
mod tests {
    use super::super::chunk::Splitter;
    use super::*;

    fn table(n: usize, target: usize) -> Table {
        let mut s = Splitter::new(target);
        for i in 0..n {
            let v = format!("value {i}").repeat(5);
            s.push(format!("doc/{:06}", i * 2).as_bytes(), (i % 7 != 3).then_some(v.as_bytes()));
        }
        let mut chunks = s.finish();
        assert_eq!(chunks.len(), 1);
        Table::open(9, Rc::new(chunks.remove(0).bytes)).unwrap()
    }

    #[test]
    fn a_get_walks_one_block_and_finds_values_and_tombstones() {
        let t = table(2000, 1 << 20);
        assert!(t.layout.blocks() > 20, "{} blocks", t.layout.blocks());
        for i in [0usize, 1, 500, 1999] {
            let want = (i % 7 != 3).then(|| format!("value {i}").repeat(5));
            let got = t.lookup(format!("doc/{:06}", i * 2).as_bytes()).unwrap();
            assert_eq!(got.map(|v| v.map(|v| v.to_vec())), Some(want.map(String::into_bytes)), "key {i}");
        }
        assert_eq!(t.blocks_read(), 4, "one block per get");
    }

    #[test]
    fn a_get_of_an_absent_key_reads_no_block_when_the_filter_says_no() {
        let t = table(2000, 1 << 20);
        let absent: Vec<String> = (0..2000).map(|i| format!("doc/{:06}", i * 2 + 1)).collect();
        for k in &absent {
            assert!(t.lookup(k.as_bytes()).unwrap().is_none());
        }
        // The filter lets ~1% through; each of those walks one block and finds nothing.
        assert!(t.blocks_read() < 60, "{} blocks read for 2000 absent keys", t.blocks_read());
        assert!(t.lookup(b"a").unwrap().is_none(), "below the first key");
        assert!(t.lookup(b"z").unwrap().is_none(), "above the last key");
    }

    #[test]
    fn a_damaged_index_or_footer_is_a_corruption_error_naming_the_chunk() {
        let good = table(300, 1 << 20).raw.to_vec();
        let open = |raw: Vec<u8>| Table::open(4, Rc::new(raw)).err().expect("an error");
        let mut short = good.clone();
        short.truncate(good.len() - 1);
        assert!(open(short).message.starts_with("corrupt LSM chunk 4: footer offsets"));
        let mut swapped = good.clone();
        let n = good.len();
        swapped.copy_within(n - 4..n, n - 8);
        assert_eq!(open(swapped).name, "corruption");
        let mut probes = good.clone();
        let filter = u32::from_le_bytes(good[n - 4..].try_into().unwrap()) as usize;
        probes[filter] = 200;
        assert!(open(probes).message.contains("probes"));
        assert_eq!(open(b"SC\x02".to_vec()).message, "corrupt LSM chunk 4: format 2 record of 3 bytes");
    }
}
