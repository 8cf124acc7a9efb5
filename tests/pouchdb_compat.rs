//! Core behaviours that PouchDB 9's own test suite (scripts/pouchdb-suite/) found Settee
//! getting wrong, where CouchDB and PouchDB agree on the answer.
#![cfg(not(target_arch = "wasm32"))]

use futures::executor::block_on;
use serde_json::{json, Value};
use settee::db::{Database, DatabaseOptions};
use std::cell::Cell;
use std::rc::Rc;

fn db() -> Database {
    let n = Rc::new(Cell::new(0u64));
    let options = DatabaseOptions {
        adapter: "memory",
        revs_limit: 1000,
        new_id: Box::new(move || {
            n.set(n.get() + 1);
            format!("gen{:06}", n.get())
        }),
    };
    Database::new("compat", Rc::new(settee::kv::memory::MemoryKv::new()), options)
}

fn parse(text: String) -> Value {
    serde_json::from_str(&text).unwrap()
}

#[test]
fn a_malformed_rev_in_bulk_docs_rejects_the_whole_call_and_writes_nothing() {
    block_on(async {
        let db = db();
        for bad in [json!("bad-format"), json!("-format"), json!({}), json!(7)] {
            let err = db
                .bulk_docs(vec![json!({"_id": "good"}), json!({"_id": "x", "_rev": bad})], true)
                .await
                .unwrap_err();
            assert_eq!((err.status, err.message.as_str()), (400, "Invalid rev format"));
        }
        let info = parse(db.info().await.unwrap());
        assert_eq!(info["doc_count"], 0, "nothing of the rejected batch was written");
    });
}

#[test]
fn other_per_doc_errors_in_bulk_docs_stay_per_doc() {
    block_on(async {
        let db = db();
        db.put(json!({"_id": "taken"}), true).await.unwrap();
        let rows =
            parse(db.bulk_docs(vec![json!({"_id": "taken"}), json!({"_id": "new"})], true).await.unwrap());
        assert_eq!(rows[0]["status"], 409);
        assert_eq!(rows[1]["ok"], true);
    });
}

#[test]
fn open_revs_with_latest_answers_each_leaf_once() {
    block_on(async {
        let db = db();
        let first = parse(db.put(json!({"_id": "a", "v": 1}), true).await.unwrap());
        let second = parse(db.put(json!({"_id": "a", "_rev": first["rev"], "v": 2}), true).await.unwrap());
        let opts = json!({"open_revs": [first["rev"], second["rev"]], "latest": true});
        let rows = parse(db.get("a", &opts).await.unwrap());
        assert_eq!(rows.as_array().unwrap().len(), 1, "{rows}");
        assert_eq!(rows[0]["ok"]["v"], 2);
        // Without latest each requested rev is its own row.
        let opts = json!({"open_revs": [first["rev"], second["rev"]]});
        assert_eq!(parse(db.get("a", &opts).await.unwrap()).as_array().unwrap().len(), 2);
    });
}

#[test]
fn open_revs_naming_something_that_is_not_a_rev_is_a_bad_request() {
    block_on(async {
        let db = db();
        db.put(json!({"_id": "a"}), true).await.unwrap();
        for open in [json!(["1-almost", "keys"]), json!({"whatever": "x"})] {
            let err = db.get("a", &json!({"open_revs": open})).await.unwrap_err();
            assert_eq!((err.status, err.name), (400, "bad_request"));
        }
    });
}

#[test]
fn a_bad_special_member_or_a_non_object_in_bulk_docs_rejects_the_whole_call() {
    block_on(async {
        let db = db();
        let err = db.bulk_docs(vec![json!({"_id": "ok"}), json!({"_zing": 4})], true).await.unwrap_err();
        assert_eq!(
            (err.name, err.message.as_str()),
            ("doc_validation", "Bad special document member: _zing")
        );
        let err = db.bulk_docs(vec![json!({"_id": "ok"}), json!("a string")], true).await.unwrap_err();
        assert_eq!((err.status, err.message.as_str()), (400, "Document must be a JSON object"));
        let text = r#"[{"_id":"ok"},{"_zing":4}]"#;
        assert_eq!(db.bulk_docs_text(text, true).await.unwrap_err().name, "doc_validation");
        assert_eq!(parse(db.info().await.unwrap())["doc_count"], 0);
    });
}

#[test]
fn replication_state_and_access_members_are_kept_as_body_fields() {
    block_on(async {
        let db = db();
        let doc = json!({"_id": "r", "_replication_id": "x", "_replication_state": "triggered",
            "_replication_state_time": 1, "_replication_stats": {}, "_access": ["alice"]});
        db.put(doc, true).await.unwrap();
        db.bulk_docs_text(r#"[{"_id":"t","_access":["bob"],"v":1}]"#, true).await.unwrap();
        let r = parse(db.get("r", &json!({})).await.unwrap());
        assert_eq!((&r["_replication_state"], &r["_access"][0]), (&json!("triggered"), &json!("alice")));
        assert_eq!(parse(db.get("t", &json!({})).await.unwrap())["_access"][0], "bob");
    });
}

#[test]
fn a_malformed_rev_is_a_bad_request_named_as_couchdb_names_it() {
    block_on(async {
        let err = db().put(json!({"_id": "a", "_rev": "bad"}), true).await.unwrap_err();
        assert_eq!((err.status, err.name, err.message.as_str()), (400, "bad_request", "Invalid rev format"));
    });
}

#[test]
fn a_built_in_reduce_is_recognised_by_its_start_as_couchdb_does() {
    use settee::core::reduce::BuiltinReduce;
    assert_eq!(BuiltinReduce::parse("_sum\n \r\nandothergarbage"), Some(BuiltinReduce::Sum));
    assert_eq!(BuiltinReduce::parse("  _count"), Some(BuiltinReduce::Count));
    assert_eq!(BuiltinReduce::parse("_stats()"), Some(BuiltinReduce::Stats));
    assert_eq!(BuiltinReduce::parse("_median"), None);
}

#[test]
fn create_index_takes_name_and_ddoc_beside_index_or_in_a_bare_request_and_reports_exists() {
    block_on(async {
        let db = db();
        let req = json!({"index": {"fields": ["foo"]}, "name": "foo-index", "type": "json"});
        let r = parse(db.create_index(&req).await.unwrap());
        assert_eq!((r["name"].as_str(), r["result"].as_str()), (Some("foo-index"), Some("created")));
        let again = parse(db.create_index(&req).await.unwrap());
        assert_eq!((again["name"].as_str(), again["result"].as_str()), (Some("foo-index"), Some("exists")));
        let bare = json!({"name": "myindex", "ddoc": "mydesigndoc", "fields": ["awesome"]});
        let r = parse(db.create_index(&bare).await.unwrap());
        assert_eq!((r["id"].as_str(), r["name"].as_str()), (Some("_design/mydesigndoc"), Some("myindex")));
        let listed = parse(db.get_indexes().await.unwrap());
        let names: Vec<&str> =
            listed["indexes"].as_array().unwrap().iter().filter_map(|i| i["name"].as_str()).collect();
        assert_eq!(names, ["_all_docs", "foo-index", "myindex"]);
    });
}

#[test]
fn a_local_doc_with_a_rev_that_is_not_0_n_fails_alone_in_bulk_docs() {
    block_on(async {
        let db = db();
        let docs = vec![
            json!({"_id": "a"}),
            json!({"_id": "_local/godzilla", "_rev": "1-fake", "_deleted": true}),
            json!({"_id": "b"}),
        ];
        let rows = parse(db.bulk_docs(docs, true).await.unwrap());
        assert_eq!(
            (rows[0]["ok"].clone(), rows[1]["status"].clone(), rows[2]["ok"].clone()),
            (json!(true), json!(409), json!(true))
        );
    });
}

// ---- changes filters (PouchDB's test.changes.js) ----

use async_trait::async_trait;
use settee::db::changes_filter::{ChangeFilterFn, FilterCompiler, FilterContext};
use settee::db::shape::Shape;
use settee::db::views::{DesignView, FnMap, MapFn};
use settee::error::Result as SResult;

/// Keeps docs whose `integer` is odd, whatever the source says (native tests run no JS).
struct OddFilter;

#[async_trait(?Send)]
impl ChangeFilterFn for OddFilter {
    async fn keep(&self, docs: &[String]) -> SResult<Vec<bool>> {
        Ok(docs.iter().map(|d| parse(d.clone())["integer"].as_i64().is_some_and(|i| i % 2 == 1)).collect())
    }
}

struct OddCompiler;

impl FilterCompiler for OddCompiler {
    fn filter(&self, _source: &str, _query: &Value) -> SResult<Rc<dyn ChangeFilterFn>> {
        Ok(Rc::new(OddFilter))
    }
    fn map(&self, _view: &DesignView) -> SResult<Rc<dyn MapFn>> {
        Ok(Rc::new(FnMap(|doc: &Value| {
            let odd = doc["integer"].as_i64().is_some_and(|i| i % 2 == 1);
            Ok(if odd { vec![(doc["_id"].clone(), Value::Null)] } else { vec![] })
        })))
    }
}

fn odd_ctx() -> FilterContext {
    FilterContext { function: None, compiler: Some(Rc::new(OddCompiler)) }
}

async fn numbered(db: &Database, n: i64) {
    let docs = (0..n).map(|i| json!({"_id": i.to_string(), "integer": i})).collect();
    db.bulk_docs(docs, true).await.unwrap();
    let ddoc =
        json!({"_id": "_design/foo", "integer": 4, "filters": {"odd": "…"}, "views": {"odd": {"map": "…"}}});
    db.put(ddoc, true).await.unwrap();
}

async fn changed_ids(db: &Database, options: Value, ctx: &FilterContext) -> SResult<(Vec<String>, u64)> {
    let out = parse(db.changes_with(&options, Shape::Rows, ctx).await?);
    let ids =
        out["results"].as_array().unwrap().iter().map(|r| r["id"].as_str().unwrap().to_string()).collect();
    Ok((ids, out["last_seq"].as_u64().unwrap()))
}

#[test]
fn a_design_doc_filter_keeps_only_passing_rows_and_limit_counts_them() {
    block_on(async {
        let db = db();
        numbered(&db, 6).await;
        let (ids, _) = changed_ids(&db, json!({"filter": "foo/odd"}), &odd_ctx()).await.unwrap();
        assert_eq!(ids, ["1", "3", "5"]);
        let (ids, last) =
            changed_ids(&db, json!({"filter": "foo/odd", "limit": 2}), &odd_ctx()).await.unwrap();
        assert_eq!(ids, ["1", "3"], "limit counts rows after filtering");
        let (ids, _) =
            changed_ids(&db, json!({"filter": "foo/odd", "since": last}), &odd_ctx()).await.unwrap();
        assert_eq!(ids, ["5"], "last_seq of a limited page resumes after its last row");
    });
}

#[test]
fn a_view_filter_keeps_docs_the_map_emits_for_and_view_alone_implies_it() {
    block_on(async {
        let db = db();
        numbered(&db, 4).await;
        let (ids, _) =
            changed_ids(&db, json!({"filter": "_view", "view": "foo/odd"}), &odd_ctx()).await.unwrap();
        assert_eq!(ids, ["1", "3"]);
        let (ids, _) = changed_ids(&db, json!({"view": "foo/odd"}), &odd_ctx()).await.unwrap();
        assert_eq!(ids, ["1", "3"]);
    });
}

#[test]
fn missing_filters_views_and_design_docs_are_404_and_a_missing_view_param_is_400() {
    block_on(async {
        let db = db();
        numbered(&db, 2).await;
        let ctx = odd_ctx();
        for options in [
            json!({"filter": "foo/nope"}),
            json!({"filter": "nodoc/odd"}),
            json!({"filter": "_view", "view": "foo/nope"}),
            json!({"filter": "_view", "view": "nodoc/odd"}),
        ] {
            let err = changed_ids(&db, options.clone(), &ctx).await.unwrap_err();
            assert_eq!((err.status, err.name), (404, "not_found"), "{options}");
        }
        let err = changed_ids(&db, json!({"filter": "foo/nope"}), &ctx).await.unwrap_err();
        assert_eq!(err.message, "missing json key: nope");
        for options in
            [json!({"filter": "_view"}), json!({"filter": "_view", "view": ""}), json!({"view": "a/b/c"})]
        {
            let err = changed_ids(&db, options.clone(), &ctx).await.unwrap_err();
            assert_eq!((err.status, err.name), (400, "bad_request"), "{options}");
        }
        // A filter name with two slashes is no filter at all (PouchDB #4451).
        let (ids, _) = changed_ids(&db, json!({"filter": "a/b/c"}), &ctx).await.unwrap();
        assert_eq!(ids.len(), 3);
    });
}

#[test]
fn a_selector_filters_changes_and_rejects_any_other_filter() {
    block_on(async {
        let db = db();
        let docs = vec![
            json!({"_id": "0", "user": "foo"}),
            json!({"_id": "1", "user": "bar"}),
            json!({"_id": "2", "user": "foo"}),
        ];
        db.bulk_docs(docs, true).await.unwrap();
        let none = FilterContext::default();
        let (ids, _) = changed_ids(&db, json!({"selector": {"user": "foo"}}), &none).await.unwrap();
        assert_eq!(ids, ["0", "2"]);
        let explicit = json!({"selector": {"user": "foo"}, "filter": "_selector", "limit": 1});
        let (ids, last) = changed_ids(&db, explicit, &none).await.unwrap();
        assert_eq!(ids, ["0"]);
        let (ids, _) =
            changed_ids(&db, json!({"selector": {"user": "foo"}, "since": last}), &none).await.unwrap();
        assert_eq!(ids, ["2"]);
        let err = changed_ids(&db, json!({"selector": {"user": "foo"}, "filter": "foo/odd"}), &none)
            .await
            .unwrap_err();
        assert_eq!((err.status, err.message.as_str()), (400, "selector invalid for filter \"foo/odd\""));
    });
}

#[test]
fn changes_limit_zero_means_one_and_since_latest_means_now() {
    block_on(async {
        let db = db();
        numbered(&db, 3).await;
        let none = FilterContext::default();
        let (ids, _) = changed_ids(&db, json!({"limit": 0}), &none).await.unwrap();
        assert_eq!(ids, ["0"]);
        let (ids, last) = changed_ids(&db, json!({"since": "latest"}), &none).await.unwrap();
        assert!(ids.is_empty());
        assert_eq!(last, 4);
    });
}

// ---- views (PouchDB's test.mapreduce.js) ----

use settee::db::views::{signature, ViewDef};

fn temp_view(name: &str, map: impl Fn(&Value) -> SResult<Vec<(Value, Value)>> + 'static) -> ViewDef {
    ViewDef {
        ddoc: None,
        name: name.into(),
        signature: signature(name, None),
        map: Rc::new(FnMap(map)),
        reduce: None,
    }
}

#[test]
fn a_map_function_sees_conflicts_as_couchdb_gives_them() {
    block_on(async {
        let db = db();
        db.bulk_docs(
            vec![json!({"_id": "1", "_rev": "1-a", "v": 1}), json!({"_id": "1", "_rev": "1-b", "v": 2})],
            false,
        )
        .await
        .unwrap();
        db.put(json!({"_id": "2"}), true).await.unwrap();
        let view = temp_view("conflicts", |doc| {
            Ok(doc.get("_conflicts").map(|c| vec![(doc["_id"].clone(), c.clone())]).unwrap_or_default())
        });
        let rows = parse(db.query(&view, &json!({})).await.unwrap());
        assert_eq!(rows["rows"], json!([{"id": "1", "key": "1", "value": ["1-a"]}]));
    });
}

#[test]
fn one_doc_emitting_a_key_several_times_gives_rows_ordered_by_value() {
    block_on(async {
        let db = db();
        db.put(json!({"_id": "d"}), true).await.unwrap();
        let view = temp_view("dups", |_| {
            Ok(vec![
                (json!("k"), Value::Null),
                (json!("k"), json!("multiple")),
                (json!("k"), json!("crayon")),
            ])
        });
        let rows = parse(db.query(&view, &json!({})).await.unwrap());
        let values: Vec<&Value> = rows["rows"].as_array().unwrap().iter().map(|r| &r["value"]).collect();
        assert_eq!(values, [&Value::Null, &json!("crayon"), &json!("multiple")]);
    });
}

#[test]
fn query_with_include_docs_and_attachments_inlines_the_data_of_docs_only() {
    block_on(async {
        let db = db();
        let att = json!({"a.txt": {"content_type": "text/plain", "data": "aGVsbG8="}});
        db.put(json!({"_id": "d", "_attachments": att}), true).await.unwrap();
        let view = temp_view("docs", |doc| Ok(vec![(doc["_id"].clone(), doc.clone())]));
        let res = parse(db.query(&view, &json!({"include_docs": true, "attachments": true})).await.unwrap());
        let row = &res["rows"][0];
        assert_eq!(row["doc"]["_attachments"]["a.txt"]["data"], "aGVsbG8=");
        assert_eq!(row["value"]["_attachments"]["a.txt"]["stub"], true, "emitted values keep their stubs");
        let res = parse(db.query(&view, &json!({"include_docs": true})).await.unwrap());
        assert_eq!(res["rows"][0]["doc"]["_attachments"]["a.txt"]["stub"], true);
    });
}

// ---- attachments (PouchDB's test.attachments.js) ----

#[test]
fn attachment_names_starting_with_underscore_are_bad_requests_and_write_nothing() {
    block_on(async {
        let db = db();
        let att = json!({"_a.txt": {"content_type": "text/plain", "data": "aGVsbG8="}});
        let err = db.put(json!({"_id": "d", "_attachments": att}), true).await.unwrap_err();
        assert_eq!((err.status, err.name), (400, "bad_request"));
        let data = settee::kv::blobs::AttData::bytes(b"hi".to_vec());
        let err = db.put_attachment("d", "_b", None, data, "text/plain").await.unwrap_err();
        assert_eq!((err.status, err.name), (400, "bad_request"));
        assert_eq!(parse(db.info().await.unwrap())["doc_count"], 0);
    });
}

// ---- bulkDocs (PouchDB's test.bulk_docs.js) ----

#[test]
fn a_reserved_or_non_string_id_rejects_the_whole_bulk_as_couchdb_does() {
    block_on(async {
        let db = db();
        for bad in [json!("_invalid"), json!(123)] {
            let err =
                db.bulk_docs(vec![json!({"_id": "fine"}), json!({"_id": bad})], true).await.unwrap_err();
            assert_eq!((err.status, err.name), (400, "bad_request"));
        }
        let err = db.bulk_docs_text("{\"doc\": []}", true).await.unwrap_err();
        assert_eq!(err.message, "Missing JSON list of 'docs'");
        assert_eq!(parse(db.info().await.unwrap())["doc_count"], 0);
    });
}

#[test]
fn bulk_docs_with_new_edits_false_lists_only_failures() {
    block_on(async {
        let db = db();
        let docs = vec![
            json!({"_id": "EE35E", "_rev": "4-70b26", "_deleted": true,
                   "_revisions": {"start": 4, "ids": ["70b26", "9f454", "914bf", "7fdf8"]}}),
            json!({"_id": "EE35E", "_rev": "3-f6d28", "_revisions": {"start": 3, "ids": ["f6d28", "914bf", "7fdf8"]}}),
        ];
        assert_eq!(parse(db.bulk_docs(docs.clone(), false).await.unwrap()), json!([]));
        let text = serde_json::to_string(&docs).unwrap();
        assert_eq!(parse(db.bulk_docs_text(&text, false).await.unwrap()), json!([]));
        assert_eq!(parse(db.info().await.unwrap())["doc_count"], 1);
    });
}

#[test]
fn find_returns_at_most_25_docs_unless_given_a_limit() {
    block_on(async {
        let db = db();
        db.bulk_docs((0..30).map(|i| json!({"_id": format!("d{i:02}"), "series": "t"})).collect(), true)
            .await
            .unwrap();
        let found = parse(db.find(&json!({"selector": {"series": "t"}})).await.unwrap());
        assert_eq!(found["docs"].as_array().unwrap().len(), 25);
        let found = parse(db.find(&json!({"selector": {"series": "t"}, "limit": 30})).await.unwrap());
        assert_eq!(found["docs"].as_array().unwrap().len(), 30);
    });
}

#[test]
fn a_forced_put_on_a_non_leaf_rev_starts_a_conflicting_branch() {
    block_on(async {
        let db = db();
        let rev1 = parse(db.put(json!({"_id": "d", "v": 1}), true).await.unwrap())["rev"]
            .as_str()
            .unwrap()
            .to_string();
        let rev2 =
            parse(db.put(json!({"_id": "d", "v": 2, "_rev": rev1}), true).await.unwrap())["rev"].clone();
        let stale = db.put(json!({"_id": "d", "v": 3, "_rev": rev1}), true).await.unwrap_err();
        assert_eq!(stale.status, 409);
        let forced = parse(db.put_forced(json!({"_id": "d", "v": 3, "_rev": rev1})).await.unwrap());
        let branch = forced["rev"].as_str().unwrap();
        assert!(branch.starts_with("2-") && forced["ok"] == true && forced["rev"] != rev2);
        let doc = parse(db.get("d", &json!({"conflicts": true})).await.unwrap());
        let winner_and_conflict = [doc["_rev"].clone(), doc["_conflicts"][0].clone()];
        assert!(winner_and_conflict.contains(&rev2) && winner_and_conflict.contains(&json!(branch)));
    });
}

// ---- Mango (pouchdb-find's tests) ----

#[test]
fn create_index_rejects_mixed_directions_and_names_get_their_own_design_docs() {
    block_on(async {
        let db = db();
        let mixed = json!({"index": {"fields": [{"foo": "desc"}, "bar"]}, "name": "m"});
        assert_eq!(db.create_index(&mixed).await.unwrap_err().status, 400);
        let a = parse(
            db.create_index(&json!({"index": {"fields": ["foo"]}, "name": "foo-index"})).await.unwrap(),
        );
        let b = parse(
            db.create_index(&json!({"index": {"fields": ["foo"]}, "name": "bar-index"})).await.unwrap(),
        );
        assert_eq!((a["result"].as_str(), b["result"].as_str()), (Some("created"), Some("created")));
        assert_ne!(a["id"], b["id"], "CouchDB hashes the name into the default design doc id");
    });
}

#[test]
fn a_field_starting_with_a_dollar_is_selected_by_escaping_it() {
    block_on(async {
        let db = db();
        db.put(json!({"_id": "doc", "$foobar": "a"}), true).await.unwrap();
        db.create_index(&json!({"index": {"fields": ["$foobar"]}, "name": "foo-index"})).await.unwrap();
        let found =
            parse(db.find(&json!({"selector": {"\\$foobar": "a"}, "fields": ["_id"]})).await.unwrap());
        assert_eq!(found["docs"], json!([{"_id": "doc"}]));
    });
}

#[test]
fn a_partial_index_is_stored_normalised_holds_only_matching_docs_and_is_used_when_named() {
    block_on(async {
        let db = db();
        db.bulk_docs(
            vec![
                json!({"_id": "a", "type": "x", "hello": "world"}),
                json!({"_id": "b", "type": "y", "hello": "world"}),
            ],
            true,
        )
        .await
        .unwrap();
        let index = json!({"index": {"fields": ["hello"], "partial_filter_selector": {"type": "x"}}, "ddoc": "p", "name": "type-x"});
        db.create_index(&index).await.unwrap();
        let ddoc = parse(db.get("_design/p", &json!({})).await.unwrap());
        assert_eq!(ddoc["views"]["type-x"]["map"]["partial_filter_selector"], json!({"type": {"$eq": "x"}}));
        let ids =
            |v: Value| v["docs"].as_array().unwrap().iter().map(|d| d["_id"].clone()).collect::<Vec<_>>();
        let named = json!({"selector": {"hello": "world"}, "use_index": ["_design/p", "type-x"]});
        assert_eq!(ids(parse(db.find(&named).await.unwrap())), [json!("a")]);
        let unnamed = json!({"selector": {"hello": "world"}});
        assert_eq!(
            ids(parse(db.find(&unnamed).await.unwrap())),
            [json!("a"), json!("b")],
            "not chosen unless named"
        );
    });
}

#[test]
fn doc_ids_that_are_no_list_are_couchdbs_bad_request() {
    block_on(async {
        let db = db();
        let err = changed_ids(&db, json!({"doc_ids": "foo"}), &FilterContext::default()).await.unwrap_err();
        assert_eq!((err.status, err.message.as_str()), (400, "`doc_ids` filter parameter is not a list."));
    });
}

#[test]
fn all_docs_rejects_keys_beside_key_startkey_or_endkey() {
    block_on(async {
        let db = db();
        db.put(json!({"_id": "1"}), true).await.unwrap();
        for extra in ["key", "startkey", "endkey"] {
            let mut options = json!({"keys": ["1", "2"]});
            options[extra] = json!("1");
            let err = db.all_docs(&options).await.unwrap_err();
            assert_eq!((err.status, err.name), (400, "query_parse_error"), "{extra}");
        }
        let one = parse(db.all_docs(&json!({"key": "1", "startkey": "1"})).await.unwrap());
        assert_eq!(one["rows"].as_array().unwrap().len(), 1);
    });
}

#[test]
fn a_local_doc_ignores_revisions_it_is_given() {
    block_on(async {
        let db = db();
        let rev = parse(db.put(json!({"_id": "_local/foo"}), true).await.unwrap())["rev"].clone();
        let doc = json!({"_id": "_local/foo", "_rev": rev, "_revisions": {"start": 0, "ids": ["1"]}});
        db.put(doc, true).await.unwrap();
        let got = parse(db.get("_local/foo", &json!({})).await.unwrap());
        assert!(got.get("_revisions").is_none());
    });
}

/// A map that yields to the executor once per batch, as the JS map does (`nextTick`), so
/// two builds can interleave; counts the docs it maps.
struct YieldingMap(Rc<Cell<usize>>);

#[async_trait(?Send)]
impl MapFn for YieldingMap {
    async fn map_batch(&self, docs: &[String]) -> Vec<SResult<Vec<(Value, Value)>>> {
        let mut yielded = false;
        futures::future::poll_fn(|cx| {
            if yielded {
                return std::task::Poll::Ready(());
            }
            yielded = true;
            cx.waker().wake_by_ref();
            std::task::Poll::Pending
        })
        .await;
        self.0.set(self.0.get() + docs.len());
        docs.iter().map(|d| Ok(vec![(parse(d.clone())["_id"].clone(), json!(1))])).collect()
    }
}

#[test]
fn two_queries_at_once_map_each_doc_once() {
    block_on(async {
        let db = db();
        db.bulk_docs((0..5).map(|i| json!({"_id": format!("doc_{i}")})).collect(), true).await.unwrap();
        let calls = Rc::new(Cell::new(0));
        let view = ViewDef {
            ddoc: None,
            name: "count".into(),
            signature: signature("count", None),
            map: Rc::new(YieldingMap(calls.clone())),
            reduce: None,
        };
        let (a, b) = futures::future::join(db.query(&view, &json!({})), db.query(&view, &json!({}))).await;
        assert_eq!(parse(a.unwrap())["rows"], parse(b.unwrap())["rows"]);
        assert_eq!(calls.get(), 5, "the second query waits for the first build instead of mapping again");
    });
}
