//! Validation natively: JSON Schemas per doc type on every write path, and
//! `validate_doc_update` semantics (order, `oldDoc`, trust, admins) with Rust functions standing
//! in for the JS ones the browser compiles.
#![cfg(not(target_arch = "wasm32"))]

#[path = "common/replicate_helpers.rs"]
mod helpers;

use futures::executor::block_on;
use helpers::{mem_db, parse, put};
use serde_json::{json, Value};
use settee::core::schema::Schema;
use settee::db::validate::{Validation, VduCompiler, VduFn};
use settee::db::Database;
use settee::error::{Error, Result};
use settee::replicate::{replicate, LocalPeer, ReplicateOptions, ReplicationEvent};
use std::cell::RefCell;
use std::rc::Rc;

fn hoptree_schema() -> Value {
    json!({
        "typeField": "type",
        "types": {
            "message": {
                "type": "object",
                "required": ["type", "data", "sent"],
                "additionalProperties": false,
                "properties": {
                    "type": {"const": "message"},
                    "sent": {"type": "string", "format": "date-time"},
                    "data": {"type": "object", "properties": {"p1": {"type": "array", "items": {"$ref": "#/$defs/part"}}}},
                },
                "$defs": {"part": {"type": "string", "minLength": 1}},
            },
            "customer": {
                "type": "object",
                "required": ["email"],
                "properties": {"email": {"type": "string", "format": "email"}, "tier": {"enum": ["free", "paid"]}},
            },
        },
    })
}

fn schema_db(name: &str, spec: Value) -> Rc<Database> {
    let db = mem_db(name);
    db.set_schema(Some(&spec)).expect("the schema compiles");
    db
}

fn message(id: &str) -> Value {
    json!({"_id": id, "type": "message", "sent": "2026-12-07T10:00:00Z", "data": {"p1": ["a"]}})
}

async fn missing(db: &Database, id: &str) -> bool {
    db.get(id, &Value::Null).await.is_err_and(|e| e.status == 404)
}

#[test]
fn a_doc_breaking_its_schema_is_forbidden_naming_the_pointer_and_rule() {
    block_on(async {
        let db = schema_db("s1", hoptree_schema());
        let mut bad = message("m1");
        bad["data"]["p1"] = json!("not an array");
        let e = db.put(bad, true).await.unwrap_err();
        assert_eq!((e.status, e.name), (403, "forbidden"));
        assert_eq!(e.message, "/data/p1: expected array, got string");
        assert!(missing(&db, "m1").await, "nothing of a forbidden doc is stored");
        assert_eq!(parse(&db.info().await.unwrap())["update_seq"], 0);
        put(&db, message("m1")).await;
    });
}

#[test]
fn post_and_bulk_docs_refuse_only_the_bad_docs() {
    block_on(async {
        let db = schema_db("s2", hoptree_schema());
        let e = db.post(json!({"type": "customer", "email": "not-an-email"})).await.unwrap_err();
        assert_eq!(e.message, "/email: not a valid email");
        let docs = json!([message("ok1"), {"_id": "bad", "type": "customer"}, {"_id": "c", "type": "customer", "email": "a@b.co", "tier": "gold"}, message("ok2")]);
        let rows = parse(&db.bulk_docs_text(&docs.to_string(), true).await.unwrap());
        assert_eq!(rows[0]["ok"], true);
        assert_eq!(rows[1]["status"], 403);
        assert_eq!(rows[1]["message"], "/email: required property is missing");
        assert_eq!(rows[2]["message"], r#"/tier: expected one of "free", "paid""#);
        assert_eq!(rows[3]["ok"], true);
        assert!(missing(&db, "bad").await && missing(&db, "c").await);
        // The `Value` path (`bulk_docs`) gives the same rows.
        let rows = parse(&db.bulk_docs(vec![json!({"_id": "bad2", "type": "message"})], true).await.unwrap());
        assert_eq!(rows[0]["message"], "/: required property is missing".replace("/:", "/data:"));
    });
}

#[test]
fn others_are_allowed_by_default_and_refused_when_asked() {
    block_on(async {
        let db = schema_db("s3", hoptree_schema());
        put(&db, json!({"_id": "x", "type": "note"})).await;
        put(&db, json!({"_id": "y"})).await;
        let mut strict = hoptree_schema();
        strict["others"] = json!("reject");
        let db = schema_db("s3b", strict);
        let e = db.put(json!({"_id": "x", "type": "note"}), true).await.unwrap_err();
        assert_eq!((e.status, e.message.as_str()), (403, "/type: no schema for this document type"));
        assert!(db.put(json!({"_id": "y", "type": 7}), true).await.is_err());
    });
}

#[test]
fn couchdb_members_are_outside_the_schema_and_deletions_design_and_local_docs_are_not_checked() {
    block_on(async {
        let db = schema_db("s4", hoptree_schema());
        // additionalProperties: false, yet `_id`, `_rev` and `_attachments` pass.
        let mut m = message("m");
        m["_attachments"] = json!({"a.txt": {"content_type": "text/plain", "data": "aGk="}});
        let rev = put(&db, m).await;
        db.remove("m", &rev).await.expect("a tombstone is not checked against the schema");
        put(&db, json!({"_id": "_design/d", "type": "message", "views": {}})).await;
        put(&db, json!({"_id": "_local/l", "type": "message"})).await;
        let rows = parse(
            &db.bulk_docs(vec![json!({"_id": "gone", "_rev": "1-a", "_deleted": true})], false)
                .await
                .unwrap(),
        );
        assert_eq!(rows, json!([]), "a replicated tombstone is stored");
    });
}

#[test]
fn a_bad_schema_is_a_400_naming_where_and_keeps_the_old_one() {
    let db = mem_db("s5");
    db.set_schema(Some(&hoptree_schema())).unwrap();
    for (spec, says) in [
        (json!({"types": {"m": {"type": "strin"}}}), "types.m/type"),
        (json!({"types": {"m": {"properties": {"a": {"required": "x"}}}}}), "types.m/properties/a/required"),
        (json!({"types": {"m": {"$ref": "http://example.com/other.json"}}}), "cannot resolve"),
        (json!({"types": {"m": {"unevaluatedProperties": false}}}), "not supported"),
        (json!({"types": {"m": {"pattern": "("}}}), "invalid regular expression"),
        (json!({"types": {}, "others": "maybe"}), "others"),
        (json!({"type": {}}), "unknown option"),
        (json!([]), "expected an object"),
    ] {
        let e = db.set_schema(Some(&spec)).unwrap_err();
        assert_eq!((e.status, e.name), (400, "bad_request"), "{spec}");
        assert!(e.message.contains(says), "{spec}: {}", e.message);
    }
    block_on(async {
        let e = db.put(json!({"_id": "c", "type": "customer"}), true).await.unwrap_err();
        assert_eq!(e.status, 403, "the earlier schema still holds");
        db.set_schema(None).unwrap();
        put(&db, json!({"_id": "c", "type": "customer"})).await;
    });
}

fn fails(schema: &Value, doc: Value) -> String {
    Schema::compile(schema).unwrap().validate(&doc).expect_err(&doc.to_string()).to_string()
}

fn passes(schema: &Value, doc: Value) {
    if let Err(f) = Schema::compile(schema).unwrap().validate(&doc) {
        panic!("{doc} fails: {f}");
    }
}

#[test]
fn combinators_refs_and_formats_check_as_json_schema_says() {
    let s = json!({
        "$defs": {"node": {"type": "object", "properties": {"next": {"$ref": "#/$defs/node"}, "v": {"type": "integer"}}}},
        "type": "object",
        "properties": {
            "list": {"$ref": "#/$defs/node"},
            "kind": {"oneOf": [{"const": "a"}, {"const": "b"}]},
            "id": {"type": "string", "format": "uuid"},
            "n": {"anyOf": [{"type": "string"}, {"type": "number", "minimum": 0}]},
            "tags": {"type": "array", "uniqueItems": true, "maxItems": 3},
            "code": {"type": "string", "pattern": "^[A-Z]{3}$"},
        },
        "allOf": [{"not": {"required": ["forbidden"]}}],
    });
    passes(
        &s,
        json!({"list": {"v": 1, "next": {"v": 2.0}}, "kind": "a", "id": "2eb8aa08-aa98-11ea-b4aa-73b441d16380", "n": 3, "tags": [1, 2], "code": "ABC"}),
    );
    assert_eq!(
        fails(&s, json!({"list": {"next": {"next": {"v": 1.5}}}})),
        "/list/next/next/v: expected integer, got number"
    );
    assert_eq!(fails(&s, json!({"kind": "c"})), "/kind: matches no schema of oneOf");
    assert_eq!(fails(&s, json!({"id": "nope"})), "/id: not a valid uuid");
    assert_eq!(fails(&s, json!({"n": -1})), "/n: matches no schema of anyOf");
    assert_eq!(fails(&s, json!({"tags": [1, 1.0]})), "/tags/1: duplicate of item 0");
    assert_eq!(fails(&s, json!({"code": "abc"})), r#"/code: does not match the pattern "^[A-Z]{3}$""#);
    assert_eq!(fails(&s, json!({"forbidden": 1})), "/: matches the schema in not");
    // Draft-07 tuples and `definitions`.
    let d7 = json!({"definitions": {"s": {"type": "string"}}, "items": [{"$ref": "#/definitions/s"}], "additionalItems": false});
    passes(&d7, json!(["x"]));
    assert_eq!(fails(&d7, json!(["x", 1])), "/1: no value is allowed here");
    // Before 2019-09 a `$ref` replaced the keywords beside it; later drafts apply both.
    let sibling = |draft: &str| json!({"$schema": draft, "$defs": {"a": {"type": "array"}}, "$ref": "#/$defs/a", "maxItems": 1});
    passes(&sibling("http://json-schema.org/draft-07/schema#"), json!([1, 2]));
    assert_eq!(
        fails(&sibling("https://json-schema.org/draft/2020-12/schema"), json!([1, 2])),
        "/: expected at most 1 items"
    );
}

// --- validate_doc_update, with Rust functions named by their "source" ---------------------

type Calls = Rc<RefCell<Vec<(String, Value, Value)>>>;

/// `immutable`: Hydra's rule; `unauthorized`: always 401; `record`: allows and records each
/// call; `bad`: does not compile.
struct Fns {
    calls: Calls,
}

struct Named {
    ddoc: String,
    source: String,
    calls: Calls,
}

impl VduFn for Named {
    fn check(&self, new_doc: &str, old_doc: Option<&str>) -> Result<()> {
        let new: Value = serde_json::from_str(new_doc).unwrap();
        let old: Value = old_doc.map(|o| serde_json::from_str(o).unwrap()).unwrap_or(Value::Null);
        self.calls.borrow_mut().push((self.ddoc.clone(), new.clone(), old.clone()));
        match self.source.as_str() {
            "immutable" if !old.is_null() && new["_deleted"] != true => {
                Err(Error::forbidden("messages are immutable"))
            }
            "unauthorized" => Err(Error::unauthorized("log in first")),
            _ => Ok(()),
        }
    }
}

impl VduCompiler for Fns {
    fn compile(&self, ddoc: &str, source: &str) -> Result<Rc<dyn VduFn>> {
        if source == "bad" {
            return Err(Error::bad_request("SyntaxError"));
        }
        Ok(Rc::new(Named { ddoc: ddoc.into(), source: source.into(), calls: self.calls.clone() }))
    }
}

fn vdu_db(name: &str, trust: bool, admin: bool) -> (Rc<Database>, Calls) {
    let db = mem_db(name);
    let calls: Calls = Rc::default();
    db.set_validation(Validation {
        compiler: Rc::new(Fns { calls: calls.clone() }),
        trust_design_docs: trust,
        admin,
    });
    (db, calls)
}

#[test]
fn a_vdu_forbids_updating_a_message_but_allows_creating_and_deleting_it() {
    block_on(async {
        let (db, calls) = vdu_db("v1", false, true);
        put(&db, json!({"_id": "_design/hydra", "validate_doc_update": "immutable"})).await;
        let rev = put(&db, json!({"_id": "m", "text": "hi"})).await;
        assert_eq!(calls.borrow().last().unwrap().2, Value::Null, "oldDoc is null on create");
        let e = db.put(json!({"_id": "m", "_rev": rev, "text": "edited"}), true).await.unwrap_err();
        assert_eq!((e.status, e.name, e.message.as_str()), (403, "forbidden", "messages are immutable"));
        let (_, new, old) = calls.borrow().last().unwrap().clone();
        assert_eq!(
            (new["text"].clone(), old["text"].clone(), old["_rev"].clone()),
            (json!("edited"), json!("hi"), json!(rev))
        );
        let rows = parse(
            &db.bulk_docs(vec![json!({"_id": "m", "_rev": rev, "text": "again"}), json!({"_id": "n"})], true)
                .await
                .unwrap(),
        );
        assert_eq!((rows[0]["status"].clone(), rows[1]["ok"].clone()), (json!(403), json!(true)));
        db.remove("m", &rev).await.expect("deleting is allowed");
        assert_eq!(calls.borrow().last().unwrap().1["_deleted"], true);
        // Recreating over the tombstone sees no oldDoc, as CouchDB validates it against nil.
        put(&db, json!({"_id": "m", "text": "new"})).await;
        assert_eq!(calls.borrow().last().unwrap().2, Value::Null);
        // `_local` docs are never validated.
        let before = calls.borrow().len();
        put(&db, json!({"_id": "_local/x"})).await;
        assert_eq!(calls.borrow().len(), before);
    });
}

#[test]
fn every_design_docs_vdu_runs_in_id_order_and_unauthorized_is_401() {
    block_on(async {
        let (db, calls) = vdu_db("v2", false, true);
        put(&db, json!({"_id": "_design/b", "validate_doc_update": "unauthorized"})).await;
        put(&db, json!({"_id": "_design/a", "validate_doc_update": "record"})).await;
        let e = db.put(json!({"_id": "doc"}), true).await.unwrap_err();
        assert_eq!((e.status, e.name, e.message.as_str()), (401, "unauthorized", "log in first"));
        let order: Vec<String> = calls.borrow().iter().map(|c| c.0.clone()).collect();
        assert_eq!(order, ["_design/a", "_design/b"], "a runs (and allows), then b throws");
        assert!(missing(&db, "doc").await);
    });
}

#[test]
fn design_writes_skip_vdus_for_admins_only_and_must_compile() {
    block_on(async {
        let (db, _) = vdu_db("v3", false, false);
        put(&db, json!({"_id": "_design/h", "validate_doc_update": "immutable"})).await;
        let rev =
            parse(&db.get("_design/h", &Value::Null).await.unwrap())["_rev"].as_str().unwrap().to_string();
        let e = db
            .put(json!({"_id": "_design/h", "_rev": rev, "validate_doc_update": "record"}), true)
            .await
            .unwrap_err();
        assert_eq!(e.status, 403, "a non-admin cannot edit a design doc its own VDU forbids");
        let (admin_db, _) = vdu_db("v3b", false, true);
        put(&admin_db, json!({"_id": "_design/h", "validate_doc_update": "immutable"})).await;
        let rev = parse(&admin_db.get("_design/h", &Value::Null).await.unwrap())["_rev"]
            .as_str()
            .unwrap()
            .to_string();
        put(&admin_db, json!({"_id": "_design/h", "_rev": rev, "validate_doc_update": "record"})).await;
        let e = admin_db
            .put(json!({"_id": "_design/bad", "validate_doc_update": "bad"}), true)
            .await
            .unwrap_err();
        assert_eq!((e.status, e.name), (400, "compilation_error"));
        let e =
            admin_db.put(json!({"_id": "_design/num", "validate_doc_update": 5}), true).await.unwrap_err();
        assert_eq!((e.status, e.message.as_str()), (400, "validate_doc_update must be a string"));
    });
}

async fn replicate_into(
    source: &Rc<Database>,
    target: &Rc<Database>,
) -> (settee::replicate::ReplicationResult, Vec<String>) {
    let denied: Rc<RefCell<Vec<String>>> = Rc::default();
    let seen = denied.clone();
    let options = ReplicateOptions {
        batch_size: 3,
        on_event: Some(Box::new(move |e: &ReplicationEvent| {
            if let ReplicationEvent::Denied(d) = e {
                seen.borrow_mut().push(format!("{} {} {}", d.id, d.status, d.reason));
            }
        })),
        ..ReplicateOptions::default()
    };
    let result =
        replicate(&LocalPeer::new(source.clone()), &LocalPeer::new(target.clone()), &options).await.unwrap();
    let denied = denied.borrow().clone();
    (result, denied)
}

#[test]
fn replicated_docs_breaking_the_schema_are_denied_counted_and_the_checkpoint_moves_on() {
    block_on(async {
        let source = mem_db("r1-src");
        let target = schema_db("r1-dst", hoptree_schema());
        let mut docs = vec![message("good1"), json!({"_id": "bad1", "type": "message"}), message("good2")];
        docs.push(json!({"_id": "bad2", "type": "customer", "email": 3}));
        source.bulk_docs(docs, true).await.unwrap();
        let (result, denied) = replicate_into(&source, &target).await;
        assert_eq!((result.docs_read, result.docs_written, result.doc_write_failures), (4, 2, 2));
        assert_eq!(
            denied,
            [
                "bad1 403 /: required property is missing".replace("/:", "/data:"),
                "bad2 403 /email: expected string, got integer".to_string()
            ]
        );
        assert!(missing(&target, "bad1").await && !missing(&target, "good2").await);
        let (again, _) = replicate_into(&source, &target).await;
        assert_eq!(again.docs_read, 0, "the checkpoint moved past the denied docs");
    });
}

#[test]
fn replicated_design_docs_validate_only_when_trusted_and_app_written_ones_validate_replicated_docs() {
    block_on(async {
        let source = mem_db("r2-src");
        put(&source, json!({"_id": "_design/remote", "validate_doc_update": "unauthorized"})).await;
        let (target, _) = vdu_db("r2-dst", false, true);
        let (trusting, _) = vdu_db("r2-trust", true, true);
        // The design doc first: a batch runs the VDUs stored when it starts.
        replicate_into(&source, &target).await;
        replicate_into(&source, &trusting).await;
        put(&source, json!({"_id": "a"})).await;
        let (result, denied) = replicate_into(&source, &target).await;
        assert_eq!(
            (result.docs_written, denied.len()),
            (1, 0),
            "an untrusted design doc is stored, its VDU not run"
        );
        put(&target, json!({"_id": "b"})).await;
        let (result, denied) = replicate_into(&source, &trusting).await;
        assert_eq!((result.doc_write_failures, denied), (1, vec!["a 401 log in first".to_string()]));
        assert!(!missing(&trusting, "_design/remote").await);

        // A design doc the app wrote runs on replicated docs (`new_edits: false`) too.
        let (local, calls) = vdu_db("r2-local", false, true);
        put(&local, json!({"_id": "_design/mine", "validate_doc_update": "record"})).await;
        replicate_into(&source, &local).await;
        let replicated: Vec<Value> = calls.borrow().iter().map(|c| c.1["_id"].clone()).collect();
        assert_eq!(replicated, [json!("a")], "design docs written by an admin skip VDUs; `a` is checked");
        assert!(calls.borrow()[0].1["_revisions"].is_object(), "a replicated newDoc carries its _revisions");
    });
}
