//! What converged replicas must agree on, and CouchDB's winner rule as an oracle written here
//! from the leaves alone (not the crate's own winner function).

use crate::helpers::{parse, snapshot};
use serde_json::{json, Value};
use settee::db::Database;

/// A leaf with its history, as `open_revs` returns it.
#[derive(Clone, Debug)]
pub struct LeafInfo {
    pub pos: u64,
    pub hash: String,
    pub deleted: bool,
    /// Hashes from the leaf back to the oldest rev kept (`_revisions.ids`).
    pub ids: Vec<String>,
}

impl LeafInfo {
    pub fn rev(&self) -> String {
        format!("{}-{}", self.pos, self.hash)
    }
}

/// CouchDB's winner order, best first: a live leaf beats a deleted one, then the higher
/// generation, then the higher hash compared as a string. Written independently of the crate.
pub fn couchdb_order(a: &LeafInfo, b: &LeafInfo) -> std::cmp::Ordering {
    (!b.deleted, b.pos, b.hash.as_str()).cmp(&(!a.deleted, a.pos, a.hash.as_str()))
}

/// The doc's leaves, winner first by the oracle's order; none for a doc never written.
pub async fn leaves(db: &Database, id: &str) -> Vec<LeafInfo> {
    let Ok(text) = db.get(id, &json!({"open_revs": "all", "revs": true})).await else { return Vec::new() };
    let mut out: Vec<LeafInfo> = parse(&text)
        .as_array()
        .expect("open_revs answers an array")
        .iter()
        .filter_map(|row| row.get("ok"))
        .map(|doc| {
            let rev = doc["_rev"].as_str().unwrap();
            let (pos, hash) = rev.split_once('-').unwrap();
            let ids = doc["_revisions"]["ids"].as_array().unwrap();
            LeafInfo {
                pos: pos.parse().unwrap(),
                hash: hash.to_string(),
                deleted: doc["_deleted"] == true,
                ids: ids.iter().map(|h| h.as_str().unwrap().to_string()).collect(),
            }
        })
        .collect();
    out.sort_by(couchdb_order);
    out
}

/// What every replica must agree on: `snapshot` (leaves with `_revisions`, winners and
/// `_conflicts` in `_all_docs`, doc count) plus each doc's `_deleted_conflicts`.
pub async fn state(db: &Database) -> Value {
    let mut base = snapshot(db).await;
    let mut winners = serde_json::Map::new();
    for id in base["docs"].as_object().unwrap().keys() {
        let got = match db.get(id, &json!({"conflicts": true, "deleted_conflicts": true})).await {
            Ok(text) => parse(&text),
            Err(e) => json!({"status": e.status, "reason": e.reason}),
        };
        winners.insert(id.clone(), got);
    }
    base["winners"] = Value::Object(winners);
    base
}

/// Checks one replica's winners, conflicts and doc count against the oracle.
pub async fn check_winners(db: &Database, label: &str) {
    let changes = parse(&db.changes(&json!({"style": "all_docs"})).await.unwrap());
    let mut live = 0;
    for row in changes["results"].as_array().unwrap() {
        let id = row["id"].as_str().unwrap();
        let leaves = leaves(db, id).await;
        let winner = &leaves[0];
        let revs = |deleted: bool| -> Vec<String> {
            leaves[1..].iter().filter(|l| l.deleted == deleted).map(LeafInfo::rev).collect()
        };
        let place = format!("{label} {id}: leaves {leaves:?}");
        let inlined = db.get(id, &json!({"open_revs": "all", "attachments": true})).await;
        assert!(inlined.is_ok(), "every leaf's attachment data is stored, {place}: {inlined:?}");
        assert_eq!(row["changes"][0]["rev"], json!(winner.rev()), "changes lists the winner first, {place}");
        let mut listed: Vec<&str> =
            row["changes"].as_array().unwrap().iter().map(|c| c["rev"].as_str().unwrap()).collect();
        let mut all: Vec<String> = leaves.iter().map(LeafInfo::rev).collect();
        listed.sort_unstable();
        all.sort_unstable();
        assert_eq!(listed, all, "a style=all_docs change lists every leaf, {place}");
        assert_eq!(row["deleted"] == true, winner.deleted, "{place}");
        let got = db.get(id, &json!({"conflicts": true, "deleted_conflicts": true})).await;
        if winner.deleted {
            assert_eq!(got.unwrap_err().reason.as_deref(), Some("deleted"), "{place}");
            continue;
        }
        live += 1;
        let doc = parse(&got.unwrap());
        let listed = |field: &str| -> Vec<String> {
            doc.get(field)
                .map(|v| v.as_array().unwrap().iter().map(|r| r.as_str().unwrap().to_string()).collect())
                .unwrap_or_default()
        };
        assert_eq!(doc["_rev"], json!(winner.rev()), "{place}");
        assert_eq!(listed("_conflicts"), revs(false), "{place}");
        assert_eq!(listed("_deleted_conflicts"), revs(true), "{place}");
    }
    assert_eq!(parse(&db.info().await.unwrap())["doc_count"], live, "{label}: doc_count counts live winners");
}
