//! Revision ids (`N-hash`) and the deterministic hash of a new edit.

use std::fmt;
use std::str::FromStr;

use md5::{Digest, Md5};

use crate::error::{Error, Result};

/// A revision id: `pos` is the generation (depth in the rev tree, from 1), `hash` is opaque.
///
/// The derived order (pos, then hash byte-wise) is the order the rev tree stores nodes in.
#[derive(Clone, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, serde::Serialize, serde::Deserialize)]
pub struct Rev {
    pub pos: u64,
    pub hash: String,
}

impl Rev {
    /// Parses `N-hash`: `N` is a positive decimal integer (digits only: no sign, no `+`), the hash
    /// is everything after the first `-`, non-empty and without whitespace.
    pub fn parse(s: &str) -> Result<Rev> {
        let bad = || Error::invalid_rev("Invalid rev format");
        let (num, hash) = s.split_once('-').ok_or_else(bad)?;
        if num.is_empty() || !num.bytes().all(|b| b.is_ascii_digit()) {
            return Err(bad());
        }
        let pos: u64 = num.parse().map_err(|_| bad())?;
        if pos == 0 || hash.is_empty() || hash.chars().any(char::is_whitespace) {
            return Err(bad());
        }
        Ok(Rev { pos, hash: hash.to_owned() })
    }
}

impl fmt::Display for Rev {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}-{}", self.pos, self.hash)
    }
}

impl FromStr for Rev {
    type Err = Error;

    fn from_str(s: &str) -> Result<Rev> {
        Rev::parse(s)
    }
}

/// The hash part of the rev of a new edit: 32 lowercase hex chars, the md5 of a canonical byte
/// string made of the parent rev (length-prefixed, or a marker for none), the deleted flag and
/// `serde_json::to_vec(body)`. The same (parent, deleted, body) always gives the same hash; note
/// that the body's key order is part of its JSON (the crate preserves insertion order).
pub fn new_rev_hash(parent: Option<&Rev>, deleted: bool, body: &serde_json::Value) -> String {
    // Serializing a `Value` cannot fail (its map keys are strings).
    new_rev_hash_of_json(parent, deleted, &serde_json::to_vec(body).unwrap_or_default())
}

/// `new_rev_hash` for a body already serialised with `serde_json::to_vec`, so that a write
/// encodes each body once.
pub fn new_rev_hash_of_json(parent: Option<&Rev>, deleted: bool, body_json: &[u8]) -> String {
    let mut md5 = Md5::new();
    md5.update(b"settee-rev-v1\0");
    match parent {
        Some(rev) => {
            let text = rev.to_string();
            md5.update([1u8]);
            md5.update((text.len() as u64).to_le_bytes());
            md5.update(text.as_bytes());
        }
        None => md5.update([0u8]),
    }
    md5.update([u8::from(deleted)]);
    md5.update(body_json);
    let digest = md5.finalize();
    const HEX: &[u8; 16] = b"0123456789abcdef";
    let mut out = String::with_capacity(32);
    for byte in digest {
        out.push(HEX[usize::from(byte >> 4)] as char);
        out.push(HEX[usize::from(byte & 0xf)] as char);
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn parses_well_formed_revs() {
        assert_eq!(Rev::parse("1-abc").unwrap(), Rev { pos: 1, hash: "abc".into() });
        assert_eq!(Rev::parse("12-0f0f").unwrap(), Rev { pos: 12, hash: "0f0f".into() });
        // Only the first dash separates; the hash is opaque.
        assert_eq!(Rev::parse("3-a-b").unwrap(), Rev { pos: 3, hash: "a-b".into() });
        assert_eq!("7-x".parse::<Rev>().unwrap(), Rev { pos: 7, hash: "x".into() });
    }

    #[test]
    fn display_round_trips() {
        for s in ["1-abc", "42-967a00dff5e02add41819138abb3284d", "3-a-b"] {
            assert_eq!(Rev::parse(s).unwrap().to_string(), s);
        }
    }

    #[test]
    fn rejects_malformed_revs() {
        for s in [
            "",
            "abc",
            "-abc",
            "1-",
            "1",
            "0-abc",
            "+1-abc",
            "-1-abc",
            "a-abc",
            "1a-abc",
            " 1-abc",
            "1-ab c",
            "1-abc\n",
            "1-\tx",
            "1.5-abc",
            "99999999999999999999999-abc",
        ] {
            let err = Rev::parse(s).expect_err(s);
            assert_eq!(err.status, 400, "{s:?}");
            assert_eq!((err.name, err.message.as_str()), ("bad_request", "Invalid rev format"), "{s:?}");
            assert_eq!(err.message, "Invalid rev format");
        }
    }

    #[test]
    fn revs_order_by_pos_then_hash() {
        let a = Rev::parse("2-b").unwrap();
        let b = Rev::parse("10-a").unwrap();
        let c = Rev::parse("10-b").unwrap();
        assert!(a < b && b < c);
    }

    #[test]
    fn new_rev_hash_is_deterministic_and_32_lower_hex() {
        let body = json!({"a": 1, "b": [true, null, "x"]});
        let parent = Rev::parse("1-abc").unwrap();
        let h1 = new_rev_hash(Some(&parent), false, &body);
        let h2 = new_rev_hash(Some(&parent), false, &body.clone());
        assert_eq!(h1, h2);
        assert_eq!(h1.len(), 32);
        assert!(h1.bytes().all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b)));
    }

    #[test]
    fn new_rev_hash_depends_on_parent_deleted_and_body() {
        let body = json!({"a": 1});
        let p1 = Rev::parse("1-abc").unwrap();
        let p2 = Rev::parse("2-abc").unwrap();
        let base = new_rev_hash(Some(&p1), false, &body);
        assert_ne!(base, new_rev_hash(None, false, &body));
        assert_ne!(base, new_rev_hash(Some(&p2), false, &body));
        assert_ne!(base, new_rev_hash(Some(&p1), true, &body));
        assert_ne!(base, new_rev_hash(Some(&p1), false, &json!({"a": 2})));
        assert_ne!(new_rev_hash(None, false, &json!({})), new_rev_hash(None, true, &json!({})));
    }
}
