//! `allDocs`: docs by id, in byte order of the UTF-8 id (CouchDB's `_all_docs` order).
//!
//! A range query is one scan of the `d` key range, written out row by row (`all_docs_out`);
//! each record's head (`record::RecordHead`) gives the winning rev, its deleted flag and body
//! without parsing the rev tree, which only `conflicts` (and an original-encoding record)
//! needs. `keys` looks each id up (`all_docs_keys`). `offset` is the `skip` given, as PouchDB
//! reports it; `total_rows` is the live doc count.

use super::all_docs_out::AllDocsOut;
use super::options::{bad, Opts};
use super::read::{render_doc, Render};
use super::record::{DocRecord, RecordHead};
use super::rev_ref::RevRef;
use super::shape::Shape;
use super::{json, keys, Database};
use crate::error::Result;
use crate::kv::Range;
use serde_json::Value;
use std::ops::Bound;

/// The options both kinds of `allDocs` query read.
pub(super) struct AllDocsOpts {
    pub include_docs: bool,
    pub render: Render,
    pub descending: bool,
    pub skip: u64,
    pub limit: Option<u64>,
    /// `include_docs` with `attachments`: inline attachment data.
    pub with_data: bool,
}

impl Database {
    pub async fn all_docs(&self, options: &Value) -> Result<String> {
        self.all_docs_as(options, Shape::Rows).await
    }

    /// `all_docs` in the given shape (see `shape`; a `keys` answer is always `Rows`).
    pub async fn all_docs_as(&self, options: &Value, shape: Shape) -> Result<String> {
        self.check_open()?;
        let o = Opts::new(options)?;
        let include_docs = o.bool("include_docs")?;
        let q = AllDocsOpts {
            include_docs,
            render: Render { conflicts: o.bool("conflicts")?, ..Render::default() },
            descending: o.bool("descending")?,
            skip: o.u64("skip")?.unwrap_or(0),
            limit: o.u64("limit")?,
            with_data: include_docs && o.bool("attachments")?,
        };
        let inclusive_end = o.bool_or("inclusive_end", true)?;
        let want_seq = o.bool("update_seq")?;
        let meta = self.meta().await?;
        let update_seq = want_seq.then_some(meta.update_seq);
        let keys_list = o.string_list("keys")?;
        if keys_list.is_some()
            && ["key", "startkey", "start_key", "endkey", "end_key"].iter().any(|k| o.has(k))
        {
            // CouchDB's answer (PouchDB errors too).
            return Err(super::views::query_parse_error(
                "`keys` is incompatible with `key`, `start_key` and `end_key`",
            ));
        }
        if let Some(list) = keys_list {
            return self.all_docs_keys(list, &q, meta.doc_count, update_seq).await;
        }
        let range = self.id_range(&o, q.descending, inclusive_end)?;
        let mut out = AllDocsOut::new(shape, include_docs, meta.doc_count, q.skip);
        self.range_rows(range, &q, &mut out).await?;
        Ok(out.finish(update_seq))
    }

    /// Puts attachment data into a record's (in-memory) winner body, for `attachments: true`.
    pub(super) async fn inline_record(&self, r: &mut DocRecord) -> Result<()> {
        if let Some(body) = &r.winner_body {
            r.winner_body = Some(self.inline_data(body).await?);
        }
        Ok(())
    }

    /// The `d` key range for `startkey`/`endkey`/`key`, in ascending bounds.
    fn id_range(&self, o: &Opts, descending: bool, inclusive_end: bool) -> Result<Range> {
        if let Some(v) = o.get("key") {
            let id = v.as_str().ok_or_else(|| bad("key", "a string"))?;
            return Ok(Range { start: Bound::Included(keys::doc(id)), end: Bound::Included(keys::doc(id)) });
        }
        let start = o.str_alias("startkey", "start_key")?;
        let end = o.str_alias("endkey", "end_key")?;
        // With `descending`, startkey is the high end and endkey the low end.
        let (lo, hi) = if descending { (end, start) } else { (start, end) };
        let prefix = Range::prefix(&[keys::DOC]);
        let lo_bound = match lo {
            Some(id) if descending && !inclusive_end => Bound::Excluded(keys::doc(id)),
            Some(id) => Bound::Included(keys::doc(id)),
            None => prefix.start,
        };
        let hi_bound = match hi {
            Some(id) if !descending && !inclusive_end => Bound::Excluded(keys::doc(id)),
            Some(id) => Bound::Included(keys::doc(id)),
            None => prefix.end,
        };
        Ok(Range { start: lo_bound, end: hi_bound })
    }

    /// Writes the live (non-deleted) docs in `range` into `out`, after skipping `skip`, at
    /// most `limit`.
    async fn range_rows(&self, mut range: Range, q: &AllDocsOpts, out: &mut AllDocsOut) -> Result<()> {
        if range.is_backwards() {
            return Ok(());
        }
        let AllDocsOpts { descending, mut skip, limit, render, with_data, .. } = *q;
        let want = limit.map_or(usize::MAX, |l| usize::try_from(l).unwrap_or(usize::MAX));
        const PAGE: usize = 2000;
        while out.len() < want {
            // No more rows than the answer can still take (a page of 100 reads ~20 KB of docs,
            // not 2,000 rows' worth): deleted docs and `skip` only make the loop go round again.
            let rows =
                (want - out.len()).saturating_add(usize::try_from(skip).unwrap_or(usize::MAX)).min(PAGE);
            let page = self.kv.scan_shared(range.clone(), descending, Some(rows)).await?;
            for (key, value) in &page {
                let id = keys::id_of(key).unwrap_or_default();
                // The record's head has all a row needs, unless the doc wants metadata from the
                // tree (`conflicts`) or its attachments inlined.
                let head = if render.conflicts || with_data { None } else { RecordHead::read(value)? };
                if let Some(head) = head {
                    if head.deleted || skipped(&mut skip) {
                        continue;
                    }
                    let rev = head.winner;
                    let doc = head.body.map(|body| {
                        move |buf: &mut String| json::push_doc(buf, id, |o| rev.push_json(o), body, &[])
                    });
                    out.row(id, rev, doc);
                } else {
                    let mut record = DocRecord::decode(value)?;
                    let Some(winner) = record.meta.tree.winner().filter(|w| !w.deleted) else { continue };
                    if skipped(&mut skip) {
                        continue;
                    }
                    if with_data {
                        self.inline_record(&mut record).await?;
                    }
                    let doc = record.winner_body.as_deref().map(|body| {
                        |buf: &mut String| buf.push_str(&render_doc(id, &record, &winner.rev, body, render))
                    });
                    out.row(id, RevRef::new(winner.rev.pos, &winner.rev.hash), doc);
                }
                if out.len() >= want {
                    break;
                }
            }
            if !range.continue_after(&page, rows, descending) {
                break;
            }
        }
        Ok(())
    }
}

/// Counts one row off `skip`: true while rows are still being skipped.
fn skipped(skip: &mut u64) -> bool {
    let skipping = *skip > 0;
    *skip = skip.saturating_sub(1);
    skipping
}
