//! The request a plugin handles and the response it returns.

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
