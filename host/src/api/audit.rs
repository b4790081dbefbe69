//! `/audit`: the tenant admin's audit log (query, verify, NDJSON export).

use axum::Json;
use axum::body::Body;
use axum::extract::State;
use axum::http::header;
use axum::response::{IntoResponse, Response};
use serde::{Deserialize, Serialize};
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use super::AppState;
use super::callers::Auditor;
use super::error::{ApiError, ApiQuery, ApiResult, ErrorBody};
use crate::model::audit::AuditFilter;
use crate::model::audit::{Action, Outcome};
use crate::service::audit::{AuditKeyHistory, AuditPage, ExportRange};

pub(super) fn routes() -> OpenApiRouter<AppState> {
    OpenApiRouter::new().routes(routes!(query)).routes(routes!(verify)).routes(routes!(export)).routes(routes!(keys))
}

/// Filters of the audit routes.
#[derive(Debug, Default, Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
#[serde(deny_unknown_fields)]
pub(super) struct AuditQuery {
    /// Whose data (member id).
    subject: Option<String>,
    /// Exact actor (`admin:ID`, `member:ID`, `plugin:ID@VERSION`).
    actor: Option<String>,
    /// Any version of this plugin.
    plugin: Option<String>,
    /// Action (`read`, `invoke`, `consent.grant`, `plugin.install`, …); another
    /// name is refused with the list.
    #[param(value_type = Option<Action>)]
    action: Option<String>,
    /// allowed, denied, failed or trapped.
    outcome: Option<String>,
    /// Outbound requests to this destination (scheme, host and port as
    /// records write them: `https://api.acme.example`, `http://127.0.0.1:8080`).
    destination: Option<String>,
    /// At or after, ms since the epoch.
    from: Option<i64>,
    /// Before, ms since the epoch.
    to: Option<i64>,
    /// Cursor: the `next` of the previous page.
    after: Option<String>,
    /// Page size, 1 to 1000 (default 100).
    limit: Option<u32>,
}

/// Parses a cursor.
pub(super) fn cursor(after: Option<&str>) -> ApiResult<i64> {
    match after {
        None => Ok(0),
        Some(text) => text
            .parse::<i64>()
            .ok()
            .filter(|seq| *seq >= 0)
            .ok_or_else(|| ApiError::invalid("after must be the `next` cursor of an earlier page")),
    }
}

impl AuditQuery {
    fn filter(&self) -> ApiResult<AuditFilter> {
        let outcome = self
            .outcome
            .as_deref()
            .map(|o| {
                Outcome::parse(o).ok_or_else(|| ApiError::invalid("outcome must be allowed, denied, failed or trapped"))
            })
            .transpose()?;
        let action = self
            .action
            .as_deref()
            .map(|a| {
                Action::parse(a).ok_or_else(|| {
                    let names: Vec<&str> = Action::ALL.iter().map(|a| a.as_str()).collect();
                    ApiError::invalid(format!("action {a:?} is not an audit action; actions are {}", names.join(", ")))
                })
            })
            .transpose()?;
        Ok(AuditFilter {
            subject: self.subject.clone(),
            actor: self.actor.clone(),
            plugin: self.plugin.clone(),
            action,
            outcome,
            with_scope: false,
            destination: self.destination.clone(),
            from_ms: self.from,
            to_ms: self.to,
        })
    }
}

/// Query the tenant's audit log, oldest first.
#[utoipa::path(get, path = "/audit", tag = "audit", params(AuditQuery), responses((status = 200, body = AuditPage), (status = 422, body = ErrorBody)))]
async fn query(
    State(state): State<AppState>,
    Auditor(caller): Auditor,
    ApiQuery(q): ApiQuery<AuditQuery>,
) -> ApiResult<Json<AuditPage>> {
    let filter = q.filter()?;
    let after = cursor(q.after.as_deref())?;
    Ok(Json(state.workbench.audit_page(&caller.tenant, &filter, after, q.limit.unwrap_or(100)).await?))
}

/// The chain's status.
#[derive(Debug, Serialize, utoipa::ToSchema)]
struct VerifyResult {
    /// Whether every record links and the latest checkpoint's signature verifies.
    ok: bool,
    /// Records checked.
    records: i64,
    /// The latest signed checkpoint covers records up to here.
    checkpointed_seq: i64,
    /// Verification started after this record: the latest retention
    /// purge's signed anchor (records up to it were deleted); 0 without one.
    anchored_seq: i64,
    /// The first problem, if any.
    error: Option<String>,
    /// The Ed25519 key that verifies the checkpoints, hex (for offline verification).
    public_key: String,
}

/// Verify the tenant's chain against its signed checkpoints.
#[utoipa::path(get, path = "/audit/verify", tag = "audit", responses((status = 200, body = VerifyResult)))]
async fn verify(State(state): State<AppState>, Auditor(caller): Auditor) -> ApiResult<Json<VerifyResult>> {
    let reports = state.workbench.verify_audit(Some(&caller.tenant)).await?;
    let report = reports.into_iter().next().ok_or_else(|| ApiError::not_found("no audit records"))?;
    Ok(Json(VerifyResult {
        ok: report.error.is_none(),
        records: report.records,
        checkpointed_seq: report.checkpointed_seq,
        anchored_seq: report.anchored_seq,
        error: report.error.map(|e| e.to_string()),
        public_key: hex::encode(state.workbench.verifying_key().as_bytes()),
    }))
}

/// The keys that sign audit checkpoints and anchors: the current one and
/// every earlier one this host trusts, each later key with the handover
/// both keys signed, so checkpoints signed before a rotation still verify.
#[utoipa::path(get, path = "/audit/keys", tag = "audit", responses((status = 200, body = AuditKeyHistory)))]
async fn keys(State(state): State<AppState>, _auditor: Auditor) -> ApiResult<Json<AuditKeyHistory>> {
    Ok(Json(state.workbench.audit_keys().await?))
}

/// Export the tenant's audit log as NDJSON, streamed: one record per line
/// with its chain hashes (`limit` caps the number of records; by default
/// every matching one). A complete export (without filters, cursor or
/// limit) starts with a `{"key": …}` line per audit key and an
/// `{"anchor": …}` line per retention purge, and ends with a line
/// `{"checkpoint": …}` with the latest signed checkpoint, so that
/// `workbench audit verify --offline FILE --public-key KEY` can check it
/// anywhere with only the public key.
#[utoipa::path(get, path = "/audit/export", tag = "audit", params(AuditQuery), responses((status = 200, content_type = "application/x-ndjson", description = "Keys and anchors, one record per line, then the latest checkpoint")))]
async fn export(
    State(state): State<AppState>,
    Auditor(caller): Auditor,
    ApiQuery(q): ApiQuery<AuditQuery>,
) -> ApiResult<Response> {
    let filter = q.filter()?;
    let after = cursor(q.after.as_deref())?;
    // Here `limit` bounds the whole export (default: every matching record).
    let limit = match q.limit {
        Some(0) => return Err(ApiError::invalid("limit must be at least 1")),
        Some(limit) => Some(limit as usize),
        None => None,
    };
    let rx = state.workbench.audit_export(&caller.tenant, ExportRange { filter, after, limit });
    let stream = tokio_stream::wrappers::ReceiverStream::new(rx);
    Ok(([(header::CONTENT_TYPE, "application/x-ndjson")], Body::from_stream(stream)).into_response())
}
