//! Dotted field paths: `"a.b"` is field `b` of field `a`; `"a\\.b"` (JSON for `a\.b`) is the
//! one field named `a.b`. A numeric segment also indexes into an array (`"tags.0"`).

use std::fmt;

use serde_json::Value;

use crate::error::{Error, Result};

#[derive(Clone, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct FieldPath(Vec<String>);

/// What a path finds in a value.
#[derive(Debug, PartialEq)]
pub enum Lookup<'a> {
    Found(&'a Value),
    /// An object on the way lacks the field (or an array is too short).
    Missing,
    /// The path goes through a scalar, or names a non-index on an array. CouchDB fails every
    /// condition on such a path, `$exists: false` included.
    BadPath,
}

impl FieldPath {
    /// The path of the value itself (used inside `$elemMatch` and friends).
    pub fn root() -> FieldPath {
        FieldPath(Vec::new())
    }

    /// Parses a dotted name; `\.` is a literal dot and `\$` a literal `$` (a field whose name
    /// starts with `$` is no operator that way). Empty segments are an error.
    pub fn parse(name: &str) -> Result<FieldPath> {
        let mut segments = Vec::new();
        let mut current = String::new();
        let mut chars = name.chars().peekable();
        while let Some(c) = chars.next() {
            match c {
                '\\' if matches!(chars.peek(), Some('.' | '$')) => current.push(chars.next().unwrap_or('.')),
                '.' => segments.push(std::mem::take(&mut current)),
                _ => current.push(c),
            }
        }
        segments.push(current);
        if segments.iter().any(String::is_empty) {
            return Err(Error::bad_request(format!("Invalid field name: {name:?}")));
        }
        Ok(FieldPath(segments))
    }

    pub fn segments(&self) -> &[String] {
        &self.0
    }

    pub fn is_root(&self) -> bool {
        self.0.is_empty()
    }

    /// This path followed by `more`.
    pub fn join(&self, more: &FieldPath) -> FieldPath {
        FieldPath(self.0.iter().chain(&more.0).cloned().collect())
    }

    pub fn lookup<'a>(&self, value: &'a Value) -> Lookup<'a> {
        let mut current = value;
        for segment in &self.0 {
            current = match current {
                Value::Object(map) => match map.get(segment) {
                    Some(v) => v,
                    None => return Lookup::Missing,
                },
                Value::Array(items) => match segment.parse::<usize>() {
                    Ok(i) => match items.get(i) {
                        Some(v) => v,
                        None => return Lookup::Missing,
                    },
                    Err(_) => return Lookup::BadPath,
                },
                _ => return Lookup::BadPath,
            };
        }
        Lookup::Found(current)
    }
}

/// The dotted form, with literal dots escaped again: it parses back to the same path.
impl fmt::Display for FieldPath {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let escaped: Vec<String> = self.0.iter().map(|s| s.replace('.', "\\.")).collect();
        f.write_str(&escaped.join("."))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn path(s: &str) -> FieldPath {
        FieldPath::parse(s).unwrap()
    }

    #[test]
    fn dots_split_and_escaped_dots_do_not() {
        assert_eq!(path("a.b").segments(), ["a", "b"]);
        assert_eq!(path("a\\.b.c").segments(), ["a.b", "c"]);
        assert_eq!(path("a\\.b.c").to_string(), "a\\.b.c");
    }

    #[test]
    fn an_escaped_dollar_is_a_literal_dollar() {
        assert_eq!(path("\\$foobar").segments(), ["$foobar"]);
        assert_eq!(path("a.\\$b").segments(), ["a", "$b"]);
    }

    #[test]
    fn empty_segments_are_rejected() {
        for bad in ["", "a.", ".a", "a..b"] {
            assert_eq!(FieldPath::parse(bad).unwrap_err().status, 400, "{bad:?}");
        }
    }

    #[test]
    fn lookup_distinguishes_missing_from_bad_paths() {
        let doc = json!({"a": {"b": 1}, "n": 5, "t": ["x", "y"], "a.b": 2});
        assert_eq!(path("a.b").lookup(&doc), Lookup::Found(&json!(1)));
        assert_eq!(path("a\\.b").lookup(&doc), Lookup::Found(&json!(2)));
        assert_eq!(path("t.1").lookup(&doc), Lookup::Found(&json!("y")));
        assert_eq!(path("a.c").lookup(&doc), Lookup::Missing);
        assert_eq!(path("t.5").lookup(&doc), Lookup::Missing);
        assert_eq!(path("n.x").lookup(&doc), Lookup::BadPath);
        assert_eq!(path("t.x").lookup(&doc), Lookup::BadPath);
    }
}
