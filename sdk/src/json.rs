//! Minimal JSON output for plugins that do not want a serialisation crate.

/// Encodes `text` as a JSON string literal, quotes included.
///
/// ```
/// assert_eq!(workbench_sdk::json::quote("a\"b\n张"), "\"a\\\"b\\u000a张\"");
/// ```
pub fn quote(text: &str) -> String {
    let mut out = String::with_capacity(text.len() + 2);
    out.push('"');
    for c in text.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            c if (c as u32) < 0x20 => out.push_str(&format!("\\u{:04x}", c as u32)),
            c => out.push(c),
        }
    }
    out.push('"');
    out
}

/// Encodes an optional string: `null` when absent.
///
/// ```
/// assert_eq!(workbench_sdk::json::quote_opt(None), "null");
/// assert_eq!(workbench_sdk::json::quote_opt(Some("x")), "\"x\"");
/// ```
pub fn quote_opt(text: Option<&str>) -> String {
    text.map_or_else(|| "null".to_owned(), quote)
}
