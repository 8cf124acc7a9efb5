//! `HttpPeer`: a remote CouchDB database as a replication peer.
//!
//! - Its id is the URL without credentials, so replication ids and checkpoints survive a
//!   password change and never contain one.
//! - `info` creates the database on a 404 when allowed (`create`); a 412 `file_exists` from a
//!   concurrent creator is success.
//! - `_bulk_get` is tried first; a 404/405/501 switches this peer to `open_revs` GETs for
//!   good, a few at a time (browsers allow ~6 connections per host).
//! - `wait_for_changes` is a longpoll `_changes?limit=1` held at most `longpoll.timeout_ms`
//!   plus a grace period, then re-asked: servers that ignore `timeout` cannot hang it forever.
//!   When more live replications wait on the same server than it has connections in the
//!   page's pool, it polls instead, in turn, woken early by `_db_updates` (`scheduler`).

use super::client::HttpClient;
use super::db_updates;
use super::timer::{now_ms, sleep};
use crate::error::{Error, Result};
use crate::kv::blobs::AttData;
use crate::replicate::peer::{
    AttMap, AttRef, ChangesPage, DocError, Fetched, Filter, Peer, PeerInfo, RevRequest, RevsByDoc, RevsDiff,
    Seq,
};
use crate::replicate::remote::attachments as atts;
use crate::replicate::remote::protocol::{self as p, Call, Longpoll};
use crate::replicate::remote::url::doc_path;
use crate::replicate::remote::url::DbUrl;
use crate::replicate::scheduler;
use async_trait::async_trait;
use base64::engine::general_purpose::STANDARD;
use base64::Engine;
use futures::future::{select, Either};
use serde_json::Value;
use std::cell::Cell;
use std::collections::BTreeMap;
use wasm_bindgen::JsValue;

/// How many `open_revs` GETs run at once in the fallback.
const OPEN_REVS_PARALLEL: usize = 4;
/// Added to the longpoll timeout before the client gives up on the request itself.
const LONGPOLL_GRACE_MS: u64 = 5_000;

pub const DEFAULT_LONGPOLL: Longpoll = Longpoll { timeout_ms: 25_000, heartbeat_ms: 10_000 };

pub struct HttpPeer {
    client: HttpClient,
    create: Cell<bool>,
    exists: Cell<bool>,
    bulk_get: Cell<bool>,
    longpoll: Cell<Longpoll>,
}

impl HttpPeer {
    /// `create`: whether `info` may create a missing database.
    pub fn new(url: DbUrl, create: bool) -> HttpPeer {
        HttpPeer {
            client: HttpClient::new(url),
            create: Cell::new(create),
            exists: Cell::new(false),
            bulk_get: Cell::new(true),
            longpoll: Cell::new(DEFAULT_LONGPOLL),
        }
    }

    pub fn client(&self) -> &HttpClient {
        &self.client
    }

    pub fn set_longpoll(&self, longpoll: Longpoll) {
        self.longpoll.set(longpoll);
    }

    /// Lets the next `info` create the database if it is missing (`create_target`).
    pub fn allow_create(&self) {
        self.create.set(true);
    }

    /// `GET /db`, creating the database first when it is missing and creation is allowed.
    pub async fn db_info(&self) -> Result<Value> {
        let get = Call { method: "GET", path: String::new(), query: vec![], body: None };
        match self.client.call(&get).await {
            Err(e) if e.status == 404 && self.create.get() && !self.exists.get() => {
                let put = Call { method: "PUT", ..get.clone() };
                match self.client.call(&put).await {
                    Ok(_) => {}
                    Err(e) if e.status == 412 => {}
                    Err(e) => return Err(e),
                }
                self.exists.set(true);
                self.client.call(&get).await
            }
            other => {
                if other.is_ok() {
                    self.exists.set(true);
                }
                other
            }
        }
    }

    /// One longpoll `_changes?limit=1`: `None` when the source has a change past `since`,
    /// else the seq to ask from next.
    async fn longpoll_once(&self, since: &Seq, filter: &Filter) -> Result<Option<Seq>> {
        let longpoll = self.longpoll.get();
        let call = p::changes_call(since, 1, filter, Some(longpoll));
        let waited = longpoll.timeout_ms + LONGPOLL_GRACE_MS;
        match self.client.call_with_timeout(&call, waited).await? {
            Some(body) => {
                let page = p::parse_changes(&body, since, 1);
                Ok((page.results.is_empty()).then_some(page.last_seq))
            }
            None => Ok(Some(since.clone())),
        }
    }

    async fn open_revs(&self, id: &str, revs: &[&str]) -> Result<Vec<Fetched>> {
        match self.client.call(&p::open_revs_call(id, revs)).await {
            Ok(body) => Ok(p::parse_open_revs(id, &body)),
            Err(e) if e.status == 404 => Ok(revs
                .iter()
                .map(|rev| {
                    Fetched::Error(DocError {
                        id: id.into(),
                        rev: Some(rev.to_string()),
                        status: 404,
                        error: "not_found".into(),
                        reason: "missing".into(),
                    })
                })
                .collect()),
            Err(e) => Err(e),
        }
    }

    async fn bulk_get_by_open_revs(&self, revs: &[RevRequest]) -> Result<Vec<Fetched>> {
        let mut by_id: BTreeMap<&str, Vec<&str>> = BTreeMap::new();
        for r in revs {
            by_id.entry(&r.id).or_default().push(&r.rev);
        }
        let groups: Vec<(&str, Vec<&str>)> = by_id.into_iter().collect();
        let mut out = Vec::new();
        for chunk in groups.chunks(OPEN_REVS_PARALLEL) {
            let answers =
                futures::future::join_all(chunk.iter().map(|(id, revs)| self.open_revs(id, revs))).await;
            for a in answers {
                out.extend(a?);
            }
        }
        Ok(out)
    }
}

impl HttpPeer {
    /// One doc as `multipart/related`; a per-doc refusal (4xx) is its failure, anything else
    /// fails the request.
    async fn put_multipart(&self, doc: &Value, data: &AttMap) -> Result<Option<DocError>> {
        let sent = atts::sent_stubs(doc, data);
        let names: Vec<&str> = sent.iter().map(|(n, _)| *n).collect();
        let boundary = format!("settee-{}", js_sys::Math::random().to_bits());
        let parts = js_sys::Array::new();
        let mut text = format!(
            "--{boundary}\r\nContent-Type: application/json\r\n\r\n{}",
            atts::multipart_json(doc, &names)
        );
        for (name, digest) in &sent {
            let att = &doc["_attachments"][*name];
            let ty = att["content_type"].as_str().unwrap_or("application/octet-stream");
            let d = &data[*digest];
            text.push_str(&format!("\r\n--{boundary}\r\n{}", atts::part_head(name, ty, d.len())));
            parts.push(&JsValue::from_str(&text));
            parts.push(d.to_blob(ty)?.as_ref());
            text.clear();
        }
        parts.push(&JsValue::from_str(&format!("\r\n--{boundary}--")));
        let body = web_sys::Blob::new_with_blob_sequence(&parts)
            .map_err(|_| Error::storage("cannot assemble a multipart body"))?;
        let id = doc["_id"].as_str().unwrap_or_default();
        let content_type = format!("multipart/related; boundary=\"{boundary}\"");
        match self.client.call_with_body(&atts::put_replicated_call(id), &body, &content_type).await {
            Ok(_) => Ok(None),
            Err(e) if (400..500).contains(&e.status) && e.status != 401 => Ok(Some(DocError {
                id: id.to_string(),
                rev: doc["_rev"].as_str().map(str::to_string),
                status: e.status,
                error: e.name.to_string(),
                reason: e.reason.clone().unwrap_or(e.message.clone()),
            })),
            Err(e) => Err(e),
        }
    }
}

#[async_trait(?Send)]
impl Peer for HttpPeer {
    async fn info(&self) -> Result<PeerInfo> {
        let info = self.db_info().await?;
        Ok(PeerInfo { id: self.client.url().id().to_string(), update_seq: Seq(info["update_seq"].clone()) })
    }

    async fn changes(&self, since: &Seq, limit: usize, filter: &Filter) -> Result<ChangesPage> {
        let body = self.client.call(&p::changes_call(since, limit, filter, None)).await?;
        Ok(p::parse_changes(&body, since, limit))
    }

    async fn changes_with_docs(&self, since: &Seq, limit: usize, filter: &Filter) -> Result<ChangesPage> {
        let body = self.client.call(&p::with_docs(p::changes_call(since, limit, filter, None))).await?;
        Ok(p::parse_changes_with_docs(body, since, limit))
    }

    async fn revs_diff(&self, revs: &RevsByDoc) -> Result<RevsDiff> {
        if revs.is_empty() {
            return Ok(RevsDiff::new());
        }
        Ok(p::parse_revs_diff(&self.client.call(&p::revs_diff_call(revs)).await?))
    }

    async fn bulk_get(&self, revs: &[RevRequest]) -> Result<Vec<Fetched>> {
        if revs.is_empty() {
            return Ok(Vec::new());
        }
        if self.bulk_get.get() {
            match self.client.call(&p::bulk_get_call(revs)).await {
                Ok(body) => return Ok(p::parse_bulk_get(&body)),
                Err(e) if p::bulk_get_unsupported(e.status) => self.bulk_get.set(false),
                Err(e) => return Err(e),
            }
        }
        self.bulk_get_by_open_revs(revs).await
    }

    /// Docs with little data (≤ `INLINE_MAX` each) go in one `_bulk_docs` with it inline;
    /// each other one is a multipart `PUT` whose body is assembled from `Blob`s.
    async fn bulk_docs_replicated(&self, docs: &[Value], data: &AttMap) -> Result<Vec<DocError>> {
        let mut bulk = Vec::with_capacity(docs.len());
        let mut heavy = Vec::new();
        for doc in docs {
            let sent = atts::sent_stubs(doc, data);
            let size: u64 = sent.iter().map(|(_, d)| data[*d].len()).sum();
            if sent.is_empty() {
                bulk.push(doc.clone());
            } else if size <= atts::INLINE_MAX {
                let mut encoded = std::collections::HashMap::new();
                for (name, digest) in sent {
                    encoded.insert(name.to_string(), STANDARD.encode(data[digest].to_vec().await?));
                }
                let mut doc = doc.clone();
                atts::inline(&mut doc, &encoded);
                bulk.push(doc);
            } else {
                heavy.push(doc);
            }
        }
        let mut failures = Vec::new();
        let mut queue = vec![bulk];
        while let Some(batch) = queue.pop() {
            if batch.is_empty() {
                continue;
            }
            match self.client.call(&p::bulk_docs_call(&batch, false)).await {
                Ok(body) => failures.extend(p::parse_bulk_docs_failures(&batch, &body)),
                Err(e) if e.status == 413 => {
                    let (failed, again) = p::split_too_large(batch, &e);
                    failures.extend(failed);
                    queue.extend(again);
                }
                Err(e) => return Err(e),
            }
        }
        for doc in heavy {
            if let Some(f) = self.put_multipart(doc, data).await? {
                failures.push(f);
            }
        }
        Ok(failures)
    }

    async fn has_attachments(&self, _digests: &[String]) -> Result<Option<Vec<bool>>> {
        Ok(None)
    }

    async fn get_attachment(&self, att: &AttRef) -> Result<AttData> {
        Ok(AttData::Blob(self.client.call_for_blob(&atts::attachment_call(att)).await?))
    }

    async fn get_local(&self, id: &str) -> Result<Option<Value>> {
        let call = Call { method: "GET", path: doc_path(id), query: vec![], body: None };
        match self.client.call(&call).await {
            Ok(doc) => Ok(Some(doc)),
            Err(e) if e.status == 404 => Ok(None),
            Err(e) => Err(e),
        }
    }

    async fn put_local(&self, doc: Value) -> Result<String> {
        let id = doc["_id"].as_str().ok_or_else(Error::missing_id)?.to_string();
        let call = Call { method: "PUT", path: doc_path(&id), query: vec![], body: Some(doc) };
        let answer = self.client.call(&call).await?;
        Ok(answer["rev"].as_str().unwrap_or_default().to_string())
    }

    async fn wait_for_changes(&self, since: &Seq, filter: &Filter) -> Result<()> {
        let origin = self.client.origin().clone();
        let waiting = origin.wait();
        let signal = origin.db_signal(&self.client.url().db_name());
        let mut since = since.clone();
        loop {
            let settings = scheduler::settings();
            if origin.longpoll_allowed() {
                waiting.set_polling(false);
                let seen = origin.preempt.generation();
                let poll = Box::pin(self.longpoll_once(&since, filter));
                let next = match select(poll, origin.preempt.changed_since(seen)).await {
                    Either::Left((answer, _)) => answer?,
                    // Too many waiters now: give the connection back and poll in turn.
                    Either::Right(_) => Some(since.clone()),
                };
                match next {
                    Some(next) => since = next,
                    None => return Ok(()),
                }
                continue;
            }
            waiting.set_polling(true);
            if origin.feed_wanted(now_ms(), &settings) {
                db_updates::start(&origin, self.client.url());
            }
            let (feed_seen, db_seen) = (origin.feed_changed.generation(), signal.generation());
            let call = p::changes_call(&since, 1, filter, None);
            let page = p::parse_changes(&self.client.call_background(&call).await?, &since, 1);
            if !page.results.is_empty() {
                return Ok(());
            }
            since = page.last_seq;
            let nap = Box::pin(sleep(origin.poll_sleep_ms(&settings)));
            let woken = select(signal.changed_since(db_seen), origin.feed_changed.changed_since(feed_seen));
            if let Either::Right((Either::Left(_), _)) = select(nap, Box::pin(woken)).await {
                // `_db_updates` named this database: the pass looks at once. A poll first would
                // cost the same request and delay it (an update the filter drops, or a
                // checkpoint write, makes an empty pass: no worse than the poll).
                return Ok(());
            }
        }
    }
}
