//! JSON selector → `Node`, validating every operator's argument and pushing negations down.

use serde_json::{Map, Value};

use super::{Cond, FieldPath, JsonType, Node};
use crate::error::{Error, Result};

pub(crate) fn parse_selector(selector: &Value) -> Result<Node> {
    match selector {
        Value::Object(map) => parse_object(map, &FieldPath::root(), false),
        other => Err(Error::bad_request(format!("Selector must be a JSON object, got {other}"))),
    }
}

/// The members of one object, at `path`; `in_element` is true inside `$elemMatch` and
/// friends, where an operator may apply to the element itself (an empty path).
fn parse_object(map: &Map<String, Value>, path: &FieldPath, in_element: bool) -> Result<Node> {
    let mut nodes = Vec::with_capacity(map.len());
    for (key, arg) in map {
        let node = if key.starts_with('$') {
            parse_operator(key, arg, path, in_element)?
        } else {
            let sub = path.join(&FieldPath::parse(key)?);
            parse_condition(arg, &sub)?
        };
        nodes.push(node);
    }
    Ok(if nodes.len() == 1 { nodes.remove(0) } else { Node::And(nodes) })
}

/// The value given for a field: a non-empty object holds operators and/or nested fields,
/// anything else (including `{}`) is an implicit `$eq`.
fn parse_condition(arg: &Value, path: &FieldPath) -> Result<Node> {
    match arg {
        Value::Object(map) if !map.is_empty() => parse_object(map, path, true),
        _ => Ok(Node::Field(path.clone(), Cond::Eq(arg.clone()))),
    }
}

fn bad(op: &str, wants: &str, arg: &Value) -> Error {
    Error::bad_request(format!("Bad argument for operator {op}: {wants}, got {arg}"))
}

fn parse_operator(op: &str, arg: &Value, path: &FieldPath, in_element: bool) -> Result<Node> {
    match op {
        "$and" | "$or" | "$nor" => {
            let items = arg.as_array().ok_or_else(|| bad(op, "expected an array of selectors", arg))?;
            let nodes = items
                .iter()
                .map(|item| match item {
                    Value::Object(map) => parse_object(map, path, in_element),
                    _ => Err(bad(op, "expected an array of selectors", arg)),
                })
                .collect::<Result<Vec<Node>>>()?;
            Ok(match op {
                "$and" => Node::And(nodes),
                "$or" => Node::Or(nodes),
                _ => Node::And(nodes.into_iter().map(negate).collect()),
            })
        }
        "$not" => match arg {
            Value::Object(map) => Ok(negate(parse_object(map, path, in_element)?)),
            _ => Err(bad(op, "expected a selector object", arg)),
        },
        _ => {
            // A condition needs a field, except on an element inside $elemMatch and friends.
            if path.is_root() && !in_element {
                return Err(Error::bad_request(format!("Operator {op} must be applied to a field")));
            }
            Ok(Node::Field(path.clone(), parse_cond(op, arg)?))
        }
    }
}

fn values(op: &str, arg: &Value) -> Result<Vec<Value>> {
    arg.as_array().cloned().ok_or_else(|| bad(op, "expected an array", arg))
}

fn sub_selector(op: &str, arg: &Value) -> Result<Box<Node>> {
    match arg {
        Value::Object(map) => Ok(Box::new(parse_object(map, &FieldPath::root(), true)?)),
        _ => Err(bad(op, "expected a selector object", arg)),
    }
}

fn parse_cond(op: &str, arg: &Value) -> Result<Cond> {
    Ok(match op {
        "$eq" => Cond::Eq(arg.clone()),
        "$ne" => Cond::Ne(arg.clone()),
        "$lt" => Cond::Lt(arg.clone()),
        "$lte" => Cond::Lte(arg.clone()),
        "$gt" => Cond::Gt(arg.clone()),
        "$gte" => Cond::Gte(arg.clone()),
        "$in" => Cond::In(values(op, arg)?),
        "$nin" => Cond::Nin(values(op, arg)?),
        "$all" => Cond::All(values(op, arg)?),
        "$exists" => Cond::Exists(arg.as_bool().ok_or_else(|| bad(op, "expected true or false", arg))?),
        "$type" => {
            let wants =
                "expected one of \"null\", \"boolean\", \"number\", \"string\", \"array\", \"object\"";
            Cond::Type(arg.as_str().and_then(JsonType::parse).ok_or_else(|| bad(op, wants, arg))?)
        }
        "$size" => Cond::Size(arg.as_u64().ok_or_else(|| bad(op, "expected a non-negative integer", arg))?),
        "$mod" => {
            let wants = "expected [divisor, remainder], integers with a non-zero divisor";
            match arg.as_array().map(Vec::as_slice) {
                Some([d, r]) => match (d.as_i64(), r.as_i64()) {
                    (Some(d), Some(r)) if d != 0 => Cond::Mod(d, r),
                    _ => return Err(bad(op, wants, arg)),
                },
                _ => return Err(bad(op, wants, arg)),
            }
        }
        "$regex" => {
            let pattern = arg.as_str().ok_or_else(|| bad(op, "expected a string", arg))?;
            let regex = super::regex::Pattern::new(pattern)
                .map_err(|e| bad(op, &format!("invalid regular expression ({e})"), arg))?;
            Cond::Regex(regex)
        }
        "$elemMatch" => Cond::ElemMatch(sub_selector(op, arg)?),
        "$allMatch" => Cond::AllMatch(sub_selector(op, arg)?),
        "$keyMapMatch" => Cond::KeyMapMatch(sub_selector(op, arg)?),
        "$where" | "$text" | "$geoWithin" | "$geoIntersects" | "$near" | "$nearSphere" => {
            return Err(Error::bad_request(format!("Operator {op} is not supported")))
        }
        _ => return Err(Error::bad_request(format!("Invalid operator: {op}"))),
    })
}

/// The selector matching exactly what `node` does not (on present fields; see the module doc
/// for missing ones).
pub(crate) fn negate(node: Node) -> Node {
    match node {
        Node::And(nodes) => Node::Or(nodes.into_iter().map(negate).collect()),
        Node::Or(nodes) => Node::And(nodes.into_iter().map(negate).collect()),
        Node::Field(path, cond) => Node::Field(path, negate_cond(cond)),
    }
}

fn negate_cond(cond: Cond) -> Cond {
    match cond {
        Cond::Eq(v) => Cond::Ne(v),
        Cond::Ne(v) => Cond::Eq(v),
        Cond::Lt(v) => Cond::Gte(v),
        Cond::Gte(v) => Cond::Lt(v),
        Cond::Lte(v) => Cond::Gt(v),
        Cond::Gt(v) => Cond::Lte(v),
        Cond::In(v) => Cond::Nin(v),
        Cond::Nin(v) => Cond::In(v),
        Cond::Exists(b) => Cond::Exists(!b),
        Cond::Not(inner) => *inner,
        other => Cond::Not(Box::new(other)),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn parse(v: Value) -> Node {
        parse_selector(&v).unwrap()
    }

    #[test]
    fn nested_objects_become_dotted_paths() {
        match parse(json!({"a": {"b": {"$gt": 1}}})) {
            Node::Field(path, Cond::Gt(v)) => assert_eq!((path.to_string(), v), ("a.b".into(), json!(1))),
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn not_is_pushed_down_with_de_morgan() {
        match parse(json!({"$not": {"a": 1, "b": {"$gt": 2}}})) {
            Node::Or(nodes) => {
                assert!(matches!(&nodes[0], Node::Field(_, Cond::Ne(_))));
                assert!(matches!(&nodes[1], Node::Field(_, Cond::Lte(_))));
            }
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn operators_without_a_field_are_rejected_at_the_top() {
        assert_eq!(parse_selector(&json!({"$gt": 1})).unwrap_err().name, "bad_request");
        assert!(parse_selector(&json!({"a": {"$elemMatch": {"$gt": 1}}})).is_ok());
    }
}
