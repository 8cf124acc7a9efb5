//! One HTTP request to a remote database, answered as JSON.
//!
//! - Every request carries the `DbUrl`'s headers (auth) and `Accept: application/json`, and
//!   `credentials: 'include'` so a cookie session (`_session`) works too.
//! - An in-flight request is aborted when its future is dropped (`AbortOnDrop`), so a
//!   cancelled live replication does not leave a longpoll holding one of the browser's few
//!   connections per host.
//! - With a cookie session (`DbUrl::session`), the first request logs in with
//!   `POST /_session` (one login at a time, shared by concurrent requests); a later 401 logs in
//!   again once and repeats the request, since sessions expire (CouchDB's after 600 s). The
//!   password goes only into that request's body, never into an error.
//! - Where `fetch` keeps no cookies (Node, Deno, Bun), the client keeps the session cookie
//!   itself: a readable `Set-Cookie` (browsers never expose it) is remembered and sent back as
//!   `Cookie`, and replaced whenever the server renews it. In a browser nothing is read and the
//!   browser's own jar does the work through `credentials: 'include'`.
//! - Every request has a deadline, answer and body included (`request_timeout`, default
//!   `DEFAULT_REQUEST_TIMEOUT_MS`; 10× that for an attachment's data): a hung connection or a body that never ends is a
//!   `network_error` (retryable), never a stall. A longpoll sets its own (`call_with_timeout`:
//!   servers such as pouchdb-server ignore the `timeout` parameter), and its expiry answers
//!   `Ok(None)`, an empty poll. Only a remote live changes feed (`raw_unlimited`) has none:
//!   it is held open on purpose and ends when it is cancelled.

use super::timer::sleep;
use crate::error::Result;
use crate::replicate::remote::protocol::Call;
use crate::replicate::remote::url::DbUrl;
use crate::replicate::remote::{http_error, network_error};
use crate::replicate::scheduler::{self, Origin, Priority};
use futures::future::{select, Either};
use futures::lock::Mutex;
use gloo_net::http::{Method, RequestBuilder};
use serde_json::Value;
use std::cell::{Cell, RefCell};
use std::rc::Rc;
use wasm_bindgen::{JsCast, JsValue};
use web_sys::{AbortController, Blob, RequestCredentials};

/// CouchDB's replicator gives a request 30 s (`connection_timeout`) between bytes; fetch gives
/// no progress on a body read whole, so this bounds the whole exchange, with room for a
/// batch of large docs on a slow link.
pub const DEFAULT_REQUEST_TIMEOUT_MS: u64 = 60_000;
/// How many times `request_timeout` an attachment's own request (its data as the body or the
/// answer) may take.
const ATTACHMENT_TIMEOUT_FACTOR: u64 = 10;

/// How long a request may take.
#[derive(Clone, Copy)]
enum Deadline {
    /// The client's `request_timeout`; then a `network_error`.
    Default,
    /// A longpoll's own limit; then `Ok(None)`.
    Poll(u64),
    None,
    /// `Default`, for a request that waits for a connection behind foreground ones.
    Background,
    /// `Poll`, for a request that waits for a connection before every other.
    Urgent(u64),
}

/// What a request carries.
#[derive(Clone, Copy)]
enum Body<'a> {
    None,
    Json(&'a Value),
    /// A body of the given content type, passed to `fetch` as is.
    Raw(&'a JsValue, &'a str),
}

impl<'a> Body<'a> {
    fn of(call: &'a Call) -> Body<'a> {
        call.body.as_ref().map_or(Body::None, Body::Json)
    }
}

enum Answer {
    Json(Value),
    Blob(Blob),
}

impl Answer {
    fn json(self) -> Value {
        match self {
            Answer::Json(v) => v,
            Answer::Blob(_) => Value::Null,
        }
    }
}

pub struct HttpClient {
    url: DbUrl,
    /// Whether the cookie session is believed valid; the lock serialises logins.
    logged_in: Mutex<bool>,
    request_timeout_ms: Cell<u64>,
    /// The session cookie (`name=value`) where the runtime lets us read `Set-Cookie`.
    cookie: RefCell<Option<String>>,
    /// The server's connection pool, shared with every client of the same server in this page.
    origin: Rc<Origin>,
}

/// The `name=value` of the session cookie in a `Set-Cookie` header (several may be joined
/// by `, ` in one header; CouchDB's is `AuthSession`).
fn session_cookie(set_cookie: &str) -> Option<String> {
    set_cookie
        .split(',')
        .map(str::trim)
        .filter_map(|c| c.split(';').next())
        .find(|pair| pair.trim_start().starts_with("AuthSession="))
        .map(|pair| pair.trim().to_string())
}

struct AbortOnDrop(Option<AbortController>);

impl Drop for AbortOnDrop {
    fn drop(&mut self) {
        if let Some(c) = &self.0 {
            c.abort();
        }
    }
}

fn method(m: &str) -> Method {
    match m {
        "POST" => Method::POST,
        "PUT" => Method::PUT,
        "DELETE" => Method::DELETE,
        "HEAD" => Method::HEAD,
        _ => Method::GET,
    }
}

impl HttpClient {
    pub fn new(url: DbUrl) -> HttpClient {
        HttpClient {
            logged_in: Mutex::new(false),
            request_timeout_ms: Cell::new(DEFAULT_REQUEST_TIMEOUT_MS),
            cookie: RefCell::new(None),
            origin: scheduler::origin(&url.server_url("")),
            url,
        }
    }

    /// The server this client talks to, as the scheduler sees it.
    pub fn origin(&self) -> &Rc<Origin> {
        &self.origin
    }

    /// A GET of `path_and_query` at the server root (the `_db_updates` feed), aborted after
    /// `timeout_ms` (then `Ok(None)`); it goes before every request waiting for a connection.
    pub async fn server_poll(&self, path_and_query: &str, timeout_ms: u64) -> Result<Option<Value>> {
        let url = self.url.server_url(path_and_query);
        let label = path_and_query.split('?').next().unwrap_or_default();
        let answer = self.send("GET", &url, label, Body::None, false, Deadline::Urgent(timeout_ms)).await?;
        Ok(answer.map(Answer::json))
    }

    pub fn set_request_timeout(&self, ms: u64) {
        self.request_timeout_ms.set(ms.max(1));
    }

    pub fn url(&self) -> &DbUrl {
        &self.url
    }

    /// Sends `call`; a non-2xx answer is an `Err`.
    pub async fn call(&self, call: &Call) -> Result<Value> {
        let url = self.call_url(call);
        let answer =
            self.send(call.method, &url, &call.path, Body::of(call), false, Deadline::Default).await?;
        Ok(answer.expect("no timeout, no None").json())
    }

    /// Sends `call`, aborting it after `timeout_ms` (then `Ok(None)`).
    pub async fn call_with_timeout(&self, call: &Call, timeout_ms: u64) -> Result<Option<Value>> {
        let url = self.call_url(call);
        let answer = self
            .send(call.method, &url, &call.path, Body::of(call), false, Deadline::Poll(timeout_ms))
            .await?;
        Ok(answer.map(Answer::json))
    }

    /// Sends `call` (a GET) and answers the response body as a `Blob`, which stays outside
    /// the JS heap and wasm memory however large it is.
    pub async fn call_for_blob(&self, call: &Call) -> Result<Blob> {
        let url = self.call_url(call);
        match self.send(call.method, &url, &call.path, Body::of(call), true, Deadline::Default).await? {
            Some(Answer::Blob(b)) => Ok(b),
            _ => Err(crate::error::Error::storage("expected a Blob answer")),
        }
    }

    /// Sends `call` with `body` (a `Blob`, a string…) of `content_type` instead of its JSON.
    pub async fn call_with_body(&self, call: &Call, body: &JsValue, content_type: &str) -> Result<Value> {
        let url = self.call_url(call);
        let answer = self
            .send(call.method, &url, &call.path, Body::Raw(body, content_type), false, Deadline::Default)
            .await?;
        Ok(answer.expect("no timeout, no None").json())
    }

    fn call_url(&self, call: &Call) -> String {
        let query: Vec<(&str, String)> = call.query.iter().map(|(k, v)| (*k, v.clone())).collect();
        self.url.url(&call.path, &query)
    }

    /// A request to `path_and_query` below the database (already encoded).
    pub async fn raw(&self, http_method: &str, path_and_query: &str, body: Option<&Value>) -> Result<Value> {
        self.raw_within(http_method, path_and_query, body, Deadline::Default).await
    }

    /// `raw`, with no deadline: for a live feed that is held open until it is cancelled.
    pub async fn raw_unlimited(
        &self,
        http_method: &str,
        path_and_query: &str,
        body: Option<&Value>,
    ) -> Result<Value> {
        self.raw_within(http_method, path_and_query, body, Deadline::None).await
    }

    async fn raw_within(
        &self,
        http_method: &str,
        path_and_query: &str,
        body: Option<&Value>,
        deadline: Deadline,
    ) -> Result<Value> {
        let url = self.url.url(path_and_query, &[]);
        let label = path_and_query.split('?').next().unwrap_or_default();
        let body = body.map_or(Body::None, Body::Json);
        Ok(self
            .send(http_method, &url, label, body, false, deadline)
            .await?
            .expect("no timeout, no None")
            .json())
    }

    /// Logs in unless a session is already believed valid (no-op without a session login).
    async fn ensure_session(&self) -> Result<()> {
        let Some(login) = self.url.session() else { return Ok(()) };
        let mut logged_in = self.logged_in.lock().await;
        if !*logged_in {
            let body = serde_json::json!({"name": login.username, "password": login.password});
            let url = self.url.server_url("_session");
            self.send_once("POST", &url, "_session", Body::Json(&body), false, Deadline::Default).await?;
            *logged_in = true;
        }
        Ok(())
    }

    async fn send(
        &self,
        http_method: &str,
        url: &str,
        label: &str,
        body: Body<'_>,
        blob: bool,
        deadline: Deadline,
    ) -> Result<Option<Answer>> {
        self.ensure_session().await?;
        match self.send_once(http_method, url, label, body, blob, deadline).await {
            Err(e) if e.status == 401 && self.url.session().is_some() => {
                *self.logged_in.lock().await = false;
                self.ensure_session().await?;
                self.send_once(http_method, url, label, body, blob, deadline).await
            }
            other => other,
        }
    }

    /// `call`, as background work: it waits for a connection until no foreground request
    /// does (`scheduler::Pool::acquire_background`). For polls.
    pub async fn call_background(&self, call: &Call) -> Result<Value> {
        let url = self.call_url(call);
        let answer =
            self.send(call.method, &url, &call.path, Body::of(call), false, Deadline::Background).await?;
        Ok(answer.expect("no timeout, no None").json())
    }

    async fn send_once(
        &self,
        http_method: &str,
        url: &str,
        label: &str,
        body: Body<'_>,
        blob: bool,
        deadline: Deadline,
    ) -> Result<Option<Answer>> {
        // Wait for a connection before the deadline starts. A live feed held open on purpose
        // takes none: it would keep one for good.
        let _permit = match deadline {
            Deadline::None => None,
            Deadline::Background => Some(self.origin.pool.acquire_as(Priority::Background).await),
            Deadline::Urgent(_) => Some(self.origin.pool.acquire_as(Priority::Urgent).await),
            _ => Some(self.origin.pool.acquire().await),
        };
        let controller = AbortController::new().ok();
        let guard = AbortOnDrop(controller);
        let signal = guard.0.as_ref().map(|c| c.signal());
        let mut builder = RequestBuilder::new(url)
            .method(method(http_method))
            .credentials(RequestCredentials::Include)
            .header("Accept", "application/json")
            .abort_signal(signal.as_ref());
        for (k, v) in self.url.headers() {
            builder = builder.header(k, v);
        }
        if let Some(cookie) = self.cookie.borrow().as_deref() {
            builder = builder.header("Cookie", cookie);
        }
        let request = match body {
            Body::Json(b) => builder
                .header("Content-Type", "application/json")
                .body(serde_json::to_string(b).expect("JSON serialises")),
            Body::Raw(b, content_type) => builder.header("Content-Type", content_type).body(b.clone()),
            Body::None => builder.build(),
        }
        .map_err(|e| network_error(&e.to_string(), http_method, label))?;
        let exchange = async {
            let response =
                request.send().await.map_err(|e| network_error(&e.to_string(), http_method, label))?;
            let status = response.status();
            if let Some(c) = response.headers().get("set-cookie").as_deref().and_then(session_cookie) {
                // An expired or logged-out session is `AuthSession=` with no value.
                *self.cookie.borrow_mut() = Some(c).filter(|c| c.len() > "AuthSession=".len());
            }
            if blob && (200..300).contains(&status) {
                let raw: web_sys::Response = response.into();
                let promise = raw.blob().map_err(|_| network_error("no body", http_method, label))?;
                let blob = wasm_bindgen_futures::JsFuture::from(promise)
                    .await
                    .map_err(|_| network_error("body read failed", http_method, label))?;
                return Ok(Answer::Blob(blob.unchecked_into()));
            }
            let text =
                response.text().await.map_err(|e| network_error(&e.to_string(), http_method, label))?;
            if !(200..300).contains(&status) {
                return Err(http_error(status, &text, http_method, label));
            }
            if text.trim().is_empty() {
                return Ok(Answer::Json(Value::Null));
            }
            serde_json::from_str(&text).map(Answer::Json).map_err(|e| {
                crate::error::Error::new(
                    502,
                    "bad_gateway",
                    format!("{http_method} /{label}: unparsable answer: {e}"),
                )
            })
        };
        let limit = match deadline {
            // Attachment data, down or up, is given 10× longer: 50 MB over a slow link can
            // take minutes, and a deadline still ends one that stalls.
            Deadline::Default if blob || matches!(body, Body::Raw(..)) => {
                Some(self.request_timeout_ms.get().saturating_mul(ATTACHMENT_TIMEOUT_FACTOR))
            }
            Deadline::Default | Deadline::Background => Some(self.request_timeout_ms.get()),
            Deadline::Poll(ms) | Deadline::Urgent(ms) => Some(ms),
            Deadline::None => None,
        };
        let out = match limit {
            None => exchange.await.map(Some),
            Some(ms) => match select(Box::pin(exchange), Box::pin(sleep(ms))).await {
                Either::Left((answer, _)) => answer.map(Some),
                Either::Right(_) if matches!(deadline, Deadline::Poll(_) | Deadline::Urgent(_)) => Ok(None),
                Either::Right(_) => {
                    Err(network_error(&format!("no complete answer within {ms} ms"), http_method, label))
                }
            },
        };
        drop(guard);
        out
    }
}
