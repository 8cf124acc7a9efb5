//! Running compiled nodes over a value. The happy path allocates nothing: a failure carries
//! the path segments back up as it returns, and the pointer is written only at the top.

use super::compile::{Check, Compiled, Node, NodeId, ARR, BOOL, INT, NULL, NUM, OBJ, STR};
use super::equal::{eq_instances, eq_schema_value};
use super::instance::J;
use std::borrow::Cow;
use std::fmt;

/// Why a value failed: the path to it (innermost segment first) and the rule it broke.
#[derive(Debug, Clone, PartialEq)]
pub struct Failure {
    rev_path: Vec<Seg>,
    rule: String,
}

#[derive(Debug, Clone, PartialEq)]
enum Seg {
    Key(String),
    Index(usize),
}

impl Failure {
    fn new(rule: String) -> Box<Failure> {
        Box::new(Failure { rev_path: Vec::new(), rule })
    }

    /// The JSON Pointer of the offending value (`""` for the whole doc).
    pub fn pointer(&self) -> String {
        let mut out = String::new();
        for seg in self.rev_path.iter().rev() {
            out.push('/');
            match seg {
                Seg::Key(k) => out.push_str(&escape(k)),
                Seg::Index(i) => out.push_str(&i.to_string()),
            }
        }
        out
    }

    pub fn rule(&self) -> &str {
        &self.rule
    }
}

impl fmt::Display for Failure {
    /// `/data/p1: expected array, got string`; the whole doc is `/`.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let p = self.pointer();
        write!(f, "{}: {}", if p.is_empty() { "/" } else { &p }, self.rule)
    }
}

pub(super) fn escape(key: &str) -> String {
    key.replace('~', "~0").replace('/', "~1")
}

type Res = Result<(), Box<Failure>>;

fn at_key(r: Res, key: &str) -> Res {
    r.map_err(|mut f| {
        f.rev_path.push(Seg::Key(key.to_string()));
        f
    })
}

fn at_index(r: Res, i: usize) -> Res {
    r.map_err(|mut f| {
        f.rev_path.push(Seg::Index(i));
        f
    })
}

type Members<'a> = [(Cow<'a, str>, J<'a>)];

fn kind(v: &J) -> u8 {
    match v {
        J::Null => NULL,
        J::Bool(_) => BOOL,
        J::Num(n) if n.is_integer() => INT | NUM,
        J::Num(_) => NUM,
        J::Str(_) => STR,
        J::Arr(_) => ARR,
        J::Obj(_) => OBJ,
    }
}

fn kind_name(v: &J) -> &'static str {
    match v {
        J::Null => "null",
        J::Bool(_) => "boolean",
        J::Num(n) if n.is_integer() => "integer",
        J::Num(_) => "number",
        J::Str(_) => "string",
        J::Arr(_) => "array",
        J::Obj(_) => "object",
    }
}

fn mask_names(mask: u8) -> String {
    let mut names = Vec::new();
    for (bit, name) in [
        (NULL, "null"),
        (BOOL, "boolean"),
        (INT | NUM, "number"),
        (STR, "string"),
        (ARR, "array"),
        (OBJ, "object"),
    ] {
        if mask & bit == bit {
            names.push(name);
        }
    }
    if mask & (INT | NUM) == INT {
        names.push("integer");
    }
    names.join(" or ")
}

fn fail(rule: String) -> Res {
    Err(Failure::new(rule))
}

impl Compiled {
    pub(super) fn check(&self, v: &J) -> Result<(), Failure> {
        self.node(0, v).map_err(|f| *f)
    }

    fn node(&self, id: NodeId, v: &J) -> Res {
        match &self.nodes[id] {
            Node::Bool(true) => Ok(()),
            Node::Bool(false) => fail("no value is allowed here".into()),
            Node::Checks(checks) => {
                for c in checks {
                    match v {
                        J::Obj(m) => self.object_check(c, m)?,
                        _ => self.one(c, v)?,
                    }
                }
                Ok(())
            }
        }
    }

    fn valid(&self, id: NodeId, v: &J) -> bool {
        self.node(id, v).is_ok()
    }

    /// Checks that apply to objects, given the map; the rest go to `one`.
    fn object_check(&self, c: &Check, m: &Members) -> Res {
        match c {
            Check::Properties { named, patterns, additional } => {
                for (key, value) in m {
                    let key: &str = key;
                    let mut matched = false;
                    if let Some((_, n)) = named.iter().find(|(k, _)| k == key) {
                        matched = true;
                        at_key(self.node(*n, value), key)?;
                    }
                    for (pat, n) in patterns {
                        if pat.is_match(key) {
                            matched = true;
                            at_key(self.node(*n, value), key)?;
                        }
                    }
                    if let (false, Some(n)) = (matched, additional) {
                        if let Node::Bool(false) = self.nodes[*n] {
                            return at_key(fail("additional property not allowed".into()), key);
                        }
                        at_key(self.node(*n, value), key)?;
                    }
                }
                Ok(())
            }
            Check::Required(keys) => match keys.iter().find(|k| field(m, k).is_none()) {
                Some(k) => at_key(fail("required property is missing".into()), k),
                None => Ok(()),
            },
            Check::MinProperties(n) if (m.len() as u64) < *n => {
                fail(format!("expected at least {n} properties"))
            }
            Check::MaxProperties(n) if (m.len() as u64) > *n => {
                fail(format!("expected at most {n} properties"))
            }
            Check::PropertyNames(n) => {
                for (key, _) in m {
                    let name = J::Str(Cow::Borrowed(key));
                    if let Err(e) = self.node(*n, &name) {
                        return at_key(
                            fail(format!("property name does not match propertyNames ({})", e.rule)),
                            key,
                        );
                    }
                }
                Ok(())
            }
            Check::DependentRequired(deps) => {
                for (key, needs) in deps {
                    if field(m, key).is_some() {
                        if let Some(missing) = needs.iter().find(|k| field(m, k).is_none()) {
                            return at_key(fail(format!("required when {key:?} is present")), missing);
                        }
                    }
                }
                Ok(())
            }
            Check::DependentSchemas(deps) => {
                for (key, n) in deps {
                    if field(m, key).is_some() {
                        self.object_node(*n, m)?;
                    }
                }
                Ok(())
            }
            Check::Type(mask) if mask & OBJ == 0 => {
                fail(format!("expected {}, got object", mask_names(*mask)))
            }
            Check::Type(_)
            | Check::MinProperties(_)
            | Check::MaxProperties(_)
            | Check::MinLength(_)
            | Check::MaxLength(_)
            | Check::Pattern(..)
            | Check::Format(_)
            | Check::Minimum(_)
            | Check::Maximum(_)
            | Check::ExclusiveMinimum(_)
            | Check::ExclusiveMaximum(_)
            | Check::MultipleOf(_)
            | Check::Items { .. }
            | Check::MinItems(_)
            | Check::MaxItems(_)
            | Check::UniqueItems
            | Check::Contains { .. } => Ok(()),
            Check::Ref(n) => self.object_node(*n, m),
            Check::AllOf(list) => list.iter().try_for_each(|n| self.object_node(*n, m)),
            Check::AnyOf(list) => match list.iter().any(|n| self.object_node(*n, m).is_ok()) {
                true => Ok(()),
                false => fail(self.none_matched("anyOf", list, m)),
            },
            Check::OneOf(list) => {
                let n = list.iter().filter(|n| self.object_node(**n, m).is_ok()).count();
                match n {
                    1 => Ok(()),
                    0 => fail(self.none_matched("oneOf", list, m)),
                    _ => fail(format!("matches {n} schemas of oneOf, expected exactly one")),
                }
            }
            Check::Not(n) => match self.object_node(*n, m) {
                Ok(()) => fail("matches the schema in not".into()),
                Err(_) => Ok(()),
            },
            Check::If { cond, then, otherwise } => {
                match (self.object_node(*cond, m).is_ok(), then, otherwise) {
                    (true, Some(t), _) => self.object_node(*t, m),
                    (false, _, Some(e)) => self.object_node(*e, m),
                    _ => Ok(()),
                }
            }
            Check::Const(c) => match eq_schema_value(c, &J::Obj(m.to_vec())) {
                true => Ok(()),
                false => fail(format!("expected the constant {c}")),
            },
            Check::Enum(values) => {
                match values.iter().any(|e| e.is_object() && eq_schema_value(e, &J::Obj(m.to_vec()))) {
                    true => Ok(()),
                    false => fail(format!("expected one of {}", list_text(values))),
                }
            }
        }
    }

    /// A node applied to an object given as its map.
    fn object_node(&self, id: NodeId, m: &Members) -> Res {
        match &self.nodes[id] {
            Node::Bool(true) => Ok(()),
            Node::Bool(false) => fail("no value is allowed here".into()),
            Node::Checks(checks) => checks.iter().try_for_each(|c| self.object_check(c, m)),
        }
    }

    /// The anyOf/oneOf message: when every branch failed, the one that got furthest (its
    /// failure deepest in the doc) is the likely intent, so its reason is given.
    fn none_matched(&self, what: &str, list: &[NodeId], m: &Members) -> String {
        let best = list.iter().filter_map(|n| self.object_node(*n, m).err()).max_by_key(|f| f.rev_path.len());
        match best {
            Some(f) if !f.rev_path.is_empty() => format!("matches no schema of {what} (closest: {f})"),
            _ => format!("matches no schema of {what}"),
        }
    }

    /// Checks on a value that is not an object.
    fn one(&self, c: &Check, v: &J) -> Res {
        match c {
            Check::Type(mask) => {
                if kind(v) & mask != 0 {
                    Ok(())
                } else {
                    fail(format!("expected {}, got {}", mask_names(*mask), kind_name(v)))
                }
            }
            Check::Const(c) => match eq_schema_value(c, v) {
                true => Ok(()),
                false => fail(format!("expected the constant {c}")),
            },
            Check::Enum(values) => match values.iter().any(|e| eq_schema_value(e, v)) {
                true => Ok(()),
                false => fail(format!("expected one of {}", list_text(values))),
            },
            Check::MinLength(n) => match v {
                J::Str(s) if (s.chars().count() as u64) < *n => {
                    fail(format!("expected at least {n} characters"))
                }
                _ => Ok(()),
            },
            Check::MaxLength(n) => match v {
                J::Str(s) if (s.chars().count() as u64) > *n => {
                    fail(format!("expected at most {n} characters"))
                }
                _ => Ok(()),
            },
            Check::Pattern(p, text) => match v {
                J::Str(s) if !p.is_match(s) => fail(format!("does not match the pattern {text:?}")),
                _ => Ok(()),
            },
            Check::Format(f) => match v {
                J::Str(s) if !f.is_valid(s) => fail(format!("not a valid {}", f.name())),
                _ => Ok(()),
            },
            Check::Minimum(n) => number(v, |x| x >= *n, || format!("expected a number >= {n}")),
            Check::Maximum(n) => number(v, |x| x <= *n, || format!("expected a number <= {n}")),
            Check::ExclusiveMinimum(n) => number(v, |x| x > *n, || format!("expected a number > {n}")),
            Check::ExclusiveMaximum(n) => number(v, |x| x < *n, || format!("expected a number < {n}")),
            Check::MultipleOf(n) => {
                number(v, |x| is_multiple(x, *n), || format!("expected a multiple of {n}"))
            }
            Check::Items { prefix, rest } => {
                let J::Arr(items) = v else { return Ok(()) };
                for (i, item) in items.iter().enumerate() {
                    match prefix.get(i).copied().or(*rest) {
                        Some(n) => at_index(self.node(n, item), i)?,
                        None => break,
                    }
                }
                Ok(())
            }
            Check::MinItems(n) => match v {
                J::Arr(a) if (a.len() as u64) < *n => fail(format!("expected at least {n} items")),
                _ => Ok(()),
            },
            Check::MaxItems(n) => match v {
                J::Arr(a) if (a.len() as u64) > *n => fail(format!("expected at most {n} items")),
                _ => Ok(()),
            },
            Check::UniqueItems => {
                let J::Arr(a) = v else { return Ok(()) };
                for i in 0..a.len() {
                    for j in 0..i {
                        if eq_instances(&a[i], &a[j]) {
                            return at_index(fail(format!("duplicate of item {j}")), i);
                        }
                    }
                }
                Ok(())
            }
            Check::Contains { node, min, max } => {
                let J::Arr(a) = v else { return Ok(()) };
                let n = a.iter().filter(|item| self.valid(*node, item)).count() as u64;
                if n < *min {
                    fail(format!("expected at least {min} items matching contains, found {n}"))
                } else if max.is_some_and(|m| n > m) {
                    fail(format!("expected at most {} items matching contains, found {n}", max.unwrap_or(0)))
                } else {
                    Ok(())
                }
            }
            Check::Ref(n) => self.node(*n, v),
            Check::AllOf(list) => list.iter().try_for_each(|n| self.node(*n, v)),
            Check::AnyOf(list) => match list.iter().any(|n| self.valid(*n, v)) {
                true => Ok(()),
                false => fail("matches no schema of anyOf".into()),
            },
            Check::OneOf(list) => match list.iter().filter(|n| self.valid(**n, v)).count() {
                1 => Ok(()),
                0 => fail("matches no schema of oneOf".into()),
                n => fail(format!("matches {n} schemas of oneOf, expected exactly one")),
            },
            Check::Not(n) => match self.valid(*n, v) {
                true => fail("matches the schema in not".into()),
                false => Ok(()),
            },
            Check::If { cond, then, otherwise } => match (self.valid(*cond, v), then, otherwise) {
                (true, Some(t), _) => self.node(*t, v),
                (false, _, Some(e)) => self.node(*e, v),
                _ => Ok(()),
            },
            // Object-only keywords pass any other value.
            Check::Properties { .. }
            | Check::Required(_)
            | Check::MinProperties(_)
            | Check::MaxProperties(_)
            | Check::PropertyNames(_)
            | Check::DependentRequired(_)
            | Check::DependentSchemas(_) => Ok(()),
        }
    }
}

/// A member of an object: doc-sized objects are short member lists, scanned.
pub(super) fn field<'a>(m: &'a Members<'a>, key: &str) -> Option<&'a J<'a>> {
    J::get(m, key)
}

fn number(v: &J, ok: impl Fn(f64) -> bool, rule: impl Fn() -> String) -> Res {
    match v {
        J::Num(n) if !ok(n.f64()) => fail(rule()),
        _ => Ok(()),
    }
}

fn is_multiple(x: f64, n: f64) -> bool {
    let q = x / n;
    if !q.is_finite() {
        // Too big to divide exactly: an integer multiple of an integer divisor still is one.
        return x.fract() == 0.0 && n.fract() == 0.0 && x % n == 0.0;
    }
    (q - q.round()).abs() < 1e-9
}

fn list_text(values: &[serde_json::Value]) -> String {
    let all: Vec<String> = values.iter().take(8).map(serde_json::Value::to_string).collect();
    let more = if values.len() > 8 { ", …" } else { "" };
    format!("{}{more}", all.join(", "))
}
