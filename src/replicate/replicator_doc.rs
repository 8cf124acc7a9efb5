//! A `_replicator` document read as a replication job, CouchDB 3's way (pure; the manager that
//! runs the jobs is `js/replicator-db.ts`).
//!
//! Rules:
//! - `_design/…` docs are no jobs (`Classified::Ignore`).
//! - The definition is `source`, `target`, `continuous`, `create_target`, `doc_ids`,
//!   `selector`, `filter`, `query_params` and `since_seq`. Other members (`_rev`, the
//!   `_replication_*` state the manager writes back, unknown keys) are not part of it, so the
//!   manager's own state write never restarts a job. The job id is the md5 of the canonical
//!   definition: equal ids mean an unchanged definition.
//! - `source` / `target`: a string starting with `http://` or `https://` is a remote URL; any
//!   other string without `://` is a local database name; `{url, headers?, auth?: {basic:
//!   {username, password}}}` is a remote URL with headers (basic auth becomes an
//!   `Authorization` header; explicit headers win). Credentials never reach the labels shown
//!   in `activeTasks()`, nor the job id.
//! - A doc whose `_replication_state` is `completed` or `failed` is terminal and not run again,
//!   unless the `_replication_id` written with that state names another definition (the doc
//!   was edited since). A doc without `_replication_id` keeps its state (CouchDB's docs).
//! - A doc that cannot be run (no source, a bad URL, a wrong type) is `Invalid` with a reason,
//!   for the manager to write back as `failed`.

use super::id::canonical;
use super::remote::{DbUrl, RemoteOptions};
use md5::{Digest, Md5};
use serde::Serialize;
use serde_json::{json, Map, Value};

/// The members that define a job; changing any of them restarts it.
pub const DEFINITION_FIELDS: [&str; 9] = [
    "source",
    "target",
    "continuous",
    "create_target",
    "doc_ids",
    "selector",
    "filter",
    "query_params",
    "since_seq",
];

/// One side of a job: a local database name, or a URL (without credentials) and headers.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct JobEndpoint {
    /// What `new Settee(name, …)` opens.
    pub name: String,
    /// Only for a remote side: sent with every request (may carry credentials).
    #[serde(skip_serializing_if = "Map::is_empty")]
    pub headers: Map<String, Value>,
    pub remote: bool,
}

/// A job ready to run: what `Settee.replicate(source, target, options)` takes.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct Job {
    pub id: String,
    pub source: JobEndpoint,
    pub target: JobEndpoint,
    pub continuous: bool,
    /// PouchDB's replication options (`live`, `retry`, `create_target`, filters, `since`).
    pub options: Value,
}

#[derive(Clone, Debug, PartialEq, Serialize)]
#[serde(tag = "kind", rename_all = "lowercase")]
pub enum Classified {
    /// A design doc, or no object at all.
    Ignore,
    /// Not to run: `completed` or `failed` already, for this definition.
    Terminal {
        id: String,
        state: String,
    },
    Run(Box<Job>),
    Invalid {
        id: String,
        reason: String,
    },
}

/// The definition members, canonical (object members sorted).
pub fn definition(doc: &Value) -> Value {
    let mut out = Map::new();
    for k in DEFINITION_FIELDS {
        if let Some(v) = doc.get(k).filter(|v| !v.is_null()) {
            out.insert(k.to_string(), canonical(v));
        }
    }
    Value::Object(out)
}

/// The md5 (hex) of the definition: two docs with the same id run the same job.
pub fn job_id(doc: &Value) -> String {
    let mut hasher = Md5::new();
    hasher.update(definition(doc).to_string().as_bytes());
    hex(&hasher.finalize())
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

pub fn classify(doc: &Value) -> Classified {
    let Some(obj) = doc.as_object() else { return Classified::Ignore };
    if obj.get("_id").and_then(Value::as_str).is_some_and(|id| id.starts_with("_design/")) {
        return Classified::Ignore;
    }
    let id = job_id(doc);
    let state = obj.get("_replication_state").and_then(Value::as_str);
    let written_for = obj.get("_replication_id").and_then(Value::as_str);
    if let Some(state @ ("completed" | "failed")) = state {
        if written_for.is_none_or(|w| w == id) {
            return Classified::Terminal { id, state: state.to_string() };
        }
    }
    match parse_job(obj, &id) {
        Ok(job) => Classified::Run(Box::new(job)),
        Err(reason) => Classified::Invalid { id, reason },
    }
}

/// The job a doc defines, or why it cannot run.
pub fn parse_job(doc: &Map<String, Value>, id: &str) -> Result<Job, String> {
    let source = endpoint(doc.get("source"), "source")?;
    let target = endpoint(doc.get("target"), "target")?;
    let continuous = flag(doc, "continuous")?;
    let create_target = flag(doc, "create_target")?;
    let mut options = json!({"live": continuous, "retry": true, "create_target": create_target});
    if let Some(ids) = present(doc, "doc_ids") {
        let ok = ids.as_array().is_some_and(|a| a.iter().all(Value::is_string));
        if !ok {
            return Err("`doc_ids` must be a list of strings".into());
        }
        options["doc_ids"] = ids.clone();
    }
    if let Some(selector) = present(doc, "selector") {
        if !selector.is_object() {
            return Err("`selector` must be a JSON object".into());
        }
        options["selector"] = selector.clone();
    }
    if let Some(filter) = present(doc, "filter") {
        let name = filter.as_str().unwrap_or_default();
        // CouchDB's named filters: a design doc's function, or `_view` / `_doc_ids` / `_selector`
        // spelled out; a JS function cannot be stored in a doc.
        if !name.contains('/') && name != "_view" {
            return Err(format!("Unknown filter `{filter}`: use 'ddoc/name' or '_view'"));
        }
        options["filter"] = filter.clone();
    }
    if let Some(params) = present(doc, "query_params") {
        if !params.is_object() {
            return Err("`query_params` must be a JSON object".into());
        }
        options["query_params"] = params.clone();
        if options["filter"] == "_view" {
            match params.get("view").and_then(Value::as_str) {
                Some(view) => options["view"] = json!(view),
                None => return Err("filter `_view` needs `query_params.view`, 'ddoc/name'".into()),
            }
        }
    } else if options["filter"] == "_view" {
        return Err("filter `_view` needs `query_params.view`, 'ddoc/name'".into());
    }
    if let Some(since) = present(doc, "since_seq") {
        options["since"] = since.clone();
    }
    Ok(Job { id: id.to_string(), source, target, continuous, options })
}

fn present<'a>(doc: &'a Map<String, Value>, key: &str) -> Option<&'a Value> {
    doc.get(key).filter(|v| !v.is_null())
}

fn flag(doc: &Map<String, Value>, key: &str) -> Result<bool, String> {
    match present(doc, key) {
        None => Ok(false),
        Some(Value::Bool(b)) => Ok(*b),
        Some(_) => Err(format!("`{key}` must be a boolean")),
    }
}

fn endpoint(value: Option<&Value>, which: &str) -> Result<JobEndpoint, String> {
    match value.filter(|v| !v.is_null()) {
        None => Err(format!("Missing `{which}` field")),
        Some(Value::String(s)) if is_url(s) => remote(s, RemoteOptions::default(), which),
        Some(Value::String(s)) if s.is_empty() || s.contains("://") => {
            Err(format!("Invalid `{which}`: {s:?} is no http(s) URL nor a database name"))
        }
        Some(Value::String(name)) => {
            Ok(JobEndpoint { name: name.clone(), headers: Map::new(), remote: false })
        }
        Some(Value::Object(o)) => {
            let url = o
                .get("url")
                .and_then(Value::as_str)
                .ok_or_else(|| format!("Invalid `{which}`: an object needs a `url` string"))?;
            if !is_url(url) {
                return Err(format!("Invalid `{which}` url: {url:?} is no http(s) URL"));
            }
            remote(url, remote_options(o, which)?, which)
        }
        Some(other) => Err(format!("Invalid `{which}`: {other} is no string nor object")),
    }
}

fn is_url(s: &str) -> bool {
    let lower = s.get(..8).unwrap_or(s).to_ascii_lowercase();
    lower.starts_with("http://") || lower.starts_with("https://")
}

/// `{headers?, auth?: {basic: {username, password}}}` as `RemoteOptions`.
fn remote_options(o: &Map<String, Value>, which: &str) -> Result<RemoteOptions, String> {
    let mut out = RemoteOptions::default();
    if let Some(headers) = o.get("headers").filter(|h| !h.is_null()) {
        let Some(headers) = headers.as_object() else {
            return Err(format!("`{which}.headers` must be an object"));
        };
        for (k, v) in headers {
            let v = v.as_str().ok_or_else(|| format!("`{which}.headers` values must be strings"))?;
            out.headers.push((k.clone(), v.to_string()));
        }
    }
    if let Some(auth) = o.get("auth").filter(|a| !a.is_null()) {
        if let Some(basic) = auth.get("basic").filter(|b| !b.is_null()) {
            let field = |k: &str| basic.get(k).and_then(Value::as_str).map(str::to_string);
            match (field("username"), field("password")) {
                (Some(u), Some(p)) => {
                    out.username = Some(u);
                    out.password = Some(p);
                }
                _ => return Err(format!("`{which}.auth.basic` needs `username` and `password` strings")),
            }
        }
    }
    Ok(out)
}

fn remote(url: &str, options: RemoteOptions, which: &str) -> Result<JobEndpoint, String> {
    let parsed = DbUrl::parse(url, &options).map_err(|e| format!("Invalid `{which}` url: {}", e.message))?;
    let headers = parsed.headers().iter().map(|(k, v)| (k.clone(), json!(v))).collect();
    Ok(JobEndpoint { name: parsed.id().to_string(), headers, remote: true })
}

/// A URL or name as `activeTasks()` shows it: without `user:pass@`.
pub fn label(doc_side: Option<&Value>) -> Option<String> {
    let text = match doc_side? {
        Value::String(s) => s.as_str(),
        Value::Object(o) => o.get("url")?.as_str()?,
        _ => return None,
    };
    Some(strip_credentials(text))
}

pub fn strip_credentials(url: &str) -> String {
    let Some((scheme, rest)) = url.split_once("://") else { return url.to_string() };
    let authority_end = rest.find(['/', '?', '#']).unwrap_or(rest.len());
    match rest[..authority_end].rfind('@') {
        Some(at) => format!("{scheme}://{}", &rest[at + 1..]),
        None => url.to_string(),
    }
}
