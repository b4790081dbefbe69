//! Who a call speaks for, decided against the directory at the call: the
//! effective roles of a token (its roles intersected with those the
//! tenant's directory gives the member now), and sessions a member or a
//! member admin ended ("sign out everywhere").

use serde::Serialize;

use super::{Actor, ServiceError, ServiceResult, Workbench};
use crate::model::audit::Action;
use crate::model::directory::{Role, Standing, any_gives};

/// A signed-in caller as their token states them.
#[derive(Debug, Clone, Copy)]
pub struct Session<'a> {
    /// Tenant.
    pub tenant: &'a str,
    /// Member id.
    pub member: &'a str,
    /// The token's roles.
    pub roles: &'a [Role],
    /// The token's `iat`, seconds since the epoch.
    pub issued_at: u64,
}

/// The answer to ending sessions.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct SessionsEnded {
    /// The member whose sessions ended.
    pub member: String,
    /// Tokens issued at or before this instant (RFC 3339, whole seconds) are
    /// refused with 401 `session_ended`.
    pub ended_at: String,
}

/// The roles of a call: each of the token's roles that the directory gives
/// the member too, for the administrative ones (member, developer and
/// operator are the token's word; a member's presence is checked where
/// their data is reached).
pub fn effective_roles(token: &[Role], directory: &[Role]) -> Vec<Role> {
    Role::ALL
        .into_iter()
        .filter(|&role| any_gives(token, role) && (!role.is_administrative() || any_gives(directory, role)))
        .collect()
}

impl Workbench {
    /// The effective roles of `session` when they give one of `any_of`
    /// (administrative roles); else 403 (the token or the directory does not
    /// give it) or 401 `session_ended`. One read of the member's row. While
    /// no member of the tenant holds any administrative role (a tenant
    /// being set up) the token's word is taken.
    pub async fn require_role(&self, session: Session<'_>, any_of: &[Role]) -> ServiceResult<Vec<Role>> {
        let named = || any_of.iter().map(|r| r.as_str()).collect::<Vec<_>>().join(" or ");
        if !any_of.iter().any(|&needed| any_gives(session.roles, needed)) {
            return Err(ServiceError::Forbidden(format!("this route needs the {} role", named())));
        }
        let Some(standing) = self.store.standing(session.tenant, session.member).await? else {
            if self.store.has_administration(session.tenant).await? {
                return Err(ServiceError::Forbidden(
                    "you are not in this workbench's directory, which names its administrators".into(),
                ));
            }
            return Ok(effective_roles(session.roles, session.roles));
        };
        if !standing.accepts_token_issued_at(session.issued_at) {
            return Err(ServiceError::SessionEnded);
        }
        let roles = effective_roles(session.roles, &standing.profile.roles);
        if !any_of.iter().any(|needed| roles.contains(needed)) {
            return Err(ServiceError::Forbidden(format!(
                "this workbench's directory does not give you the {} role (any more)",
                named()
            )));
        }
        Ok(roles)
    }

    /// Ok when the session's member is in the tenant's directory and the
    /// session was not ended: what a member's own routes require.
    pub async fn require_member_session(&self, session: Session<'_>) -> ServiceResult<Standing> {
        let standing =
            self.store.standing(session.tenant, session.member).await?.ok_or_else(ServiceError::not_a_member)?;
        if !standing.accepts_token_issued_at(session.issued_at) {
            return Err(ServiceError::SessionEnded);
        }
        Ok(standing)
    }

    /// When `member`'s sessions were last ended (ms; 0 for never), `None`
    /// when they are not in the directory.
    pub async fn sessions_ended_at(&self, tenant: &str, member: &str) -> ServiceResult<Option<i64>> {
        Ok(self.store.standing(tenant, member).await?.map(|s| s.sessions_ended_at_ms))
    }

    /// Ends every session of `member` issued until now: each token issued
    /// before (or in the same second) is refused from the next call on,
    /// on every replica. `by` is the member themselves or a member admin.
    /// Audited (`session.end`).
    pub async fn end_sessions(&self, tenant: &str, by: Actor<'_>, member: &str) -> ServiceResult<SessionsEnded> {
        let now = crate::now_ms();
        let reason = match by {
            Actor::Member(_) => "signed out everywhere".to_owned(),
            _ => format!("sessions of {member} ended"),
        };
        let record = self.record(tenant, by, Some(member), Action::SessionEnd, reason);
        self.store.end_sessions(tenant, member, now, record).await?;
        let seconds = std::time::Duration::from_secs(u64::try_from(now.div_euclid(1000)).unwrap_or(0));
        let ended_at = humantime::format_rfc3339_seconds(std::time::UNIX_EPOCH + seconds).to_string();
        Ok(SessionsEnded { member: member.to_owned(), ended_at })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_calls_roles_are_the_tokens_that_the_directory_also_gives() {
        use Role::*;
        // An admin token of a member the directory now makes only an auditor.
        assert_eq!(effective_roles(&[Admin, Member], &[Auditor, Member]), [Auditor, Member]);
        // The directory's admin with an auditor's token acts as an auditor.
        assert_eq!(effective_roles(&[Auditor], &[Admin]), [Auditor]);
        // Admin in both: all three jobs.
        assert_eq!(effective_roles(&[Admin], &[Admin]), [Admin, AppAdmin, MemberAdmin, Auditor]);
        // A token's administrative role the directory does not give is dropped;
        // member, developer and operator are the token's word.
        assert_eq!(effective_roles(&[AppAdmin, Developer, Operator], &[]), [Developer, Operator]);
    }
}
