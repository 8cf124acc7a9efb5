//! `allDocs({keys})`: each id looked up, in the order given (reversed with `descending`).
//!
//! As CouchDB does, a missing id answers `{key, error: "not_found"}` and a deleted one a row
//! with `value.deleted: true` and `doc: null`. Always in PouchDB's row shape (the JS expander
//! passes it through).

use super::all_docs::AllDocsOpts;
use super::read::render_doc;
use super::record::DocRecord;
use super::{json, Database};
use crate::error::Result;
use serde::Serialize;
use serde_json::value::RawValue;

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
    pub(super) async fn all_docs_keys(
        &self,
        mut list: Vec<&str>,
        q: &AllDocsOpts,
        total_rows: u64,
        update_seq: Option<u64>,
    ) -> Result<String> {
        if q.descending {
            list.reverse();
        }
        let mut records = self.records(&list).await?;
        if q.with_data {
            for r in records.iter_mut().flatten() {
                self.inline_record(r).await?;
            }
        }
        let doc_of = |id: &str, r: &DocRecord| -> Result<Option<Box<RawValue>>> {
            let (Some(w), Some(body)) = (r.meta.tree.winner(), r.winner_body.as_deref()) else {
                return Ok(None);
            };
            json::raw(render_doc(id, r, &w.rev, body, q.render)).map(Some)
        };
        let mut rows: Vec<Row> = Vec::with_capacity(list.len());
        for (id, record) in list.iter().zip(records.iter()) {
            let row = match record.as_ref().and_then(|r| r.meta.tree.winner().map(|w| (r, w))) {
                None => Row::Missing { key: id, error: "not_found" },
                Some((r, w)) => Row::Doc {
                    id,
                    key: id,
                    value: RowValue { rev: w.rev.to_string(), deleted: w.deleted },
                    doc: if q.include_docs && !w.deleted {
                        Some(doc_of(id, r)?)
                    } else {
                        q.include_docs.then_some(None)
                    },
                },
            };
            rows.push(row);
        }
        let skip = (q.skip as usize).min(rows.len());
        let rows: Vec<Row> =
            rows.into_iter().skip(skip).take(q.limit.map_or(usize::MAX, |l| l as usize)).collect();
        Ok(json::to_json(&AllDocs { total_rows, offset: skip as u64, rows, update_seq }))
    }
}
