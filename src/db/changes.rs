//! `changes`: the docs changed since a seq, each once, at its latest seq.
//!
//! It scans the `s` key range (seq → id) and reads the doc records for that page in one
//! `get_many`. A record whose seq no longer matches its row was rewritten meanwhile; that row
//! is skipped, since the doc appears again at its newer seq. `last_seq` is the last seq looked
//! at, so a feed filtered by `doc_ids` does not re-scan what it already passed.

use super::options::{bad, Opts};
use super::read::{render_doc, Render};
use super::{json, keys, Database};
use crate::error::Result;
use crate::kv::Range;
use serde::Serialize;
use serde_json::value::RawValue;
use serde_json::Value;
use std::collections::HashSet;
use std::ops::Bound;

#[derive(Debug, Clone, Default)]
pub struct ChangesRequest {
    pub since: u64,
    pub limit: Option<u64>,
    pub descending: bool,
    pub include_docs: bool,
    pub conflicts: bool,
    pub all_docs_style: bool,
    pub doc_ids: Option<HashSet<String>>,
}

#[derive(Serialize)]
struct RevRef {
    rev: String,
}

#[derive(Serialize)]
pub struct ChangeRow {
    id: String,
    seq: u64,
    changes: Vec<RevRef>,
    #[serde(skip_serializing_if = "std::ops::Not::not")]
    deleted: bool,
    #[serde(skip_serializing_if = "Option::is_none")]
    doc: Option<Box<RawValue>>,
}

#[derive(Serialize)]
struct ChangesResult<'a> {
    results: &'a [ChangeRow],
    last_seq: u64,
}

impl ChangesRequest {
    /// Parses PouchDB's options. `since: 'now'` needs the current seq, so it is resolved here.
    pub async fn parse(db: &Database, options: &Value) -> Result<ChangesRequest> {
        let o = Opts::new(options)?;
        let since = match o.get("since") {
            None => 0,
            Some(Value::String(s)) if s == "now" => db.update_seq().await?,
            Some(Value::String(s)) => s.parse().map_err(|_| bad("since", "a seq or 'now'"))?,
            Some(v) => v.as_u64().ok_or_else(|| bad("since", "a seq or 'now'"))?,
        };
        let style = o.str("style")?;
        if !matches!(style, None | Some("main_only") | Some("all_docs")) {
            return Err(bad("style", "'main_only' or 'all_docs'"));
        }
        Ok(ChangesRequest {
            since,
            limit: o.u64("limit")?,
            descending: o.bool("descending")?,
            include_docs: o.bool("include_docs")?,
            conflicts: o.bool("conflicts")?,
            all_docs_style: style == Some("all_docs"),
            doc_ids: o.string_list("doc_ids")?.map(|l| l.into_iter().map(str::to_string).collect()),
        })
    }
}

impl Database {
    pub async fn changes(&self, options: &Value) -> Result<String> {
        self.check_open()?;
        let req = ChangesRequest::parse(self, options).await?;
        let (rows, last_seq) = self.changes_page(&req).await?;
        Ok(json::to_json(&ChangesResult { results: &rows, last_seq }))
    }

    /// Rows after `req.since`, and the last seq looked at.
    pub async fn changes_page(&self, req: &ChangesRequest) -> Result<(Vec<ChangeRow>, u64)> {
        self.check_open()?;
        const PAGE: usize = 2000;
        let want = req.limit.unwrap_or(u64::MAX) as usize;
        let mut range =
            Range { start: Bound::Excluded(keys::seq(req.since)), end: Range::prefix(&[keys::SEQ]).end };
        let mut rows = Vec::new();
        let mut last_seq = req.since;
        let render = Render { conflicts: req.conflicts, ..Render::default() };
        while rows.len() < want {
            let page = self.kv.scan(range.clone(), req.descending, Some(PAGE)).await?;
            let ids: Vec<&str> =
                page.iter().map(|(_, v)| std::str::from_utf8(v).unwrap_or_default()).collect();
            let records = self.records(&ids).await?;
            for ((key, _), (id, record)) in page.iter().zip(ids.iter().zip(records)) {
                let seq = keys::seq_of(key).unwrap_or_default();
                last_seq = seq;
                let Some(record) = record.filter(|r| r.meta.seq == seq) else { continue };
                if req.doc_ids.as_ref().is_some_and(|set| !set.contains(*id)) {
                    continue;
                }
                let tree = &record.meta.tree;
                let Some(winner) = tree.winner() else { continue };
                let changes = if req.all_docs_style {
                    tree.leaves().into_iter().map(|l| RevRef { rev: l.rev.to_string() }).collect()
                } else {
                    vec![RevRef { rev: winner.rev.to_string() }]
                };
                let doc = match (&record.winner_body, req.include_docs) {
                    (Some(body), true) => Some(json::raw(render_doc(id, &record, &winner.rev, body, render))),
                    _ => None,
                };
                rows.push(ChangeRow { id: id.to_string(), seq, changes, deleted: winner.deleted, doc });
                if rows.len() >= want {
                    break;
                }
            }
            if !range.continue_after(&page, PAGE, req.descending) {
                break;
            }
        }
        Ok((rows, last_seq))
    }
}

impl ChangeRow {
    pub fn to_json(rows: &[ChangeRow]) -> String {
        json::to_json(rows)
    }
}
