//! The HTTP API (`/api/v1`, JSON, Bearer JWT): one file per resource.
//! Handlers are thin: extract, call a [`crate::service`] use case, map the
//! result. [`app`] builds the router; [`serve`] runs it until a shutdown
//! signal, then drains in-flight requests.

pub mod auth;
pub mod error;
mod me;
pub use me::decode_invoke_body;
mod members;
mod ops;

pub use ops::prometheus;
mod plugins;
mod privacy;
mod ui;
mod workbench;

use std::sync::Arc;
use std::time::{Duration, Instant};

use axum::Router;
use axum::extract::{DefaultBodyLimit, MatchedPath, Request};
use axum::http::{HeaderName, StatusCode};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
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

#[derive(OpenApi)]
#[openapi(
    info(title = "Workbench", description = "Runs third-party workbench plugins as sandboxed WebAssembly components."),
    modifiers(&BearerAuth),
    security(("bearer" = []))
)]
struct ApiDoc;

struct BearerAuth;

impl utoipa::Modify for BearerAuth {
    fn modify(&self, openapi: &mut utoipa::openapi::OpenApi) {
        use utoipa::openapi::security::{HttpAuthScheme, HttpBuilder, SecurityScheme};
        let components = openapi.components.get_or_insert_with(Default::default);
        components.add_security_scheme(
            "bearer",
            SecurityScheme::Http(HttpBuilder::new().scheme(HttpAuthScheme::Bearer).bearer_format("JWT").build()),
        );
    }
}

const REQUEST_ID: HeaderName = HeaderName::from_static("x-request-id");

/// The API routes and their OpenAPI document.
fn routes() -> (Router<AppState>, utoipa::openapi::OpenApi) {
    let api = OpenApiRouter::with_openapi(ApiDoc::openapi())
        .merge(plugins::routes())
        .merge(workbench::routes())
        .merge(members::routes())
        .merge(privacy::routes())
        .merge(me::routes());
    let (api, doc) = OpenApiRouter::new().nest("/api/v1", api).split_for_parts();
    let (ops, ops_doc) = ops::routes().split_for_parts();
    let mut doc = doc;
    document_errors(&mut doc);
    doc.merge(ops_doc);
    document_timeout(&mut doc);
    (api.merge(ops), doc)
}

/// Adds the error answers every API operation can give, where its own
/// annotation does not list them already: the document names every status
/// the server sends, with the one error body.
fn document_errors(doc: &mut utoipa::openapi::OpenApi) {
    use utoipa::openapi::content::ContentBuilder;
    use utoipa::openapi::{Ref, RefOr, ResponseBuilder};
    let error = |description: &str| {
        let content = ContentBuilder::new().schema(Some(Ref::from_schema_name("ErrorBody"))).build();
        RefOr::T(ResponseBuilder::new().description(description).content("application/json", content).build())
    };
    let always = [
        ("400", "bad_request: malformed JSON, query or path"),
        ("401", "unauthorized: no valid bearer token"),
        ("403", "forbidden: the token's roles do not allow this"),
        ("404", "not_found"),
        ("422", "invalid_input: well-formed but not acceptable; the message names the problem"),
        ("503", "audit_unavailable, overloaded or not_ready: the server cannot answer now; try again later"),
    ];
    let with_body = [
        ("413", "payload_too_large: the body is over the limit"),
        ("415", "unsupported_media_type: the body is not of the documented type"),
    ];
    for item in doc.paths.paths.values_mut() {
        for operation in
            [&mut item.get, &mut item.put, &mut item.post, &mut item.patch, &mut item.delete].into_iter().flatten()
        {
            let has_body = operation.request_body.is_some();
            let responses = &mut operation.responses.responses;
            for (status, description) in always.iter().chain(with_body.iter().filter(|_| has_body)) {
                responses.entry((*status).to_owned()).or_insert_with(|| error(description));
            }
        }
    }
}

/// Adds the request timeout's 504 to every operation, the operational
/// routes' too: the timeout applies to every request.
fn document_timeout(doc: &mut utoipa::openapi::OpenApi) {
    use utoipa::openapi::content::ContentBuilder;
    use utoipa::openapi::{Ref, RefOr, ResponseBuilder};
    for item in doc.paths.paths.values_mut() {
        for operation in
            [&mut item.get, &mut item.put, &mut item.post, &mut item.patch, &mut item.delete].into_iter().flatten()
        {
            operation.responses.responses.entry("504".to_owned()).or_insert_with(|| {
                let content = ContentBuilder::new().schema(Some(Ref::from_schema_name("ErrorBody"))).build();
                RefOr::T(
                    ResponseBuilder::new()
                        .description("timeout: the request took longer than the server's request timeout")
                        .content("application/json", content)
                        .build(),
                )
            });
        }
    }
}

/// The OpenAPI document of the API.
pub fn openapi() -> utoipa::openapi::OpenApi {
    routes().1
}

/// Builds the state: keys from the configuration.
pub fn state(config: &Config, workbench: Arc<Workbench>) -> anyhow::Result<AppState> {
    let keys = JwtKeys::load(&config.auth, &config.keys_dir())?;
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
    let timeout = Duration::from_secs(config.server.request_timeout_secs);
    routes
        .fallback(|| async { ApiError::not_found("no such route") })
        .method_not_allowed_fallback(|| async {
            ApiError::new(StatusCode::METHOD_NOT_ALLOWED, "method_not_allowed", "this route does not take that method")
        })
        .layer(DefaultBodyLimit::max(config.server.body_limit_bytes))
        .layer(axum::middleware::from_fn_with_state(
            BodyLimits {
                default: config.server.body_limit_bytes,
                // The publish form: a component plus a manifest and a signature.
                publish: config.registry.max_component_bytes.saturating_mul(2).saturating_add(1 << 20),
            },
            refuse_announced_oversize,
        ))
        .layer(axum::middleware::from_fn(refuse_nul))
        .layer(axum::middleware::from_fn(record_metrics))
        .layer(CatchPanicLayer::custom(|_| {
            tracing::error!("a handler panicked");
            ApiError::new(
                StatusCode::INTERNAL_SERVER_ERROR,
                "internal",
                "internal error; the details are in the server log",
            )
            .into_response()
        }))
        .layer(axum::middleware::from_fn_with_state(timeout, time_out))
        .layer(TraceLayer::new_for_http().make_span_with(|request: &Request| {
            let id = request.headers().get(&REQUEST_ID).and_then(|v| v.to_str().ok()).unwrap_or("-");
            tracing::info_span!("request", method = %request.method(), path = %request.uri().path(), request_id = %id)
        }))
        .layer(PropagateRequestIdLayer::new(REQUEST_ID))
        .layer(SetRequestIdLayer::new(REQUEST_ID, MakeRequestUuid))
        .with_state(state)
}

#[derive(Debug, Clone, Copy)]
struct BodyLimits {
    default: usize,
    publish: usize,
}

/// Refuses a body whose announced length is over the limit before reading
/// any of it (bodies without a length are cut off at the limit as they stream).
async fn refuse_announced_oversize(
    axum::extract::State(limits): axum::extract::State<BodyLimits>,
    request: Request,
    next: Next,
) -> Response {
    let limit = if request.uri().path() == "/api/v1/plugins" { limits.publish } else { limits.default };
    let announced = request
        .headers()
        .get(axum::http::header::CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse::<u64>().ok());
    if announced.is_some_and(|length| length > limit as u64) {
        return ApiError::new(
            StatusCode::PAYLOAD_TOO_LARGE,
            "payload_too_large",
            format!("the body is larger than this route accepts ({limit} bytes)"),
        )
        .into_response();
    }
    next.run(request).await
}

/// Answers 504 `timeout` (JSON, like every error) when a request takes longer
/// than the request timeout. Use cases run detached, so what a cut-off
/// request started still finishes and is audited.
async fn time_out(
    axum::extract::State(limit): axum::extract::State<Duration>,
    request: Request,
    next: Next,
) -> Response {
    match tokio::time::timeout(limit, next.run(request)).await {
        Ok(response) => response,
        Err(_) => ApiError::new(
            StatusCode::GATEWAY_TIMEOUT,
            "timeout",
            format!("the request took longer than the server allows ({} s)", limit.as_secs()),
        )
        .into_response(),
    }
}

async fn record_metrics(request: Request, next: Next) -> Response {
    let started = Instant::now();
    let route = request.extensions().get::<MatchedPath>().map_or("unmatched", |p| p.as_str()).to_owned();
    let method = request.method().to_string();
    let response = next.run(request).await;
    let status = response.status().as_u16().to_string();
    metrics::counter!("workbench_http_requests_total", "method" => method.clone(), "route" => route.clone(), "status" => status)
        .increment(1);
    metrics::histogram!("workbench_http_request_seconds", "method" => method, "route" => route)
        .record(started.elapsed().as_secs_f64());
    response
}

/// Serves `app` on `listener` until `shutdown` resolves, then lets
/// in-flight requests finish (up to the configured grace period).
pub async fn serve(
    listener: tokio::net::TcpListener,
    app: Router,
    shutdown: impl Future<Output = ()> + Send + 'static,
    grace: Duration,
) -> std::io::Result<()> {
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

/// Refuses a NUL byte anywhere in the path or query: no id contains one,
/// and PostgreSQL text cannot hold one.
async fn refuse_nul(request: Request, next: Next) -> Response {
    let uri = request.uri();
    let raw = uri.path_and_query().map_or("", |pq| pq.as_str());
    if raw.contains("%00") {
        return ApiError::new(StatusCode::BAD_REQUEST, "bad_request", "the path or query contains a NUL byte")
            .into_response();
    }
    next.run(request).await
}

/// The caller's tenant must have the member in its directory.
async fn require_member(state: &AppState, caller: &auth::Caller) -> Result<(), ApiError> {
    caller.require(crate::model::directory::Role::Member)?;
    match state.workbench.store().member(&caller.tenant, &caller.member).await {
        Ok(Some(_)) => Ok(()),
        Ok(None) => Err(crate::service::ServiceError::not_a_member().into()),
        Err(e) => Err(crate::service::ServiceError::from(e).into()),
    }
}
