//! `parse_doc` for a doc given as JSON text (`bulkDocs` from JS): the members are read as raw
//! text and the body is written from them, with no `serde_json::Value` tree built and
//! serialised back (those two steps were ~45% of a 10,000-doc `bulkDocs`'s CPU natively).
//!
//! The body bytes must be exactly what `serde_json::to_vec` writes for the same members, since
//! the rev hash is taken over them: the same edit gives the same rev whichever way it came in.
//! So a member's raw text is copied only when it is already in that form (`is_canonical`): no
//! whitespace, numbers without a fraction, exponent or `-0` and of at most 18 digits, strings
//! whose only escapes are `\"` `\\` `\b` `\f` `\n` `\r` `\t`. That is what `JSON.stringify`
//! writes for most members; any other member is parsed and written back by serde_json.
//!
//! Docs that need their body as a map go the `Value` way (`parse_doc`) whole: those with
//! `_attachments` (stubs, inline data), `_local/` and `_design/` ids, and repeated top-level
//! members (a map keeps the last one). A repeated member inside a nested object is copied as
//! given; `JSON.stringify` never writes one.

use super::doc::{parse_doc, ParsedDoc};
use crate::error::{Error, Result};
use serde::de::{Deserializer, MapAccess, Visitor};
use serde_json::value::RawValue;
use serde_json::Value;
use std::borrow::Cow;
use std::fmt;

/// Parses one doc from its JSON text.
pub fn parse_doc_text(raw: &RawValue) -> Result<ParsedDoc> {
    let members = match Members::read(raw.get()) {
        Some(m) if !m.needs_a_map() => m,
        _ => return parse_doc(parse_value(raw)?),
    };
    let mut doc = Value::Object(serde_json::Map::new());
    let map = doc.as_object_mut().expect("an object");
    let mut body = Vec::with_capacity(raw.get().len());
    body.push(b'{');
    for (key, value) in &members.0 {
        if key.starts_with('_') && !super::doc::KEPT.contains(&key.as_ref()) {
            // The special members: parsed by `parse_doc`'s own rules, on a map of just them.
            map.insert(key.to_string(), parse_value(value)?);
            continue;
        }
        if body.len() > 1 {
            body.push(b',');
        }
        serde_json::to_writer(&mut body, key).expect("strings serialise");
        body.push(b':');
        if is_canonical(value.get().as_bytes()) {
            body.extend_from_slice(value.get().as_bytes());
        } else {
            serde_json::to_writer(&mut body, &parse_value(value)?).expect("values serialise");
        }
    }
    body.push(b'}');
    let mut parsed = parse_doc(doc)?;
    parsed.raw_body = Some(body);
    Ok(parsed)
}

/// The doc's `_id` if it is a string: what the error row of a doc that failed names.
pub fn raw_id(raw: &RawValue) -> Option<String> {
    let doc: Value = serde_json::from_str(raw.get()).ok()?;
    doc.get("_id")?.as_str().map(str::to_string)
}

fn parse_value(raw: &RawValue) -> Result<Value> {
    serde_json::from_str(raw.get()).map_err(|e| Error::bad_request(format!("invalid JSON: {e}")))
}

/// A JSON object's members in order, values as raw text. `None` if the text is not an object.
struct Members<'a>(Vec<(Cow<'a, str>, &'a RawValue)>);

impl<'a> Members<'a> {
    fn read(text: &'a str) -> Option<Members<'a>> {
        let mut de = serde_json::Deserializer::from_str(text);
        de.deserialize_map(MembersVisitor).ok()
    }

    fn needs_a_map(&self) -> bool {
        let m = &self.0;
        let special = |k: &str, v: &RawValue| match k {
            "_attachments" => true,
            "_id" => v.get().starts_with("\"_local/") || v.get().starts_with("\"_design/"),
            _ => false,
        };
        m.iter().any(|(k, v)| special(k, v)) || (1..m.len()).any(|i| m[..i].iter().any(|(k, _)| *k == m[i].0))
    }
}

struct MembersVisitor;

impl<'de> Visitor<'de> for MembersVisitor {
    type Value = Members<'de>;

    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.write_str("a JSON object")
    }

    fn visit_map<A: MapAccess<'de>>(self, mut access: A) -> std::result::Result<Members<'de>, A::Error> {
        let mut members = Vec::with_capacity(access.size_hint().unwrap_or(8));
        while let Some(entry) = access.next_entry::<Cow<'de, str>, &'de RawValue>()? {
            members.push(entry);
        }
        Ok(Members(members))
    }
}

/// True when `serde_json::to_vec` of this (valid) JSON value's parse would give these bytes.
fn is_canonical(json: &[u8]) -> bool {
    let mut i = 0;
    while i < json.len() {
        match json[i] {
            b'"' => {
                i += 1;
                loop {
                    match json.get(i) {
                        Some(b'"') => break,
                        Some(b'\\') => {
                            if !matches!(
                                json.get(i + 1),
                                Some(b'"' | b'\\' | b'b' | b'f' | b'n' | b'r' | b't')
                            ) {
                                return false;
                            }
                            i += 2;
                        }
                        Some(_) => i += 1,
                        None => return false,
                    }
                }
            }
            b'-' | b'0'..=b'9' => {
                if json[i] == b'-' && json.get(i + 1) == Some(&b'0') {
                    return false;
                }
                let start = i;
                while json.get(i + 1).is_some_and(u8::is_ascii_digit) {
                    i += 1;
                }
                let digits = i + 1 - start - usize::from(json[start] == b'-');
                if digits > 18 {
                    return false;
                }
            }
            // `true`, `null`, `false`: skipped whole, since `e` elsewhere is an exponent.
            b't' | b'n' => i += 3,
            b'f' => i += 4,
            b'.' | b'e' | b'E' | b' ' | b'\n' | b'\r' | b'\t' => return false,
            _ => {}
        }
        i += 1;
    }
    true
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn via_text(v: &Value) -> ParsedDoc {
        let text = serde_json::to_string(v).unwrap();
        parse_doc_text(&RawValue::from_string(text).unwrap()).unwrap()
    }

    fn serde_body(text: &str) -> Vec<u8> {
        serde_json::to_vec(&parse_doc(serde_json::from_str(text).unwrap()).unwrap().body).unwrap()
    }

    #[test]
    fn a_plain_doc_gets_the_bytes_serde_would_write_and_no_map() {
        let doc = json!({"_id": "a", "z": 1, "_rev": "1-x", "a": [true, null, {"k": "v\n\"q\""}], "n": -5});
        let p = via_text(&doc);
        assert_eq!((p.id.as_deref(), p.rev.map(|r| r.to_string())), (Some("a"), Some("1-x".into())));
        assert!(p.body.is_empty());
        assert_eq!(p.raw_body.unwrap(), serde_body(&doc.to_string()));
    }

    #[test]
    fn members_not_in_serdes_form_are_rewritten_by_serde() {
        // As JSON.stringify would send them: exponents, fractions, long integers, \u escapes.
        let text = r#"{"_id":"a","f":0.000001,"big":1e+21,"long":100000000000000000000,"neg":-0,"u":"\u0001\u00e9","s":"a\/b","sp":{ "k" : 1 }}"#;
        let p = parse_doc_text(&RawValue::from_string(text.into()).unwrap()).unwrap();
        assert_eq!(
            String::from_utf8(p.raw_body.unwrap()).unwrap(),
            String::from_utf8(serde_body(text)).unwrap()
        );
    }

    #[test]
    fn docs_that_need_a_map_go_the_value_way() {
        for doc in [
            json!({"_id": "a", "_attachments": {"t": {"content_type": "text/plain", "data": "aGk="}}}),
            json!({"_id": "_local/x", "v": 1}),
            json!({"_id": "_design/x", "views": {}}),
        ] {
            let p = via_text(&doc);
            assert!(p.raw_body.is_none(), "{doc}");
            assert!(!p.body.is_empty(), "{doc}");
        }
        let p = parse_doc_text(&RawValue::from_string(r#"{"_id":"a","v":1,"v":2}"#.into()).unwrap()).unwrap();
        assert_eq!((p.raw_body, p.body.get("v")), (None, Some(&json!(2))));
    }

    #[test]
    fn errors_are_the_ones_parse_doc_gives() {
        for text in [r#"{"_id":5}"#, r#"{"_foo":1,"_id":5}"#, r#"{"_id":"a","_rev":"bad"}"#, "[1]", "7"] {
            let raw = RawValue::from_string(text.into()).unwrap();
            let fast = parse_doc_text(&raw).unwrap_err();
            let slow = parse_doc(serde_json::from_str(text).unwrap()).unwrap_err();
            assert_eq!(
                (fast.status, fast.name, fast.message),
                (slow.status, slow.name, slow.message),
                "{text}"
            );
        }
    }

    #[test]
    fn the_canonical_check_rejects_what_serde_would_write_differently() {
        for ok in [r#""x""#, "12", "-3", "[1,{\"a\":\"\\n\"}]", "true", "null", "123456789012345678"] {
            assert!(is_canonical(ok.as_bytes()), "{ok}");
        }
        for no in ["1.5", "1e3", "-0", "1234567890123456789", "[1, 2]", r#""\u0041""#, r#""\/""#] {
            assert!(!is_canonical(no.as_bytes()), "{no}");
        }
    }

    /// JSON text for `v` in any of the forms a JSON writer may choose: spaces, `\uXXXX` and
    /// `\/` escapes, numbers with fractions and exponents.
    #[cfg(not(target_arch = "wasm32"))]
    fn render(v: &Value, style: &mut dyn Iterator<Item = u8>, out: &mut String) {
        fn pick(style: &mut dyn Iterator<Item = u8>, n: u8) -> u8 {
            style.next().unwrap_or(0) % n
        }
        let ws = |out: &mut String, k: u8| out.push_str(["", "", " ", "\n "][k as usize]);
        match v {
            Value::Object(m) => {
                out.push('{');
                for (i, (k, x)) in m.iter().enumerate() {
                    if i > 0 {
                        out.push(',');
                    }
                    ws(out, pick(style, 4));
                    render(&Value::String(k.clone()), style, out);
                    out.push(':');
                    render(x, style, out);
                }
                out.push('}');
            }
            Value::Array(a) => {
                out.push('[');
                for (i, x) in a.iter().enumerate() {
                    if i > 0 {
                        out.push(',');
                        ws(out, pick(style, 4));
                    }
                    render(x, style, out);
                }
                out.push(']');
            }
            Value::String(t) => {
                out.push('"');
                for c in t.chars() {
                    match (c, pick(style, 3)) {
                        ('/', 0) => out.push_str("\\/"),
                        (c, 0) if (c as u32) < 0x10000 => out.push_str(&format!("\\u{:04x}", c as u32)),
                        _ => {
                            let quoted = serde_json::to_string(&c.to_string()).unwrap();
                            out.push_str(&quoted[1..quoted.len() - 1]);
                        }
                    }
                }
                out.push('"');
            }
            Value::Number(n) => match (n.as_i64(), pick(style, 3)) {
                (Some(i), 1) => out.push_str(&format!("{i}.0")),
                (Some(i), 2) => out.push_str(&format!("{i}e0")),
                _ => out.push_str(&n.to_string()),
            },
            other => out.push_str(&other.to_string()),
        }
    }

    #[cfg(not(target_arch = "wasm32"))]
    proptest::proptest! {
        #[test]
        fn any_text_of_a_doc_gives_the_body_bytes_of_its_value(
            members in proptest::collection::vec(("[a-z_]{0,3}", json_value()), 0..6),
            style in proptest::collection::vec(0u8..=255, 64),
        ) {
            let mut doc = serde_json::Map::new();
            doc.insert("_id".into(), json!("doc"));
            for (k, v) in members {
                if !k.starts_with('_') {
                    doc.insert(k, v);
                }
            }
            let doc = Value::Object(doc);
            let mut text = String::new();
            render(&doc, &mut style.into_iter().cycle(), &mut text);
            let fast = parse_doc_text(&RawValue::from_string(text.clone()).unwrap()).unwrap();
            let slow = parse_doc(serde_json::from_str(&text).unwrap()).unwrap();
            proptest::prop_assert_eq!(fast.body_json(), slow.body_json(), "{}", text);
        }
    }

    #[cfg(not(target_arch = "wasm32"))]
    fn json_value() -> impl proptest::strategy::Strategy<Value = Value> {
        use proptest::prelude::*;
        let leaf = prop_oneof![
            Just(Value::Null),
            any::<bool>().prop_map(Value::Bool),
            any::<i64>().prop_map(|n| json!(n)),
            any::<u64>().prop_map(|n| json!(n)),
            (-1e30f64..1e30).prop_map(|f| json!(f)),
            "\\PC{0,6}".prop_map(Value::String),
            "[\\x00-\\x1f\"\\\\/a\u{e9}\u{1F600}]{0,6}".prop_map(Value::String),
        ];
        leaf.prop_recursive(3, 24, 4, |inner| {
            prop_oneof![
                proptest::collection::vec(inner.clone(), 0..4).prop_map(Value::Array),
                proptest::collection::vec(("[a-z]{1,2}", inner), 0..4)
                    .prop_map(|m| Value::Object(m.into_iter().collect())),
            ]
        })
    }
}
