//! Small helpers for plugins that render HTML.

/// Escapes `&`, `<`, `>`, `"` and `'` so text can be placed in HTML content
/// or a quoted attribute.
///
/// ```
/// assert_eq!(workbench_sdk::html::escape("<b>\"张伟\" & co</b>"), "&lt;b&gt;&quot;张伟&quot; &amp; co&lt;/b&gt;");
/// ```
pub fn escape(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            _ => out.push(c),
        }
    }
    out
}

/// Decodes an `application/x-www-form-urlencoded` body or query string into
/// key/value pairs (`+` is a space, `%XX` a byte; invalid escapes are kept
/// as written).
///
/// ```
/// let pairs = workbench_sdk::html::form_decode("text=%E4%BB%8A%E5%A4%A9+ok&x=1");
/// assert_eq!(pairs, vec![("text".to_string(), "今天 ok".to_string()), ("x".to_string(), "1".to_string())]);
/// ```
pub fn form_decode(input: &str) -> Vec<(String, String)> {
    input
        .split('&')
        .filter(|pair| !pair.is_empty())
        .map(|pair| {
            let (key, value) = pair.split_once('=').unwrap_or((pair, ""));
            (percent_decode(key), percent_decode(value))
        })
        .collect()
}

fn percent_decode(text: &str) -> String {
    fn hex(byte: u8) -> Option<u8> {
        (byte as char).to_digit(16).map(|d| d as u8)
    }
    let bytes = text.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        let escaped =
            (bytes[i] == b'%').then(|| Some(hex(*bytes.get(i + 1)?)? * 16 + hex(*bytes.get(i + 2)?)?)).flatten();
        match (bytes[i], escaped) {
            (_, Some(byte)) => {
                out.push(byte);
                i += 3;
            }
            (b'+', None) => {
                out.push(b' ');
                i += 1;
            }
            (other, None) => {
                out.push(other);
                i += 1;
            }
        }
    }
    String::from_utf8_lossy(&out).into_owned()
}

/// Markup, safe to put in a page: text is escaped on the way in
/// ([`Html::text`], `From<&str>`), and the builders below put together
/// accessible elements (a label for every control, real buttons, tables with
/// a caption and header cells) that the workbench's stylesheet for plugin
/// pages styles natively.
///
/// ```
/// use workbench_sdk::html::{self, Html};
/// let page = html::document("zh-CN", "日报", [html::heading(1, "日报 · <今天>"), Html::from("a & b")]);
/// assert!(page.as_str().contains("<h1>日报 · &lt;今天&gt;</h1>a &amp; b"));
/// assert!(page.as_str().starts_with("<!doctype html>"));
/// ```
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Html(String);

impl Html {
    /// Text, escaped.
    pub fn text(text: &str) -> Self {
        Self(escape(text))
    }

    /// Markup the caller vouches for: it is put in the page as written.
    pub fn trusted(markup: impl Into<String>) -> Self {
        Self(markup.into())
    }

    /// The markup.
    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// Appends more markup.
    pub fn push(&mut self, more: impl Into<Html>) {
        self.0.push_str(&more.into().0);
    }
}

impl From<&str> for Html {
    fn from(text: &str) -> Self {
        Self::text(text)
    }
}

impl From<&String> for Html {
    fn from(text: &String) -> Self {
        Self::text(text)
    }
}

impl From<Html> for String {
    fn from(html: Html) -> Self {
        html.0
    }
}

impl std::fmt::Display for Html {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

impl<T: Into<Html>> FromIterator<T> for Html {
    fn from_iter<I: IntoIterator<Item = T>>(items: I) -> Self {
        let mut out = Html::default();
        for item in items {
            out.push(item);
        }
        out
    }
}

fn element(tag: &str, attributes: &[(&str, &str)], content: &Html) -> Html {
    let mut out = format!("<{tag}");
    for (name, value) in attributes {
        out.push_str(&format!(" {name}=\"{}\"", escape(value)));
    }
    out.push('>');
    out.push_str(content.as_str());
    out.push_str(&format!("</{tag}>"));
    Html(out)
}

/// A whole page: doctype, language, charset, viewport, title and body.
pub fn document(lang: &str, title: &str, body: impl IntoIterator<Item = Html>) -> Html {
    let body: Html = body.into_iter().collect();
    Html(format!(
        "<!doctype html><html lang=\"{}\"><head><meta charset=\"utf-8\">\
         <meta name=\"viewport\" content=\"width=device-width, initial-scale=1\"><title>{}</title></head>\
         <body>{body}</body></html>",
        escape(lang),
        escape(title)
    ))
}

/// `<h1>`…`<h6>` (levels outside 1-6 are clamped).
pub fn heading(level: u8, text: &str) -> Html {
    let level = level.clamp(1, 6);
    Html(format!("<h{level}>{}</h{level}>", escape(text)))
}

/// A paragraph of text.
pub fn paragraph(text: &str) -> Html {
    element("p", &[], &Html::text(text))
}

/// A note that a section has nothing yet (`<p class="empty">`).
pub fn empty(text: &str) -> Html {
    element("p", &[("class", "empty")], &Html::text(text))
}

/// A link to a route of the plugin (`?date=…`, `/visits`): the workbench
/// turns the click into an invocation of the plugin.
pub fn link(href: &str, text: &str) -> Html {
    element("a", &[("href", href)], &Html::text(text))
}

/// The current page in a list of links: marked `aria-current="page"`.
pub fn current_link(href: &str, text: &str) -> Html {
    element("a", &[("href", href), ("aria-current", "page")], &Html::text(text))
}

/// A list of items.
pub fn list(items: impl IntoIterator<Item = Html>) -> Html {
    let items: Html = items.into_iter().map(|item| element("li", &[], &item)).collect();
    element("ul", &[], &items)
}

/// What a notice says about the outcome of an action.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Tone {
    /// Neutral information.
    Info,
    /// Something worked.
    Ok,
    /// Something needs attention.
    Warn,
    /// Something failed (announced as an alert).
    Error,
}

/// A notice: `role="status"`, or `role="alert"` for [`Tone::Error`].
pub fn notice(tone: Tone, text: &str) -> Html {
    let (class, role) = match tone {
        Tone::Info => ("notice", "status"),
        Tone::Ok => ("notice ok", "status"),
        Tone::Warn => ("notice warn", "status"),
        Tone::Error => ("notice error", "alert"),
    };
    element("p", &[("class", class), ("role", role)], &Html::text(text))
}

/// One labelled control of a [`Form`].
///
/// ```
/// use workbench_sdk::html::Field;
/// let field = Field::text("customer", "客户").value("华东 & 华南").required().render("plan");
/// assert_eq!(
///     field.as_str(),
///     "<label for=\"plan-customer\">客户</label>\
///      <input id=\"plan-customer\" name=\"customer\" type=\"text\" value=\"华东 &amp; 华南\" required>"
/// );
/// ```
#[derive(Debug, Clone)]
pub struct Field {
    kind: &'static str,
    name: String,
    label: String,
    value: String,
    hint: Option<String>,
    required: bool,
    max_length: Option<usize>,
    options: Vec<(String, String)>,
}

impl Field {
    fn new(kind: &'static str, name: &str, label: &str) -> Self {
        Self {
            kind,
            name: name.into(),
            label: label.into(),
            value: String::new(),
            hint: None,
            required: false,
            max_length: None,
            options: Vec::new(),
        }
    }

    /// A one-line text input.
    pub fn text(name: &str, label: &str) -> Self {
        Self::new("text", name, label)
    }

    /// A date input (`YYYY-MM-DD`).
    pub fn date(name: &str, label: &str) -> Self {
        Self::new("date", name, label)
    }

    /// A number input.
    pub fn number(name: &str, label: &str) -> Self {
        Self::new("number", name, label)
    }

    /// A search input.
    pub fn search(name: &str, label: &str) -> Self {
        Self::new("search", name, label)
    }

    /// A multi-line text area.
    pub fn textarea(name: &str, label: &str) -> Self {
        Self::new("textarea", name, label)
    }

    /// A file input (the form must be `multipart`).
    pub fn file(name: &str, label: &str) -> Self {
        Self::new("file", name, label)
    }

    /// A drop-down of `(value, text)` options.
    pub fn select<V: Into<String>, T: Into<String>>(
        name: &str,
        label: &str,
        options: impl IntoIterator<Item = (V, T)>,
    ) -> Self {
        let mut field = Self::new("select", name, label);
        field.options = options.into_iter().map(|(v, t)| (v.into(), t.into())).collect();
        field
    }

    /// The value shown (for a select: the option chosen).
    pub fn value(mut self, value: &str) -> Self {
        self.value = value.into();
        self
    }

    /// A hint under the label, tied to the control with `aria-describedby`.
    pub fn hint(mut self, hint: &str) -> Self {
        self.hint = Some(hint.into());
        self
    }

    /// The control must be filled in.
    pub fn required(mut self) -> Self {
        self.required = true;
        self
    }

    /// At most `n` characters.
    pub fn max_length(mut self, n: usize) -> Self {
        self.max_length = Some(n);
        self
    }

    /// The label and control; ids start with `prefix` (unique per form).
    pub fn render(&self, prefix: &str) -> Html {
        let id = format!("{prefix}-{}", self.name);
        let mut out = format!("<label for=\"{}\">{}</label>", escape(&id), escape(&self.label));
        let mut attributes = format!(" id=\"{}\" name=\"{}\"", escape(&id), escape(&self.name));
        if let Some(hint) = &self.hint {
            out.push_str(&format!("<span class=\"hint\" id=\"{}-hint\">{}</span>", escape(&id), escape(hint)));
            attributes.push_str(&format!(" aria-describedby=\"{}-hint\"", escape(&id)));
        }
        let mut flags = String::new();
        if let Some(n) = self.max_length {
            flags.push_str(&format!(" maxlength=\"{n}\""));
        }
        if self.required {
            flags.push_str(" required");
        }
        match self.kind {
            "textarea" => out.push_str(&format!("<textarea{attributes}{flags}>{}</textarea>", escape(&self.value))),
            "select" => {
                let options: String = self
                    .options
                    .iter()
                    .map(|(value, text)| {
                        let selected = if *value == self.value { " selected" } else { "" };
                        format!("<option value=\"{}\"{selected}>{}</option>", escape(value), escape(text))
                    })
                    .collect();
                out.push_str(&format!("<select{attributes}{flags}>{options}</select>"));
            }
            "file" => out.push_str(&format!("<input{attributes} type=\"file\"{flags}>")),
            kind => {
                out.push_str(&format!("<input{attributes} type=\"{kind}\" value=\"{}\"{flags}>", escape(&self.value)))
            }
        }
        Html(out)
    }
}

/// A form whose submission the workbench turns into an invocation of the
/// plugin (GET: the fields become the query; POST: the body, urlencoded or
/// multipart).
///
/// ```
/// use workbench_sdk::html::{Field, Form};
/// let form = Form::post("/", "report").field(Field::textarea("text", "今日施工内容").required()).submit("提交");
/// assert!(form.as_str().starts_with("<form method=\"post\" action=\"/\" aria-label=\"report\">"));
/// assert!(form.as_str().contains("<label for=\"report-text\">今日施工内容</label>"));
/// assert!(form.as_str().ends_with("<div class=\"actions\"><button type=\"submit\">提交</button></div></form>"));
/// ```
#[derive(Debug, Clone)]
pub struct Form {
    method: &'static str,
    action: String,
    name: String,
    multipart: bool,
    inline: bool,
    content: Html,
}

impl Form {
    fn new(method: &'static str, action: &str, name: &str) -> Self {
        Self {
            method,
            action: action.into(),
            name: name.into(),
            multipart: false,
            inline: false,
            content: Html::default(),
        }
    }

    /// A form that GETs `action` (a search, a filter); `name` labels it for
    /// assistive technology and prefixes its ids.
    pub fn get(action: &str, name: &str) -> Self {
        Self::new("get", action, name)
    }

    /// A form that POSTs to `action`.
    pub fn post(action: &str, name: &str) -> Self {
        Self::new("post", action, name)
    }

    /// Sends the fields as `multipart/form-data` (for file inputs).
    pub fn multipart(mut self) -> Self {
        self.multipart = true;
        self
    }

    /// A one-button form laid out in a line (e.g. "mark done" in a table row).
    pub fn inline(mut self) -> Self {
        self.inline = true;
        self
    }

    /// Adds a labelled control.
    pub fn field(mut self, field: Field) -> Self {
        let prefix = self.name.clone();
        self.content.push(field.render(&prefix));
        self
    }

    /// Adds a hidden value.
    pub fn hidden(mut self, name: &str, value: &str) -> Self {
        self.content.push(Html(format!(
            "<input type=\"hidden\" name=\"{}\" value=\"{}\">",
            escape(name),
            escape(value)
        )));
        self
    }

    /// Ends the form with its submit button.
    pub fn submit(self, label: &str) -> Html {
        let mut out = format!("<form method=\"{}\" action=\"{}\"", self.method, escape(&self.action));
        if self.multipart {
            out.push_str(" enctype=\"multipart/form-data\"");
        }
        if self.inline {
            out.push_str(" class=\"inline\"");
        }
        out.push_str(&format!(" aria-label=\"{}\">", escape(&self.name)));
        out.push_str(self.content.as_str());
        if self.inline {
            out.push_str(&format!("<button type=\"submit\">{}</button></form>", escape(label)));
        } else {
            out.push_str(&format!(
                "<div class=\"actions\"><button type=\"submit\">{}</button></div></form>",
                escape(label)
            ));
        }
        Html(out)
    }
}

/// A table with a caption and header cells; `empty` is shown instead when it
/// has no rows.
///
/// ```
/// use workbench_sdk::html::{Html, Table};
/// let table = Table::new("拜访计划", ["日期", "客户"]).row([Html::from("2026-12-01"), Html::from("华东")]).render("没有计划");
/// assert!(table.as_str().starts_with("<table><caption>拜访计划</caption><thead><tr><th scope=\"col\">日期</th>"));
/// assert_eq!(Table::new("t", ["a"]).render("空").as_str(), "<p class=\"empty\">空</p>");
/// ```
#[derive(Debug, Clone)]
pub struct Table {
    caption: String,
    columns: Vec<String>,
    rows: Vec<Vec<Html>>,
}

impl Table {
    /// A table titled `caption` with these column headers.
    pub fn new<S: Into<String>>(caption: &str, columns: impl IntoIterator<Item = S>) -> Self {
        Self { caption: caption.into(), columns: columns.into_iter().map(Into::into).collect(), rows: Vec::new() }
    }

    /// Adds a row of cells.
    pub fn row(mut self, cells: impl IntoIterator<Item = Html>) -> Self {
        self.rows.push(cells.into_iter().collect());
        self
    }

    /// The table, or the `empty` text when it has no rows.
    pub fn render(&self, empty: &str) -> Html {
        if self.rows.is_empty() {
            return Html(format!("<p class=\"empty\">{}</p>", escape(empty)));
        }
        let head: String = self.columns.iter().map(|c| format!("<th scope=\"col\">{}</th>", escape(c))).collect();
        let body: String = self
            .rows
            .iter()
            .map(|row| format!("<tr>{}</tr>", row.iter().map(|cell| format!("<td>{cell}</td>")).collect::<String>()))
            .collect();
        Html(format!(
            "<table><caption>{}</caption><thead><tr>{head}</tr></thead><tbody>{body}</tbody></table>",
            escape(&self.caption)
        ))
    }
}
