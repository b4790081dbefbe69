//! The operator's rules for outbound requests (`[egress]`).

use std::collections::BTreeMap;
use std::net::IpAddr;
use std::path::PathBuf;

use ipnet::IpNet;
use serde::Deserialize;

/// What plugins' outbound requests may reach, and how much they may move.
/// A request must also go to a destination its manifest declares and the
/// tenant's admin approved; these rules hold for every plugin on the host.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct EgressConfig {
    /// Hosts a destination may name with plain `http` (a service on the
    /// same machine in tests, `plugin dev` or the demo); every other
    /// destination is `https` only, and a manifest declaring plain `http`
    /// to another host is refused at publish.
    pub plain_http_hosts: Vec<String>,
    /// Address ranges requests may reach although they are loopback,
    /// private, link-local or otherwise not public (`127.0.0.1/32`).
    /// Empty: only public addresses.
    pub allow_private: Vec<IpNet>,
    /// Fixed addresses for names, used instead of DNS (as a hosts file,
    /// for plugins only): `"10.0.0.7"`, or `"127.0.0.1:8443"` to also
    /// connect to another port than the URL's (a stand-in service). The
    /// addresses are checked like resolved ones; TLS still verifies the name.
    pub resolve: BTreeMap<String, Vec<Pinned>>,
    /// CA certificates (PEM files) trusted besides the system's roots.
    pub extra_roots: Vec<PathBuf>,
    /// Requests one call may make.
    pub max_requests_per_call: u32,
    /// Largest request body, bytes.
    pub max_request_bytes: u64,
    /// Largest response body, bytes.
    pub max_response_bytes: u64,
    /// Longest wait for name lookup, connection and TLS, ms.
    pub connect_timeout_ms: u64,
    /// Longest wait for a response's first byte, ms.
    pub first_byte_timeout_ms: u64,
    /// Longest silence between two parts of a response body, ms.
    pub between_bytes_timeout_ms: u64,
}

impl Default for EgressConfig {
    fn default() -> Self {
        Self {
            plain_http_hosts: Vec::new(),
            allow_private: Vec::new(),
            resolve: BTreeMap::new(),
            extra_roots: Vec::new(),
            max_requests_per_call: 8,
            max_request_bytes: 1 << 20,
            max_response_bytes: 4 << 20,
            connect_timeout_ms: 3_000,
            first_byte_timeout_ms: 10_000,
            between_bytes_timeout_ms: 5_000,
        }
    }
}

/// An address `resolve` pins a name to, with the port to connect to
/// instead of the URL's, if one is given.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(try_from = "String")]
pub struct Pinned {
    /// The address.
    pub ip: IpAddr,
    /// The port to connect to; `None`: the URL's.
    pub port: Option<u16>,
}

impl std::str::FromStr for Pinned {
    type Err = String;

    fn from_str(text: &str) -> Result<Self, Self::Err> {
        if let Ok(ip) = text.parse::<IpAddr>() {
            return Ok(Self { ip, port: None });
        }
        match text.parse::<std::net::SocketAddr>() {
            Ok(address) => Ok(Self { ip: address.ip(), port: Some(address.port()) }),
            Err(_) => Err(format!(
                "{text:?} is not an address (10.0.0.7, ::1) or an address and port (127.0.0.1:8443, [::1]:8443)"
            )),
        }
    }
}

impl TryFrom<String> for Pinned {
    type Error = String;

    fn try_from(text: String) -> Result<Self, Self::Error> {
        text.parse()
    }
}

impl From<IpAddr> for Pinned {
    fn from(ip: IpAddr) -> Self {
        Self { ip, port: None }
    }
}

impl EgressConfig {
    /// Whether plain `http` may be used with `host`.
    pub fn plain_http_allowed(&self, host: &str) -> bool {
        self.plain_http_hosts.iter().any(|h| h.eq_ignore_ascii_case(host))
    }

    /// Whether `ip` is in a range the operator allows although it is not public.
    pub fn private_allowed(&self, ip: IpAddr) -> bool {
        self.allow_private.iter().any(|net| net.contains(&ip))
    }
}
