//! Attachment conformance bodies: run natively over `MemoryKv` and the LSM on in-memory
//! records (`tests/attachments_native.rs`) and in headless Chromium over IndexedDB
//! (`tests/attachments_web.rs`). Each body gets a fresh database and the KV store under it, so
//! it can count the attachment-data keys actually stored.

#![allow(dead_code)]

use serde_json::{json, Value};
use settee::db::{keys, Database};
use settee::kv::blobs::AttData;
use settee::kv::{KvStore, Range, WriteBatch};
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

/// The attachment data in the store: (digest, bytes).
async fn stored(kv: &Rc<dyn KvStore>) -> Vec<(String, Vec<u8>)> {
    let blobs = kv.blobs();
    let mut out = Vec::new();
    for (digest, _) in blobs.list().await.unwrap() {
        let data = blobs.get(&digest).await.unwrap().expect("listed data is there");
        out.push((digest, data.to_vec().await.unwrap()));
    }
    out
}

async fn bytes(data: AttData) -> Vec<u8> {
    data.to_vec().await.unwrap()
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
    let inlined = &full["_attachments"]["hi.txt"];
    assert_eq!(inlined["data"], HELLO_B64);
    assert!(inlined.get("stub").is_none() && inlined.get("length").is_none(), "as CouchDB: {inlined}");
    assert_eq!((&inlined["revpos"], &inlined["content_type"]), (&json!(1), &json!("text/plain")));
    assert_eq!(full["_rev"], rev);
    let (ty, data) = db.get_attachment("a", "hi.txt", &json!({})).await.unwrap();
    assert_eq!((ty.as_str(), bytes(data).await.as_slice()), ("text/plain", &b"hello world"[..]));

    // open_revs and bulkGet take `attachments` too.
    let leaves = parse(&db.get("a", &json!({"open_revs": "all", "attachments": true})).await.unwrap());
    assert_eq!(leaves[0]["ok"]["_attachments"]["hi.txt"]["data"], HELLO_B64);
    let bulk = parse(&db.bulk_get(&json!({"docs": [{"id": "a"}], "attachments": true})).await.unwrap());
    assert_eq!(bulk["results"][0]["docs"][0]["ok"]["_attachments"]["hi.txt"]["data"], HELLO_B64);
    let bulk = parse(&db.bulk_get(&json!({"docs": [{"id": "a"}]})).await.unwrap());
    assert_eq!(bulk["results"][0]["docs"][0]["ok"]["_attachments"]["hi.txt"]["stub"], true);

    let all = parse(&db.all_docs(&json!({"include_docs": true})).await.unwrap());
    assert_eq!(all["rows"][0]["doc"]["_attachments"]["hi.txt"]["stub"], true);
    let all = parse(&db.all_docs(&json!({"include_docs": true, "attachments": true})).await.unwrap());
    assert_eq!(all["rows"][0]["doc"]["_attachments"]["hi.txt"]["data"], HELLO_B64);

    // So do changes: data only with both include_docs and attachments.
    let c = parse(&db.changes(&json!({"include_docs": true, "attachments": true})).await.unwrap());
    assert_eq!(c["results"][0]["doc"]["_attachments"]["hi.txt"]["data"], HELLO_B64);
    let c = parse(&db.changes(&json!({"include_docs": true})).await.unwrap());
    assert_eq!(c["results"][0]["doc"]["_attachments"]["hi.txt"]["stub"], true);
    let c = parse(&db.changes(&json!({"attachments": true})).await.unwrap());
    assert!(c["results"][0].get("doc").is_none(), "{c}");

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
    let (_, data) = db.get_attachment("a", "hi.txt", &json!({"rev": r3})).await.unwrap();
    assert_eq!(bytes(data).await, b"hello world");
    let (_, old) = db.get_attachment("a", "hi.txt", &json!({"rev": r1})).await.unwrap();
    assert_eq!(bytes(old).await, b"hello world");
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
    assert_eq!(bytes(y).await, vec![0, 1, 2]);
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
    assert_eq!(bytes(k).await, vec![0, 1, 2]);
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
    let r1 = parse(
        &db.put_attachment("a", "one.bin", None, AttData::bytes(vec![9, 8, 7]), "application/x-test")
            .await
            .unwrap(),
    );
    let r1 = r1["rev"].as_str().unwrap().to_string();
    assert!(r1.starts_with("1-"));
    let r2 = parse(
        &db.put_attachment("a", "two.txt", Some(&r1), AttData::bytes(b"hello world".to_vec()), "text/plain")
            .await
            .unwrap(),
    );
    let r2 = r2["rev"].as_str().unwrap().to_string();
    let doc = get(&db, "a", json!({})).await;
    assert_eq!(doc["_attachments"]["one.bin"]["revpos"], 1);
    assert_eq!(doc["_attachments"]["two.txt"]["revpos"], 2);
    let (ty, one) = db.get_attachment("a", "one.bin", &json!({})).await.unwrap();
    assert_eq!((ty.as_str(), bytes(one).await), ("application/x-test", vec![9, 8, 7]));
    // A stale rev is the usual conflict.
    let e = db.put_attachment("a", "three", Some(&r1), AttData::bytes(vec![1]), "a/b").await.unwrap_err();
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

pub async fn a_replicated_stub_needs_its_data_stored_or_sent_along(db: Database, kv: Rc<dyn KvStore>) {
    let stub = |digest: &str| json!({"_id": "r", "_rev": "1-abc", "_attachments": {"f": {"content_type": "a/b", "digest": digest, "length": 3, "revpos": 1, "stub": true}}});
    let digest = settee::kv::blobs::digest_of(&[1, 2, 3]);
    let res = db.bulk_docs_replicated(vec![stub(&digest)], &Default::default()).await.unwrap();
    let row = serde_json::to_value(&res[0]).unwrap();
    assert_eq!((row["status"].clone(), row["name"].clone()), (json!(412), json!("missing_stub")));
    assert_eq!(db.get("r", &json!({})).await.unwrap_err().status, 404);
    assert!(stored(&kv).await.is_empty());

    let data = [(digest.clone(), AttData::bytes(vec![1, 2, 3]))].into_iter().collect();
    let res = db.bulk_docs_replicated(vec![stub(&digest)], &data).await.unwrap();
    assert_eq!(serde_json::to_value(&res[0]).unwrap()["ok"], true);
    let (ty, got) = db.get_attachment("r", "f", &json!({})).await.unwrap();
    assert_eq!((ty.as_str(), bytes(got).await), ("a/b", vec![1, 2, 3]));
    assert_eq!(get(&db, "r", json!({})).await["_attachments"]["f"]["revpos"], 1);

    // Now that the data is stored, a stub alone is enough (another doc, same data).
    let mut other = stub(&digest);
    other["_id"] = json!("s");
    let res = db.bulk_docs_replicated(vec![other], &Default::default()).await.unwrap();
    assert_eq!(serde_json::to_value(&res[0]).unwrap()["ok"], true);
    assert_eq!(stored(&kv).await.len(), 1);
}

pub async fn data_kept_in_the_kv_store_by_older_versions_is_still_read_and_swept(
    db: Database,
    kv: Rc<dyn KvStore>,
) {
    // The first format kept bytes under `A<digest>` in the KV store.
    let digest = settee::kv::blobs::digest_of(b"old");
    let mut batch = WriteBatch::new();
    batch.put(keys::attachment(&digest), b"old".to_vec());
    kv.write(batch, None).await.unwrap();
    let res = db
        .bulk_docs_replicated(
            vec![json!({"_id": "o", "_rev": "1-a", "_attachments": {"f": {"content_type": "t/p", "digest": digest, "length": 3, "revpos": 1, "stub": true}}})],
            &Default::default(),
        )
        .await
        .unwrap();
    assert_eq!(serde_json::to_value(&res[0]).unwrap()["ok"], true);
    let (_, got) = db.get_attachment("o", "f", &json!({})).await.unwrap();
    assert_eq!(bytes(got).await, b"old");
    assert_eq!(get(&db, "o", json!({"attachments": true})).await["_attachments"]["f"]["data"], "b2xk");
    let old_keys = || async { kv.scan(Range::prefix(&[keys::ATTACHMENT]), false, None).await.unwrap().len() };
    db.compact().await.unwrap();
    assert_eq!(old_keys().await, 1, "still referenced");
    db.remove("o", "1-a").await.unwrap();
    db.compact().await.unwrap();
    assert_eq!(old_keys().await, 0);
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
            put_get_and_remove_attachment_edit_one_entry,
            a_replicated_stub_needs_its_data_stored_or_sent_along,
            data_kept_in_the_kv_store_by_older_versions_is_still_read_and_swept
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
    // A second browser run in the same crate (e.g. another storage mode), in a module of its
    // own so the test names do not clash.
    (@each web_parts, $make:expr, $($name:ident),*) => {
        mod parts {
            use super::*;
            $(
                #[wasm_bindgen_test::wasm_bindgen_test]
                async fn $name() {
                    let (db, kv) = $make.await;
                    $crate::common::attachments_suite::$name(db, kv).await;
                }
            )*
        }
    };
}
