//! Who may call a route, and which plugin it is about, as extractors: a
//! handler that takes [`Admin`], [`Developer`], [`Member`] or
//! [`DirectoryMember`] runs only for a caller with that role (else 403),
//! checked before its body is read (an admin's role, and a directory
//! member's presence, against the directory on every call); [`PluginId`] is a path's `{id}` that is
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

/// A tenant admin: the token's admin role, held in the tenant's directory
/// now (see `Workbench::require_admin`), checked before the body is read.
#[derive(Debug, Clone)]
pub struct Admin(pub Caller);

impl FromRequestParts<AppState> for Admin {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, Self::Rejection> {
        let caller = with_role(parts, state, Role::Admin).await?;
        state.workbench.require_admin(&caller.tenant, &caller.member).await?;
        Ok(Self(caller))
    }
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

/// A caller with the member role (the invocation itself checks that they
/// are in the directory, in the query it makes anyway).
#[derive(Debug, Clone)]
pub struct Member(pub Caller);

impl FromRequestParts<AppState> for Member {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, Self::Rejection> {
        with_role(parts, state, Role::Member).await.map(Self)
    }
}

/// A member who is in their tenant's directory: a removed member's
/// still-valid token does not reach their consents or data.
#[derive(Debug, Clone)]
pub struct DirectoryMember(pub Caller);

impl FromRequestParts<AppState> for DirectoryMember {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, Self::Rejection> {
        let caller = with_role(parts, state, Role::Member).await?;
        state.workbench.require_member(&caller.tenant, &caller.member).await?;
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
