//! Matching a document against a parsed selector.

use std::cmp::Ordering;

use serde_json::Value;

use super::{Cond, JsonType, Lookup, Node};
use crate::core::collate::{collate, collate_eq};

pub(crate) fn node_matches(node: &Node, value: &Value) -> bool {
    match node {
        Node::And(nodes) => nodes.iter().all(|n| node_matches(n, value)),
        Node::Or(nodes) => nodes.iter().any(|n| node_matches(n, value)),
        Node::Field(path, cond) => match path.lookup(value) {
            Lookup::Found(v) => cond_matches(cond, v),
            // Negations were pushed down, so this is CouchDB's rule for missing fields.
            Lookup::Missing => matches!(cond, Cond::Exists(false)),
            Lookup::BadPath => false,
        },
    }
}

fn cmp(v: &Value, arg: &Value) -> Ordering {
    collate(v, arg)
}

fn cond_matches(cond: &Cond, v: &Value) -> bool {
    match cond {
        Cond::Eq(arg) => collate_eq(v, arg),
        Cond::Ne(arg) => !collate_eq(v, arg),
        Cond::Lt(arg) => cmp(v, arg) == Ordering::Less,
        Cond::Lte(arg) => cmp(v, arg) != Ordering::Greater,
        Cond::Gt(arg) => cmp(v, arg) == Ordering::Greater,
        Cond::Gte(arg) => cmp(v, arg) != Ordering::Less,
        Cond::In(args) => is_in(v, args),
        Cond::Nin(args) => !is_in(v, args),
        Cond::Exists(should) => *should,
        Cond::Type(t) => JsonType::of(v) == *t,
        Cond::Size(n) => v.as_array().is_some_and(|items| items.len() as u64 == *n),
        Cond::Mod(divisor, remainder) => integer(v).is_some_and(|i| {
            // Truncated remainder: its sign follows the dividend, as in Erlang's `rem`.
            i % i128::from(*divisor) == i128::from(*remainder)
        }),
        Cond::Regex(re) => v.as_str().is_some_and(|s| re.is_match(s)),
        Cond::All(args) => v.as_array().is_some_and(|items| {
            let has_all = args.iter().all(|a| items.iter().any(|x| collate_eq(x, a)));
            // `{"$all": [[1, 2]]}` also matches the array `[1, 2]` itself.
            let is_the_one = matches!(args.as_slice(), [Value::Array(_)]) && collate_eq(&args[0], v);
            has_all || is_the_one
        }),
        Cond::ElemMatch(sel) => v.as_array().is_some_and(|items| items.iter().any(|x| node_matches(sel, x))),
        Cond::AllMatch(sel) => {
            v.as_array().is_some_and(|items| !items.is_empty() && items.iter().all(|x| node_matches(sel, x)))
        }
        Cond::KeyMapMatch(sel) => {
            v.as_object().is_some_and(|map| map.keys().any(|k| node_matches(sel, &Value::String(k.clone()))))
        }
        Cond::Not(inner) => !cond_matches(inner, v),
    }
}

/// `$in`: an array field matches when any of its elements equals any argument.
fn is_in(v: &Value, args: &[Value]) -> bool {
    match v {
        Value::Array(items) => items.iter().any(|x| args.iter().any(|a| collate_eq(x, a))),
        _ => args.iter().any(|a| collate_eq(v, a)),
    }
}

/// An integer-typed JSON number (`4.0` is a float and is not one, as in CouchDB).
fn integer(v: &Value) -> Option<i128> {
    v.as_i64().map(i128::from).or_else(|| v.as_u64().map(i128::from))
}
