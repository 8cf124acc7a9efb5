//! Mango json indexes: `createIndex`, `getIndexes`, `deleteIndex`, and the built-in map that
//! indexes them through the same machinery as views.
//!
//! - An index is stored as CouchDB and PouchDB store it: a view of a design doc with
//!   `language: "query"`, `map: {fields: {f: "asc"}}`, `reduce: "_count"` and
//!   `options.def.fields`. So indexes replicate, and `getIndexes` lists what is in the docs.
//! - Its rows are keyed by the array of the indexed fields' values, only for docs that have
//!   every field (`$exists`-style: a `null` value counts), value `null`.
//! - A `partial_filter_selector` (stored normalised, `{f: v}` as `{f: {$eq: v}}`, as CouchDB
//!   stores it) keeps the docs it does not match out of the index. As in CouchDB, such an
//!   index is used only when `use_index` names it, since it may lack docs a query wants.
//! - Without a name, an index is named `idx-<hash of its fields>`, and its design doc is
//!   `_design/<name>`; creating the same definition again answers `result: "exists"`.

use super::design::parse_design_docs;
use super::{signature, Emits, MapFn, ViewDef};
use crate::core::mango::{FieldPath, IndexDef, Lookup, Selector};
use crate::core::order;
use crate::db::{json, Database};
use crate::error::{Error, Result};
use async_trait::async_trait;
use serde::de::{DeserializeSeed, Deserializer, IgnoredAny, MapAccess, Visitor};
use serde::Deserialize;
use serde_json::{json, Map, Value};
use std::borrow::Cow;
use std::rc::Rc;

/// One json index, as its design doc defines it.
#[derive(Debug, Clone, PartialEq)]
pub struct MangoIndex {
    pub ddoc: String,
    pub name: String,
    pub fields: Vec<String>,
    /// The normalised `partial_filter_selector`, if any (never `{}`).
    pub partial: Option<Value>,
}

impl MangoIndex {
    pub fn signature(&self) -> String {
        let mut source = format!("mango:{}", json::to_json(&self.fields));
        if let Some(p) = &self.partial {
            source.push_str(&format!("|partial:{}", json::to_json(p)));
        }
        signature(&source, None)
    }

    pub fn id(&self) -> String {
        super::view_id(Some(&self.ddoc), &self.name, &self.signature())
    }

    pub fn view_def(&self) -> Result<ViewDef> {
        let fields = self.fields.iter().map(|f| FieldPath::parse(f)).collect::<Result<Vec<_>>>()?;
        Ok(ViewDef {
            ddoc: Some(self.ddoc.clone()),
            name: self.name.clone(),
            signature: self.signature(),
            map: Rc::new(MangoMap {
                fields,
                partial: self.partial.as_ref().map(Selector::parse).transpose()?,
            }),
            reduce: None,
        })
    }

    pub fn planner_def(&self) -> Result<IndexDef> {
        let fields: Vec<&str> = self.fields.iter().map(String::as_str).collect();
        IndexDef::new(self.name.clone(), &fields)
    }

    /// As `getIndexes` and `explain` show it.
    pub fn to_json(&self) -> Value {
        let fields: Vec<Value> = self.fields.iter().map(|f| json!({ f: "asc" })).collect();
        let mut def = json!({"fields": fields});
        if let Some(p) = &self.partial {
            def["partial_filter_selector"] = p.clone();
        }
        json!({"ddoc": self.ddoc, "name": self.name, "type": "json", "def": def})
    }
}

pub fn all_docs_index_json() -> Value {
    json!({"ddoc": null, "name": "_all_docs", "type": "special", "def": {"fields": [{"_id": "asc"}]}})
}

struct MangoMap {
    fields: Vec<FieldPath>,
    partial: Option<Selector>,
}

#[async_trait(?Send)]
impl MapFn for MangoMap {
    async fn map_batch(&self, docs: &[String]) -> Vec<Result<Emits>> {
        let mut names: Vec<&str> =
            self.fields.iter().filter_map(|f| f.segments().first()).map(String::as_str).collect();
        // A partial filter reads its own fields too; `None`: it needs the whole doc.
        let partial_fields = self.partial.as_ref().map(Selector::top_fields);
        let whole = matches!(partial_fields, Some(None));
        let partial_fields = partial_fields.flatten().unwrap_or_default();
        names.extend(partial_fields.iter().map(String::as_str));
        docs.iter()
            .map(|text| {
                let doc = &if whole { super::parse_doc(text)? } else { members(text, &names)? };
                if self.partial.as_ref().is_some_and(|p| !p.matches(doc)) {
                    return Ok(Vec::new());
                }
                let values: Option<Vec<Value>> = self
                    .fields
                    .iter()
                    .map(|f| match f.lookup(doc) {
                        Lookup::Found(v) => Some(v.clone()),
                        _ => None,
                    })
                    .collect();
                Ok(values.map(|v| vec![(Value::Array(v), Value::Null)]).unwrap_or_default())
            })
            .collect()
    }
}

/// The members of a doc's JSON object named in `names`, as an object; the others are skipped
/// without building values for them (an index reads one or two fields of each doc).
pub(super) fn members(text: &str, names: &[&str]) -> Result<Value> {
    let mut de = serde_json::Deserializer::from_str(text);
    let picked = Pick(names).deserialize(&mut de).and_then(|m| de.end().map(|()| m));
    picked.map(Value::Object).map_err(|e| Error::corruption(format!("doc body: {e}")))
}

struct Pick<'n>(&'n [&'n str]);

impl<'de> DeserializeSeed<'de> for Pick<'_> {
    type Value = Map<String, Value>;
    fn deserialize<D: Deserializer<'de>>(self, d: D) -> std::result::Result<Self::Value, D::Error> {
        d.deserialize_map(self)
    }
}

impl<'de> Visitor<'de> for Pick<'_> {
    type Value = Map<String, Value>;
    fn expecting(&self, f: &mut std::fmt::Formatter) -> std::fmt::Result {
        f.write_str("a JSON object")
    }
    fn visit_map<A: MapAccess<'de>>(self, mut m: A) -> std::result::Result<Self::Value, A::Error> {
        let mut out = Map::new();
        while let Some(key) = m.next_key::<KeyText<'de>>()? {
            let key = key.0;
            if self.0.contains(&&*key) {
                // A repeated member: the last one wins, as when parsing the whole doc.
                out.insert(key.into_owned(), m.next_value()?);
            } else {
                m.next_value::<IgnoredAny>()?;
            }
        }
        Ok(out)
    }
}

/// A member name, borrowed from the text unless it has escapes.
struct KeyText<'de>(Cow<'de, str>);

impl<'de> Deserialize<'de> for KeyText<'de> {
    fn deserialize<D: Deserializer<'de>>(d: D) -> std::result::Result<Self, D::Error> {
        struct V;
        impl<'de> Visitor<'de> for V {
            type Value = KeyText<'de>;
            fn expecting(&self, f: &mut std::fmt::Formatter) -> std::fmt::Result {
                f.write_str("a member name")
            }
            fn visit_borrowed_str<E: serde::de::Error>(
                self,
                s: &'de str,
            ) -> std::result::Result<Self::Value, E> {
                Ok(KeyText(Cow::Borrowed(s)))
            }
            fn visit_str<E: serde::de::Error>(self, s: &str) -> std::result::Result<Self::Value, E> {
                Ok(KeyText(Cow::Owned(s.to_string())))
            }
        }
        d.deserialize_str(V)
    }
}

fn is_empty_selector(v: &Value) -> bool {
    v.as_object().is_none_or(Map::is_empty)
}

/// A selector as CouchDB stores it: a field's bare value `v` becomes `{$eq: v}`, and
/// `$and` / `$or` / `$nor` members are normalised in turn.
fn normalise(selector: &Value) -> Value {
    let Value::Object(m) = selector else { return selector.clone() };
    let is_ops =
        |v: &Value| v.as_object().is_some_and(|o| !o.is_empty() && o.keys().all(|k| k.starts_with('$')));
    let out = m
        .iter()
        .map(|(k, v)| {
            let v = match (k.as_str(), v) {
                ("$and" | "$or" | "$nor", Value::Array(items)) => {
                    Value::Array(items.iter().map(normalise).collect())
                }
                ("$not", v) => normalise(v),
                (k, v) if k.starts_with('$') => v.clone(),
                (_, v) if is_ops(v) => v.clone(),
                (_, v) => json!({ "$eq": v }),
            };
            (k.clone(), v)
        })
        .collect();
    Value::Object(out)
}

/// CouchDB's `unsupported_mixed_sort`: an index's fields all sort one way (a bare name is
/// `asc`).
fn check_one_direction(fields: &Value) -> Result<()> {
    let directions: std::collections::BTreeSet<&str> = fields
        .as_array()
        .into_iter()
        .flatten()
        .map(|f| f.as_object().and_then(|m| m.values().next()).and_then(Value::as_str).unwrap_or("asc"))
        .collect();
    if directions.len() > 1 {
        return Err(Error::bad_request("Sorts currently only support a single direction for all fields."));
    }
    Ok(())
}

/// `fields: ["a", {"b": "asc"}]` → field names.
fn field_names(fields: &Value) -> Result<Vec<String>> {
    let bad = || Error::bad_request("index.fields must be a non-empty array of field names");
    let items = fields.as_array().filter(|a| !a.is_empty()).ok_or_else(bad)?;
    items
        .iter()
        .map(|f| match f {
            Value::String(s) => Ok(s.clone()),
            Value::Object(m) if m.len() == 1 => Ok(m.keys().next().cloned().unwrap_or_default()),
            _ => Err(bad()),
        })
        .map(|name| {
            let name = name?;
            FieldPath::parse(&name)?;
            Ok(name)
        })
        .collect()
}

/// The json indexes one design doc defines.
pub fn indexes_of(ddoc: &str, body: &Value) -> Vec<MangoIndex> {
    if body.get("language").and_then(Value::as_str) != Some("query") {
        return Vec::new();
    }
    let Some(Value::Object(views)) = body.get("views") else { return Vec::new() };
    views
        .iter()
        .filter_map(|(name, v)| {
            let fields = v.pointer("/options/def/fields").cloned().or_else(|| {
                let map = v.pointer("/map/fields")?.as_object()?;
                Some(Value::Array(map.keys().map(|k| Value::String(k.clone())).collect()))
            })?;
            let partial =
                v.pointer("/map/partial_filter_selector").filter(|p| !is_empty_selector(p)).cloned();
            Some(MangoIndex {
                ddoc: ddoc.to_string(),
                name: name.clone(),
                fields: field_names(&fields).ok()?,
                partial,
            })
        })
        .collect()
}

impl Database {
    /// Every json index, by design doc and name. The list is kept with the design doc records
    /// it was parsed from, and reused while they are byte for byte the same: a `find` reads
    /// them (a cached range scan) but parses no design doc.
    pub(super) async fn mango_indexes(&self) -> Result<Rc<Vec<MangoIndex>>> {
        let rows = self.design_doc_records().await?;
        let mut stamp = Vec::new();
        for (k, v) in &rows {
            for part in [&k[..], &v[..]] {
                stamp.extend_from_slice(&(part.len() as u64).to_le_bytes());
                stamp.extend_from_slice(part);
            }
        }
        if let Some((seen, list)) = &*self.mango_cache.borrow() {
            if *seen == stamp {
                return Ok(list.clone());
            }
        }
        let mut out: Vec<MangoIndex> =
            parse_design_docs(&rows)?.iter().flat_map(|(id, body)| indexes_of(id, body)).collect();
        order::sort_by(&mut out, |a, b| (&a.ddoc, &a.name).cmp(&(&b.ddoc, &b.name)));
        let out = Rc::new(out);
        *self.mango_cache.borrow_mut() = Some((stamp, out.clone()));
        Ok(out)
    }

    /// `createIndex({index: {fields, name?, ddoc?}})`.
    pub async fn create_index(&self, request: &Value) -> Result<String> {
        self.check_open()?;
        // CouchDB's shape has `name`, `ddoc` and `type` beside `index`; pouchdb-find also takes
        // them inside it, and a bare `{fields, name, ddoc}`.
        let index = match request.get("index") {
            Some(index) => index,
            None if request.get("fields").is_some() => request,
            None => return Err(Error::bad_request("createIndex needs {index: {fields}}")),
        };
        let pick = |k: &str| index.get(k).filter(|v| !v.is_null()).or_else(|| request.get(k));
        if pick("type").and_then(Value::as_str).is_some_and(|t| t != "json") {
            return Err(Error::bad_request("only json indexes are supported"));
        }
        let fields = field_names(index.get("fields").unwrap_or(&Value::Null))?;
        check_one_direction(index.get("fields").unwrap_or(&Value::Null))?;
        // The default ddoc hashes the name too, as CouchDB's `mango_idx:gen_name` does (the
        // whole request): two names on the same fields are two design docs.
        let given_name = pick("name").and_then(Value::as_str).filter(|n| !n.is_empty());
        let hash = &signature(&json::to_json(&fields), given_name)[..16];
        let name = match pick("name") {
            None | Some(Value::Null) => format!("idx-{hash}"),
            Some(Value::String(s)) if !s.is_empty() => s.clone(),
            Some(_) => return Err(Error::bad_request("index.name must be a string")),
        };
        let ddoc = match pick("ddoc") {
            None | Some(Value::Null) => format!("_design/idx-{hash}"),
            Some(Value::String(s)) if s.starts_with("_design/") => s.clone(),
            Some(Value::String(s)) if !s.is_empty() => format!("_design/{s}"),
            Some(_) => return Err(Error::bad_request("index.ddoc must be a string")),
        };
        let partial =
            match index.get("partial_filter_selector").or_else(|| request.get("partial_filter_selector")) {
                None | Some(Value::Null) => None,
                Some(p) => {
                    Selector::parse(p)?;
                    Some(normalise(p)).filter(|p| !is_empty_selector(p))
                }
            };
        let wanted = MangoIndex {
            ddoc: ddoc.clone(),
            name: name.clone(),
            fields: fields.clone(),
            partial: partial.clone(),
        };
        let existing: Option<Value> = match self.get(&ddoc, &Value::Null).await {
            Ok(text) => Some(
                serde_json::from_str(&text)
                    .map_err(|e| Error::corruption(format!("doc body for id {ddoc:?}: {e}")))?,
            ),
            Err(e) if e.status == 404 => None,
            Err(e) => return Err(e),
        };
        if let Some(body) = &existing {
            if indexes_of(&ddoc, body).contains(&wanted) {
                return Ok(json::to_json(&json!({"result": "exists", "id": ddoc, "name": name})));
            }
            if body.get("language").and_then(Value::as_str) != Some("query") {
                return Err(Error::bad_request(format!("{ddoc} is not a Mango design doc")));
            }
        }
        let mut doc = existing.unwrap_or_else(|| json!({"_id": ddoc, "language": "query", "views": {}}));
        let map_fields: Map<String, Value> = fields.iter().map(|f| (f.clone(), json!("asc"))).collect();
        let mut def = json!({"fields": fields});
        if let Some(p) = &partial {
            def["partial_filter_selector"] = p.clone();
        }
        let view = json!({
            "map": {"fields": map_fields, "partial_filter_selector": partial.unwrap_or_else(|| json!({}))},
            "reduce": "_count",
            "options": {"def": def},
        });
        match doc.get_mut("views") {
            Some(Value::Object(views)) => {
                views.insert(name.clone(), view);
            }
            _ => doc["views"] = json!({ name.clone(): view }),
        }
        self.put(doc, true).await?;
        Ok(json::to_json(&json!({"result": "created", "id": ddoc, "name": name})))
    }

    /// `getIndexes()`: the special `_all_docs` index, then every json index.
    pub async fn get_indexes(&self) -> Result<String> {
        self.check_open()?;
        let mut indexes = vec![all_docs_index_json()];
        indexes.extend(self.mango_indexes().await?.iter().map(MangoIndex::to_json));
        Ok(json::to_json(&json!({"total_rows": indexes.len(), "indexes": indexes})))
    }

    /// `deleteIndex({ddoc, name})`: removes the view, and the design doc with its last one.
    pub async fn delete_index(&self, request: &Value) -> Result<String> {
        self.check_open()?;
        let field = |k: &str| request.get(k).and_then(Value::as_str);
        let (Some(ddoc), Some(name)) = (field("ddoc"), field("name")) else {
            return Err(Error::bad_request("deleteIndex needs {ddoc, name}"));
        };
        let ddoc = if ddoc.starts_with("_design/") { ddoc.to_string() } else { format!("_design/{ddoc}") };
        let not_found = || Error::not_found("index not found");
        let text = self.get(&ddoc, &Value::Null).await.map_err(|_| not_found())?;
        let mut doc: Value = serde_json::from_str(&text)
            .map_err(|e| Error::corruption(format!("doc body for id {ddoc:?}: {e}")))?;
        if !indexes_of(&ddoc, &doc).iter().any(|i| i.name == name) {
            return Err(not_found());
        }
        let views = doc.get_mut("views").and_then(Value::as_object_mut).ok_or_else(not_found)?;
        views.remove(name);
        if views.is_empty() {
            let rev = doc["_rev"].as_str().unwrap_or_default().to_string();
            self.remove(&ddoc, &rev).await?;
        } else {
            self.put(doc, true).await?;
        }
        Ok(r#"{"ok":true}"#.to_string())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn members_keeps_only_the_named_ones_and_the_last_of_a_repeat() {
        let text = r#"{"_id":"a","n":1,"s\"q":{"x":[1,2]},"skip":{"deep":[{"y":null}]},"n":2}"#;
        assert_eq!(members(text, &["n", "s\"q"]).unwrap(), json!({"n": 2, "s\"q": {"x": [1, 2]}}));
        assert_eq!(members(text, &[]).unwrap(), json!({}));
        assert!(members(r#"{"n":1"#, &["n"]).is_err());
        assert!(members(r#"{"n":1} x"#, &["n"]).is_err());
    }
}
