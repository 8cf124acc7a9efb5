//! Mango queries, pure: selectors parsed into a typed matcher, sort specs, `fields` projection
//! and index planning. `find`, `explain` and replication's `selector` filter build on these.
//!
//! Selector semantics follow CouchDB's (`mango_selector`), not MongoDB's:
//! - Members of one object are an implicit `$and`; a bare value is `$eq`; nested objects name
//!   nested fields (`{"a": {"b": 1}}` is `{"a.b": {"$eq": 1}}`); an empty object as a value is
//!   `$eq: {}`. Use `{"a": {"$eq": {...}}}` to compare a whole object.
//! - Negations (`$not`, `$nor`) are pushed down to the conditions at parse time (De Morgan,
//!   `$gt` ↔ `$lte`, `$in` ↔ `$nin`, `$exists: b` ↔ `$exists: !b`, …).
//! - Then a condition on a missing field is false, whatever it is, except `$exists: false`.
//!   So `{"a": {"$ne": 1}}` and `{"$not": {"a": 1}}` do not match docs without `a`.
//! - A path through a scalar (`a.b` where `a` is 5) fails every condition.
//! - Comparisons use `collate`, so `{"$gt": 5}` also matches every string, array and object.
//! - `$eq` compares whole values (an array field is not searched for an element); `$in`
//!   against an array field matches when any element equals any argument.
//! - `$all: [x]` also matches when the field equals `x` itself; `$allMatch` needs a
//!   non-empty array; `$mod` needs an integer-typed number; `$regex` searches (unanchored)
//!   with JS `RegExp` in the browser, as PouchDB does, and with `regex-lite` natively (see
//!   `regex`).

mod eval;
mod fields;
mod parse;
mod path;
mod plan;
pub(crate) mod regex;
mod sort;

pub use fields::{parse_fields, project};
pub use path::{FieldPath, Lookup};
pub use plan::{plan_query, IndexDef, IndexRange, QueryPlan};
pub use sort::{parse_sort, Direction, SortField};

use serde_json::Value;

use crate::error::Result;

/// A parsed selector; `matches` tests a document against it.
#[derive(Clone, Debug)]
pub struct Selector {
    root: Node,
}

impl Selector {
    /// Parses a selector, rejecting malformed ones with a 400 `bad_request`.
    pub fn parse(selector: &Value) -> Result<Selector> {
        Ok(Selector { root: parse::parse_selector(selector)? })
    }

    pub fn matches(&self, doc: &Value) -> bool {
        eval::node_matches(&self.root, doc)
    }

    /// The top-level members of a doc that matching reads (the first segment of every field
    /// path, sorted, without repeats), so a caller may parse only those. `None` when it needs
    /// the whole doc.
    pub fn top_fields(&self) -> Option<Vec<String>> {
        fn walk<'a>(node: &'a Node, out: &mut Vec<&'a str>) -> Option<()> {
            match node {
                Node::And(nodes) | Node::Or(nodes) => nodes.iter().try_for_each(|n| walk(n, out)),
                Node::Field(path, _) => {
                    out.push(path.segments().first()?);
                    Some(())
                }
            }
        }
        let mut out = Vec::new();
        walk(&self.root, &mut out)?;
        // `&str`, unstable: the sort the write path compiles anyway (no copy of its own).
        out.sort_unstable();
        out.dedup();
        Some(out.into_iter().map(str::to_string).collect())
    }

    /// True for `{}` (every document matches).
    pub fn is_empty(&self) -> bool {
        matches!(&self.root, Node::And(nodes) if nodes.is_empty())
    }

    pub(crate) fn root(&self) -> &Node {
        &self.root
    }
}

/// The normalised selector tree: combinators over conditions on fields, negations pushed
/// down to the conditions.
#[derive(Clone, Debug)]
pub(crate) enum Node {
    And(Vec<Node>),
    Or(Vec<Node>),
    Field(FieldPath, Cond),
}

/// One condition on the value at a field path.
#[derive(Clone, Debug)]
pub(crate) enum Cond {
    Eq(Value),
    Ne(Value),
    Lt(Value),
    Lte(Value),
    Gt(Value),
    Gte(Value),
    In(Vec<Value>),
    Nin(Vec<Value>),
    Exists(bool),
    Type(JsonType),
    Size(u64),
    Mod(i64, i64),
    Regex(regex::Pattern),
    All(Vec<Value>),
    /// The selector applies to each element (paths inside are relative to the element).
    ElemMatch(Box<Node>),
    AllMatch(Box<Node>),
    /// The selector applies to each key of an object (as a string).
    KeyMapMatch(Box<Node>),
    /// A negation that has no positive form (`$not` of `$regex`, `$size`, …).
    Not(Box<Cond>),
}

/// The names `$type` accepts.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum JsonType {
    Null,
    Boolean,
    Number,
    String,
    Array,
    Object,
}

impl JsonType {
    pub(crate) fn parse(name: &str) -> Option<JsonType> {
        Some(match name {
            "null" => JsonType::Null,
            "boolean" => JsonType::Boolean,
            "number" => JsonType::Number,
            "string" => JsonType::String,
            "array" => JsonType::Array,
            "object" => JsonType::Object,
            _ => return None,
        })
    }

    pub(crate) fn of(v: &Value) -> JsonType {
        match v {
            Value::Null => JsonType::Null,
            Value::Bool(_) => JsonType::Boolean,
            Value::Number(_) => JsonType::Number,
            Value::String(_) => JsonType::String,
            Value::Array(_) => JsonType::Array,
            Value::Object(_) => JsonType::Object,
        }
    }
}
