//! Sending one admitted request: resolve the name (or take the operator's
//! fixed addresses), refuse it if any address is not public, connect to an
//! address that was checked, TLS with the original host name, HTTP/1.1
//! with no redirect following, and bodies counted and capped both ways.

use std::net::{IpAddr, SocketAddr};
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};
use std::time::Duration;

use bytes::Bytes;
use http_body::{Body, Frame, SizeHint};
use http_body_util::BodyExt;
use tokio::io::{AsyncRead, AsyncWrite};
use tokio::net::TcpStream;
use wasmtime_wasi_http::io::TokioIo;
use wasmtime_wasi_http::{Error, RequestOptions, WasiBody};

use super::address::not_public;
use super::{Egress, Trace};
use crate::model::audit::Outcome;
use crate::model::egress::Scheme;

/// Where an admitted request goes.
#[derive(Debug)]
pub(super) struct Target {
    pub(super) scheme: Scheme,
    pub(super) host: String,
    pub(super) port: u16,
}

/// The connection's driver, handed back with the response.
type Io = Box<dyn Future<Output = Result<(), Error>> + Send>;

/// Why a request got no response: the guest's error code, and the record's
/// outcome and reason.
pub(super) struct Failure {
    pub(super) error: Error,
    pub(super) outcome: Outcome,
    pub(super) reason: String,
}

fn failed(error: Error, reason: String) -> Failure {
    Failure { error, outcome: Outcome::Failed, reason }
}

fn denied(error: Error, reason: String) -> Failure {
    Failure { error, outcome: Outcome::Denied, reason }
}

pub(super) trait Stream: AsyncRead + AsyncWrite + Send + Unpin {}
impl<T: AsyncRead + AsyncWrite + Send + Unpin> Stream for T {}

pub(super) async fn send(
    shared: Arc<Egress>,
    target: Target,
    request: http::Request<WasiBody>,
    options: Option<RequestOptions>,
    trace: Arc<Trace>,
) -> Result<(http::Response<WasiBody>, Io), Error> {
    match attempt(&shared, &target, request, options, &trace).await {
        Ok(answer) => Ok(answer),
        Err(failure) => {
            trace.finish(failure.outcome, Some(failure.reason));
            Err(failure.error)
        }
    }
}

fn millis(duration: Duration) -> u128 {
    duration.as_millis()
}

async fn attempt(
    shared: &Egress,
    target: &Target,
    request: http::Request<WasiBody>,
    options: Option<RequestOptions>,
    trace: &Arc<Trace>,
) -> Result<(http::Response<WasiBody>, Io), Failure> {
    let config = &shared.config;
    // The guest may ask for shorter timeouts, never longer ones.
    let clamp = |asked: Option<Duration>, ours: u64| {
        let ours = Duration::from_millis(ours.max(1));
        asked.map_or(ours, |asked| asked.clamp(Duration::from_millis(1), ours))
    };
    let connect_timeout = clamp(options.and_then(|o| o.connect_timeout), config.connect_timeout_ms);
    let first_byte_timeout = clamp(options.and_then(|o| o.first_byte_timeout), config.first_byte_timeout_ms);
    let between_bytes_timeout = clamp(options.and_then(|o| o.between_bytes_timeout), config.between_bytes_timeout_ms);

    let announced = content_length(request.headers());
    if let Some(length) = announced.filter(|l| *l > config.max_request_bytes) {
        return Err(denied(
            Error::HttpRequestBodySize(Some(length)),
            format!("request_too_large: {length} bytes; at most {}", config.max_request_bytes),
        ));
    }

    let stream = open(shared, target, connect_timeout).await?;
    let (mut sender, connection) = match tokio::time::timeout(
        connect_timeout,
        hyper::client::conn::http1::Builder::new().handshake::<_, Outbound>(TokioIo::new(stream)),
    )
    .await
    {
        Ok(Ok(pair)) => pair,
        Ok(Err(error)) => {
            let reason = format!("http: {error}");
            return Err(failed(Error::from(error), reason));
        }
        Err(_) => {
            return Err(failed(
                Error::ConnectionTimeout,
                format!("connect_timeout: no HTTP connection within {} ms", millis(connect_timeout)),
            ));
        }
    };
    // The connection is driven here, beside the request, until the
    // response's head arrives; from then on by the `io` future handed back,
    // which wasi:http runs in a task of its own. No task of ours: each one
    // is a wake-up across threads per request.
    // Dropped as soon as it ends, so a request it left unanswered fails at
    // once instead of waiting out the first-byte timeout.
    let mut connection = Some(connection);
    let mut closed: Option<hyper::Error> = None;

    // On the wire the request names only its path: the host is in `Host`,
    // which names the host checked (never the URL's user information).
    let (mut parts, body) = request.into_parts();
    let name = if target.host.parse::<std::net::Ipv6Addr>().is_ok() {
        format!("[{}]", target.host)
    } else {
        target.host.clone()
    };
    let host = if target.port == target.scheme.default_port() { name } else { format!("{name}:{}", target.port) };
    let host = http::HeaderValue::from_str(&host)
        .map_err(|e| denied(Error::HttpRequestUriInvalid, format!("bad_request: host {host:?}: {e}")))?;
    parts.headers.insert(http::header::HOST, host);
    let path = parts.uri.path_and_query().map_or("/", |p| p.as_str());
    parts.uri = http::Uri::builder()
        .path_and_query(path)
        .build()
        .map_err(|e| denied(Error::HttpRequestUriInvalid, format!("bad_request: {e}")))?;
    let body = Outbound { inner: body, trace: Arc::clone(trace), cap: config.max_request_bytes };
    let sending = tokio::time::timeout(first_byte_timeout, sender.send_request(http::Request::from_parts(parts, body)));
    tokio::pin!(sending);
    let answer = loop {
        let Some(driving) = connection.as_mut() else { break (&mut sending).await };
        tokio::select! {
            answer = &mut sending => break answer,
            // The connection may end first (the server answered and closed):
            // the answer is still read from `sending`.
            ended = driving => {
                connection = None;
                closed = ended.err();
            }
        }
    };
    let response = match answer {
        Ok(Ok(response)) => response,
        Ok(Err(error)) => {
            // A body over the cap has ended the trace with its own reason already.
            let error = closed.unwrap_or(error);
            let reason = format!("http: {error}");
            return Err(failed(Error::from(error), reason));
        }
        Err(_) => {
            return Err(failed(
                Error::ConnectionReadTimeout,
                format!("response_timeout: no response within {} ms", millis(first_byte_timeout)),
            ));
        }
    };
    trace.set_status(response.status().as_u16());
    let (parts, incoming) = response.into_parts();
    if let Some(length) = content_length(&parts.headers).filter(|l| *l > config.max_response_bytes) {
        return Err(failed(
            Error::HttpResponseBodySize(Some(length)),
            format!("response_too_large: {length} bytes announced; at most {}", config.max_response_bytes),
        ));
    }
    let body = Inbound {
        incoming,
        trace: Arc::clone(trace),
        cap: config.max_response_bytes,
        between: between_bytes_timeout,
        idle: Box::pin(tokio::time::sleep(between_bytes_timeout)),
        ended: false,
    };
    let io: Io = Box::new(async move {
        match (connection, closed) {
            (Some(connection), _) => connection.await.map_err(Error::from),
            (None, Some(error)) => Err(Error::from(error)),
            (None, None) => Ok(()),
        }
    });
    Ok((http::Response::from_parts(parts, body.boxed_unsync()), io))
}

/// A connection to `target` on an address that was checked: resolved (or
/// the operator's fixed addresses), every address public or allowed, then
/// TCP and, for https, TLS verifying the name.
pub(super) async fn open(
    shared: &Egress,
    target: &Target,
    connect_timeout: Duration,
) -> Result<Box<dyn Stream>, Failure> {
    let config = &shared.config;
    let addresses = resolve(config, target, connect_timeout).await?;
    // Every address the name has must be allowed: a name that also points
    // inside is refused whichever address a connection would have used.
    for address in &addresses {
        if let Some(kind) = not_public(address.ip())
            && !config.private_allowed(address.ip())
        {
            return Err(denied(
                Error::DestinationIpProhibited,
                format!("address_prohibited: {} is {} ({kind})", target.host, address.ip()),
            ));
        }
    }
    let tcp = match tokio::time::timeout(connect_timeout, connect(&addresses)).await {
        Ok(result) => result?,
        Err(_) => {
            return Err(failed(
                Error::ConnectionTimeout,
                format!("connect_timeout: no connection within {} ms", millis(connect_timeout)),
            ));
        }
    };
    let _ = tcp.set_nodelay(true);
    let stream: Box<dyn Stream> = match target.scheme {
        Scheme::Http => Box::new(tcp),
        Scheme::Https => {
            let name = rustls::pki_types::ServerName::try_from(target.host.clone())
                .map_err(|e| failed(Error::HttpRequestUriInvalid, format!("tls: {}: {e}", target.host)))?;
            match tokio::time::timeout(connect_timeout, shared.tls.connect(name, tcp)).await {
                Ok(Ok(tls)) => Box::new(tls),
                Ok(Err(error)) => {
                    let certificate = error
                        .get_ref()
                        .and_then(|inner| inner.downcast_ref::<rustls::Error>())
                        .is_some_and(|e| matches!(e, rustls::Error::InvalidCertificate(_)));
                    let code = if certificate { Error::TlsCertificateError } else { Error::TlsProtocolError };
                    return Err(failed(code, format!("tls: {}: {error}", target.host)));
                }
                Err(_) => {
                    return Err(failed(
                        Error::ConnectionTimeout,
                        format!("connect_timeout: no TLS session within {} ms", millis(connect_timeout)),
                    ));
                }
            }
        }
    };
    Ok(stream)
}

fn content_length(headers: &http::HeaderMap) -> Option<u64> {
    headers.get(http::header::CONTENT_LENGTH)?.to_str().ok()?.trim().parse().ok()
}

/// The addresses to try: the literal address, the operator's fixed ones, or DNS.
async fn resolve(config: &super::EgressConfig, target: &Target, timeout: Duration) -> Result<Vec<SocketAddr>, Failure> {
    if let Ok(ip) = target.host.parse::<IpAddr>() {
        return Ok(vec![SocketAddr::new(ip, target.port)]);
    }
    if let Some(fixed) = config.resolve.get(&target.host) {
        return Ok(fixed.iter().map(|pinned| SocketAddr::new(pinned.ip, pinned.port.unwrap_or(target.port))).collect());
    }
    match tokio::time::timeout(timeout, tokio::net::lookup_host((target.host.as_str(), target.port))).await {
        Err(_) => Err(failed(
            Error::DnsTimeout,
            format!("dns_timeout: {} did not resolve within {} ms", target.host, millis(timeout)),
        )),
        Ok(Err(error)) => Err(failed(
            Error::DnsError { rcode: Some(error.to_string()), info_code: None },
            format!("dns: {}: {error}", target.host),
        )),
        Ok(Ok(found)) => {
            let found: Vec<SocketAddr> = found.collect();
            if found.is_empty() {
                return Err(failed(Error::DestinationNotFound, format!("dns: {} has no address", target.host)));
            }
            Ok(found)
        }
    }
}

/// Connects to the first of `addresses` that answers.
async fn connect(addresses: &[SocketAddr]) -> Result<TcpStream, Failure> {
    let mut last = None;
    for address in addresses {
        match TcpStream::connect(address).await {
            Ok(stream) => return Ok(stream),
            Err(error) => last = Some((address, error)),
        }
    }
    let reason = match last {
        Some((address, error)) => format!("connect: {address}: {error}"),
        None => "connect: no address".to_owned(),
    };
    Err(failed(Error::ConnectionRefused, reason))
}

/// The request body as sent: counted, and cut off past the cap.
struct Outbound {
    inner: WasiBody,
    trace: Arc<Trace>,
    cap: u64,
}

impl Body for Outbound {
    type Data = Bytes;
    type Error = Error;

    fn poll_frame(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Result<Frame<Bytes>, Error>>> {
        let this = self.get_mut();
        match Pin::new(&mut this.inner).poll_frame(cx) {
            Poll::Ready(Some(Ok(frame))) => {
                if let Some(data) = frame.data_ref() {
                    let total = this.trace.add_out(data.len() as u64);
                    if total > this.cap {
                        this.trace.finish(Outcome::Denied, Some(format!("request_too_large: over {} bytes", this.cap)));
                        return Poll::Ready(Some(Err(Error::HttpRequestBodySize(Some(total)))));
                    }
                }
                Poll::Ready(Some(Ok(frame)))
            }
            other => other,
        }
    }

    fn is_end_stream(&self) -> bool {
        self.inner.is_end_stream()
    }

    fn size_hint(&self) -> SizeHint {
        self.inner.size_hint()
    }
}

/// The response body as received: counted, capped, with a timeout between
/// its parts; its end ends the request's record.
struct Inbound {
    incoming: hyper::body::Incoming,
    trace: Arc<Trace>,
    cap: u64,
    between: Duration,
    idle: Pin<Box<tokio::time::Sleep>>,
    ended: bool,
}

impl Body for Inbound {
    type Data = Bytes;
    type Error = Error;

    fn poll_frame(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Result<Frame<Bytes>, Error>>> {
        let this = self.get_mut();
        if this.ended {
            return Poll::Ready(None);
        }
        match Pin::new(&mut this.incoming).poll_frame(cx) {
            Poll::Ready(None) => {
                this.ended = true;
                this.trace.finish(Outcome::Allowed, None);
                Poll::Ready(None)
            }
            Poll::Ready(Some(Ok(frame))) => {
                if let Some(data) = frame.data_ref() {
                    let total = this.trace.add_in(data.len() as u64);
                    if total > this.cap {
                        this.ended = true;
                        this.trace
                            .finish(Outcome::Failed, Some(format!("response_too_large: over {} bytes", this.cap)));
                        return Poll::Ready(Some(Err(Error::HttpResponseBodySize(Some(total)))));
                    }
                }
                let next = tokio::time::Instant::now() + this.between;
                this.idle.as_mut().reset(next);
                Poll::Ready(Some(Ok(frame)))
            }
            Poll::Ready(Some(Err(error))) => {
                this.ended = true;
                this.trace.finish(Outcome::Failed, Some(format!("response: {error}")));
                Poll::Ready(Some(Err(Error::from(error))))
            }
            Poll::Pending => {
                if this.idle.as_mut().poll(cx).is_ready() {
                    this.ended = true;
                    this.trace.finish(
                        Outcome::Failed,
                        Some(format!("response_timeout: no bytes for {} ms", millis(this.between))),
                    );
                    return Poll::Ready(Some(Err(Error::ConnectionReadTimeout)));
                }
                Poll::Pending
            }
        }
    }

    fn is_end_stream(&self) -> bool {
        self.ended || self.incoming.is_end_stream()
    }

    fn size_hint(&self) -> SizeHint {
        self.incoming.size_hint()
    }
}

impl Drop for Inbound {
    fn drop(&mut self) {
        if !self.ended {
            if self.trace.call_cut() && !self.incoming.is_end_stream() {
                self.trace.finish(Outcome::Failed, Some("cut_off: the call ended before the response did".to_owned()));
                return;
            }
            let reason = (!self.incoming.is_end_stream())
                .then(|| "unread: the plugin did not read the whole response".to_owned());
            self.trace.finish(Outcome::Allowed, reason);
        }
    }
}
