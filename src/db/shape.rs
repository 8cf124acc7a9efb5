//! The two shapes a big response (`allDocs`, `changes`) can be built in.
//!
//! - `Rows`: PouchDB's shape, row objects as PouchDB returns them. What the Rust API and the
//!   replicator read.
//! - `Columns`: the same answer as parallel arrays (ids, revs, docs, …) with nothing repeated.
//!   Row objects repeat each id up to three times and each rev twice, so the JSON text is ~2×
//!   the docs in it, and `JSON.parse` in the page costs about as much again as the docs alone.
//!   The wasm layer asks for this shape and rebuilds PouchDB's rows in JS (`wasm::expand`),
//!   where a row is a few property stores pointing at strings parsed once. The members of
//!   each shape are documented by the writer that builds it, next to its JS counterpart.

/// Which shape to build; see the module doc.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub enum Shape {
    #[default]
    Rows,
    Columns,
}

/// A JSON array built item by item.
///
/// `opened_after` builds the array inside the answer's own text (after its first members), so
/// that the biggest list of a big answer is never copied: an `allDocs` over 100,000 docs is
/// ~25 MB of text, and copying it into the answer at the end held it twice (plus the spare
/// capacity of the list's last doubling) at the peak, which wasm memory keeps for good.
#[derive(Debug, Default)]
pub struct JsonList {
    buf: String,
    /// Where the items start in `buf` (0, or after `opened_after`'s prefix).
    start: usize,
    len: usize,
}

impl JsonList {
    pub fn new() -> Self {
        Self::default()
    }

    /// A list written right after `prefix` (an object's first members), as its member `name`;
    /// `close` gives the text so far with the list closed, to go on with the other members.
    pub fn opened_after(mut prefix: String, name: &str) -> Self {
        prefix.push_str(",\"");
        prefix.push_str(name);
        prefix.push_str("\":[");
        JsonList { start: prefix.len(), buf: prefix, len: 0 }
    }

    /// The prefix, the member and its items, with the closing bracket (see `opened_after`).
    pub fn close(mut self) -> String {
        self.buf.push(']');
        self.buf
    }

    /// Starts the next item (writing the separator) and returns the buffer to write it into.
    pub fn item(&mut self) -> &mut String {
        if self.len > 0 {
            self.buf.push(',');
        }
        self.len += 1;
        &mut self.buf
    }

    /// The buffer, to go on writing the current item.
    pub fn current(&mut self) -> &mut String {
        debug_assert!(self.len > 0, "an item was started");
        &mut self.buf
    }

    pub fn len(&self) -> usize {
        self.len
    }

    pub fn is_empty(&self) -> bool {
        self.len == 0
    }

    /// The items' JSON, comma-separated, without brackets.
    pub fn items(&self) -> &str {
        &self.buf[self.start..]
    }

    /// Appends `[items]` to `out`.
    pub fn write_to(&self, out: &mut String) {
        out.push('[');
        out.push_str(self.items());
        out.push(']');
    }

    /// Appends `,"name":[items]` to `out`.
    pub fn write_member(&self, out: &mut String, name: &str) {
        out.push_str(",\"");
        out.push_str(name);
        out.push_str("\":");
        self.write_to(out);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn items_are_comma_separated() {
        let mut l = JsonList::new();
        let mut out = String::new();
        l.write_to(&mut out);
        for i in 0..3 {
            l.item().push_str(&i.to_string());
        }
        l.write_member(&mut out, "n");
        assert_eq!(out, r#"[],"n":[0,1,2]"#);
        assert_eq!(l.len(), 3);
    }

    #[test]
    fn a_list_opened_after_a_prefix_closes_into_the_prefixed_text() {
        let mut l = JsonList::opened_after("{\"a\":1".to_string(), "n");
        assert_eq!(l.items(), "");
        l.item().push('7');
        l.item().push('8');
        assert_eq!(l.items(), "7,8");
        let mut out = l.close();
        out.push('}');
        assert_eq!(out, r#"{"a":1,"n":[7,8]}"#);
    }
}
