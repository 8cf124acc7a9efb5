//! CouchDB's collation table (collation.rst, "Collation Specification") as one ordered list,
//! which must sort identically under `collate` and under the byte order of `keycodec::encode`.
//!
//! One deliberate difference: CouchDB orders strings with ICU (`"a" < "A" < "aa" < "b" < "B"`);
//! Settee orders them by code point (`"A" < "B" < "a" < "aa" < "b"`). The string section below
//! is CouchDB's strings in code point order, and `icu_string_order_is_not_settees` pins the
//! difference down.

use std::cmp::Ordering;

use serde_json::{json, Value};
use settee::core::collate::collate;
use settee::core::keycodec::{decode, encode};

/// The table, in ascending order; entries that collate equal share an inner list.
fn table() -> Vec<Vec<Value>> {
    let groups = vec![
        // Special values before all other types.
        vec![json!(null)],
        vec![json!(false)],
        vec![json!(true)],
        // Numbers, by value (extended with negatives, zeros and fractions).
        vec![json!(-1e300)],
        vec![json!(-2)],
        vec![json!(-0.5)],
        vec![json!(0), json!(-0.0), json!(0.0)],
        vec![json!(1), json!(1.0)],
        vec![json!(2)],
        vec![json!(3.0), json!(3)],
        vec![json!(4)],
        vec![json!(9007199254740992u64)],
        vec![json!(9007199254740993u64)],
        vec![json!(1e300)],
        // Strings, by code point (see the module doc).
        vec![json!("")],
        vec![json!("A")],
        vec![json!("B")],
        vec![json!("a")],
        vec![json!("aa")],
        vec![json!("b")],
        vec![json!("ba")],
        vec![json!("bb")],
        vec![json!("é")],
        vec![json!("\u{fff0}")],
        vec![json!("\u{1f600}")],
        // Arrays, element by element; longer arrays after their prefixes.
        vec![json!([])],
        vec![json!([null])],
        vec![json!([1])],
        vec![json!(["a"])],
        vec![json!(["b"])],
        vec![json!(["b", "c"])],
        vec![json!(["b", "c", "a"])],
        vec![json!(["b", "d"])],
        vec![json!(["b", "d", "e"])],
        vec![json!(["b", {}])],
        vec![json!([[]])],
        // Objects, key then value, member by member; larger objects after their subsets.
        vec![json!({})],
        vec![json!({"a": 1})],
        vec![json!({"a": 2})],
        vec![json!({"b": 1})],
        vec![json!({"b": 2})],
        // Member order matters: this is not the same object as {"a": 1, "b": 2}.
        vec![json!({"b": 2, "a": 1})],
        vec![json!({"b": 2, "c": 2})],
    ];
    groups
}

#[test]
fn table_is_in_collation_order() {
    let table = table();
    for (i, group_a) in table.iter().enumerate() {
        for (j, group_b) in table.iter().enumerate() {
            for a in group_a {
                for b in group_b {
                    assert_eq!(collate(a, b), i.cmp(&j), "collate({a}, {b})");
                }
            }
        }
    }
}

#[test]
fn table_is_in_encoded_byte_order() {
    let table = table();
    for (i, group_a) in table.iter().enumerate() {
        for (j, group_b) in table.iter().enumerate() {
            for a in group_a {
                for b in group_b {
                    assert_eq!(encode(a).cmp(&encode(b)), i.cmp(&j), "encode({a}) vs encode({b})");
                }
            }
        }
    }
}

#[test]
fn shuffled_table_sorts_back_the_same_under_both_orders() {
    let flat: Vec<Value> = table().into_iter().map(|g| g[0].clone()).collect();
    let mut by_collate = flat.clone();
    by_collate.reverse();
    by_collate.rotate_left(7);
    let mut by_bytes = by_collate.clone();
    by_collate.sort_by(collate);
    by_bytes.sort_by_key(encode);
    assert_eq!(by_collate, flat);
    assert_eq!(by_bytes, flat);
}

#[test]
fn every_table_entry_decodes_to_an_equal_value() {
    for v in table().into_iter().flatten() {
        assert_eq!(collate(&decode(&encode(&v)).unwrap(), &v), Ordering::Equal, "{v}");
    }
}

#[test]
fn icu_string_order_is_not_settees() {
    // collation.rst lists "a" < "A" < "aa" < "b" < "B" < "ba" < "bb" (ICU, case-insensitive
    // first). By code point every uppercase ASCII letter sorts before every lowercase one.
    let icu = ["a", "A", "aa", "b", "B", "ba", "bb"].map(|s| json!(s));
    let mut sorted = icu.to_vec();
    sorted.sort_by(collate);
    assert_eq!(sorted, ["A", "B", "a", "aa", "b", "ba", "bb"].map(|s| json!(s)));
}

#[test]
fn the_customer_orders_range_trick_works() {
    // startkey=["XYZ"]&endkey=["XYZ", {}] holds ["XYZ", 0] and ["XYZ", 1] but not ["XYZ", {..}].
    let (start, end) = (encode(&json!(["XYZ"])), encode(&json!(["XYZ", {}])));
    for inside in [json!(["XYZ", 0]), json!(["XYZ", 1]), json!(["XYZ", "z", [1]])] {
        assert!(start <= encode(&inside) && encode(&inside) <= end, "{inside}");
    }
    assert!(encode(&json!(["XYZ", {"an": "object"}])) > end);
}
