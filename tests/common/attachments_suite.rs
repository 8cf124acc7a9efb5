//! Attachment conformance bodies: run natively over `MemoryKv` and the LSM on in-memory
//! records (`tests/attachments_native.rs`) and in headless Chromium over IndexedDB
//! (`tests/attachments_web.rs`). Each body gets a fresh database and the KV store under it, so
//! it can count the attachment-data keys actually stored.

#![allow(dead_code)]

use serde_json::{json, Value};
use settee::db::{keys, Database};
use settee::kv::{KvStore, Range};
use std::rc::Rc;

fn parse(s: &str) -> Value {
    serde_json::from_str(s).expect("responses are JSON")
}

async fn put(db: &Database, doc: Value) -> String {
    parse(&db.put(doc, true).await.expect("put succeeds"))["rev"].as_str().unwrap().to_string()
}

async fn get(db: &Database, id: &str, opts: Value) -> Value {
    parse(&db.get(id, &opts).await.expect("get succeeds"))
}

/// The attachment-data records in the store: (digest, bytes).
async fn stored(kv: &Rc<dyn KvStore>) -> Vec<(String, Vec<u8>)> {
    let rows = kv.scan(Range::prefix(&[keys::ATTACHMENT]), false, None).await.unwrap();
    rows.into_iter().map(|(k, v)| (keys::digest_of(&k).unwrap().to_string(), v)).collect()
}

const HELLO_B64: &str = "aGVsbG8gd29ybGQ="; // "hello world"

fn inline(data: &str) -> Value {
    json!({"content_type": "text/plain", "data": data})
}

pub async fn base64_attachments_round_trip_and_read_as_stubs_by_default(db: Database, kv: Rc<dyn KvStore>) {
    let rev = put(&db, json!({"_id": "a", "_attachments": {"hi.txt": inline(HELLO_B64)}})).await;
    let doc = get(&db, "a", json!({})).await;
    let stub = &doc["_attachments"]["hi.txt"];
    assert_eq!(stub["stub"], true);
    assert_eq!(stub["length"], 11);
    assert_eq!(stub["content_type"], "text/plain");
    assert_eq!(stub["revpos"], 1);
    assert!(stub["digest"].as_str().unwrap().starts_with("md5-"));
    assert!(stub.get("data").is_none());

    let full = get(&db, "a", json!({"attachments": true})).await;
    assert_eq!(full["_attachments"]["hi.txt"]["data"], HELLO_B64);
    assert_eq!(full["_rev"], rev);
    let (ty, bytes) = db.get_attachment("a", "hi.txt", &json!({})).await.unwrap();
    assert_eq!((ty.as_str(), bytes.as_slice()), ("text/plain", &b"hello world"[..]));

    let all = parse(&db.all_docs(&json!({"include_docs": true})).await.unwrap());
    assert_eq!(all["rows"][0]["doc"]["_attachments"]["hi.txt"]["stub"], true);
    let all = parse(&db.all_docs(&json!({"include_docs": true, "attachments": true})).await.unwrap());
    assert_eq!(all["rows"][0]["doc"]["_attachments"]["hi.txt"]["data"], HELLO_B64);

    // The stored bytes are raw, not base64.
    assert_eq!(
        stored(&kv).await,
        vec![(stub["digest"].as_str().unwrap().to_string(), b"hello world".to_vec())]
    );
}

pub async fn stubs_carry_over_across_edits_without_storing_data_again(db: Database, kv: Rc<dyn KvStore>) {
    let r1 = put(&db, json!({"_id": "a", "v": 1, "_attachments": {"hi.txt": inline(HELLO_B64)}})).await;
    let version = kv.version();
    let mut doc = get(&db, "a", json!({})).await;
    doc["v"] = json!(2);
    let r2 = put(&db, doc).await;
    let again = get(&db, "a", json!({})).await;
    assert_eq!(again["_rev"], r2);
    assert_eq!(again["_attachments"]["hi.txt"]["revpos"], 1, "the stub keeps the rev that added it");
    assert_eq!(stored(&kv).await.len(), 1);
    assert!(kv.version() > version);

    // A bare `{stub: true}` naming the attachment also carries it over.
    let r3 =
        put(&db, json!({"_id": "a", "_rev": r2, "v": 3, "_attachments": {"hi.txt": {"stub": true}}})).await;
    let (_, bytes) = db.get_attachment("a", "hi.txt", &json!({"rev": r3})).await.unwrap();
    assert_eq!(bytes, b"hello world");
    let (_, old) = db.get_attachment("a", "hi.txt", &json!({"rev": r1})).await.unwrap();
    assert_eq!(old, b"hello world");
    assert_eq!(stored(&kv).await.len(), 1);

    // A doc read with its data and written back stores nothing new and keeps the revpos.
    let mut full = get(&db, "a", json!({"attachments": true})).await;
    full["v"] = json!(4);
    put(&db, full).await;
    assert_eq!(get(&db, "a", json!({})).await["_attachments"]["hi.txt"]["revpos"], 1);
    assert_eq!(stored(&kv).await.len(), 1);
}

pub async fn a_stub_the_parent_lacks_is_412_missing_stub_and_writes_nothing(
    db: Database,
    kv: Rc<dyn KvStore>,
) {
    let r1 = put(&db, json!({"_id": "a"})).await;
    let e = db
        .put(
            json!({"_id": "a", "_rev": r1, "_attachments": {"x": {"stub": true}, "y": inline(HELLO_B64)}}),
            true,
        )
        .await
        .unwrap_err();
    assert_eq!((e.status, e.name), (412, "missing_stub"));
    assert_eq!(get(&db, "a", json!({})).await["_rev"], r1);
    assert!(stored(&kv).await.is_empty());
    let e = db.put(json!({"_id": "b", "_attachments": {"x": {"stub": true}}}), true).await.unwrap_err();
    assert_eq!(e.status, 412);
    assert_eq!(db.get("b", &json!({})).await.unwrap_err().status, 404);
}

pub async fn the_same_data_in_two_docs_is_stored_once(db: Database, kv: Rc<dyn KvStore>) {
    put(&db, json!({"_id": "a", "_attachments": {"one": inline(HELLO_B64)}})).await;
    let res = parse(
        &db.bulk_docs(
            vec![
                json!({"_id": "b", "_attachments": {"two": inline(HELLO_B64)}}),
                json!({"_id": "c", "_attachments": {"x": inline(HELLO_B64), "y": inline("AAEC")}}),
            ],
            true,
        )
        .await
        .unwrap(),
    );
    assert_eq!(res[0]["ok"], true);
    assert_eq!(res[1]["ok"], true);
    let a = get(&db, "a", json!({})).await;
    let b = get(&db, "b", json!({})).await;
    assert_eq!(a["_attachments"]["one"]["digest"], b["_attachments"]["two"]["digest"]);
    assert_eq!(stored(&kv).await.len(), 2);
    let (_, y) = db.get_attachment("c", "y", &json!({})).await.unwrap();
    assert_eq!(y, vec![0, 1, 2]);
}

pub async fn compact_drops_data_nothing_refers_to(db: Database, kv: Rc<dyn KvStore>) {
    let r1 = put(&db, json!({"_id": "a", "_attachments": {"old": inline(HELLO_B64)}})).await;
    put(&db, json!({"_id": "keep", "_attachments": {"k": inline("AAEC")}})).await;
    // Replace the attachment: the old data is still referenced by rev 1 until compaction.
    let r2 = put(&db, json!({"_id": "a", "_rev": r1, "_attachments": {"new": inline("AQID")}})).await;
    assert_eq!(stored(&kv).await.len(), 3);
    db.compact().await.unwrap();
    assert_eq!(stored(&kv).await.len(), 2);
    // Deleting the doc drops its data at the next compaction; other docs' data stays.
    db.remove("a", &r2).await.unwrap();
    db.compact().await.unwrap();
    let left = stored(&kv).await;
    assert_eq!(left.len(), 1);
    assert_eq!(left[0].1, vec![0, 1, 2]);
    let (_, k) = db.get_attachment("keep", "k", &json!({})).await.unwrap();
    assert_eq!(k, vec![0, 1, 2]);
}

pub async fn bad_attachments_are_400_and_write_nothing(db: Database, kv: Rc<dyn KvStore>) {
    let bad = [
        json!({"_id": "a", "_attachments": {"x": {"content_type": "text/plain", "data": "not base64!"}}}),
        json!({"_id": "a", "_attachments": "nope"}),
        json!({"_id": "a", "_attachments": {"x": {"content_type": "text/plain"}}}),
        json!({"_id": "a", "_attachments": {"ok": inline(HELLO_B64), "x": 7}}),
    ];
    for doc in bad {
        let e = db.put(doc.clone(), true).await.unwrap_err();
        assert_eq!(e.status, 400, "{doc}");
    }
    assert_eq!(db.get("a", &json!({})).await.unwrap_err().status, 404);
    assert!(stored(&kv).await.is_empty());
    assert_eq!(parse(&db.info().await.unwrap())["update_seq"], 0);
}

pub async fn put_get_and_remove_attachment_edit_one_entry(db: Database, kv: Rc<dyn KvStore>) {
    let r1 =
        parse(&db.put_attachment("a", "one.bin", None, vec![9, 8, 7], "application/x-test").await.unwrap());
    let r1 = r1["rev"].as_str().unwrap().to_string();
    assert!(r1.starts_with("1-"));
    let r2 = parse(
        &db.put_attachment("a", "two.txt", Some(&r1), b"hello world".to_vec(), "text/plain").await.unwrap(),
    );
    let r2 = r2["rev"].as_str().unwrap().to_string();
    let doc = get(&db, "a", json!({})).await;
    assert_eq!(doc["_attachments"]["one.bin"]["revpos"], 1);
    assert_eq!(doc["_attachments"]["two.txt"]["revpos"], 2);
    let (ty, one) = db.get_attachment("a", "one.bin", &json!({})).await.unwrap();
    assert_eq!((ty.as_str(), one), ("application/x-test", vec![9, 8, 7]));
    // A stale rev is the usual conflict.
    let e = db.put_attachment("a", "three", Some(&r1), vec![1], "a/b").await.unwrap_err();
    assert_eq!(e.status, 409);

    let r3 =
        parse(&db.remove_attachment("a", "one.bin", &r2).await.unwrap())["rev"].as_str().unwrap().to_string();
    let doc = get(&db, "a", json!({})).await;
    assert_eq!(doc["_rev"], r3);
    assert!(doc["_attachments"].get("one.bin").is_none());
    assert_eq!(db.get_attachment("a", "one.bin", &json!({})).await.unwrap_err().status, 404);
    assert_eq!(db.remove_attachment("a", "one.bin", &r3).await.unwrap_err().status, 404);
    db.compact().await.unwrap();
    assert_eq!(stored(&kv).await.len(), 1);
}

/// Expands to one test per body; `$make` is an async expression giving `(db, kv)`.
#[macro_export]
macro_rules! settee_attachments_suite {
    ($kind:ident, $make:expr) => {
        $crate::settee_attachments_suite!(@each $kind, $make,
            base64_attachments_round_trip_and_read_as_stubs_by_default,
            stubs_carry_over_across_edits_without_storing_data_again,
            a_stub_the_parent_lacks_is_412_missing_stub_and_writes_nothing,
            the_same_data_in_two_docs_is_stored_once,
            compact_drops_data_nothing_refers_to,
            bad_attachments_are_400_and_write_nothing,
            put_get_and_remove_attachment_edit_one_entry
        );
    };
    (@each native, $make:expr, $($name:ident),*) => {
        $(
            #[test]
            fn $name() {
                futures::executor::block_on(async {
                    let (db, kv) = $make.await;
                    $crate::common::attachments_suite::$name(db, kv).await
                });
            }
        )*
    };
    (@each web, $make:expr, $($name:ident),*) => {
        $(
            #[wasm_bindgen_test::wasm_bindgen_test]
            async fn $name() {
                let (db, kv) = $make.await;
                $crate::common::attachments_suite::$name(db, kv).await;
            }
        )*
    };
}
