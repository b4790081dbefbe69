//! `/me/receipts`: the signed receipts a member keeps of their consents and
//! withdrawals (listed, and downloaded one by one as a JSON file that
//! `workbench receipt verify` checks offline).

use axum::Json;
use axum::extract::{Path, State};
use axum::http::header;
use axum::response::{IntoResponse, Response};
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use super::AppState;
use super::callers::DirectoryMember;
use super::error::{ApiError, ApiResult, ErrorBody};
use crate::model::receipts::SignedReceipt;
use crate::store::ReceiptEntry;

pub(super) fn routes() -> OpenApiRouter<AppState> {
    OpenApiRouter::new().routes(routes!(list)).routes(routes!(download))
}

/// My consent receipts, newest first.
#[utoipa::path(get, path = "/me/receipts", tag = "me", responses((status = 200, body = Vec<ReceiptEntry>)))]
async fn list(
    State(state): State<AppState>,
    DirectoryMember(caller): DirectoryMember,
) -> ApiResult<Json<Vec<ReceiptEntry>>> {
    Ok(Json(state.workbench.my_receipts(&caller.tenant, &caller.member).await?))
}

/// One of my consent receipts, as the signed file to keep.
#[utoipa::path(get, path = "/me/receipts/{seq}", tag = "me", params(("seq" = i64, Path, description = "The audit record the receipt belongs to", example = 42)), responses((status = 200, body = SignedReceipt, description = "The signed receipt, as a file to keep"), (status = 404, body = ErrorBody)))]
async fn download(
    State(state): State<AppState>,
    DirectoryMember(caller): DirectoryMember,
    Path(seq): Path<String>,
) -> ApiResult<Response> {
    let seq: i64 = seq
        .parse()
        .ok()
        .filter(|seq| *seq > 0)
        .ok_or_else(|| ApiError::invalid("the receipt is named by its audit record's seq, a positive integer"))?;
    let document = state.workbench.my_receipt(&caller.tenant, &caller.member, seq).await?;
    let tenant: String =
        caller.tenant.chars().filter(|c| c.is_ascii_alphanumeric() || matches!(c, '.' | '_' | '-')).collect();
    let file = format!("attachment; filename=\"consent-receipt-{tenant}-{seq}.json\"");
    Ok(([(header::CONTENT_TYPE, "application/json".to_owned()), (header::CONTENT_DISPOSITION, file)], document)
        .into_response())
}
