//! Reading option objects with PouchDB's leniency for unknown keys and strictness for known
//! keys of the wrong type: `get('a', {revs: 'yes'})` is a 400 `bad_request`, not a silent default.

use crate::error::{Error, Result};
use serde_json::{Map, Value};

pub struct Opts<'a> {
    map: Option<&'a Map<String, Value>>,
}

impl<'a> Opts<'a> {
    /// `null` and a missing options argument mean "no options".
    pub fn new(value: &'a Value) -> Result<Self> {
        match value {
            Value::Null => Ok(Opts { map: None }),
            Value::Object(m) => Ok(Opts { map: Some(m) }),
            _ => Err(Error::bad_request("options must be an object")),
        }
    }

    pub fn get(&self, name: &str) -> Option<&'a Value> {
        self.map.and_then(|m| m.get(name)).filter(|v| !v.is_null())
    }

    pub fn has(&self, name: &str) -> bool {
        self.get(name).is_some()
    }

    pub fn bool(&self, name: &str) -> Result<bool> {
        match self.get(name) {
            None => Ok(false),
            Some(Value::Bool(b)) => Ok(*b),
            Some(_) => Err(bad(name, "a boolean")),
        }
    }

    pub fn bool_or(&self, name: &str, default: bool) -> Result<bool> {
        Ok(if self.has(name) { self.bool(name)? } else { default })
    }

    pub fn u64(&self, name: &str) -> Result<Option<u64>> {
        match self.get(name) {
            None => Ok(None),
            Some(v) => v.as_u64().map(Some).ok_or_else(|| bad(name, "a non-negative integer")),
        }
    }

    /// `u64`, also from a string of digits: CouchDB reads these from a query string, and
    /// PouchDB apps pass `limit: '2'`.
    pub fn count(&self, name: &str) -> Result<Option<u64>> {
        match self.get(name) {
            Some(Value::String(s)) => {
                s.trim().parse().map(Some).map_err(|_| bad(name, "a non-negative integer"))
            }
            _ => self.u64(name),
        }
    }

    pub fn str(&self, name: &str) -> Result<Option<&'a str>> {
        match self.get(name) {
            None => Ok(None),
            Some(Value::String(s)) => Ok(Some(s)),
            Some(_) => Err(bad(name, "a string")),
        }
    }

    /// A string under either of two names (`startkey` / `start_key`).
    pub fn str_alias(&self, name: &str, alias: &str) -> Result<Option<&'a str>> {
        Ok(self.str(name)?.or(self.str(alias)?))
    }

    pub fn string_list(&self, name: &str) -> Result<Option<Vec<&'a str>>> {
        match self.get(name) {
            None => Ok(None),
            Some(Value::Array(items)) => items
                .iter()
                .map(|v| v.as_str().ok_or_else(|| bad(name, "an array of strings")))
                .collect::<Result<_>>()
                .map(Some),
            Some(_) => Err(bad(name, "an array of strings")),
        }
    }
}

pub fn bad(name: &str, what: &str) -> Error {
    Error::bad_request(format!("Query option {name} must be {what}"))
}
