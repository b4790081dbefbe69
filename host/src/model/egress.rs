//! Where a plugin may send requests: the destinations its manifest declares
//! (`[[egress]]`), how a request's address is matched against them, and
//! what the audit record of one outbound request says.

use std::fmt;
use std::net::{IpAddr, Ipv6Addr};
use std::str::FromStr;

use serde::{Deserialize, Serialize};

use crate::model::text::Text;

/// `http` or `https`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Scheme {
    /// Plain HTTP: only to hosts the operator allows it for.
    Http,
    /// HTTP over TLS.
    Https,
}

impl Scheme {
    /// `http` or `https`.
    pub fn as_str(self) -> &'static str {
        match self {
            Scheme::Http => "http",
            Scheme::Https => "https",
        }
    }

    /// 80 or 443.
    pub fn default_port(self) -> u16 {
        match self {
            Scheme::Http => 80,
            Scheme::Https => 443,
        }
    }
}

/// The host part of a destination.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum HostPattern {
    /// Exactly this name or address (lower case; an IPv6 address without brackets).
    Exact(String),
    /// Any name under this one (`*.acme.example` holds `acme.example`): a
    /// name with at least one more label, never the name itself.
    Under(String),
}

impl HostPattern {
    /// Whether `host` (lower case, no trailing dot) is one this pattern names.
    pub fn matches(&self, host: &str) -> bool {
        match self {
            HostPattern::Exact(name) => host == name,
            HostPattern::Under(suffix) => host
                .strip_suffix(suffix.as_str())
                .and_then(|rest| rest.strip_suffix('.'))
                .is_some_and(|label| !label.is_empty()),
        }
    }
}

/// A place a plugin may send requests to: scheme, host (exact or
/// `*.suffix`) and port. Written `https://api.acme.example`,
/// `https://*.acme.example:8443` or `http://127.0.0.1:8080`.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Destination {
    /// The scheme.
    pub scheme: Scheme,
    /// The host or hosts.
    pub host: HostPattern,
    /// The port (the scheme's default when the text gives none).
    pub port: u16,
}

/// Why a destination's text is not one.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("destination {text:?}: {reason}")]
pub struct BadDestination {
    /// The text given.
    pub text: String,
    /// What is wrong, and what to write instead.
    pub reason: String,
}

fn bad(text: &str, reason: impl Into<String>) -> BadDestination {
    BadDestination { text: text.to_owned(), reason: reason.into() }
}

/// Whether `name` is a DNS host name: labels of a-z, 0-9 and `-` (not at
/// either end), 1 to 63 characters each, 253 in all.
pub fn valid_dns_name(name: &str) -> bool {
    !name.is_empty()
        && name.len() <= 253
        && name.split('.').all(|label| {
            (1..=63).contains(&label.len())
                && !label.starts_with('-')
                && !label.ends_with('-')
                && label.bytes().all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-')
        })
}

/// A request's host as the matching compares it: lower case, without a
/// trailing dot, an IPv6 address without brackets.
pub fn normal_host(host: &str) -> String {
    let host = host.trim_end_matches('.').to_ascii_lowercase();
    match host.strip_prefix('[').and_then(|h| h.strip_suffix(']')) {
        Some(inner) => inner.to_owned(),
        None => host,
    }
}

impl FromStr for Destination {
    type Err = BadDestination;

    fn from_str(text: &str) -> Result<Self, Self::Err> {
        let (scheme, rest) = match text.split_once("://") {
            Some(("https", rest)) => (Scheme::Https, rest),
            Some(("http", rest)) => (Scheme::Http, rest),
            Some((other, _)) => return Err(bad(text, format!("scheme {other:?} is not http or https"))),
            None => return Err(bad(text, "write it as https://HOST or https://HOST:PORT")),
        };
        let rest = rest.strip_suffix('/').unwrap_or(rest);
        if rest.contains(['/', '?', '#', '@']) {
            return Err(bad(text, "give only a scheme, a host and a port: no path, query, fragment or user"));
        }
        let (host, port) = if let Some(inner) = rest.strip_prefix('[') {
            let (address, after) = inner.split_once(']').ok_or_else(|| bad(text, "an IPv6 address lacks its ']'"))?;
            let port = match after {
                "" => None,
                _ => Some(after.strip_prefix(':').ok_or_else(|| bad(text, "write the port as [ADDRESS]:PORT"))?),
            };
            address.parse::<Ipv6Addr>().map_err(|_| bad(text, format!("{address:?} is not an IPv6 address")))?;
            (address.to_ascii_lowercase(), port)
        } else {
            match rest.rsplit_once(':') {
                Some((host, port)) => (host.to_owned(), Some(port)),
                None => (rest.to_owned(), None),
            }
        };
        let port = match port {
            None => scheme.default_port(),
            Some(port) => match port.parse::<u16>() {
                Ok(port) if port > 0 => port,
                _ => return Err(bad(text, format!("port {port:?} is not 1 to 65535"))),
            },
        };
        if host != host.to_ascii_lowercase() {
            return Err(bad(text, "write the host in lower case"));
        }
        let host = if let Some(suffix) = host.strip_prefix("*.") {
            if !valid_dns_name(suffix) || !suffix.contains('.') {
                return Err(bad(
                    text,
                    "a wildcard is `*.` before a name of at least two labels (`*.acme.example`), and nothing else",
                ));
            }
            HostPattern::Under(suffix.to_owned())
        } else if host.parse::<IpAddr>().is_ok() || valid_dns_name(&host) {
            HostPattern::Exact(host)
        } else {
            return Err(bad(text, format!("{host:?} is not a host name or an IP address")));
        };
        Ok(Destination { scheme, host, port })
    }
}

impl fmt::Display for Destination {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}://", self.scheme.as_str())?;
        match &self.host {
            HostPattern::Exact(host) if host.contains(':') => write!(f, "[{host}]")?,
            HostPattern::Exact(host) => f.write_str(host)?,
            HostPattern::Under(suffix) => write!(f, "*.{suffix}")?,
        }
        if self.port != self.scheme.default_port() {
            write!(f, ":{}", self.port)?;
        }
        Ok(())
    }
}

impl Serialize for Destination {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.collect_str(self)
    }
}

impl<'de> Deserialize<'de> for Destination {
    fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let text = String::deserialize(deserializer)?;
        text.parse().map_err(serde::de::Error::custom)
    }
}

impl Destination {
    /// Whether a request to `scheme://host:port` goes to this destination
    /// (`host` as [`normal_host`] gives it).
    pub fn matches(&self, scheme: Scheme, host: &str, port: u16) -> bool {
        self.scheme == scheme && self.port == port && self.host.matches(host)
    }

    /// The address of one request, written the way destinations are:
    /// `https://api.acme.example`, `http://127.0.0.1:8080`.
    pub fn address(scheme: Scheme, host: &str, port: u16) -> String {
        Destination { scheme, host: HostPattern::Exact(host.to_owned()), port }.to_string()
    }
}

/// One destination a plugin declares, with why it sends data there.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct EgressDeclaration {
    /// Where: `https://api.acme.example`, `https://*.acme.example:8443`.
    pub destination: Destination,
    /// What the plugin sends there and why, in words the person
    /// understands; one string or one per language.
    pub purpose: Text,
}

/// What the audit record of one outbound request says beyond the common
/// fields (its reason says why it was refused or failed).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct EgressDetail {
    /// Where it went: scheme, host and port as the plugin named them.
    pub destination: String,
    /// The HTTP method.
    pub method: String,
    /// The path, without its query (which may carry data).
    pub path: String,
    /// The response's status, when one came.
    pub status: Option<u16>,
    /// Request body bytes sent.
    pub bytes_out: u64,
    /// Response body bytes received.
    pub bytes_in: u64,
    /// From the request to the end of the response (or its failure), ms.
    pub duration_ms: u64,
    /// The personal scopes the call had read before the request: the
    /// fields that could have left with it.
    pub could_include: Vec<String>,
}

impl EgressDetail {
    /// The stored and hashed form: JSON with the fields in their declared order.
    pub fn to_json(&self) -> String {
        serde_json::to_string(self).unwrap_or_default()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn destinations_parse_print_and_match() {
        let cases = [
            ("https://api.acme.example", "https://api.acme.example"),
            ("https://api.acme.example:443/", "https://api.acme.example"),
            ("https://*.acme.example:8443", "https://*.acme.example:8443"),
            ("http://127.0.0.1:8080", "http://127.0.0.1:8080"),
            ("http://[::1]:8080", "http://[::1]:8080"),
        ];
        for (text, printed) in cases {
            let destination: Destination = text.parse().expect(text);
            assert_eq!(destination.to_string(), printed);
            assert_eq!(printed.parse::<Destination>().expect(printed), destination);
        }
        let any: Destination = "https://*.acme.example".parse().expect("valid");
        assert!(any.matches(Scheme::Https, "api.acme.example", 443));
        assert!(any.matches(Scheme::Https, "a.b.acme.example", 443));
        assert!(!any.matches(Scheme::Https, "acme.example", 443), "the name itself is not under it");
        assert!(!any.matches(Scheme::Https, "evilacme.example", 443));
        assert!(!any.matches(Scheme::Http, "api.acme.example", 443));
        assert!(!any.matches(Scheme::Https, "api.acme.example", 8443));
        let loopback: Destination = "http://[::1]:8080".parse().expect("valid");
        assert!(loopback.matches(Scheme::Http, &normal_host("[::1]"), 8080));
        assert_eq!(normal_host("API.Acme.Example."), "api.acme.example");
    }

    #[test]
    fn each_bad_destination_says_what_to_write() {
        let cases = [
            ("api.acme.example", "write it as https://HOST"),
            ("ftp://acme.example", "scheme \"ftp\""),
            ("https://acme.example/v1", "no path"),
            ("https://acme.example?q=1", "no path, query"),
            ("https://user@acme.example", "user"),
            ("https://acme.example:0", "port \"0\""),
            ("https://acme.example:99999", "port \"99999\""),
            ("https://*.example", "at least two labels"),
            ("https://api.*.example", "not a host name"),
            ("https://Acme.example", "lower case"),
            ("https://-acme.example", "not a host name"),
            ("https://[::1", "lacks its ']'"),
            ("https://[zz]:1", "not an IPv6 address"),
        ];
        for (text, reason) in cases {
            let error = text.parse::<Destination>().expect_err(text).to_string();
            assert!(error.contains(reason), "{text}: {error}");
        }
    }
}
