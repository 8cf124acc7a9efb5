//! `ChangesOut`: the rows of a changes answer, written as JSON text as they are found.
//!
//! `Shape::Rows` is PouchDB's: `{"results":[{"id","seq","changes":[{"rev"}…],"deleted"?,"doc"?}…],
//! "last_seq"}` (`deleted` only when true, `doc` only when there is one).
//!
//! `Shape::Columns` (rebuilt into the above by `expandChanges` in `wasm::expand`):
//! `{"ids":[…],"seqs":[…],"revs":[…],"deleted":[…],"docs":[…]?,"last_seq"}` — one entry per row
//! in each of `ids`, `seqs` and `revs`; a `revs` entry is the winning rev, or with
//! `style: 'all_docs'` the array of leaf revs, winner first; `deleted` lists the indexes of the
//! rows whose winner is deleted, ascending; `docs` (with `include_docs`) has a doc or `null`
//! per row.

use super::changes::ChangesRequest;
use super::json::{push_str_json, push_u64};
use super::rev_ref::RevRef;
use super::shape::{JsonList, Shape};

pub struct ChangesOut {
    shape: Shape,
    all_docs_style: bool,
    include_docs: bool,
    /// `Rows`: the row objects. `Columns`: the ids.
    rows: JsonList,
    seqs: JsonList,
    revs: JsonList,
    deleted: JsonList,
    docs: JsonList,
    doc_written: bool,
}

impl ChangesOut {
    pub fn new(shape: Shape, req: &ChangesRequest) -> Self {
        ChangesOut {
            shape,
            all_docs_style: req.all_docs_style,
            include_docs: req.include_docs,
            rows: JsonList::new(),
            seqs: JsonList::new(),
            revs: JsonList::new(),
            deleted: JsonList::new(),
            docs: JsonList::new(),
            doc_written: false,
        }
    }

    /// Rows written so far.
    pub fn len(&self) -> usize {
        self.rows.len()
    }

    pub fn is_empty(&self) -> bool {
        self.rows.is_empty()
    }

    /// Starts a row. `others`: the leaves other than the winner, in winner order (written
    /// only with `style: 'all_docs'`). Write its doc with `doc`, then call `end_row`.
    pub fn begin_row(&mut self, id: &str, seq: u64, winner: RevRef, others: &[RevRef], deleted: bool) {
        let revs = std::iter::once(&winner).chain(others);
        let revs = revs.take(if self.all_docs_style { usize::MAX } else { 1 });
        self.doc_written = false;
        match self.shape {
            Shape::Rows => {
                let out = self.rows.item();
                out.push_str("{\"id\":");
                push_str_json(out, id);
                out.push_str(",\"seq\":");
                push_u64(out, seq);
                out.push_str(",\"changes\":[");
                for (i, rev) in revs.enumerate() {
                    out.push_str(if i == 0 { "{\"rev\":" } else { ",{\"rev\":" });
                    rev.push_json(out);
                    out.push('}');
                }
                out.push(']');
                if deleted {
                    out.push_str(",\"deleted\":true");
                }
            }
            Shape::Columns => {
                if deleted {
                    let row = self.rows.len() as u64;
                    push_u64(self.deleted.item(), row);
                }
                push_str_json(self.rows.item(), id);
                push_u64(self.seqs.item(), seq);
                let out = self.revs.item();
                if self.all_docs_style {
                    out.push('[');
                    for (i, rev) in revs.enumerate() {
                        if i > 0 {
                            out.push(',');
                        }
                        rev.push_json(out);
                    }
                    out.push(']');
                } else {
                    winner.push_json(out);
                }
            }
        }
    }

    /// The buffer to write the current row's doc into (once, between `begin_row` and `end_row`).
    pub fn doc(&mut self) -> &mut String {
        self.doc_written = true;
        match self.shape {
            Shape::Rows => {
                let out = self.rows.current();
                out.push_str(",\"doc\":");
                out
            }
            Shape::Columns => self.docs.item(),
        }
    }

    pub fn end_row(&mut self) {
        match self.shape {
            Shape::Rows => self.rows.current().push('}'),
            Shape::Columns if self.include_docs && !self.doc_written => self.docs.item().push_str("null"),
            Shape::Columns => {}
        }
    }

    /// The whole answer: `{"results": …, "last_seq": …}` or the columns.
    pub fn into_results(self, last_seq: u64) -> String {
        let mut out = String::with_capacity(self.text_len() + 64);
        match self.shape {
            Shape::Rows => {
                out.push_str("{\"results\":");
                self.rows.write_to(&mut out);
            }
            Shape::Columns => {
                out.push_str("{\"ids\":");
                self.rows.write_to(&mut out);
                self.seqs.write_member(&mut out, "seqs");
                self.revs.write_member(&mut out, "revs");
                self.deleted.write_member(&mut out, "deleted");
                if self.include_docs {
                    self.docs.write_member(&mut out, "docs");
                }
            }
        }
        out.push_str(",\"last_seq\":");
        push_u64(&mut out, last_seq);
        out.push('}');
        out
    }

    /// Just the rows, as a JSON array of PouchDB's row objects (what a live feed delivers).
    pub fn into_rows(self) -> String {
        debug_assert_eq!(self.shape, Shape::Rows);
        let mut out = String::with_capacity(self.rows.items().len() + 2);
        self.rows.write_to(&mut out);
        out
    }

    fn text_len(&self) -> usize {
        [&self.rows, &self.seqs, &self.revs, &self.deleted, &self.docs]
            .iter()
            .map(|l| l.items().len() + 16)
            .sum()
    }
}
