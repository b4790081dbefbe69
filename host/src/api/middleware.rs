//! The middleware every request passes: body limits announced up front,
//! no NUL in a path or query, metrics per route, and the request timeout's
//! JSON answer.

use std::time::{Duration, Instant};

use axum::extract::{MatchedPath, Request};
use axum::http::StatusCode;
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};

use super::error::ApiError;

/// The publish route: its body holds a whole component, and publishing
/// compiles it, so it has its own body limit and timeout.
const PUBLISH_PATH: &str = "/api/v1/plugins";

/// How long a request may take: publishing compiles the component (a Python
/// component takes seconds on an idle core, much longer on a busy one).
#[derive(Debug, Clone, Copy)]
pub(super) struct Timeouts {
    pub(super) default: Duration,
    pub(super) publish: Duration,
}

#[derive(Debug, Clone, Copy)]
pub(super) struct BodyLimits {
    pub(super) default: usize,
    pub(super) publish: usize,
}

/// Refuses a body whose announced length is over the limit before reading
/// any of it (bodies without a length are cut off at the limit as they stream).
pub(super) async fn refuse_announced_oversize(
    axum::extract::State(limits): axum::extract::State<BodyLimits>,
    request: Request,
    next: Next,
) -> Response {
    let limit = if request.uri().path() == PUBLISH_PATH { limits.publish } else { limits.default };
    let announced = request
        .headers()
        .get(http::header::CONTENT_LENGTH)
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
pub(super) async fn time_out(
    axum::extract::State(limits): axum::extract::State<Timeouts>,
    request: Request,
    next: Next,
) -> Response {
    let limit = if request.uri().path() == PUBLISH_PATH { limits.publish } else { limits.default };
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

pub(super) async fn record_metrics(request: Request, next: Next) -> Response {
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

/// Refuses a NUL byte anywhere in the path or query: no id contains one,
/// and PostgreSQL text cannot hold one.
pub(super) async fn refuse_nul(request: Request, next: Next) -> Response {
    let uri = request.uri();
    let raw = uri.path_and_query().map_or("", |pq| pq.as_str());
    if raw.contains("%00") {
        return ApiError::new(StatusCode::BAD_REQUEST, "bad_request", "the path or query contains a NUL byte")
            .into_response();
    }
    next.run(request).await
}
