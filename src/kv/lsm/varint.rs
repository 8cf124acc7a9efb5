//! LEB128 varints and a bounds-checked reader: every length in chunks and manifests is a
//! varint, and a truncated or corrupt record becomes `Error::corruption`, never a panic.
//!
//! The reader does not know which record it reads: its errors say `corrupt record: … at byte
//! N`, and the decoder that owns the record names it with `name_record`.

use crate::error::{Error, Result};

pub fn put(out: &mut Vec<u8>, mut v: u64) {
    while v >= 0x80 {
        out.push((v as u8) | 0x80);
        v >>= 7;
    }
    out.push(v as u8);
}

pub fn put_bytes(out: &mut Vec<u8>, bytes: &[u8]) {
    put(out, bytes.len() as u64);
    out.extend_from_slice(bytes);
}

const UNNAMED: &str = "corrupt record";

fn corrupt(what: &str, at: usize) -> Error {
    Error::corruption(format!("record: {what} at byte {at}"))
}

/// Puts `name` (`LSM chunk 17`, `manifest`) in place of the reader's `record` in a
/// corruption error; other errors pass unchanged.
pub fn name_record(mut e: Error, name: &str) -> Error {
    if e.is_corruption() {
        if let Some(rest) = e.message.strip_prefix(UNNAMED) {
            e.message = format!("corrupt {name}{rest}");
        }
    }
    e
}

pub struct Reader<'a> {
    buf: &'a [u8],
    pub pos: usize,
}

impl<'a> Reader<'a> {
    pub fn new(buf: &'a [u8], pos: usize) -> Self {
        Reader { buf, pos }
    }

    pub fn at_end(&self) -> bool {
        self.pos >= self.buf.len()
    }

    pub fn varint(&mut self) -> Result<u64> {
        let mut v = 0u64;
        let mut shift = 0;
        loop {
            let b = *self.buf.get(self.pos).ok_or_else(|| corrupt("truncated varint", self.pos))?;
            if shift >= 64 {
                return Err(corrupt("varint longer than 64 bits", self.pos));
            }
            self.pos += 1;
            v |= u64::from(b & 0x7f) << shift;
            if b < 0x80 {
                return Ok(v);
            }
            shift += 7;
        }
    }

    pub fn len(&mut self) -> Result<usize> {
        let at = self.pos;
        usize::try_from(self.varint()?).map_err(|_| corrupt("length out of range", at))
    }

    pub fn take(&mut self, n: usize) -> Result<&'a [u8]> {
        let end = self
            .pos
            .checked_add(n)
            .filter(|&e| e <= self.buf.len())
            .ok_or_else(|| corrupt(&format!("length {n} past the end"), self.pos))?;
        let s = &self.buf[self.pos..end];
        self.pos = end;
        Ok(s)
    }

    pub fn bytes(&mut self) -> Result<&'a [u8]> {
        let n = self.len()?;
        self.take(n)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn varints_round_trip_at_every_width() {
        let values = [0, 1, 127, 128, 300, 16_383, 16_384, u32::MAX as u64, u64::MAX];
        let mut buf = Vec::new();
        for v in values {
            put(&mut buf, v);
        }
        let mut r = Reader::new(&buf, 0);
        for v in values {
            assert_eq!(r.varint().unwrap(), v);
        }
        assert!(r.at_end());
    }

    #[test]
    fn truncated_input_is_an_error_not_a_panic() {
        let mut r = Reader::new(&[0x80, 0x80], 0);
        assert!(r.varint().is_err());
        let mut r = Reader::new(&[5, 1, 2], 0);
        let e = r.bytes().unwrap_err();
        assert_eq!(e.name, "corruption");
        assert_eq!(
            name_record(e, "LSM chunk 3").message,
            "corrupt LSM chunk 3: length 5 past the end at byte 1"
        );
    }
}
