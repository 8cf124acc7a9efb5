//! What the fuzz targets (`tests/fuzz_props.rs`) share: the case count, a hang watchdog,
//! strategies for arbitrary and CouchDB-shaped JSON, and damage to apply to valid bytes;
//! databases and their checks in `db`, valid stored structures in `stored`.

pub mod db;
pub mod stored;

use proptest::prelude::*;
use proptest::test_runner::Config;
use serde_json::{Map, Number, Value};
use std::fmt::Debug;
use std::sync::{Mutex, OnceLock};
use std::time::{Duration, Instant};

/// Cases per target: `FUZZ_CASES`, else `PROPTEST_CASES`, else a count that keeps the whole
/// file to seconds in a debug `cargo test`.
pub fn config() -> Config {
    let from = |var: &str| std::env::var(var).ok().and_then(|v| v.parse::<u32>().ok());
    let cases = from("FUZZ_CASES").or_else(|| from("PROPTEST_CASES")).unwrap_or(256);
    // Shrinking a slow db case can take long; a bounded number of steps still finds a small input.
    Config { cases, max_shrink_iters: 2048, ..Config::default() }
}

/// A case running longer than this is taken for a hang.
const HANG: Duration = Duration::from_secs(20);

type Slot = Option<(Instant, &'static str, String)>;

fn slots() -> &'static Mutex<Vec<Slot>> {
    static SLOTS: OnceLock<Mutex<Vec<Slot>>> = OnceLock::new();
    SLOTS.get_or_init(|| {
        // proptest's own `timeout` works only by forking a child process per test; a watchdog
        // thread needs none. It cannot stop the stuck thread, so it names the case and aborts.
        std::thread::spawn(|| loop {
            std::thread::sleep(Duration::from_millis(250));
            let slots = slots().lock().unwrap_or_else(|e| e.into_inner());
            for (started, target, input) in slots.iter().flatten() {
                if started.elapsed() > HANG {
                    eprintln!("fuzz target {target} hung (over {HANG:?}) on input:\n{input}");
                    std::process::abort();
                }
            }
        });
        Mutex::new(Vec::new())
    })
}

/// Watches one case until dropped.
pub struct Watch(usize);

pub fn watch(target: &'static str, input: &dyn Debug) -> Watch {
    let mut slots = slots().lock().unwrap_or_else(|e| e.into_inner());
    let entry = Some((Instant::now(), target, format!("{input:?}")));
    match slots.iter().position(Option::is_none) {
        Some(i) => {
            slots[i] = entry;
            Watch(i)
        }
        None => {
            slots.push(entry);
            Watch(slots.len() - 1)
        }
    }
}

impl Drop for Watch {
    fn drop(&mut self) {
        slots().lock().unwrap_or_else(|e| e.into_inner())[self.0] = None;
    }
}

/// Strings from a small alphabet that still has the awkward characters (NUL, quotes, escapes,
/// multi-byte UTF-8, whitespace, the `_` `$` `.` `/` `-` that ids, revs and selectors give
/// meaning to), plus names Settee and CouchDB treat specially.
pub fn text() -> BoxedStrategy<String> {
    let chars = prop::sample::select(vec![
        'a', 'b', 'z', '0', '1', '9', '-', '_', '$', '.', '/', ' ', '\t', '"', '\\', '\0', '\u{1}', 'é',
        '\u{fffd}', '😀',
    ]);
    let special = prop::sample::select(vec![
        "_id",
        "_rev",
        "_deleted",
        "_revisions",
        "_attachments",
        "_local/x",
        "_design/d",
        "_conflicts",
        "start",
        "ids",
        "data",
        "stub",
        "digest",
        "content_type",
        "length",
        "follows",
        "1-a",
        "2-b",
        "md5-XUFAKrxLKna5cZ2REBfFkg==",
        "aGVsbG8=",
        "$eq",
        "$gt",
        "$in",
        "$and",
        "$or",
        "$not",
        "$nor",
        "$regex",
        "$elemMatch",
        "$allMatch",
        "$exists",
        "$type",
        "$size",
        "$mod",
        "$all",
        "$keyMapMatch",
        "a.b",
        "results",
        "docs",
        "ok",
        "error",
        "missing",
        "seq",
        "last_seq",
        "changes",
        "doc",
    ]);
    prop_oneof![
        3 => prop::collection::vec(chars, 0..10).prop_map(|c| c.into_iter().collect()),
        2 => special.prop_map(str::to_string),
        1 => any::<String>().prop_map(|s| s.chars().take(12).collect()),
    ]
    .boxed()
}

pub fn number() -> BoxedStrategy<Value> {
    prop_oneof![
        (-3i64..20).prop_map(Value::from),
        any::<i64>().prop_map(Value::from),
        any::<u64>().prop_map(Value::from),
        any::<f64>().prop_filter_map("finite", |f| Number::from_f64(f).map(Value::Number)),
    ]
    .boxed()
}

/// Any JSON value, a few levels deep.
pub fn json() -> BoxedStrategy<Value> {
    let leaf = prop_oneof![
        Just(Value::Null),
        any::<bool>().prop_map(Value::Bool),
        number(),
        text().prop_map(Value::String),
    ];
    leaf.prop_recursive(4, 40, 5, |inner| {
        prop_oneof![
            prop::collection::vec(inner.clone(), 0..5).prop_map(Value::Array),
            prop::collection::vec((text(), inner), 0..5)
                .prop_map(|m| Value::Object(m.into_iter().collect::<Map<_, _>>())),
        ]
    })
    .boxed()
}

/// A rev string: mostly well formed, sometimes slightly not.
pub fn rev_text() -> BoxedStrategy<String> {
    let hash = prop::sample::select(vec!["a", "b", "abc", "0f", "x-y", "", " ", "a b", "é"]);
    prop_oneof![
        4 => (1u64..6, hash.clone()).prop_map(|(p, h)| format!("{p}-{h}")),
        1 => (any::<u64>(), hash.clone()).prop_map(|(p, h)| format!("{p}-{h}")),
        1 => (text(), hash).prop_map(|(p, h)| format!("{p}-{h}")),
        1 => text(),
    ]
    .boxed()
}

/// `value` most of the time, any JSON otherwise (a field of the wrong type).
pub fn or_any(value: BoxedStrategy<Value>) -> BoxedStrategy<Value> {
    prop_oneof![4 => value, 1 => json()].boxed()
}

/// A `_revisions` member: `{start, ids}` that may or may not agree with the `_rev`.
pub fn revisions() -> BoxedStrategy<Value> {
    let ids = prop::collection::vec(prop::sample::select(vec!["a", "b", "c", "x", ""]), 0..5);
    or_any((0u64..6, ids).prop_map(|(start, ids)| serde_json::json!({ "start": start, "ids": ids })).boxed())
}

/// An `_attachments` member: stubs, inline data (valid base64 or not), or nonsense.
pub fn attachments() -> BoxedStrategy<Value> {
    let data = prop_oneof![
        Just(Value::from("aGVsbG8=")),
        Just(Value::from("")),
        Just(Value::from("not base64!")),
        json(),
    ];
    let entry = prop_oneof![
        (text(), data).prop_map(|(ct, d)| serde_json::json!({ "content_type": ct, "data": d })),
        text().prop_map(|d| serde_json::json!({ "stub": true, "digest": d })),
        json(),
    ];
    or_any(
        prop::collection::vec((text(), entry), 0..3)
            .prop_map(|m| Value::Object(m.into_iter().collect()))
            .boxed(),
    )
}

/// A document as a client might send one: the special members, well formed or not, plus
/// arbitrary fields.
pub fn doc() -> BoxedStrategy<Value> {
    let id = prop_oneof![
        4 => prop::sample::select(vec!["a", "b", "_local/l", "_design/d", "", "_x", "a\0b"])
            .prop_map(Value::from),
        1 => json(),
    ];
    (
        prop::option::weighted(0.9, id),
        prop::option::weighted(0.4, or_any(rev_text().prop_map(Value::from).boxed())),
        prop::option::weighted(0.2, or_any(any::<bool>().prop_map(Value::Bool).boxed())),
        prop::option::weighted(0.3, revisions()),
        prop::option::weighted(0.2, attachments()),
        prop::collection::vec((text(), json()), 0..4),
    )
        .prop_map(|(id, rev, deleted, revs, atts, fields)| {
            let mut m = Map::new();
            let special = [("_id", id), ("_rev", rev), ("_deleted", deleted), ("_revisions", revs)];
            for (k, v) in special.into_iter().chain([("_attachments", atts)]) {
                if let Some(v) = v {
                    m.insert(k.into(), v);
                }
            }
            for (k, v) in fields {
                m.insert(k, v);
            }
            Value::Object(m)
        })
        .boxed()
}

/// The option names of `get`, `allDocs`, `changes`, `query`, `find`, `bulkGet`, `createIndex`
/// (and a few request members), or any text.
pub fn option_name() -> BoxedStrategy<String> {
    let names = prop::sample::select(vec![
        "rev",
        "revs",
        "revs_info",
        "open_revs",
        "latest",
        "conflicts",
        "deleted_conflicts",
        "attachments",
        "binary",
        "include_docs",
        "keys",
        "key",
        "startkey",
        "start_key",
        "endkey",
        "end_key",
        "limit",
        "skip",
        "descending",
        "inclusive_end",
        "since",
        "style",
        "filter",
        "doc_ids",
        "selector",
        "seq_interval",
        "return_docs",
        "reduce",
        "group",
        "group_level",
        "update_seq",
        "stale",
        "update",
        "fields",
        "sort",
        "use_index",
        "execution_stats",
        "bookmark",
        "r",
        "docs",
        "index",
        "name",
        "ddoc",
        "type",
        "partial_filter_selector",
    ]);
    prop_oneof![4 => names.prop_map(str::to_string), 1 => text()].boxed()
}

/// One change to a byte string; positions wrap around its length.
#[derive(Debug, Clone)]
pub enum Damage {
    Flip(usize, u8),
    Set(usize, u8),
    Insert(usize, u8),
    Remove(usize),
    Cut(usize),
}

pub fn damage() -> BoxedStrategy<Vec<Damage>> {
    let one = prop_oneof![
        (any::<usize>(), 1..=255u8).prop_map(|(i, b)| Damage::Flip(i, b)),
        (any::<usize>(), prop::sample::select(vec![0u8, 1, 0x7f, 0x80, 0xff]))
            .prop_map(|(i, b)| Damage::Set(i, b)),
        (any::<usize>(), any::<u8>()).prop_map(|(i, b)| Damage::Insert(i, b)),
        any::<usize>().prop_map(Damage::Remove),
        any::<usize>().prop_map(Damage::Cut),
    ];
    prop::collection::vec(one, 1..4).boxed()
}

pub fn apply(mut bytes: Vec<u8>, damage: &[Damage]) -> Vec<u8> {
    for d in damage {
        let at = |i: &usize, n: usize| if n == 0 { 0 } else { i % n };
        match d {
            Damage::Flip(i, b) if !bytes.is_empty() => {
                let i = at(i, bytes.len());
                bytes[i] ^= b;
            }
            Damage::Set(i, b) if !bytes.is_empty() => {
                let i = at(i, bytes.len());
                bytes[i] = *b;
            }
            Damage::Insert(i, b) => {
                let i = at(i, bytes.len() + 1);
                bytes.insert(i, *b);
            }
            Damage::Remove(i) if !bytes.is_empty() => {
                let i = at(i, bytes.len());
                bytes.remove(i);
            }
            Damage::Cut(i) => bytes.truncate(at(i, bytes.len() + 1)),
            _ => {}
        }
    }
    bytes
}
