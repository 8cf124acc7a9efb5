//! The views and Mango conformance suite: the same bodies run natively over `MemoryKv` and
//! the LSM on in-memory records (`tests/views_native.rs`), and in headless Chromium over the
//! LSM on IndexedDB (`tests/views_web.rs`), so indexes are tested on the real store. Each body
//! takes a fresh, empty database and the store under it (to look at raw index keys, or to
//! open a second `Database` over the same data).

#![allow(dead_code)]

use serde_json::{json, Value};
use settee::core::reduce::BuiltinReduce;
use settee::db::views::{
    signature, DesignView, Emits, FnMap, MapFn, Reduce, ReduceFn, ViewCompiler, ViewDef,
};
use settee::db::{Database, DatabaseOptions};
use settee::error::{Error, Result};
use settee::kv::{KvStore, Range, WriteBatch};
use std::cell::{Cell, RefCell};
use std::rc::Rc;

pub fn parse(s: &str) -> Value {
    serde_json::from_str(s).unwrap()
}

pub async fn put(db: &Database, doc: Value) -> String {
    parse(&db.put(doc, true).await.unwrap())["rev"].as_str().unwrap().to_string()
}

pub async fn put_all(db: &Database, docs: Vec<Value>) {
    db.bulk_docs(docs, true).await.unwrap();
}

/// A temporary view emitting `doc.n` (when present) with value `doc.v` or null, counting the
/// docs it maps.
fn counted_view(reduce: Option<Reduce>) -> (ViewDef, Rc<Cell<usize>>) {
    let calls = Rc::new(Cell::new(0));
    let c = calls.clone();
    let map = FnMap(move |doc: &Value| -> Result<Emits> {
        c.set(c.get() + 1);
        Ok(match doc.get("n") {
            Some(n) => vec![(n.clone(), doc.get("v").cloned().unwrap_or(Value::Null))],
            None => vec![],
        })
    });
    let def = ViewDef {
        ddoc: None,
        name: "temp".into(),
        signature: signature("emit(doc.n, doc.v)", None),
        map: Rc::new(map),
        reduce,
    };
    (def, calls)
}

async fn query(db: &Database, view: &ViewDef, opts: Value) -> Value {
    parse(&db.query(view, &opts).await.unwrap())
}

fn ids(r: &Value) -> Vec<String> {
    r["rows"].as_array().unwrap().iter().map(|r| r["id"].as_str().unwrap().to_string()).collect()
}

fn keys_of(r: &Value) -> Vec<Value> {
    r["rows"].as_array().unwrap().iter().map(|r| r["key"].clone()).collect()
}

async fn numbered(db: &Database, n: usize) {
    put_all(db, (0..n).map(|i| json!({"_id": format!("d{i:02}"), "n": i, "v": i * 10})).collect()).await;
}

pub async fn rows_are_ordered_by_key_then_doc_id_with_collation_across_types(
    db: Database,
    _kv: Rc<dyn KvStore>,
) {
    put_all(
        &db,
        vec![
            json!({"_id": "b", "n": "x"}),
            json!({"_id": "a", "n": "x"}),
            json!({"_id": "c", "n": 2}),
            json!({"_id": "d", "n": null}),
            json!({"_id": "e", "n": [1]}),
            json!({"_id": "f", "n": {"a": 1}}),
            json!({"_id": "g", "n": true}),
            json!({"_id": "h"}),
        ],
    )
    .await;
    let (view, _) = counted_view(None);
    let r = query(&db, &view, json!({})).await;
    assert_eq!(ids(&r), ["d", "g", "c", "a", "b", "e", "f"]);
    assert_eq!((r["total_rows"].as_u64(), r["offset"].as_u64()), (Some(7), Some(0)));
}

pub async fn after_one_doc_changes_the_next_query_maps_exactly_that_doc(db: Database, _kv: Rc<dyn KvStore>) {
    numbered(&db, 20).await;
    let (view, calls) = counted_view(None);
    assert_eq!(query(&db, &view, json!({})).await["rows"].as_array().unwrap().len(), 20);
    assert_eq!(calls.get(), 20);
    query(&db, &view, json!({})).await;
    assert_eq!(calls.get(), 20, "an up-to-date index maps nothing");
    let rev = parse(&db.get("d03", &Value::Null).await.unwrap())["_rev"].as_str().unwrap().to_string();
    put(&db, json!({"_id": "d03", "_rev": rev, "n": 100})).await;
    let r = query(&db, &view, json!({})).await;
    assert_eq!(calls.get(), 21);
    assert_eq!(ids(&r).last().unwrap(), "d03");
    assert_eq!(r["rows"].as_array().unwrap().len(), 20, "the old row of d03 is gone");
}

pub async fn builds_larger_than_one_batch_index_every_doc(db: Database, _kv: Rc<dyn KvStore>) {
    put_all(&db, (0..1234).map(|i| json!({"_id": format!("d{i:05}"), "n": i})).collect()).await;
    let (view, calls) = counted_view(None);
    let r = query(&db, &view, json!({"limit": 3, "descending": true})).await;
    assert_eq!(keys_of(&r), [json!(1233), json!(1232), json!(1231)]);
    assert_eq!((r["total_rows"].as_u64(), calls.get()), (Some(1234), 1234));
}

pub async fn a_rebuild_after_an_interrupted_cleanup_drops_the_rows_left_behind(
    db: Database,
    kv: Rc<dyn KvStore>,
) {
    numbered(&db, 600).await;
    let (view, _) = counted_view(None);
    query(&db, &view, json!({})).await;
    // `view_cleanup` deletes the meta first, then rows and back-index: stop after the meta.
    let mut batch = WriteBatch::new();
    batch.delete(settee::db::keys::view_meta(&view.id()));
    kv.write(batch, None).await.unwrap();
    let rev = parse(&db.get("d07", &Value::Null).await.unwrap())["_rev"].as_str().unwrap().to_string();
    put(&db, json!({"_id": "d07", "_rev": rev, "n": 1000})).await;
    let r = query(&db, &view, json!({})).await;
    assert_eq!(r["rows"].as_array().unwrap().len(), 600, "one row per doc, none stale");
    assert_eq!(r["total_rows"], 600, "the count starts from the cleared index");
    assert_eq!(keys_of(&query(&db, &view, json!({"key": 7})).await), Vec::<Value>::new());
    assert_eq!(ids(&query(&db, &view, json!({"key": 1000})).await), ["d07"]);
}

pub async fn leftovers_with_more_rows_than_one_page_are_all_dropped_before_a_rebuild(
    db: Database,
    kv: Rc<dyn KvStore>,
) {
    // Three rows a doc: 2,100 rows but 700 back-index entries, so the rows outlast the
    // back-index if both are deleted page by page together.
    numbered(&db, 700).await;
    let map = FnMap(|doc: &Value| -> Result<Emits> {
        Ok((0..3).map(|i| (json!([doc["n"], i]), Value::Null)).collect())
    });
    let view = ViewDef {
        ddoc: None,
        name: "three".into(),
        signature: "three".into(),
        map: Rc::new(map),
        reduce: None,
    };
    query(&db, &view, json!({})).await;
    let mut batch = WriteBatch::new();
    batch.delete(settee::db::keys::view_meta(&view.id()));
    kv.write(batch, None).await.unwrap();
    let rev = parse(&db.get("d699", &Value::Null).await.unwrap())["_rev"].as_str().unwrap().to_string();
    put(&db, json!({"_id": "d699", "_rev": rev, "n": 5000})).await;
    let r = query(&db, &view, json!({})).await;
    assert_eq!((r["total_rows"].as_u64(), r["rows"].as_array().unwrap().len()), (Some(2100), 2100));
    let old = query(&db, &view, json!({"startkey": [699], "endkey": [699, {}]})).await;
    assert_eq!(keys_of(&old), Vec::<Value>::new(), "no row of d699's old key is left");
}

pub async fn deleted_docs_drop_their_rows(db: Database, _kv: Rc<dyn KvStore>) {
    numbered(&db, 3).await;
    let (view, calls) = counted_view(None);
    query(&db, &view, json!({})).await;
    let rev = parse(&db.get("d01", &Value::Null).await.unwrap())["_rev"].as_str().unwrap().to_string();
    db.remove("d01", &rev).await.unwrap();
    let r = query(&db, &view, json!({})).await;
    assert_eq!(ids(&r), ["d00", "d02"]);
    assert_eq!(r["total_rows"], 2);
    assert_eq!(calls.get(), 3, "a deletion is not mapped");
}

pub async fn a_map_that_fails_for_one_doc_skips_only_that_doc(db: Database, _kv: Rc<dyn KvStore>) {
    numbered(&db, 4).await;
    let map = FnMap(|doc: &Value| -> Result<Emits> {
        if doc["_id"] == "d02" {
            return Err(Error::bad_request("boom"));
        }
        Ok(vec![(doc["n"].clone(), Value::Null)])
    });
    let view =
        ViewDef { ddoc: None, name: "t".into(), signature: "x".into(), map: Rc::new(map), reduce: None };
    assert_eq!(ids(&query(&db, &view, json!({})).await), ["d00", "d01", "d03"]);
}

pub async fn a_doc_emitting_one_key_twice_gets_two_rows(db: Database, _kv: Rc<dyn KvStore>) {
    put(&db, json!({"_id": "a", "tags": ["x", "x", "y"]})).await;
    let map = FnMap(|doc: &Value| -> Result<Emits> {
        Ok(doc["tags"].as_array().unwrap().iter().enumerate().map(|(i, t)| (t.clone(), json!(i))).collect())
    });
    let view =
        ViewDef { ddoc: None, name: "t".into(), signature: "tags".into(), map: Rc::new(map), reduce: None };
    let r = query(&db, &view, json!({})).await;
    let values: Vec<&Value> = r["rows"].as_array().unwrap().iter().map(|r| &r["value"]).collect();
    assert_eq!(values, [&json!(0), &json!(1), &json!(2)]);
    assert_eq!(r["total_rows"], 3);
    let r = query(&db, &view, json!({"key": "x", "descending": true})).await;
    assert_eq!(r["rows"][0]["value"], 1);
}

pub async fn range_options_select_the_rows_couchdb_would(db: Database, _kv: Rc<dyn KvStore>) {
    numbered(&db, 10).await;
    put(&db, json!({"_id": "z5", "n": 5})).await;
    let (view, _) = counted_view(None);
    let q = |o: Value| {
        let (db, view) = (&db, &view);
        async move { ids(&query(db, view, o).await) }
    };
    assert_eq!(q(json!({"key": 5})).await, ["d05", "z5"]);
    assert_eq!(q(json!({"keys": [7, 1, 42]})).await, ["d07", "d01"]);
    assert_eq!(q(json!({"startkey": 3, "endkey": 5})).await, ["d03", "d04", "d05", "z5"]);
    assert_eq!(q(json!({"startkey": 3, "endkey": 5, "inclusive_end": false})).await, ["d03", "d04"]);
    assert_eq!(q(json!({"startkey": 5, "endkey": 3, "descending": true})).await, ["z5", "d05", "d04", "d03"]);
    assert_eq!(
        q(json!({"startkey": 5, "endkey": 3, "descending": true, "inclusive_end": false})).await,
        ["z5", "d05", "d04"]
    );
    assert_eq!(q(json!({"startkey": 5, "startkey_docid": "e", "endkey": 6})).await, ["z5", "d06"]);
    assert_eq!(q(json!({"startkey": 4, "endkey": 5, "endkey_docid": "d05"})).await, ["d04", "d05"]);
    assert_eq!(q(json!({"skip": 2, "limit": 3})).await, ["d02", "d03", "d04"]);
    assert_eq!(q(json!({"descending": true, "limit": 2})).await, ["d09", "d08"]);
    let r = query(&db, &view, json!({"skip": 4, "limit": 1, "update_seq": true})).await;
    assert_eq!((r["offset"].as_u64(), r["update_seq"].as_u64()), (Some(4), Some(11)));
    let e = db.query(&view, &json!({"startkey": 5, "endkey": 3})).await.unwrap_err();
    assert_eq!((e.status, e.name), (400, "query_parse_error"));
}

pub async fn include_docs_reads_the_emitting_or_the_linked_doc(db: Database, _kv: Rc<dyn KvStore>) {
    put(&db, json!({"_id": "owner", "name": "Ann"})).await;
    put(&db, json!({"_id": "pet", "n": 1, "v": {"_id": "owner"}})).await;
    put(&db, json!({"_id": "stray", "n": 2, "v": {"_id": "nobody"}})).await;
    put(&db, json!({"_id": "plain", "n": 3})).await;
    let (view, _) = counted_view(None);
    let r = query(&db, &view, json!({"include_docs": true})).await;
    assert_eq!(r["rows"][0]["doc"]["name"], "Ann");
    assert_eq!(r["rows"][1]["doc"], Value::Null);
    assert_eq!(r["rows"][2]["doc"]["_id"], "plain");
    assert!(r["rows"][2]["doc"]["_rev"].as_str().unwrap().starts_with("1-"));
}

pub async fn builtin_reduces_group_by_level_and_exact_key(db: Database, _kv: Rc<dyn KvStore>) {
    put_all(
        &db,
        vec![
            json!({"_id": "a", "n": ["x", 1], "v": 1}),
            json!({"_id": "b", "n": ["x", 2], "v": 2}),
            json!({"_id": "c", "n": ["x", 2], "v": 3}),
            json!({"_id": "d", "n": ["y", 1], "v": 4}),
        ],
    )
    .await;
    let (sum, _) = counted_view(Some(Reduce::Builtin(BuiltinReduce::Sum)));
    assert_eq!(query(&db, &sum, json!({})).await, json!({"rows": [{"key": null, "value": 10}]}));
    let r = query(&db, &sum, json!({"group_level": 1})).await;
    assert_eq!(r["rows"], json!([{"key": ["x"], "value": 6}, {"key": ["y"], "value": 4}]));
    let r = query(&db, &sum, json!({"group": true, "startkey": ["x", 2]})).await;
    assert_eq!(r["rows"], json!([{"key": ["x", 2], "value": 5}, {"key": ["y", 1], "value": 4}]));
    let r = query(&db, &sum, json!({"group": true, "keys": [["y", 1], ["x", 1]]})).await;
    assert_eq!(r["rows"], json!([{"key": ["y", 1], "value": 4}, {"key": ["x", 1], "value": 1}]));
    assert_eq!(query(&db, &sum, json!({"reduce": false})).await["rows"].as_array().unwrap().len(), 4);
    let (stats, _) = counted_view(Some(Reduce::Builtin(BuiltinReduce::Stats)));
    let r = query(&db, &stats, json!({})).await;
    assert_eq!(r["rows"][0]["value"], json!({"sum": 10, "count": 4, "min": 1, "max": 4, "sumsqr": 30}));
    let (count, _) = counted_view(Some(Reduce::Builtin(BuiltinReduce::Count)));
    assert_eq!(query(&db, &count, json!({"group_level": 1, "limit": 1})).await["rows"][0]["value"], 3);
    let e = db.query(&count, &json!({"include_docs": true})).await.unwrap_err();
    assert_eq!(e.name, "query_parse_error");
}

struct SumReduce {
    rereduces: Cell<usize>,
}

impl ReduceFn for SumReduce {
    fn reduce(&self, keys: Option<&[(Value, String)]>, values: &[Value], rereduce: bool) -> Result<Value> {
        assert_eq!(keys.is_none(), rereduce);
        self.rereduces.set(self.rereduces.get() + rereduce as usize);
        Ok(json!(values.iter().map(|v| v.as_f64().unwrap()).sum::<f64>()))
    }
}

pub async fn a_custom_reduce_over_many_rows_is_rereduced(db: Database, _kv: Rc<dyn KvStore>) {
    numbered(&db, 0).await;
    put_all(&db, (0..600).map(|i| json!({"_id": format!("r{i:03}"), "n": i % 2, "v": 1})).collect()).await;
    let f = Rc::new(SumReduce { rereduces: Cell::new(0) });
    let (view, _) = counted_view(Some(Reduce::Custom(f.clone())));
    assert_eq!(query(&db, &view, json!({})).await["rows"][0]["value"], json!(600.0));
    assert!(f.rereduces.get() >= 1);
    let r = query(&db, &view, json!({"group": true})).await;
    assert_eq!(r["rows"], json!([{"key": 0, "value": 300.0}, {"key": 1, "value": 300.0}]));
}

pub async fn stale_ok_answers_from_the_index_as_it_is_and_update_after_catches_up(
    db: Database,
    _kv: Rc<dyn KvStore>,
) {
    numbered(&db, 2).await;
    let (view, calls) = counted_view(None);
    assert_eq!(query(&db, &view, json!({"stale": "ok"})).await["rows"], json!([]));
    query(&db, &view, json!({})).await;
    put(&db, json!({"_id": "new", "n": 50})).await;
    assert_eq!(ids(&query(&db, &view, json!({"stale": "ok"})).await).len(), 2);
    assert_eq!(ids(&query(&db, &view, json!({"stale": "update_after"})).await).len(), 2);
    assert_eq!(calls.get(), 3, "update_after indexed the new doc after answering");
    assert_eq!(ids(&query(&db, &view, json!({"stale": "ok"})).await).len(), 3);
}

/// Compiles design doc sources natively: `emit:<field>` emits that field.
struct FieldCompiler {
    compiled: RefCell<Vec<String>>,
}

impl ViewCompiler for FieldCompiler {
    fn map(&self, view: &DesignView) -> Result<Rc<dyn MapFn>> {
        self.compiled.borrow_mut().push(view.map.clone());
        let field = view.map.strip_prefix("emit:").unwrap_or_default().to_string();
        Ok(Rc::new(FnMap(move |doc: &Value| -> Result<Emits> {
            Ok(doc.get(&field).map(|v| vec![(v.clone(), Value::Null)]).unwrap_or_default())
        })))
    }
    fn reduce(&self, _: &DesignView, _: &str) -> Result<Rc<dyn ReduceFn>> {
        Err(Error::bad_request("no custom reduce here"))
    }
}

pub async fn a_changed_design_doc_rebuilds_its_view_and_cleanup_drops_the_old_index(
    db: Database,
    kv: Rc<dyn KvStore>,
) {
    put_all(&db, vec![json!({"_id": "a", "x": 1, "y": "b"}), json!({"_id": "b", "x": 2, "y": "a"})]).await;
    let rev = put(&db, json!({"_id": "_design/d", "views": {"v": {"map": "emit:x"}}})).await;
    let c = FieldCompiler { compiled: RefCell::new(vec![]) };
    let r = parse(&db.query_design("d/v", &json!({}), &c).await.unwrap());
    assert_eq!(ids(&r), ["a", "b"], "design docs are not mapped");
    put(&db, json!({"_id": "_design/d", "_rev": rev, "views": {"v": {"map": "emit:y", "reduce": "_count"}}}))
        .await;
    let r = parse(&db.query_design("_design/d/v", &json!({"reduce": false}), &c).await.unwrap());
    assert_eq!(ids(&r), ["b", "a"]);
    assert_eq!(parse(&db.query_design("d/v", &json!({}), &c).await.unwrap())["rows"][0]["value"], 2);
    assert_eq!(*c.compiled.borrow(), ["emit:x", "emit:y", "emit:y"]);
    let e = db.query_design("d/nope", &json!({}), &c).await.unwrap_err();
    assert_eq!((e.status, e.reason.as_deref()), (404, Some("missing_named_view")));

    let (temp, _) = counted_view(None);
    query(&db, &temp, json!({})).await;
    let rows_before = index_keys(&*kv).await;
    db.view_cleanup().await.unwrap();
    let rows_after = index_keys(&*kv).await;
    assert!(rows_after < rows_before && rows_after > 0, "{rows_before} -> {rows_after}");
    let r = parse(&db.query_design("d/v", &json!({"reduce": false, "stale": "ok"}), &c).await.unwrap());
    assert_eq!(ids(&r), ["b", "a"], "the live view survives cleanup");
}

/// How many view keys (meta, rows, back-index) the store holds.
async fn index_keys(kv: &dyn KvStore) -> usize {
    let mut n = 0;
    for prefix in [b"V", b"v", b"w"] {
        n += kv.scan(Range::prefix(prefix), false, None).await.unwrap().len();
    }
    n
}

async fn seed_messages(db: &Database) {
    put_all(
        db,
        vec![
            json!({"_id": "m1", "type": "message", "topic": "Query", "n": 3}),
            json!({"_id": "m2", "type": "message", "topic": "Posting", "n": 1}),
            json!({"_id": "m3", "type": "message", "topic": "Other", "n": 2}),
            json!({"_id": "m4", "type": "message", "topic": "Posting", "n": 5}),
            json!({"_id": "u1", "type": "user", "name": "ann"}),
            json!({"_id": "x1", "topic": "Posting"}),
        ],
    )
    .await;
}

async fn find(db: &Database, request: Value) -> Value {
    parse(&db.find(&request).await.unwrap())
}

fn doc_ids(r: &Value) -> Vec<&str> {
    r["docs"].as_array().unwrap().iter().map(|d| d["_id"].as_str().unwrap()).collect()
}

pub async fn find_without_an_index_scans_all_docs_and_warns(db: Database, _kv: Rc<dyn KvStore>) {
    seed_messages(&db).await;
    let r = find(&db, json!({"selector": {"topic": {"$in": ["Posting", "Query"]}}})).await;
    assert_eq!(doc_ids(&r), ["m1", "m2", "m4", "x1"]);
    assert!(r["warning"].as_str().unwrap().contains("No matching index"));
    let r = find(&db, json!({"selector": {"n": {"$gt": 1}}, "sort": [{"_id": "desc"}], "limit": 2})).await;
    assert_eq!(doc_ids(&r), ["m4", "m3"]);
    let e = db.find(&json!({"selector": {}, "sort": ["n"]})).await.unwrap_err();
    assert_eq!((e.status, e.name), (400, "no_usable_index"));
}

pub async fn create_index_then_find_reads_it_sorted_with_fields_skip_and_limit(
    db: Database,
    _kv: Rc<dyn KvStore>,
) {
    seed_messages(&db).await;
    let created = parse(&db.create_index(&json!({"index": {"fields": ["type", "topic"]}})).await.unwrap());
    assert_eq!(created["result"], "created");
    let again = parse(&db.create_index(&json!({"index": {"fields": ["type", "topic"]}})).await.unwrap());
    assert_eq!((again["result"].as_str(), &again["name"]), (Some("exists"), &created["name"]));
    let ddoc = parse(&db.get(created["id"].as_str().unwrap(), &Value::Null).await.unwrap());
    assert_eq!(ddoc["language"], "query");

    let request = json!({
        "selector": {"type": "message", "topic": {"$in": ["Posting", "Query"]}},
        "sort": ["type", "topic"],
    });
    let r = find(&db, request.clone()).await;
    assert_eq!(doc_ids(&r), ["m2", "m4", "m1"]);
    assert!(r.get("warning").is_none());
    let mut paged = request.clone();
    paged["skip"] = json!(1);
    paged["limit"] = json!(1);
    paged["fields"] = json!(["_id", "n"]);
    assert_eq!(find(&db, paged).await["docs"], json!([{"_id": "m4", "n": 5}]));
    let r =
        find(&db, json!({"selector": {"type": "message"}, "sort": [{"type": "desc"}, {"topic": "desc"}]}))
            .await;
    assert_eq!(doc_ids(&r), ["m1", "m4", "m2", "m3"]);

    let explained = parse(&db.explain(&request).await.unwrap());
    assert_eq!(explained["index"]["name"], created["name"]);
    assert_eq!(explained["index"]["def"]["fields"], json!([{"type": "asc"}, {"topic": "asc"}]));
    assert_eq!(explained["range"]["eq_prefix"], json!(["message"]));
    let unindexed = parse(&db.explain(&json!({"selector": {"name": "ann"}})).await.unwrap());
    assert_eq!(unindexed["index"]["name"], "_all_docs");
}

pub async fn a_mango_index_is_updated_incrementally_and_only_holds_docs_with_every_field(
    db: Database,
    kv: Rc<dyn KvStore>,
) {
    put_all(&db, vec![json!({"_id": "a", "k": 1}), json!({"_id": "b"}), json!({"_id": "c", "k": null})])
        .await;
    db.create_index(&json!({"index": {"fields": ["k"], "name": "by_k", "ddoc": "mine"}})).await.unwrap();
    let r = find(&db, json!({"selector": {"k": {"$gte": null}}})).await;
    assert_eq!(doc_ids(&r), ["c", "a"]);
    let rows = kv.scan(Range::prefix(b"v"), false, None).await.unwrap().len();
    assert_eq!(rows, 2, "b lacks the field and has no row");
    let rev = parse(&db.get("a", &Value::Null).await.unwrap())["_rev"].as_str().unwrap().to_string();
    put(&db, json!({"_id": "a", "_rev": rev, "k": -5})).await;
    put(&db, json!({"_id": "d", "k": 0})).await;
    let r = find(&db, json!({"selector": {"k": {"$lt": 1}}, "use_index": "mine/by_k"})).await;
    assert_eq!(doc_ids(&r), ["c", "a", "d"]);

    let indexes = parse(&db.get_indexes().await.unwrap());
    assert_eq!(indexes["total_rows"], 2);
    assert_eq!(indexes["indexes"][0]["name"], "_all_docs");
    assert_eq!(
        indexes["indexes"][1],
        json!({"ddoc": "_design/mine", "name": "by_k", "type": "json", "def": {"fields": [{"k": "asc"}]}})
    );
    db.delete_index(&json!({"ddoc": "_design/mine", "name": "by_k"})).await.unwrap();
    assert_eq!(parse(&db.get_indexes().await.unwrap())["total_rows"], 1);
    assert_eq!(db.get("_design/mine", &Value::Null).await.unwrap_err().status, 404);
    assert_eq!(db.delete_index(&json!({"ddoc": "mine", "name": "by_k"})).await.unwrap_err().status, 404);
    db.view_cleanup().await.unwrap();
    assert_eq!(index_keys(&*kv).await, 0);
}

/// A second `Database` over the same store, as after a page reload.
fn reopen(kv: &Rc<dyn KvStore>) -> Database {
    let options =
        DatabaseOptions { adapter: "suite", revs_limit: 1000, new_id: Box::new(|| "reopened".into()) };
    Database::new("reopened", kv.clone(), options)
}

pub async fn an_index_persists_in_the_store_and_a_reopened_database_updates_it_incrementally(
    db: Database,
    kv: Rc<dyn KvStore>,
) {
    numbered(&db, 30).await;
    let (view, calls) = counted_view(None);
    assert_eq!(query(&db, &view, json!({})).await["total_rows"], 30);
    drop(db);
    let again = reopen(&kv);
    let (view, calls_after) = counted_view(None);
    let r = query(&again, &view, json!({"key": 7})).await;
    assert_eq!((ids(&r), calls_after.get()), (vec!["d07".to_string()], 0), "read from the stored index");
    put(&again, json!({"_id": "late", "n": -1})).await;
    assert_eq!(ids(&query(&again, &view, json!({"limit": 1})).await), ["late"]);
    assert_eq!((calls.get(), calls_after.get()), (30, 1), "only the new doc was mapped");
}

pub async fn querying_a_missing_design_doc_or_view_is_a_404(db: Database, _kv: Rc<dyn KvStore>) {
    put(&db, json!({"_id": "_design/d", "views": {"v": {"map": "emit:x"}}})).await;
    let c = FieldCompiler { compiled: RefCell::new(vec![]) };
    let e = db.query_design("nope/v", &json!({}), &c).await.unwrap_err();
    assert_eq!(e.status, 404);
    let e = db.query_design("d/other", &json!({}), &c).await.unwrap_err();
    assert_eq!((e.status, e.reason.as_deref()), (404, Some("missing_named_view")));
    // A bare name is PouchDB's shorthand for view `name` of `_design/name`.
    let e = db.query_design("no-slash", &json!({}), &c).await.unwrap_err();
    assert_eq!(e.status, 404);
    let e = db.query_design("", &json!({}), &c).await.unwrap_err();
    assert_eq!(e.status, 400);
    assert!(c.compiled.borrow().is_empty(), "nothing was compiled for a failed lookup");
    put(&db, json!({"_id": "_design/solo", "views": {"solo": {"map": "emit:x"}}})).await;
    put(&db, json!({"_id": "a", "x": 1})).await;
    assert_eq!(db.query_design("solo", &json!({}), &c).await.map(|_| ()), Ok(()));
}

pub async fn an_in_on_an_array_field_matches_through_an_index_as_without_one(
    db: Database,
    _kv: Rc<dyn KvStore>,
) {
    put_all(
        &db,
        vec![
            json!({"_id": "a", "tags": ["x", "z"]}),
            json!({"_id": "b", "tags": "z"}),
            json!({"_id": "c", "tags": ["y"]}),
        ],
    )
    .await;
    let request = json!({"selector": {"tags": {"$in": ["z"]}}});
    let unindexed = find(&db, request.clone()).await;
    db.create_index(&json!({"index": {"fields": ["tags"], "name": "by_tags"}})).await.unwrap();
    let indexed = find(&db, request.clone()).await;
    assert_eq!(doc_ids(&unindexed), ["a", "b"]);
    assert!(indexed.get("warning").is_none(), "the index was used");
    let mut ids = doc_ids(&indexed);
    ids.sort_unstable();
    assert_eq!(ids, ["a", "b"]);
}

/// Runs every views suite body as a test: `native` with `#[test]` and a blocking executor,
/// `web` with `wasm_bindgen_test`. `$make` gives `(Database, Rc<dyn KvStore>)`.
#[macro_export]
macro_rules! settee_views_suite {
    ($kind:ident, $make:expr) => {
        $crate::settee_views_suite!(@each $kind, $make,
            rows_are_ordered_by_key_then_doc_id_with_collation_across_types,
            after_one_doc_changes_the_next_query_maps_exactly_that_doc,
            builds_larger_than_one_batch_index_every_doc,
            a_rebuild_after_an_interrupted_cleanup_drops_the_rows_left_behind,
            leftovers_with_more_rows_than_one_page_are_all_dropped_before_a_rebuild,
            deleted_docs_drop_their_rows,
            a_map_that_fails_for_one_doc_skips_only_that_doc,
            a_doc_emitting_one_key_twice_gets_two_rows,
            range_options_select_the_rows_couchdb_would,
            include_docs_reads_the_emitting_or_the_linked_doc,
            builtin_reduces_group_by_level_and_exact_key,
            a_custom_reduce_over_many_rows_is_rereduced,
            stale_ok_answers_from_the_index_as_it_is_and_update_after_catches_up,
            a_changed_design_doc_rebuilds_its_view_and_cleanup_drops_the_old_index,
            find_without_an_index_scans_all_docs_and_warns,
            create_index_then_find_reads_it_sorted_with_fields_skip_and_limit,
            a_mango_index_is_updated_incrementally_and_only_holds_docs_with_every_field,
            an_index_persists_in_the_store_and_a_reopened_database_updates_it_incrementally,
            querying_a_missing_design_doc_or_view_is_a_404,
            an_in_on_an_array_field_matches_through_an_index_as_without_one
        );
    };
    (@each native, $make:expr, $($name:ident),*) => {
        $(
            #[test]
            fn $name() {
                futures::executor::block_on(async {
                    let (db, kv) = $make.await;
                    $crate::common::views_suite::$name(db, kv).await
                });
            }
        )*
    };
    (@each web, $make:expr, $($name:ident),*) => {
        $(
            #[wasm_bindgen_test::wasm_bindgen_test]
            async fn $name() {
                let (db, kv) = $make.await;
                $crate::common::views_suite::$name(db, kv).await;
            }
        )*
    };
}
