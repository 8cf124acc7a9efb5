//! `RevRef`: a rev (`pos-hash`) borrowed from where it is stored (a record's head, a rev
//! tree) and written straight into response JSON, never built as a `String` first.

use super::json;
use std::fmt;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RevRef<'a> {
    pub pos: u64,
    pub hash: &'a str,
}

impl<'a> RevRef<'a> {
    pub fn new(pos: u64, hash: &'a str) -> Self {
        RevRef { pos, hash }
    }

    /// Appends the rev as a JSON string.
    pub fn push_json(&self, out: &mut String) {
        if json::may_need_escaping(self.hash.as_bytes()) {
            json::push_str_json(out, &self.to_string());
        } else {
            out.push('"');
            json::push_u64(out, self.pos);
            out.push('-');
            out.push_str(self.hash);
            out.push('"');
        }
    }
}

impl fmt::Display for RevRef<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}-{}", self.pos, self.hash)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn writes_the_rev_as_json_text() {
        for (pos, hash) in [(1, "0123456789abcdef0123456789abcdef"), (12_345, "x"), (2, "é\"q\\")] {
            let mut json = String::new();
            RevRef::new(pos, hash).push_json(&mut json);
            assert_eq!(json, serde_json::to_string(&format!("{pos}-{hash}")).unwrap());
        }
    }
}
