//! `sort: ["a", {"b": "desc"}]`: field names, each ascending or with an explicit direction.
//! CouchDB sorts only through an index read one way, so all directions must agree.

use serde_json::Value;

use super::FieldPath;
use crate::error::{Error, Result};

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Direction {
    Asc,
    Desc,
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SortField {
    pub path: FieldPath,
    pub direction: Direction,
}

/// Parses a `sort` array (absent or `null` → no sort).
pub fn parse_sort(sort: Option<&Value>) -> Result<Vec<SortField>> {
    let items = match sort {
        None | Some(Value::Null) => return Ok(Vec::new()),
        Some(Value::Array(items)) => items,
        Some(other) => return Err(Error::bad_request(format!("sort must be an array, got {other}"))),
    };
    let fields = items.iter().map(parse_one).collect::<Result<Vec<SortField>>>()?;
    if fields.windows(2).any(|w| w[0].direction != w[1].direction) {
        return Err(Error::bad_request("Sorts currently only support a single direction for all fields."));
    }
    Ok(fields)
}

fn parse_one(item: &Value) -> Result<SortField> {
    let bad = || {
        Error::bad_request(format!(
            "Invalid sort field {item}: expected \"field\" or {{\"field\": \"asc\" | \"desc\"}}"
        ))
    };
    match item {
        Value::String(name) => Ok(SortField { path: FieldPath::parse(name)?, direction: Direction::Asc }),
        Value::Object(map) if map.len() == 1 => {
            let (name, dir) = map.iter().next().ok_or_else(bad)?;
            let direction = match dir.as_str() {
                Some("asc") => Direction::Asc,
                Some("desc") => Direction::Desc,
                _ => return Err(bad()),
            };
            Ok(SortField { path: FieldPath::parse(name)?, direction })
        }
        _ => Err(bad()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn strings_are_ascending_and_objects_name_their_direction() {
        let sort = parse_sort(Some(&json!([{"a": "desc"}, {"b.c": "desc"}]))).unwrap();
        assert_eq!(sort[1].path.to_string(), "b.c");
        assert!(sort.iter().all(|s| s.direction == Direction::Desc));
        assert_eq!(parse_sort(Some(&json!(["a"]))).unwrap()[0].direction, Direction::Asc);
        assert!(parse_sort(None).unwrap().is_empty());
    }

    #[test]
    fn mixed_directions_and_malformed_entries_are_rejected() {
        for bad in
            [json!(["a", {"b": "desc"}]), json!([{"a": "up"}]), json!([{"a": "asc", "b": "asc"}]), json!("a")]
        {
            assert_eq!(parse_sort(Some(&bad)).unwrap_err().name, "bad_request", "{bad}");
        }
    }
}
