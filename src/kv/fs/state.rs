//! The `STATE` file: the commit point of the disk store.
//!
//! It holds the LSM's manifest record, the key ranges the same commit deleted, and the
//! generation of the commit log that continues it (`LOG-<log>`, see `log`). A checkpoint
//! writes `STATE.tmp`, syncs it and renames it over `STATE`, so the new manifest, its deletes
//! and the switch to a fresh log become true together. The deletes are carried out after the rename; if the
//! process dies first, the next open carries them out again (they name only keys below the
//! manifest's fresh ids, so repeating them is harmless).
//!
//! Layout: `STFS`, format (u32 LE), then varints and length-prefixed bytes as in the LSM's own
//! records (`lsm::varint`): the delete count, each range's two keys, a manifest flag (0/1) and
//! the manifest, the log generation (format 2; format 1 had none and means 0), then a checksum (`lsm::bloom::hash` of everything before it, u64 LE), so damage
//! is a `corruption` error, not a wrong store.

use crate::error::{Error, Result};
use crate::kv::lsm::bloom::hash;
use crate::kv::lsm::varint::{self, Reader};

const MAGIC: &[u8; 4] = b"STFS";
const FORMAT: u32 = 2;

#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct State {
    pub manifest: Option<Vec<u8>>,
    pub deletes: Vec<(String, String)>,
    pub log: u64,
}

impl State {
    pub fn encode(&self) -> Vec<u8> {
        let mut out = Vec::with_capacity(32 + self.manifest.as_ref().map_or(0, Vec::len));
        out.extend_from_slice(MAGIC);
        out.extend_from_slice(&FORMAT.to_le_bytes());
        varint::put(&mut out, self.deletes.len() as u64);
        for (first, last) in &self.deletes {
            varint::put_bytes(&mut out, first.as_bytes());
            varint::put_bytes(&mut out, last.as_bytes());
        }
        varint::put(&mut out, u64::from(self.manifest.is_some()));
        if let Some(m) = &self.manifest {
            varint::put_bytes(&mut out, m);
        }
        varint::put(&mut out, self.log);
        let sum = hash(&out);
        out.extend_from_slice(&sum.to_le_bytes());
        out
    }

    pub fn decode(bytes: &[u8]) -> Result<State> {
        let bad = |what: &str| Error::corruption(format!("STATE file: {what}"));
        if bytes.len() < 16 || &bytes[..4] != MAGIC {
            return Err(bad("bad header"));
        }
        let (body, sum) = bytes.split_at(bytes.len() - 8);
        if hash(body) != u64::from_le_bytes(sum.try_into().expect("8 bytes")) {
            return Err(bad("checksum mismatch"));
        }
        let format = u32::from_le_bytes(body[4..8].try_into().expect("4 bytes"));
        if format == 0 || format > FORMAT {
            return Err(bad(&format!("unknown format {format}")));
        }
        let named = |e| varint::name_record(e, "STATE file");
        let mut r = Reader::new(body, 8);
        let key = |r: &mut Reader| -> Result<String> {
            String::from_utf8(r.bytes()?.to_vec()).map_err(|_| bad("bad key"))
        };
        let mut deletes = Vec::new();
        for _ in 0..r.varint().map_err(named)? {
            deletes.push((key(&mut r).map_err(named)?, key(&mut r).map_err(named)?));
        }
        let manifest = match r.varint().map_err(named)? {
            0 => None,
            _ => Some(r.bytes().map_err(named)?.to_vec()),
        };
        let log = if format >= 2 { r.varint().map_err(named)? } else { 0 };
        if !r.at_end() {
            return Err(bad("trailing bytes"));
        }
        Ok(State { manifest, deletes, log })
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
            log: 300,
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
        // Format 1 (before the log): no generation, read as log 0.
        let mut v1 = b"STFS\x01\x00\x00\x00\x00\x01\x02M1".to_vec();
        let sum = hash(&v1);
        v1.extend_from_slice(&sum.to_le_bytes());
        assert_eq!(
            State::decode(&v1).unwrap(),
            State { manifest: Some(b"M1".to_vec()), deletes: vec![], log: 0 }
        );
        let empty = State::default();
        assert_eq!(State::decode(&empty.encode()).unwrap(), empty);
    }
}
