//! The official JSON-Schema-Test-Suite's cases for the keywords Settee supports, run against
//! `core::schema` (`bash scripts/schema-suite.sh`; the suite is fetched, never committed).
//! Ignored in plain `cargo test`: it needs `SCHEMA_SUITE_DIR` (the suite's checkout). Prints a
//! count per file and fails when any file passes fewer cases than the floor recorded here, so a
//! regression shows; a group whose schema does not compile counts all its cases as failed.
#![cfg(not(target_arch = "wasm32"))]

use serde_json::Value;
use settee::core::schema::Schema;
use std::path::Path;

/// The files run (under `tests/<draft>/`), with the fewest cases each must pass.
const FILES: &[(&str, &str, usize)] = &[
    ("draft2020-12", "additionalProperties", 21),
    ("draft2020-12", "allOf", 30),
    ("draft2020-12", "anchor", 6),
    ("draft2020-12", "anyOf", 18),
    ("draft2020-12", "boolean_schema", 18),
    ("draft2020-12", "const", 54),
    ("draft2020-12", "contains", 21),
    ("draft2020-12", "default", 7),
    ("draft2020-12", "defs", 0),
    ("draft2020-12", "dependentRequired", 20),
    ("draft2020-12", "dependentSchemas", 20),
    ("draft2020-12", "enum", 51),
    ("draft2020-12", "exclusiveMaximum", 4),
    ("draft2020-12", "exclusiveMinimum", 4),
    ("draft2020-12", "if-then-else", 30),
    ("draft2020-12", "infinite-loop-detection", 2),
    ("draft2020-12", "items", 29),
    ("draft2020-12", "maxContains", 14),
    ("draft2020-12", "maxItems", 6),
    ("draft2020-12", "maxLength", 7),
    ("draft2020-12", "maxProperties", 10),
    ("draft2020-12", "maximum", 8),
    ("draft2020-12", "minContains", 28),
    ("draft2020-12", "minItems", 6),
    ("draft2020-12", "minLength", 7),
    ("draft2020-12", "minProperties", 10),
    ("draft2020-12", "minimum", 11),
    ("draft2020-12", "multipleOf", 11),
    ("draft2020-12", "not", 38),
    ("draft2020-12", "oneOf", 27),
    ("draft2020-12", "pattern", 9),
    ("draft2020-12", "patternProperties", 23),
    ("draft2020-12", "prefixItems", 11),
    ("draft2020-12", "properties", 28),
    ("draft2020-12", "propertyNames", 22),
    ("draft2020-12", "ref", 61),
    ("draft2020-12", "required", 18),
    ("draft2020-12", "type", 80),
    ("draft2020-12", "uniqueItems", 69),
    ("draft2020-12", "optional/format/date-time", 33),
    ("draft2020-12", "optional/format/date", 81),
    ("draft2020-12", "optional/format/time", 47),
    ("draft2020-12", "optional/format/email", 27),
    ("draft2020-12", "optional/format/uuid", 28),
    ("draft2020-12", "optional/format/ipv4", 41),
    ("draft2020-12", "optional/format/hostname", 41),
    ("draft2020-12", "optional/format/uri", 44),
    ("draft7", "additionalItems", 19),
    ("draft7", "additionalProperties", 16),
    ("draft7", "allOf", 30),
    ("draft7", "anyOf", 18),
    ("draft7", "const", 54),
    ("draft7", "contains", 21),
    ("draft7", "definitions", 0),
    ("draft7", "dependencies", 36),
    ("draft7", "enum", 45),
    ("draft7", "if-then-else", 30),
    ("draft7", "items", 28),
    ("draft7", "maximum", 8),
    ("draft7", "minimum", 11),
    ("draft7", "oneOf", 27),
    ("draft7", "pattern", 9),
    ("draft7", "properties", 28),
    ("draft7", "ref", 64),
    ("draft7", "required", 18),
    ("draft7", "type", 80),
    ("draft7", "uniqueItems", 69),
];

#[test]
#[ignore = "needs SCHEMA_SUITE_DIR: run bash scripts/schema-suite.sh"]
fn the_official_suite_passes_at_least_the_recorded_cases() {
    let dir = std::env::var("SCHEMA_SUITE_DIR").expect("SCHEMA_SUITE_DIR names the suite's checkout");
    let (mut passed, mut total, mut below) = (0, 0, Vec::new());
    for (draft, file, floor) in FILES {
        let path = Path::new(&dir).join("tests").join(draft).join(format!("{file}.json"));
        let text = std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
        let groups: Vec<Value> = serde_json::from_str(&text).expect("suite files are JSON");
        let (mut p, mut t) = (0, 0);
        let mut failures = Vec::new();
        for g in &groups {
            // The suite leaves the draft to the runner: say it the way a schema would.
            let mut schema = g["schema"].clone();
            if let (Value::Object(m), "draft7") = (&mut schema, *draft) {
                m.entry("$schema").or_insert("http://json-schema.org/draft-07/schema#".into());
            }
            let compiled = Schema::compile(&schema);
            for case in g["tests"].as_array().expect("tests") {
                t += 1;
                let want = case["valid"].as_bool().expect("valid");
                let got = compiled.as_ref().map(|s| s.validate(&case["data"]).is_ok());
                if got == Ok(want) {
                    p += 1;
                } else {
                    let why = match &compiled {
                        Err(e) => format!("schema refused: {e}"),
                        Ok(_) => format!("expected valid={want}"),
                    };
                    failures.push(format!("{} / {}: {why}", g["description"], case["description"]));
                }
            }
        }
        println!("{draft}/{file}: {p}/{t}");
        for f in failures.iter().take(6) {
            println!("    failed: {f}");
        }
        if p < *floor {
            below.push(format!("{draft}/{file}: {p} < {floor}"));
        }
        passed += p;
        total += t;
    }
    println!("total: {passed}/{total}");
    assert!(below.is_empty(), "below the recorded floors: {below:?}");
}
