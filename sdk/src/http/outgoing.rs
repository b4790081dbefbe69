//! Requests to the developer's own service: a small blocking client over
//! `wasi:http`. Only destinations `plugin.toml` declares (`[[egress]]`) and
//! the tenant's admin approved are reached; the host refuses anything else
//! before it leaves, and audits every request with the fields the call had
//! read before it.
//!
//! ```no_run
//! use workbench_sdk::http::Outgoing;
//!
//! let reply = Outgoing::post("https://visits.acme.example/visits", r#"{"customer":"上海建工"}"#)
//!     .header("content-type", "application/json")
//!     .send()?;
//! assert_eq!(reply.status, 201);
//! # Ok::<(), workbench_sdk::http::HttpError>(())
//! ```

use std::fmt;

/// A request to one of the plugin's declared destinations.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Outgoing {
    /// HTTP method, upper case.
    pub method: String,
    /// `https://host[:port]/path?query`.
    pub url: String,
    /// Headers to send (`host`, `connection` and the like are the host's).
    pub headers: Vec<(String, String)>,
    /// Body bytes.
    pub body: Vec<u8>,
    /// Longest wait for the first byte of the answer, ms (the host's own
    /// limit and the call's deadline still hold).
    pub timeout_ms: Option<u64>,
}

/// What the service answered.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Reply {
    /// The status.
    pub status: u16,
    /// The headers, names lower case.
    pub headers: Vec<(String, String)>,
    /// The body.
    pub body: Vec<u8>,
}

/// Why a request got no answer.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum HttpError {
    /// The host refused it before it left: the destination is not declared
    /// in `plugin.toml`, the admin has not approved it, plain `http` is not
    /// allowed there, or the call made too many requests. The audit log says which.
    Refused,
    /// The name resolves to an address plugins may not reach (private,
    /// loopback, link-local).
    AddressProhibited,
    /// No connection, or no answer, in time.
    Timeout,
    /// The request or the answer is larger than the host allows.
    TooLarge,
    /// The URL is not `http(s)://host[:port][/path]`.
    BadUrl(String),
    /// Anything else (DNS, TLS, the connection), with the host's description.
    Failed(String),
}

impl HttpError {
    /// A stable code: `refused`, `address_prohibited`, `timeout`,
    /// `too_large`, `bad_url` or `failed`.
    pub fn code(&self) -> &'static str {
        match self {
            HttpError::Refused => "refused",
            HttpError::AddressProhibited => "address_prohibited",
            HttpError::Timeout => "timeout",
            HttpError::TooLarge => "too_large",
            HttpError::BadUrl(_) => "bad_url",
            HttpError::Failed(_) => "failed",
        }
    }
}

impl fmt::Display for HttpError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            HttpError::Refused => f.write_str(
                "the host refused the request: declare the destination in plugin.toml and have the admin approve it",
            ),
            HttpError::AddressProhibited => f.write_str("the destination resolves to an address plugins may not reach"),
            HttpError::Timeout => f.write_str("no answer in time"),
            HttpError::TooLarge => f.write_str("the request or the answer is larger than the host allows"),
            HttpError::BadUrl(url) => write!(f, "{url:?} is not http(s)://host[:port][/path]"),
            HttpError::Failed(detail) => write!(f, "the request failed: {detail}"),
        }
    }
}

impl std::error::Error for HttpError {}

impl From<HttpError> for crate::PluginError {
    fn from(error: HttpError) -> Self {
        crate::PluginError::Internal(format!("outgoing request: {error}"))
    }
}

/// The parts of a URL a request needs.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Target {
    pub(crate) https: bool,
    pub(crate) authority: String,
    pub(crate) path_and_query: String,
}

pub(crate) fn target(url: &str) -> Result<Target, HttpError> {
    let bad = || HttpError::BadUrl(url.to_owned());
    let (scheme, rest) = url.split_once("://").ok_or_else(bad)?;
    let https = match scheme {
        "https" => true,
        "http" => false,
        _ => return Err(bad()),
    };
    let (authority, path) = match rest.find(['/', '?']) {
        Some(at) if rest[at..].starts_with('?') => (&rest[..at], format!("/{}", &rest[at..])),
        Some(at) => (&rest[..at], rest[at..].to_owned()),
        None => (rest, "/".to_owned()),
    };
    if authority.is_empty() || authority.contains(['@', ' ', '#']) || path.contains(['#', ' ']) {
        return Err(bad());
    }
    Ok(Target { https, authority: authority.to_owned(), path_and_query: path })
}

impl Outgoing {
    /// A request with `method` to `url`, no headers and no body.
    pub fn new(method: &str, url: impl Into<String>) -> Self {
        Self {
            method: method.to_ascii_uppercase(),
            url: url.into(),
            headers: Vec::new(),
            body: Vec::new(),
            timeout_ms: None,
        }
    }

    /// A `GET` of `url`.
    pub fn get(url: impl Into<String>) -> Self {
        Self::new("GET", url)
    }

    /// A `POST` of `body` to `url`.
    pub fn post(url: impl Into<String>, body: impl Into<Vec<u8>>) -> Self {
        Self { body: body.into(), ..Self::new("POST", url) }
    }

    /// Adds a header.
    pub fn header(mut self, name: &str, value: &str) -> Self {
        self.headers.push((name.to_ascii_lowercase(), value.to_owned()));
        self
    }

    /// Waits at most `ms` for the first byte of the answer.
    pub fn timeout_ms(mut self, ms: u64) -> Self {
        self.timeout_ms = Some(ms);
        self
    }

    /// Sends it and reads the whole answer. Redirects are returned as they
    /// are (3xx with `location`): follow one with another request, which the
    /// host checks like any other.
    pub fn send(self) -> Result<Reply, HttpError> {
        let target = target(&self.url)?;
        crate::host::send_http(&self, &target)
    }
}

impl Reply {
    /// The body as UTF-8 text, lossily.
    pub fn text(&self) -> String {
        String::from_utf8_lossy(&self.body).into_owned()
    }

    /// The first value of header `name` (any case).
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers.iter().find(|(n, _)| n.eq_ignore_ascii_case(name)).map(|(_, v)| v.as_str())
    }

    /// Whether the status is 2xx.
    pub fn ok(&self) -> bool {
        (200..300).contains(&self.status)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::testing::MockHost;
    use crate::{Plugin, PluginError, Request, Response};

    struct SendVisit;
    impl Plugin for SendVisit {
        fn handle(request: Request) -> Result<Response, PluginError> {
            let url = request.query_param("to").unwrap_or_default();
            match Outgoing::post(url, "{}").header("Content-Type", "application/json").send() {
                Ok(reply) => Ok(Response::text(200, format!("{} {}", reply.status, reply.text()))),
                Err(error) => Ok(Response::text(502, error.code())),
            }
        }
    }

    #[test]
    fn the_mock_host_answers_stubbed_destinations_and_refuses_the_rest() {
        let host = MockHost::new()
            .with_destination("https://visits.acme.example/", 201, "saved")
            .with_failing_destination("https://slow.acme.example", HttpError::Timeout);
        let answer = |to: &str| {
            host.call::<SendVisit>(Request { query: format!("to={to}"), ..Request::get("/") })
                .expect("answers")
                .body_text()
        };
        assert_eq!(answer("https://visits.acme.example/visits"), "201 saved");
        assert_eq!(answer("https://slow.acme.example/x"), "timeout");
        assert_eq!(answer("https://visits.acme.example.evil.example/"), "refused", "a prefix is a whole host");
        assert_eq!(answer("https://elsewhere.example/"), "refused");
        assert_eq!(answer("visits"), "bad_url");
        let sent = host.requests();
        assert_eq!(sent.len(), 4, "a bad URL never reaches the host");
        assert_eq!(sent[0].method, "POST");
        assert_eq!(sent[0].headers, [("content-type".to_owned(), "application/json".to_owned())]);
    }

    #[test]
    fn urls_split_into_what_a_request_needs() {
        let t = target("https://visits.acme.example:8443/v1/visits?day=1").expect("valid");
        assert_eq!(
            (t.https, t.authority.as_str(), t.path_and_query.as_str()),
            (true, "visits.acme.example:8443", "/v1/visits?day=1")
        );
        let t = target("http://127.0.0.1:8080").expect("valid");
        assert_eq!((t.https, t.path_and_query.as_str()), (false, "/"));
        let t = target("https://acme.example?x=1").expect("valid");
        assert_eq!(t.path_and_query, "/?x=1");
        for bad in ["ftp://acme.example/", "acme.example/x", "https:///x", "https://user@acme.example/", "https://a b/"]
        {
            assert_eq!(target(bad).expect_err(bad).code(), "bad_url", "{bad}");
        }
    }
}
