//! CouchDB view collation over JSON values: the order of view rows, Mango comparisons and the
//! key codec (`keycodec` encodes keys so that byte order is exactly this order).
//!
//! - Types first: `null < false < true < numbers < strings < arrays < objects`.
//! - Numbers by exact value: `1 == 1.0`, `-0.0 == 0.0`, and integers beyond 2^53 (which
//!   serde_json keeps as `u64`/`i64`) are compared exactly, not through a lossy `f64`. CouchDB's
//!   Erlang compares integers exactly too; PouchDB cannot hold such integers at all.
//! - Strings by Unicode code point (which is also the byte order of their UTF-8).
//!   - CouchDB uses the ICU root collator: case-insensitive first (`"a" < "A" < "aa" < "b"`),
//!     punctuation before digits before letters.
//!   - PouchDB compares UTF-16 code units, which differs from code points only for characters
//!     above U+FFFF against U+E000..U+FFFF (surrogates sort below those in UTF-16).
//!   - Settee chooses code points: the order is total, locale-free, cheap, and equals the byte
//!     order of the key encoding. Apps that need case-insensitive ranges emit lowercased keys.
//! - Arrays element by element; a proper prefix sorts first (`[1] < [1, null]`).
//! - Objects member by member in member order (documents keep insertion order): compare the
//!   keys (as strings), then the values; an object that is a prefix of the other sorts first.

use std::cmp::Ordering;

use serde_json::{Map, Number, Value};

/// The CouchDB collation order of two JSON values.
pub fn collate(a: &Value, b: &Value) -> Ordering {
    match (a, b) {
        (Value::Number(x), Value::Number(y)) => compare_numbers(x, y),
        (Value::String(x), Value::String(y)) => x.cmp(y),
        (Value::Array(x), Value::Array(y)) => compare_arrays(x, y),
        (Value::Object(x), Value::Object(y)) => compare_objects(x, y),
        // Same rank for null/null and for a bool pair: false < true is bool's own order.
        (Value::Bool(x), Value::Bool(y)) => x.cmp(y),
        _ => type_rank(a).cmp(&type_rank(b)),
    }
}

/// The position of a value's type in the collation (`false` and `true` are separate ranks).
pub fn type_rank(v: &Value) -> u8 {
    match v {
        Value::Null => 0,
        Value::Bool(false) => 1,
        Value::Bool(true) => 2,
        Value::Number(_) => 3,
        Value::String(_) => 4,
        Value::Array(_) => 5,
        Value::Object(_) => 6,
    }
}

/// A number as `(nearest f64, exact remainder)`: the pair's lexicographic order is the exact
/// numeric order. Rounding to nearest is monotonic, so different roundings already decide; two
/// numbers with the same rounding differ only by their (small, exact) integer remainders. A
/// float is its own rounding (remainder 0); `-0.0` becomes `0.0`.
pub fn number_parts(n: &Number) -> (f64, i64) {
    if let Some(i) = n.as_i64() {
        let r = i as f64;
        // |i - r| is at most half a unit in the last place of r, i.e. <= 1024 here.
        return (r + 0.0, (i128::from(i) - r as i128) as i64);
    }
    if let Some(u) = n.as_u64() {
        let r = u as f64;
        // u64::MAX rounds up to 2^64, which `as i128` holds exactly.
        return (r, (i128::from(u) - r as i128) as i64);
    }
    // serde_json never holds NaN or infinities, so total order is numeric order here.
    (n.as_f64().unwrap_or(0.0) + 0.0, 0)
}

/// Numeric order of two JSON numbers (exact for integers of any size serde_json holds).
pub fn compare_numbers(a: &Number, b: &Number) -> Ordering {
    let (ra, da) = number_parts(a);
    let (rb, db) = number_parts(b);
    ra.total_cmp(&rb).then(da.cmp(&db))
}

fn compare_arrays(a: &[Value], b: &[Value]) -> Ordering {
    for (x, y) in a.iter().zip(b) {
        match collate(x, y) {
            Ordering::Equal => {}
            other => return other,
        }
    }
    a.len().cmp(&b.len())
}

fn compare_objects(a: &Map<String, Value>, b: &Map<String, Value>) -> Ordering {
    for ((ka, va), (kb, vb)) in a.iter().zip(b) {
        match ka.cmp(kb).then_with(|| collate(va, vb)) {
            Ordering::Equal => {}
            other => return other,
        }
    }
    a.len().cmp(&b.len())
}

/// `collate(a, b) == Equal`: JSON equality up to number representation (`1 == 1.0`).
pub fn collate_eq(a: &Value, b: &Value) -> bool {
    collate(a, b) == Ordering::Equal
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn lt(a: Value, b: Value) {
        assert_eq!(collate(&a, &b), Ordering::Less, "{a} < {b}");
        assert_eq!(collate(&b, &a), Ordering::Greater, "{b} > {a}");
    }

    #[test]
    fn types_sort_null_bools_numbers_strings_arrays_objects() {
        let order = [json!(null), json!(false), json!(true), json!(-1e300), json!(""), json!([]), json!({})];
        for w in order.windows(2) {
            lt(w[0].clone(), w[1].clone());
        }
    }

    #[test]
    fn numbers_compare_by_value_whatever_their_representation() {
        assert_eq!(collate(&json!(1), &json!(1.0)), Ordering::Equal);
        assert_eq!(collate(&json!(-0.0), &json!(0)), Ordering::Equal);
        lt(json!(-2), json!(-1.5));
        lt(json!(2.5), json!(3));
    }

    #[test]
    fn integers_beyond_2_pow_53_compare_exactly() {
        let big = 1u64 << 53;
        lt(json!(big), json!(big + 1));
        // 2^53 + 1 rounds to 2^53 as an f64, but is still greater than the float 2^53.
        lt(json!(9007199254740992.0), json!(big + 1));
        lt(json!(i64::MIN), json!(i64::MIN + 1));
        lt(json!(u64::MAX - 1), json!(u64::MAX));
        lt(json!(u64::MAX), json!(1.8446744073709552e19));
        lt(json!(-9007199254740993i64), json!(-9007199254740992.0));
    }

    #[test]
    fn strings_compare_by_code_point_not_by_utf16_unit() {
        lt(json!("A"), json!("a"));
        lt(json!("a"), json!("aa"));
        // U+1F600 (a surrogate pair in UTF-16) is above U+FFFD by code point.
        lt(json!("\u{fffd}"), json!("\u{1f600}"));
    }

    #[test]
    fn arrays_compare_element_wise_with_prefixes_first() {
        lt(json!([1]), json!([1, null]));
        lt(json!([1, 2]), json!([2]));
        lt(json!(["a", "z"]), json!(["a", {}]));
    }

    #[test]
    fn objects_compare_key_then_value_in_member_order() {
        lt(json!({"a": 2}), json!({"b": 1}));
        lt(json!({"b": 1}), json!({"b": 2}));
        lt(json!({"b": 2}), json!({"b": 2, "a": 1}));
        lt(json!({"b": 2, "a": 1}), json!({"b": 2, "c": 2}));
    }
}
