//! `find` and `explain`: plan with `plan_query`, read the chosen index's key range (updating
//! the index first), or all docs in `_id` order; match every candidate against the whole
//! selector (the range only narrows), then `skip`, `limit` and `fields`.
//!
//! - Results come in the order of the index read, which is the requested sort when there is
//!   one: the planner only picks indexes whose order fits it.
//! - Design docs are never results (they are not in Mango indexes either).
//! - An unindexed query answers correctly with CouchDB's `warning`.

use super::mango::{all_docs_index_json, members, MangoIndex};
use crate::core::mango::{parse_fields, parse_sort, plan_query, FieldPath, IndexDef, QueryPlan, Selector};
use crate::db::options::{bad, Opts};
use crate::db::read::{render_doc, Render};
use crate::db::record::{DocRecord, RecordHead};
use crate::db::{json, keys, Database};
use crate::error::{Error, Result};
use crate::kv::{Range, SharedBytes};
use serde_json::{json, Value};
use std::ops::Bound;
use std::rc::Rc;

const PAGE: usize = 500;

struct FindRequest {
    selector: Selector,
    raw_selector: Value,
    fields: Option<Vec<FieldPath>>,
    sort: Value,
    skip: u64,
    limit: Option<u64>,
    conflicts: bool,
    use_index: Option<String>,
}

const DEFAULT_LIMIT: u64 = 25;

impl FindRequest {
    fn parse(request: &Value) -> Result<FindRequest> {
        let o = Opts::new(request)?;
        let raw_selector = o.get("selector").cloned().ok_or_else(|| bad("selector", "an object"))?;
        let use_index = match o.get("use_index") {
            None => None,
            Some(Value::String(s)) => Some(s.clone()),
            Some(Value::Array(parts)) => {
                parts.iter().filter_map(Value::as_str).map(str::to_string).reduce(|a, b| format!("{a}/{b}"))
            }
            Some(_) => return Err(bad("use_index", "a string or [ddoc, name]")),
        };
        Ok(FindRequest {
            selector: Selector::parse(&raw_selector)?,
            raw_selector,
            fields: parse_fields(o.get("fields"))?,
            sort: o.get("sort").cloned().unwrap_or(Value::Null),
            skip: o.u64("skip")?.unwrap_or(0),
            // CouchDB's `_find` (and PouchDB's) default: 25 docs.
            limit: Some(o.u64("limit")?.unwrap_or(DEFAULT_LIMIT)),
            conflicts: o.bool("conflicts")?,
            use_index,
        })
    }
}

/// `use_index` as `"ddoc"`, `"ddoc/name"` or `"_design/ddoc/name"` → the index name it means.
fn index_name(use_index: &str, indexes: &[MangoIndex]) -> String {
    let rest = use_index.strip_prefix("_design/").unwrap_or(use_index);
    match rest.split_once('/') {
        Some((_, name)) => name.to_string(),
        None => indexes
            .iter()
            .find(|i| i.ddoc.trim_start_matches("_design/") == rest)
            .map_or(rest.to_string(), |i| i.name.clone()),
    }
}

impl Database {
    async fn plan_find(&self, req: &FindRequest) -> Result<(Rc<Vec<MangoIndex>>, QueryPlan)> {
        let all = self.mango_indexes().await?;
        let use_index = req.use_index.as_deref().map(|u| index_name(u, &all));
        // A partial index may lack docs the query wants: only `use_index` picks one (CouchDB).
        let indexes = if all.iter().any(|i| i.partial.is_some()) {
            let named = |i: &MangoIndex| use_index.as_deref() == Some(i.name.as_str());
            Rc::new(all.iter().filter(|i| i.partial.is_none() || named(i)).cloned().collect())
        } else {
            all
        };
        let defs: Vec<IndexDef> = indexes.iter().map(MangoIndex::planner_def).collect::<Result<_>>()?;
        let sort = parse_sort(Some(&req.sort))?;
        let plan = plan_query(&defs, &req.selector, &sort, use_index.as_deref())?;
        Ok((indexes, plan))
    }

    /// `find({selector, fields, sort, limit, skip, use_index, conflicts})`.
    pub async fn find(&self, request: &Value) -> Result<String> {
        self.check_open()?;
        let req = FindRequest::parse(request)?;
        let (indexes, plan) = self.plan_find(&req).await?;
        let (range, prefix_len) = match plan.index {
            Some(i) => {
                let view = indexes[i].view_def()?;
                self.update_view(&view).await?;
                let prefix = keys::view_rows(&view.id());
                let (start, end) = plan.range.byte_bounds();
                let range = Range {
                    start: Bound::Included([&prefix[..], &start].concat()),
                    end: Bound::Excluded([&prefix[..], &end].concat()),
                };
                (range, Some(prefix.len()))
            }
            None => (id_range(&plan), None),
        };
        let docs = self.find_docs(&req, range, prefix_len, plan.descending).await?;
        let mut out = String::with_capacity(docs.len() + 16);
        out.push_str("{\"docs\":");
        out.push_str(&docs);
        if let Some(w) = plan.warning {
            out.push_str(",\"warning\":");
            json::push_str_json(&mut out, &w);
        }
        out.push('}');
        Ok(out)
    }

    /// Scans `range` (index rows when `prefix_len` is given, else doc records) for matches;
    /// returns the JSON array of the docs to answer, as text.
    async fn find_docs(
        &self,
        req: &FindRequest,
        mut range: Range,
        prefix_len: Option<usize>,
        descending: bool,
    ) -> Result<String> {
        let want = req.limit.unwrap_or(u64::MAX) as usize;
        let mut skip = req.skip;
        let mut out = String::from("[");
        let mut found = 0;
        if range.is_backwards() || want == 0 {
            out.push(']');
            return Ok(out);
        }
        // An index read asks for no more rows than the answer needs when every row in range
        // matches (the usual case); a short page that is not the end just reads on.
        let page_size = match prefix_len {
            Some(_) => (want as u64).saturating_add(skip).clamp(1, PAGE as u64) as usize,
            None => PAGE,
        };
        // Matching (and projecting) reads a few members of each doc: parse only those, unless
        // the selector needs the whole doc. The answer is the doc text as read.
        let parse_only: Option<Vec<String>> = req.selector.top_fields().map(|mut names| {
            if let Some(f) = &req.fields {
                names.extend(f.iter().filter_map(|p| p.segments().first().cloned()));
            }
            names
        });
        let parse_only: Option<Vec<&str>> =
            parse_only.as_ref().map(|n| n.iter().map(String::as_str).collect());
        let mut text = String::new();
        'pages: loop {
            let page = self.kv.scan_shared(range.clone(), descending, Some(page_size)).await?;
            let candidates: Vec<(String, Option<SharedBytes>)> = match prefix_len {
                Some(n) => {
                    let ids: Vec<String> = page
                        .iter()
                        .map(|(k, _)| Ok(crate::core::keycodec::split_doc_id(&k[n..])?.1.to_string()))
                        .collect::<Result<_>>()?;
                    let ks: Vec<Vec<u8>> = ids.iter().map(|id| keys::doc(id)).collect();
                    let records = self.kv.get_many_shared(&ks).await?;
                    ids.into_iter().zip(records).collect()
                }
                None => page
                    .iter()
                    .map(|(k, v)| (keys::id_of(k).unwrap_or_default().to_string(), Some(v.clone())))
                    .collect(),
            };
            for (id, record) in candidates {
                let Some(bytes) = record else { continue };
                if id.starts_with("_design/") {
                    continue;
                }
                text.clear();
                if !render_live(&mut text, &id, &bytes, req.conflicts)? {
                    continue;
                }
                let doc: Value = match &parse_only {
                    Some(names) => members(&text, names)?,
                    None => serde_json::from_str(&text)
                        .map_err(|e| Error::corruption(format!("doc body for id {id:?}: {e}")))?,
                };
                if !req.selector.matches(&doc) {
                    continue;
                }
                if skip > 0 {
                    skip -= 1;
                    continue;
                }
                if found > 0 {
                    out.push(',');
                }
                match &req.fields {
                    Some(f) => out.push_str(&json::to_json(&crate::core::mango::project(&doc, f))),
                    None => out.push_str(&text),
                }
                found += 1;
                if found >= want {
                    break 'pages;
                }
            }
            if !range.continue_after(&page, page_size, descending) {
                break;
            }
        }
        out.push(']');
        Ok(out)
    }

    /// `explain(request)`: the index `find` would use and the range it would read.
    pub async fn explain(&self, request: &Value) -> Result<String> {
        self.check_open()?;
        let req = FindRequest::parse(request)?;
        let (indexes, plan) = self.plan_find(&req).await?;
        let index = match plan.index {
            Some(i) => indexes[i].to_json(),
            None => all_docs_index_json(),
        };
        let fields = match &req.fields {
            Some(f) => json!(f.iter().map(ToString::to_string).collect::<Vec<_>>()),
            None => json!("all_fields"),
        };
        let bound =
            |b: &Option<(Value, bool)>| b.as_ref().map(|(v, incl)| json!({"value": v, "inclusive": incl}));
        let mut out = json!({
            "dbname": self.name(),
            "index": index,
            "selector": req.raw_selector,
            "opts": {
                "use_index": req.use_index.map_or(json!([]), |u| json!([u])),
                "skip": req.skip,
                "limit": req.limit,
                "sort": req.sort,
                "fields": fields,
                "conflicts": req.conflicts,
            },
            "skip": req.skip,
            "limit": req.limit,
            "fields": fields,
            "descending": plan.descending,
            "range": {
                "eq_prefix": plan.range.eq_prefix,
                "lower": bound(&plan.range.lower),
                "upper": bound(&plan.range.upper),
            },
        });
        if let Some(w) = plan.warning {
            out["warning"] = Value::String(w);
        }
        Ok(json::to_json(&out))
    }
}

/// Writes the live winner of a doc record as `get` renders it (with `_conflicts` when
/// `conflicts`); false (nothing written) for a deleted doc or one without a body. The record's
/// head gives the winner without parsing the rev tree, unless conflicts are wanted and exist.
fn render_live(out: &mut String, id: &str, bytes: &[u8], conflicts: bool) -> Result<bool> {
    if let Some(h) = RecordHead::read(bytes)?.filter(|h| !(conflicts && h.other_leaves)) {
        let Some(body) = h.body.filter(|_| !h.deleted) else { return Ok(false) };
        json::push_doc(out, id, |o| h.winner.push_json(o), body, &[]);
        return Ok(true);
    }
    let r = DocRecord::decode(bytes)?;
    let (Some(w), Some(body)) = (r.meta.tree.winner().filter(|w| !w.deleted), &r.winner_body) else {
        return Ok(false);
    };
    out.push_str(&render_doc(id, &r, &w.rev, body, Render { conflicts, ..Render::default() }));
    Ok(true)
}

/// The `d` key range that the planner's `_id` bounds allow (string bounds only).
fn id_range(plan: &QueryPlan) -> Range {
    let full = Range::prefix(&[keys::DOC]);
    if let Some(Value::String(id)) = plan.range.eq_prefix.first() {
        return Range { start: Bound::Included(keys::doc(id)), end: Bound::Included(keys::doc(id)) };
    }
    let start = match &plan.range.lower {
        Some((Value::String(s), true)) => Bound::Included(keys::doc(s)),
        Some((Value::String(s), false)) => Bound::Excluded(keys::doc(s)),
        _ => full.start,
    };
    let end = match &plan.range.upper {
        Some((Value::String(s), true)) => Bound::Included(keys::doc(s)),
        Some((Value::String(s), false)) => Bound::Excluded(keys::doc(s)),
        _ => full.end,
    };
    Range { start, end }
}
