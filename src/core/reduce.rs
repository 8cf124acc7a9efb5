//! The built-in reduce functions `_sum`, `_count` and `_stats`, with reduce and rereduce, and
//! the grouping of rows for `group` / `group_level`.
//!
//! Rules, as CouchDB has them:
//! - `_count` counts rows; its rereduce adds counts.
//! - `_sum` adds numbers; arrays of numbers add element-wise (the shorter padded with zeros,
//!   a lone number counts as a one-element array); objects add key by key, recursively, and
//!   cannot be mixed with numbers or arrays. Its rereduce is the same sum.
//! - `_stats` gives `{sum, count, min, max, sumsqr}` of numbers; an array of numbers gives an
//!   array of stats, element-wise; a value already shaped as stats (as a rereduce sees) merges.
//! - Anything else is an error named `invalid_value`, status 500, as PouchDB reports it.
//!
//! Sums are f64, as in JavaScript; a result that is an integer below 2^53 is written as one.

use serde_json::{json, Map, Value};

use crate::core::collate::collate_eq;
use crate::error::{Error, Result};

/// One of CouchDB's built-in reduce functions.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum BuiltinReduce {
    Sum,
    Count,
    Stats,
}

impl BuiltinReduce {
    /// `_sum`, `_count` or `_stats`; anything else is not built in (`None`).
    /// CouchDB picks a built-in by the start of the source (`_sum` followed by anything), so
    /// `"_sum\n garbage"` is `_sum` there, and in PouchDB.
    pub fn parse(name: &str) -> Option<Self> {
        let name = name.trim_start();
        [("_sum", BuiltinReduce::Sum), ("_count", BuiltinReduce::Count), ("_stats", BuiltinReduce::Stats)]
            .into_iter()
            .find_map(|(prefix, b)| name.starts_with(prefix).then_some(b))
    }

    /// Reduces the values emitted by map rows (built-ins ignore the keys).
    pub fn reduce(self, values: &[Value]) -> Result<Value> {
        match self {
            BuiltinReduce::Count => Ok(Value::from(values.len())),
            BuiltinReduce::Sum => sum_all(values),
            BuiltinReduce::Stats => stats_all(values),
        }
    }

    /// Combines reductions of disjoint row sets (the output of `reduce` or `rereduce`).
    pub fn rereduce(self, reductions: &[Value]) -> Result<Value> {
        match self {
            BuiltinReduce::Count => {
                let total = reductions.iter().map(|v| as_number(v, "_count")).sum::<Result<f64>>()?;
                Ok(number(total))
            }
            BuiltinReduce::Sum => sum_all(reductions),
            BuiltinReduce::Stats => stats_all(reductions),
        }
    }
}

/// The key a row groups under at `group_level = level`: the first `level` elements of an array
/// key; other keys group exactly; level 0 groups everything under `null`.
pub fn group_key(key: &Value, level: usize) -> Value {
    match key {
        _ if level == 0 => Value::Null,
        Value::Array(items) if items.len() > level => Value::Array(items[..level].to_vec()),
        _ => key.clone(),
    }
}

/// Groups rows that arrive sorted by key: `level` `None` is `group=true` (exact keys), `Some(n)`
/// is `group_level=n`. Returns each group key with the values of its rows, in order.
pub fn group_rows<'a>(
    rows: impl IntoIterator<Item = (&'a Value, &'a Value)>,
    level: Option<usize>,
) -> Vec<(Value, Vec<Value>)> {
    let mut groups: Vec<(Value, Vec<Value>)> = Vec::new();
    for (key, value) in rows {
        let gk = match level {
            Some(level) => group_key(key, level),
            None => key.clone(),
        };
        match groups.last_mut() {
            // Equal under collation, so `1` and `1.0` share a group as CouchDB's do.
            Some((last, values)) if collate_eq(last, &gk) => values.push(value.clone()),
            _ => groups.push((gk, vec![value.clone()])),
        }
    }
    groups
}

fn invalid(message: String) -> Error {
    Error::new(500, "invalid_value", message.clone()).with_reason(message)
}

fn as_number(v: &Value, fun: &str) -> Result<f64> {
    v.as_f64()
        .ok_or_else(|| invalid(format!("builtin {fun} function requires map values to be numbers, got {v}")))
}

/// Writes integral results as integers, as JavaScript's JSON would.
fn number(x: f64) -> Value {
    if x.fract() == 0.0 && x.abs() < 9007199254740992.0 {
        Value::from(x as i64)
    } else {
        json!(x)
    }
}

// ---- _sum ----

/// A running `_sum`: kept as f64s so that a value's type is checked once.
enum Sum {
    Number(f64),
    Array(Vec<f64>),
    Object(Map<String, Value>),
}

fn sum_error(v: &Value) -> Error {
    invalid(format!(
        "builtin _sum function requires map values to be numbers, arrays of numbers, or objects \
         (not mixed with other types), got {v}"
    ))
}

fn sum_all(values: &[Value]) -> Result<Value> {
    let mut acc = Sum::Number(0.0);
    for (i, v) in values.iter().enumerate() {
        acc = if i == 0 { sum_start(v)? } else { sum_add(acc, v)? };
    }
    Ok(match acc {
        Sum::Number(x) => number(x),
        Sum::Array(xs) => Value::Array(xs.into_iter().map(number).collect()),
        Sum::Object(map) => Value::Object(map),
    })
}

fn sum_start(v: &Value) -> Result<Sum> {
    match v {
        Value::Number(n) => Ok(Sum::Number(n.as_f64().unwrap_or(0.0))),
        Value::Array(items) => Ok(Sum::Array(numbers_of(items, v)?)),
        // Normalise the object's numbers (and check every leaf) by adding it to an empty sum.
        Value::Object(_) => sum_add(Sum::Object(Map::new()), v),
        _ => Err(sum_error(v)),
    }
}

fn numbers_of(items: &[Value], whole: &Value) -> Result<Vec<f64>> {
    items.iter().map(|x| x.as_f64().ok_or_else(|| sum_error(whole))).collect()
}

fn sum_add(acc: Sum, v: &Value) -> Result<Sum> {
    Ok(match (acc, v) {
        (Sum::Number(a), Value::Number(n)) => Sum::Number(a + n.as_f64().unwrap_or(0.0)),
        (Sum::Number(a), Value::Array(items)) => Sum::Array(add_arrays(vec![a], numbers_of(items, v)?)),
        (Sum::Array(a), Value::Number(n)) => Sum::Array(add_arrays(a, vec![n.as_f64().unwrap_or(0.0)])),
        (Sum::Array(a), Value::Array(items)) => Sum::Array(add_arrays(a, numbers_of(items, v)?)),
        (Sum::Object(mut map), Value::Object(add)) => {
            for (k, x) in add {
                let summed = match map.remove(k) {
                    Some(prev) => sum_all(&[prev, x.clone()])?,
                    None => sum_all(std::slice::from_ref(x))?,
                };
                map.insert(k.clone(), summed);
            }
            Sum::Object(map)
        }
        _ => return Err(sum_error(v)),
    })
}

fn add_arrays(mut a: Vec<f64>, b: Vec<f64>) -> Vec<f64> {
    if a.len() < b.len() {
        a.resize(b.len(), 0.0);
    }
    a.iter_mut().zip(b).for_each(|(x, y)| *x += y);
    a
}

// ---- _stats ----

#[derive(Clone, Copy)]
struct Stats {
    sum: f64,
    count: f64,
    min: f64,
    max: f64,
    sumsqr: f64,
}

impl Stats {
    fn of(x: f64) -> Stats {
        Stats { sum: x, count: 1.0, min: x, max: x, sumsqr: x * x }
    }

    /// A value already shaped as stats (a rereduce input, or what a map emitted).
    fn parse(v: &Value) -> Option<Stats> {
        let o = v.as_object()?;
        let f = |k: &str| o.get(k)?.as_f64();
        Some(Stats {
            sum: f("sum")?,
            count: f("count")?,
            min: f("min")?,
            max: f("max")?,
            sumsqr: f("sumsqr")?,
        })
    }

    fn merge(self, o: Stats) -> Stats {
        Stats {
            sum: self.sum + o.sum,
            count: self.count + o.count,
            min: self.min.min(o.min),
            max: self.max.max(o.max),
            sumsqr: self.sumsqr + o.sumsqr,
        }
    }

    fn to_json(self) -> Value {
        json!({
            "sum": number(self.sum),
            "count": number(self.count),
            "min": number(self.min),
            "max": number(self.max),
            "sumsqr": number(self.sumsqr),
        })
    }
}

fn stats_error(v: &Value) -> Error {
    invalid(format!(
        "builtin _stats function requires map values to be numbers or arrays of numbers, got {v}"
    ))
}

/// Stats of one value: a number or stats object gives one, an array gives one per element.
fn stats_of(v: &Value) -> Result<Vec<Stats>> {
    if let Some(x) = v.as_f64() {
        return Ok(vec![Stats::of(x)]);
    }
    if let Some(s) = Stats::parse(v) {
        return Ok(vec![s]);
    }
    match v {
        Value::Array(items) => items
            .iter()
            .map(|x| x.as_f64().map(Stats::of).or_else(|| Stats::parse(x)).ok_or_else(|| stats_error(v)))
            .collect(),
        _ => Err(stats_error(v)),
    }
}

fn stats_all(values: &[Value]) -> Result<Value> {
    let mut acc: Option<(Vec<Stats>, bool)> = None;
    for v in values {
        let is_array = v.is_array();
        let next = stats_of(v)?;
        acc = Some(match acc {
            None => (next, is_array),
            Some((prev, prev_array)) if prev_array == is_array => {
                let (mut long, short) = if prev.len() >= next.len() { (prev, next) } else { (next, prev) };
                long.iter_mut().zip(short).for_each(|(a, b)| *a = a.merge(b));
                (long, is_array)
            }
            Some(_) => return Err(stats_error(v)),
        });
    }
    Ok(match acc {
        // CouchDB's stats of no rows: zero count, and no meaningful min/max.
        None => json!({"sum": 0, "count": 0, "min": 0, "max": 0, "sumsqr": 0}),
        Some((stats, true)) => Value::Array(stats.into_iter().map(Stats::to_json).collect()),
        Some((stats, false)) => stats[0].to_json(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn vals(v: Value) -> Vec<Value> {
        v.as_array().unwrap().clone()
    }

    #[test]
    fn count_counts_rows_and_rereduce_adds_counts() {
        assert_eq!(BuiltinReduce::Count.reduce(&vals(json!([null, "x", 3]))).unwrap(), json!(3));
        assert_eq!(BuiltinReduce::Count.rereduce(&vals(json!([3, 4]))).unwrap(), json!(7));
    }

    #[test]
    fn sum_adds_numbers_and_keeps_integers_integral() {
        assert_eq!(BuiltinReduce::Sum.reduce(&vals(json!([1, 2, 3]))).unwrap(), json!(6));
        assert_eq!(BuiltinReduce::Sum.reduce(&vals(json!([0.5, 1]))).unwrap(), json!(1.5));
        assert_eq!(BuiltinReduce::Sum.reduce(&[]).unwrap(), json!(0));
    }

    #[test]
    fn sum_adds_arrays_element_wise_padding_the_shorter() {
        let r = BuiltinReduce::Sum.reduce(&vals(json!([[1, 2], [10, 20, 30], 100]))).unwrap();
        assert_eq!(r, json!([111, 22, 30]));
        assert_eq!(BuiltinReduce::Sum.rereduce(&vals(json!([[1], [1, 1]]))).unwrap(), json!([2, 1]));
    }

    #[test]
    fn sum_adds_objects_key_by_key() {
        let r =
            BuiltinReduce::Sum.reduce(&vals(json!([{"a": 1, "b": [1]}, {"a": 2, "c": {"d": 1}}]))).unwrap();
        assert_eq!(r, json!({"a": 3, "b": [1], "c": {"d": 1}}));
    }

    #[test]
    fn sum_over_a_string_is_an_invalid_value_error() {
        let err = BuiltinReduce::Sum.reduce(&vals(json!([1, "two"]))).unwrap_err();
        assert_eq!((err.status, err.name), (500, "invalid_value"));
        assert!(err.message.contains("_sum") && err.message.contains("\"two\""), "{}", err.message);
        assert!(BuiltinReduce::Sum.reduce(&vals(json!([{"a": 1}, 2]))).is_err());
        assert!(BuiltinReduce::Sum.reduce(&vals(json!([[1, "x"]]))).is_err());
    }

    #[test]
    fn stats_reduce_then_rereduce_equals_stats_of_everything() {
        let a = BuiltinReduce::Stats.reduce(&vals(json!([1, 2]))).unwrap();
        let b = BuiltinReduce::Stats.reduce(&vals(json!([-3]))).unwrap();
        let all = BuiltinReduce::Stats.rereduce(&[a, b]).unwrap();
        assert_eq!(all, json!({"sum": 0, "count": 3, "min": -3, "max": 2, "sumsqr": 14}));
        assert_eq!(all, BuiltinReduce::Stats.reduce(&vals(json!([1, 2, -3]))).unwrap());
    }

    #[test]
    fn stats_of_arrays_are_element_wise() {
        let r = BuiltinReduce::Stats.reduce(&vals(json!([[1, 10], [3]]))).unwrap();
        assert_eq!(r[0]["sum"], json!(4));
        assert_eq!(r[1], json!({"sum": 10, "count": 1, "min": 10, "max": 10, "sumsqr": 100}));
    }

    #[test]
    fn stats_over_a_string_is_an_error() {
        let err = BuiltinReduce::Stats.reduce(&vals(json!(["x"]))).unwrap_err();
        assert_eq!(err.name, "invalid_value");
    }

    #[test]
    fn parse_knows_only_the_builtins() {
        assert_eq!(BuiltinReduce::parse("_stats"), Some(BuiltinReduce::Stats));
        assert_eq!(BuiltinReduce::parse("function (k, v) { return sum(v); }"), None);
    }

    #[test]
    fn group_key_truncates_arrays_only() {
        assert_eq!(group_key(&json!(["a", "b", "c"]), 2), json!(["a", "b"]));
        assert_eq!(group_key(&json!(["a"]), 2), json!(["a"]));
        assert_eq!(group_key(&json!("abc"), 1), json!("abc"));
        assert_eq!(group_key(&json!(["a"]), 0), Value::Null);
    }

    #[test]
    fn group_rows_merges_adjacent_equal_group_keys() {
        let rows = [(json!(["a", 1]), json!(1)), (json!(["a", 2]), json!(2)), (json!(["b", 1]), json!(3))];
        let groups = group_rows(rows.iter().map(|(k, v)| (k, v)), Some(1));
        assert_eq!(groups, vec![(json!(["a"]), vec![json!(1), json!(2)]), (json!(["b"]), vec![json!(3)])]);
        let exact = group_rows(rows.iter().map(|(k, v)| (k, v)), None);
        assert_eq!(exact.len(), 3);
    }
}
