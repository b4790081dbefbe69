//! `/audit/stats`: counts of the tenant's audit records per hour or day, by
//! plugin, scope, action, outcome, reason and destination (the app admin's
//! and the auditor's pictures are drawn from it).

use axum::Json;
use axum::extract::State;
use chrono_tz::Tz;
use serde::Deserialize;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use super::AppState;
use super::callers::Insight;
use super::error::{ApiError, ApiQuery, ApiResult, ErrorBody};
use crate::model::audit::Action;
use crate::model::directory::Role;
use crate::model::manifest::valid_plugin_id;
use crate::model::stats::{Bucket, HOUR_MS, StatsQuery};
use crate::service::stats::StatsAnswer;

const DAY_MS: i64 = 24 * HOUR_MS;

pub(super) fn routes() -> OpenApiRouter<AppState> {
    OpenApiRouter::new().routes(routes!(stats))
}

/// What to count.
#[derive(Debug, Default, Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
#[serde(deny_unknown_fields)]
struct StatsParams {
    /// From, ms since the epoch, rounded down to its hour (default: `to`
    /// less 30 days, or less 24 hours with hourly buckets).
    from: Option<i64>,
    /// To (exclusive), ms since the epoch, rounded up to an hour (default: now).
    to: Option<i64>,
    /// `day` (default) or `hour`. Hourly buckets cover at most 31 days, daily 366.
    bucket: Option<String>,
    /// The IANA time zone days are counted in (default `UTC`), e.g. `Asia/Shanghai`.
    zone: Option<String>,
    /// Only this plugin (its id).
    plugin: Option<String>,
    /// Only records about this member (member id).
    member: Option<String>,
    /// Only this action (`read`, `http.request`, `invoke`, …).
    #[param(value_type = Option<Action>)]
    action: Option<String>,
}

/// `from` rounded down and `to` rounded up to whole hours, `to` by default
/// `now_ms` and `from` `default_span` before it; refused unless from < to,
/// both times since the epoch.
pub(super) fn hour_range(from: Option<i64>, to: Option<i64>, now_ms: i64, default_span: i64) -> ApiResult<(i64, i64)> {
    if let (Some(from), Some(to)) = (from, to)
        && from >= to
    {
        return Err(ApiError::invalid("from must be before to"));
    }
    let epoch = 0..=i64::MAX / 2;
    if !from.is_none_or(|t| epoch.contains(&t)) || !to.is_none_or(|t| epoch.contains(&t)) {
        return Err(ApiError::invalid("from and to must be times in ms since the epoch"));
    }
    let to = to.unwrap_or(now_ms);
    let to = to.div_euclid(HOUR_MS) * HOUR_MS + if to.rem_euclid(HOUR_MS) > 0 { HOUR_MS } else { 0 };
    let from = from.unwrap_or(to - default_span).max(0).div_euclid(HOUR_MS) * HOUR_MS;
    if from >= to {
        return Err(ApiError::invalid("from must be before to"));
    }
    Ok((from, to))
}

impl StatsParams {
    fn query(self, now_ms: i64) -> ApiResult<StatsQuery> {
        let bucket = match self.bucket.as_deref() {
            None => Bucket::Day,
            Some(text) => Bucket::parse(text).ok_or_else(|| ApiError::invalid("bucket must be hour or day"))?,
        };
        let zone: Tz = match self.zone.as_deref() {
            None => Tz::UTC,
            Some(name) => name.parse().map_err(|_| {
                ApiError::invalid(format!("zone {name:?} is not an IANA time zone (such as Asia/Shanghai or UTC)"))
            })?,
        };
        let default_span = if bucket == Bucket::Hour { DAY_MS } else { 30 * DAY_MS };
        let (from, to) = hour_range(self.from, self.to, now_ms, default_span)?;
        if to - from > bucket.max_days() * DAY_MS {
            return Err(ApiError::invalid(format!(
                "{} buckets cover at most {} days; ask for a shorter range or wider buckets",
                if bucket == Bucket::Hour { "hourly" } else { "daily" },
                bucket.max_days()
            )));
        }
        if let Some(plugin) = self.plugin.as_deref().filter(|p| !valid_plugin_id(p)) {
            return Err(ApiError::invalid(format!("{plugin:?} is not a plugin id")));
        }
        if self.member.as_deref().is_some_and(str::is_empty) {
            return Err(ApiError::invalid("member must be a member id"));
        }
        let action = match self.action.as_deref() {
            None => None,
            Some(name) => Some(
                Action::parse(name)
                    .ok_or_else(|| {
                        let names: Vec<&str> = Action::ALL.iter().map(|a| a.as_str()).collect();
                        ApiError::invalid(format!(
                            "action {name:?} is not an audit action; actions are {}",
                            names.join(", ")
                        ))
                    })?
                    .as_str()
                    .to_owned(),
            ),
        };
        Ok(StatsQuery { from_ms: from, to_ms: to, bucket, zone, plugin: self.plugin, member: self.member, action })
    }
}

/// Counts of the tenant's audit records per hour or day, by plugin, scope,
/// action, outcome, reason and destination (app_admin, auditor).
#[utoipa::path(get, path = "/audit/stats", tag = "audit", params(StatsParams), responses((status = 200, body = StatsAnswer), (status = 422, body = ErrorBody)))]
async fn stats(
    State(state): State<AppState>,
    Insight(caller): Insight,
    ApiQuery(params): ApiQuery<StatsParams>,
) -> ApiResult<Json<StatsAnswer>> {
    // One member's activity is the audit log's to show: the auditor's (or the admin's).
    if params.member.is_some() && !caller.roles.iter().any(|r| matches!(r, Role::Auditor | Role::Admin)) {
        return Err(ApiError::forbidden("one member's statistics are for the auditor; ask without member"));
    }
    let query = params.query(crate::now_ms())?;
    Ok(Json(state.workbench.audit_stats(&caller.tenant, &query).await?))
}
