//! Chunks: immutable sorted runs of entries, one record each.
//!
//! Encoding, format 1 (written up to manifest format 1, still read): `b"SC"`, format byte,
//! then entries until the end of the record. An entry is `shared` (bytes of key shared with
//! the previous key), `suffix_len`, the suffix, then `tag`: 0 for a tombstone, `len + 1` for a
//! value of `len` bytes, followed by the value.
//! Keys strictly increase. Sharing prefixes matters because Settee's keys share long prefixes
//! (`doc/…`, `seq/…`).
//!
//! Format 2 (written since manifest format 2) groups the same entries into blocks of about
//! `table::BLOCK_BYTES`, each starting with a restart (no shared bytes), followed by a block
//! index and a Bloom filter: see `table`, which reads single keys from it without decoding the
//! rest. `Chunk::decode` reads both formats whole, for scans and merges.
//!
//! A chunk may be cut where the keys' first byte changes (`Splitter::split_kinds`): Settee's
//! first byte is the kind of key (doc, seq, meta…), and a chunk holding one kind only can be
//! kept as it is by a merge when no other run has keys in its span (`compact`), where a chunk
//! spanning docs *and* seqs would overlap every other batch's and be rewritten every time.
//!
//! A decoded `Chunk` keeps the record as is (values are read in place) plus one buffer of
//! whole keys and a table of offsets: a few allocations per chunk, none per entry.

use super::bloom;
use super::table::{self, Layout, BLOCK_BYTES};
use super::varint::{self, Reader};
use crate::error::{Error, Result};
use crate::kv::{Range, SharedBytes};
use std::ops::Bound;
use std::rc::Rc;

const MAGIC: &[u8; 2] = b"SC";
/// The format the `Splitter` writes.
const FORMAT: u8 = table::FORMAT;
const TOMBSTONE: u32 = u32::MAX;

/// An encoded chunk and the facts the manifest keeps about it.
pub struct Encoded {
    pub bytes: Vec<u8>,
    pub first: Vec<u8>,
    pub last: Vec<u8>,
    pub entries: u32,
    pub tombstones: u32,
}

/// Builds sorted entries into chunks of about `target` bytes.
pub struct Splitter {
    target: usize,
    buf: Vec<u8>,
    first: Vec<u8>,
    last: Vec<u8>,
    entries: u32,
    tombstones: u32,
    /// Cut before a key whose first byte differs from the chunk's, once the chunk holds this
    /// many bytes.
    split_kinds: usize,
    /// Where the current block starts in `buf`, and its first key.
    block_start: usize,
    block_first: Vec<u8>,
    /// The index so far: per finished block, its length and first key.
    index: Vec<u8>,
    blocks: u64,
    /// `bloom::hash` of every key of the chunk.
    hashes: Vec<u64>,
    done: Vec<Encoded>,
}

impl Splitter {
    pub fn new(target: usize) -> Self {
        Splitter {
            target: target.max(64),
            buf: Vec::new(),
            first: Vec::new(),
            last: Vec::new(),
            entries: 0,
            tombstones: 0,
            split_kinds: usize::MAX,
            block_start: 0,
            block_first: Vec::new(),
            index: Vec::new(),
            blocks: 0,
            hashes: Vec::new(),
            done: Vec::new(),
        }
    }

    /// Also cut where the first byte of the keys changes, if the chunk so far holds at least
    /// `min_bytes` (0: at every change).
    pub fn split_kinds(mut self, min_bytes: usize) -> Self {
        self.split_kinds = min_bytes;
        self
    }

    /// Appends an entry; keys must arrive strictly increasing.
    pub fn push(&mut self, key: &[u8], value: Option<&[u8]>) {
        if self.entries > 0 && self.buf.len() >= self.split_kinds && key.first() != self.last.first() {
            self.cut();
        }
        if self.entries == 0 {
            self.buf.clear();
            self.buf.reserve(self.target + self.target / 8);
            self.buf.extend_from_slice(MAGIC);
            self.buf.push(FORMAT);
            self.first.clear();
            self.first.extend_from_slice(key);
            self.last.clear();
            self.block_start = self.buf.len();
        }
        debug_assert!(self.entries == 0 || key > self.last.as_slice(), "keys must increase");
        let restart = self.buf.len() == self.block_start;
        if restart {
            self.block_first.clear();
            self.block_first.extend_from_slice(key);
        }
        let shared = if restart { 0 } else { self.last.iter().zip(key).take_while(|(a, b)| a == b).count() };
        varint::put(&mut self.buf, shared as u64);
        varint::put_bytes(&mut self.buf, &key[shared..]);
        match value {
            Some(v) => {
                varint::put(&mut self.buf, v.len() as u64 + 1);
                self.buf.extend_from_slice(v);
            }
            None => {
                varint::put(&mut self.buf, 0);
                self.tombstones += 1;
            }
        }
        self.last.truncate(shared);
        self.last.extend_from_slice(&key[shared..]);
        self.entries += 1;
        self.hashes.push(bloom::hash(key));
        if self.buf.len() - self.block_start >= BLOCK_BYTES {
            self.end_block();
        }
        if self.buf.len() >= self.target {
            self.cut();
        }
    }

    /// Closes the current block: its length goes in front of its first key in the index.
    fn end_block(&mut self) {
        let len = self.buf.len() - self.block_start;
        if len == 0 {
            return;
        }
        varint::put(&mut self.index, len as u64);
        varint::put_bytes(&mut self.index, &self.block_first);
        self.blocks += 1;
        self.block_start = self.buf.len();
    }

    fn cut(&mut self) {
        if self.entries == 0 {
            return;
        }
        self.end_block();
        let index_at = self.buf.len() as u32;
        varint::put(&mut self.buf, self.blocks);
        self.buf.extend_from_slice(&self.index);
        let filter_at = self.buf.len() as u32;
        bloom::build(&self.hashes, &mut self.buf);
        self.buf.extend_from_slice(&index_at.to_le_bytes());
        self.buf.extend_from_slice(&filter_at.to_le_bytes());
        self.index.clear();
        self.hashes.clear();
        self.blocks = 0;
        let mut bytes = std::mem::take(&mut self.buf);
        // `push` reserved a chunk and an eighth; whatever is left over goes back, as the chunk
        // lives on in the cache, which counts capacity (a full chunk kept ~12% spare, and the
        // cache held that many fewer chunks).
        if bytes.capacity() > bytes.len() + bytes.len() / 64 {
            bytes.shrink_to_fit();
        }
        self.done.push(Encoded {
            bytes,
            first: std::mem::take(&mut self.first),
            last: self.last.clone(),
            entries: self.entries,
            tombstones: self.tombstones,
        });
        self.entries = 0;
        self.tombstones = 0;
    }

    pub fn finish(mut self) -> Vec<Encoded> {
        self.take()
    }

    /// The chunks done so far, the one in progress included (cut short); the splitter goes on
    /// with a fresh chunk.
    pub fn take(&mut self) -> Vec<Encoded> {
        self.cut();
        std::mem::take(&mut self.done)
    }
}

#[derive(Clone, Copy)]
struct Entry {
    key: u32,
    key_len: u32,
    val: u32,
    val_len: u32,
}

/// A decoded chunk; immutable, shared through `Rc` by the cache and by readers. The record
/// and the key buffer are shared (`Rc`) so that readers can hold keys and values without
/// copying them (`key_shared`, `value_shared`).
pub struct Chunk {
    raw: Rc<Vec<u8>>,
    keys: Rc<Vec<u8>>,
    entries: Vec<Entry>,
    /// Where a format-2 record keeps its Bloom filter.
    filter: Option<std::ops::Range<usize>>,
}

impl Chunk {
    /// Decodes the record of chunk `id`; damage is a `corruption` error naming the chunk, the
    /// damage and the byte it is at.
    pub fn decode(id: u64, raw: Vec<u8>) -> Result<Chunk> {
        Self::decode_shared(id, Rc::new(raw))
    }

    /// As `decode`, keeping the record where it is (a cached `Table`'s, for one).
    pub fn decode_shared(id: u64, raw: Rc<Vec<u8>>) -> Result<Chunk> {
        let name = format!("LSM chunk {id}");
        if raw.len() < 3 || &raw[..2] != MAGIC {
            return Err(Error::corruption(format!("{name}: bad magic")));
        }
        let mut d = Decoder {
            name: &name,
            keys: Vec::with_capacity(raw.len() / 2),
            entries: Vec::with_capacity(raw.len() / 64),
            prev: (0, 0),
        };
        let mut filter = None;
        match raw[2] {
            1 => d.block(&raw, 3, raw.len(), None)?,
            table::FORMAT => {
                let layout = Layout::parse(&name, &raw)?;
                for b in 0..layout.blocks() {
                    let (start, end) = (layout.bounds[b] as usize, layout.bounds[b + 1] as usize);
                    d.block(&raw, start, end, Some(layout.first(b)))?;
                }
                filter = Some(layout.filter_range());
            }
            f => return Err(Error::corruption(format!("{name}: unknown chunk format {f}"))),
        }
        // Both were reserved for the worst case (keys half the record, an entry per 64 bytes):
        // for Settee's docs that was ~2× what they hold, and the cache counts capacity.
        d.keys.shrink_to_fit();
        d.entries.shrink_to_fit();
        Ok(Chunk { raw, keys: Rc::new(d.keys), entries: d.entries, filter })
    }

    pub fn len(&self) -> usize {
        self.entries.len()
    }

    /// The record this chunk was decoded from.
    pub fn raw(&self) -> &Rc<Vec<u8>> {
        &self.raw
    }

    /// The first key the chunk's Bloom filter would wrongly call absent (a get would miss
    /// it), if any. Not part of `decode`: hashing every key would slow every scan, and only
    /// `verify` needs to know.
    pub fn key_missing_from_filter(&self) -> Option<&[u8]> {
        let filter = &self.raw[self.filter.clone()?];
        (0..self.len()).map(|i| self.key(i)).find(|k| !bloom::may_contain(filter, bloom::hash(k)))
    }

    pub fn is_empty(&self) -> bool {
        self.entries.is_empty()
    }

    pub fn key(&self, i: usize) -> &[u8] {
        let e = self.entries[i];
        &self.keys[e.key as usize..(e.key + e.key_len) as usize]
    }

    /// The value, or `None` for a tombstone.
    pub fn value(&self, i: usize) -> Option<&[u8]> {
        let e = self.entries[i];
        (e.val_len != TOMBSTONE).then(|| &self.raw[e.val as usize..(e.val + e.val_len) as usize])
    }

    /// `key`, as a view into this chunk's key buffer rather than a copy.
    pub fn key_shared(&self, i: usize) -> SharedBytes {
        let e = self.entries[i];
        SharedBytes::new(self.keys.clone(), e.key as usize..(e.key + e.key_len) as usize)
    }

    /// `value`, as a view into this chunk's record rather than a copy.
    pub fn value_shared(&self, i: usize) -> Option<SharedBytes> {
        let e = self.entries[i];
        (e.val_len != TOMBSTONE)
            .then(|| SharedBytes::new(self.raw.clone(), e.val as usize..(e.val + e.val_len) as usize))
    }

    /// The index of `key`, if this chunk holds an entry (value or tombstone) for it.
    pub fn find(&self, key: &[u8]) -> Option<usize> {
        let i = self.partition(|k| k < key);
        (i < self.len() && self.key(i) == key).then_some(i)
    }

    /// The half-open span of entry indices whose keys lie in `range`.
    pub fn span(&self, range: &Range) -> (usize, usize) {
        let lo = match &range.start {
            Bound::Included(s) => self.partition(|k| k < s.as_slice()),
            Bound::Excluded(s) => self.partition(|k| k <= s.as_slice()),
            Bound::Unbounded => 0,
        };
        let hi = match &range.end {
            Bound::Included(e) => self.partition(|k| k <= e.as_slice()),
            Bound::Excluded(e) => self.partition(|k| k < e.as_slice()),
            Bound::Unbounded => self.len(),
        };
        (lo, hi.max(lo))
    }

    /// Bytes of wasm memory this chunk holds, for the cache's budget.
    pub fn mem_size(&self) -> usize {
        self.raw.capacity() + self.keys.capacity() + self.entries.capacity() * 16 + 64
    }

    fn partition(&self, before: impl Fn(&[u8]) -> bool) -> usize {
        self.partition_within(0, self.len(), before)
    }

    /// The first index in `lo..hi` whose key is not `before` (keys there must be sorted so
    /// that every `before` key comes first); `hi` if there is none.
    pub fn partition_within(&self, mut lo: usize, mut hi: usize, before: impl Fn(&[u8]) -> bool) -> usize {
        while lo < hi {
            let mid = (lo + hi) / 2;
            if before(self.key(mid)) {
                lo = mid + 1;
            } else {
                hi = mid;
            }
        }
        lo
    }
}

/// Encodes sorted entries as one format-1 chunk, as Settee wrote them before format 2: for
/// tests that older databases still read (the `Splitter` writes format 2 only).
#[doc(hidden)]
pub fn encode_format_1<'a>(entries: impl IntoIterator<Item = (&'a [u8], Option<&'a [u8]>)>) -> Vec<u8> {
    let mut out = b"SC\x01".to_vec();
    let mut last: &[u8] = &[];
    for (key, value) in entries {
        let shared = last.iter().zip(key).take_while(|(a, b)| a == b).count();
        varint::put(&mut out, shared as u64);
        varint::put_bytes(&mut out, &key[shared..]);
        match value {
            Some(v) => {
                varint::put(&mut out, v.len() as u64 + 1);
                out.extend_from_slice(v);
            }
            None => varint::put(&mut out, 0),
        }
        last = key;
    }
    out
}

/// Decodes entries into one key buffer and offset table, block by block.
struct Decoder<'a> {
    name: &'a str,
    keys: Vec<u8>,
    entries: Vec<Entry>,
    /// The previous key: offset and length in `keys`.
    prev: (usize, usize),
}

impl Decoder<'_> {
    /// Decodes the entries in `raw[start..end]`. `first`: this is a format-2 block, which must
    /// start with a restart (no shared bytes) at the key the index names.
    fn block(&mut self, raw: &[u8], start: usize, end: usize, first: Option<&[u8]>) -> Result<()> {
        let name = self.name;
        let mut r = Reader::new(&raw[..end], start);
        while !r.at_end() {
            let at = r.pos;
            let entry = |e| varint::name_record(e, &format!("{name}: entry at byte {at}"));
            let shared = r.len().map_err(entry)?;
            let suffix = r.bytes().map_err(entry)?;
            let prev = self.prev;
            let restart = at == start && first.is_some();
            let limit = if restart { 0 } else { prev.1 };
            if shared > limit {
                return Err(Error::corruption(format!(
                    "{name}: entry at byte {at} shares {shared} bytes with a previous key of {limit}"
                )));
            }
            if restart && first != Some(suffix) {
                return Err(Error::corruption(format!(
                    "{name}: block at byte {at} does not start at the key its index names"
                )));
            }
            // Reads binary-search the keys: out of order, they would answer wrong, not fail.
            let prev_rest = &self.keys[prev.0 + shared..prev.0 + prev.1];
            if !self.entries.is_empty() && suffix <= prev_rest {
                return Err(Error::corruption(format!(
                    "{name}: entry at byte {at} is not above the one before"
                )));
            }
            let start = self.keys.len();
            if start.saturating_add(shared).saturating_add(suffix.len()) > u32::MAX as usize {
                return Err(Error::corruption(format!("{name}: keys over 4 GiB at byte {at}")));
            }
            self.keys.extend_from_within(prev.0..prev.0 + shared);
            self.keys.extend_from_slice(suffix);
            let key_len = shared + suffix.len();
            let tag = r.varint().map_err(entry)?;
            let (val, val_len) = if tag == 0 {
                (0usize, TOMBSTONE)
            } else {
                // `take` bounds the length by the record's, so it fits `usize` and `u32`.
                let n = usize::try_from(tag - 1).unwrap_or(usize::MAX);
                let at = r.pos;
                r.take(n).map_err(entry)?;
                (at, n as u32)
            };
            self.entries.push(Entry { key: start as u32, key_len: key_len as u32, val: val as u32, val_len });
            self.prev = (start, key_len);
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn build(entries: &[(&str, Option<&str>)], target: usize) -> Vec<Encoded> {
        let mut s = Splitter::new(target);
        for (k, v) in entries {
            s.push(k.as_bytes(), v.map(str::as_bytes));
        }
        s.finish()
    }

    #[test]
    fn entries_and_tombstones_round_trip_with_shared_prefixes() {
        let input = [("doc/a", Some("1")), ("doc/ab", None), ("doc/b", Some("")), ("seq/1", Some("x"))];
        let enc = build(&input, 1 << 20);
        assert_eq!(enc.len(), 1);
        assert_eq!((enc[0].entries, enc[0].tombstones), (4, 1));
        assert_eq!((enc[0].first.as_slice(), enc[0].last.as_slice()), (&b"doc/a"[..], &b"seq/1"[..]));
        let c = Chunk::decode(0, enc.into_iter().next().unwrap().bytes).unwrap();
        for (i, (k, v)) in input.iter().enumerate() {
            assert_eq!(c.key(i), k.as_bytes());
            assert_eq!(c.value(i), v.map(str::as_bytes));
        }
        assert_eq!(c.find(b"doc/ab"), Some(1));
        assert_eq!(c.find(b"doc/aa"), None);
    }

    #[test]
    fn a_format_1_chunk_still_decodes_whole() {
        let input: [(&[u8], Option<&[u8]>); 3] =
            [(b"doc/a", Some(b"1")), (b"doc/ab", None), (b"seq/1", Some(b""))];
        let c = Chunk::decode(3, encode_format_1(input)).unwrap();
        assert_eq!(c.len(), 3);
        for (i, (k, v)) in input.iter().enumerate() {
            assert_eq!((c.key(i), c.value(i)), (*k, *v));
        }
        assert_eq!(c.key_missing_from_filter(), None, "format 1 has no filter to miss keys");
    }

    #[test]
    fn format_2_blocks_restart_and_name_their_first_key_in_the_index() {
        let keys: Vec<String> = (0..3000).map(|i| format!("doc/{i:06}")).collect();
        let mut s = Splitter::new(1 << 20);
        for k in &keys {
            s.push(k.as_bytes(), Some(&[1u8; 30]));
        }
        let raw = s.finish().remove(0).bytes;
        let layout = Layout::parse("t", &raw).unwrap();
        assert!(layout.blocks() > 10);
        for b in 0..layout.blocks() {
            let (start, end) = (layout.bounds[b] as usize, layout.bounds[b + 1] as usize);
            assert!(end - start <= BLOCK_BYTES + 64, "block {b} of {} bytes", end - start);
            // A restart: shared 0, then the whole first key.
            let mut r = Reader::new(&raw, start);
            assert_eq!(r.varint().unwrap(), 0);
            assert_eq!(r.bytes().unwrap(), layout.first(b));
        }
        let c = Chunk::decode(1, raw).unwrap();
        assert!((0..c.len()).map(|i| c.key(i)).eq(keys.iter().map(String::as_bytes)));
        assert_eq!(c.key_missing_from_filter(), None);
    }

    #[test]
    fn splitter_cuts_chunks_near_the_target_size_with_ordered_bounds() {
        let keys: Vec<String> = (0..1000).map(|i| format!("k{i:05}")).collect();
        let mut s = Splitter::new(1024);
        for k in &keys {
            s.push(k.as_bytes(), Some(&[7u8; 40]));
        }
        let chunks = s.finish();
        assert!(chunks.len() > 30);
        // Past the target: one entry at most, then the index, filter and footer.
        assert!(
            chunks.iter().all(|c| c.bytes.len() < 1024 + 160),
            "{:?}",
            chunks.iter().map(|c| c.bytes.len()).max()
        );
        assert_eq!(chunks.iter().map(|c| c.entries).sum::<u32>(), 1000);
        for w in chunks.windows(2) {
            assert!(w[0].last < w[1].first);
        }
    }

    #[test]
    fn split_kinds_cuts_where_the_first_byte_changes_once_the_chunk_is_big_enough() {
        let entries =
            [("da", Some("1")), ("db", Some("2")), ("ma", Some("3")), ("s1", Some("4")), ("s2", None)];
        let firsts = |min: usize| {
            let mut s = Splitter::new(1 << 20).split_kinds(min);
            for (k, v) in entries {
                s.push(k.as_bytes(), v.map(str::as_bytes));
            }
            s.finish().iter().map(|e| String::from_utf8(e.first.clone()).unwrap()).collect::<Vec<_>>()
        };
        assert_eq!(firsts(0), ["da", "ma", "s1"]);
        assert_eq!(firsts(1 << 10), ["da"], "chunks under the minimum are not cut");
        // 14 bytes of doc entries reach the minimum, the 9 of "ma" do not.
        assert_eq!(firsts(12), ["da", "ma"], "a kind is cut only where the chunk is big enough");
        let mut s = Splitter::new(1 << 20);
        s.push(b"a", Some(b"1"));
        let first = s.take();
        s.push(b"b", None);
        let rest = s.finish();
        assert_eq!((first.len(), rest.len()), (1, 1));
        assert_eq!((rest[0].first.as_slice(), rest[0].tombstones), (&b"b"[..], 1));
    }

    #[test]
    fn span_honours_inclusive_and_exclusive_bounds() {
        let enc = build(&[("a", Some("")), ("b", Some("")), ("c", Some("")), ("d", Some(""))], 1 << 20);
        let c = Chunk::decode(0, enc.into_iter().next().unwrap().bytes).unwrap();
        let r = |s: Bound<&str>, e: Bound<&str>| Range {
            start: s.map(|x| x.as_bytes().to_vec()),
            end: e.map(|x| x.as_bytes().to_vec()),
        };
        assert_eq!(c.span(&r(Bound::Included("b"), Bound::Excluded("d"))), (1, 3));
        assert_eq!(c.span(&r(Bound::Excluded("b"), Bound::Included("d"))), (2, 4));
        assert_eq!(c.span(&r(Bound::Included("x"), Bound::Unbounded)), (4, 4));
        assert_eq!(c.span(&r(Bound::Included("c"), Bound::Excluded("a"))), (2, 2));
    }

    #[test]
    fn damaged_chunks_are_corruption_errors_naming_the_chunk_and_the_byte() {
        let e = |raw: &[u8]| Chunk::decode(17, raw.to_vec()).err().expect("an error");
        assert_eq!(e(b"XX\x01").message, "corrupt LSM chunk 17: bad magic");
        let truncated = e(b"SC\x01\x00\x01a\x05\x01");
        assert_eq!(truncated.name, "corruption");
        assert_eq!(
            truncated.message,
            "corrupt LSM chunk 17: entry at byte 3: length 4 past the end at byte 7"
        );
        assert!(e(b"SC\x01\x05\x01a").message.starts_with("corrupt LSM chunk 17: entry at byte 3 shares 5"));
        // "b" then "a": in the wrong order, a binary search would miss keys instead of failing.
        assert_eq!(
            e(b"SC\x01\x00\x01b\x00\x00\x01a\x00").message,
            "corrupt LSM chunk 17: entry at byte 7 is not above the one before"
        );
    }
}
