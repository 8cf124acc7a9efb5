//! Mango selectors against a fixed set of documents: every operator, the implicit forms,
//! CouchDB's rules for missing fields and negation, and the malformed selectors that must be
//! rejected with a 400.

use serde_json::{json, Value};
use settee::core::mango::{parse_fields, project, Selector};

fn docs() -> Vec<Value> {
    vec![
        json!({"_id": "a", "n": 1, "s": "apple", "tags": ["x", "y"], "o": {"k": 1, "deep": {"v": true}}}),
        json!({"_id": "b", "n": 2.5, "s": "Banana", "tags": ["y"], "o": {"k": 2}, "nums": [80, 90]}),
        json!({"_id": "c", "n": -3, "s": "cherry", "tags": [], "o": {}, "nums": [70, 84]}),
        json!({"_id": "d", "n": "7", "s": null, "tags": "x", "dotted": {"a.b": 1}}),
        json!({"_id": "e", "n": [1, 2], "s": {"x": 1}, "nums": [85, 82]}),
        json!({"_id": "f", "n": 10, "s": true, "tags": [["x", "y"]], "o": 5}),
    ]
}

/// Ids of the docs the selector matches, in doc order.
fn matching(selector: Value) -> String {
    let sel = Selector::parse(&selector).unwrap_or_else(|e| panic!("{selector}: {e}"));
    docs().iter().filter(|d| sel.matches(d)).map(|d| d["_id"].as_str().unwrap()).collect()
}

#[test]
fn selectors_match_the_expected_documents() {
    let cases: Vec<(Value, &str)> = vec![
        // Empty selector, implicit $eq and implicit $and.
        (json!({}), "abcdef"),
        (json!({"n": 1}), "a"),
        (json!({"n": 1.0}), "a"),
        (json!({"n": 1, "s": "apple"}), "a"),
        (json!({"n": 1, "s": "cherry"}), ""),
        // Nested objects name nested fields; dotted and escaped paths; array indexes.
        (json!({"o": {"k": 2}}), "b"),
        (json!({"o.k": 2}), "b"),
        (json!({"o.deep.v": true}), "a"),
        (json!({"dotted.a\\.b": 1}), "d"),
        (json!({"tags.0": "y"}), "b"),
        (json!({"o": {}}), "c"),
        // $eq compares whole values; arrays are not searched.
        (json!({"tags": {"$eq": ["y"]}}), "b"),
        (json!({"tags": "y"}), ""),
        (json!({"o": {"$eq": {"k": 1}}}), ""),
        (json!({"o": {"$eq": {"k": 2}}}), "b"),
        // $ne: false on a missing field (CouchDB), and by value across representations.
        (json!({"nums": {"$ne": [80, 90]}}), "ce"),
        (json!({"n": {"$ne": 1.0}}), "bcdef"),
        // Comparisons follow collation, across types.
        (json!({"n": {"$gt": 2}}), "bdef"),
        (json!({"n": {"$gte": 2.5, "$lt": 10}}), "b"),
        (json!({"n": {"$lte": 1}}), "ac"),
        (json!({"n": {"$lt": "0"}}), "abcf"),
        (json!({"s": {"$gt": null}}), "abcef"),
        (json!({"s": {"$gte": "a", "$lt": "c"}}), "a"),
        // $exists, and $type by name.
        (json!({"nums": {"$exists": true}}), "bce"),
        (json!({"nums": {"$exists": false}}), "adf"),
        (json!({"s": {"$type": "null"}}), "d"),
        (json!({"n": {"$type": "number"}}), "abcf"),
        (json!({"s": {"$type": "object"}}), "e"),
        (json!({"s": {"$type": "boolean"}}), "f"),
        (json!({"tags": {"$type": "array"}}), "abcf"),
        // $in / $nin: an array field matches when any element is in the list.
        (json!({"n": {"$in": [1, "7", 10]}}), "adef"),
        (json!({"tags": {"$in": ["x"]}}), "ad"),
        (json!({"tags": {"$in": [["x", "y"]]}}), "f"),
        (json!({"tags": {"$nin": ["x"]}}), "bcf"),
        // $size counts array elements only.
        (json!({"tags": {"$size": 1}}), "bf"),
        (json!({"tags": {"$size": 0}}), "c"),
        // $mod on integer-typed numbers; the remainder takes the dividend's sign.
        (json!({"n": {"$mod": [2, 0]}}), "f"),
        (json!({"n": {"$mod": [3, 0]}}), "c"),
        (json!({"n": {"$mod": [2, -1]}}), "c"),
        // $regex searches strings only, unanchored unless anchored.
        (json!({"s": {"$regex": "an"}}), "b"),
        (json!({"s": {"$regex": "^[a-c]"}}), "ac"),
        (json!({"s": {"$regex": "(?i)^b"}}), "b"),
        (json!({"n": {"$regex": "7"}}), "d"),
        // $all, including the one-array-argument form.
        (json!({"tags": {"$all": ["x", "y"]}}), "a"),
        (json!({"tags": {"$all": ["y"]}}), "ab"),
        (json!({"tags": {"$all": [["x", "y"]]}}), "af"),
        (json!({"tags": {"$all": []}}), "abcf"),
        // $elemMatch on elements (scalars and their own fields), $allMatch on non-empty arrays.
        (json!({"nums": {"$elemMatch": {"$gte": 80, "$lt": 85}}}), "bce"),
        (json!({"nums": {"$elemMatch": {"$gt": 85}}}), "b"),
        (json!({"nums": {"$allMatch": {"$gte": 80}}}), "be"),
        (json!({"tags": {"$allMatch": {"$eq": "y"}}}), "b"),
        (json!({"tags": {"$elemMatch": {"0": "x"}}}), "f"),
        // $keyMapMatch applies to an object's keys.
        (json!({"o": {"$keyMapMatch": {"$eq": "deep"}}}), "a"),
        // $and, $or, $nor, $not.
        (json!({"$and": [{"n": {"$gt": 0}}, {"n": {"$lt": 5}}]}), "ab"),
        (json!({"$or": [{"n": 1}, {"s": "cherry"}, {"nope": 1}]}), "ac"),
        (json!({"$or": []}), ""),
        (json!({"$and": []}), "abcdef"),
        (json!({"$nor": [{"n": 1}, {"n": 10}]}), "bcde"),
        (json!({"n": {"$not": {"$gt": 2}}}), "ac"),
        (json!({"$not": {"n": {"$type": "number"}}}), "de"),
        (json!({"nums": {"$not": {"$exists": true}}}), "adf"),
        (json!({"$not": {"$or": [{"n": 1}, {"s": "cherry"}]}}), "bdef"),
        // De Morgan puts a $not on $size, and a missing `nums` fails it: nothing matches.
        (json!({"$not": {"$or": [{"n": 1}, {"nums": {"$size": 2}}]}}), ""),
        (json!({"s": {"$not": {"$regex": "^a"}}}), "bcdef"),
        (json!({"n": {"$or": [{"$lt": 0}, {"$eq": 10}]}}), "cf"),
        // A path through a scalar fails even $exists: false; a missing field fails $ne.
        (json!({"o.k": {"$exists": false}}), "cde"),
        (json!({"missing": {"$ne": 1}}), ""),
        (json!({"missing": {"$not": {"$eq": 1}}}), ""),
    ];
    let failures: Vec<String> = cases
        .into_iter()
        .filter_map(|(sel, want)| {
            let got = matching(sel.clone());
            (got != want).then(|| format!("{sel}: want {want:?}, got {got:?}"))
        })
        .collect();
    assert!(failures.is_empty(), "\n{}", failures.join("\n"));
}

#[test]
fn malformed_selectors_are_bad_requests_with_a_message() {
    let cases = [
        (json!([]), "must be a JSON object"),
        (json!("x"), "must be a JSON object"),
        (json!({"$gt": 1}), "must be applied to a field"),
        (json!({"n": {"$foo": 1}}), "Invalid operator: $foo"),
        (json!({"n": {"$where": "1"}}), "not supported"),
        (json!({"$and": {"n": 1}}), "$and"),
        (json!({"$or": [1]}), "$or"),
        (json!({"$nor": "x"}), "$nor"),
        (json!({"$not": [1]}), "$not"),
        (json!({"n": {"$in": 1}}), "$in"),
        (json!({"n": {"$nin": {}}}), "$nin"),
        (json!({"n": {"$all": "x"}}), "$all"),
        (json!({"n": {"$exists": "yes"}}), "$exists"),
        (json!({"n": {"$type": "integer"}}), "$type"),
        (json!({"n": {"$type": 1}}), "$type"),
        (json!({"n": {"$size": -1}}), "$size"),
        (json!({"n": {"$size": 1.5}}), "$size"),
        (json!({"n": {"$mod": [0, 1]}}), "$mod"),
        (json!({"n": {"$mod": [2]}}), "$mod"),
        (json!({"n": {"$mod": [2.5, 1]}}), "$mod"),
        (json!({"n": {"$regex": "("}}), "$regex"),
        (json!({"n": {"$regex": 1}}), "$regex"),
        (json!({"n": {"$elemMatch": 1}}), "$elemMatch"),
        (json!({"n": {"$allMatch": []}}), "$allMatch"),
        (json!({"n": {"$keyMapMatch": "k"}}), "$keyMapMatch"),
        (json!({"a..b": 1}), "Invalid field name"),
        (json!({"": 1}), "Invalid field name"),
    ];
    for (sel, needle) in cases {
        let err = Selector::parse(&sel).expect_err(&sel.to_string());
        assert_eq!((err.status, err.name), (400, "bad_request"), "{sel}");
        assert!(err.message.contains(needle), "{sel}: {:?} lacks {needle:?}", err.message);
    }
}

#[test]
fn find_results_project_to_the_requested_fields() {
    let sel = Selector::parse(&json!({"o.k": {"$gte": 1}})).unwrap();
    let fields = parse_fields(Some(&json!(["_id", "o.k"]))).unwrap().unwrap();
    let out: Vec<Value> = docs().iter().filter(|d| sel.matches(d)).map(|d| project(d, &fields)).collect();
    assert_eq!(out, vec![json!({"_id": "a", "o": {"k": 1}}), json!({"_id": "b", "o": {"k": 2}})]);
}

#[test]
fn a_selector_names_the_top_level_members_it_reads() {
    let s = Selector::parse(&json!({"b.c": 1, "$or": [{"a": {"$gt": 1}}, {"b": {"$elemMatch": {"x": 1}}}]}))
        .unwrap();
    assert_eq!(s.top_fields().unwrap(), vec!["a".to_string(), "b".to_string()]);
    assert_eq!(Selector::parse(&json!({})).unwrap().top_fields().unwrap(), Vec::<String>::new());
}
