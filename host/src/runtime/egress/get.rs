//! The host's own GET on a member's behalf (an avatar a plugin's page
//! shows): the same rules as a plugin's request (https, or plain http
//! where the operator allows it; every address public or allowed; the
//! connection to the address checked; no redirect followed), with its own
//! size cap and one timeout for the whole exchange.

use std::time::Duration;

use bytes::Bytes;
use http_body_util::{BodyExt, Empty, Limited};
use wasmtime_wasi_http::io::TokioIo;

use super::Egress;
use super::send::{Target, open};
use crate::model::egress::{Scheme, normal_host};

/// What a GET brought back.
#[derive(Debug, Clone)]
pub struct Fetched {
    /// The response's `content-type`, if it sent one.
    pub content_type: Option<String>,
    /// The body.
    pub body: Bytes,
}

impl Egress {
    /// GETs `url` (at most `max_bytes` of body, within `within`). The error
    /// says why in words fit for the operator's log.
    pub async fn get(&self, url: &str, max_bytes: usize, within: Duration) -> Result<Fetched, String> {
        match tokio::time::timeout(within, self.exchange(url, max_bytes, within)).await {
            Ok(result) => result,
            Err(_) => Err(format!("timeout: no complete answer within {} ms", within.as_millis())),
        }
    }

    async fn exchange(&self, url: &str, max_bytes: usize, within: Duration) -> Result<Fetched, String> {
        let uri: http::Uri = url.parse().map_err(|e| format!("bad_url: {e}"))?;
        let scheme = match uri.scheme_str() {
            Some("https") => Scheme::Https,
            Some("http") => Scheme::Http,
            _ => return Err("unsupported_scheme: only http and https".to_owned()),
        };
        if uri.authority().is_some_and(|a| a.as_str().contains('@')) {
            return Err("bad_url: user information in the URL".to_owned());
        }
        let host = normal_host(uri.host().unwrap_or_default());
        if host.is_empty() {
            return Err("bad_url: no host".to_owned());
        }
        if scheme == Scheme::Http && !self.config.plain_http_allowed(&host) {
            return Err(format!("plain_http: this host allows plain http only to {:?}", self.config.plain_http_hosts));
        }
        let port = uri.port_u16().unwrap_or(scheme.default_port());
        let target = Target { scheme, host, port };
        let connect = Duration::from_millis(self.config.connect_timeout_ms.max(1)).min(within);
        let stream = open(self, &target, connect).await.map_err(|failure| failure.reason)?;
        let (mut sender, connection) = hyper::client::conn::http1::Builder::new()
            .handshake::<_, Empty<Bytes>>(TokioIo::new(stream))
            .await
            .map_err(|e| format!("http: {e}"))?;
        // Ends with this future (the caller's timeout drops both).
        let driver = async move {
            let _ = connection.await;
        };
        let name = if target.host.parse::<std::net::Ipv6Addr>().is_ok() {
            format!("[{}]", target.host)
        } else {
            target.host.clone()
        };
        let authority = if port == scheme.default_port() { name } else { format!("{name}:{port}") };
        let request = http::Request::get(uri.path_and_query().map_or("/", |p| p.as_str()))
            .header(http::header::HOST, authority)
            .header(http::header::ACCEPT, "image/png, image/jpeg, image/gif, image/webp")
            .header(http::header::USER_AGENT, "workbench")
            .body(Empty::<Bytes>::new())
            .map_err(|e| format!("bad_url: {e}"))?;
        let exchange = async move {
            let response = sender.send_request(request).await.map_err(|e| format!("http: {e}"))?;
            let status = response.status();
            if !status.is_success() {
                // A redirect is not followed: wherever it points was not checked.
                return Err(format!("status: {status}"));
            }
            let content_type =
                response.headers().get(http::header::CONTENT_TYPE).and_then(|v| v.to_str().ok()).map(str::to_owned);
            let body = Limited::new(response.into_body(), max_bytes)
                .collect()
                .await
                .map_err(|e| format!("response: {e} (at most {max_bytes} bytes)"))?
                .to_bytes();
            Ok(Fetched { content_type, body })
        };
        tokio::pin!(exchange, driver);
        tokio::select! {
            result = &mut exchange => result,
            // The connection ended first: the exchange ends with it.
            () = &mut driver => exchange.await,
        }
    }
}
