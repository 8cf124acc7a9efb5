//! Answering `query` from a view's index: range scans of its rows, then `skip`/`limit`,
//! `include_docs`, or the reduce.
//!
//! - Rows come out ordered by (key, doc id) because that is their byte order; `descending`
//!   scans backwards. `keys` scans one range per key, in the order given.
//! - `total_rows` is the index's row count and `offset` the `skip` given, as PouchDB has them.
//! - `include_docs` follows CouchDB's linked docs: a value `{_id}` includes that doc instead
//!   of the emitting one; a missing or deleted doc is `null`.
//! - A reduce answers `{rows: [{key, value}]}`; `skip`/`limit` then count groups. `keys`
//!   with a reduce needs `group`, as in CouchDB.

use super::options::{query_parse_error, QueryOpts, Stale};
use super::reduce::reduce_rows;
use super::ViewDef;
use crate::core::keycodec::split_doc_id;
use crate::db::read::{render_doc, Render};
use crate::db::{json, keys, Database};
use crate::error::{Error, Result};
use crate::kv::Range;
use serde::Serialize;
use serde_json::value::RawValue;
use serde_json::Value;

/// One view row.
#[derive(Debug, Clone)]
pub struct Row {
    pub key: Value,
    pub id: String,
    pub value: Value,
}

#[derive(Serialize)]
struct MapRow<'a> {
    id: &'a str,
    key: &'a Value,
    value: &'a Value,
    #[serde(skip_serializing_if = "Option::is_none")]
    doc: Option<Option<Box<RawValue>>>,
}

#[derive(Serialize)]
struct MapResult<'a> {
    total_rows: u64,
    offset: u64,
    rows: Vec<MapRow<'a>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    update_seq: Option<u64>,
}

#[derive(Serialize)]
struct ReduceRow {
    key: Value,
    value: Value,
}

#[derive(Serialize)]
struct ReduceResult {
    rows: Vec<ReduceRow>,
    #[serde(skip_serializing_if = "Option::is_none")]
    update_seq: Option<u64>,
}

const PAGE: usize = 1000;

impl Database {
    /// `query(view, options)`. With `stale: 'update_after'` the answer is computed from the
    /// index as it is, and the index is brought up to date before this returns.
    pub async fn query(&self, view: &ViewDef, options: &Value) -> Result<String> {
        let q = QueryOpts::parse(options)?;
        let answer = self.query_parsed(view, &q).await?;
        if q.stale == Stale::UpdateAfter {
            self.update_view(view).await?;
        }
        Ok(answer)
    }

    /// Like `query`, but never updates the index after answering: the caller does (the wasm
    /// layer starts that update without waiting for it). Returns whether it should.
    pub async fn query_then_update(&self, view: &ViewDef, options: &Value) -> Result<(String, bool)> {
        let q = QueryOpts::parse(options)?;
        Ok((self.query_parsed(view, &q).await?, q.stale == Stale::UpdateAfter))
    }

    async fn query_parsed(&self, view: &ViewDef, q: &QueryOpts) -> Result<String> {
        self.check_open()?;
        let reduce = match (q.reduce, &view.reduce) {
            (Some(true) | None, Some(r)) => Some(r),
            (Some(true), None) => return Err(query_parse_error("Reduce is invalid for a map-only view.")),
            _ => None,
        };
        if reduce.is_none() && (q.group || q.group_level.is_some()) {
            return Err(query_parse_error("Invalid use of grouping on a map view."));
        }
        if reduce.is_some() && q.include_docs {
            return Err(query_parse_error("{include_docs:true} is invalid for reduce"));
        }
        if reduce.is_some() && q.keys.is_some() && !q.group && q.group_level.is_none() {
            return Err(query_parse_error("Multi-key fetches for reduce views must use {group: true}"));
        }
        let meta =
            if q.stale == Stale::No { self.update_view(view).await? } else { self.view_meta(view).await? };
        let prefix = keys::view_rows(&view.id());
        let update_seq = q.update_seq.then_some(meta.seq);

        if let Some(reduce) = reduce {
            let rows = self.rows_in(&prefix, q, 0, None).await?;
            let level = if q.group { None } else { Some(q.group_level.unwrap_or(0)) };
            let groups = reduce_rows(reduce, &rows, level)?;
            let rows = groups
                .into_iter()
                .skip(q.skip as usize)
                .take(q.limit.map_or(usize::MAX, |l| l as usize))
                .map(|(key, value)| ReduceRow { key, value })
                .collect();
            return Ok(json::to_json(&ReduceResult { rows, update_seq }));
        }

        let rows = self.rows_in(&prefix, q, q.skip, q.limit).await?;
        let mut docs = if q.include_docs { Some(self.linked_docs(&rows, q.conflicts).await?) } else { None };
        if let (Some(docs), true) = (&mut docs, q.attachments) {
            // Doc by doc: an emitted value may hold `_attachments` stubs too, which stay stubs.
            for doc in docs.iter_mut().flatten() {
                *doc = json::raw(self.inline_everywhere(doc.get().to_string()).await?)?;
            }
        }
        let out: Vec<MapRow> = rows
            .iter()
            .enumerate()
            .map(|(i, r)| MapRow {
                id: &r.id,
                key: &r.key,
                value: &r.value,
                doc: docs.as_ref().map(|d| d[i].clone()),
            })
            .collect();
        Ok(json::to_json(&MapResult { total_rows: meta.rows, offset: q.skip, rows: out, update_seq }))
    }

    /// The rows the range (or `keys`) options select, after `skip`, at most `limit`.
    async fn rows_in(&self, prefix: &[u8], q: &QueryOpts, skip: u64, limit: Option<u64>) -> Result<Vec<Row>> {
        let mut out = Vec::new();
        let mut skip = skip;
        let limit = limit.unwrap_or(u64::MAX) as usize;
        match &q.keys {
            Some(list) => {
                for key in list {
                    let range = QueryOpts::key_range(prefix, key);
                    self.scan_rows(prefix.len(), range, q.descending, &mut skip, limit, &mut out).await?;
                }
            }
            None => {
                self.scan_rows(prefix.len(), q.range(prefix), q.descending, &mut skip, limit, &mut out)
                    .await?
            }
        }
        Ok(out)
    }

    /// Appends the rows in `range` to `out`, after skipping `skip` of them, until `out` holds
    /// `limit`.
    async fn scan_rows(
        &self,
        prefix_len: usize,
        mut range: Range,
        descending: bool,
        skip: &mut u64,
        limit: usize,
        out: &mut Vec<Row>,
    ) -> Result<()> {
        if range.is_backwards() {
            return Ok(());
        }
        while out.len() < limit {
            let page = self.kv.scan(range.clone(), descending, Some(PAGE)).await?;
            for (k, v) in &page {
                let (key, id) = split_doc_id(&k[prefix_len..])?;
                let mut values: Vec<Value> = serde_json::from_slice(v)
                    .map_err(|e| Error::corruption(format!("view row for doc {id:?}: {e}")))?;
                if descending {
                    values.reverse();
                }
                for value in values {
                    if *skip > 0 {
                        *skip -= 1;
                        continue;
                    }
                    if out.len() >= limit {
                        return Ok(());
                    }
                    out.push(Row { key: key.clone(), id: id.to_string(), value });
                }
            }
            if !range.continue_after(&page, PAGE, descending) {
                return Ok(());
            }
        }
        Ok(())
    }

    /// The doc of each row for `include_docs` (`None` where missing or deleted).
    async fn linked_docs(&self, rows: &[Row], conflicts: bool) -> Result<Vec<Option<Box<RawValue>>>> {
        let ids: Vec<&str> =
            rows.iter().map(|r| r.value.get("_id").and_then(Value::as_str).unwrap_or(&r.id)).collect();
        let records = self.records(&ids).await?;
        let render = Render { conflicts, ..Render::default() };
        ids.iter()
            .zip(records)
            .map(|(id, record)| {
                let Some(r) = record else { return Ok(None) };
                let Some(w) = r.meta.tree.winner().filter(|w| !w.deleted) else { return Ok(None) };
                let Some(body) = r.winner_body.as_deref() else { return Ok(None) };
                json::raw(render_doc(id, &r, &w.rev, body, render)).map(Some)
            })
            .collect()
    }
}
