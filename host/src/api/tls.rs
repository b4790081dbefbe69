//! HTTPS served by the host itself (rustls). The certificate and key are
//! read from the configured PEM files and read again when either file
//! changes (checked every `reload_secs`), without a restart: new
//! connections get the new certificate, open ones keep theirs. A file that
//! cannot be read or does not match its key leaves the certificate in use
//! unchanged (and says why in the log). Handshakes run beside the accept
//! loop, each bounded in time, so a slow client holds up nobody.

use std::net::SocketAddr;
use std::path::Path;
use std::sync::{Arc, RwLock};
use std::time::{Duration, SystemTime};

use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, PrivateKeyDer};
use rustls::server::{ClientHello, ResolvesServerCert};
use rustls::sign::CertifiedKey;
use tokio::net::{TcpListener, TcpStream};
use tokio_rustls::server::TlsStream;

use crate::config::TlsConfig;

/// How long a TLS handshake may take.
const HANDSHAKE_TIMEOUT: Duration = Duration::from_secs(10);

/// Handshakes in progress at once.
const MAX_HANDSHAKES: usize = 512;

fn modified(path: &Path) -> Option<SystemTime> {
    std::fs::metadata(path).and_then(|m| m.modified()).ok()
}

/// The certificate in use, replaced when its files change.
#[derive(Debug)]
pub struct Certificates {
    config: TlsConfig,
    current: RwLock<(Arc<CertifiedKey>, Option<SystemTime>, Option<SystemTime>)>,
}

impl Certificates {
    /// Reads the certificate and key `config` names.
    pub fn load(config: &TlsConfig) -> anyhow::Result<Arc<Self>> {
        let key = Self::read(config)?;
        let stamps = (modified(&config.cert_file), modified(&config.key_file));
        Ok(Arc::new(Self { config: config.clone(), current: RwLock::new((key, stamps.0, stamps.1)) }))
    }

    fn read(config: &TlsConfig) -> anyhow::Result<Arc<CertifiedKey>> {
        let (cert_file, key_file) = (&config.cert_file, &config.key_file);
        let chain: Vec<CertificateDer<'static>> = CertificateDer::pem_file_iter(cert_file)
            .and_then(|certs| certs.collect::<Result<_, _>>())
            .map_err(|e| anyhow::anyhow!("server.tls.cert_file {}: {e}", cert_file.display()))?;
        if chain.is_empty() {
            anyhow::bail!("server.tls.cert_file {} holds no certificate", cert_file.display());
        }
        let key = PrivateKeyDer::from_pem_file(key_file)
            .map_err(|e| anyhow::anyhow!("server.tls.key_file {}: {e}", key_file.display()))?;
        let provider = rustls::crypto::ring::default_provider();
        let certified = CertifiedKey::from_der(chain, key, &provider)
            .map_err(|e| anyhow::anyhow!("server.tls: the key does not fit the certificate: {e}"))?;
        Ok(Arc::new(certified))
    }

    /// Reads the files again when either changed; true when the certificate
    /// in use was replaced.
    pub fn reload_if_changed(&self) -> bool {
        let stamps = (modified(&self.config.cert_file), modified(&self.config.key_file));
        {
            let current = self.current.read().unwrap_or_else(std::sync::PoisonError::into_inner);
            if (current.1, current.2) == stamps {
                return false;
            }
        }
        match Self::read(&self.config) {
            Ok(key) => {
                *self.current.write().unwrap_or_else(std::sync::PoisonError::into_inner) = (key, stamps.0, stamps.1);
                tracing::info!(cert = %self.config.cert_file.display(), "TLS certificate reloaded");
                true
            }
            Err(error) => {
                tracing::warn!(%error, "the TLS certificate files changed but cannot be used; the certificate in use stays");
                false
            }
        }
    }

    /// Checks the files every `reload_secs` while the task runs.
    pub fn spawn_reload(self: &Arc<Self>) -> tokio::task::JoinHandle<()> {
        let certificates = Arc::downgrade(self);
        let every = Duration::from_secs(self.config.reload_secs.max(1));
        tokio::spawn(async move {
            let mut ticks = tokio::time::interval(every);
            ticks.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
            loop {
                ticks.tick().await;
                let Some(certificates) = certificates.upgrade() else { return };
                certificates.reload_if_changed();
            }
        })
    }
}

impl ResolvesServerCert for Certificates {
    fn resolve(&self, _hello: ClientHello<'_>) -> Option<Arc<CertifiedKey>> {
        Some(Arc::clone(&self.current.read().unwrap_or_else(std::sync::PoisonError::into_inner).0))
    }
}

/// Accepts TLS connections for `axum::serve`.
pub struct TlsListener {
    connections: tokio::sync::mpsc::Receiver<(TlsStream<TcpStream>, SocketAddr)>,
    local: SocketAddr,
}

impl std::fmt::Debug for TlsListener {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("TlsListener").field("local", &self.local).finish_non_exhaustive()
    }
}

impl TlsListener {
    /// Serves TLS with `certificates` on `listener`.
    pub fn new(listener: TcpListener, certificates: Arc<Certificates>) -> anyhow::Result<Self> {
        let local = listener.local_addr()?;
        let provider = Arc::new(rustls::crypto::ring::default_provider());
        let mut config = rustls::ServerConfig::builder_with_provider(provider)
            .with_safe_default_protocol_versions()?
            .with_no_client_auth()
            .with_cert_resolver(certificates);
        // The server speaks HTTP/1.1 (axum's http1); offering h2 would make
        // clients that prefer it fail.
        config.alpn_protocols = vec![b"http/1.1".to_vec()];
        let acceptor = tokio_rustls::TlsAcceptor::from(Arc::new(config));
        let (tx, connections) = tokio::sync::mpsc::channel(256);
        // At most this many handshakes at once: slow clients wait their
        // turn in the kernel's backlog instead of costing a task each.
        let handshakes = Arc::new(tokio::sync::Semaphore::new(MAX_HANDSHAKES));
        tokio::spawn(async move {
            loop {
                let Ok(permit) = Arc::clone(&handshakes).acquire_owned().await else { return };
                let accepted = tokio::select! {
                    accepted = listener.accept() => accepted,
                    () = tx.closed() => return,
                };
                let (stream, peer) = match accepted {
                    Ok(accepted) => accepted,
                    Err(error) => {
                        tracing::warn!(%error, "accepting a connection failed");
                        tokio::time::sleep(Duration::from_millis(50)).await;
                        continue;
                    }
                };
                let (acceptor, sender) = (acceptor.clone(), tx.clone());
                tokio::spawn(async move {
                    match tokio::time::timeout(HANDSHAKE_TIMEOUT, acceptor.accept(stream)).await {
                        Ok(Ok(tls)) => {
                            drop(permit);
                            // A server that takes no more connections drops this one.
                            if tokio::time::timeout(HANDSHAKE_TIMEOUT, sender.send((tls, peer))).await.is_err() {
                                tracing::warn!(%peer, "the server took no new connection in time; dropped");
                            }
                        }
                        Ok(Err(error)) => tracing::debug!(%peer, %error, "TLS handshake failed"),
                        Err(_) => tracing::debug!(%peer, "TLS handshake timed out"),
                    }
                });
            }
        });
        Ok(Self { connections, local })
    }
}

impl axum::serve::Listener for TlsListener {
    type Io = TlsStream<TcpStream>;
    type Addr = SocketAddr;

    async fn accept(&mut self) -> (Self::Io, Self::Addr) {
        match self.connections.recv().await {
            Some(connection) => connection,
            // The accept loop ended: nothing more will arrive.
            None => std::future::pending().await,
        }
    }

    fn local_addr(&self) -> std::io::Result<Self::Addr> {
        Ok(self.local)
    }
}
