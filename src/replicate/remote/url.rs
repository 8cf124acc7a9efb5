//! A remote database's URL, parsed once.
//!
//! Rules:
//! - Credentials in the URL (`http://user:pass@host/db`) are percent-decoded, turned into a
//!   basic `Authorization` header and removed from the URL. The stripped URL is the peer's
//!   id, so passwords never reach replication ids, checkpoint docs, errors or logs (and
//!   fetch refuses URLs with credentials anyway).
//! - `auth: {username, password}` wins over URL credentials; explicit `headers` win over both
//!   (so `headers: {Authorization: 'Bearer …'}` works).
//! - `auth: {…, session: true}` sends no `Authorization` header: the credentials are kept as a
//!   `SessionLogin` for `POST /_session`, and requests rely on the cookie it sets.
//! - The database name is the last path segment, kept as written (a `/` in a name must arrive
//!   encoded as `%2F`); a trailing `/` is dropped.

use crate::error::{Error, Result};
use base64::Engine;

#[derive(Clone, Debug, Default, PartialEq)]
pub struct RemoteOptions {
    pub username: Option<String>,
    pub password: Option<String>,
    /// Extra headers sent on every request, e.g. `("Authorization", "Bearer …")`.
    pub headers: Vec<(String, String)>,
    /// Log in with a cookie session (`POST /_session`) instead of sending basic auth.
    pub session: bool,
}

/// The credentials of a cookie session login; never printed.
#[derive(Clone, PartialEq)]
pub struct SessionLogin {
    pub username: String,
    pub password: String,
}

impl std::fmt::Debug for SessionLogin {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "SessionLogin({})", self.username)
    }
}

#[derive(Clone, PartialEq)]
pub struct DbUrl {
    /// `scheme://host[:port]/path/db`, no credentials, no query, no trailing slash.
    base: String,
    headers: Vec<(String, String)>,
    session: Option<SessionLogin>,
}

/// Never prints the headers: they may carry credentials.
impl std::fmt::Debug for DbUrl {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "DbUrl({})", self.base)
    }
}

impl DbUrl {
    pub fn parse(url: &str, options: &RemoteOptions) -> Result<DbUrl> {
        let bad = || Error::bad_request("a remote database URL looks like http(s)://host[:port]/db");
        let (scheme, rest) = url.split_once("://").ok_or_else(bad)?;
        if !matches!(scheme.to_ascii_lowercase().as_str(), "http" | "https") {
            return Err(bad());
        }
        let rest = rest.split(['?', '#']).next().unwrap_or_default();
        let authority_end = rest.find('/').unwrap_or(rest.len());
        let (authority, path) = rest.split_at(authority_end);
        let (userinfo, host) = match authority.rfind('@') {
            Some(at) => (Some(&authority[..at]), &authority[at + 1..]),
            None => (None, authority),
        };
        let path = path.trim_end_matches('/');
        if host.is_empty() || path.is_empty() {
            return Err(bad());
        }
        let mut user = None;
        if let Some(info) = userinfo {
            let (u, p) = info.split_once(':').unwrap_or((info, ""));
            user = Some((percent_decode(u), percent_decode(p)));
        }
        if let Some(u) = &options.username {
            user = Some((u.clone(), options.password.clone().unwrap_or_default()));
        }
        let mut headers = Vec::new();
        let mut session = None;
        if let (true, Some((username, password))) = (options.session, &user) {
            session = Some(SessionLogin { username: username.clone(), password: password.clone() });
            user = None;
        }
        if let Some((u, p)) = user {
            let token = base64::engine::general_purpose::STANDARD.encode(format!("{u}:{p}"));
            headers.push(("Authorization".to_string(), format!("Basic {token}")));
        }
        for (k, v) in &options.headers {
            headers.retain(|(h, _)| !h.eq_ignore_ascii_case(k));
            headers.push((k.clone(), v.clone()));
        }
        Ok(DbUrl { base: format!("{}://{host}{path}", scheme.to_ascii_lowercase()), headers, session })
    }

    /// The URL without credentials: the peer id and what errors may show.
    pub fn id(&self) -> &str {
        &self.base
    }

    /// The database name (the last path segment, decoded).
    pub fn db_name(&self) -> String {
        percent_decode(self.base.rsplit('/').next().unwrap_or_default())
    }

    pub fn headers(&self) -> &[(String, String)] {
        &self.headers
    }

    /// The cookie session login, when `session: true` was asked with credentials.
    pub fn session(&self) -> Option<&SessionLogin> {
        self.session.as_ref()
    }

    /// `scheme://host[:port]/<path>` at the server root (the database's parent), e.g.
    /// for `_session`.
    pub fn server_url(&self, path: &str) -> String {
        let parent = self.base.rsplit_once('/').map(|(p, _)| p).unwrap_or(&self.base);
        format!("{parent}/{path}")
    }

    /// `base/<path>?<query>`; `path` is already encoded (see `doc_path`), may be empty.
    pub fn url(&self, path: &str, query: &[(&str, String)]) -> String {
        let mut out = self.base.clone();
        if !path.is_empty() {
            out.push('/');
            out.push_str(path);
        }
        let mut first = !path.contains('?');
        for (k, v) in query {
            out.push(if first { '?' } else { '&' });
            first = false;
            out.push_str(&percent_encode(k));
            out.push('=');
            out.push_str(&percent_encode(v));
        }
        out
    }
}

/// A doc id as a path: `_design/x` and `_local/x` keep their slash, everything else is
/// percent-encoded as one segment.
pub fn doc_path(id: &str) -> String {
    for prefix in ["_design/", "_local/"] {
        if let Some(rest) = id.strip_prefix(prefix) {
            return format!("{prefix}{}", percent_encode(rest));
        }
    }
    percent_encode(id)
}

/// encodeURIComponent: everything but `A-Z a-z 0-9 - _ . ! ~ * ' ( )` as UTF-8 `%XX`.
/// `doc/att`, each encoded: the path of an attachment below its database.
pub fn attachment_path(id: &str, name: &str) -> String {
    format!("{}/{}", doc_path(id), percent_encode(name))
}

pub fn percent_encode(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for b in s.bytes() {
        if b.is_ascii_alphanumeric() || b"-_.!~*'()".contains(&b) {
            out.push(b as char);
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

pub fn percent_decode(s: &str) -> String {
    let bytes = s.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        let hex = |c: u8| (c as char).to_digit(16);
        if bytes[i] == b'%' && i + 2 < bytes.len() {
            if let (Some(h), Some(l)) = (hex(bytes[i + 1]), hex(bytes[i + 2])) {
                out.push((h * 16 + l) as u8);
                i += 3;
                continue;
            }
        }
        out.push(bytes[i]);
        i += 1;
    }
    String::from_utf8_lossy(&out).into_owned()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn auth(u: &DbUrl) -> Option<&str> {
        u.headers().iter().find(|(k, _)| k == "Authorization").map(|(_, v)| v.as_str())
    }

    #[test]
    fn credentials_in_the_url_become_a_basic_header_and_leave_the_id() {
        let u = DbUrl::parse("http://bob:s%40cret@127.0.0.1:5984/my-db/", &RemoteOptions::default()).unwrap();
        assert_eq!(u.id(), "http://127.0.0.1:5984/my-db");
        assert_eq!(auth(&u), Some("Basic Ym9iOnNAY3JldA==")); // bob:s@cret
        assert!(!format!("{u:?}").contains("Basic"));
        assert_eq!(u.db_name(), "my-db");
    }

    #[test]
    fn the_auth_option_wins_over_url_credentials_and_headers_win_over_both() {
        let o =
            RemoteOptions { username: Some("a".into()), password: Some("b".into()), ..Default::default() };
        let u = DbUrl::parse("https://x:y@h/db", &o).unwrap();
        assert_eq!(auth(&u), Some("Basic YTpi"));
        let o = RemoteOptions { headers: vec![("authorization".into(), "Bearer t".into())], ..o };
        let u = DbUrl::parse("https://x:y@h/db", &o).unwrap();
        assert_eq!(u.headers(), &[("authorization".to_string(), "Bearer t".to_string())]);
    }

    #[test]
    fn a_session_login_replaces_the_basic_header_and_is_never_printed() {
        let o = RemoteOptions {
            username: Some("a".into()),
            password: Some("pw-9".into()),
            session: true,
            ..Default::default()
        };
        let u = DbUrl::parse("http://h:1/couch/db", &o).unwrap();
        assert_eq!(auth(&u), None);
        assert_eq!(u.session().map(|s| s.username.as_str()), Some("a"));
        assert_eq!(u.server_url("_session"), "http://h:1/couch/_session");
        assert!(!format!("{u:?} {:?}", u.session()).contains("pw-9"));
        let from_url =
            DbUrl::parse("http://b:c@h/db", &RemoteOptions { session: true, ..Default::default() }).unwrap();
        assert_eq!((auth(&from_url), from_url.session().map(|s| s.password.as_str())), (None, Some("c")));
    }

    #[test]
    fn urls_without_a_database_or_with_another_scheme_are_rejected() {
        for bad in ["http://host", "http://host/", "ftp://h/db", "db", "http:///db"] {
            assert_eq!(DbUrl::parse(bad, &RemoteOptions::default()).unwrap_err().status, 400, "{bad}");
        }
    }

    #[test]
    fn paths_encode_ids_and_queries() {
        let u = DbUrl::parse("http://h:1/a%2Fb?x=1", &RemoteOptions::default()).unwrap();
        assert_eq!(u.db_name(), "a/b");
        assert_eq!(u.url("", &[]), "http://h:1/a%2Fb");
        assert_eq!(
            u.url(&doc_path("a b/ü"), &[("since", "12-g1A/+".into())]),
            "http://h:1/a%2Fb/a%20b%2F%C3%BC?since=12-g1A%2F%2B"
        );
        assert_eq!(doc_path("_design/app"), "_design/app");
        assert_eq!(doc_path("_local/x/y"), "_local/x%2Fy");
        assert_eq!(percent_decode("%zz%4"), "%zz%4");
    }
}
