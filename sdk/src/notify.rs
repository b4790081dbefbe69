//! Notifications in the workbench inbox of the person the call is about
//! (the caller of a request; the subject of an event).
//!
//! Needs the `notify` scope: granted by the admin and consented to by the
//! person. The host limits how many a plugin sends and a person receives
//! per hour.

use crate::{AccessError, host};

/// Why a notification was not sent.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum NotifyError {
    /// Not declared, granted or consented to, or the call is about nobody.
    Denied(AccessError),
    /// The title (1 to 100 characters), text (at most 1,000) or route (a
    /// path inside the plugin starting with `/`) is malformed.
    Invalid(String),
    /// Too many for now: seconds until one may be sent again.
    RateLimited(u32),
}

impl std::fmt::Display for NotifyError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Self::Denied(reason) => write!(f, "notification denied: {reason}"),
            Self::Invalid(why) => write!(f, "invalid notification: {why}"),
            Self::RateLimited(seconds) => write!(f, "too many notifications; try again in {seconds} s"),
        }
    }
}

impl std::error::Error for NotifyError {}

/// Puts a notification in the person's inbox; opening it opens the plugin
/// at `route`. Returns the notification's id.
pub fn send(title: &str, text: &str, route: &str) -> Result<String, NotifyError> {
    host::notify(title, text, route)
}
