//! Notifications plugins put in members' inboxes (`workbench:plugin/notify`):
//! what a plugin may send, and an inbox entry as its member reads it.

use serde::Serialize;

/// A notification as a plugin sends it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Draft {
    /// A short title, 1 to 100 characters.
    pub title: String,
    /// The text, at most 1,000 characters.
    pub text: String,
    /// Where opening it leads inside the plugin: `/` and a path (and an
    /// optional query), at most 500 characters.
    pub route: String,
}

/// Why a draft cannot be sent; the message tells the developer how to fix it.
pub fn check(draft: &Draft) -> Result<(), String> {
    let title = draft.title.trim().chars().count();
    if title == 0 || draft.title.chars().count() > 100 {
        return Err("the title must be 1 to 100 characters".into());
    }
    if draft.text.chars().count() > 1000 {
        return Err("the text must be at most 1000 characters".into());
    }
    let controls = |s: &str| s.chars().any(|c| c.is_control() && c != '\n');
    if controls(&draft.title) || controls(&draft.text) {
        return Err("the title and text may not hold control characters (a newline in the text is fine)".into());
    }
    let route = &draft.route;
    let printable = route.bytes().all(|b| (0x21..0x7f).contains(&b));
    if !route.starts_with('/') || route.starts_with("//") || route.len() > 500 || !printable || route.contains('\\') {
        return Err(format!(
            "the route {route:?} must be a path inside the plugin: '/' and at most 500 printable characters, no spaces \
             or backslashes, not starting with '//'"
        ));
    }
    Ok(())
}

/// One notification in a member's inbox.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, utoipa::ToSchema)]
pub struct InboxEntry {
    /// Its id.
    pub id: String,
    /// The plugin that sent it.
    pub plugin: String,
    /// Title.
    pub title: String,
    /// Text.
    pub text: String,
    /// Where opening it leads inside the plugin.
    pub route: String,
    /// When it was sent, ms since the epoch.
    pub created_at_ms: i64,
    /// When the member read it, if they have.
    pub read_at_ms: Option<i64>,
}

/// A member's inbox: the newest notifications and how many are unread.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, utoipa::ToSchema)]
pub struct Inbox {
    /// Notifications not read yet (all of them, not only those listed).
    pub unread: u64,
    /// The newest notifications, newest first.
    pub notifications: Vec<InboxEntry>,
}

#[cfg(test)]
mod tests {
    use super::*;

    fn draft(title: &str, text: &str, route: &str) -> Draft {
        Draft { title: title.into(), text: text.into(), route: route.into() }
    }

    #[test]
    fn a_route_stays_inside_the_plugin_and_texts_are_bounded() {
        assert_eq!(check(&draft("待审批", "差旅报销 ¥1,200", "/approvals/a-1?from=inbox")), Ok(()));
        for route in ["approvals", "//evil.example/x", "https://evil.example", "/a b", "/a\\b", ""] {
            assert!(check(&draft("t", "", route)).is_err(), "{route:?}");
        }
        assert!(check(&draft(" ", "", "/")).is_err());
        assert!(check(&draft(&"长".repeat(101), "", "/")).is_err());
        assert!(check(&draft("t", &"x".repeat(1001), "/")).is_err());
        assert!(check(&draft("t\u{7}", "", "/")).is_err());
        assert_eq!(check(&draft("t", "line\nline", "/")), Ok(()));
    }
}
