//! A member's own data: their access log ("who read my data") and their
//! data export.

use base64::Engine as _;
use serde::Serialize;

use super::audit::{MAX_PAGE, next_cursor};
use super::{ServiceResult, Workbench};
use crate::model::audit::AuditFilter;
use crate::model::audit::AuditRecord;
use crate::model::directory::MemberProfile;

/// One access to a member's data, as they see it.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct Access {
    /// When, ms since the epoch.
    pub ts_ms: i64,
    /// Who (`plugin:ID@VERSION` or `admin:ID`).
    pub by: String,
    /// The scope.
    pub scope: Option<String>,
    /// The purpose they declared.
    pub purpose: Option<String>,
    /// allowed or denied (and why).
    pub outcome: String,
    /// Why it was denied.
    pub reason: Option<String>,
    /// Where a request sent data (`https://api.acme.example`): the
    /// recipient's server.
    pub sent_to: Option<String>,
    /// The fields of yours the plugin had read before that request: what
    /// could have been sent with it.
    pub could_include: Vec<String>,
}

/// A page of the access log.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct AccessPage {
    /// Accesses, oldest first.
    pub accesses: Vec<Access>,
    /// Pass as `after` for the next page.
    pub next: Option<String>,
}

/// One entry a plugin stored about the member.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct StoredEntry {
    /// Plugin id.
    pub plugin: String,
    /// Key.
    pub key: String,
    /// Value, base64.
    pub value_base64: String,
    /// Last write, ms since the epoch.
    pub updated_at_ms: i64,
}

/// One consent in the export.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct ExportedConsent {
    /// Plugin id.
    pub plugin: String,
    /// Scope.
    pub scope: String,
    /// Given at, ms since the epoch.
    pub granted_at_ms: i64,
    /// Withdrawn at.
    pub withdrawn_at_ms: Option<i64>,
    /// Expires at.
    pub expires_at_ms: Option<i64>,
    /// Given separately (sensitive scopes).
    pub separate: bool,
}

/// Everything the host holds about a member.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct MemberExport {
    /// Tenant.
    pub tenant: String,
    /// Member id.
    pub member: String,
    /// Profile.
    #[schema(value_type = Object)]
    pub profile: MemberProfile,
    /// Consents, current and withdrawn.
    pub consents: Vec<ExportedConsent>,
    /// Every access to the member's data.
    pub access_log: Vec<Access>,
    /// What plugins stored about the member.
    pub plugin_storage: Vec<StoredEntry>,
}

impl From<&AuditRecord> for Access {
    fn from(record: &AuditRecord) -> Self {
        let e = &record.event;
        Self {
            ts_ms: e.ts_ms,
            by: e.actor.clone(),
            scope: e.scope.clone(),
            purpose: e.purpose.clone(),
            outcome: e.outcome.as_str().to_owned(),
            reason: e.reason.clone(),
            sent_to: e.egress.as_ref().map(|d| d.destination.clone()),
            could_include: e.egress.as_ref().map(|d| d.could_include.clone()).unwrap_or_default(),
        }
    }
}

impl Workbench {
    /// A member's accesses: every attempt on one of their fields, by a plugin
    /// or an admin, and every request a plugin sent while serving them.
    pub async fn access_log(&self, tenant: &str, member: &str, after: i64, limit: u32) -> ServiceResult<AccessPage> {
        let limit = limit.clamp(1, MAX_PAGE);
        let filter = access_filter(member);
        let records = self.store.audit_query(tenant, &filter, after, limit).await?;
        Ok(AccessPage { next: next_cursor(&records, limit), accesses: records.iter().map(Access::from).collect() })
    }

    /// Everything held about a member: profile, consents, accesses, plugin storage.
    pub async fn export(&self, tenant: &str, member: &str) -> ServiceResult<MemberExport> {
        let profile = self.member(tenant, member).await?.profile;
        let consents = self
            .store
            .member_consents(tenant, member)
            .await?
            .into_iter()
            .map(|row| ExportedConsent {
                plugin: row.plugin,
                scope: row.scope.as_str().to_owned(),
                granted_at_ms: row.consent.granted_at_ms,
                withdrawn_at_ms: row.consent.withdrawn_at_ms,
                expires_at_ms: row.consent.expires_at_ms,
                separate: row.consent.separate,
            })
            .collect();
        let filter = access_filter(member);
        let mut access_log = Vec::new();
        let mut after = 0;
        loop {
            let records = self.store.audit_query(tenant, &filter, after, MAX_PAGE).await?;
            access_log.extend(records.iter().map(Access::from));
            match records.last() {
                Some(last) if records.len() == MAX_PAGE as usize => after = last.seq,
                _ => break,
            }
        }
        let plugin_storage = self
            .store
            .kv_person_entries(tenant, member)
            .await?
            .into_iter()
            .map(|e| StoredEntry {
                plugin: e.plugin,
                key: e.key,
                value_base64: base64::engine::general_purpose::STANDARD.encode(e.value),
                updated_at_ms: e.updated_at_ms,
            })
            .collect();
        Ok(MemberExport {
            tenant: tenant.to_owned(),
            member: member.to_owned(),
            profile,
            consents,
            access_log,
            plugin_storage,
        })
    }
}

fn access_filter(member: &str) -> AuditFilter {
    AuditFilter { subject: Some(member.to_owned()), with_scope: true, ..AuditFilter::default() }
}
