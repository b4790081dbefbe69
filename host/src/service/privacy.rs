//! The audit log for admins (query, verify), and for members their access
//! log ("who read my data") and their data export.

use base64::Engine as _;
use serde::Serialize;

use super::{ServiceResult, Workbench};
use crate::audit::verify::{self, VerifyReport};
use crate::model::audit::AuditFilter;
use crate::model::audit::AuditRecord;
use crate::model::directory::MemberProfile;

/// An audit record as the API shows it.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct AuditEntry {
    /// Position in the tenant's chain.
    pub seq: i64,
    /// When, ms since the epoch.
    pub ts_ms: i64,
    /// Who acted.
    pub actor: String,
    /// Whose data.
    pub subject: Option<String>,
    /// What was attempted.
    pub action: String,
    /// The scope involved.
    pub scope: Option<String>,
    /// The declared purpose.
    pub purpose: Option<String>,
    /// allowed, denied, failed or trapped.
    pub outcome: String,
    /// Why.
    pub reason: Option<String>,
    /// The invocation.
    pub invocation: Option<String>,
    /// The record's chain hash, hex.
    pub hash: String,
}

impl From<&AuditRecord> for AuditEntry {
    fn from(record: &AuditRecord) -> Self {
        let e = &record.event;
        Self {
            seq: record.seq,
            ts_ms: e.ts_ms,
            actor: e.actor.clone(),
            subject: e.subject.clone(),
            action: e.action.clone(),
            scope: e.scope.clone(),
            purpose: e.purpose.clone(),
            outcome: e.outcome.as_str().to_owned(),
            reason: e.reason.clone(),
            invocation: e.invocation.clone(),
            hash: hex::encode(record.hash),
        }
    }
}

/// One page of records and the cursor of the next.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct AuditPage {
    /// The records, oldest first.
    pub records: Vec<AuditEntry>,
    /// Pass as `after` for the next page; absent on the last page.
    pub next: Option<String>,
}

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

/// Largest page the API returns.
pub const MAX_PAGE: u32 = 1_000;

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
        }
    }
}

fn next_cursor(records: &[AuditRecord], limit: u32) -> Option<String> {
    (records.len() == limit as usize).then(|| records.last().map(|r| r.seq.to_string())).flatten()
}

impl Workbench {
    /// A page of the tenant's audit records matching `filter` after `after`.
    pub async fn audit_page(
        &self,
        tenant: &str,
        filter: &AuditFilter,
        after: i64,
        limit: u32,
    ) -> ServiceResult<AuditPage> {
        let limit = limit.clamp(1, MAX_PAGE);
        let records = self.store.audit_query(tenant, filter, after, limit).await?;
        Ok(AuditPage { next: next_cursor(&records, limit), records: records.iter().map(AuditEntry::from).collect() })
    }

    /// Raw records (with their chain hashes) for the NDJSON export.
    pub async fn audit_records(
        &self,
        tenant: &str,
        filter: &AuditFilter,
        after: i64,
        limit: u32,
    ) -> ServiceResult<Vec<AuditRecord>> {
        Ok(self.store.audit_query(tenant, filter, after, limit.clamp(1, MAX_PAGE)).await?)
    }

    /// The tenant's latest signed checkpoint, if any.
    pub async fn latest_checkpoint(&self, tenant: &str) -> ServiceResult<Option<crate::model::audit::Checkpoint>> {
        Ok(self.store.audit_checkpoints(tenant).await?.pop())
    }

    /// A member's accesses: every attempt on one of their fields, by a plugin or an admin.
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

    /// Verifies the audit chain of `tenant`, or of every tenant.
    pub async fn verify_audit(&self, tenant: Option<&str>) -> ServiceResult<Vec<VerifyReport>> {
        let tenants = match tenant {
            Some(t) => vec![t.to_owned()],
            None => self.store.audit_tenants().await?,
        };
        let mut reports = Vec::with_capacity(tenants.len());
        for tenant in tenants {
            reports.push(verify::verify_tenant(self.store.as_ref(), &tenant, &self.verifying_key, &[]).await?);
        }
        Ok(reports)
    }
}

fn access_filter(member: &str) -> AuditFilter {
    AuditFilter { subject: Some(member.to_owned()), with_scope: true, ..AuditFilter::default() }
}
