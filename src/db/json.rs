//! Building response JSON without re-parsing stored bodies: a stored body is a JSON object's
//! bytes, and a doc in a response is that object with `_id`, `_rev` and metadata spliced in.

use crate::error::{Error, Result};
use serde::Serialize;
use serde_json::value::RawValue;

/// `{"_id":…,"_rev":…, <body members>, <extra members>}`.
pub fn doc(id: &str, rev: &str, body: &[u8], extras: &[(&str, String)]) -> String {
    let mut out = String::with_capacity(body.len() + id.len() + rev.len() + 24);
    push_doc(&mut out, id, |o| push_str_json(o, rev), body, extras);
    out
}

/// `doc`, appended to `out`: responses with many docs build them in place, in one buffer.
/// `rev` writes the rev as a JSON string (see `rev_ref::RevRef::push_json`).
pub fn push_doc(
    out: &mut String,
    id: &str,
    rev: impl FnOnce(&mut String),
    body: &[u8],
    extras: &[(&str, String)],
) {
    let inner = body_members(body);
    out.push_str("{\"_id\":");
    push_str_json(out, id);
    out.push_str(",\"_rev\":");
    rev(out);
    if !inner.is_empty() {
        out.push(',');
        out.push_str(inner);
    }
    for (k, v) in extras {
        out.push_str(",\"");
        out.push_str(k);
        out.push_str("\":");
        out.push_str(v);
    }
    out.push('}');
}

/// The members of a stored body object, without its braces. Bodies are serde_json's compact
/// output, so the braces are the first and last bytes; anything else is trimmed first.
fn body_members(body: &[u8]) -> &str {
    let s = std::str::from_utf8(body).unwrap_or("{}");
    let inner = match s.strip_prefix('{').and_then(|s| s.strip_suffix('}')) {
        Some(inner) => inner,
        None => s.trim().strip_prefix('{').and_then(|s| s.strip_suffix('}')).unwrap_or(""),
    };
    if inner.bytes().all(|b| b.is_ascii_whitespace()) {
        ""
    } else {
        inner
    }
}

/// Appends `s` as a JSON string. Ids and revs seldom need escaping, so the common case is a
/// plain copy; otherwise serde_json escapes it (the same escapes it uses everywhere else).
pub fn push_str_json(out: &mut String, s: &str) {
    if !may_need_escaping(s.as_bytes()) {
        out.push('"');
        out.push_str(s);
        out.push('"');
    } else {
        out.push_str(&serde_json::to_string(s).expect("strings serialise"));
    }
}

/// False only when no byte of `s` is a control character, `"` or `\\` (what JSON escapes; a
/// true answer may be wrong and only costs the slow path). Eight bytes at a time: this runs
/// for every id and rev of a big response, and wasm32 has no SIMD here.
pub(super) fn may_need_escaping(s: &[u8]) -> bool {
    const ONES: u64 = 0x0101_0101_0101_0101;
    const HIGH: u64 = 0x8080_8080_8080_8080;
    // Some byte of `x` is below `n` (n ≤ 128): the classic bit trick, exact as a yes/no.
    let has_below = |x: u64, n: u64| x.wrapping_sub(ONES * n) & !x & HIGH != 0;
    let mut chunks = s.chunks_exact(8);
    for c in &mut chunks {
        let x = u64::from_le_bytes(c.try_into().expect("8 bytes"));
        if has_below(x, 0x20)
            || has_below(x ^ (ONES * u64::from(b'"')), 1)
            || has_below(x ^ (ONES * u64::from(b'\\')), 1)
        {
            return true;
        }
    }
    chunks.remainder().iter().any(|&b| b < 0x20 || b == b'"' || b == b'\\')
}

/// Appends `n` in decimal, without `format!`'s machinery (once per row in big responses).
pub fn push_u64(out: &mut String, mut n: u64) {
    let mut buf = [0u8; 20];
    let mut at = buf.len();
    loop {
        at -= 1;
        buf[at] = b'0' + (n % 10) as u8;
        n /= 10;
        if n == 0 {
            break;
        }
    }
    out.push_str(std::str::from_utf8(&buf[at..]).expect("digits are ASCII"));
}

pub fn to_json<T: Serialize + ?Sized>(value: &T) -> String {
    serde_json::to_string(value).expect("response serialises")
}

/// Wraps JSON text we built ourselves so that serde writes it verbatim. The text splices in
/// stored body bytes unparsed, so a damaged body makes it invalid: that is a `corruption`.
pub fn raw(json: String) -> Result<Box<RawValue>> {
    RawValue::from_string(json).map_err(|e| Error::corruption(format!("doc body: {e}")))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn splices_id_rev_body_and_extras() {
        let d = doc("a\"b", "1-x", br#"{"n":1,"s":"t"}"#, &[("_deleted", "true".into())]);
        let v: serde_json::Value = serde_json::from_str(&d).unwrap();
        assert_eq!(v, serde_json::json!({"_id": "a\"b", "_rev": "1-x", "n": 1, "s": "t", "_deleted": true}));
    }

    #[test]
    fn strings_are_escaped_as_serde_json_does() {
        let long = ["0123456789abcdef\"", "0123456789abcdef\\x", "01234567\u{7f}\u{1f}", "é ✓ é ✓ é ✓ 0123"];
        let short = ["plain", "q\"uote", "back\\slash", "tab\tnew\nline", "\u{1}\u{1f}", "é ✓ /", ""];
        for s in long.into_iter().chain(short) {
            let mut out = String::new();
            push_str_json(&mut out, s);
            assert_eq!(out, serde_json::to_string(s).unwrap(), "{s:?}");
        }
    }

    #[test]
    fn the_escape_check_never_misses_a_byte_json_escapes() {
        for b in 0..=255u8 {
            let escaped = b < 0x20 || b == b'"' || b == b'\\';
            for at in 0..17 {
                let mut s = vec![b'a'; 17];
                s[at] = b;
                if escaped {
                    assert!(may_need_escaping(&s), "byte {b:#x} at {at}");
                } else {
                    assert!(!may_need_escaping(&s), "byte {b:#x} at {at} is a false positive");
                }
            }
        }
    }

    #[test]
    fn numbers_are_decimal() {
        for n in [0, 7, 10, 999, 1_000_001, u64::MAX] {
            let mut out = String::from("x");
            push_u64(&mut out, n);
            assert_eq!(out, format!("x{n}"));
        }
    }

    #[test]
    fn an_empty_body_gives_only_id_and_rev() {
        let v: serde_json::Value = serde_json::from_str(&doc("a", "1-x", b"{}", &[])).unwrap();
        assert_eq!(v, serde_json::json!({"_id": "a", "_rev": "1-x"}));
    }
}
