//! Tenant settings: retention.

use super::{Actor, ServiceError, ServiceResult, Workbench};
use crate::model::audit::Action;
use crate::model::settings::Retention;

impl Workbench {
    /// The tenant's retention settings.
    pub async fn retention(&self, tenant: &str) -> ServiceResult<Retention> {
        Ok(self.store.retention(tenant).await?)
    }

    /// Sets the tenant's retention; audit records are kept at least the floor.
    pub async fn set_retention(&self, tenant: &str, admin: &str, retention: Retention) -> ServiceResult<Retention> {
        let floor = self.retention.audit_floor_days;
        if retention.audit_days < floor {
            return Err(ServiceError::BadRequest(format!(
                "audit_days must be at least {floor}, the floor this deployment keeps audit records for"
            )));
        }
        if retention.plugin_storage_days == Some(0) {
            return Err(ServiceError::BadRequest("plugin_storage_days must be at least 1, or absent".into()));
        }
        self.ensure_tenant(tenant).await?;
        let reason =
            format!("audit {} days, plugin storage {:?} days", retention.audit_days, retention.plugin_storage_days);
        let record = self.record(tenant, Actor::Admin(admin), None, Action::SettingsRetention, reason);
        self.store.put_retention(tenant, &retention, record).await?;
        Ok(retention)
    }
}
