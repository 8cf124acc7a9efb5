//! A schema's JSON turned into `Node`s: one per subschema, `$ref`s resolved to indexes.
//!
//! - Subschemas are compiled once, memoized by their JSON Pointer in the schema, so a `$ref`
//!   that points back up (recursion) gets the index of a node still being compiled.
//! - `$ref` resolves `#…` pointers and `#anchor`s against the whole schema, and `$id`s
//!   declared inside it (`item.json`, `http://x/item.json#/…`). Anything else (a remote
//!   schema) is a compile error: nothing is fetched.
//! - A keyword of the wrong JSON type (`required: "a"`, `minimum: "1"`) is a compile error:
//!   a typo must not turn a check off.

use super::format::Format;
use super::pattern::Matcher as Pattern;
use serde_json::{Map, Value};
use std::collections::HashMap;

pub(super) type NodeId = usize;

/// Type bits; an integer-valued number has `INT`, any number `NUM` too.
pub(super) const NULL: u8 = 1;
pub(super) const BOOL: u8 = 2;
pub(super) const INT: u8 = 4;
pub(super) const NUM: u8 = 8;
pub(super) const STR: u8 = 16;
pub(super) const ARR: u8 = 32;
pub(super) const OBJ: u8 = 64;

pub(super) enum Node {
    /// `true` or `false` as a schema.
    Bool(bool),
    Checks(Vec<Check>),
}

pub(super) enum Check {
    Type(u8),
    Const(Value),
    Enum(Vec<Value>),
    MinLength(u64),
    MaxLength(u64),
    Pattern(Pattern, String),
    Format(Format),
    Minimum(f64),
    Maximum(f64),
    ExclusiveMinimum(f64),
    ExclusiveMaximum(f64),
    MultipleOf(f64),
    /// `properties`, `patternProperties` and `additionalProperties` together: "additional"
    /// means matched by neither of the others.
    Properties {
        named: Vec<(String, NodeId)>,
        patterns: Vec<(Pattern, NodeId)>,
        additional: Option<NodeId>,
    },
    Required(Vec<String>),
    MinProperties(u64),
    MaxProperties(u64),
    PropertyNames(NodeId),
    DependentRequired(Vec<(String, Vec<String>)>),
    DependentSchemas(Vec<(String, NodeId)>),
    /// `prefixItems` (or draft-07's array `items`), then `items` (or `additionalItems`).
    Items {
        prefix: Vec<NodeId>,
        rest: Option<NodeId>,
    },
    MinItems(u64),
    MaxItems(u64),
    UniqueItems,
    Contains {
        node: NodeId,
        min: u64,
        max: Option<u64>,
    },
    AllOf(Vec<NodeId>),
    AnyOf(Vec<NodeId>),
    OneOf(Vec<NodeId>),
    Not(NodeId),
    If {
        cond: NodeId,
        then: Option<NodeId>,
        otherwise: Option<NodeId>,
    },
    Ref(NodeId),
}

pub(super) struct Compiled {
    pub nodes: Vec<Node>,
}

/// Compiles a whole schema; node 0 is its root.
pub(super) fn compile(root: &Value) -> Result<Compiled, String> {
    // Before 2019-09 a `$ref` replaced its siblings; a schema that says it is draft-07 (or
    // older) gets that rule.
    let old_draft = root
        .get("$schema")
        .and_then(Value::as_str)
        .is_some_and(|d| ["draft-07", "draft-06", "draft-04"].iter().any(|old| d.contains(old)));
    let mut c = Compiler {
        root,
        nodes: Vec::new(),
        by_pointer: HashMap::new(),
        ids: HashMap::new(),
        anchors: HashMap::new(),
        ref_replaces_siblings: old_draft,
    };
    c.scan(root, String::new());
    c.node(root, String::new())?;
    Ok(Compiled { nodes: c.nodes })
}

struct Compiler<'a> {
    root: &'a Value,
    nodes: Vec<Node>,
    by_pointer: HashMap<String, NodeId>,
    /// `$id` (without fragment) → pointer of the schema that declares it.
    ids: HashMap<String, String>,
    /// `$anchor` → pointer.
    anchors: HashMap<String, String>,
    /// Draft-07 and older: a `$ref` ignores the keywords beside it.
    ref_replaces_siblings: bool,
}

fn escape(key: &str) -> String {
    key.replace('~', "~0").replace('/', "~1")
}

/// Keywords whose values are subschemas (or lists/maps of them): where `$id`s and
/// `$anchor`s can hide. `enum`, `const` and `examples` are data and are not searched.
const SCHEMA_MAPS: [&str; 6] =
    ["$defs", "definitions", "properties", "patternProperties", "dependentSchemas", "dependencies"];

impl<'a> Compiler<'a> {
    fn scan(&mut self, v: &Value, pointer: String) {
        let Value::Object(m) = v else { return };
        if let Some(Value::String(id)) = m.get("$id") {
            let (base, frag) = id.split_once('#').unwrap_or((id, ""));
            if !base.is_empty() {
                self.ids.insert(base.to_string(), pointer.clone());
            }
            if !frag.is_empty() && !frag.starts_with('/') {
                self.anchors.insert(frag.to_string(), pointer.clone());
            }
        }
        if let Some(Value::String(a)) = m.get("$anchor") {
            self.anchors.insert(a.clone(), pointer.clone());
        }
        for (k, sub) in m {
            let here = format!("{pointer}/{}", escape(k));
            if SCHEMA_MAPS.contains(&k.as_str()) {
                if let Value::Object(entries) = sub {
                    for (name, s) in entries {
                        self.scan(s, format!("{here}/{}", escape(name)));
                    }
                }
            } else if ["enum", "const", "examples", "default"].contains(&k.as_str()) {
            } else if let Value::Array(list) = sub {
                for (i, s) in list.iter().enumerate() {
                    self.scan(s, format!("{here}/{i}"));
                }
            } else {
                self.scan(sub, here);
            }
        }
    }

    fn node(&mut self, schema: &Value, pointer: String) -> Result<NodeId, String> {
        if let Some(&id) = self.by_pointer.get(&pointer) {
            return Ok(id);
        }
        let id = self.nodes.len();
        self.nodes.push(Node::Bool(true));
        self.by_pointer.insert(pointer.clone(), id);
        self.nodes[id] = match schema {
            Value::Bool(b) => Node::Bool(*b),
            Value::Object(m) => Node::Checks(self.checks(m, &pointer)?),
            _ => return Err(format!("{pointer}: a schema must be an object or a boolean")),
        };
        Ok(id)
    }

    fn sub(&mut self, m: &Map<String, Value>, pointer: &str, key: &str) -> Result<Option<NodeId>, String> {
        match m.get(key) {
            None => Ok(None),
            Some(s) => self.node(s, format!("{pointer}/{}", escape(key))).map(Some),
        }
    }

    fn list(
        &mut self,
        m: &Map<String, Value>,
        pointer: &str,
        key: &str,
    ) -> Result<Option<Vec<NodeId>>, String> {
        match m.get(key) {
            None => Ok(None),
            Some(Value::Array(items)) if !items.is_empty() || key == "prefixItems" || key == "items" => items
                .iter()
                .enumerate()
                .map(|(i, s)| self.node(s, format!("{pointer}/{key}/{i}")))
                .collect::<Result<Vec<_>, _>>()
                .map(Some),
            Some(_) => Err(bad(pointer, key, "expected a non-empty array of schemas")),
        }
    }

    fn map(
        &mut self,
        m: &Map<String, Value>,
        pointer: &str,
        key: &str,
    ) -> Result<Vec<(String, NodeId)>, String> {
        match m.get(key) {
            None => Ok(Vec::new()),
            Some(Value::Object(entries)) => entries
                .iter()
                .map(|(name, s)| {
                    Ok((name.clone(), self.node(s, format!("{pointer}/{key}/{}", escape(name)))?))
                })
                .collect(),
            Some(_) => Err(bad(pointer, key, "expected an object of schemas")),
        }
    }

    fn checks(&mut self, m: &Map<String, Value>, p: &str) -> Result<Vec<Check>, String> {
        for refused in ["unevaluatedProperties", "unevaluatedItems", "$dynamicRef", "$recursiveRef"] {
            if m.contains_key(refused) {
                return Err(bad(p, refused, "not supported"));
            }
        }
        let num = |key: &str| -> Result<Option<f64>, String> {
            match m.get(key) {
                None => Ok(None),
                Some(Value::Number(n)) => Ok(n.as_f64()),
                Some(_) => Err(bad(p, key, "expected a number")),
            }
        };
        let count = |key: &str| -> Result<Option<u64>, String> {
            match m.get(key) {
                None => Ok(None),
                Some(Value::Number(n)) => match (n.as_u64(), n.as_f64()) {
                    (Some(u), _) => Ok(Some(u)),
                    (None, Some(f)) if f >= 0.0 && f.fract() == 0.0 => Ok(Some(f as u64)),
                    _ => Err(bad(p, key, "expected a non-negative integer")),
                },
                Some(_) => Err(bad(p, key, "expected a non-negative integer")),
            }
        };
        let mut out = Vec::new();
        if let Some(t) = m.get("type") {
            out.push(Check::Type(
                type_mask(t).ok_or_else(|| bad(p, "type", "expected a JSON type name or a list of them"))?,
            ));
        }
        if let Some(r) = m.get("$ref") {
            let r = r.as_str().ok_or_else(|| bad(p, "$ref", "expected a string"))?;
            let target = self
                .resolve(r)
                .ok_or_else(|| format!("{p}/$ref: cannot resolve {r:?} (only refs within the schema)"))?;
            let (schema, pointer) = target;
            out.push(Check::Ref(self.node(schema, pointer)?));
            if self.ref_replaces_siblings {
                return Ok(out.into_iter().filter(|c| matches!(c, Check::Ref(_))).collect());
            }
        }
        if let Some(v) = m.get("const") {
            out.push(Check::Const(v.clone()));
        }
        if let Some(v) = m.get("enum") {
            let Value::Array(values) = v else { return Err(bad(p, "enum", "expected an array")) };
            out.push(Check::Enum(values.clone()));
        }
        if let Some(n) = count("minLength")? {
            out.push(Check::MinLength(n));
        }
        if let Some(n) = count("maxLength")? {
            out.push(Check::MaxLength(n));
        }
        if let Some(v) = m.get("pattern") {
            let s = v.as_str().ok_or_else(|| bad(p, "pattern", "expected a string"))?;
            out.push(Check::Pattern(regex(s, p, "pattern")?, s.to_string()));
        }
        if let Some(v) = m.get("format") {
            let s = v.as_str().ok_or_else(|| bad(p, "format", "expected a string"))?;
            // Unknown formats are annotations, as the spec says.
            if let Some(f) = Format::named(s) {
                out.push(Check::Format(f));
            }
        }
        // Draft 4's boolean `exclusiveMinimum` makes `minimum` exclusive.
        let excl_flag = |key: &str| m.get(key) == Some(&Value::Bool(true));
        if let Some(n) = num("minimum")? {
            out.push(if excl_flag("exclusiveMinimum") {
                Check::ExclusiveMinimum(n)
            } else {
                Check::Minimum(n)
            });
        }
        if let Some(n) = num("maximum")? {
            out.push(if excl_flag("exclusiveMaximum") {
                Check::ExclusiveMaximum(n)
            } else {
                Check::Maximum(n)
            });
        }
        if let Some(Value::Number(n)) = m.get("exclusiveMinimum") {
            out.push(Check::ExclusiveMinimum(n.as_f64().unwrap_or(f64::NAN)));
        }
        if let Some(Value::Number(n)) = m.get("exclusiveMaximum") {
            out.push(Check::ExclusiveMaximum(n.as_f64().unwrap_or(f64::NAN)));
        }
        if let Some(n) = num("multipleOf")? {
            if n <= 0.0 {
                return Err(bad(p, "multipleOf", "expected a number > 0"));
            }
            out.push(Check::MultipleOf(n));
        }
        let named = self.map(m, p, "properties")?;
        let mut patterns = Vec::new();
        for (pat, node) in self.map(m, p, "patternProperties")? {
            patterns.push((regex(&pat, p, "patternProperties")?, node));
        }
        let additional = self.sub(m, p, "additionalProperties")?;
        if !named.is_empty() || !patterns.is_empty() || additional.is_some() {
            out.push(Check::Properties { named, patterns, additional });
        }
        if let Some(v) = m.get("required") {
            out.push(Check::Required(
                strings(v).ok_or_else(|| bad(p, "required", "expected an array of strings"))?,
            ));
        }
        if let Some(n) = count("minProperties")? {
            out.push(Check::MinProperties(n));
        }
        if let Some(n) = count("maxProperties")? {
            out.push(Check::MaxProperties(n));
        }
        if let Some(n) = self.sub(m, p, "propertyNames")? {
            out.push(Check::PropertyNames(n));
        }
        let mut dep_required = Vec::new();
        let mut dep_schemas = Vec::new();
        for key in ["dependentRequired", "dependencies"] {
            let Some(v) = m.get(key) else { continue };
            let Value::Object(entries) = v else { return Err(bad(p, key, "expected an object")) };
            for (name, dep) in entries {
                match strings(dep) {
                    Some(list) => dep_required.push((name.clone(), list)),
                    None if key == "dependencies" => dep_schemas
                        .push((name.clone(), self.node(dep, format!("{p}/{key}/{}", escape(name)))?)),
                    None => return Err(format!("{p}/{key}/{}: expected an array of strings", escape(name))),
                }
            }
        }
        dep_schemas.extend(self.map(m, p, "dependentSchemas")?);
        if !dep_required.is_empty() {
            out.push(Check::DependentRequired(dep_required));
        }
        if !dep_schemas.is_empty() {
            out.push(Check::DependentSchemas(dep_schemas));
        }
        // Arrays: 2020-12 `prefixItems` + `items`, or draft-07 array `items` + `additionalItems`.
        let (prefix, rest) = match (m.get("prefixItems"), m.get("items")) {
            (Some(_), _) => (self.list(m, p, "prefixItems")?.unwrap_or_default(), self.sub(m, p, "items")?),
            (None, Some(Value::Array(_))) => {
                (self.list(m, p, "items")?.unwrap_or_default(), self.sub(m, p, "additionalItems")?)
            }
            (None, _) => (Vec::new(), self.sub(m, p, "items")?),
        };
        if !prefix.is_empty() || rest.is_some() {
            out.push(Check::Items { prefix, rest });
        }
        if let Some(n) = count("minItems")? {
            out.push(Check::MinItems(n));
        }
        if let Some(n) = count("maxItems")? {
            out.push(Check::MaxItems(n));
        }
        match m.get("uniqueItems") {
            None | Some(Value::Bool(false)) => {}
            Some(Value::Bool(true)) => out.push(Check::UniqueItems),
            Some(_) => return Err(bad(p, "uniqueItems", "expected a boolean")),
        }
        if let Some(node) = self.sub(m, p, "contains")? {
            out.push(Check::Contains {
                node,
                min: count("minContains")?.unwrap_or(1),
                max: count("maxContains")?,
            });
        }
        if let Some(l) = self.list(m, p, "allOf")? {
            out.push(Check::AllOf(l));
        }
        if let Some(l) = self.list(m, p, "anyOf")? {
            out.push(Check::AnyOf(l));
        }
        if let Some(l) = self.list(m, p, "oneOf")? {
            out.push(Check::OneOf(l));
        }
        if let Some(n) = self.sub(m, p, "not")? {
            out.push(Check::Not(n));
        }
        if let Some(cond) = self.sub(m, p, "if")? {
            let then = self.sub(m, p, "then")?;
            let otherwise = self.sub(m, p, "else")?;
            out.push(Check::If { cond, then, otherwise });
        }
        Ok(out)
    }

    /// The schema a `$ref` names, with its pointer (the memo key).
    fn resolve(&self, r: &str) -> Option<(&'a Value, String)> {
        let (base, frag) = r.split_once('#').unwrap_or((r, ""));
        let start = if base.is_empty() {
            String::new()
        } else {
            // An `$id` as written, or one whose last segment is the ref (`item.json`).
            let found = self.ids.get(base).or_else(|| {
                self.ids.iter().find(|(id, _)| id.ends_with(&format!("/{base}"))).map(|(_, p)| p)
            })?;
            found.clone()
        };
        let frag = percent_decode(frag);
        let pointer = if frag.is_empty() || frag.starts_with('/') {
            format!("{start}{frag}")
        } else {
            self.anchors.get(&frag)?.clone()
        };
        Some((self.root.pointer(&pointer)?, pointer))
    }
}

/// A compile error at `p/key` (one cold function instead of a `format!` at each site).
#[cold]
fn bad(p: &str, key: &str, what: &str) -> String {
    format!("{p}/{key}: {what}")
}

fn regex(pattern: &str, p: &str, key: &str) -> Result<Pattern, String> {
    Pattern::new(pattern).map_err(|e| format!("{p}/{key}: invalid regular expression {pattern:?}: {e}"))
}

fn strings(v: &Value) -> Option<Vec<String>> {
    v.as_array()?.iter().map(|s| s.as_str().map(str::to_string)).collect()
}

fn type_mask(t: &Value) -> Option<u8> {
    let one = |name: &str| match name {
        "null" => Some(NULL),
        "boolean" => Some(BOOL),
        "integer" => Some(INT),
        "number" => Some(INT | NUM),
        "string" => Some(STR),
        "array" => Some(ARR),
        "object" => Some(OBJ),
        _ => None,
    };
    match t {
        Value::String(s) => one(s),
        Value::Array(list) => list.iter().try_fold(0, |acc, v| Some(acc | one(v.as_str()?)?)),
        _ => None,
    }
}

fn percent_decode(s: &str) -> String {
    let bytes = s.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i] == b'%' && i + 2 < bytes.len() {
            if let Ok(b) = u8::from_str_radix(&s[i + 1..i + 3], 16) {
                out.push(b);
                i += 3;
                continue;
            }
        }
        out.push(bytes[i]);
        i += 1;
    }
    String::from_utf8(out).unwrap_or_else(|_| s.to_string())
}
