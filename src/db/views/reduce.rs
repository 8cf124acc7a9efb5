//! Reducing the rows of a range, grouped by `group` / `group_level`.
//!
//! Built-ins reduce a whole group at once. A custom reduce sees a group in chunks of `CHUNK`
//! rows and then combines the chunks' results with `rereduce = true`, so a reduce function
//! must be correct under rereduce, as CouchDB requires.

use super::query::Row;
use super::Reduce;
use crate::core::collate::collate_eq;
use crate::core::reduce::group_key;
use crate::error::Result;
use serde_json::Value;

const CHUNK: usize = 256;

/// `(group key, reduction)` per group, in row order. `level`: `None` groups exact keys,
/// `Some(n)` the first n array elements (`Some(0)`: everything, under a `null` key).
pub fn reduce_rows(reduce: &Reduce, rows: &[Row], level: Option<usize>) -> Result<Vec<(Value, Value)>> {
    let mut groups: Vec<(Value, std::ops::Range<usize>)> = Vec::new();
    for (i, row) in rows.iter().enumerate() {
        let key = match level {
            Some(n) => group_key(&row.key, n),
            None => row.key.clone(),
        };
        match groups.last_mut() {
            Some((last, range)) if collate_eq(last, &key) => range.end = i + 1,
            _ => groups.push((key, i..i + 1)),
        }
    }
    groups.into_iter().map(|(key, range)| Ok((key, reduce_group(reduce, &rows[range])?))).collect()
}

fn reduce_group(reduce: &Reduce, rows: &[Row]) -> Result<Value> {
    match reduce {
        Reduce::Builtin(b) => {
            let values: Vec<Value> = rows.iter().map(|r| r.value.clone()).collect();
            b.reduce(&values)
        }
        Reduce::Custom(f) => {
            let mut partials = Vec::new();
            for chunk in rows.chunks(CHUNK) {
                let keys: Vec<(Value, String)> =
                    chunk.iter().map(|r| (r.key.clone(), r.id.clone())).collect();
                let values: Vec<Value> = chunk.iter().map(|r| r.value.clone()).collect();
                partials.push(f.reduce(Some(&keys), &values, false)?);
            }
            if partials.len() == 1 {
                Ok(partials.pop().unwrap_or(Value::Null))
            } else {
                f.reduce(None, &partials, true)
            }
        }
    }
}
