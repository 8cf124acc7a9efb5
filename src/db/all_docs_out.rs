//! `AllDocsOut`: the rows of an `allDocs` range answer (every row a live doc), written as JSON
//! text as they are found.
//!
//! `Shape::Rows` is PouchDB's: `{"total_rows","offset","rows":[{"id","key","value":{"rev"},
//! "doc"?}…],"update_seq"?}` (`doc` with `include_docs`: the doc, or `null` if it has no body).
//!
//! `Shape::Columns` (rebuilt into the above by `expandAllDocs` in `wasm::expand`): with
//! `include_docs`, `{"total_rows","offset","docs":[…],"no_doc":[…],"update_seq"?}` — one doc
//! per row, whose `_id` and `_rev` are the row's id and rev; `no_doc` lists, ascending, the
//! rows that have no doc (`doc: null`), whose entry in `docs` is just `{"_id","_rev"}`.
//! Without `include_docs`, `{"total_rows","offset","ids":[…],"revs":[…],"update_seq"?}`.

use super::json::{self, push_str_json, push_u64};
use super::rev_ref::RevRef;
use super::shape::{JsonList, Shape};

/// The biggest list of each shape (`rows`, `docs` or `ids`) is written inside the answer's
/// text, right after `total_rows` and `offset` (known before the scan), so `finish` never
/// copies it (see `JsonList::opened_after`).
pub struct AllDocsOut {
    shape: Shape,
    include_docs: bool,
    /// `Rows`: the row objects. `Columns`: the ids (without `include_docs`).
    rows: JsonList,
    revs: JsonList,
    docs: JsonList,
    no_doc: JsonList,
    len: usize,
}

impl AllDocsOut {
    pub fn new(shape: Shape, include_docs: bool, total_rows: u64, offset: u64) -> Self {
        let mut head = String::with_capacity(64);
        head.push_str("{\"total_rows\":");
        push_u64(&mut head, total_rows);
        head.push_str(",\"offset\":");
        push_u64(&mut head, offset);
        let (mut rows, mut docs) = (JsonList::new(), JsonList::new());
        match shape {
            Shape::Rows => rows = JsonList::opened_after(head, "rows"),
            Shape::Columns if include_docs => docs = JsonList::opened_after(head, "docs"),
            Shape::Columns => rows = JsonList::opened_after(head, "ids"),
        }
        AllDocsOut { shape, include_docs, rows, revs: JsonList::new(), docs, no_doc: JsonList::new(), len: 0 }
    }

    pub(super) fn len(&self) -> usize {
        self.len
    }

    /// One row. `doc` writes the row's doc, if it has one; it is called only with
    /// `include_docs`.
    pub fn row(&mut self, id: &str, rev: RevRef, doc: Option<impl FnOnce(&mut String)>) {
        self.len += 1;
        match self.shape {
            Shape::Rows => {
                let out = self.rows.item();
                out.push_str("{\"id\":");
                push_str_json(out, id);
                out.push_str(",\"key\":");
                push_str_json(out, id);
                out.push_str(",\"value\":{\"rev\":");
                rev.push_json(out);
                out.push('}');
                match doc {
                    Some(write) if self.include_docs => {
                        out.push_str(",\"doc\":");
                        write(out);
                    }
                    None if self.include_docs => out.push_str(",\"doc\":null"),
                    _ => {}
                }
                out.push('}');
            }
            Shape::Columns if self.include_docs => match doc {
                Some(write) => write(self.docs.item()),
                None => {
                    push_u64(self.no_doc.item(), self.len as u64 - 1);
                    json::push_doc(self.docs.item(), id, |o| rev.push_json(o), b"{}", &[]);
                }
            },
            Shape::Columns => {
                push_str_json(self.rows.item(), id);
                rev.push_json(self.revs.item());
            }
        }
    }

    pub fn finish(self, update_seq: Option<u64>) -> String {
        let mut out = match self.shape {
            Shape::Rows => self.rows.close(),
            Shape::Columns if self.include_docs => {
                let mut out = self.docs.close();
                self.no_doc.write_member(&mut out, "no_doc");
                out
            }
            Shape::Columns => {
                let mut out = self.rows.close();
                self.revs.write_member(&mut out, "revs");
                out
            }
        };
        if let Some(seq) = update_seq {
            out.push_str(",\"update_seq\":");
            push_u64(&mut out, seq);
        }
        out.push('}');
        out
    }
}
