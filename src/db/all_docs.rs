//! `allDocs`: docs by id, in byte order of the UTF-8 id (CouchDB's `_all_docs` order).
//!
//! A range query is one scan of the `d` key range. `keys` looks each id up and answers, as
//! CouchDB does, `{key, error: "not_found"}` for a missing id and a row with
//! `value.deleted: true` and `doc: null` for a deleted one. `offset` is the `skip` given, as
//! PouchDB reports it; `total_rows` is the live doc count.

use super::options::{bad, Opts};
use super::read::{render_doc, Render};
use super::record::DocRecord;
use super::{json, keys, Database};
use crate::error::Result;
use crate::kv::Range;
use serde::Serialize;
use serde_json::value::RawValue;
use serde_json::Value;
use std::ops::Bound;

#[derive(Serialize)]
struct RowValue {
    rev: String,
    #[serde(skip_serializing_if = "std::ops::Not::not")]
    deleted: bool,
}

#[derive(Serialize)]
#[serde(untagged)]
enum Row<'a> {
    Doc {
        id: &'a str,
        key: &'a str,
        value: RowValue,
        #[serde(skip_serializing_if = "Option::is_none")]
        doc: Option<Option<Box<RawValue>>>,
    },
    Missing {
        key: &'a str,
        error: &'static str,
    },
}

#[derive(Serialize)]
struct AllDocs<'a> {
    total_rows: u64,
    offset: u64,
    rows: Vec<Row<'a>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    update_seq: Option<u64>,
}

impl Database {
    pub async fn all_docs(&self, options: &Value) -> Result<String> {
        self.check_open()?;
        let o = Opts::new(options)?;
        let include_docs = o.bool("include_docs")?;
        let render = Render { conflicts: o.bool("conflicts")?, ..Render::default() };
        let descending = o.bool("descending")?;
        let inclusive_end = o.bool_or("inclusive_end", true)?;
        let skip = o.u64("skip")?.unwrap_or(0);
        let limit = o.u64("limit")?;
        let want_seq = o.bool("update_seq")?;
        let with_data = include_docs && o.bool("attachments")?;
        let meta = self.meta().await?;

        let doc_of = |id: &str, r: &DocRecord| -> Option<Box<RawValue>> {
            let w = r.meta.tree.winner()?;
            let body = r.winner_body.as_deref()?;
            Some(json::raw(render_doc(id, r, &w.rev, body, render)))
        };

        let mut rows: Vec<Row> = Vec::new();
        let keys_list = o.string_list("keys")?;
        if let Some(mut list) = keys_list {
            if descending {
                list.reverse();
            }
            let mut records = self.records(&list).await?;
            if with_data {
                for r in records.iter_mut().flatten() {
                    self.inline_record(r).await?;
                }
            }
            for (id, record) in list.iter().zip(records.iter()) {
                let row = match record.as_ref().and_then(|r| r.meta.tree.winner().map(|w| (r, w))) {
                    None => Row::Missing { key: id, error: "not_found" },
                    Some((r, w)) => Row::Doc {
                        id,
                        key: id,
                        value: RowValue { rev: w.rev.to_string(), deleted: w.deleted },
                        doc: include_docs.then(|| if w.deleted { None } else { doc_of(id, r) }),
                    },
                };
                rows.push(row);
            }
            let skip = (skip as usize).min(rows.len());
            let rows: Vec<Row> =
                rows.into_iter().skip(skip).take(limit.map_or(usize::MAX, |l| l as usize)).collect();
            return Ok(json::to_json(&AllDocs {
                total_rows: meta.doc_count,
                offset: skip as u64,
                rows,
                update_seq: want_seq.then_some(meta.update_seq),
            }));
        }

        let range = self.id_range(&o, descending, inclusive_end)?;
        let mut ids_and_records = self.scan_live(range, descending, skip, limit).await?;
        if with_data {
            for (_, r) in ids_and_records.iter_mut() {
                self.inline_record(r).await?;
            }
        }
        for (id, r) in &ids_and_records {
            let w = r.meta.tree.winner().expect("live docs have a winner");
            rows.push(Row::Doc {
                id,
                key: id,
                value: RowValue { rev: w.rev.to_string(), deleted: false },
                doc: include_docs.then(|| doc_of(id, r)),
            });
        }
        Ok(json::to_json(&AllDocs {
            total_rows: meta.doc_count,
            offset: skip,
            rows,
            update_seq: want_seq.then_some(meta.update_seq),
        }))
    }

    /// Puts attachment data into a record's (in-memory) winner body, for `attachments: true`.
    async fn inline_record(&self, r: &mut DocRecord) -> Result<()> {
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

    /// Live (non-deleted) docs in `range`, after skipping `skip`, at most `limit`.
    async fn scan_live(
        &self,
        mut range: Range,
        descending: bool,
        mut skip: u64,
        limit: Option<u64>,
    ) -> Result<Vec<(String, DocRecord)>> {
        let mut out = Vec::new();
        if range.is_backwards() {
            return Ok(out);
        }
        let want = limit.unwrap_or(u64::MAX);
        const PAGE: usize = 2000;
        while (out.len() as u64) < want {
            let page = self.kv.scan(range.clone(), descending, Some(PAGE)).await?;
            for (key, value) in &page {
                let record = DocRecord::decode(value)?;
                if record.meta.tree.winner().is_none_or(|w| w.deleted) {
                    continue;
                }
                if skip > 0 {
                    skip -= 1;
                    continue;
                }
                let id = keys::id_of(key).unwrap_or_default().to_string();
                out.push((id, record));
                if out.len() as u64 >= want {
                    break;
                }
            }
            if !range.continue_after(&page, PAGE, descending) {
                break;
            }
        }
        Ok(out)
    }
}
