//! Building response JSON without re-parsing stored bodies: a stored body is a JSON object's
//! bytes, and a doc in a response is that object with `_id`, `_rev` and metadata spliced in.

use serde::Serialize;
use serde_json::value::RawValue;

/// `{"_id":…,"_rev":…, <body members>, <extra members>}`.
pub fn doc(id: &str, rev: &str, body: &[u8], extras: &[(&str, String)]) -> String {
    let inner = body_members(body);
    let mut out = String::with_capacity(body.len() + id.len() + rev.len() + 24);
    out.push_str("{\"_id\":");
    push_str_json(&mut out, id);
    out.push_str(",\"_rev\":");
    push_str_json(&mut out, rev);
    if !inner.trim().is_empty() {
        out.push(',');
        out.push_str(inner);
    }
    for (k, v) in extras {
        out.push_str(",\"");
        out.push_str(k);
        out.push_str("\":");
        out.push_str(v);
    }
    out.push('}');
    out
}

/// The members of a stored body object, without its braces.
fn body_members(body: &[u8]) -> &str {
    let s = std::str::from_utf8(body).unwrap_or("{}").trim();
    s.strip_prefix('{').and_then(|s| s.strip_suffix('}')).unwrap_or("")
}

pub fn push_str_json(out: &mut String, s: &str) {
    out.push_str(&serde_json::to_string(s).expect("strings serialise"));
}

pub fn to_json<T: Serialize + ?Sized>(value: &T) -> String {
    serde_json::to_string(value).expect("response serialises")
}

/// Wraps JSON text we built ourselves so that serde writes it verbatim.
pub fn raw(json: String) -> Box<RawValue> {
    RawValue::from_string(json).expect("built JSON is valid")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn splices_id_rev_body_and_extras() {
        let d = doc("a\"b", "1-x", br#"{"n":1,"s":"t"}"#, &[("_deleted", "true".into())]);
        let v: serde_json::Value = serde_json::from_str(&d).unwrap();
        assert_eq!(v, serde_json::json!({"_id": "a\"b", "_rev": "1-x", "n": 1, "s": "t", "_deleted": true}));
    }

    #[test]
    fn an_empty_body_gives_only_id_and_rev() {
        let v: serde_json::Value = serde_json::from_str(&doc("a", "1-x", b"{}", &[])).unwrap();
        assert_eq!(v, serde_json::json!({"_id": "a", "_rev": "1-x"}));
    }
}
