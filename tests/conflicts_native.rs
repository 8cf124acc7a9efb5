//! The conflict index and `Database::conflicts`, natively on the LSM tree over in-memory
//! records (so a database can be reopened): which docs are listed and with what, how the
//! index follows writes, deletes and reopen, how an old store without it is rebuilt, how
//! `verify` catches an index that disagrees with the docs, the deterministic winner, and the
//! conflict events of `ConflictFeed`.
#![cfg(not(target_arch = "wasm32"))]

use futures::executor::block_on;
use serde_json::{json, Value};
use settee::db::conflict_events::{ConflictEvent, ConflictFeed};
use settee::db::{keys, Database, DatabaseOptions};
use settee::error::Error;
use settee::kv::lsm::Lsm;
use settee::kv::records::MemoryRecords;
use settee::kv::{KvStore, WriteBatch};
use std::rc::Rc;

fn options() -> DatabaseOptions {
    DatabaseOptions { adapter: "memory", revs_limit: 1000, new_id: Box::new(|| "generated".to_string()) }
}

async fn open(records: &MemoryRecords) -> (Rc<Database>, Rc<dyn KvStore>) {
    let kv: Rc<dyn KvStore> = Rc::new(Lsm::open(records.reopen()).await.expect("opens"));
    (Rc::new(Database::new("t", kv.clone(), options())), kv)
}

fn parse(s: &str) -> Value {
    serde_json::from_str(s).expect("responses are JSON")
}

/// Writes one replicated revision of `id` with its path (newest first), as replication does.
async fn replicate(db: &Database, id: &str, path: &[&str], deleted: bool) {
    let (start, _) = path[0].split_once('-').unwrap();
    let ids: Vec<&str> = path.iter().map(|r| r.split_once('-').unwrap().1).collect();
    let mut doc = json!({"_id": id, "_rev": path[0], "_revisions": {"start": start.parse::<u64>().unwrap(), "ids": ids}, "from": path[0]});
    if deleted {
        doc["_deleted"] = json!(true);
    }
    let answer = db.bulk_docs(vec![doc], false).await.unwrap();
    assert_eq!(parse(&answer), json!([]), "the replicated write succeeds");
}

async fn conflicts(db: &Database, opts: Value) -> Value {
    parse(&db.conflicts(&opts).await.unwrap())["rows"].clone()
}

async fn put(db: &Database, doc: Value) -> String {
    parse(&db.put(doc, true).await.unwrap())["rev"].as_str().unwrap().to_string()
}

#[test]
fn a_replicated_branch_is_listed_with_its_winner_and_losers() {
    block_on(async {
        let (db, _) = open(&MemoryRecords::new()).await;
        put(&db, json!({"_id": "calm"})).await;
        replicate(&db, "doc", &["1-a"], false).await;
        assert_eq!(conflicts(&db, json!({})).await, json!([]), "one leaf is no conflict");
        replicate(&db, "doc", &["1-b"], false).await;
        assert_eq!(
            conflicts(&db, json!({})).await,
            json!([{"id": "doc", "rev": "1-b", "conflicts": ["1-a"]}])
        );
        let rows = conflicts(&db, json!({"include_docs": true})).await;
        assert_eq!(
            rows[0]["doc"],
            json!({"_id": "doc", "_rev": "1-b", "from": "1-b", "_conflicts": ["1-a"]}),
            "the doc is the winner with its _conflicts, as get({{conflicts: true}}) gives it"
        );
        let got = parse(&db.get("doc", &json!({"conflicts": true})).await.unwrap());
        assert_eq!(got, rows[0]["doc"]);
    });
}

#[test]
fn deleting_a_loser_resolves_the_conflict_and_removes_the_entry() {
    block_on(async {
        let (db, _) = open(&MemoryRecords::new()).await;
        for rev in ["1-a", "1-b", "1-c"] {
            replicate(&db, "doc", &[rev], false).await;
        }
        assert_eq!(conflicts(&db, json!({})).await[0]["conflicts"], json!(["1-b", "1-a"]));
        db.remove("doc", "1-a").await.unwrap();
        assert_eq!(
            conflicts(&db, json!({})).await,
            json!([{"id": "doc", "rev": "1-c", "conflicts": ["1-b"]}])
        );
        db.remove("doc", "1-b").await.unwrap();
        assert_eq!(conflicts(&db, json!({})).await, json!([]));
        assert_eq!(db.verify_report().await.unwrap().conflicts, 0);
    });
}

#[test]
fn a_doc_deleted_on_every_branch_has_no_conflicts() {
    block_on(async {
        let (db, _) = open(&MemoryRecords::new()).await;
        replicate(&db, "doc", &["1-a"], false).await;
        replicate(&db, "doc", &["1-b"], false).await;
        db.remove("doc", "1-b").await.unwrap();
        // Now 1-a is the winner and the deleted 2-… a deleted conflict, not a conflict.
        assert_eq!(conflicts(&db, json!({})).await, json!([]));
        replicate(&db, "doc", &["1-c"], false).await;
        assert_eq!(conflicts(&db, json!({})).await[0]["conflicts"], json!(["1-a"]));
        db.remove("doc", "1-c").await.unwrap();
        db.remove("doc", "1-a").await.unwrap();
        assert_eq!(conflicts(&db, json!({})).await, json!([]));
        assert!(db.get("doc", &json!({})).await.is_err(), "the doc is deleted");
    });
}

#[test]
fn the_index_survives_a_reopen_and_verify_counts_it() {
    block_on(async {
        let records = MemoryRecords::new();
        let (db, _) = open(&records).await;
        for id in ["x", "y"] {
            replicate(&db, id, &["1-a"], false).await;
            replicate(&db, id, &["1-b"], false).await;
        }
        db.close();
        let (db, _) = open(&records).await;
        let rows = conflicts(&db, json!({})).await;
        assert_eq!(
            rows.as_array().unwrap().iter().map(|r| r["id"].clone()).collect::<Vec<_>>(),
            [json!("x"), json!("y")]
        );
        assert_eq!(db.verify_report().await.unwrap().conflicts, 2);
    });
}

#[test]
fn limit_skip_and_keys_page_through_the_index() {
    block_on(async {
        let (db, _) = open(&MemoryRecords::new()).await;
        for id in ["a", "b", "c", "d"] {
            replicate(&db, id, &["1-a"], false).await;
            replicate(&db, id, &["1-b"], false).await;
        }
        let ids = |rows: Value| {
            rows.as_array().unwrap().iter().map(|r| r["id"].as_str().unwrap().to_string()).collect::<Vec<_>>()
        };
        assert_eq!(ids(conflicts(&db, json!({"limit": 2})).await), ["a", "b"]);
        assert_eq!(ids(conflicts(&db, json!({"limit": 2, "skip": 1})).await), ["b", "c"]);
        assert_eq!(ids(conflicts(&db, json!({"startkey": "b", "endkey": "c"})).await), ["b", "c"]);
        assert_eq!(ids(conflicts(&db, json!({"limit": 0})).await), Vec::<String>::new());
        assert_eq!(ids(conflicts(&db, json!({"startkey": "c", "endkey": "b"})).await), Vec::<String>::new());
        let e = db.conflicts(&json!({"limit": -1})).await.unwrap_err();
        assert_eq!(e.status, 400);
    });
}

/// Removes the index and its flag, as a store written before the index existed has neither.
async fn forget_index(kv: &Rc<dyn KvStore>) {
    let mut batch = WriteBatch::new();
    for (k, _) in kv.scan(settee::kv::Range::prefix(&[keys::CONFLICT]), false, None).await.unwrap() {
        batch.delete(k);
    }
    batch.delete(keys::meta("conflicts"));
    kv.write(batch, None).await.unwrap();
}

#[test]
fn an_old_store_without_the_index_gets_it_built_on_first_use() {
    block_on(async {
        let records = MemoryRecords::new();
        let (db, kv) = open(&records).await;
        for id in ["p", "q"] {
            replicate(&db, id, &["1-a"], false).await;
            replicate(&db, id, &["1-b"], false).await;
        }
        forget_index(&kv).await;
        db.close();
        let (db, kv) = open(&records).await;
        // Without its flag the index is not checked: this store is as an old version left it.
        assert_eq!(db.verify_report().await.unwrap().conflicts, 0);
        assert_eq!(conflicts(&db, json!({})).await.as_array().unwrap().len(), 2);
        assert!(
            kv.get(&keys::meta("conflicts")).await.unwrap().is_some(),
            "the flag is written with the index"
        );
        assert_eq!(db.verify_report().await.unwrap().conflicts, 2);
    });
}

#[test]
fn building_the_index_drops_stale_entries_and_an_empty_database_writes_nothing() {
    block_on(async {
        let (empty, kv) = open(&MemoryRecords::new()).await;
        let version = kv.version();
        empty.ensure_conflict_index().await.unwrap();
        assert_eq!(kv.version(), version, "opening a new database writes nothing");
        let (db, kv) = open(&MemoryRecords::new()).await;
        replicate(&db, "real", &["1-a"], false).await;
        replicate(&db, "real", &["1-b"], false).await;
        forget_index(&kv).await;
        // An entry no doc calls for, as an old version's write could not have removed it.
        let entry = br#"{"rev":"1-a","conflicts":["1-0"]}"#.to_vec();
        kv.write(WriteBatch { ops: vec![(keys::conflict("stale"), Some(entry))] }, None).await.unwrap();
        db.ensure_conflict_index().await.unwrap();
        let rows = conflicts(&db, json!({})).await;
        assert_eq!(rows, json!([{"id": "real", "rev": "1-b", "conflicts": ["1-a"]}]));
        assert_eq!(db.verify_report().await.unwrap().conflicts, 1);
    });
}

fn assert_corruption(e: Error, message: &str) {
    assert_eq!((e.status, e.name), (500, "corruption"), "{e:?}");
    assert_eq!(e.message, message);
}

#[test]
fn verify_reports_a_missing_an_extra_or_a_wrong_entry() {
    block_on(async {
        let (db, kv) = open(&MemoryRecords::new()).await;
        replicate(&db, "c1", &["1-a"], false).await;
        replicate(&db, "c1", &["1-b"], false).await;
        put(&db, json!({"_id": "plain"})).await;
        let entry = kv.get(&keys::conflict("c1")).await.unwrap().expect("an entry");
        assert_eq!(db.verify_report().await.unwrap().conflicts, 1);

        kv.write(WriteBatch { ops: vec![(keys::conflict("c1"), None)] }, None).await.unwrap();
        assert_corruption(
            db.verify_report().await.unwrap_err(),
            r#"corrupt conflict index: doc "c1" has conflicts but no entry"#,
        );

        let ops =
            vec![(keys::conflict("c1"), Some(entry.clone())), (keys::conflict("plain"), Some(entry.clone()))];
        kv.write(WriteBatch { ops }, None).await.unwrap();
        assert_corruption(
            db.verify_report().await.unwrap_err(),
            r#"corrupt conflict index: an entry for doc "plain", which has no conflicts"#,
        );

        let ops = vec![(keys::conflict("plain"), None), (keys::conflict("c1"), Some(b"{}".to_vec()))];
        kv.write(WriteBatch { ops }, None).await.unwrap();
        assert_corruption(
            db.verify_report().await.unwrap_err(),
            r#"corrupt conflict index: the entry for doc "c1" disagrees with its rev tree"#,
        );
    });
}

/// The winner and conflicts of `id`, as `get` reports them.
async fn winner(db: &Database, id: &str) -> (String, Value) {
    let doc = parse(&db.get(id, &json!({"conflicts": true})).await.unwrap());
    (doc["_rev"].as_str().unwrap().to_string(), doc.get("_conflicts").cloned().unwrap_or(json!([])))
}

#[test]
fn the_winner_is_live_then_longest_then_the_greater_hash() {
    block_on(async {
        let (db, _) = open(&MemoryRecords::new()).await;
        // Same generation: the byte-wise greater hash wins ('a' > 'B' > '9').
        for rev in ["1-B", "1-a", "1-9"] {
            replicate(&db, "hash", &[rev], false).await;
        }
        assert_eq!(winner(&db, "hash").await, ("1-a".to_string(), json!(["1-B", "1-9"])));
        // A longer path beats a greater hash.
        replicate(&db, "long", &["2-zzz", "1-x"], false).await;
        replicate(&db, "long", &["3-aaa", "2-aab", "1-x"], false).await;
        assert_eq!(winner(&db, "long").await, ("3-aaa".to_string(), json!(["2-zzz"])));
        // A live leaf beats a longer deleted one, and the deleted one is no conflict.
        replicate(&db, "dead", &["2-aaa", "1-x"], false).await;
        replicate(&db, "dead", &["3-zzz", "2-zzy", "1-x"], true).await;
        assert_eq!(winner(&db, "dead").await, ("2-aaa".to_string(), json!([])));
        let rows = conflicts(&db, json!({})).await;
        assert_eq!(
            rows,
            json!([
                {"id": "hash", "rev": "1-a", "conflicts": ["1-B", "1-9"]},
                {"id": "long", "rev": "3-aaa", "conflicts": ["2-zzz"]},
            ])
        );
    });
}

async fn next_events(feed: &ConflictFeed) -> Vec<ConflictEvent> {
    feed.next().await.unwrap().expect("the feed is open")
}

#[test]
fn a_write_that_adds_a_conflicting_leaf_is_an_event_and_other_writes_are_not() {
    block_on(async {
        let (db, _) = open(&MemoryRecords::new()).await;
        let feed = ConflictFeed::new(db.clone());
        replicate(&db, "doc", &["1-a"], false).await;
        replicate(&db, "doc", &["1-b"], false).await;
        let events = next_events(&feed).await;
        let want = ConflictEvent {
            id: "doc".into(),
            rev: "1-b".into(),
            conflicts: vec!["1-a".into()],
            replicated: false,
        };
        assert_eq!(events, [want]);

        // Editing the winner, or deleting a loser: no new live leaf, so no event.
        let rev = put(&db, json!({"_id": "doc", "_rev": "1-b", "v": 2})).await;
        db.remove("doc", "1-a").await.unwrap();
        // A forced put on an old rev forks the tree: the next event is that one.
        let forked = parse(&db.put_forced(json!({"_id": "doc", "_rev": "1-b", "v": 3})).await.unwrap());
        let events = next_events(&feed).await;
        assert_eq!(events.len(), 1, "{events:?}");
        let mut want = vec![rev.clone(), forked["rev"].as_str().unwrap().to_string()];
        want.sort_by(|a, b| b.cmp(a));
        assert_eq!(vec![events[0].rev.clone(), events[0].conflicts[0].clone()], want);

        feed.cancel();
        assert!(feed.next().await.unwrap().is_none(), "a cancelled feed ends");
    });
}

#[test]
fn a_new_branch_in_a_batch_that_also_deletes_a_loser_is_an_event() {
    block_on(async {
        let (db, _) = open(&MemoryRecords::new()).await;
        replicate(&db, "doc", &["1-a"], false).await;
        replicate(&db, "doc", &["1-b"], false).await;
        let feed = ConflictFeed::new(db.clone());
        // One batch: 1-a's branch ends in a deletion and a new branch 1-z appears, so the
        // doc still has two live leaves, but 1-z is a conflict it did not have.
        let deletion = json!({"_id": "doc", "_rev": "2-d", "_deleted": true, "_revisions": {"start": 2, "ids": ["d", "a"]}});
        let branch = json!({"_id": "doc", "_rev": "1-z"});
        assert_eq!(parse(&db.bulk_docs(vec![deletion, branch], false).await.unwrap()), json!([]));
        // And editing the loser 1-b afterwards is not one.
        replicate(&db, "doc", &["2-e", "1-b"], false).await;
        replicate(&db, "other", &["1-a"], false).await;
        replicate(&db, "other", &["1-b"], false).await;
        let ids: Vec<String> = next_events(&feed).await.into_iter().map(|e| e.id + " " + &e.rev).collect();
        assert_eq!(ids, ["doc 1-z", "other 1-b"]);
    });
}

#[test]
fn a_feed_ends_when_the_database_closes() {
    block_on(async {
        let (db, _) = open(&MemoryRecords::new()).await;
        let feed = ConflictFeed::new(db.clone());
        db.close();
        assert!(feed.next().await.unwrap().is_none());
    });
}
