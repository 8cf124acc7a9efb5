//! `LocalPeer`: a Settee `Database` as a replication peer.
//!
//! - Its id is the database name unless given one. Two peers with the same id would share
//!   replication ids (and checkpoints) in both directions, so callers must keep ids distinct.
//! - Seqs are the database's integers, sent as JSON numbers.
//! - Every filter runs in the database's own changes feed (`db::changes_filter`), so `limit`
//!   counts matching rows and pages are read until that many match or the feed ends.
//!   - A selector is matched (`core::mango`) against each changed doc's winning body, as
//!     CouchDB's `_selector` does: a deleted winner is `{_id, _rev, _deleted: true}` plus
//!     whatever its tombstone kept, so deletions pass only selectors that match tombstones.
//!   - Named (design-doc) filters and `_view` need the `FilterContext` given by
//!     `with_filters` (the wasm layer compiles JS); without one they are a 400.
//! - `pending` is `update_seq - last_seq`: an upper bound, since a doc changed twice leaves a
//!   gap in the seq index.

use super::peer::{
    prefetched_docs, revs_diff_of, AttMap, AttRef, Change, ChangesPage, DocError, Fetched, Filter,
    MissingRevs, Peer, PeerInfo, RevRequest, RevsByDoc, RevsDiff, Seq,
};
use crate::db::changes_filter::FilterContext;
use crate::db::peer_api::{LatestRev, WriteResult};
use crate::db::shape::Shape;
use crate::db::Database;
use crate::error::{Error, Result};
use crate::kv::blobs::AttData;
use async_trait::async_trait;
use serde_json::{json, Value};
use std::rc::Rc;

pub struct LocalPeer {
    db: Rc<Database>,
    id: String,
    filters: FilterContext,
}

impl LocalPeer {
    pub fn new(db: Rc<Database>) -> LocalPeer {
        let id = db.name().to_string();
        LocalPeer { db, id, filters: FilterContext::default() }
    }

    pub fn with_id(db: Rc<Database>, id: impl Into<String>) -> LocalPeer {
        LocalPeer { db, id: id.into(), filters: FilterContext::default() }
    }

    /// Runs named and `_view` filters with `filters`' compiler.
    pub fn with_filters(mut self, filters: FilterContext) -> LocalPeer {
        self.filters = filters;
        self
    }

    pub fn database(&self) -> &Rc<Database> {
        &self.db
    }
}

fn parse(text: &str) -> Result<Value> {
    serde_json::from_str(text).map_err(|e| Error::storage(format!("unparsable response: {e}")))
}

fn strings(v: &Value) -> Vec<String> {
    v.as_array()
        .map(|a| a.iter().filter_map(|s| s.as_str().map(str::to_string)).collect())
        .unwrap_or_default()
}

impl LocalPeer {
    async fn page(&self, results: Vec<Change>, last_seq: u64, limit: usize) -> Result<ChangesPage> {
        let pending =
            if results.len() < limit { 0 } else { self.db.update_seq().await?.saturating_sub(last_seq) };
        Ok(ChangesPage {
            results,
            last_seq: Seq(Value::from(last_seq)),
            pending: Some(pending),
            docs: Default::default(),
        })
    }

    async fn feed(&self, since: &Seq, limit: usize, filter: &Filter, with_docs: bool) -> Result<ChangesPage> {
        let mut options = json!({"since": since.0, "limit": limit, "style": "all_docs"});
        if with_docs {
            options["include_docs"] = true.into();
        }
        match filter {
            Filter::None => {}
            Filter::DocIds(ids) => options["doc_ids"] = json!(ids),
            Filter::Selector(selector) => options["selector"] = selector.clone(),
            Filter::Named { name, query_params } => {
                if self.filters.compiler.is_none() {
                    return Err(Error::bad_request("named filters need a JavaScript engine"));
                }
                if name == "_view" {
                    options["filter"] = json!("_view");
                    options["view"] = query_params["view"].clone();
                } else {
                    options["filter"] = json!(name);
                    options["query_params"] = query_params.clone();
                }
            }
        }
        let mut page = parse(&self.db.changes_with(&options, Shape::Rows, &self.filters).await?)?;
        let rows = page["results"].as_array_mut().map(Vec::as_mut_slice).unwrap_or_default();
        let docs = if with_docs { prefetched_docs(rows) } else { Default::default() };
        let results: Vec<Change> = rows.iter().filter_map(Change::from_row).collect();
        let last_seq = page["last_seq"].as_u64().unwrap_or(0);
        Ok(ChangesPage { docs, ..self.page(results, last_seq, limit).await? })
    }
}

#[async_trait(?Send)]
impl Peer for LocalPeer {
    async fn info(&self) -> Result<PeerInfo> {
        let info = parse(&self.db.info().await?)?;
        Ok(PeerInfo { id: self.id.clone(), update_seq: Seq(info["update_seq"].clone()) })
    }

    async fn changes(&self, since: &Seq, limit: usize, filter: &Filter) -> Result<ChangesPage> {
        self.feed(since, limit, filter, false).await
    }

    /// The bodies come from the same read as the rows, which saves the target's `bulk_get`
    /// its own read transaction.
    async fn changes_with_docs(&self, since: &Seq, limit: usize, filter: &Filter) -> Result<ChangesPage> {
        self.feed(since, limit, filter, true).await
    }

    async fn revs_diff(&self, revs: &RevsByDoc) -> Result<RevsDiff> {
        let answer = parse(&self.db.revs_diff(&json!(revs)).await?)?;
        let Value::Object(map) = answer else { return Ok(RevsDiff::new()) };
        Ok(revs_diff_of(map.into_iter().map(|(id, e)| {
            let entry = MissingRevs {
                missing: strings(&e["missing"]),
                possible_ancestors: strings(&e["possible_ancestors"]),
            };
            (id, entry)
        })))
    }

    async fn bulk_get(&self, revs: &[RevRequest]) -> Result<Vec<Fetched>> {
        let wanted: Vec<(String, String)> = revs.iter().map(|r| (r.id.clone(), r.rev.clone())).collect();
        let rows = self.db.bulk_get_latest(&wanted).await?;
        rows.into_iter()
            .map(|row| match row {
                LatestRev::Doc(text) => parse(&text).map(Fetched::Doc),
                LatestRev::Missing { id, rev } => Ok(Fetched::Error(DocError {
                    id,
                    rev: Some(rev),
                    status: 404,
                    error: "not_found".into(),
                    reason: "missing".into(),
                })),
            })
            .collect()
    }

    async fn has_attachments(&self, digests: &[String]) -> Result<Option<Vec<bool>>> {
        self.db.has_attachment_data(digests).await.map(Some)
    }

    async fn stub_in_ancestor(&self, id: &str, revs: &[String], name: &str) -> Result<Option<(String, u64)>> {
        let mut revs: Vec<&String> = revs.iter().collect();
        revs.sort_by_key(|r| std::cmp::Reverse(r.split('-').next().and_then(|p| p.parse::<u64>().ok())));
        let answer = parse(&self.db.get(id, &serde_json::json!({ "open_revs": revs })).await?)?;
        let stub = answer.as_array().into_iter().flatten().find_map(|leaf| {
            let att = &leaf["ok"]["_attachments"][name];
            Some((att["digest"].as_str()?.to_string(), att["length"].as_u64()?))
        });
        Ok(stub)
    }

    /// By digest alone: data is content-addressed, whichever doc named it.
    async fn get_attachment(&self, att: &AttRef) -> Result<AttData> {
        self.db.attachment_data(&att.digest).await?.ok_or_else(Error::missing)
    }

    async fn bulk_docs_replicated(&self, docs: &[Value], data: &AttMap) -> Result<Vec<DocError>> {
        let results = self.db.bulk_docs_replicated(docs.to_vec(), data).await?;
        let failures = docs.iter().zip(results).filter_map(|(doc, result)| match result {
            WriteResult::Ok { .. } => None,
            WriteResult::Err { id, status, name, message, reason, .. } => Some(DocError {
                id: id.or_else(|| doc["_id"].as_str().map(str::to_string)).unwrap_or_default(),
                rev: doc["_rev"].as_str().map(str::to_string),
                status,
                error: name.to_string(),
                reason: reason.unwrap_or(message),
            }),
        });
        Ok(failures.collect())
    }

    async fn get_local(&self, id: &str) -> Result<Option<Value>> {
        match self.db.get(id, &Value::Null).await {
            Ok(text) => parse(&text).map(Some),
            Err(e) if e.status == 404 => Ok(None),
            Err(e) => Err(e),
        }
    }

    async fn put_local(&self, doc: Value) -> Result<String> {
        let answer = parse(&self.db.put(doc, true).await?)?;
        Ok(answer["rev"].as_str().unwrap_or_default().to_string())
    }

    /// Waits on the database's commit signal; reads the generation before looking, so a
    /// commit in between still wakes it.
    async fn wait_for_changes(&self, since: &Seq, filter: &Filter) -> Result<()> {
        let notify = self.db.notifier();
        let mut since = since.clone();
        loop {
            if self.db.is_closed() {
                return Err(Error::closed());
            }
            let seen = notify.generation();
            let page = self.changes(&since, 1, filter).await?;
            if !page.results.is_empty() {
                return Ok(());
            }
            since = page.last_seq;
            notify.changed_since(seen).await;
        }
    }
}
