//! The Bloom filter of a format-2 chunk: says "surely absent" for most keys a chunk lacks, so a
//! get that the run's key span sends to a chunk without its key reads no block of it.
//!
//! Encoding (inside the chunk, see `table`): `k` (one byte, 1..=`MAX_PROBES`), then the bit
//! array, bit `i` at byte `i / 8`, mask `1 << (i % 8)`. Its length is the filter's; `m` is 8 ×
//! that. A key sets bits `(h1 + j·h2) mod m` for `j` in `0..k` (double hashing, as in
//! Kirsch–Mitzenmacher and LevelDB's filter notes), `h1`, `h2` the halves of `hash(key)`.
//!
//! `hash` is part of the on-disk format: it must never change for format 2, on any platform
//! (words are read little-endian). At `BITS_PER_KEY` = 10 and `k` = 7 about 1% of absent keys
//! pass.

/// Filter bits per key written.
pub const BITS_PER_KEY: usize = 10;
/// Probes per key written (ln 2 × `BITS_PER_KEY`, rounded).
const PROBES: u8 = 7;
/// The most probes a filter may ask for: more is damage, not a choice of ours.
pub const MAX_PROBES: u8 = 30;

/// A 64-bit hash of `key`: 8-byte words mixed by multiply and rotate, then the splitmix64
/// finaliser so that every input bit reaches both halves.
pub fn hash(key: &[u8]) -> u64 {
    const M: u64 = 0x9E37_79B9_7F4A_7C15;
    let mut h = 0x5EED_0F5E_77EE_0002u64 ^ (key.len() as u64).wrapping_mul(M);
    let mut words = key.chunks_exact(8);
    for w in &mut words {
        let w = u64::from_le_bytes(w.try_into().expect("8 bytes"));
        h = (h ^ w).wrapping_mul(M).rotate_left(29);
    }
    let mut tail = [0u8; 8];
    let rest = words.remainder();
    tail[..rest.len()].copy_from_slice(rest);
    h = (h ^ u64::from_le_bytes(tail)).wrapping_mul(M).rotate_left(29);
    h ^= h >> 30;
    h = h.wrapping_mul(0xBF58_476D_1CE4_E5B9);
    h ^= h >> 27;
    h = h.wrapping_mul(0x94D0_49BB_1331_11EB);
    h ^ (h >> 31)
}

fn probes(h: u64, k: u8, m: u64) -> impl Iterator<Item = u64> {
    let h1 = h & 0xFFFF_FFFF;
    let h2 = (h >> 32) | 1;
    (0..u64::from(k)).map(move |j| h1.wrapping_add(j.wrapping_mul(h2)) % m)
}

/// Appends the filter of the keys with hashes `hashes` to `out`.
pub fn build(hashes: &[u64], out: &mut Vec<u8>) {
    let bytes = (hashes.len() * BITS_PER_KEY).div_ceil(8).max(8);
    out.push(PROBES);
    let at = out.len();
    out.resize(at + bytes, 0);
    let bits = &mut out[at..];
    let m = bytes as u64 * 8;
    for &h in hashes {
        for i in probes(h, PROBES, m) {
            bits[(i / 8) as usize] |= 1 << (i % 8);
        }
    }
}

/// Whether a filter (`k` then bits, as `build` wrote it, already checked to hold at least one
/// bit byte and a sane `k`) may hold the key of hash `h`.
pub fn may_contain(filter: &[u8], h: u64) -> bool {
    let (k, bits) = (filter[0], &filter[1..]);
    let m = bits.len() as u64 * 8;
    probes(h, k, m).all(|i| bits[(i / 8) as usize] & (1 << (i % 8)) != 0)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_key_put_in_passes_and_few_others_do() {
        let keys: Vec<Vec<u8>> = (0..2000).map(|i| format!("doc/doc-{i:06}").into_bytes()).collect();
        let mut f = Vec::new();
        build(&keys.iter().map(|k| hash(k)).collect::<Vec<_>>(), &mut f);
        assert!(keys.iter().all(|k| may_contain(&f, hash(k))));
        let false_hits =
            (2000..12000).filter(|i| may_contain(&f, hash(format!("doc/doc-{i:06}").as_bytes()))).count();
        assert!(false_hits < 200, "{false_hits} of 10000 absent keys passed");
    }

    #[test]
    fn the_hash_is_the_format_2_hash() {
        // Written filters depend on these values: a change here is a new chunk format.
        assert_eq!(hash(b""), hash(b""));
        assert_ne!(hash(b"a"), hash(b"a\0"));
        assert_eq!(hash(b"doc/doc-000001"), 0x0139_3900_2d5b_1c6f, "{:#x}", hash(b"doc/doc-000001"));
    }
}
