//! The demo's stand-in for Acme's visit service, the developer's own
//! service that 客户拜访 sends planned visits to. It serves
//! `https://visits.acme.example` on a loopback port with a certificate from
//! a CA made at start, and the demo's egress rules pin the name to it and
//! trust that CA, so the plugin's requests take the same path through the
//! gate, the address checks, TLS and the audit log as they would to the
//! real service. It also serves the demo members' avatars as
//! `https://avatars.example/{member}.png`, which the host fetches for
//! plugins' pages under the same rules.

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};

use anyhow::Context as _;
use axum::Json;
use axum::extract::State;
use axum::http::{StatusCode, header};
use axum::routing::post;
use serde::{Deserialize, Serialize};

use crate::runtime::egress::EgressConfig;

/// The name the stand-in answers to (what 客户拜访 declares).
pub const HOST: &str = "visits.acme.example";
/// The name the demo members' avatars are served from.
pub const AVATARS: &str = "avatars.example";

/// A running stand-in.
#[derive(Debug)]
pub struct StandIn {
    /// Where it listens.
    pub address: SocketAddr,
    /// The PEM file of the CA its certificate is signed by.
    pub ca: PathBuf,
    received: Visits,
}

type Visits = Arc<Mutex<Vec<Received>>>;

/// A planned visit as the service receives it.
#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct Visit {
    /// The customer's id in the tenant.
    pub customer_id: String,
    /// The customer's name.
    pub customer_name: String,
    /// The day, `YYYY-MM-DD`.
    pub date: String,
    /// Who planned it (their nickname).
    pub planner: String,
    /// Their phone, when they let the plugin read it.
    #[serde(default)]
    pub phone: Option<String>,
    /// What the visit is about.
    #[serde(default)]
    pub note: String,
}

/// A visit the service received, with the number it gave it.
#[derive(Debug, Clone, Serialize)]
pub struct Received {
    /// The service's number for it, `V-0001`.
    pub id: String,
    /// The visit.
    #[serde(flatten)]
    pub visit: Visit,
}

impl StandIn {
    /// Makes a CA and a certificate for [`HOST`], writes the CA to `dir`,
    /// and starts serving on a loopback port.
    pub async fn start(dir: &Path) -> anyhow::Result<Self> {
        let ca_key = rcgen::KeyPair::generate()?;
        let mut ca_params = rcgen::CertificateParams::new(Vec::<String>::new())?;
        ca_params.is_ca = rcgen::IsCa::Ca(rcgen::BasicConstraints::Unconstrained);
        ca_params.distinguished_name.push(rcgen::DnType::CommonName, "Workbench demo CA");
        let ca = rcgen::CertifiedIssuer::self_signed(ca_params, ca_key)?;
        let leaf_key = rcgen::KeyPair::generate()?;
        let leaf =
            rcgen::CertificateParams::new(vec![HOST.to_owned(), AVATARS.to_owned()])?.signed_by(&leaf_key, &ca)?;
        std::fs::create_dir_all(dir).with_context(|| format!("creating {}", dir.display()))?;
        let ca_path = dir.join("demo-visits-ca.pem");
        std::fs::write(&ca_path, ca.pem()).with_context(|| format!("writing {}", ca_path.display()))?;

        let provider = Arc::new(rustls::crypto::ring::default_provider());
        let tls = rustls::ServerConfig::builder_with_provider(provider)
            .with_safe_default_protocol_versions()?
            .with_no_client_auth()
            .with_single_cert(
                vec![leaf.der().clone()],
                rustls::pki_types::PrivateKeyDer::Pkcs8(leaf_key.serialize_der().into()),
            )?;
        let acceptor = tokio_rustls::TlsAcceptor::from(Arc::new(tls));
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
        let address = listener.local_addr()?;
        let received = Visits::default();
        let app = axum::Router::new()
            .route("/visits", post(receive).get(list))
            .route("/{file}", axum::routing::get(avatar))
            .with_state(Arc::clone(&received));
        tokio::spawn(async move {
            while let Ok((stream, _)) = listener.accept().await {
                let (acceptor, app) = (acceptor.clone(), app.clone());
                tokio::spawn(async move {
                    let Ok(stream) = acceptor.accept(stream).await else { return };
                    let service = hyper_util::service::TowerToHyperService::new(app);
                    let _ = hyper::server::conn::http1::Builder::new()
                        .serve_connection(hyper_util::rt::TokioIo::new(stream), service)
                        .await;
                });
            }
        });
        Ok(Self { address, ca: ca_path, received })
    }

    /// Routes plugins' requests for [`HOST`], and the host's avatar
    /// fetches for [`AVATARS`], here: the names pinned to the stand-in's
    /// address and port, its CA trusted, and its loopback address allowed.
    /// The allowance is per address, not per port: in the demo, a
    /// destination an admin approves that resolves to that address reaches
    /// any TLS service listening on it (plain `http` still needs
    /// `plain_http_hosts`), so the demo's rules are not a production policy.
    pub fn route(&self, egress: &mut EgressConfig) {
        for name in [HOST, AVATARS] {
            egress.resolve.insert(
                name.to_owned(),
                vec![crate::runtime::egress::Pinned { ip: self.address.ip(), port: Some(self.address.port()) }],
            );
        }
        egress.allow_private.push(ipnet::IpNet::from(self.address.ip()));
        egress.extra_roots.push(self.ca.clone());
    }

    /// The visits received so far.
    pub fn received(&self) -> Vec<Received> {
        self.received.lock().map(|v| v.clone()).unwrap_or_default()
    }
}

/// A demo member's avatar (`zhang.wei.png`, `li.na.png`).
async fn avatar(axum::extract::Path(file): axum::extract::Path<String>) -> axum::response::Response {
    use axum::response::IntoResponse;
    let png: &'static [u8] = match file.as_str() {
        "zhang.wei.png" => include_bytes!("avatars/zhang.wei.png"),
        "li.na.png" => include_bytes!("avatars/li.na.png"),
        _ => return StatusCode::NOT_FOUND.into_response(),
    };
    ([(header::CONTENT_TYPE, "image/png")], png).into_response()
}

async fn receive(
    State(visits): State<Visits>,
    body: Result<Json<Visit>, axum::extract::rejection::JsonRejection>,
) -> (StatusCode, Json<serde_json::Value>) {
    let visit = match body {
        Ok(Json(visit)) => visit,
        Err(rejection) => {
            return (StatusCode::BAD_REQUEST, Json(serde_json::json!({ "error": rejection.body_text() })));
        }
    };
    let Ok(mut visits) = visits.lock() else {
        return (StatusCode::INTERNAL_SERVER_ERROR, Json(serde_json::json!({ "error": "unavailable" })));
    };
    let id = format!("V-{:04}", visits.len() + 1);
    tracing::info!(
        service = HOST,
        %id,
        customer = %visit.customer_name,
        date = %visit.date,
        planner = %visit.planner,
        with_phone = visit.phone.is_some(),
        "the demo's visit service received a planned visit"
    );
    visits.push(Received { id: id.clone(), visit });
    (StatusCode::CREATED, Json(serde_json::json!({ "id": id })))
}

async fn list(State(visits): State<Visits>) -> Json<Vec<Received>> {
    Json(visits.lock().map(|v| v.clone()).unwrap_or_default())
}
