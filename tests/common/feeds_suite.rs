//! `changes` and `allDocs` beyond the conformance suite: the revs and deleted flags they read
//! from record heads, the columns shape against the rows shape, and databases whose doc
//! records are in the original encoding (without a head). Run natively over
//! `MemoryKv` and the LSM (`tests/db_native.rs`) and over IndexedDB (`tests/db_web.rs`). Each
//! body takes a fresh database and the store under it.

#![allow(dead_code)]

use super::db_suite::{get, parse, put};
use serde_json::{json, Map, Value};
use settee::db::record::{DocRecord, RecordHead};
use settee::db::shape::Shape;
use settee::db::{keys, Database};
use settee::kv::{KvStore, Range, WriteBatch};
use std::rc::Rc;

/// The revs `setup` made, by doc.
pub struct Revs {
    pub a: String,
    pub b_deleted: String,
    pub d: String,
}

/// a: edited twice. b: deleted. c: replicated branches 1-a and 1-b, then 1-b's branch deleted
/// (2-x), so 1-a wins. d: deleted, then created again (its deleted branch goes on). e: two
/// live branches, 1-a and 1-b (1-b wins).
pub async fn setup(db: &Database) -> Revs {
    let a1 = put(db, json!({"_id": "a", "v": 1})).await;
    let a2 = put(db, json!({"_id": "a", "_rev": a1, "v": 2})).await;
    let a = put(db, json!({"_id": "a", "_rev": a2, "v": 3})).await;
    let b1 = put(db, json!({"_id": "b", "v": 1})).await;
    let b_deleted = parse(&db.remove("b", &b1).await.unwrap())["rev"].as_str().unwrap().to_string();
    let replicated = vec![
        json!({"_id": "c", "_rev": "1-a", "v": "a"}),
        json!({"_id": "c", "_rev": "1-b", "v": "b"}),
        json!({"_id": "c", "_rev": "2-x", "_deleted": true, "_revisions": {"start": 2, "ids": ["x", "b"]}}),
        json!({"_id": "e", "_rev": "1-a", "v": "a"}),
        json!({"_id": "e", "_rev": "1-b", "v": "b"}),
    ];
    db.bulk_docs(replicated, false).await.unwrap();
    let d1 = put(db, json!({"_id": "d", "v": 1})).await;
    db.remove("d", &d1).await.unwrap();
    let d = put(db, json!({"_id": "d", "v": 2})).await;
    Revs { a, b_deleted, d }
}

fn rows(v: &Value, member: &str) -> Vec<Value> {
    v[member].as_array().unwrap().clone()
}

pub async fn changes_carry_the_winning_rev_and_deleted_flag(db: Database, _kv: Rc<dyn KvStore>) {
    let r = setup(&db).await;
    let c = parse(&db.changes(&json!({})).await.unwrap());
    let got: Vec<(String, Value, bool)> = rows(&c, "results")
        .iter()
        .map(|row| {
            (row["id"].as_str().unwrap().to_string(), row["changes"].clone(), row.get("deleted").is_some())
        })
        .collect();
    let want = [
        ("a", json!([{"rev": r.a}]), false),
        ("b", json!([{"rev": r.b_deleted}]), true),
        ("c", json!([{"rev": "1-a"}]), false),
        ("e", json!([{"rev": "1-b"}]), false),
        ("d", json!([{"rev": r.d}]), false),
    ];
    let want: Vec<(String, Value, bool)> =
        want.into_iter().map(|(id, ch, del)| (id.to_string(), ch, del)).collect();
    assert_eq!(got, want);
    assert_eq!(rows(&c, "results")[1]["deleted"], true, "`deleted` is true when present");
    let seqs: Vec<u64> = rows(&c, "results").iter().map(|row| row["seq"].as_u64().unwrap()).collect();
    assert!(seqs.windows(2).all(|w| w[0] < w[1]), "ascending seqs: {seqs:?}");
    assert_eq!(c["last_seq"], *seqs.last().unwrap());

    let all = parse(&db.changes(&json!({"style": "all_docs"})).await.unwrap());
    let by_id = |v: &Value, id: &str| rows(v, "results").into_iter().find(|row| row["id"] == id).unwrap();
    assert_eq!(by_id(&all, "c")["changes"], json!([{"rev": "1-a"}, {"rev": "2-x"}]));
    assert_eq!(by_id(&all, "e")["changes"], json!([{"rev": "1-b"}, {"rev": "1-a"}]));
    assert_eq!(by_id(&all, "a")["changes"], json!([{"rev": r.a}]));

    let docs = parse(&db.changes(&json!({"include_docs": true, "conflicts": true})).await.unwrap());
    assert_eq!(by_id(&docs, "a")["doc"], json!({"_id": "a", "_rev": r.a, "v": 3}));
    assert_eq!(by_id(&docs, "b")["doc"], json!({"_id": "b", "_rev": r.b_deleted, "_deleted": true}));
    assert_eq!(by_id(&docs, "c")["doc"], json!({"_id": "c", "_rev": "1-a", "v": "a"}));
    assert_eq!(by_id(&docs, "e")["doc"], json!({"_id": "e", "_rev": "1-b", "v": "b", "_conflicts": ["1-a"]}));
    for id in ["a", "c", "d", "e"] {
        let doc = get(&db, id, json!({"conflicts": true})).await;
        assert_eq!(by_id(&docs, id)["doc"], doc, "{id}: a changes doc is what get returns");
    }
}

pub async fn columns_expand_to_the_rows(db: Database, _kv: Rc<dyn KvStore>) {
    setup(&db).await;
    assert_same_in_both_shapes(&db).await;
}

/// A live winner with no stored body (not something writes make, but a record can say so):
/// `allDocs` gives it `doc: null`, `changes` no `doc`, in both shapes.
pub async fn a_doc_without_a_body_has_a_null_doc(db: Database, kv: Rc<dyn KvStore>) {
    setup(&db).await;
    let key = keys::doc("c");
    let mut record = DocRecord::decode(&kv.get(&key).await.unwrap().unwrap()).unwrap();
    record.winner_body = None;
    let mut batch = WriteBatch::new();
    batch.put(key, record.encode());
    kv.write(batch, None).await.unwrap();
    let all = parse(&db.all_docs(&json!({"include_docs": true})).await.unwrap());
    let c = rows(&all, "rows").into_iter().find(|row| row["id"] == "c").unwrap();
    assert_eq!(c, json!({"id": "c", "key": "c", "value": {"rev": "1-a"}, "doc": null}));
    let changes = parse(&db.changes(&json!({"include_docs": true})).await.unwrap());
    let c = rows(&changes, "results").into_iter().find(|row| row["id"] == "c").unwrap();
    assert_eq!(c.get("doc"), None);
    assert_same_in_both_shapes(&db).await;
}

/// Every option set gives the same answer in both shapes (members in the same order too).
async fn assert_same_in_both_shapes(db: &Database) {
    for opts in changes_options() {
        let want = db.changes_as(&opts, Shape::Rows).await.unwrap();
        let columns = parse(&db.changes_as(&opts, Shape::Columns).await.unwrap());
        assert_eq!(expand_changes(columns).to_string(), want, "changes {opts}");
    }
    for opts in all_docs_options() {
        let want = db.all_docs_as(&opts, Shape::Rows).await.unwrap();
        let columns = parse(&db.all_docs_as(&opts, Shape::Columns).await.unwrap());
        assert_eq!(expand_all_docs(columns).to_string(), want, "allDocs {opts}");
    }
}

fn changes_options() -> Vec<Value> {
    vec![
        json!({}),
        json!({"style": "all_docs"}),
        json!({"include_docs": true}),
        json!({"include_docs": true, "conflicts": true, "style": "all_docs"}),
        json!({"since": 4}),
        json!({"limit": 2}),
        json!({"descending": true, "include_docs": true}),
        json!({"doc_ids": ["b", "e"], "include_docs": true}),
        json!({"since": "now"}),
    ]
}

fn all_docs_options() -> Vec<Value> {
    vec![
        json!({}),
        json!({"include_docs": true}),
        json!({"include_docs": true, "conflicts": true}),
        json!({"descending": true, "skip": 1, "limit": 2, "include_docs": true}),
        json!({"startkey": "b", "endkey": "d", "update_seq": true}),
        json!({"keys": ["e", "b", "zz", "a"], "include_docs": true}),
        json!({"limit": 0}),
    ]
}

/// `expandChanges` (`src/wasm/expand.rs`), in Rust.
pub fn expand_changes(c: Value) -> Value {
    if c.get("results").is_some() {
        return c;
    }
    let deleted: Vec<u64> = c["deleted"].as_array().unwrap().iter().map(|v| v.as_u64().unwrap()).collect();
    let results: Vec<Value> = (0..c["ids"].as_array().unwrap().len())
        .map(|i| {
            let mut row = Map::new();
            row.insert("id".into(), c["ids"][i].clone());
            row.insert("seq".into(), c["seqs"][i].clone());
            let changes: Vec<Value> = match &c["revs"][i] {
                Value::Array(revs) => revs.iter().map(|r| json!({"rev": r})).collect(),
                rev => vec![json!({"rev": rev})],
            };
            row.insert("changes".into(), changes.into());
            if deleted.contains(&(i as u64)) {
                row.insert("deleted".into(), true.into());
            }
            if let Some(doc) = c.get("docs").map(|d| &d[i]).filter(|d| !d.is_null()) {
                row.insert("doc".into(), doc.clone());
            }
            Value::Object(row)
        })
        .collect();
    json!({"results": results, "last_seq": c["last_seq"]})
}

/// `expandAllDocs` (`src/wasm/expand.rs`), in Rust.
pub fn expand_all_docs(a: Value) -> Value {
    if a.get("rows").is_some() {
        return a;
    }
    let rows: Vec<Value> = match a.get("docs").and_then(Value::as_array) {
        Some(docs) => {
            let no_doc: Vec<u64> =
                a["no_doc"].as_array().unwrap().iter().map(|v| v.as_u64().unwrap()).collect();
            (0..docs.len())
                .map(|i| {
                    let d = &docs[i];
                    let doc = if no_doc.contains(&(i as u64)) { Value::Null } else { d.clone() };
                    json!({"id": d["_id"], "key": d["_id"], "value": {"rev": d["_rev"]}, "doc": doc})
                })
                .collect()
        }
        None => {
            let ids = a["ids"].as_array().unwrap();
            (0..ids.len())
                .map(|i| json!({"id": ids[i], "key": ids[i], "value": {"rev": a["revs"][i]}}))
                .collect()
        }
    };
    let mut out = json!({"total_rows": a["total_rows"], "offset": a["offset"], "rows": rows});
    if let Some(seq) = a.get("update_seq") {
        out["update_seq"] = seq.clone();
    }
    out
}

/// Rewrites every doc record in the encoding the previous version wrote.
pub async fn rewrite_records_in_original_encoding(kv: &Rc<dyn KvStore>) {
    let mut batch = WriteBatch::new();
    for (key, value) in kv.scan(Range::prefix(&[keys::DOC]), false, None).await.unwrap() {
        let record = DocRecord::decode(&value).unwrap();
        let meta = serde_json::to_vec(&record.meta).unwrap();
        let mut bytes = (meta.len() as u32).to_le_bytes().to_vec();
        bytes.extend_from_slice(&meta);
        bytes.extend_from_slice(record.winner_body.as_deref().unwrap_or(b""));
        batch.put(key, bytes);
    }
    kv.write(batch, None).await.unwrap();
}

/// Everything `changes`, `allDocs` and `get` answer for the setup's docs.
async fn answers(db: &Database) -> Vec<String> {
    let mut out = Vec::new();
    for opts in changes_options() {
        out.push(db.changes(&opts).await.unwrap());
    }
    for opts in all_docs_options() {
        out.push(db.all_docs(&opts).await.unwrap());
    }
    for id in ["a", "b", "c", "d", "e"] {
        let opts = json!({"open_revs": "all", "revs": true, "conflicts": true});
        out.push(db.get(id, &opts).await.unwrap());
    }
    out.push(db.info().await.unwrap());
    out
}

pub async fn a_database_in_the_original_encoding_reads_the_same(db: Database, kv: Rc<dyn KvStore>) {
    let r = setup(&db).await;
    let before = answers(&db).await;
    rewrite_records_in_original_encoding(&kv).await;
    let a = kv.get(&keys::doc("a")).await.unwrap().unwrap();
    assert_eq!(RecordHead::read(&a).unwrap(), None, "the rewrite left an original record");
    assert_eq!(answers(&db).await, before);
    assert_same_in_both_shapes(&db).await;

    // New writes mix in records in the new encoding.
    let a = put(&db, json!({"_id": "a", "_rev": r.a, "v": 4})).await;
    let gone = parse(&db.remove("d", &r.d).await.unwrap())["rev"].as_str().unwrap().to_string();
    let c = parse(&db.changes(&json!({"since": 0, "include_docs": true})).await.unwrap());
    let ids: Vec<&str> =
        c["results"].as_array().unwrap().iter().map(|row| row["id"].as_str().unwrap()).collect();
    assert_eq!(ids, ["b", "c", "e", "a", "d"]);
    let tail = &c["results"].as_array().unwrap()[3..];
    assert_eq!(tail[0]["changes"], json!([{"rev": a}]));
    assert_eq!(tail[0]["doc"]["v"], 4);
    assert_eq!(
        (tail[1]["changes"].clone(), tail[1]["deleted"].clone()),
        (json!([{"rev": gone}]), json!(true))
    );
    assert_same_in_both_shapes(&db).await;
}

/// Expands to one test per suite body; `$make` is an async expression giving a fresh
/// `(Database, Rc<dyn KvStore>)`.
#[macro_export]
macro_rules! settee_feeds_suite {
    ($kind:ident, $make:expr) => {
        $crate::settee_feeds_suite!(@each $kind, $make,
            changes_carry_the_winning_rev_and_deleted_flag,
            columns_expand_to_the_rows,
            a_doc_without_a_body_has_a_null_doc,
            a_database_in_the_original_encoding_reads_the_same
        );
    };
    (@each native, $make:expr, $($name:ident),*) => {
        $(
            #[test]
            fn $name() {
                futures::executor::block_on(async {
                    let (db, kv) = $make.await;
                    $crate::common::feeds_suite::$name(db, kv).await
                });
            }
        )*
    };
    (@each web, $make:expr, $($name:ident),*) => {
        $(
            #[wasm_bindgen_test::wasm_bindgen_test]
            async fn $name() {
                let (db, kv) = $make.await;
                $crate::common::feeds_suite::$name(db, kv).await;
            }
        )*
    };
}
