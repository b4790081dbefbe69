//! `/events`: the platform's workbench events, accepted durably and
//! delivered at least once to the plugins that subscribed; and
//! `/workbench/deliveries`: each delivery as the app admin sees it, with the
//! dead letters' last errors and a replay.

use axum::Json;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use serde::{Deserialize, Serialize};
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use super::AppState;
use super::callers::{AppAdmin, Platform};
use super::detached;
use super::error::{ApiError, ApiJson, ApiQuery, ApiResult, ErrorBody};
use crate::model::events::DeliveryState;
use crate::service::events::PlatformEvent;
use crate::store::{Accepted, DeliveryView};

pub(super) fn routes() -> OpenApiRouter<AppState> {
    OpenApiRouter::new().routes(routes!(accept)).routes(routes!(deliveries)).routes(routes!(replay))
}

/// Events sent at once.
#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
#[schema(example = json!({"events": [{"id": "appr-4711-1", "kind": "approval.submitted", "subject": "zhang.wei",
    "payload": {"approval_id": "4711", "process_id": "expense", "title": "差旅报销 · 上海", "amount_cents": 120000}}]}))]
struct EventBatch {
    /// 1 to 500 events of the caller's tenant; all are accepted or none.
    events: Vec<PlatformEvent>,
}

/// What became of each event.
#[derive(Debug, Serialize, utoipa::ToSchema)]
struct AcceptedBatch {
    /// One entry per event sent, in order.
    accepted: Vec<Accepted>,
}

/// Accept workbench events (the platform's token only). Each is checked
/// against its kind's payload schema (`ApprovalSubmitted`,
/// `ApprovalDecided`, `CustomerAssigned`, `MemberChanged` in the document's
/// schemas); an unknown kind, a payload that does not match, or a
/// subject who is not a member is 422 naming the event, and nothing is
/// accepted. An id sent before is accepted once (`duplicate: true`).
/// Accepted events are durable before the answer, and delivered at least
/// once to every plugin installed in the tenant that subscribed to the
/// kind, after 15 s, 1 min, 5 min, 1 h and 6 h when a delivery fails, then
/// kept as a dead letter.
#[utoipa::path(post, path = "/events", tag = "events", request_body = EventBatch,
    responses((status = 202, body = AcceptedBatch), (status = 403, body = ErrorBody), (status = 422, body = ErrorBody)))]
async fn accept(
    State(state): State<AppState>,
    Platform(caller): Platform,
    ApiJson(batch): ApiJson<EventBatch>,
) -> ApiResult<(StatusCode, Json<AcceptedBatch>)> {
    let tenant = caller.tenant;
    let accepted = detached(&state, move |wb| async move { wb.accept_events(&tenant, batch.events).await }).await?;
    Ok((StatusCode::ACCEPTED, Json(AcceptedBatch { accepted })))
}

#[derive(Debug, Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
#[serde(deny_unknown_fields)]
struct DeliveriesQuery {
    /// Only deliveries in this state (`pending`, `done`, `dead`).
    #[serde(default)]
    state: Option<String>,
}

/// The tenant's event deliveries, newest first (at most 200): pending ones
/// with their next attempt, done ones, and dead letters with their last error.
#[utoipa::path(get, path = "/workbench/deliveries", tag = "workbench", params(DeliveriesQuery),
    responses((status = 200, body = Vec<DeliveryView>), (status = 403, body = ErrorBody), (status = 422, body = ErrorBody)))]
async fn deliveries(
    State(state): State<AppState>,
    AppAdmin(caller): AppAdmin,
    ApiQuery(query): ApiQuery<DeliveriesQuery>,
) -> ApiResult<Json<Vec<DeliveryView>>> {
    let wanted = match query.state.as_deref() {
        None => None,
        Some(name) => Some(
            DeliveryState::parse(name)
                .ok_or_else(|| ApiError::invalid(format!("state {name:?} is not one of pending, done, dead")))?,
        ),
    };
    Ok(Json(state.workbench.deliveries(&caller.tenant, wanted).await?))
}

/// Replay a dead letter: it is delivered again now, its attempts counted
/// afresh (audited `event.replay`).
#[utoipa::path(post, path = "/workbench/deliveries/{id}/replay", tag = "workbench",
    params(("id" = String, Path, description = "The delivery's id")),
    responses((status = 204), (status = 403, body = ErrorBody), (status = 404, body = ErrorBody)))]
async fn replay(
    State(state): State<AppState>,
    AppAdmin(caller): AppAdmin,
    Path(id): Path<String>,
) -> ApiResult<StatusCode> {
    let (tenant, admin) = (caller.tenant, caller.member);
    detached(&state, move |wb| async move { wb.replay_delivery(&tenant, &admin, &id).await }).await?;
    Ok(StatusCode::NO_CONTENT)
}
