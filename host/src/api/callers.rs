//! Who may call a route, and which plugin it is about, as extractors: a
//! handler that takes one of the jobs below ([`AppAdmin`], [`MemberAdmin`],
//! [`Auditor`], [`Insight`], [`TenantAdmin`], [`Administrator`], [`DirectoryReader`]),
//! [`Developer`], [`Operator`], [`Member`] or [`DirectoryMember`] runs only
//! for a caller with that role (else 403), checked before its body is read.
//! An administrative role is the token's and the tenant's directory's both,
//! read on every call, as is a directory member's presence; an ended
//! session is 401 `session_ended`. [`PluginId`] is a path's `{id}` that is
//! a plugin id (else 404, as for an id no plugin has); [`CallerLanguages`]
//! the languages the caller reads.

use axum::extract::FromRequestParts;
use axum::http::request::Parts;

use super::AppState;
use super::auth::Caller;
use super::error::{ApiError, ApiPath};
use crate::model::directory::Role;
use crate::model::manifest::valid_plugin_id;
use crate::model::text::Languages;

async fn with_role(parts: &mut Parts, state: &AppState, role: Role) -> Result<Caller, ApiError> {
    let caller = Caller::from_request_parts(parts, state).await?;
    caller.require(role)?;
    Ok(caller)
}

/// A caller holding one of `any_of` (administrative roles) in their token
/// and in the tenant's directory now; the caller's roles become the
/// effective ones.
async fn administrative(parts: &mut Parts, state: &AppState, any_of: &[Role]) -> Result<Caller, ApiError> {
    let mut caller = Caller::from_request_parts(parts, state).await?;
    caller.roles = state.workbench.require_role(caller.session(), any_of).await?;
    Ok(caller)
}

macro_rules! jobs {
    ($($(#[$doc:meta])* $name:ident => [$($role:ident),+];)+) => {$(
        $(#[$doc])*
        #[derive(Debug, Clone)]
        pub struct $name(pub Caller);

        impl FromRequestParts<AppState> for $name {
            type Rejection = ApiError;

            async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, Self::Rejection> {
                administrative(parts, state, &[$(Role::$role),+]).await.map(Self)
            }
        }
    )+};
}

jobs! {
    /// The tenant's plugins: catalogue, install, upgrade, configuration,
    /// visible range (app_admin, or admin).
    AppAdmin => [AppAdmin];
    /// The tenant's directory (member_admin, or admin).
    MemberAdmin => [MemberAdmin];
    /// The tenant's audit log, read only (auditor, or admin).
    Auditor => [Auditor];
    /// What only the whole admin may do (the tenant's retention).
    TenantAdmin => [Admin];
    /// What plugins do, counted: the audit statistics (app_admin or
    /// auditor, or admin).
    Insight => [AppAdmin, Auditor];
    /// Any of the administrative jobs: reads every one of them needs.
    Administrator => [AppAdmin, MemberAdmin, Auditor];
    /// Reading the directory: the member admin, and the app admin who
    /// picks a plugin's visible range and previews it for a member.
    DirectoryReader => [MemberAdmin, AppAdmin];
}

/// A plugin developer.
#[derive(Debug, Clone)]
pub struct Developer(pub Caller);

impl FromRequestParts<AppState> for Developer {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, Self::Rejection> {
        with_role(parts, state, Role::Developer).await.map(Self)
    }
}

/// The deployment's operator: its own status, no tenant's data.
#[derive(Debug, Clone)]
pub struct Operator(pub Caller);

impl FromRequestParts<AppState> for Operator {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, Self::Rejection> {
        with_role(parts, state, Role::Operator).await.map(Self)
    }
}

/// The workbench platform, sending its events.
#[derive(Debug, Clone)]
pub struct Platform(pub Caller);

impl FromRequestParts<AppState> for Platform {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, Self::Rejection> {
        with_role(parts, state, Role::Platform).await.map(Self)
    }
}

/// A caller with the member role (the invocation itself checks that they
/// are in the directory and that the session was not ended, in the query
/// it makes anyway).
#[derive(Debug, Clone)]
pub struct Member(pub Caller);

impl FromRequestParts<AppState> for Member {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, Self::Rejection> {
        with_role(parts, state, Role::Member).await.map(Self)
    }
}

/// A member who is in their tenant's directory, in a session not ended: a
/// removed member's still-valid token does not reach their consents or
/// data, nor does a token from before "sign out everywhere".
#[derive(Debug, Clone)]
pub struct DirectoryMember(pub Caller);

impl FromRequestParts<AppState> for DirectoryMember {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, Self::Rejection> {
        let caller = with_role(parts, state, Role::Member).await?;
        state.workbench.require_member_session(caller.session()).await?;
        Ok(Self(caller))
    }
}

/// The `{id}` of a plugin route, checked to be a plugin id.
#[derive(Debug, Clone)]
pub struct PluginId(pub String);

impl<S: Send + Sync> FromRequestParts<S> for PluginId {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, Self::Rejection> {
        let ApiPath(id) = ApiPath::<String>::from_request_parts(parts, state).await?;
        if !valid_plugin_id(&id) {
            return Err(ApiError::not_found(format!(
                "no plugin {id:?}: plugin ids are 2 to 63 characters of a-z, 0-9 and -, starting with a letter"
            )));
        }
        Ok(Self(id))
    }
}

/// The languages the caller reads, best first, from `Accept-Language`
/// (none when it is absent or unreadable: a plugin's texts are then shown in
/// its primary language). Never refuses a request.
#[derive(Debug, Clone, Default)]
pub struct CallerLanguages(pub Languages);

impl<S: Send + Sync> FromRequestParts<S> for CallerLanguages {
    type Rejection = std::convert::Infallible;

    async fn from_request_parts(parts: &mut Parts, _state: &S) -> Result<Self, Self::Rejection> {
        let header = parts.headers.get(http::header::ACCEPT_LANGUAGE).and_then(|v| v.to_str().ok());
        Ok(Self(header.map(Languages::parse).unwrap_or_default()))
    }
}

/// The `Accept-Language` header as the API documents it (read by [`CallerLanguages`]).
#[derive(Debug, serde::Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Header)]
pub struct AcceptLanguage {
    /// The languages the caller reads, e.g. `en` or `zh-CN,zh;q=0.9,en;q=0.8`: a
    /// plugin's name, description and purposes are shown in the best of them
    /// the plugin gives, else in the plugin's primary language.
    #[serde(rename = "Accept-Language")]
    #[expect(dead_code, reason = "documents the header; CallerLanguages reads it")]
    accept_language: Option<String>,
}
