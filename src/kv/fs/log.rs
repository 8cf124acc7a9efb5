//! The commit log (`LOG-<generation>`): how a small commit becomes durable with one append and
//! one `fdatasync`, instead of a file per record, a `STATE` rewrite, a rename and two directory
//! syncs (4–6 syncs, each a round of Node's thread pool).
//!
//! A log record is one commit: `len` (u32 LE), the payload, then `lsm::bloom::hash` of the
//! payload (u64 LE). The payload, in `lsm::varint`s: the put count, then per put its key, a
//! flag (1: the value follows, inline; 0: the value was written to the record's own file
//! before this record), the value; then the delete count and each range's two keys. The
//! manifest is a put like any other (key `manifest`).
//!
//! Replay reads records in order and stops at the first one that does not hold together. That
//! one must be the last: an append interrupted by a crash leaves a torn tail (a length running
//! past the end, or a checksum that fails on the file's last record), which was never
//! acknowledged and is dropped. A bad record with whole records after it is damage, reported as
//! `corruption` rather than silently cutting the history short.

use crate::error::{Error, Result};
use crate::kv::lsm::bloom::hash;
use crate::kv::lsm::varint::{self, Reader};

/// One commit as the log keeps it.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct Entry {
    /// `(key, Some(value))` inline; `(key, None)`: the value is in the record's file.
    pub puts: Vec<(String, Option<Vec<u8>>)>,
    pub deletes: Vec<(String, String)>,
}

/// Appends the framed record for a commit to `out`.
pub fn encode(puts: &[(String, Option<&[u8]>)], deletes: &[(String, String)], out: &mut Vec<u8>) {
    let start = out.len();
    out.extend_from_slice(&[0; 4]);
    varint::put(out, puts.len() as u64);
    for (k, v) in puts {
        varint::put_bytes(out, k.as_bytes());
        match v {
            Some(v) => {
                varint::put(out, 1);
                varint::put_bytes(out, v);
            }
            None => varint::put(out, 0),
        }
    }
    varint::put(out, deletes.len() as u64);
    for (first, last) in deletes {
        varint::put_bytes(out, first.as_bytes());
        varint::put_bytes(out, last.as_bytes());
    }
    let len = (out.len() - start - 4) as u32;
    out[start..start + 4].copy_from_slice(&len.to_le_bytes());
    let sum = hash(&out[start + 4..]);
    out.extend_from_slice(&sum.to_le_bytes());
}

/// What a log file holds: its whole records, and whether a torn tail followed them.
#[derive(Debug, Default)]
pub struct Replay {
    pub entries: Vec<Entry>,
    pub torn: bool,
}

/// Reads the records of log file `name` (for messages) from `bytes`.
pub fn replay(name: &str, bytes: &[u8]) -> Result<Replay> {
    let mut out = Replay::default();
    let mut at = 0usize;
    while at < bytes.len() {
        let framed = frame(bytes, at);
        match framed.and_then(|(payload, next)| Some((decode(payload)?, next))) {
            Some((entry, next)) => {
                out.entries.push(entry);
                at = next;
            }
            None => {
                // Torn if this record, by its own length, reaches the end of the file (or its
                // length does not fit): nothing after it was ever written.
                let reaches_end = bytes
                    .get(at..at + 4)
                    .map(|w| u32::from_le_bytes(w.try_into().expect("4 bytes")) as usize)
                    .is_none_or(|len| at + 4 + len + 8 >= bytes.len());
                if !reaches_end {
                    return Err(Error::corruption(format!(
                        "{name}: the log record at byte {at} is damaged and records follow it"
                    )));
                }
                out.torn = true;
                break;
            }
        }
    }
    Ok(out)
}

/// The payload of the record at `at` and where the next starts, if it is whole and its
/// checksum holds.
fn frame(bytes: &[u8], at: usize) -> Option<(&[u8], usize)> {
    let len = u32::from_le_bytes(bytes.get(at..at + 4)?.try_into().ok()?) as usize;
    let payload = bytes.get(at + 4..at + 4 + len)?;
    let sum = bytes.get(at + 4 + len..at + 12 + len)?;
    (hash(payload) == u64::from_le_bytes(sum.try_into().ok()?)).then_some((payload, at + 12 + len))
}

fn decode(payload: &[u8]) -> Option<Entry> {
    let mut r = Reader::new(payload, 0);
    let key = |r: &mut Reader| -> Option<String> { String::from_utf8(r.bytes().ok()?.to_vec()).ok() };
    let mut entry = Entry::default();
    for _ in 0..r.varint().ok()? {
        let k = key(&mut r)?;
        let v = match r.varint().ok()? {
            0 => None,
            1 => Some(r.bytes().ok()?.to_vec()),
            _ => return None,
        };
        entry.puts.push((k, v));
    }
    for _ in 0..r.varint().ok()? {
        entry.deletes.push((key(&mut r)?, key(&mut r)?));
    }
    r.at_end().then_some(entry)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn two_records() -> (Vec<u8>, Vec<Entry>) {
        let mut bytes = Vec::new();
        let puts = [("chunk/01".to_string(), Some(&b"abc"[..])), ("manifest".to_string(), Some(&b"M1"[..]))];
        encode(&puts, &[], &mut bytes);
        encode(&[("chunk/02".into(), None)], &[("chunk/00".into(), "chunk/01".into())], &mut bytes);
        let entries = vec![
            Entry {
                puts: vec![
                    ("chunk/01".into(), Some(b"abc".to_vec())),
                    ("manifest".into(), Some(b"M1".to_vec())),
                ],
                deletes: vec![],
            },
            Entry {
                puts: vec![("chunk/02".into(), None)],
                deletes: vec![("chunk/00".into(), "chunk/01".into())],
            },
        ];
        (bytes, entries)
    }

    #[test]
    fn records_replay_in_order() {
        let (bytes, entries) = two_records();
        let r = replay("LOG", &bytes).unwrap();
        assert_eq!((r.entries, r.torn), (entries, false));
        assert!(replay("LOG", &[]).unwrap().entries.is_empty());
    }

    #[test]
    fn a_torn_tail_at_any_length_is_dropped_and_earlier_records_stay() {
        let (bytes, entries) = two_records();
        let first_len = {
            let mut one = Vec::new();
            encode(
                &[("chunk/01".into(), Some(&b"abc"[..])), ("manifest".into(), Some(&b"M1"[..]))],
                &[],
                &mut one,
            );
            one.len()
        };
        for cut in first_len + 1..bytes.len() {
            let r = replay("LOG", &bytes[..cut]).unwrap();
            assert_eq!((r.entries.as_slice(), r.torn), (&entries[..1], true), "cut at {cut}");
        }
        // The last record's checksum damaged: torn, as a crash mid-write would leave it.
        let mut last_bad = bytes.clone();
        *last_bad.last_mut().unwrap() ^= 1;
        assert!(replay("LOG", &last_bad).unwrap().torn);
    }

    #[test]
    fn a_damaged_record_with_records_after_it_is_corruption() {
        let (mut bytes, _) = two_records();
        bytes[6] ^= 0x20;
        let e = replay("LOG-3", &bytes).unwrap_err();
        assert_eq!(e.name, "corruption");
        assert!(e.message.contains("LOG-3") && e.message.contains("byte 0"), "{}", e.message);
    }
}
