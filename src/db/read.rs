//! Reading docs: `get` (with `rev`, `revs`, `revs_info`, `open_revs`, `conflicts`, `latest`,
//! `attachments`),
//! `bulk_get` and `revs_diff`.
//!
//! Each call reads its doc records in one `get_many`, works out which revision bodies it needs,
//! then reads those in one more `get_many`. The winner's body is inline in the doc record.

use super::doc::{is_local, validate_id};
use super::options::{bad, Opts};
use super::record::DocRecord;
use super::resolve::{Answer, Revs};
use super::{json, keys, Database};
use crate::core::rev::Rev;
use crate::core::rev_tree::RevInfoStatus;
use crate::error::{Error, Result};
use serde::Serialize;
use serde_json::value::RawValue;
use serde_json::Value;
use std::collections::HashMap;

/// What to render for a doc.
#[derive(Clone, Copy, Default)]
pub(super) struct Render {
    pub revs: bool,
    pub revs_info: bool,
    pub conflicts: bool,
    pub deleted_conflicts: bool,
    pub local_seq: bool,
}

impl Render {
    pub fn from_opts(o: &Opts) -> Result<Render> {
        Ok(Render {
            revs: o.bool("revs")?,
            revs_info: o.bool("revs_info")?,
            conflicts: o.bool("conflicts")?,
            deleted_conflicts: o.bool("deleted_conflicts")?,
            local_seq: o.bool("local_seq")?,
        })
    }
}

enum OpenRevs {
    All,
    List(Vec<String>),
}

impl TryFrom<Answer> for OpenRev {
    type Error = Error;

    fn try_from(a: Answer) -> Result<Self> {
        Ok(match a {
            Answer::Doc(json) => OpenRev::Ok { ok: json::raw(json)? },
            Answer::Missing(missing) => OpenRev::Missing { missing },
        })
    }
}

#[derive(Serialize)]
#[serde(untagged)]
enum OpenRev {
    Ok { ok: Box<RawValue> },
    Missing { missing: String },
}

/// Drops repeated `ok` rows (the same leaf, rendered the same), keeping the first.
fn dedupe_leaves(rows: Vec<OpenRev>) -> Vec<OpenRev> {
    let mut seen = std::collections::HashSet::new();
    rows.into_iter()
        .filter(|r| match r {
            OpenRev::Ok { ok } => seen.insert(ok.get().to_string()),
            OpenRev::Missing { .. } => true,
        })
        .collect()
}

impl Database {
    pub(super) async fn record(&self, id: &str) -> Result<Option<DocRecord>> {
        let record = self.kv.get(&keys::doc(id)).await?.map(|b| DocRecord::decode(&b)).transpose();
        record.map_err(super::record::for_id(id))
    }

    pub(super) async fn records(&self, ids: &[&str]) -> Result<Vec<Option<DocRecord>>> {
        let ks: Vec<Vec<u8>> = ids.iter().map(|id| keys::doc(id)).collect();
        self.kv
            .get_many(&ks)
            .await?
            .into_iter()
            .zip(ids)
            .map(|(v, id)| v.map(|b| DocRecord::decode(&b).map_err(super::record::for_id(id))).transpose())
            .collect()
    }

    /// The body of `rev`: inline for the winner, else its own key. None if compacted or absent.
    async fn bodies(&self, id: &str, record: &DocRecord, revs: &[Rev]) -> Result<HashMap<Rev, Vec<u8>>> {
        let winner = record.meta.tree.winner().map(|w| w.rev);
        let mut out = HashMap::new();
        let mut wanted = Vec::new();
        for rev in revs {
            match (&winner, &record.winner_body) {
                (Some(w), Some(b)) if w == rev => {
                    out.insert(rev.clone(), b.clone());
                }
                _ => wanted.push(rev.clone()),
            }
        }
        if !wanted.is_empty() {
            let ks: Vec<Vec<u8>> = wanted.iter().map(|r| keys::body(id, &r.to_string())).collect();
            for (rev, body) in wanted.into_iter().zip(self.kv.get_many(&ks).await?) {
                if let Some(b) = body {
                    out.insert(rev, b);
                }
            }
        }
        Ok(out)
    }

    pub async fn get(&self, id: &str, options: &Value) -> Result<String> {
        self.check_open()?;
        let o = Opts::new(options)?;
        validate_id(id)?;
        if is_local(id) {
            return self.get_local(id).await;
        }
        let render = Render::from_opts(&o)?;
        let latest = o.bool("latest")?;
        let open_revs = match o.get("open_revs") {
            None => None,
            Some(Value::String(s)) if s == "all" => Some(OpenRevs::All),
            Some(Value::Array(items)) => Some(OpenRevs::List(
                items
                    .iter()
                    .map(|v| {
                        // A string that is no rev (`'keys'`) is a 400, as in CouchDB, not a
                        // `missing` row.
                        v.as_str()
                            .filter(|s| Rev::parse(s).is_ok())
                            .map(str::to_string)
                            .ok_or_else(|| bad("open_revs", "'all' or an array of revs"))
                    })
                    .collect::<Result<_>>()?,
            )),
            Some(_) => return Err(bad("open_revs", "'all' or an array of revs")),
        };
        let rev = o.str("rev")?.map(Rev::parse).transpose()?;
        if let Some(open) = open_revs {
            let rows = self.open_revs(id, open, latest, render).await?;
            return if o.bool("attachments")? { self.inline_everywhere(rows).await } else { Ok(rows) };
        }
        let record = self.record(id).await?.ok_or_else(Error::missing)?;
        let tree = &record.meta.tree;
        let rev = match rev {
            Some(r) if latest => tree.latest(&r).into_iter().next().ok_or_else(Error::missing)?,
            Some(r) if tree.contains(&r) => r,
            Some(_) => return Err(Error::missing()),
            None => {
                let w = tree.winner().ok_or_else(Error::missing)?;
                if w.deleted {
                    return Err(Error::deleted());
                }
                w.rev
            }
        };
        let bodies = self.bodies(id, &record, std::slice::from_ref(&rev)).await?;
        let body = bodies.get(&rev).ok_or_else(Error::missing)?;
        if o.bool("attachments")? {
            let body = self.inline_data(body).await?;
            return Ok(render_doc(id, &record, &rev, &body, render));
        }
        Ok(render_doc(id, &record, &rev, body, render))
    }

    async fn open_revs(&self, id: &str, open: OpenRevs, latest: bool, render: Render) -> Result<String> {
        let requests: Vec<(&str, Revs)> = match &open {
            OpenRevs::All => vec![(id, Revs::All)],
            OpenRevs::List(list) => list.iter().map(|r| (id, Revs::One(r.as_str()))).collect(),
        };
        let answers = self.resolve_revs(&requests, latest, render).await?;
        let rows: Vec<OpenRev> = match (&open, answers) {
            (OpenRevs::All, answers) if answers[0].is_none() => return Err(Error::missing()),
            (OpenRevs::List(list), answers) if answers.iter().all(Option::is_none) => {
                list.iter().map(|s| OpenRev::Missing { missing: s.clone() }).collect()
            }
            (_, answers) => {
                answers.into_iter().flatten().flatten().map(OpenRev::try_from).collect::<Result<_>>()?
            }
        };
        // With `latest`, two requested revs on one branch lead to the same leaf: CouchDB
        // answers each leaf once.
        let rows = if latest { dedupe_leaves(rows) } else { rows };
        Ok(json::to_json(&rows))
    }

    /// `bulkGet({docs: [{id, rev?}], revs, latest})`, shaped like CouchDB's `_bulk_get`.
    pub async fn bulk_get(&self, options: &Value) -> Result<String> {
        self.check_open()?;
        let o = Opts::new(options)?;
        let render = Render { revs: o.bool("revs")?, ..Render::default() };
        let latest = o.bool("latest")?;
        let Some(Value::Array(docs)) = o.get("docs") else {
            return Err(bad("docs", "an array of {id, rev}"));
        };
        let mut requests: Vec<(&str, Revs)> = Vec::with_capacity(docs.len());
        for d in docs {
            let id =
                d.get("id").and_then(Value::as_str).ok_or_else(|| bad("docs", "an array of {id, rev}"))?;
            let rev = d.get("rev").and_then(Value::as_str);
            requests.push((id, rev.map_or(Revs::All, Revs::One)));
        }
        let error = |id: &str, rev: &str, name: &str, reason: &str| serde_json::json!({"error": {"id": id, "rev": rev, "error": name, "reason": reason}});
        // Invalid ids answer like `get` does, without stopping the others.
        let valid: Vec<(&str, Revs)> =
            requests.iter().copied().filter(|(id, _)| validate_id(id).is_ok()).collect();
        let mut answers = self.resolve_revs(&valid, latest, render).await?.into_iter();
        let mut results = Vec::with_capacity(requests.len());
        for (id, revs) in requests {
            let requested = match revs {
                Revs::All => "undefined",
                Revs::One(r) => r,
            };
            let rows: Vec<Value> = match validate_id(id) {
                Err(e) => vec![error(id, requested, e.name, e.reason.as_deref().unwrap_or(&e.message))],
                Ok(()) => match answers.next().expect("one answer per valid request") {
                    None => vec![error(id, requested, "not_found", "missing")],
                    Some(list) => list
                        .into_iter()
                        .map(|a| match a {
                            Answer::Doc(json) => Ok(serde_json::json!({ "ok": json::raw(json)? })),
                            Answer::Missing(rev) => Ok(error(id, &rev, "not_found", "missing")),
                        })
                        .collect::<Result<_>>()?,
                },
            };
            results.push(serde_json::json!({"id": id, "docs": rows}));
        }
        let answer = json::to_json(&serde_json::json!({ "results": results }));
        if o.bool("attachments")? {
            return self.inline_everywhere(answer).await;
        }
        Ok(answer)
    }

    /// `revsDiff({id: [revs]})`: which of these revs this database lacks.
    pub async fn revs_diff(&self, request: &Value) -> Result<String> {
        self.check_open()?;
        let Value::Object(req) = request else {
            return Err(Error::bad_request("revsDiff expects {id: [revs]}"));
        };
        let ids: Vec<&str> = req.keys().map(String::as_str).collect();
        let records = self.records(&ids).await?;
        let mut out = serde_json::Map::new();
        for ((id, revs), record) in req.iter().zip(records) {
            let list = revs.as_array().ok_or_else(|| Error::bad_request("revsDiff expects {id: [revs]}"))?;
            let mut parsed = Vec::with_capacity(list.len());
            let mut unparsable = Vec::new();
            for r in list {
                let s = r.as_str().ok_or_else(|| Error::bad_request("revs must be strings"))?;
                match Rev::parse(s) {
                    Ok(rev) => parsed.push(rev),
                    Err(_) => unparsable.push(s.to_string()),
                }
            }
            let (missing, ancestors) = match &record {
                Some(r) => r.meta.tree.revs_diff(&parsed),
                None => (parsed, Vec::new()),
            };
            let mut missing: Vec<String> = missing.iter().map(Rev::to_string).collect();
            missing.extend(unparsable);
            if missing.is_empty() {
                continue;
            }
            let mut entry = serde_json::Map::new();
            entry.insert("missing".into(), missing.into());
            if !ancestors.is_empty() {
                let a: Vec<String> = ancestors.iter().map(Rev::to_string).collect();
                entry.insert("possible_ancestors".into(), a.into());
            }
            out.insert(id.clone(), Value::Object(entry));
        }
        Ok(json::to_json(&out))
    }
}

/// A doc as `get` returns it: body plus the requested metadata members.
pub(super) fn render_doc(id: &str, record: &DocRecord, rev: &Rev, body: &[u8], r: Render) -> String {
    let tree = &record.meta.tree;
    let mut extras: Vec<(&str, String)> = Vec::new();
    if tree.is_deleted(rev) == Some(true) {
        extras.push(("_deleted", "true".into()));
    }
    if r.local_seq {
        extras.push(("_local_seq", record.meta.seq.to_string()));
    }
    if r.revs {
        let path = tree.ancestry(rev).unwrap_or_default();
        let ids: Vec<&str> = path.iter().map(|r| r.hash.as_str()).collect();
        extras.push(("_revisions", json::to_json(&serde_json::json!({"start": rev.pos, "ids": ids}))));
    }
    if r.revs_info {
        let info: Vec<Value> = tree
            .revs_info(rev)
            .unwrap_or_default()
            .into_iter()
            .map(|(rev, status)| {
                let status = match status {
                    RevInfoStatus::Available => "available",
                    RevInfoStatus::Missing => "missing",
                    RevInfoStatus::Deleted => "deleted",
                };
                serde_json::json!({"rev": rev.to_string(), "status": status})
            })
            .collect();
        extras.push(("_revs_info", json::to_json(&info)));
    }
    if r.conflicts {
        push_revs(&mut extras, "_conflicts", tree.conflicts());
    }
    if r.deleted_conflicts {
        push_revs(&mut extras, "_deleted_conflicts", tree.deleted_conflicts());
    }
    json::doc(id, &rev.to_string(), body, &extras)
}

fn push_revs(extras: &mut Vec<(&str, String)>, name: &'static str, revs: Vec<Rev>) {
    if !revs.is_empty() {
        let list: Vec<String> = revs.iter().map(Rev::to_string).collect();
        extras.push((name, json::to_json(&list)));
    }
}
