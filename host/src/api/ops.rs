//! Operations: liveness, readiness (the database answers), Prometheus
//! metrics, the deployment's status for its operator, and the OpenAPI
//! document.

use std::sync::OnceLock;

use axum::Json;
use axum::extract::State;
use axum::http::{StatusCode, header};
use axum::response::IntoResponse;
use metrics_exporter_prometheus::{Matcher, PrometheusBuilder, PrometheusHandle};
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use super::AppState;
use super::callers::Operator;
use super::error::{ApiError, ErrorBody};

pub(super) fn routes() -> OpenApiRouter<AppState> {
    started();
    OpenApiRouter::new()
        .routes(routes!(healthz))
        .routes(routes!(readyz))
        .routes(routes!(metrics))
        .routes(routes!(status))
        .routes(routes!(openapi))
}

/// The process-wide Prometheus recorder (installed on first use).
pub fn prometheus() -> &'static PrometheusHandle {
    static HANDLE: OnceLock<PrometheusHandle> = OnceLock::new();
    HANDLE.get_or_init(|| {
        let seconds = [0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0];
        let records = [1.0, 2.0, 5.0, 10.0, 50.0, 100.0, 500.0, 1000.0, 5000.0];
        let builder = PrometheusBuilder::new()
            .set_buckets_for_metric(Matcher::Suffix("_seconds".into()), &seconds)
            .and_then(|b| b.set_buckets_for_metric(Matcher::Suffix("_records".into()), &records));
        let recorder = match builder {
            Ok(builder) => builder.build_recorder(),
            Err(_) => PrometheusBuilder::new().build_recorder(),
        };
        let handle = recorder.handle();
        if metrics::set_global_recorder(recorder).is_err() {
            tracing::warn!("a metrics recorder was already installed; /metrics stays empty");
        }
        handle
    })
}

/// Liveness: the process answers.
#[utoipa::path(get, path = "/healthz", tag = "ops", security(), responses((status = 200, description = "ok")))]
async fn healthz() -> &'static str {
    "ok"
}

/// Readiness: the database answers.
#[utoipa::path(get, path = "/readyz", tag = "ops", security(), responses((status = 200, description = "ready"), (status = 503, body = ErrorBody)))]
async fn readyz(State(state): State<AppState>) -> Result<&'static str, ApiError> {
    state.workbench.ping().await.map_err(|error| {
        tracing::warn!(%error, "not ready");
        ApiError::new(StatusCode::SERVICE_UNAVAILABLE, "not_ready", "the database does not answer")
    })?;
    Ok("ready")
}

/// Prometheus metrics: invocations, denials, traps, latencies, audit batch sizes, HTTP requests.
#[utoipa::path(get, path = "/metrics", tag = "ops", security(), responses((status = 200, content_type = "text/plain", description = "Prometheus text format")))]
async fn metrics() -> impl IntoResponse {
    ([(header::CONTENT_TYPE, "text/plain; version=0.0.4")], prometheus().render())
}

/// When this process started serving (set when the routes are first built).
fn started() -> std::time::Instant {
    static STARTED: OnceLock<std::time::Instant> = OnceLock::new();
    *STARTED.get_or_init(std::time::Instant::now)
}

/// The deployment's own state, for its operator: nothing of any tenant.
#[derive(Debug, serde::Serialize, utoipa::ToSchema)]
struct Status {
    /// This build's version.
    version: &'static str,
    /// Seconds since this process started serving.
    uptime_seconds: u64,
    /// Whether the database answers.
    database_ready: bool,
    /// Plugin versions held compiled and loaded in this process.
    loaded_versions: usize,
}

/// The deployment's status (operator): version, uptime, database, loaded
/// plugin versions. No tenant's data.
#[utoipa::path(get, path = "/api/v1/status", tag = "ops", responses((status = 200, body = Status), (status = 401, body = ErrorBody), (status = 403, body = ErrorBody), (status = 503, description = "overloaded: the host cannot answer now", body = ErrorBody)))]
async fn status(State(state): State<AppState>, _operator: Operator) -> Json<Status> {
    Json(Status {
        version: env!("CARGO_PKG_VERSION"),
        uptime_seconds: started().elapsed().as_secs(),
        database_ready: state.workbench.ping().await.is_ok(),
        loaded_versions: state.workbench.loaded_versions(),
    })
}

/// This document.
#[utoipa::path(get, path = "/api/v1/openapi.json", tag = "ops", security(), responses((status = 200, description = "OpenAPI 3.1")))]
async fn openapi(State(state): State<AppState>) -> Json<serde_json::Value> {
    Json((*state.openapi).clone())
}
