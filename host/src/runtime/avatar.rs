//! Avatars for plugins' pages. A page's frame fetches nothing from
//! elsewhere, so the host fetches a member's avatar (the URL in their
//! directory profile, never one a page names) under the egress rules and
//! the page gets it as a `data:` URL. Only raster images it recognises by
//! their first bytes are handed on (PNG, JPEG, GIF, WebP: no SVG, which is
//! a document), at most [`MAX_BYTES`]. Answers, and failures, are kept a
//! while so that pages opened again and again do not fetch again.

use std::sync::Arc;
use std::time::{Duration, Instant};

use bytes::Bytes;

use super::egress::Egress;

/// The largest avatar handed on.
pub const MAX_BYTES: usize = 256 * 1024;
/// The longest a fetch may take.
const WITHIN: Duration = Duration::from_secs(5);
/// How long an avatar is kept.
const KEPT: Duration = Duration::from_secs(300);
/// How long a failure is kept (the avatar's host is not asked again sooner).
const FAILURE_KEPT: Duration = Duration::from_secs(30);
/// Avatars kept at most (each at most [`MAX_BYTES`]).
const CAPACITY: usize = 128;

/// An avatar as the page gets it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Image {
    /// `image/png`, `image/jpeg`, `image/gif` or `image/webp`, from its bytes.
    pub media_type: &'static str,
    /// The image.
    pub bytes: Bytes,
}

type Kept = (Instant, Result<Image, String>);

/// Fetches and keeps avatars.
pub struct Avatars {
    egress: Arc<Egress>,
    kept: quick_cache::sync::Cache<String, Kept>,
}

impl std::fmt::Debug for Avatars {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Avatars").field("kept", &self.kept.len()).finish_non_exhaustive()
    }
}

impl Avatars {
    /// Avatars fetched through `egress`, kept a while.
    pub fn new(egress: Arc<Egress>) -> Self {
        Self { egress, kept: quick_cache::sync::Cache::new(CAPACITY) }
    }

    /// The image at `url`, fetched now or kept from a recent fetch; the
    /// error says why there is none (for the operator's log).
    pub async fn image(&self, url: &str) -> Result<Image, String> {
        if let Some((at, kept)) = self.kept.get(url) {
            let fresh = if kept.is_ok() { KEPT } else { FAILURE_KEPT };
            if at.elapsed() < fresh {
                return kept;
            }
        }
        let fetched = self.egress.get(url, MAX_BYTES, WITHIN).await.and_then(|f| {
            let media_type = media_type(&f.body).ok_or_else(|| {
                format!(
                    "not_an_image: {} (PNG, JPEG, GIF or WebP only)",
                    f.content_type.as_deref().unwrap_or("no type")
                )
            })?;
            Ok(Image { media_type, bytes: f.body })
        });
        self.kept.insert(url.to_owned(), (Instant::now(), fetched.clone()));
        fetched
    }
}

/// The raster format `bytes` are in, by their signature.
pub fn media_type(bytes: &[u8]) -> Option<&'static str> {
    if bytes.starts_with(b"\x89PNG\r\n\x1a\n") {
        Some("image/png")
    } else if bytes.starts_with(&[0xff, 0xd8, 0xff]) {
        Some("image/jpeg")
    } else if bytes.starts_with(b"GIF87a") || bytes.starts_with(b"GIF89a") {
        Some("image/gif")
    } else if bytes.len() >= 12 && &bytes[..4] == b"RIFF" && &bytes[8..12] == b"WEBP" {
        Some("image/webp")
    } else {
        None
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_raster_images_are_recognised() {
        assert_eq!(media_type(b"\x89PNG\r\n\x1a\n...."), Some("image/png"));
        assert_eq!(media_type(&[0xff, 0xd8, 0xff, 0xe0]), Some("image/jpeg"));
        assert_eq!(media_type(b"GIF89a.."), Some("image/gif"));
        assert_eq!(media_type(b"RIFF\0\0\0\0WEBPVP8 "), Some("image/webp"));
        for other in [&b"<svg xmlns='http://www.w3.org/2000/svg'/>"[..], b"<html>", b"", b"\x89PN", b"RIFF\0\0\0\0WAVE"]
        {
            assert_eq!(media_type(other), None, "{other:?}");
        }
    }
}
