//! Attachments through replication between memory databases (`LocalPeer`), natively: data
//! fetched only where the target lacks it, checked against its digest, and the conflict case
//! where only one side changed an attachment. The same flows against pouchdb-server run in
//! the browser (tests/js/attachments-replication.test.mjs).
#![cfg(not(target_arch = "wasm32"))]

mod common;
#[path = "common/replicate_helpers.rs"]
mod helpers;

use futures::executor::block_on;
use helpers::{mem_db, parse, put, snapshot, Counting, RemoteLike};
use serde_json::{json, Value};
use settee::db::Database;
use settee::kv::blobs::AttData;
use settee::replicate::{
    replicate, sync, AttMap, AttRef, ChangesPage, DocError, Fetched, Filter, LocalPeer, Peer,
    ReplicateOptions, ReplicationResult, RevRequest, RevsByDoc, RevsDiff, Seq,
};

async fn run(source: &dyn Peer, target: &dyn Peer) -> ReplicationResult {
    replicate(source, target, &ReplicateOptions::default()).await.expect("replication succeeds")
}

fn inline(bytes: &[u8]) -> Value {
    use base64::Engine;
    json!({"content_type": "application/octet-stream", "data": base64::engine::general_purpose::STANDARD.encode(bytes)})
}

async fn att(db: &Database, id: &str, name: &str, rev: Option<&str>) -> Vec<u8> {
    let (_, data) = db.get_attachment(id, name, &json!({ "rev": rev })).await.expect("attachment is there");
    data.to_vec().await.unwrap()
}

#[test]
fn a_push_brings_attachment_data_and_a_later_edit_fetches_none_again() {
    block_on(async {
        let (a, b) = (mem_db("a"), mem_db("b"));
        let r1 =
            put(&a, json!({"_id": "d", "_attachments": {"x": inline(b"one"), "y": inline(b"two")}})).await;
        put(&a, json!({"_id": "e", "_attachments": {"same": inline(b"one")}})).await;
        let source = Counting::new(LocalPeer::new(a.clone()));
        let res = run(&source, &LocalPeer::new(b.clone())).await;
        assert_eq!((res.docs_written, res.doc_write_failures), (2, 0));
        assert_eq!(source.calls("get_attachment"), 2, "one fetch per digest, shared data once");
        assert_eq!(att(&b, "d", "x", None).await, b"one");
        assert_eq!(att(&b, "e", "same", None).await, b"one");
        assert_eq!(b.stored_attachments().await.unwrap().len(), 2);

        // An edit keeping the stubs: the target has the data, so nothing is fetched.
        put(&a, json!({"_id": "d", "_rev": r1, "v": 2, "_attachments": {"x": {"stub": true}, "y": {"stub": true}}})).await;
        source.reset();
        assert_eq!(run(&source, &LocalPeer::new(b.clone())).await.docs_written, 1);
        assert_eq!(source.calls("get_attachment"), 0);
        assert_eq!(snapshot(&a).await, snapshot(&b).await);
    });
}

#[test]
fn a_target_that_cannot_list_its_data_gets_only_attachments_newer_than_its_ancestors() {
    block_on(async {
        let (a, b) = (mem_db("a"), mem_db("b"));
        let r1 = put(&a, json!({"_id": "d", "_attachments": {"old": inline(b"old")}})).await;
        let target = RemoteLike::new(LocalPeer::new(b.clone()));
        run(&LocalPeer::new(a.clone()), &target).await;
        assert_eq!(*target.written_with_data.borrow(), vec![("d".to_string(), 1)]);

        put(
            &a,
            json!({"_id": "d", "_rev": r1, "_attachments": {"old": {"stub": true}, "new": inline(b"new")}}),
        )
        .await;
        target.written_with_data.borrow_mut().clear();
        run(&LocalPeer::new(a.clone()), &target).await;
        // Rev 1 is the target's ancestor: `old` (revpos 1) goes as a stub, `new` with data.
        assert_eq!(*target.written_with_data.borrow(), vec![("d".to_string(), 1)]);
        assert_eq!(att(&b, "d", "new", None).await, b"new");
        assert_eq!(att(&b, "d", "old", None).await, b"old");
    });
}

#[test]
fn a_target_lacking_data_its_claimed_ancestor_should_have_gets_it_on_a_second_try() {
    block_on(async {
        let (a, b) = (mem_db("a"), mem_db("b"));
        put(&a, json!({"_id": "d", "_attachments": {"f": inline(b"data")}})).await;
        // A target with nothing in it is not asked `revs_diff` (see `replicate::reader`).
        put(&b, json!({"_id": "unrelated"})).await;
        let target = RemoteLike::new(LocalPeer::new(b.clone()));
        *target.fake_ancestor.borrow_mut() = Some("9-zzz".into());
        let res = run(&LocalPeer::new(a.clone()), &target).await;
        assert_eq!((res.docs_written, res.doc_write_failures), (1, 0));
        assert_eq!(*target.written_with_data.borrow(), vec![("d".to_string(), 0), ("d".to_string(), 1)]);
        assert_eq!(att(&b, "d", "f", None).await, b"data");
    });
}

#[test]
fn data_that_does_not_match_its_digest_fails_that_doc_and_is_never_stored() {
    block_on(async {
        let (a, b) = (mem_db("a"), mem_db("b"));
        put(&a, json!({"_id": "bad", "_attachments": {"corrupt.bin": inline(b"payload")}})).await;
        put(&a, json!({"_id": "good", "_attachments": {"fine.bin": inline(b"fine")}})).await;
        let source = RemoteLike::new(LocalPeer::new(a.clone()));
        let res = run(&source, &LocalPeer::new(b.clone())).await;
        assert_eq!((res.docs_written, res.doc_write_failures), (1, 1), "{:?}", res.errors);
        assert_eq!((res.errors[0].id.as_str(), res.errors[0].error.as_str()), ("bad", "bad_digest"));
        assert_eq!(b.get("bad", &json!({})).await.unwrap_err().status, 404);
        assert_eq!(att(&b, "good", "fine.bin", None).await, b"fine");
        assert_eq!(b.stored_attachments().await.unwrap().len(), 1, "the corrupt data was not stored");
    });
}

#[test]
fn a_conflict_where_one_side_changed_the_attachment_converges_with_both_leaves_readable() {
    block_on(async {
        let (a, b) = (mem_db("a"), mem_db("b"));
        let r1 = put(&a, json!({"_id": "d", "v": 0, "_attachments": {"f": inline(b"v1")}})).await;
        run(&LocalPeer::new(a.clone()), &LocalPeer::new(b.clone())).await;
        // a edits the body only; b replaces the attachment.
        let ra =
            put(&a, json!({"_id": "d", "_rev": r1, "v": 1, "_attachments": {"f": {"stub": true}}})).await;
        let rb = put(&b, json!({"_id": "d", "_rev": r1, "v": 0, "_attachments": {"f": inline(b"v2")}})).await;
        let o = ReplicateOptions::default();
        sync(&LocalPeer::new(a.clone()), &LocalPeer::new(b.clone()), &o, &o).await.unwrap();
        assert_eq!(snapshot(&a).await, snapshot(&b).await);
        let winner = parse(&a.get("d", &json!({"conflicts": true})).await.unwrap());
        assert_eq!(winner["_conflicts"].as_array().unwrap().len(), 1);
        for db in [&a, &b] {
            assert_eq!(att(db, "d", "f", Some(&ra)).await, b"v1");
            assert_eq!(att(db, "d", "f", Some(&rb)).await, b"v2");
        }
    });
}

/// A source that reports its `text/*` attachments as CouchDB does once it stored them
/// gzipped: a digest of bytes nobody else has (`md5-gz…` here), `encoding: "gzip"`, and the
/// decoded `length` (plus `.1` bytes, to lie about it). Its data comes back decoded, as a
/// browser's fetch hands it over.
struct Gzipped<P>(P, u64);

fn gzip_stubs(doc: &mut Value, extra: u64) {
    let Some(atts) = doc.get_mut("_attachments").and_then(Value::as_object_mut) else { return };
    for att in atts.values_mut() {
        let text = att["content_type"].as_str().is_some_and(|t| t.starts_with("text/"));
        if let (true, Some(d)) = (text, att["digest"].as_str().and_then(|d| d.strip_prefix("md5-"))) {
            att["digest"] = format!("md5-gz{d}").into();
            att["encoding"] = "gzip".into();
            att["encoded_length"] = 1.into();
            att["length"] = (att["length"].as_u64().unwrap_or_default() + extra).into();
        }
    }
}

#[async_trait::async_trait(?Send)]
impl<P: Peer> Peer for Gzipped<P> {
    async fn info(&self) -> settee::Result<settee::replicate::PeerInfo> {
        self.0.info().await
    }
    async fn changes(&self, since: &Seq, limit: usize, filter: &Filter) -> settee::Result<ChangesPage> {
        self.0.changes(since, limit, filter).await
    }
    async fn revs_diff(&self, revs: &RevsByDoc) -> settee::Result<RevsDiff> {
        self.0.revs_diff(revs).await
    }
    async fn bulk_get(&self, revs: &[RevRequest]) -> settee::Result<Vec<Fetched>> {
        let mut got = self.0.bulk_get(revs).await?;
        for f in &mut got {
            if let Fetched::Doc(d) = f {
                gzip_stubs(d, self.1);
            }
        }
        Ok(got)
    }
    async fn bulk_docs_replicated(&self, docs: &[Value], data: &AttMap) -> settee::Result<Vec<DocError>> {
        self.0.bulk_docs_replicated(docs, data).await
    }
    async fn has_attachments(&self, digests: &[String]) -> settee::Result<Option<Vec<bool>>> {
        self.0.has_attachments(digests).await
    }
    async fn get_attachment(&self, att: &AttRef) -> settee::Result<AttData> {
        let plain = AttRef { digest: att.digest.replacen("md5-gz", "md5-", 1), ..att.clone() };
        self.0.get_attachment(&plain).await
    }
    async fn get_local(&self, id: &str) -> settee::Result<Option<Value>> {
        self.0.get_local(id).await
    }
    async fn put_local(&self, doc: Value) -> settee::Result<String> {
        self.0.put_local(doc).await
    }
}

#[test]
fn a_gzipped_stub_is_stored_under_the_digest_of_its_data_and_not_fetched_again_for_a_later_edit() {
    block_on(async {
        let (a, b) = (mem_db("a"), mem_db("b"));
        let text = json!({"content_type": "text/plain", "data": "aGVsbG8gZ3ppcA=="}); // "hello gzip"
        let r1 = put(&a, json!({"_id": "d", "_attachments": {"t.txt": text, "b.bin": inline(b"bin")}})).await;
        let plain = parse(&a.get("d", &Value::Null).await.unwrap())["_attachments"].clone();
        let source = Counting::new(Gzipped(LocalPeer::new(a.clone()), 0));
        let res = run(&source, &LocalPeer::new(b.clone())).await;
        assert_eq!((res.docs_written, res.doc_write_failures), (1, 0), "{:?}", res.errors);
        assert_eq!(source.calls("get_attachment"), 2);
        let stored = parse(&b.get("d", &Value::Null).await.unwrap())["_attachments"].clone();
        assert_eq!(stored["t.txt"]["digest"], plain["t.txt"]["digest"], "the md5 of the decoded bytes");
        assert!(stored["t.txt"].get("encoding").is_none());
        assert_eq!(att(&b, "d", "t.txt", None).await, b"hello gzip");

        // An edit that keeps both stubs: the target's ancestor names the decoded data.
        put(&a, json!({"_id": "d", "_rev": r1, "v": 2, "_attachments": {"t.txt": {"stub": true}, "b.bin": {"stub": true}}}))
            .await;
        source.reset();
        let again = run(&source, &LocalPeer::new(b.clone())).await;
        assert_eq!((again.docs_written, again.doc_write_failures), (1, 0), "{:?}", again.errors);
        assert_eq!(source.calls("get_attachment"), 0, "nothing fetched again");
        assert_eq!(snapshot(&a).await, snapshot(&b).await);
    });
}

#[test]
fn a_gzipped_attachment_whose_decoded_length_is_not_its_stubs_fails_that_doc_alone() {
    block_on(async {
        let (a, b) = (mem_db("a"), mem_db("b"));
        let text = json!({"content_type": "text/plain", "data": "aGVsbG8="});
        put(&a, json!({"_id": "bad", "_attachments": {"t.txt": text.clone()}})).await;
        put(&a, json!({"_id": "good", "v": 1})).await;
        // Its stub claims one byte more than the data has.
        let res = run(&Gzipped(LocalPeer::new(a.clone()), 1), &LocalPeer::new(b.clone())).await;
        assert_eq!((res.docs_written, res.doc_write_failures), (1, 1), "{:?}", res.errors);
        assert_eq!((res.errors[0].id.as_str(), res.errors[0].error.as_str()), ("bad", "bad_digest"));
        assert!(b.get("bad", &Value::Null).await.is_err(), "nothing of it is stored");
    });
}
