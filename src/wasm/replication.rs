//! `Replication`: the JS class behind `db.replicate.to/from`, `db.sync` and
//! `Settee.replicate`. It starts at once; `result()` is the promise of the outcome and events go
//! to the `emit(name, payload)` callback the TS wrapper gives: `change`, `denied`, `active`,
//! `paused` (with the error, when waiting to retry). The wrapper fires `complete` / `error`
//! from `result()`. A rejected result is an error carrying the partial result as `.result`.
//!
//! Options (PouchDB's): `live`, `retry`, `batch_size`, `doc_ids`, `selector`, `filter` (a JS
//! function, applied to each fetched revision, or `'ddoc/name'` with `query_params`, or
//! `'_view'` with `view: 'ddoc/name'`, for a remote source), `since`, `create_target`, `heartbeat`, `timeout` (longpoll ms),
//! `request_timeout` (ms any other request may take, default 60,000), and `back_off_base` (the
//! retry backoff's base ms, default 2000; small in tests). With `retry`, the global `online`
//! event (window or worker) ends a back-off wait at once.
//!
//! For a sync, `change` payloads are `{direction: 'push' | 'pull', change}`; `active` fires when
//! either direction becomes active, `paused` once both are paused.

use super::convert::{from_js, new_id, to_js};
use super::endpoint::Endpoint;
use super::error::to_js as err_to_js;
use super::promise::spawn;
use crate::db::notify::Notify;
use crate::db::options::{bad, Opts};
use crate::error::{Error, Result};
use crate::replicate::http::timer::sleep;
use crate::replicate::live::{self, Backoff, LiveEvent, LiveOptions, DEFAULT_BACKOFF_BASE_MS};
use crate::replicate::remote::protocol::Longpoll;
use crate::replicate::{
    Filter, Peer, ReplicateOptions, ReplicationEvent, ReplicationFailure, ReplicationResult, Seq,
    DEFAULT_BATCH_SIZE,
};
use js_sys::{Function, Promise, Reflect};
use serde_json::{json, Value};
use std::cell::{Cell, RefCell};
use std::rc::Rc;
use wasm_bindgen::prelude::*;

#[wasm_bindgen]
pub struct Replication {
    cancel: Rc<Cell<bool>>,
    signal: Rc<Notify>,
    result: Promise,
}

/// Options parsed once; `js_filter` is kept apart since JSON drops functions.
struct Parsed {
    live: bool,
    retry: bool,
    batch_size: usize,
    filter: Filter,
    js_filter: Option<Function>,
    /// `req` for `js_filter`: `{query: query_params}`, as PouchDB calls filters.
    js_filter_req: JsValue,
    /// Names `js_filter` in the replication id: its source, and `query_params` if any, so a
    /// run with other params does not start from this one's checkpoint.
    js_filter_key: Option<String>,
    since: Option<Seq>,
    create_target: bool,
    back_off_base: u64,
    longpoll: Option<Longpoll>,
    request_timeout: Option<u64>,
}

/// CouchDB's (and PouchDB's) words for a `doc_ids` that is no array.
const NOT_A_LIST: &str = "`doc_ids` filter parameter is not a list.";

fn parse(options: &JsValue) -> Result<Parsed> {
    let json = from_js(options)?;
    let o = Opts::new(&json)?;
    let js_filter = if options.is_object() {
        Reflect::get(options, &JsValue::from_str("filter")).ok().and_then(|f| f.dyn_into::<Function>().ok())
    } else {
        None
    };
    if o.get("doc_ids").is_some_and(|ids| !ids.is_null() && !ids.is_array()) {
        return Err(Error::bad_request(NOT_A_LIST));
    }
    let filter = if let Some(ids) = o.string_list("doc_ids")? {
        Filter::DocIds(ids.into_iter().map(str::to_string).collect())
    } else if let Some(selector) = o.get("selector").filter(|s| !s.is_null()) {
        Filter::Selector(selector.clone())
    } else if let Some(name) = o.str("filter")? {
        let mut query_params = o.get("query_params").cloned().unwrap_or(json!({}));
        if name == "_view" {
            // CouchDB's `_changes?filter=_view&view=ddoc/name`: the docs the map emits for.
            let view =
                o.str("view")?.filter(|v| v.contains('/')).ok_or_else(|| bad("view", "'ddoc/name'"))?;
            if !query_params.is_object() {
                return Err(bad("query_params", "an object"));
            }
            query_params["view"] = json!(view);
        } else if !name.contains('/') {
            return Err(bad("filter", "a function, 'ddoc/name' or '_view'"));
        }
        Filter::Named { name: name.to_string(), query_params }
    } else {
        Filter::None
    };
    let longpoll = match (o.u64("heartbeat")?, o.u64("timeout")?) {
        (None, None) => None,
        (h, t) => Some(Longpoll { heartbeat_ms: h.unwrap_or(10_000), timeout_ms: t.unwrap_or(25_000) }),
    };
    let js_filter_key = js_filter.as_ref().map(|f| {
        let source = String::from(f.to_string());
        match o.get("query_params").filter(|q| !q.is_null()) {
            Some(q) => format!("{source}\u{0}{q}"),
            None => source,
        }
    });
    Ok(Parsed {
        live: o.bool("live")?,
        retry: o.bool("retry")?,
        batch_size: o.u64("batch_size")?.map(|n| n.max(1) as usize).unwrap_or(DEFAULT_BATCH_SIZE),
        filter,
        js_filter,
        js_filter_req: filter_req(options),
        js_filter_key,
        since: o.get("since").filter(|s| !s.is_null()).map(|s| Seq(s.clone())),
        create_target: o.bool("create_target")?,
        back_off_base: o.u64("back_off_base")?.unwrap_or(DEFAULT_BACKOFF_BASE_MS),
        longpoll,
        request_timeout: o.u64("request_timeout")?,
    })
}

/// A sync's options for one direction: PouchDB's `push` / `pull` members (e.g. a filter for
/// one direction only) over the shared ones.
fn for_direction(options: &JsValue, which: &str) -> JsValue {
    if !options.is_object() {
        return options.clone();
    }
    let own = Reflect::get(options, &JsValue::from_str(which)).unwrap_or(JsValue::UNDEFINED);
    if !own.is_object() {
        return options.clone();
    }
    let merged = js_sys::Object::assign(&js_sys::Object::new(), options.unchecked_ref());
    js_sys::Object::assign(&merged, own.unchecked_ref()).into()
}

fn filter_req(options: &JsValue) -> JsValue {
    let req = js_sys::Object::new();
    let query = if options.is_object() {
        Reflect::get(options, &JsValue::from_str("query_params")).unwrap_or(JsValue::UNDEFINED)
    } else {
        JsValue::UNDEFINED
    };
    let query = if query.is_object() { query } else { js_sys::Object::new().into() };
    let _ = Reflect::set(&req, &JsValue::from_str("query"), &query);
    req.into()
}

fn emit(f: &Function, name: &str, payload: &JsValue) {
    if let Err(e) = f.call2(&JsValue::UNDEFINED, &JsValue::from_str(name), payload) {
        web_sys::console::error_2(&JsValue::from_str("Settee: a replication listener threw"), &e);
    }
}

fn json_to_js(v: &Value) -> JsValue {
    to_js(&v.to_string()).unwrap_or(JsValue::UNDEFINED)
}

/// Tracks both directions of a sync (or the one of a replication) for `active` / `paused`.
struct States {
    paused: RefCell<Vec<bool>>,
    emit: Function,
}

impl States {
    fn on(&self, direction: usize, event: LiveEvent) {
        let mut paused = self.paused.borrow_mut();
        let all_paused_before = paused.iter().all(|p| *p);
        match event {
            LiveEvent::Active => {
                paused[direction] = false;
                if all_paused_before {
                    drop(paused);
                    emit(&self.emit, "active", &JsValue::UNDEFINED);
                }
            }
            LiveEvent::Paused(err) => {
                paused[direction] = true;
                if paused.iter().all(|p| *p) {
                    drop(paused);
                    let payload = err.map(|e| err_to_js(e.clone())).unwrap_or(JsValue::UNDEFINED);
                    emit(&self.emit, "paused", &payload);
                }
            }
        }
    }
}

/// What stops a replication (`cancel`, then `signal`) or cuts its back-off short (`wake`).
#[derive(Clone, Default)]
struct Controls {
    cancel: Rc<Cell<bool>>,
    signal: Rc<Notify>,
    wake: Rc<Notify>,
}

/// One direction's options; `direction` is `Some("push" | "pull")` in a sync.
fn direction(
    p: &Parsed,
    index: usize,
    direction: Option<&'static str>,
    states: &Rc<States>,
    controls: &Controls,
    session: String,
) -> (ReplicateOptions, LiveOptions) {
    let emit_fn = states.emit.clone();
    // PouchDB's change events carry the replication's `start_time`.
    let start_time = String::from(js_sys::Date::new_0().to_iso_string());
    let on_event = move |event: &ReplicationEvent| match event {
        ReplicationEvent::Change { progress, docs } => {
            let mut info = serde_json::to_value(progress).unwrap_or_default();
            info["docs"] = json!(docs);
            info["ok"] = json!(true);
            info["start_time"] = json!(start_time);
            let payload = match direction {
                Some(d) => json!({"direction": d, "change": info}),
                None => info,
            };
            emit(&emit_fn, "change", &json_to_js(&payload));
        }
        ReplicationEvent::Denied(e) => {
            let mut payload = serde_json::to_value(e).unwrap_or_default();
            if let Some(d) = direction {
                payload["direction"] = json!(d);
            }
            emit(&emit_fn, "denied", &json_to_js(&payload));
        }
    };
    let req = p.js_filter_req.clone();
    let doc_filter = p.js_filter.clone().map(|f| {
        Box::new(move |doc: &Value| {
            let arg = json_to_js(doc);
            match f.call2(&JsValue::UNDEFINED, &arg, &req) {
                Ok(v) => v.is_truthy(),
                Err(e) => {
                    web_sys::console::error_2(&JsValue::from_str("Settee: a replication filter threw"), &e);
                    false
                }
            }
        }) as Box<dyn Fn(&Value) -> bool>
    });
    let opts = ReplicateOptions {
        batch_size: p.batch_size,
        filter: p.filter.clone(),
        since: p.since.clone(),
        doc_filter,
        doc_filter_key: p.js_filter_key.clone(),
        on_event: Some(Box::new(on_event)),
        cancel: controls.cancel.clone(),
        clock: Some(Box::new(|| String::from(js_sys::Date::new_0().to_iso_string()))),
        session_id: Some(session),
        in_doubt: Default::default(),
        carry: Default::default(),
        echoes: None,
    };
    let states = states.clone();
    let live = LiveOptions {
        live: p.live,
        retry: p.retry,
        backoff: Backoff::new(p.back_off_base),
        sleep: Rc::new(|ms| Box::pin(sleep(ms))),
        random: Box::new(js_sys::Math::random),
        on_state: Some(Box::new(move |e| states.on(index, e))),
        cancel_signal: controls.signal.clone(),
        wake: controls.wake.clone(),
    };
    (opts, live)
}

fn prepare(p: &Parsed, source: &Endpoint, target: &Endpoint) {
    if let (Some(lp), Some(http)) = (p.longpoll, source.http()) {
        http.set_longpoll(lp);
    }
    if let (true, Some(http)) = (p.create_target, target.http()) {
        http.allow_create();
    }
    if let Some(ms) = p.request_timeout {
        for http in [source.http(), target.http()].into_iter().flatten() {
            http.client().set_request_timeout(ms);
        }
    }
}

/// Notifies `wake` on the global `online` event (window or worker) until dropped, so a
/// retrying replication does not sit out its back-off once the network is back.
struct OnlineWake {
    listener: Closure<dyn FnMut()>,
}

impl OnlineWake {
    fn listen(wake: Rc<Notify>) -> Option<OnlineWake> {
        let listener = Closure::<dyn FnMut()>::new(move || wake.notify());
        call_global("addEventListener", &listener)?;
        Some(OnlineWake { listener })
    }
}

/// `globalThis[method]('online', listener)`; `None` where there is no such method.
fn call_global(method: &str, listener: &Closure<dyn FnMut()>) -> Option<()> {
    let global = js_sys::global();
    let f = Reflect::get(&global, &JsValue::from_str(method)).ok()?.dyn_into::<Function>().ok()?;
    f.call2(&global, &JsValue::from_str("online"), listener.as_ref()).ok().map(drop)
}

impl Drop for OnlineWake {
    fn drop(&mut self) {
        call_global("removeEventListener", &self.listener);
    }
}

fn result_json(r: &ReplicationResult) -> Value {
    serde_json::to_value(r).unwrap_or_default()
}

fn failure_to_js(f: ReplicationFailure, partial: Value) -> JsValue {
    let err = err_to_js(f.error);
    let _ = Reflect::set(&err, &JsValue::from_str("result"), &json_to_js(&partial));
    err
}

#[wasm_bindgen]
impl Replication {
    /// Replicates `source` → `target` with PouchDB's options; events go to `emit(name, payload)`.
    pub fn start(source: &Endpoint, target: &Endpoint, options: JsValue, emit: Function) -> Replication {
        let controls = Controls::default();
        let parsed = parse(&options);
        let (src, tgt): (Rc<dyn Peer>, Rc<dyn Peer>) = (source.peer(), target.peer());
        let run = parsed.map(|p| {
            prepare(&p, source, target);
            let states = Rc::new(States { paused: RefCell::new(vec![true]), emit });
            direction(&p, 0, None, &states, &controls, new_id())
        });
        let wake = controls.wake.clone();
        let result = spawn(async move {
            let (opts, live) = run.map_err(err_to_js)?;
            let _online = live.retry.then(|| OnlineWake::listen(wake)).flatten();
            match live::run(&*src, &*tgt, opts, live).await {
                Ok(r) => Ok(json_to_js(&result_json(&r))),
                Err(f) => {
                    let partial = result_json(&f.result);
                    Err(failure_to_js(f, partial))
                }
            }
        });
        Replication { cancel: controls.cancel, signal: controls.signal, result }
    }

    /// Replicates both ways (`a` → `b` is `push`, `b` → `a` is `pull`); resolves to
    /// `{ok, status, push, pull}`.
    pub fn sync(a: &Endpoint, b: &Endpoint, options: JsValue, emit: Function) -> Replication {
        let controls = Controls::default();
        let parsed = parse(&for_direction(&options, "push"))
            .and_then(|push| Ok((push, parse(&for_direction(&options, "pull"))?)));
        let (pa, pb): (Rc<dyn Peer>, Rc<dyn Peer>) = (a.peer(), b.peer());
        let run = parsed.map(|(p_push, p_pull)| {
            prepare(&p_push, a, b);
            prepare(&p_pull, b, a);
            let states = Rc::new(States { paused: RefCell::new(vec![true, true]), emit });
            let push = direction(&p_push, 0, Some("push"), &states, &controls, new_id());
            let pull = direction(&p_pull, 1, Some("pull"), &states, &controls, new_id());
            (push, pull)
        });
        let wake = controls.wake.clone();
        let result = spawn(async move {
            let (push, pull) = run.map_err(err_to_js)?;
            let _online = push.1.retry.then(|| OnlineWake::listen(wake)).flatten();
            match live::sync(&*pa, &*pb, push, pull).await {
                Ok(r) => {
                    let status = if r.push.status == r.pull.status {
                        json!(r.push.status)
                    } else {
                        json!("cancelled")
                    };
                    let out = json!({"ok": r.push.ok && r.pull.ok, "status": status,
                                     "push": result_json(&r.push), "pull": result_json(&r.pull)});
                    Ok(json_to_js(&out))
                }
                Err(f) => {
                    let partial = json!({"ok": false, "status": "aborted", "failed": result_json(&f.result)});
                    Err(failure_to_js(f, partial))
                }
            }
        });
        Replication { cancel: controls.cancel, signal: controls.signal, result }
    }

    /// The promise of the outcome (the same promise on every call).
    pub fn result(&self) -> Promise {
        self.result.clone()
    }

    /// Stops after the current batch; waits and retries end at once. The result then has
    /// `status: 'cancelled'`.
    pub fn cancel(&self) {
        self.cancel.set(true);
        self.signal.notify();
    }
}
