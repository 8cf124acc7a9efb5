//! Databases for the fuzz targets, and what they require of answers and refusals.

use proptest::prelude::*;
use serde_json::{json, Value};
use settee::core::rev::Rev;
use settee::db::views::{signature, Emits, FnMap, ViewDef};
use settee::db::{Database, DatabaseOptions};
use settee::error::Error;
use settee::kv::memory::MemoryKv;
use std::cell::Cell;
use std::rc::Rc;

pub fn options() -> DatabaseOptions {
    let n = Rc::new(Cell::new(0u64));
    DatabaseOptions {
        adapter: "memory",
        revs_limit: 20,
        new_id: Box::new(move || {
            n.set(n.get() + 1);
            format!("gen{}", n.get())
        }),
    }
}

pub fn memory_db() -> Database {
    Database::new("fuzz", Rc::new(MemoryKv::new()), options())
}

/// Input from outside (a client's doc, a server's answer) that is refused is refused as a
/// client error, with a name JS can branch on.
pub fn refused_as_bad_input(e: &Error) -> Result<(), TestCaseError> {
    prop_assert!((400..500).contains(&e.status) && !e.name.is_empty(), "refused with {e:?}");
    Ok(())
}

/// Damaged stored bytes give the `corruption` error, or, when the damage hit the manifest's
/// format number, the refusal of a newer format.
pub fn refused_as_corruption(e: &Error) -> Result<(), TestCaseError> {
    prop_assert!(
        e.is_corruption() && e.status == 500 && e.message.starts_with("corrupt ")
            || e.message.contains("written by a newer Settee"),
        "refused with {e:?}"
    );
    Ok(())
}

/// Everything a database holds reads back: each doc with its history and conflicts, every
/// leaf, and the feeds. Called after writes that were accepted.
pub async fn reads_back(db: &Database) -> Result<(), TestCaseError> {
    let all = db.all_docs(&json!({"include_docs": true, "conflicts": true})).await;
    let all: Value = serde_json::from_str(&all.map_err(|e| TestCaseError::fail(format!("allDocs: {e}")))?)
        .map_err(|e| TestCaseError::fail(format!("allDocs gave bad JSON: {e}")))?;
    let changes = db.changes(&json!({"include_docs": true, "style": "all_docs", "conflicts": true})).await;
    prop_assert!(changes.is_ok(), "changes: {changes:?}");
    for row in all["rows"].as_array().into_iter().flatten() {
        let id = row["id"].as_str().unwrap_or_default();
        let one = db.get(id, &json!({"revs": true, "conflicts": true, "revs_info": true})).await;
        prop_assert!(one.is_ok(), "get {id:?}: {one:?}");
        let leaves = db.get(id, &json!({"open_revs": "all", "revs": true})).await;
        prop_assert!(leaves.is_ok(), "open_revs {id:?}: {leaves:?}");
    }
    Ok(())
}

pub fn rev_ok(s: &str) -> Result<(), TestCaseError> {
    if let Ok(rev) = Rev::parse(s) {
        prop_assert!(rev.pos > 0 && !rev.hash.is_empty());
        prop_assert_eq!(Rev::parse(&rev.to_string()).ok(), Some(rev));
    } else if let Err(e) = Rev::parse(s) {
        refused_as_bad_input(&e)?;
    }
    Ok(())
}

/// A temporary view emitting `doc.x`, so a database has view rows, back-index and meta.
pub fn x_view() -> ViewDef {
    let map = FnMap(|doc: &Value| -> settee::Result<Emits> {
        Ok(doc.get("x").map(|x| vec![(x.clone(), json!(1))]).unwrap_or_default())
    });
    ViewDef {
        ddoc: None,
        name: "x".into(),
        signature: signature("emit(doc.x, 1)", None),
        map: Rc::new(map),
        reduce: None,
    }
}

/// Every doc's leaves with their histories, by id: what replication must copy.
pub async fn leaves(db: &Database) -> Vec<(String, Vec<Value>)> {
    let changes: Value =
        serde_json::from_str(&db.changes(&json!({"style": "all_docs"})).await.unwrap()).unwrap();
    let mut out = Vec::new();
    for row in changes["results"].as_array().into_iter().flatten() {
        let id = row["id"].as_str().unwrap_or_default().to_string();
        let text = db.get(&id, &json!({"open_revs": "all", "revs": true})).await.unwrap();
        let mut leaves: Vec<Value> = serde_json::from_str(&text).unwrap();
        leaves.sort_by_key(|l| l["ok"]["_rev"].as_str().unwrap_or_default().to_string());
        out.push((id, leaves));
    }
    out.sort_by(|a, b| a.0.cmp(&b.0));
    out
}
