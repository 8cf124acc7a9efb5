//! `changes`: the docs changed since a seq, each once, at its latest seq.
//!
//! It scans the `s` key range (seq → id) and reads the doc records for that page in one
//! `get_many`. A record's head (`record::RecordHead`) gives the row — winning rev, deleted
//! flag, and the body for `include_docs` — without parsing the rev tree; only `conflicts`,
//! and `style: 'all_docs'` for a doc that has other leaves, parse it. A record whose seq no
//! longer matches its row was rewritten meanwhile; that row is skipped, since the doc appears
//! again at its newer seq. `last_seq` is the last seq looked at, so a feed filtered by
//! `doc_ids` does not re-scan what it already passed. Rows are written as JSON text as they are
//! found (`changes_out`).
//!
//! With a filter (`changes_filter`), each page's current docs are rendered as `get` would and
//! handed to it in one call; `limit` counts the rows it keeps, and when `limit` is reached
//! mid-page `last_seq` is the last kept row's seq, so the next call resumes right after it.

use super::changes_filter::{ChangesFilter, FilterContext};
use super::changes_out::ChangesOut;
use super::options::{bad, Opts};
use super::read::{render_doc, Render};
use super::record::{DocRecord, RecordHead};
use super::rev_ref::RevRef;
use super::shape::Shape;
use super::{json, keys, Database};
use crate::error::Result;
use crate::kv::{Range, SharedBytes};
use serde_json::Value;
use std::collections::HashSet;
use std::ops::Bound;

#[derive(Debug, Clone, Default)]
pub struct ChangesRequest {
    pub since: u64,
    pub limit: Option<u64>,
    pub descending: bool,
    pub include_docs: bool,
    /// With `include_docs`: attachment data inlined as base64 (PouchDB's `attachments`).
    pub attachments: bool,
    pub conflicts: bool,
    pub all_docs_style: bool,
    pub doc_ids: Option<HashSet<String>>,
    /// Rows pass only if it keeps their doc (`changes_filter`); `limit` counts passing rows.
    pub filter: Option<ChangesFilter>,
}

impl ChangesRequest {
    /// Parses PouchDB's options. `since: 'now'` needs the current seq, so it is resolved here.
    pub async fn parse(db: &Database, options: &Value) -> Result<ChangesRequest> {
        Self::parse_with(db, options, &FilterContext::default()).await
    }

    /// `parse`, with the code that filter functions and design doc filters need.
    /// `limit: 0` means 1, as in CouchDB and PouchDB. `since: 'latest'` is `'now'`: PouchDB's
    /// own adapters compare it as a string, after every numeric seq.
    pub async fn parse_with(db: &Database, options: &Value, ctx: &FilterContext) -> Result<ChangesRequest> {
        let o = Opts::new(options)?;
        let since = match o.get("since") {
            None => 0,
            Some(Value::String(s)) if s == "now" || s == "latest" => db.update_seq().await?,
            Some(Value::String(s)) => s.parse().map_err(|_| bad("since", "a seq or 'now'"))?,
            Some(v) => v.as_u64().ok_or_else(|| bad("since", "a seq or 'now'"))?,
        };
        if o.get("doc_ids").is_some_and(|ids| !ids.is_null() && !ids.is_array()) {
            // CouchDB's words (and PouchDB's).
            return Err(crate::error::Error::bad_request("`doc_ids` filter parameter is not a list."));
        }
        let style = o.str("style")?;
        if !matches!(style, None | Some("main_only") | Some("all_docs")) {
            return Err(bad("style", "'main_only' or 'all_docs'"));
        }
        Ok(ChangesRequest {
            since,
            limit: o.u64("limit")?.map(|l| l.max(1)),
            descending: o.bool("descending")?,
            include_docs: o.bool("include_docs")?,
            attachments: o.bool("attachments")?,
            conflicts: o.bool("conflicts")?,
            all_docs_style: style == Some("all_docs"),
            doc_ids: o.string_list("doc_ids")?.map(|l| l.into_iter().map(str::to_string).collect()),
            filter: db.changes_filter(options, ctx).await?,
        })
    }
}

impl Database {
    pub async fn changes(&self, options: &Value) -> Result<String> {
        self.changes_as(options, Shape::Rows).await
    }

    /// `changes` in the given shape (see `shape`).
    pub async fn changes_as(&self, options: &Value, shape: Shape) -> Result<String> {
        self.changes_with(options, shape, &FilterContext::default()).await
    }

    /// `changes_as`, with the code filters need (see `changes_filter`).
    pub async fn changes_with(&self, options: &Value, shape: Shape, ctx: &FilterContext) -> Result<String> {
        self.check_open()?;
        let req = ChangesRequest::parse_with(self, options, ctx).await?;
        let mut out = ChangesOut::new(shape, &req);
        let last_seq = self.changes_page(&req, &mut out).await?;
        self.with_attachment_data(&req, out.into_results(last_seq)).await
    }

    /// A rendered answer with attachment data inlined when `req` asks for it (rare, so the
    /// rows are written as stubs and re-parsed here rather than slowing every feed down).
    pub async fn with_attachment_data(&self, req: &ChangesRequest, text: String) -> Result<String> {
        if req.include_docs && req.attachments {
            self.inline_everywhere(text).await
        } else {
            Ok(text)
        }
    }

    /// Writes the rows after `req.since` into `out`; returns the last seq looked at.
    pub async fn changes_page(&self, req: &ChangesRequest, out: &mut ChangesOut) -> Result<u64> {
        self.check_open()?;
        const PAGE: usize = 2000;
        let want = req.limit.unwrap_or(u64::MAX) as usize;
        let mut range =
            Range { start: Bound::Excluded(keys::seq(req.since)), end: Range::prefix(&[keys::SEQ]).end };
        let mut last_seq = req.since;
        while out.len() < want {
            let page = self.kv.scan_shared(range.clone(), req.descending, Some(PAGE)).await?;
            let ids: Vec<&str> =
                page.iter().map(|(_, v)| std::str::from_utf8(v).unwrap_or_default()).collect();
            let wanted = |id: &str| req.doc_ids.as_ref().is_none_or(|set| set.contains(id));
            let record_keys: Vec<Vec<u8>> =
                ids.iter().filter(|id| wanted(id)).map(|id| keys::doc(id)).collect();
            let mut records = self.kv.get_many_shared(&record_keys).await?.into_iter();
            if let Some(filter) = &req.filter {
                let wanted_rows = page.iter().zip(&ids).filter(|(_, id)| wanted(id));
                let rows: Vec<(&str, u64, Option<SharedBytes>)> = wanted_rows
                    .map(|((key, _), id)| {
                        (*id, keys::seq_of(key).unwrap_or_default(), records.next().flatten())
                    })
                    .collect();
                let (seq, full) = filtered_rows(filter, out, req, &rows, want).await?;
                last_seq = if full {
                    seq
                } else {
                    page.last().and_then(|(k, _)| keys::seq_of(k)).unwrap_or(last_seq)
                };
                if full {
                    break;
                }
                if !range.continue_after(&page, PAGE, req.descending) {
                    break;
                }
                continue;
            }
            for ((key, _), id) in page.iter().zip(&ids) {
                let seq = keys::seq_of(key).unwrap_or_default();
                last_seq = seq;
                if !wanted(id) {
                    continue;
                }
                if let Some(bytes) = records.next().expect("one record read per wanted row") {
                    change_from_record(out, req, id, seq, &bytes)?;
                }
                if out.len() >= want {
                    break;
                }
            }
            if !range.continue_after(&page, PAGE, req.descending) {
                break;
            }
        }
        Ok(last_seq)
    }
}

/// Writes the rows of one page that `filter` keeps, up to `want` rows in `out`. Returns the
/// seq of the last row written and whether `out` is full (then the feed resumes after it).
async fn filtered_rows(
    filter: &ChangesFilter,
    out: &mut ChangesOut,
    req: &ChangesRequest,
    rows: &[(&str, u64, Option<SharedBytes>)],
    want: usize,
) -> Result<(u64, bool)> {
    // Only current records are candidates (see `change_from_record`).
    let mut candidates = Vec::new();
    let mut docs = Vec::new();
    for (id, seq, bytes) in rows {
        let Some(bytes) = bytes else { continue };
        let record = DocRecord::decode(bytes)?;
        if record.meta.seq != *seq {
            continue;
        }
        let Some(winner) = record.meta.tree.winner() else { continue };
        docs.push(match &record.winner_body {
            Some(body) => render_doc(id, &record, &winner.rev, body, Render::default()),
            None => {
                serde_json::json!({"_id": id, "_rev": winner.rev.to_string(), "_deleted": true}).to_string()
            }
        });
        candidates.push((*id, *seq, bytes));
    }
    let keep = filter.0.keep(&docs).await?;
    let mut last = 0;
    for ((id, seq, bytes), kept) in candidates.into_iter().zip(keep) {
        if kept {
            change_from_record(out, req, id, seq, bytes)?;
            last = seq;
            if out.len() >= want {
                return Ok((last, true));
            }
        }
    }
    Ok((last, false))
}

/// The row of `id` from its doc record. A record whose seq no longer matches the row's was
/// rewritten meanwhile (another tab, between the scan and the read): no row, since the doc
/// appears again at its newer seq.
fn change_from_record(
    out: &mut ChangesOut,
    req: &ChangesRequest,
    id: &str,
    seq: u64,
    bytes: &[u8],
) -> Result<()> {
    // The head has all a row needs unless it wants `_conflicts` in its doc, or the other leaves
    // (`style: 'all_docs'`) of a doc that has some.
    let head = if req.conflicts { None } else { RecordHead::read(bytes)? };
    if let Some(head) = head.filter(|h| !(h.other_leaves && req.all_docs_style)) {
        if head.seq != seq {
            return Ok(());
        }
        out.begin_row(id, seq, head.winner, &[], head.deleted);
        if let (Some(body), true) = (head.body, req.include_docs) {
            // What `render_doc` writes when no metadata is asked for.
            let deleted;
            let extras: &[(&str, String)] = if head.deleted {
                deleted = [("_deleted", "true".to_string())];
                &deleted
            } else {
                &[]
            };
            json::push_doc(out.doc(), id, |o| head.winner.push_json(o), body, extras);
        }
        out.end_row();
        return Ok(());
    }
    let record = DocRecord::decode(bytes)?;
    if record.meta.seq != seq {
        return Ok(());
    }
    let leaves = record.meta.tree.leaves();
    let Some(winner) = leaves.first() else { return Ok(()) };
    let others: Vec<RevRef> = leaves[1..].iter().map(|l| RevRef::new(l.rev.pos, &l.rev.hash)).collect();
    out.begin_row(id, seq, RevRef::new(winner.rev.pos, &winner.rev.hash), &others, winner.deleted);
    if let (Some(body), true) = (&record.winner_body, req.include_docs) {
        let render = Render { conflicts: req.conflicts, ..Render::default() };
        out.doc().push_str(&render_doc(id, &record, &winner.rev, body, render));
    }
    out.end_row();
    Ok(())
}
