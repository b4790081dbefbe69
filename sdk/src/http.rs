//! The request a plugin handles and the response it returns, and requests
//! a plugin sends to its developer's own service ([`Outgoing`]).

mod outgoing;

pub(crate) use outgoing::Target;
pub use outgoing::{HttpError, Outgoing, Reply};

/// A request forwarded by the host from the workbench page.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Request {
    /// HTTP method, upper case.
    pub method: String,
    /// Path inside the plugin, starting with `/`.
    pub path: String,
    /// Raw query string without `?`.
    pub query: String,
    /// Headers, names lower case.
    pub headers: Vec<(String, String)>,
    /// Body bytes.
    pub body: Vec<u8>,
}

impl Request {
    /// A `GET` of `path` with no query, headers or body.
    pub fn get(path: &str) -> Self {
        Self { method: "GET".into(), path: path.into(), ..Self::default() }
    }

    /// A `POST` of `body` to `path`.
    pub fn post(path: &str, body: impl Into<Vec<u8>>) -> Self {
        Self { method: "POST".into(), path: path.into(), body: body.into(), ..Self::default() }
    }

    /// The first value of query parameter `name`, decoded like a form
    /// ([`crate::html::form_decode`]).
    ///
    /// ```
    /// let mut request = workbench_sdk::Request::get("/");
    /// request.query = "q=%E5%B7%A5%E7%A8%8B+a&n=1".into();
    /// assert_eq!(request.query_param("q").as_deref(), Some("工程 a"));
    /// assert_eq!(request.query_param("missing"), None);
    /// ```
    pub fn query_param(&self, name: &str) -> Option<String> {
        crate::html::form_decode(&self.query).into_iter().find_map(|(key, value)| (key == name).then_some(value))
    }

    /// The body as UTF-8 text, lossily.
    pub fn body_text(&self) -> String {
        String::from_utf8_lossy(&self.body).into_owned()
    }

    /// The request with header `name: value` added (for tests: what the
    /// workbench page sends, e.g. `accept: text/html` from a form).
    ///
    /// ```
    /// let request = workbench_sdk::Request::get("/").with_header("accept", "text/html");
    /// assert!(request.wants_html());
    /// ```
    pub fn with_header(mut self, name: &str, value: &str) -> Self {
        self.headers.push((name.to_ascii_lowercase(), value.into()));
        self
    }

    /// The first value of header `name` (case-insensitive).
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers.iter().find(|(key, _)| key.eq_ignore_ascii_case(name)).map(|(_, value)| value.as_str())
    }

    /// Whether the request comes from the plugin's own page (a link or a form
    /// in the workbench frame asks for `text/html`), so a page is the answer
    /// rather than JSON.
    ///
    /// ```
    /// let mut request = workbench_sdk::Request::post("/", "text=a");
    /// assert!(!request.wants_html());
    /// request.headers.push(("accept".into(), "text/html".into()));
    /// assert!(request.wants_html());
    /// ```
    pub fn wants_html(&self) -> bool {
        self.header("accept").is_some_and(|accept| accept.contains("text/html"))
    }

    /// The urlencoded form in the body, decoded ([`crate::html::form_decode`]).
    pub fn form(&self) -> Vec<(String, String)> {
        crate::html::form_decode(&self.body_text())
    }

    /// The first value of form field `name` in the body.
    ///
    /// ```
    /// let request = workbench_sdk::Request::post("/", "text=%E4%BB%8A%E5%A4%A9&x=1");
    /// assert_eq!(request.form_field("text").as_deref(), Some("今天"));
    /// ```
    pub fn form_field(&self, name: &str) -> Option<String> {
        self.form().into_iter().find_map(|(key, value)| (key == name).then_some(value))
    }
}

/// A plugin's answer.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Response {
    /// HTTP status.
    pub status: u16,
    /// Headers.
    pub headers: Vec<(String, String)>,
    /// Body bytes.
    pub body: Vec<u8>,
}

impl Response {
    /// A `text/plain; charset=utf-8` response.
    pub fn text(status: u16, body: impl Into<String>) -> Self {
        Self::with_type(status, "text/plain; charset=utf-8", body.into().into_bytes())
    }

    /// A `text/html; charset=utf-8` response.
    pub fn html(status: u16, body: impl Into<String>) -> Self {
        Self::with_type(status, "text/html; charset=utf-8", body.into().into_bytes())
    }

    /// An `application/json` response from already-serialised JSON.
    pub fn json(status: u16, body: impl Into<String>) -> Self {
        Self::with_type(status, "application/json", body.into().into_bytes())
    }

    /// `303 See Other` to `location`, a route of the plugin (`/?date=…`): the
    /// workbench follows it with a GET, so a form post is followed by the
    /// page it changed and a reload does not post again.
    ///
    /// ```
    /// let response = workbench_sdk::Response::see_other("/?saved=1");
    /// assert_eq!(response.status, 303);
    /// assert_eq!(response.headers, vec![("location".to_string(), "/?saved=1".to_string())]);
    /// ```
    pub fn see_other(location: &str) -> Self {
        Self { status: 303, headers: vec![("location".into(), location.into())], body: Vec::new() }
    }

    fn with_type(status: u16, content_type: &str, body: Vec<u8>) -> Self {
        Self { status, headers: vec![("content-type".into(), content_type.into())], body }
    }

    /// The body as UTF-8 text, lossily.
    pub fn body_text(&self) -> String {
        String::from_utf8_lossy(&self.body).into_owned()
    }
}

/// A failure the plugin reports instead of a response.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum PluginError {
    /// The request was malformed; the message is shown to the person.
    BadRequest(String),
    /// Nothing at that path.
    NotFound(String),
    /// The plugin failed; the message goes to the audit log.
    Internal(String),
}
