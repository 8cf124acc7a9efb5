#![cfg(not(target_arch = "wasm32"))]
//! Properties of the view key codec over arbitrary nested JSON: byte order of `encode` is
//! exactly `collate`, and `decode` inverts `encode` (numbers up to representation: `3.0` may
//! come back as `3`, `-0.0` as `0`).

use std::cmp::Ordering;

use proptest::prelude::*;
use serde_json::{Map, Number, Value};
use settee::core::collate::collate;
use settee::core::keycodec::{decode, encode, split_doc_id, with_doc_id};

fn number() -> impl Strategy<Value = Value> {
    prop_oneof![
        // Small integers collide often, so equal keys are exercised too.
        (-3i64..4).prop_map(Value::from),
        any::<i64>().prop_map(Value::from),
        any::<u64>().prop_map(Value::from),
        // Integers near 2^53 and 2^63, where f64 rounding merges neighbours.
        (-4i64..4).prop_map(|d| Value::from((1i64 << 53) + d)),
        (0u64..4).prop_map(|d| Value::from(u64::MAX - d)),
        (-4i64..4).prop_map(|d| Value::from(i64::MIN.wrapping_add(d.abs()))),
        any::<f64>().prop_filter_map("finite", |f| Number::from_f64(f).map(Value::Number)),
        prop_oneof![
            Just(0.0),
            Just(-0.0),
            Just(0.5),
            Just(-0.5),
            Just(9007199254740992.0),
            Just(1.8446744073709552e19)
        ]
        .prop_filter_map("finite", |f: f64| Number::from_f64(f).map(Value::Number)),
    ]
}

fn string() -> impl Strategy<Value = String> {
    // A small alphabet with NUL, 0x01, ASCII case, a 2-byte, a 3-byte and a 4-byte char.
    prop::collection::vec(
        prop::sample::select(vec!['\0', '\u{1}', 'a', 'A', 'b', 'é', '\u{fff0}', '😀']),
        0..4,
    )
    .prop_map(|cs| cs.into_iter().collect())
}

fn json() -> impl Strategy<Value = Value> {
    let leaf = prop_oneof![
        Just(Value::Null),
        any::<bool>().prop_map(Value::Bool),
        number(),
        string().prop_map(Value::String),
    ];
    leaf.prop_recursive(4, 32, 4, |inner| {
        prop_oneof![
            prop::collection::vec(inner.clone(), 0..4).prop_map(Value::Array),
            prop::collection::vec((string(), inner), 0..4).prop_map(|members| {
                let mut map = Map::new();
                for (k, v) in members {
                    map.insert(k, v);
                }
                Value::Object(map)
            }),
        ]
    })
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(2000))]

    #[test]
    fn encoded_byte_order_is_collation_order(a in json(), b in json()) {
        prop_assert_eq!(encode(&a).cmp(&encode(&b)), collate(&a, &b), "a = {}, b = {}", a, b);
    }

    #[test]
    fn decode_inverts_encode_up_to_number_representation(v in json()) {
        let back = decode(&encode(&v)).unwrap();
        prop_assert_eq!(collate(&back, &v), Ordering::Equal, "{} came back as {}", v, back);
        // Same bytes again: nothing is lost that the order could see.
        prop_assert_eq!(encode(&back), encode(&v));
    }

    #[test]
    fn row_keys_sort_by_key_then_doc_id(a in json(), b in json(), ia in string(), ib in string()) {
        let expected = collate(&a, &b).then(ia.as_bytes().cmp(ib.as_bytes()));
        prop_assert_eq!(with_doc_id(&a, &ia).cmp(&with_doc_id(&b, &ib)), expected);
        let row = with_doc_id(&a, &ia);
        let (key, id) = split_doc_id(&row).unwrap();
        prop_assert_eq!(collate(&key, &a), Ordering::Equal);
        prop_assert_eq!(id, ia.as_str());
    }
}
