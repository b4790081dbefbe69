//! The HTTP API (`/api/v1`, JSON, Bearer JWT): one file per resource, named
//! as the service's use cases and the store's aggregates (registry,
//! installations, directory, departments, audit, settings, consent,
//! invoke, privacy, sessions, self_service, upgrades, events, notifications).
//! Handlers are thin: extract, call a [`crate::service`] use case, map the
//! result. [`app`] builds the router; [`serve`] runs it until a shutdown
//! signal, then drains in-flight requests.

mod audit;
pub mod auth;
mod avatar;
pub mod callers;
mod consent;
mod departments;
mod directory;
pub mod error;
mod events;
mod installations;
mod invoke;
mod middleware;
mod notifications;
mod openapi;
mod ops;
mod privacy;
mod privacy_report;
pub mod provider;
mod receipts;
mod registry;
mod runs;
mod self_service;
mod sessions;
mod settings;
mod stats;
pub mod tls;
mod ui;
mod upgrades;
mod usage;

pub use invoke::decode_invoke_body;
pub use ops::prometheus;

use std::sync::Arc;
use std::time::Duration;

use axum::Router;
use axum::extract::{DefaultBodyLimit, Request};
use axum::http::{HeaderName, StatusCode};
use axum::response::IntoResponse;
use tower_http::catch_panic::CatchPanicLayer;
use tower_http::request_id::{MakeRequestUuid, PropagateRequestIdLayer, SetRequestIdLayer};
use tower_http::trace::TraceLayer;
use utoipa::OpenApi;
use utoipa_axum::router::OpenApiRouter;

use crate::config::Config;
use crate::service::Workbench;
use auth::JwtKeys;
use error::ApiError;

/// What every handler can reach.
#[derive(Debug, Clone)]
pub struct AppState {
    /// The use cases.
    pub workbench: Arc<Workbench>,
    /// Token keys.
    pub keys: JwtKeys,
    /// The OpenAPI document, served at `/api/v1/openapi.json`.
    pub openapi: Arc<serde_json::Value>,
    /// Largest component a publish accepts.
    pub max_component_bytes: usize,
    /// Demo mode: the page offers the demo sign-in (`/api/v1/demo/…`).
    pub demo: bool,
}

const REQUEST_ID: HeaderName = HeaderName::from_static("x-request-id");

/// The API routes and their OpenAPI document.
fn routes() -> (Router<AppState>, utoipa::openapi::OpenApi) {
    let api = OpenApiRouter::with_openapi(openapi::ApiDoc::openapi())
        .merge(registry::routes())
        .merge(installations::routes())
        .merge(directory::routes())
        .merge(departments::routes())
        .merge(audit::routes())
        .merge(stats::routes())
        .merge(settings::routes())
        .merge(consent::routes())
        .merge(invoke::routes())
        .merge(privacy::routes())
        .merge(privacy_report::routes())
        .merge(receipts::routes())
        .merge(avatar::routes())
        .merge(sessions::routes())
        .merge(self_service::routes())
        .merge(upgrades::routes())
        .merge(runs::routes())
        .merge(usage::routes())
        .merge(events::routes())
        .merge(notifications::routes());
    let (api, doc) = OpenApiRouter::new().nest("/api/v1", api).split_for_parts();
    let (ops, ops_doc) = ops::routes().split_for_parts();
    let mut doc = doc;
    openapi::document_errors(&mut doc);
    doc.merge(ops_doc);
    openapi::document_timeout(&mut doc);
    (api.merge(ops), doc)
}

/// The OpenAPI document of the API.
pub fn openapi() -> utoipa::openapi::OpenApi {
    routes().1
}

/// Builds the state: keys from the configuration.
pub fn state(config: &Config, workbench: Arc<Workbench>) -> anyhow::Result<AppState> {
    let keys = JwtKeys::from_config(config)?;
    if let Some(provider) = keys.provider() {
        // Fetched now and every refresh period, for as long as the keys live.
        drop(provider.spawn_refresh());
    }
    let openapi = serde_json::to_value(openapi())?;
    Ok(AppState {
        workbench,
        keys,
        openapi: Arc::new(openapi),
        max_component_bytes: config.registry.max_component_bytes,
        demo: false,
    })
}

/// The whole application: the API, the browser page, body limits, timeouts, request ids,
/// tracing, metrics and panic containment.
pub fn app(state: AppState, config: &Config) -> Router {
    let (routes, _) = routes();
    let routes = routes.merge(ui::routes(state.demo));
    let timeouts = middleware::Timeouts {
        default: Duration::from_secs(config.server.request_timeout_secs),
        publish: Duration::from_secs(config.registry.publish_timeout_secs.max(config.server.request_timeout_secs)),
    };
    routes
        .fallback(|| async { ApiError::not_found("no such route") })
        .method_not_allowed_fallback(|| async {
            ApiError::new(StatusCode::METHOD_NOT_ALLOWED, "method_not_allowed", "this route does not take that method")
        })
        .layer(DefaultBodyLimit::max(config.server.body_limit_bytes))
        .layer(axum::middleware::from_fn_with_state(
            middleware::BodyLimits {
                default: config.server.body_limit_bytes,
                // The publish form: a component plus a manifest and a signature.
                publish: config.registry.max_component_bytes.saturating_mul(2).saturating_add(1 << 20),
            },
            middleware::refuse_announced_oversize,
        ))
        .layer(axum::middleware::from_fn(middleware::refuse_nul))
        .layer(axum::middleware::from_fn(middleware::record_metrics))
        .layer(CatchPanicLayer::custom(|_| {
            tracing::error!("a handler panicked");
            ApiError::new(
                StatusCode::INTERNAL_SERVER_ERROR,
                "internal",
                "internal error; the details are in the server log",
            )
            .into_response()
        }))
        .layer(axum::middleware::from_fn_with_state(timeouts, middleware::time_out))
        .layer(TraceLayer::new_for_http().make_span_with(|request: &Request| {
            let id = request.headers().get(&REQUEST_ID).and_then(|v| v.to_str().ok()).unwrap_or("-");
            tracing::info_span!("request", method = %request.method(), path = %request.uri().path(), request_id = %id)
        }))
        .layer(PropagateRequestIdLayer::new(REQUEST_ID))
        .layer(SetRequestIdLayer::new(REQUEST_ID, MakeRequestUuid))
        .with_state(state)
}

/// Serves `app` on `listener` until `shutdown` resolves, then lets
/// in-flight requests finish (up to the configured grace period).
pub async fn serve<L>(
    listener: L,
    app: Router,
    shutdown: impl Future<Output = ()> + Send + 'static,
    grace: Duration,
) -> std::io::Result<()>
where
    L: axum::serve::Listener,
    L::Addr: std::fmt::Debug,
{
    let (stopping_tx, stopping_rx) = tokio::sync::oneshot::channel::<()>();
    let server = axum::serve(listener, app).with_graceful_shutdown(async move {
        shutdown.await;
        let _ = stopping_tx.send(());
    });
    let mut server = std::pin::pin!(server.into_future());
    tokio::select! {
        result = &mut server => result,
        () = async { let _ = stopping_rx.await; tokio::time::sleep(grace).await } => {
            tracing::warn!("shutdown grace period over; dropping the remaining requests");
            Ok(())
        }
    }
}

/// Runs a use case in its own task, so a client that disconnects (or the
/// request timeout) cannot stop it between its change and the change's
/// audit record.
async fn detached<T, F, Fut>(state: &AppState, run: F) -> Result<T, ApiError>
where
    F: FnOnce(Arc<Workbench>) -> Fut,
    Fut: Future<Output = crate::service::ServiceResult<T>> + Send + 'static,
    T: Send + 'static,
{
    let task = tokio::spawn(run(Arc::clone(&state.workbench)));
    match task.await {
        Ok(result) => result.map_err(ApiError::from),
        Err(error) => Err(crate::service::ServiceError::Internal(format!("use case task: {error}")).into()),
    }
}
