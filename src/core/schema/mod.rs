//! JSON Schema validation of documents, compiled once per schema and run before a write.
//!
//! `DocSchema` is the `schema` option of a database: a discriminating field (`typeField`,
//! `"type"` by default) whose value picks one JSON Schema from `types`; a doc whose field is
//! missing, not a string or not listed follows `others` (`"allow"`, the default, or
//! `"reject"`). Rules that are not obvious:
//! - The schema sees the doc's own fields only. CouchDB's `_` members (`_id`, `_rev`,
//!   `_attachments`, `_deleted`, …) are taken out first, so `additionalProperties: false`
//!   needs no entry for them and `required: ['_id']` never holds.
//! - Deletions, `_local/` and `_design/` docs are never checked (the caller skips them): a
//!   tombstone has no fields to check, and design docs are code, not data.
//! - A schema is compiled into a flat list of nodes (`compile`), `$ref`s resolved to node
//!   indexes once, so a check walks the doc and never the schema's JSON (`check`).
//! - A failure names the JSON Pointer of the offending value and the rule:
//!   `/data/p1: expected array, got string`. The path is built only on failure.
//! - Keywords are draft 2020-12's; draft-07's tuple `items` + `additionalItems`,
//!   `definitions` and `dependencies` are read too, and a schema whose `$schema` names
//!   draft-07 or older gets that draft's rule that a `$ref` replaces the keywords beside it. Keywords whose meaning needs
//!   annotation tracking or dynamic scope (`unevaluated*`, `$dynamicRef`, `$recursiveRef`)
//!   are refused with a 400 rather than silently ignored; unknown keywords are annotations.
//! - `pattern` and `patternProperties` use JS `RegExp` in the browser (regex-lite natively,
//!   as Mango's `$regex`), unanchored as the spec says.

mod check;
mod compile;
mod equal;
mod format;
mod instance;
mod pattern;

use crate::error::{Error, Result};
use compile::Compiled;
use instance::J;
use serde_json::{Map, Value};
use std::borrow::Cow;

pub use check::Failure;

/// One compiled JSON Schema.
pub struct Schema(Compiled);

impl Schema {
    /// Compiles `schema`; the error names where in it the problem is.
    pub fn compile(schema: &Value) -> std::result::Result<Schema, String> {
        compile::compile(schema).map(Schema)
    }

    /// Checks `instance`; the failure names the first offending value and rule.
    pub fn validate(&self, instance: &Value) -> std::result::Result<(), Failure> {
        self.0.check(&J::of(instance))
    }
}

/// What happens to a doc whose type has no schema.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Others {
    Allow,
    Reject,
}

/// The `schema` option: one JSON Schema per value of a discriminating field.
pub struct DocSchema {
    type_field: String,
    types: Vec<(String, Schema)>,
    others: Others,
}

impl DocSchema {
    /// Reads `{typeField?, types: {name: schema}, others?}`; a bad one is a 400 naming where.
    pub fn parse(spec: &Value) -> Result<DocSchema> {
        let bad = |m: String| Error::bad_request(format!("invalid schema: {m}"));
        let Value::Object(spec) = spec else {
            return Err(bad("expected an object {typeField, types, others}".into()));
        };
        for key in spec.keys() {
            if !["typeField", "types", "others"].contains(&key.as_str()) {
                return Err(bad(format!("unknown option {key:?} (expected typeField, types, others)")));
            }
        }
        let type_field = match spec.get("typeField") {
            None => "type".to_string(),
            Some(Value::String(s)) if !s.is_empty() => s.clone(),
            Some(_) => return Err(bad("typeField must be a non-empty string".into())),
        };
        let others = match spec.get("others").and_then(Value::as_str) {
            None if spec.get("others").is_none() => Others::Allow,
            Some("allow") => Others::Allow,
            Some("reject") => Others::Reject,
            _ => return Err(bad("others must be 'allow' or 'reject'".into())),
        };
        let Some(Value::Object(types)) = spec.get("types") else {
            return Err(bad("types must be an object mapping type names to JSON Schemas".into()));
        };
        let mut compiled = Vec::with_capacity(types.len());
        for (name, schema) in types {
            let s = Schema::compile(schema).map_err(|m| bad(format!("types.{name}{m}")))?;
            compiled.push((name.clone(), s));
        }
        Ok(DocSchema { type_field, types: compiled, others })
    }

    /// Checks a doc's body given as a map (its `_` members are left out, see the module doc):
    /// a 403 `forbidden` naming the pointer and the rule.
    pub fn check_body(&self, body: &Map<String, Value>) -> Result<()> {
        let members = body.iter().map(|(k, v)| (Cow::Borrowed(k.as_str()), J::of(v))).collect();
        self.check_members(members)
    }

    /// `check_body` of a body's JSON text, read without building a `Value` (see `instance`).
    pub fn check_body_text(&self, body: &[u8]) -> Result<()> {
        match serde_json::from_slice(body) {
            Ok(J::Obj(members)) => self.check_members(members),
            _ => Err(Error::bad_request("a document body must be a JSON object")),
        }
    }

    fn check_members(&self, mut members: Vec<(Cow<'_, str>, J<'_>)>) -> Result<()> {
        let schema = match J::get(&members, &self.type_field) {
            Some(J::Str(t)) => self.types.iter().find(|(name, _)| name == t).map(|(_, s)| s),
            _ => None,
        };
        let Some(schema) = schema else {
            return match self.others {
                Others::Allow => Ok(()),
                Others::Reject => Err(Error::forbidden(format!(
                    "/{}: no schema for this document type",
                    check::escape(&self.type_field)
                ))),
            };
        };
        members.retain(|(k, _)| !k.starts_with('_'));
        schema.0.check(&J::Obj(members)).map_err(|f| Error::forbidden(f.to_string()))
    }
}
