//! `/departments`: the tenant's department tree, kept by the member admin
//! (read by the app admin too, for visible ranges).

use axum::Json;
use axum::extract::State;
use axum::http::StatusCode;
use serde::Deserialize;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use super::auth::Caller;
use super::callers::{DirectoryReader, MemberAdmin};
use super::error::{ApiJson, ApiPath, ApiResult, ErrorBody};
use super::{AppState, detached};
use crate::model::departments::Department;

pub(super) fn routes() -> OpenApiRouter<AppState> {
    OpenApiRouter::new().routes(routes!(list)).routes(routes!(put, remove))
}

/// A department's name and place in the tree.
#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
struct DepartmentBody {
    /// Its name as people read it.
    #[schema(example = "工地项目部")]
    name: String,
    /// The department it is part of; absent or null at the top.
    #[serde(default)]
    #[schema(example = "eng")]
    parent: Option<String>,
}

/// The departments, in id order.
#[utoipa::path(get, path = "/departments", tag = "members", responses((status = 200, body = Vec<Department>), (status = 403, body = ErrorBody)))]
async fn list(
    State(state): State<AppState>,
    DirectoryReader(caller): DirectoryReader,
) -> ApiResult<Json<Vec<Department>>> {
    Ok(Json(state.workbench.departments(&caller.tenant).await?))
}

/// Create or change a department (its name, or where it sits).
#[utoipa::path(put, path = "/departments/{id}", tag = "members", params(("id" = String, Path, description = "Department id", example = "eng.site")), request_body = DepartmentBody, responses((status = 200, description = "changed", body = Department), (status = 201, description = "created", body = Department), (status = 422, body = ErrorBody)))]
async fn put(
    State(state): State<AppState>,
    MemberAdmin(Caller { tenant, member: admin, .. }): MemberAdmin,
    ApiPath(id): ApiPath<String>,
    ApiJson(body): ApiJson<DepartmentBody>,
) -> ApiResult<(StatusCode, Json<Department>)> {
    let department = Department { id, name: body.name.trim().to_owned(), parent: body.parent };
    let stored = department.clone();
    let created = detached(&state, move |wb| async move { wb.put_department(&tenant, &admin, stored).await }).await?;
    Ok((if created { StatusCode::CREATED } else { StatusCode::OK }, Json(department)))
}

/// Remove a department that has no department under it, no member and no
/// visible range naming it.
#[utoipa::path(delete, path = "/departments/{id}", tag = "members", params(("id" = String, Path, description = "Department id", example = "eng.site")), responses((status = 204, description = "removed"), (status = 404, body = ErrorBody), (status = 409, body = ErrorBody)))]
async fn remove(
    State(state): State<AppState>,
    MemberAdmin(Caller { tenant, member: admin, .. }): MemberAdmin,
    ApiPath(id): ApiPath<String>,
) -> ApiResult<StatusCode> {
    detached(&state, move |wb| async move { wb.remove_department(&tenant, &admin, &id).await }).await?;
    Ok(StatusCode::NO_CONTENT)
}
