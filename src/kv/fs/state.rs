//! The `STATE` file: the commit point of the disk store.
//!
//! It holds the LSM's manifest record and the key ranges the same commit deleted. A commit
//! writes `STATE.tmp`, syncs it and renames it over `STATE`, so the new manifest and its
//! deletes become true together. The deletes are carried out after the rename; if the
//! process dies first, the next open carries them out again (they name only keys below the
//! manifest's fresh ids, so repeating them is harmless).
//!
//! Layout: `STFS`, format (u32 LE), delete count (u32), each range as two length-prefixed
//! (u32) keys, the manifest length (u32, `u32::MAX` for none) and bytes, then an FNV-1a 64
//! checksum of everything before it, so damage is a `corruption` error, not a wrong store.

use crate::error::{Error, Result};

const MAGIC: &[u8; 4] = b"STFS";
const FORMAT: u32 = 1;
const NO_MANIFEST: u32 = u32::MAX;

#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct State {
    pub manifest: Option<Vec<u8>>,
    pub deletes: Vec<(String, String)>,
}

fn fnv1a(bytes: &[u8]) -> u64 {
    let mut h: u64 = 0xcbf2_9ce4_8422_2325;
    for b in bytes {
        h ^= u64::from(*b);
        h = h.wrapping_mul(0x0100_0000_01b3);
    }
    h
}

fn put_u32(out: &mut Vec<u8>, v: u32) {
    out.extend_from_slice(&v.to_le_bytes());
}

fn put_str(out: &mut Vec<u8>, s: &str) {
    put_u32(out, s.len() as u32);
    out.extend_from_slice(s.as_bytes());
}

impl State {
    pub fn encode(&self) -> Vec<u8> {
        let mut out = Vec::with_capacity(32 + self.manifest.as_ref().map_or(0, Vec::len));
        out.extend_from_slice(MAGIC);
        put_u32(&mut out, FORMAT);
        put_u32(&mut out, self.deletes.len() as u32);
        for (first, last) in &self.deletes {
            put_str(&mut out, first);
            put_str(&mut out, last);
        }
        match &self.manifest {
            Some(m) => {
                put_u32(&mut out, m.len() as u32);
                out.extend_from_slice(m);
            }
            None => put_u32(&mut out, NO_MANIFEST),
        }
        let sum = fnv1a(&out);
        out.extend_from_slice(&sum.to_le_bytes());
        out
    }

    pub fn decode(bytes: &[u8]) -> Result<State> {
        let bad = |what: &str| Error::corruption(format!("STATE file: {what}"));
        if bytes.len() < 20 || &bytes[..4] != MAGIC {
            return Err(bad("bad header"));
        }
        let (body, sum) = bytes.split_at(bytes.len() - 8);
        if fnv1a(body) != u64::from_le_bytes(sum.try_into().expect("8 bytes")) {
            return Err(bad("checksum mismatch"));
        }
        let mut r = Reader { buf: body, pos: 4 };
        let format = r.u32()?;
        if format != FORMAT {
            return Err(bad(&format!("unknown format {format}")));
        }
        let n = r.u32()?;
        let mut deletes = Vec::new();
        for _ in 0..n {
            deletes.push((r.string()?, r.string()?));
        }
        let manifest = match r.u32()? {
            NO_MANIFEST => None,
            len => Some(r.take(len as usize)?.to_vec()),
        };
        if r.pos != body.len() {
            return Err(bad("trailing bytes"));
        }
        Ok(State { manifest, deletes })
    }
}

struct Reader<'a> {
    buf: &'a [u8],
    pos: usize,
}

impl Reader<'_> {
    fn take(&mut self, n: usize) -> Result<&[u8]> {
        let end = self.pos.checked_add(n).filter(|e| *e <= self.buf.len());
        let end = end.ok_or_else(|| Error::corruption("STATE file: truncated"))?;
        let out = &self.buf[self.pos..end];
        self.pos = end;
        Ok(out)
    }
    fn u32(&mut self) -> Result<u32> {
        Ok(u32::from_le_bytes(self.take(4)?.try_into().expect("4 bytes")))
    }
    fn string(&mut self) -> Result<String> {
        let n = self.u32()? as usize;
        String::from_utf8(self.take(n)?.to_vec()).map_err(|_| Error::corruption("STATE file: bad key"))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_state_round_trips_and_any_flipped_byte_is_corruption() {
        let s = State {
            manifest: Some(b"STMF....manifest".to_vec()),
            deletes: vec![("chunk/01".into(), "chunk/07".into())],
        };
        let bytes = s.encode();
        assert_eq!(State::decode(&bytes).unwrap(), s);
        for i in 0..bytes.len() {
            let mut damaged = bytes.clone();
            damaged[i] ^= 0x40;
            let e = State::decode(&damaged).unwrap_err();
            assert_eq!(e.name, "corruption", "byte {i}");
        }
        assert_eq!(State::decode(&bytes[..bytes.len() - 1]).unwrap_err().name, "corruption");
        let empty = State::default();
        assert_eq!(State::decode(&empty.encode()).unwrap(), empty);
    }
}
