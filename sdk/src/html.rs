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
