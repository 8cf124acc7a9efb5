//! Planning and committing writes: `bulk_docs` (both `new_edits` modes), `put`, `post`,
//! `remove`, and `compact`'s body sweep.
//!
//! A call reads every record it touches in one `get_many`, applies the docs in input order to
//! in-memory state (so two edits of one id in a batch see each other), and commits one batch.
//! A doc that fails (409, validation) yields an error row and leaves the others alone, except
//! in `write_all_or_nothing` (`resolveConflict`'s write), where any failure writes nothing.
//! The conflict index (`conflicts`) is written in the same batch as the doc records.

use super::conflict_events::ConflictEvent;
use super::doc::{is_local, parse_doc, ParsedDoc};
use super::doc_raw::{parse_doc_text, raw_id};
use super::group::{self, Docs};
use super::local::LocalPlan;
use super::record::{DocMeta, DocRecord};
use super::validate::{self, is_design};
use super::{attachments, conflicts, json, keys, Database, Meta};
use crate::core::rev::{new_rev_hash_of_json, Rev};
use crate::core::rev_tree::{Leaf, MergeOutcome, RevTree};
use crate::error::{Error, Result};
use crate::kv::{Range, WriteBatch};
use serde::Serialize;
use serde_json::value::RawValue;
use serde_json::{Map, Value};
use std::collections::{HashMap, HashSet};

/// How many stale-version retries before giving up (another tab keeps winning).
const MAX_ATTEMPTS: usize = 50;

#[derive(Debug, Clone, Serialize)]
#[serde(untagged)]
pub enum WriteResult {
    Ok {
        ok: bool,
        id: String,
        rev: String,
    },
    Err {
        id: Option<String>,
        error: bool,
        status: u16,
        name: &'static str,
        message: String,
        reason: Option<String>,
    },
}

impl WriteResult {
    fn ok(id: &str, rev: String) -> Self {
        WriteResult::Ok { ok: true, id: id.to_string(), rev }
    }
    fn err(id: Option<&str>, e: Error) -> Self {
        WriteResult::Err {
            id: id.map(str::to_string),
            error: true,
            status: e.status,
            name: e.name,
            message: e.message,
            reason: e.reason,
        }
    }
}

/// What a doc's stored record said before this batch (its tree moved into the plan).
struct OldDoc {
    seq: u64,
    winner: Option<Leaf>,
    /// The old winner's body, stored inline in its record.
    winner_body: Option<Vec<u8>>,
}

impl OldDoc {
    /// The old winner, if it is `rev`.
    fn winner_is(&self, rev: &Rev) -> bool {
        self.winner.as_ref().is_some_and(|w| &w.rev == rev)
    }
}

/// A doc's state while a batch is planned.
struct DocPlan {
    old: Option<OldDoc>,
    tree: RevTree,
    /// Bodies written by this batch, by rev (nearly always one: a short list, no hashing).
    new_bodies: Vec<(Rev, Vec<u8>)>,
    /// Bodies to delete (stemmed away).
    dropped: Vec<Rev>,
    changed: bool,
    /// Non-deleted leaves before this batch: more than one means a conflict-index entry to
    /// update or delete.
    old_live_leaves: usize,
    /// Those leaves, kept only when there were two or more (a doc with conflicts already; see
    /// `adds_conflict`).
    old_conflicted: Vec<Rev>,
    /// A doc of this batch from a peer changed it (the event's `replicated`).
    from_peer: bool,
}

impl DocPlan {
    fn new(old: Option<DocRecord>) -> Self {
        let (old, tree) = match old {
            Some(r) => {
                let winner = r.meta.tree.winner();
                (Some(OldDoc { seq: r.meta.seq, winner, winner_body: r.winner_body }), r.meta.tree)
            }
            None => (None, RevTree::default()),
        };
        let old_live_leaves = tree.live_leaf_count();
        let old_conflicted = match old_live_leaves {
            0 | 1 => Vec::new(),
            _ => tree.leaves().into_iter().filter(|l| !l.deleted).map(|l| l.rev).collect(),
        };
        DocPlan {
            old,
            tree,
            new_bodies: Vec::new(),
            dropped: Vec::new(),
            changed: false,
            old_live_leaves,
            old_conflicted,
            from_peer: false,
        }
    }

    fn new_body(&self, rev: &Rev) -> Option<&Vec<u8>> {
        self.new_bodies.iter().find(|(r, _)| r == rev).map(|(_, b)| b)
    }

    /// The current winner as `validate_doc_update`'s `oldDoc` (`None`: no doc, or deleted).
    fn winner_json(&self, id: &str) -> Option<String> {
        let w = self.tree.winner().filter(|w| !w.deleted)?;
        let old_body =
            || self.old.as_ref().filter(|o| o.winner_is(&w.rev)).and_then(|o| o.winner_body.as_deref());
        let body = self.new_body(&w.rev).map(Vec::as_slice).or_else(old_body);
        validate::old_doc_json(id, &self.tree, body)
    }

    fn take_new_body(&mut self, rev: &Rev) -> Option<Vec<u8>> {
        let i = self.new_bodies.iter().position(|(r, _)| r == rev)?;
        Some(self.new_bodies.swap_remove(i).1)
    }
}

/// The plans of a batch's docs, by id: `ids` sorted and deduplicated, `plans` in the same order
/// (a binary search instead of hashing every id).
struct Plans<'a> {
    ids: Vec<&'a str>,
    plans: Vec<DocPlan>,
}

impl Plans<'_> {
    fn get(&self, id: &str) -> Option<&DocPlan> {
        self.ids.binary_search(&id).ok().map(|i| &self.plans[i])
    }

    fn get_mut(&mut self, id: &str) -> Option<&mut DocPlan> {
        self.ids.binary_search(&id).ok().map(|i| &mut self.plans[i])
    }
}

impl Database {
    pub async fn put(&self, doc: Value, new_edits: bool) -> Result<String> {
        match &doc {
            Value::Object(m) if !m.contains_key("_id") => return Err(Error::missing_id()),
            Value::Object(_) => {}
            _ => return Err(Error::not_an_object()),
        }
        self.single(doc, new_edits).await
    }

    /// `put(doc, {force: true})` (PouchDB's): a new revision on top of `_rev` even when that
    /// is no longer a leaf, which then starts a branch (a conflict) instead of failing with 409.
    /// It is written as a replicated revision (`new_edits: false`) whose parent is `_rev`, as
    /// PouchDB does; without a `_rev` it is a plain `put`.
    pub async fn put_forced(&self, mut doc: Value) -> Result<String> {
        let Value::Object(m) = &mut doc else { return Err(Error::not_an_object()) };
        if !m.contains_key("_id") {
            return Err(Error::missing_id());
        }
        let Some(parent) = m.get("_rev").and_then(Value::as_str) else { return self.put(doc, true).await };
        let parent: crate::core::rev::Rev =
            parent.parse().map_err(|_| Error::invalid_rev("Invalid rev format"))?;
        let deleted = m.get("_deleted") == Some(&Value::Bool(true));
        let hash = crate::core::rev::new_rev_hash(Some(&parent), deleted, &doc);
        let rev = format!("{}-{hash}", parent.pos + 1);
        let Value::Object(m) = &mut doc else { unreachable!("checked above") };
        m.insert("_rev".into(), Value::String(rev.clone()));
        let ids = vec![hash, parent.hash.clone()];
        m.insert("_revisions".into(), serde_json::json!({"start": parent.pos + 1, "ids": ids}));
        let id = m.get("_id").cloned().unwrap_or(Value::Null);
        match self.bulk_docs_results(vec![doc], false).await?.pop() {
            Some(WriteResult::Err { status, name, message, reason, .. }) => {
                Err(Error { status, name, message, reason })
            }
            _ => Ok(json::to_json(&serde_json::json!({"ok": true, "id": id, "rev": rev}))),
        }
    }

    pub async fn post(&self, mut doc: Value) -> Result<String> {
        let Value::Object(m) = &mut doc else { return Err(Error::not_an_object()) };
        if !m.contains_key("_id") {
            m.insert("_id".into(), Value::String((self.new_id)()));
        }
        self.single(doc, true).await
    }

    /// `remove(doc)` or `remove(id, rev)`: a deletion stub with no body.
    pub async fn remove(&self, id: &str, rev: &str) -> Result<String> {
        let doc = serde_json::json!({"_id": id, "_rev": rev, "_deleted": true});
        self.single(doc, true).await
    }

    /// One doc: its error rejects the call instead of becoming a row.
    async fn single(&self, doc: Value, new_edits: bool) -> Result<String> {
        let mut results = self.bulk_docs_results(vec![doc], new_edits).await?;
        match results.pop() {
            Some(WriteResult::Err { status, name, message, reason, .. }) => {
                Err(Error { status, name, message, reason })
            }
            Some(ok) => Ok(json::to_json(&ok)),
            None => Err(Error::storage("no result")),
        }
    }

    /// With `new_edits: false` the answer lists only the docs that failed, as CouchDB's and
    /// PouchDB's do (a replicated revision has no new rev to report).
    pub async fn bulk_docs(&self, docs: Vec<Value>, new_edits: bool) -> Result<String> {
        Ok(json::to_json(&errors_only_unless(new_edits, self.bulk_docs_results(docs, new_edits).await?)))
    }

    pub async fn bulk_docs_results(&self, docs: Vec<Value>, new_edits: bool) -> Result<Vec<WriteResult>> {
        self.check_open()?;
        let parsed: Docs = docs
            .into_iter()
            .map(|d| {
                // Kept for the error row, as PouchDB names the doc even when its `_id` is bad.
                let raw_id = d.get("_id").and_then(Value::as_str).map(str::to_string);
                (raw_id, self.prepare(d, new_edits))
            })
            .collect();
        reject_bad_revs(&parsed)?;
        self.write_parsed(parsed, new_edits).await
    }

    /// `bulk_docs` of a JSON array's text, as `JSON.stringify` writes it: each doc is read from
    /// its text (`doc_raw`), not built as a `Value` and serialised again.
    pub async fn bulk_docs_text(&self, docs: &str, new_edits: bool) -> Result<String> {
        self.check_open()?;
        let docs: Vec<&RawValue> =
            serde_json::from_str(docs).map_err(|_| Error::bad_request(super::doc::MISSING_DOCS))?;
        let parsed: Docs = docs
            .into_iter()
            .map(|d| match parse_doc_text(d) {
                Ok(p) => (p.id.clone(), self.prepare_parsed(p, new_edits)),
                Err(e) => (raw_id(d), Err(e)),
            })
            .collect();
        reject_bad_revs(&parsed)?;
        Ok(json::to_json(&errors_only_unless(new_edits, self.write_parsed(parsed, new_edits).await?)))
    }

    /// One already prepared doc (`putAttachment` builds its own): its error rejects the call.
    pub(super) async fn single_parsed(&self, doc: ParsedDoc) -> Result<String> {
        self.check_open()?;
        let id = doc.id.clone();
        let mut results = self.write_parsed(vec![(id, Ok(doc))], true).await?;
        match results.pop() {
            Some(WriteResult::Err { status, name, message, reason, .. }) => {
                Err(Error { status, name, message, reason })
            }
            Some(ok) => Ok(json::to_json(&ok)),
            None => Err(Error::storage("no result")),
        }
    }

    /// Queues the call and commits it, grouped with whatever else waits for the lock (see
    /// `group`).
    pub(super) async fn write_parsed(&self, parsed: Docs, new_edits: bool) -> Result<Vec<WriteResult>> {
        let ticket = self.writes.enqueue(parsed, new_edits);
        let _guard = self.write_lock.lock().await;
        loop {
            if let Some(rows) = ticket.served() {
                return rows;
            }
            let Some(group) = self.writes.take_group() else { return Err(group::abandoned()) };
            let outcome = self.commit_group(&group.docs, group.new_edits, false).await;
            group.finish(outcome);
        }
    }

    /// Edits (`new_edits: true`) committed all or nothing: if any doc fails (a 409, a
    /// validation error), nothing is written and the rows say why. Not grouped with other
    /// calls, whose docs must not fail with it; it still waits its turn for the write lock.
    pub(super) async fn write_all_or_nothing(&self, parsed: Docs) -> Result<Vec<WriteResult>> {
        self.check_open()?;
        let _guard = self.write_lock.lock().await;
        self.commit_group(&parsed, true, true).await
    }

    /// Plans and commits one batch, re-planning while another handle keeps committing first.
    /// With `all_or_nothing`, a plan with an error row is not committed.
    async fn commit_group(
        &self,
        docs: &Docs,
        new_edits: bool,
        all_or_nothing: bool,
    ) -> Result<Vec<WriteResult>> {
        for attempt in 0.. {
            let version = self.kv.version();
            let (batch, results, events) = self.plan(docs, new_edits).await?;
            let failed = || results.iter().any(|r| matches!(r, WriteResult::Err { .. }));
            if batch.is_empty() || (all_or_nothing && failed()) {
                return Ok(results);
            }
            match self.kv.write(batch, Some(version)).await {
                Ok(_) => {
                    self.notify.notify();
                    self.conflict_log.publish(events);
                    return Ok(results);
                }
                Err(e) if e.is_stale() && attempt < MAX_ATTEMPTS => {
                    self.kv.refresh().await?;
                }
                Err(e) => return Err(e),
            }
        }
        unreachable!("the loop returns")
    }

    pub(super) fn prepare(&self, doc: Value, new_edits: bool) -> Result<ParsedDoc> {
        self.prepare_parsed(parse_doc(doc)?, new_edits)
    }

    fn prepare_parsed(&self, mut p: ParsedDoc, new_edits: bool) -> Result<ParsedDoc> {
        if p.id.is_none() {
            if !new_edits {
                return Err(Error::missing_id());
            }
            p.id = Some((self.new_id)());
        }
        if !new_edits && p.rev.is_none() && !is_local(p.id.as_deref().unwrap_or("")) {
            return Err(Error::bad_request("new_edits: false needs a _rev on every doc"));
        }
        if !is_local(p.id.as_deref().unwrap_or("")) {
            attachments::extract(&mut p)?;
        }
        self.check_schema(&p)?;
        Ok(p)
    }

    /// Reads what the docs touch and returns the batch to commit and the per-doc results.
    async fn plan(
        &self,
        docs: &[(Option<String>, Result<ParsedDoc>)],
        new_edits: bool,
    ) -> Result<(WriteBatch, Vec<WriteResult>, Vec<ConflictEvent>)> {
        let mut ids: Vec<&str> = Vec::new();
        let mut local_ids: Vec<&str> = Vec::new();
        for d in docs.iter().filter_map(|(_, d)| d.as_ref().ok()) {
            let id = d.id.as_deref().expect("prepared docs have ids");
            if is_local(id) {
                local_ids.push(id);
            } else {
                ids.push(id);
            }
        }
        ids.sort_unstable();
        ids.dedup();
        // The counters come from the same read as the records: read apart, another tab's
        // commit in between would make them disagree (a doc counted live in the records but
        // already uncounted in `doc_count`, which then underflows), even though such a plan
        // is only ever thrown away as stale.
        let mut doc_keys: Vec<Vec<u8>> = ids.iter().map(|id| keys::doc(id)).collect();
        doc_keys.extend(Meta::keys());
        let mut stored = self.kv.get_many(&doc_keys).await?;
        let meta = Meta::decode(&stored.split_off(ids.len()))?;
        let plans = stored
            .into_iter()
            .zip(&ids)
            .map(|(bytes, id)| {
                let record = bytes.map(|b| DocRecord::decode(&b).map_err(super::record::for_id(id)));
                Ok(DocPlan::new(record.transpose()?))
            })
            .collect::<Result<Vec<_>>>()?;
        let mut plans = Plans { ids, plans };
        let mut locals = LocalPlan::load(self, &local_ids).await?;
        let parent_bodies = self.stub_parent_bodies(docs, &plans, new_edits).await?;
        let absent = if new_edits { HashSet::new() } else { self.absent_stub_data(docs).await? };
        let mut new_data = Vec::new();
        let vdus = self.load_vdus().await?;
        let app_writes_design = |d: &ParsedDoc| !d.from_peer && d.id.as_deref().is_some_and(is_design);
        let mut trust = match docs.iter().any(|(_, d)| d.as_ref().is_ok_and(app_writes_design)) {
            true => Some(self.trust_marks().await?),
            false => None,
        };
        let mut trust_changed = false;

        let mut results = Vec::with_capacity(docs.len());
        for (raw_id, d) in docs {
            let d = match d {
                Ok(d) => d,
                Err(e) => {
                    results.push(WriteResult::err(raw_id.as_deref(), e.clone()));
                    continue;
                }
            };
            let id = d.id.as_deref().expect("prepared docs have ids");
            let outcome = if is_local(id) {
                locals.apply(d)
            } else {
                let plan = plans.get_mut(id).expect("planned");
                let checked = match &vdus {
                    Some(loaded) => loaded.run(d, plan.winner_json(id).as_deref()),
                    None => Ok(()),
                };
                let checked = checked.and_then(|_| match app_writes_design(d) {
                    true => self.check_design_source(d),
                    false => Ok(()),
                });
                if let Err(e) = checked {
                    results.push(WriteResult::err(Some(id), e));
                    continue;
                }
                if new_edits {
                    // Only attachments read the parent's body (`attachments::resolve`): no parse
                    // of it for a doc without `_attachments`.
                    let parent = d
                        .rev
                        .as_ref()
                        .filter(|_| attachments::has_field(d))
                        .and_then(|r| parent_body(plan, id, r, &parent_bodies));
                    self.apply_edit(plan, d, parent.as_ref())
                } else {
                    match attachments::stubs_needing_data(d).into_iter().find(|g| absent.contains(*g)) {
                        Some(_) => Err(attachments::missing_stub_data(d)),
                        None => self.apply_replicated(plan, d),
                    }
                }
            };
            if outcome.is_ok() {
                new_data.extend(d.new_attachments.iter());
                if let Some(plan) = plans.get_mut(id).filter(|_| d.from_peer) {
                    plan.from_peer = true;
                }
            }
            if let (Some(marks), Ok(rev), true) = (&mut trust, &outcome, app_writes_design(d)) {
                marks.insert(id.to_string(), Value::String(rev.clone()));
                trust_changed = true;
            }
            results.push(match outcome {
                Ok(rev) => WriteResult::ok(id, rev),
                Err(e) => WriteResult::err(Some(id), e),
            });
        }

        self.store_new_data(new_data).await?;
        let mut batch = WriteBatch::new();
        locals.write_into(&mut batch);
        if let (Some(marks), true) = (&trust, trust_changed) {
            batch.put(validate::trust_key(), serde_json::to_vec(marks).expect("maps serialise"));
        }
        let events = self.commit_docs(&mut plans, meta, &mut batch).await?;
        Ok((batch, results, events))
    }

    /// A normal edit (`new_edits: true`): must name a current leaf, or create.
    fn apply_edit(
        &self,
        plan: &mut DocPlan,
        d: &ParsedDoc,
        parent_body: Option<&Map<String, Value>>,
    ) -> Result<String> {
        let parent = match (&d.rev, plan.tree.winner()) {
            (Some(rev), _) if plan.tree.is_leaf(rev) => Some(rev.clone()),
            (Some(_), _) => return Err(Error::conflict()),
            (None, None) => None,
            // Creating over a deleted doc extends its deleted branch.
            (None, Some(w)) if w.deleted => Some(w.rev),
            (None, Some(_)) => return Err(Error::conflict()),
        };
        let pos = parent.as_ref().map_or(1, |p| p.pos + 1);
        let body = match d.raw_body {
            Some(_) => d.body_json(),
            None => {
                serde_json::to_vec(&attachments::resolve(d, parent_body, pos)?).expect("bodies serialise")
            }
        };
        let hash = new_rev_hash_of_json(parent.as_ref(), d.deleted, &body);
        let rev = Rev { pos, hash };
        // The parent is in the tree, so [rev, parent] joins its branch; no need for the whole path.
        let mut path = vec![rev.clone()];
        path.extend(parent);
        self.merge(plan, &path, d.deleted, body);
        Ok(rev.to_string())
    }

    /// A replicated revision (`new_edits: false`): merged as is, never a conflict.
    fn apply_replicated(&self, plan: &mut DocPlan, d: &ParsedDoc) -> Result<String> {
        let rev = d.rev.clone().expect("prepared");
        let path = d.revisions.clone().unwrap_or_else(|| vec![rev.clone()]);
        let body = match d.raw_body {
            Some(_) => d.body_json(),
            None => serde_json::to_vec(&attachments::fill_revpos(d, rev.pos)).expect("bodies serialise"),
        };
        self.merge(plan, &path, d.deleted, body);
        Ok(rev.to_string())
    }

    fn merge(&self, plan: &mut DocPlan, path: &[Rev], deleted: bool, body: Vec<u8>) {
        // A known leaf can still bring older history; keep the tree to see if anything stays.
        let existed = plan.tree.contains(&path[0]);
        let before = existed.then(|| plan.tree.clone());
        if plan.tree.merge(path, deleted, usize::MAX) == MergeOutcome::Exists {
            return;
        }
        let stemmed = plan.tree.stem(self.revs_limit);
        if before.as_ref() == Some(&plan.tree) {
            return;
        }
        if !existed {
            plan.new_bodies.push((path[0].clone(), body));
        }
        // Whatever stemming cuts off loses its body too (unless this batch just wrote it).
        for rev in stemmed {
            if plan.take_new_body(&rev).is_none() {
                plan.dropped.push(rev);
            }
        }
        plan.changed = true;
    }

    /// The digests that replicated docs' stubs name without bringing data and that the store
    /// lacks: such a doc cannot be written (its attachment would have no data).
    async fn absent_stub_data(
        &self,
        docs: &[(Option<String>, Result<ParsedDoc>)],
    ) -> Result<HashSet<String>> {
        let mut digests: Vec<&str> = docs
            .iter()
            .filter_map(|(_, d)| d.as_ref().ok())
            .flat_map(attachments::stubs_needing_data)
            .collect();
        if digests.is_empty() {
            return Ok(HashSet::new());
        }
        // Sorted as `&str`, the copy of the sort that `ids` above uses too.
        digests.sort_unstable();
        digests.dedup();
        let digests: Vec<String> = digests.into_iter().map(str::to_string).collect();
        let present = self.has_attachment_data(&digests).await?;
        Ok(digests.into_iter().zip(present).filter(|(_, p)| !p).map(|(d, _)| d).collect())
    }

    /// The bodies of losing leaves that edits with attachment stubs name as parents (the
    /// winner's body is in its record already), by `(id, rev)`.
    async fn stub_parent_bodies(
        &self,
        docs: &[(Option<String>, Result<ParsedDoc>)],
        plans: &Plans<'_>,
        new_edits: bool,
    ) -> Result<HashMap<(String, String), Vec<u8>>> {
        let mut wanted = Vec::new();
        for d in docs.iter().filter_map(|(_, d)| d.as_ref().ok()) {
            let (Some(id), Some(rev)) = (d.id.as_deref(), &d.rev) else { continue };
            let Some(plan) = plans.get(id) else { continue };
            if new_edits && attachments::has_stubs(d) && plan.tree.winner().is_none_or(|w| &w.rev != rev) {
                wanted.push((id.to_string(), rev.to_string()));
            }
        }
        if wanted.is_empty() {
            return Ok(HashMap::new());
        }
        let ks: Vec<Vec<u8>> = wanted.iter().map(|(id, rev)| keys::body(id, rev)).collect();
        let found = self.kv.get_many(&ks).await?;
        Ok(wanted.into_iter().zip(found).filter_map(|(k, v)| Some((k, v?))).collect())
    }

    /// Turns changed doc plans into KV ops: record, bodies, seq index, conflict index,
    /// counters. Returns the conflict events the batch makes, to publish once it commits.
    async fn commit_docs(
        &self,
        plans: &mut Plans<'_>,
        meta: Meta,
        batch: &mut WriteBatch,
    ) -> Result<Vec<ConflictEvent>> {
        // `plans.ids` is sorted, so seqs go out in a stable order (by id): the same batch always
        // gets the same seqs.
        let changed: Vec<(&str, &mut DocPlan, Leaf)> = plans
            .ids
            .iter()
            .zip(plans.plans.iter_mut())
            .filter(|(_, p)| p.changed)
            .map(|(id, p)| {
                let winner = p.tree.winner().expect("a changed doc has leaves");
                (*id, p, winner)
            })
            .collect();
        if changed.is_empty() {
            return Ok(Vec::new());
        }
        let Meta { mut update_seq, mut doc_count } = meta;

        // A winner whose body is neither new nor the old inline copy must be read back.
        let mut need: Vec<(usize, Vec<u8>)> = Vec::new();
        for (i, (id, p, winner)) in changed.iter().enumerate() {
            let w = &winner.rev;
            if p.new_body(w).is_none() && !p.old.as_ref().is_some_and(|o| o.winner_is(w)) {
                need.push((i, keys::body(id, &w.to_string())));
            }
        }
        let fetched = if need.is_empty() {
            Vec::new()
        } else {
            let ks: Vec<Vec<u8>> = need.iter().map(|(_, k)| k.clone()).collect();
            self.kv.get_many(&ks).await?
        };
        let mut fetched_by_index: HashMap<usize, Option<Vec<u8>>> =
            need.iter().map(|(i, _)| *i).zip(fetched).collect();

        // The ops go out grouped by key prefix (`b`, `d`, `m`, then the old and the new `s`
        // keys), each group in id or seq order, so the LSM's sort of the batch finds a few
        // sorted runs instead of ops interleaved doc by doc. Each key is in one group only, so
        // the order of ops on one key is kept.
        let mut bodies = WriteBatch::new();
        let mut records = WriteBatch::new();
        let mut old_seqs = WriteBatch::new();
        let mut new_seqs = WriteBatch::new();
        let mut conflict_entries = WriteBatch::new();
        let mut events = Vec::new();
        let first_write = update_seq == 0;

        for (i, (id, p, winner)) in changed.into_iter().enumerate() {
            let old = p.old.take();
            let was_live = old.as_ref().is_some_and(|o| o.winner.as_ref().is_some_and(|w| !w.deleted));
            let (old_rev, mut old_body) = match old {
                Some(o) => {
                    old_seqs.delete(keys::seq(o.seq));
                    (o.winner.map(|w| w.rev), o.winner_body)
                }
                None => (None, None),
            };
            // The winner's body lives only inline in the doc record; others under `b` keys.
            let winner_body = match p.take_new_body(&winner.rev) {
                Some(b) => Some(b),
                None => match fetched_by_index.remove(&i) {
                    Some(b) => {
                        // A losing rev became the winner: move its body inline.
                        bodies.delete(keys::body(id, &winner.rev.to_string()));
                        b
                    }
                    // Neither new nor fetched: the winner is the old one (see `need`).
                    None => old_body.take(),
                },
            };
            if let (Some(old_rev), Some(old_body)) = (old_rev, old_body) {
                if old_rev != winner.rev && p.tree.contains(&old_rev) && !p.dropped.contains(&old_rev) {
                    bodies.put(keys::body(id, &old_rev.to_string()), old_body);
                }
            }
            let is_live = !winner.deleted;
            doc_count = doc_count + is_live as u64 - was_live as u64;
            update_seq += 1;
            new_seqs.put(keys::seq(update_seq), id.as_bytes().to_vec());
            for (rev, body) in p.new_bodies.drain(..) {
                bodies.put(keys::body(id, &rev.to_string()), body);
            }
            for rev in p.dropped.drain(..) {
                bodies.delete(keys::body(id, &rev.to_string()));
            }
            let tree = std::mem::take(&mut p.tree);
            match conflicts::entry(&tree) {
                Some(entry) => {
                    if adds_conflict(&p.old_conflicted, &tree) {
                        events.push(ConflictEvent {
                            id: id.to_string(),
                            rev: winner.rev.to_string(),
                            conflicts: tree.conflicts().iter().map(ToString::to_string).collect(),
                            replicated: p.from_peer,
                        });
                    }
                    conflict_entries.put(keys::conflict(id), entry);
                }
                None if p.old_live_leaves > 1 => conflict_entries.delete(keys::conflict(id)),
                None => {}
            }
            let record = DocRecord { meta: DocMeta { seq: update_seq, tree }, winner_body };
            records.put(keys::doc(id), record.encode());
        }
        batch.ops.append(&mut bodies.ops);
        batch.ops.append(&mut conflict_entries.ops);
        batch.ops.append(&mut records.ops);
        // A database's first write marks its (empty) conflict index as complete: only stores
        // written before the index existed need `ensure_conflict_index`'s scan.
        if first_write {
            batch.put(conflicts::indexed_flag(), Vec::new());
        }
        batch.put(keys::meta("count"), doc_count.to_be_bytes().to_vec());
        batch.put(keys::meta("seq"), update_seq.to_be_bytes().to_vec());
        batch.ops.append(&mut old_seqs.ops);
        batch.ops.append(&mut new_seqs.ops);
        Ok(events)
    }
}

/// Whether a write that leaves the doc with conflicts gave it a conflicting leaf it did not
/// have (a conflict event, `conflict_events`). Without conflicts before (`old_conflicted`
/// empty), yes. Otherwise only a live leaf that neither was live before nor descends from
/// one that was: editing a loser is no new conflict, but a fork, another replicated branch
/// or a resurrected deleted branch is, even in a batch that also deletes a loser.
fn adds_conflict(old_conflicted: &[Rev], tree: &RevTree) -> bool {
    if old_conflicted.is_empty() {
        return true;
    }
    tree.leaves()
        .into_iter()
        .filter(|l| !l.deleted)
        .any(|l| tree.ancestry(&l.rev).is_some_and(|path| !path.iter().any(|r| old_conflicted.contains(r))))
}

/// The body of `rev`, the parent of an edit: written earlier in this batch, the stored winner,
/// or a losing leaf read by `stub_parent_bodies`.
fn parent_body(
    plan: &DocPlan,
    id: &str,
    rev: &Rev,
    fetched: &HashMap<(String, String), Vec<u8>>,
) -> Option<Map<String, Value>> {
    let old_winner = plan.old.as_ref().filter(|o| o.winner_is(rev));
    let bytes = plan
        .new_body(rev)
        .or_else(|| old_winner.and_then(|o| o.winner_body.as_ref()))
        .or_else(|| fetched.get(&(id.to_string(), rev.to_string())))?;
    serde_json::from_slice(bytes).ok()
}

/// Drops the bodies of non-leaf revisions, one batch per page of docs.
pub(super) async fn compact_bodies(db: &Database) -> Result<()> {
    const PAGE: usize = 1000;
    let _guard = db.write_lock.lock().await;
    let mut range = Range::prefix(&[keys::DOC]);
    loop {
        let version = db.kv.version();
        let rows = db.kv.scan(range.clone(), false, Some(PAGE)).await?;
        let mut batch = WriteBatch::new();
        for (key, value) in &rows {
            let mut record = DocRecord::decode(value)?;
            let revs = record.meta.tree.compactable();
            if revs.is_empty() {
                continue;
            }
            let id = keys::id_of(key).ok_or_else(|| Error::storage("bad doc key"))?;
            for rev in &revs {
                record.meta.tree.set_missing(rev);
                batch.delete(keys::body(id, &rev.to_string()));
            }
            batch.put(key.clone(), record.encode());
        }
        if !batch.is_empty() {
            match db.kv.write(batch, Some(version)).await {
                Ok(_) => {}
                // Another tab rewrote records in this page: read the page again.
                Err(e) if e.is_stale() => {
                    db.kv.refresh().await?;
                    continue;
                }
                Err(e) => return Err(e),
            }
        }
        match rows.last() {
            Some((last, _)) if rows.len() == PAGE => range.start = std::ops::Bound::Excluded(last.clone()),
            _ => return Ok(()),
        }
    }
}

/// A malformed `_rev`, a doc that is no object, an unknown `_` member, an `_id` that is no
/// string or a reserved `_` id anywhere in a `bulkDocs` rejects the whole call, before
/// anything is written: CouchDB parses (and `validate_docid`s) every doc of `_bulk_docs`
/// before it writes any, and PouchDB does the same. Other errors (conflicts) stay per-doc.
fn reject_bad_revs(parsed: &Docs) -> Result<()> {
    let malformed = |e: &&Error| {
        e.name == "doc_validation"
            || e.message == "Invalid rev format"
            || e.message == Error::not_an_object().message
            || e.message == "_id must be a string"
            || e.message == super::doc::RESERVED_ID
    };
    match parsed.iter().find_map(|(_, r)| r.as_ref().err().filter(malformed)) {
        Some(e) => Err(e.clone()),
        None => Ok(()),
    }
}

/// The results of a `bulkDocs` call: all of them, or with `new_edits: false` the errors only.
fn errors_only_unless(new_edits: bool, results: Vec<WriteResult>) -> Vec<WriteResult> {
    if new_edits {
        return results;
    }
    results.into_iter().filter(|r| matches!(r, WriteResult::Err { .. })).collect()
}
