//! `find` and `explain`: plan with `plan_query`, read the chosen index's key range (updating
//! the index first), or all docs in `_id` order; match every candidate against the whole
//! selector (the range only narrows), then `skip`, `limit` and `fields`.
//!
//! - Results come in the order of the index read, which is the requested sort when there is
//!   one: the planner only picks indexes whose order fits it.
//! - Design docs are never results (they are not in Mango indexes either).
//! - An unindexed query answers correctly with CouchDB's `warning`.

use super::mango::{all_docs_index_json, MangoIndex};
use crate::core::mango::{parse_fields, parse_sort, plan_query, FieldPath, IndexDef, QueryPlan, Selector};
use crate::db::options::{bad, Opts};
use crate::db::read::{render_doc, Render};
use crate::db::record::DocRecord;
use crate::db::{json, keys, Database};
use crate::error::{Error, Result};
use crate::kv::Range;
use serde_json::{json, Value};
use std::ops::Bound;

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
            limit: o.u64("limit")?,
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
    async fn plan_find(&self, req: &FindRequest) -> Result<(Vec<MangoIndex>, QueryPlan)> {
        let indexes = self.mango_indexes().await?;
        let defs: Vec<IndexDef> = indexes.iter().map(MangoIndex::planner_def).collect::<Result<_>>()?;
        let sort = parse_sort(Some(&req.sort))?;
        let use_index = req.use_index.as_deref().map(|u| index_name(u, &indexes));
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
        let mut out = json!({ "docs": docs });
        if let Some(w) = plan.warning {
            out["warning"] = Value::String(w);
        }
        Ok(json::to_json(&out))
    }

    /// Scans `range` (index rows when `prefix_len` is given, else doc records) for matches.
    async fn find_docs(
        &self,
        req: &FindRequest,
        mut range: Range,
        prefix_len: Option<usize>,
        descending: bool,
    ) -> Result<Vec<Value>> {
        let render = Render { conflicts: req.conflicts, ..Render::default() };
        let want = req.limit.unwrap_or(u64::MAX) as usize;
        let mut skip = req.skip;
        let mut out = Vec::new();
        if range.is_backwards() {
            return Ok(out);
        }
        while out.len() < want {
            let page = self.kv.scan(range.clone(), descending, Some(PAGE)).await?;
            let candidates: Vec<(String, Option<DocRecord>)> = match prefix_len {
                Some(n) => {
                    let ids: Vec<String> = page
                        .iter()
                        .map(|(k, _)| Ok(crate::core::keycodec::split_doc_id(&k[n..])?.1.to_string()))
                        .collect::<Result<_>>()?;
                    let refs: Vec<&str> = ids.iter().map(String::as_str).collect();
                    let records = self.records(&refs).await?;
                    ids.into_iter().zip(records).collect()
                }
                None => page
                    .iter()
                    .map(|(k, v)| {
                        Ok((keys::id_of(k).unwrap_or_default().to_string(), Some(DocRecord::decode(v)?)))
                    })
                    .collect::<Result<_>>()?,
            };
            for (id, record) in candidates {
                let Some(r) = record else { continue };
                if id.starts_with("_design/") {
                    continue;
                }
                let (Some(w), Some(body)) = (r.meta.tree.winner().filter(|w| !w.deleted), &r.winner_body)
                else {
                    continue;
                };
                let doc: Value = serde_json::from_str(&render_doc(&id, &r, &w.rev, body, render))
                    .map_err(|e| Error::storage(e.to_string()))?;
                if !req.selector.matches(&doc) {
                    continue;
                }
                if skip > 0 {
                    skip -= 1;
                    continue;
                }
                out.push(match &req.fields {
                    Some(f) => crate::core::mango::project(&doc, f),
                    None => doc,
                });
                if out.len() >= want {
                    break;
                }
            }
            if !range.continue_after(&page, PAGE, descending) {
                break;
            }
        }
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
