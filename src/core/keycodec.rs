//! An order-preserving byte encoding of view keys: `encode(a).cmp(&encode(b)) == collate(a, b)`
//! for all JSON values, so a view or Mango index is one key range of the ordered KV store.
//!
//! # Format
//! One tag byte per value, then its body:
//!
//! | value | bytes |
//! |---|---|
//! | null | `10` |
//! | false / true | `20` / `21` |
//! | number | `30`, 8 bytes of the nearest f64, 2 bytes of exact integer remainder |
//! | string | `40`, UTF-8 with NUL written `00 FF`, then `00 01` |
//! | array | `50`, each element, then `00` |
//! | object | `60`, per member the key as a string (`40` …) then the value, then `00` |
//!
//! Why it sorts right:
//! - Tags are in collation type order, and every encoding is self-delimiting (no encoding is a
//!   proper prefix of another), so the first differing byte decides, element by element.
//! - The `00` end of an array/object is below every tag, so a prefix sorts first.
//! - The `00 01` end of a string is below `00 FF` (an escaped NUL) and below every other byte,
//!   so `"a" < "a\0" < "a\x01"`; UTF-8 byte order is code point order.
//! - A number is `(f64 rounding, remainder)` as in [`collate::number_parts`]: the f64 bits with
//!   the sign bit flipped (positives) or all bits flipped (negatives) sort numerically, then the
//!   remainder (|r| <= 1024, only non-zero for integers beyond 2^53) as a big-endian i16 with
//!   its sign bit flipped. `-0.0` is written as `0.0`.
//!
//! # Rows and ranges
//! - A row key is `encode(key) ++ doc id` ([`with_doc_id`], [`split_doc_id`]): the key is
//!   self-delimiting, so rows sort by (key, doc id), ids by UTF-8 bytes (= code points).
//! - `0xFF` never starts an element and never appears in UTF-8, so `bytes ++ [0xFF]`
//!   ([`prefix_end`]) is above every encoding that extends `bytes` at an element boundary:
//!   `encode(k) ++ FF` ends the rows of key `k`, `encode_prefix([a]) ++ FF` ends all arrays
//!   starting with `a` (including `[a, {"x": 1}]`, which CouchDB's `[a, {}]` trick misses).

use serde_json::{Map, Number, Value};

use crate::core::collate::number_parts;
use crate::error::{Error, Result};

const NULL: u8 = 0x10;
const FALSE: u8 = 0x20;
const TRUE: u8 = 0x21;
const NUMBER: u8 = 0x30;
const STRING: u8 = 0x40;
const ARRAY: u8 = 0x50;
const OBJECT: u8 = 0x60;
/// Ends an array or object; below every tag.
const END: u8 = 0x00;
/// Above every byte that can follow a complete element.
const HIGH: u8 = 0xFF;

/// The order-preserving encoding of `v`.
pub fn encode(v: &Value) -> Vec<u8> {
    let mut out = Vec::with_capacity(16);
    encode_into(v, &mut out);
    out
}

/// Appends the encoding of `v` to `out`.
pub fn encode_into(v: &Value, out: &mut Vec<u8>) {
    match v {
        Value::Null => out.push(NULL),
        Value::Bool(false) => out.push(FALSE),
        Value::Bool(true) => out.push(TRUE),
        Value::Number(n) => encode_number(n, out),
        Value::String(s) => encode_string(s, out),
        Value::Array(items) => {
            out.push(ARRAY);
            items.iter().for_each(|item| encode_into(item, out));
            out.push(END);
        }
        Value::Object(map) => {
            out.push(OBJECT);
            encode_members(map, out);
            out.push(END);
        }
    }
}

/// The encoding of `v` without its terminator, for strings, arrays and objects: every value
/// that extends `v` (a string starting with it, an array starting with its elements, an object
/// starting with its members) encodes to bytes starting with this. Other values encode whole.
pub fn encode_prefix(v: &Value) -> Vec<u8> {
    let mut out = encode(v);
    match v {
        Value::String(_) => out.truncate(out.len() - 2),
        Value::Array(_) | Value::Object(_) => out.truncate(out.len() - 1),
        _ => {}
    }
    out
}

/// The least byte string above every encoding that extends `prefix` (see the module doc).
pub fn prefix_end(prefix: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(prefix.len() + 1);
    out.extend_from_slice(prefix);
    out.push(HIGH);
    out
}

/// A view row key: rows sort by (key, doc id).
pub fn with_doc_id(key: &Value, doc_id: &str) -> Vec<u8> {
    let mut out = encode(key);
    out.extend_from_slice(doc_id.as_bytes());
    out
}

/// Splits a row key made by [`with_doc_id`] back into (key, doc id).
pub fn split_doc_id(bytes: &[u8]) -> Result<(Value, &str)> {
    let (key, used) = decode_prefix(bytes)?;
    let id = std::str::from_utf8(&bytes[used..]).map_err(|_| corrupt("doc id is not UTF-8"))?;
    Ok((key, id))
}

/// Decodes a whole encoding; trailing bytes are an error.
pub fn decode(bytes: &[u8]) -> Result<Value> {
    let (v, used) = decode_prefix(bytes)?;
    if used != bytes.len() {
        return Err(corrupt("trailing bytes"));
    }
    Ok(v)
}

/// Decodes one value from the start of `bytes`; returns it and the number of bytes used.
pub fn decode_prefix(bytes: &[u8]) -> Result<(Value, usize)> {
    let mut reader = Reader { bytes, pos: 0, depth: 0 };
    let v = reader.value()?;
    Ok((v, reader.pos))
}

fn encode_number(n: &Number, out: &mut Vec<u8>) {
    let (rounded, remainder) = number_parts(n);
    let bits = rounded.to_bits();
    // Flipping makes the IEEE bits sort as unsigned integers in numeric order.
    let sortable = if bits >> 63 == 1 { !bits } else { bits | 1 << 63 };
    out.push(NUMBER);
    out.extend_from_slice(&sortable.to_be_bytes());
    out.extend_from_slice(&((remainder as i16 as u16) ^ 0x8000).to_be_bytes());
}

fn encode_string(s: &str, out: &mut Vec<u8>) {
    out.push(STRING);
    for &b in s.as_bytes() {
        out.push(b);
        if b == 0 {
            out.push(HIGH);
        }
    }
    out.extend_from_slice(&[0x00, 0x01]);
}

fn encode_members(map: &Map<String, Value>, out: &mut Vec<u8>) {
    for (k, v) in map {
        encode_string(k, out);
        encode_into(v, out);
    }
}

fn corrupt(what: &str) -> Error {
    Error::corruption(format!("view key: {what}"))
}

/// Deeper than any key Settee writes (they come from JSON parsed by serde_json, which stops at
/// 128 levels, and a Mango row wraps them in one more array): damaged bytes of nothing but
/// array tags would otherwise recurse until the stack overflows, which no `Result` can catch.
/// Not much deeper: a debug build spends ~4 KiB of stack a level, and a test thread has 2 MiB.
const MAX_DEPTH: usize = 256;

struct Reader<'a> {
    bytes: &'a [u8],
    pos: usize,
    depth: usize,
}

impl Reader<'_> {
    fn byte(&mut self) -> Result<u8> {
        let b = *self.bytes.get(self.pos).ok_or_else(|| corrupt("truncated"))?;
        self.pos += 1;
        Ok(b)
    }

    fn take<const N: usize>(&mut self) -> Result<[u8; N]> {
        let slice = self.bytes.get(self.pos..self.pos + N).ok_or_else(|| corrupt("truncated"))?;
        self.pos += N;
        Ok(slice.try_into().expect("slice of length N"))
    }

    fn value(&mut self) -> Result<Value> {
        self.depth += 1;
        if self.depth > MAX_DEPTH {
            return Err(corrupt("nested too deep"));
        }
        let v = self.value_inner();
        self.depth -= 1;
        v
    }

    fn value_inner(&mut self) -> Result<Value> {
        Ok(match self.byte()? {
            NULL => Value::Null,
            FALSE => Value::Bool(false),
            TRUE => Value::Bool(true),
            NUMBER => Value::Number(self.number()?),
            STRING => Value::String(self.string()?),
            ARRAY => {
                let mut items = Vec::new();
                while self.peek()? != END {
                    items.push(self.value()?);
                }
                self.pos += 1;
                Value::Array(items)
            }
            OBJECT => {
                let mut map = Map::new();
                while self.peek()? != END {
                    if self.byte()? != STRING {
                        return Err(corrupt("object key is not a string"));
                    }
                    let k = self.string()?;
                    let v = self.value()?;
                    map.insert(k, v);
                }
                self.pos += 1;
                Value::Object(map)
            }
            _ => return Err(corrupt("unknown tag")),
        })
    }

    fn peek(&self) -> Result<u8> {
        self.bytes.get(self.pos).copied().ok_or_else(|| corrupt("truncated"))
    }

    fn number(&mut self) -> Result<Number> {
        let sortable = u64::from_be_bytes(self.take::<8>()?);
        let bits = if sortable >> 63 == 1 { sortable & !(1 << 63) } else { !sortable };
        let rounded = f64::from_bits(bits);
        let remainder = i128::from((u16::from_be_bytes(self.take::<2>()?) ^ 0x8000) as i16);
        number_from_parts(rounded, remainder).ok_or_else(|| corrupt("bad number"))
    }

    fn string(&mut self) -> Result<String> {
        let mut raw = Vec::new();
        loop {
            match self.byte()? {
                0x00 => match self.byte()? {
                    0x01 => break,
                    HIGH => raw.push(0),
                    _ => return Err(corrupt("bad string escape")),
                },
                b => raw.push(b),
            }
        }
        String::from_utf8(raw).map_err(|_| corrupt("string is not UTF-8"))
    }
}

/// Rebuilds a number: integral values that fit `i64`/`u64` come back as integers (as JSON
/// would print them), everything else as an f64. Equal by value to what was encoded.
fn number_from_parts(rounded: f64, remainder: i128) -> Option<Number> {
    if !rounded.is_finite() {
        return None;
    }
    // 2^64 is the largest rounding an integer can have; beyond it values are plain floats.
    if rounded.fract() == 0.0 && rounded.abs() <= 18446744073709551616.0 {
        let exact = rounded as i128 + remainder;
        if let Ok(i) = i64::try_from(exact) {
            return Some(Number::from(i));
        }
        if let Ok(u) = u64::try_from(exact) {
            return Some(Number::from(u));
        }
    }
    if remainder != 0 {
        return None;
    }
    Number::from_f64(rounded)
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn round_trips_nested_values() {
        let v = json!([null, true, false, -1.5, 0, "a\u{0}b", [], {"k": [1, {"": null}]}]);
        assert_eq!(decode(&encode(&v)).unwrap(), v);
    }

    #[test]
    fn negative_zero_encodes_as_zero() {
        assert_eq!(encode(&json!(-0.0)), encode(&json!(0)));
    }

    #[test]
    fn big_integers_round_trip_exactly() {
        for v in [json!(u64::MAX), json!(i64::MIN), json!((1u64 << 53) + 1), json!(-(1i64 << 53) - 1)] {
            assert_eq!(decode(&encode(&v)).unwrap(), v);
        }
    }

    #[test]
    fn strings_with_nul_sort_between_the_prefix_and_the_next_byte() {
        let (a, a_nul, a_one) = (encode(&json!("a")), encode(&json!("a\u{0}")), encode(&json!("a\u{1}")));
        assert!(a < a_nul && a_nul < a_one);
    }

    #[test]
    fn rows_sort_by_key_then_doc_id_and_split_back() {
        let r1 = with_doc_id(&json!("a"), "z");
        let r2 = with_doc_id(&json!("a\u{0}"), "a");
        let r3 = with_doc_id(&json!("b"), "");
        assert!(r1 < r2 && r2 < r3);
        assert_eq!(split_doc_id(&r1).unwrap(), (json!("a"), "z"));
        assert_eq!(split_doc_id(&r3).unwrap(), (json!("b"), ""));
    }

    #[test]
    fn array_prefix_range_holds_every_extension_and_nothing_else() {
        let start = encode_prefix(&json!(["Posting"]));
        let end = prefix_end(&start);
        for inside in [json!(["Posting"]), json!(["Posting", "x"]), json!(["Posting", {"a": 1}])] {
            let k = with_doc_id(&inside, "id");
            assert!(start <= k && k < end, "{inside}");
        }
        for outside in [json!("Posting"), json!(["Postin"]), json!(["Posting\u{0}"]), json!(["Q"])] {
            let k = with_doc_id(&outside, "id");
            assert!(!(start <= k && k < end), "{outside}");
        }
    }

    #[test]
    fn string_prefix_range_holds_strings_starting_with_it() {
        let start = encode_prefix(&json!("ab"));
        let end = prefix_end(&start);
        assert!(start <= encode(&json!("ab")) && encode(&json!("abz\u{10ffff}")) < end);
        assert!(encode(&json!("ac")) >= end);
    }

    #[test]
    fn key_end_bound_covers_every_doc_id_of_that_key() {
        let end = prefix_end(&encode(&json!(5)));
        assert!(with_doc_id(&json!(5), "\u{10ffff}") < end);
        assert!(with_doc_id(&json!(5.000001), "") > end);
    }

    #[test]
    fn corrupt_input_is_an_error_not_a_panic() {
        for bad in [&[][..], &[0x30, 1], &[0x40, b'a'], &[0x50], &[0x7f], &[0x40, 0, 7]] {
            assert!(decode(bad).is_err(), "{bad:?}");
        }
        assert!(decode(&[0x10, 0x10]).is_err());
    }

    #[test]
    fn deeply_nested_bytes_are_a_corruption_error_not_a_stack_overflow() {
        // Without the limit, this overflowed the stack: an abort, not an error.
        let e = decode(&[ARRAY; 1_000_000]).unwrap_err();
        assert_eq!((e.name, e.message.as_str()), ("corruption", "corrupt view key: nested too deep"));
        let deepest =
            serde_json::from_str::<Value>(&format!("{}{}", "[".repeat(127), "]".repeat(127))).unwrap();
        assert_eq!(decode(&encode(&deepest)).unwrap(), deepest, "what serde_json parses still decodes");
    }
}
