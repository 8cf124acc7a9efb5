//! `J`: the value a schema is checked against, read straight from a doc's JSON text with
//! strings borrowed from it and objects as member lists. Building a `serde_json::Value` (an
//! ordered hash map per object, a `String` per key) and dropping it was ~80% of a check's cost;
//! this tree allocates one `Vec` per object or array and nothing per string without escapes.
//! A `Value` (a doc given as an object) is viewed the same way with `J::of`, borrowing.

use serde::de::{Deserialize, Deserializer, MapAccess, SeqAccess, Visitor};
use serde_json::Value;
use std::borrow::Cow;
use std::fmt;

#[derive(Debug, Clone, PartialEq)]
pub enum J<'a> {
    Null,
    Bool(bool),
    Num(N),
    Str(Cow<'a, str>),
    Arr(Vec<J<'a>>),
    Obj(Vec<(Cow<'a, str>, J<'a>)>),
}

/// A JSON number as serde_json reads it.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum N {
    U(u64),
    I(i64),
    F(f64),
}

impl N {
    pub fn f64(self) -> f64 {
        match self {
            N::U(u) => u as f64,
            N::I(i) => i as f64,
            N::F(f) => f,
        }
    }

    pub fn is_integer(self) -> bool {
        match self {
            N::F(f) => f.fract() == 0.0,
            _ => true,
        }
    }
}

impl<'a> J<'a> {
    /// A view of `v`, borrowing its strings.
    pub fn of(v: &'a Value) -> J<'a> {
        match v {
            Value::Null => J::Null,
            Value::Bool(b) => J::Bool(*b),
            Value::Number(n) => J::Num(if let Some(u) = n.as_u64() {
                N::U(u)
            } else if let Some(i) = n.as_i64() {
                N::I(i)
            } else {
                N::F(n.as_f64().unwrap_or(f64::NAN))
            }),
            Value::String(s) => J::Str(Cow::Borrowed(s)),
            Value::Array(a) => J::Arr(a.iter().map(J::of).collect()),
            Value::Object(m) => {
                J::Obj(m.iter().map(|(k, v)| (Cow::Borrowed(k.as_str()), J::of(v))).collect())
            }
        }
    }

    /// A member of an object (the last one, for a repeated key: what a map would keep).
    pub fn get(members: &'a [(Cow<'a, str>, J<'a>)], key: &str) -> Option<&'a J<'a>> {
        members.iter().rev().find(|(k, _)| k == key).map(|(_, v)| v)
    }
}

impl fmt::Display for J<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            J::Null => f.write_str("null"),
            J::Bool(b) => write!(f, "{b}"),
            J::Num(N::U(u)) => write!(f, "{u}"),
            J::Num(N::I(i)) => write!(f, "{i}"),
            J::Num(N::F(x)) => write!(f, "{x}"),
            J::Str(s) => write!(f, "{}", Value::String(s.to_string())),
            J::Arr(_) => f.write_str("[…]"),
            J::Obj(_) => f.write_str("{…}"),
        }
    }
}

struct JVisitor;

impl<'de> Visitor<'de> for JVisitor {
    type Value = J<'de>;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("JSON")
    }
    fn visit_unit<E>(self) -> Result<J<'de>, E> {
        Ok(J::Null)
    }
    fn visit_bool<E>(self, b: bool) -> Result<J<'de>, E> {
        Ok(J::Bool(b))
    }
    fn visit_u64<E>(self, u: u64) -> Result<J<'de>, E> {
        Ok(J::Num(N::U(u)))
    }
    fn visit_i64<E>(self, i: i64) -> Result<J<'de>, E> {
        Ok(J::Num(N::I(i)))
    }
    fn visit_f64<E>(self, x: f64) -> Result<J<'de>, E> {
        Ok(J::Num(N::F(x)))
    }
    fn visit_borrowed_str<E>(self, s: &'de str) -> Result<J<'de>, E> {
        Ok(J::Str(Cow::Borrowed(s)))
    }
    fn visit_str<E>(self, s: &str) -> Result<J<'de>, E> {
        Ok(J::Str(Cow::Owned(s.to_string())))
    }
    fn visit_string<E>(self, s: String) -> Result<J<'de>, E> {
        Ok(J::Str(Cow::Owned(s)))
    }
    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<J<'de>, A::Error> {
        let mut out = Vec::with_capacity(seq.size_hint().unwrap_or(0));
        while let Some(v) = seq.next_element()? {
            out.push(v);
        }
        Ok(J::Arr(out))
    }
    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<J<'de>, A::Error> {
        let mut out = Vec::new();
        while let Some(k) = map.next_key::<Key<'de>>()? {
            out.push((k.0, map.next_value()?));
        }
        Ok(J::Obj(out))
    }
}

impl<'de> Deserialize<'de> for J<'de> {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<J<'de>, D::Error> {
        d.deserialize_any(JVisitor)
    }
}

/// An object key, borrowed unless it has escapes.
struct Key<'a>(Cow<'a, str>);

impl<'de> Deserialize<'de> for Key<'de> {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Key<'de>, D::Error> {
        struct KeyVisitor;
        impl<'de> Visitor<'de> for KeyVisitor {
            type Value = Key<'de>;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("a key")
            }
            fn visit_borrowed_str<E>(self, s: &'de str) -> Result<Key<'de>, E> {
                Ok(Key(Cow::Borrowed(s)))
            }
            fn visit_str<E>(self, s: &str) -> Result<Key<'de>, E> {
                Ok(Key(Cow::Owned(s.to_string())))
            }
            fn visit_string<E>(self, s: String) -> Result<Key<'de>, E> {
                Ok(Key(Cow::Owned(s)))
            }
        }
        d.deserialize_str(KeyVisitor)
    }
}
