//! `fields: ["_id", "a.b"]`: the projection of each result. Nested paths rebuild their
//! enclosing objects; fields a document lacks are left out. Like CouchDB, `_id` and `_rev`
//! are returned only when listed.

use serde_json::{Map, Value};

use super::{FieldPath, Lookup};
use crate::error::{Error, Result};

/// Parses a `fields` array (absent or `null` → whole documents, `None`).
pub fn parse_fields(fields: Option<&Value>) -> Result<Option<Vec<FieldPath>>> {
    match fields {
        None | Some(Value::Null) => Ok(None),
        Some(Value::Array(items)) => items
            .iter()
            .map(|item| match item {
                Value::String(name) => FieldPath::parse(name),
                other => Err(Error::bad_request(format!("fields must be strings, got {other}"))),
            })
            .collect::<Result<Vec<FieldPath>>>()
            .map(Some),
        Some(other) => Err(Error::bad_request(format!("fields must be an array, got {other}"))),
    }
}

/// The document cut down to `fields`.
pub fn project(doc: &Value, fields: &[FieldPath]) -> Value {
    let mut out = Map::new();
    for path in fields {
        if let Lookup::Found(v) = path.lookup(doc) {
            insert(&mut out, path.segments(), v.clone());
        }
    }
    Value::Object(out)
}

fn insert(map: &mut Map<String, Value>, segments: &[String], v: Value) {
    match segments {
        [] => {}
        [last] => {
            map.insert(last.clone(), v);
        }
        [first, rest @ ..] => {
            let slot = map.entry(first.clone()).or_insert_with(|| Value::Object(Map::new()));
            // A field listed whole and one of its sub-fields: the whole value already holds it.
            if let Value::Object(inner) = slot {
                insert(inner, rest, v);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn projection_keeps_listed_fields_and_rebuilds_nesting() {
        let doc = json!({"_id": "x", "_rev": "1-a", "a": {"b": 1, "c": 2}, "d": [1]});
        let fields = parse_fields(Some(&json!(["_id", "a.b", "d", "missing"]))).unwrap().unwrap();
        assert_eq!(project(&doc, &fields), json!({"_id": "x", "a": {"b": 1}, "d": [1]}));
    }

    #[test]
    fn fields_must_be_an_array_of_strings() {
        assert!(parse_fields(Some(&json!("a"))).is_err());
        assert!(parse_fields(Some(&json!([1]))).is_err());
        assert_eq!(parse_fields(None).unwrap(), None);
    }
}
