//! Members' inboxes: what plugins sent them (through `workbench:plugin/notify`,
//! see `runtime/wit/v0_3/notify.rs`), read and marked read.

use super::{ServiceError, ServiceResult, Workbench};
use crate::model::notifications::Inbox;

/// The most notifications an inbox lists.
const INBOX_LIMIT: u32 = 100;

impl Workbench {
    /// A member's inbox: the newest notifications and the unread count.
    pub async fn inbox(&self, tenant: &str, member: &str) -> ServiceResult<Inbox> {
        Ok(self.store.inbox(tenant, member, INBOX_LIMIT).await?)
    }

    /// Marks one of a member's notifications read (404 if it is not theirs),
    /// or all of them; how many were unread.
    pub async fn mark_read(&self, tenant: &str, member: &str, id: Option<&str>) -> ServiceResult<u64> {
        if let Some(id) = id
            && !self.store.has_notification(tenant, member, id).await?
        {
            return Err(ServiceError::NotFound(format!("you have no notification {id}")));
        }
        Ok(self.store.mark_read(tenant, member, id, crate::now_ms()).await?)
    }
}
