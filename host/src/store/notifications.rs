//! Members' inboxes: notifications plugins sent (written by the audit
//! writer in the transaction of their record, see [`super::kv`]), read and
//! marked read by their member.

use async_trait::async_trait;
use sqlx::{Any, Row, Transaction};

use super::StoreResult;
use super::backend::{SqlStore, count};
use super::kv::{StorageChange, StorageOutcome};
use crate::model::notifications::{Draft, Inbox, InboxEntry};

const HOUR_MS: i64 = 3_600_000;

/// Members' inboxes.
#[async_trait]
pub trait Notifications: Send + Sync + std::fmt::Debug {
    /// A member's newest `limit` notifications and their unread count.
    async fn inbox(&self, tenant: &str, member: &str, limit: u32) -> StoreResult<Inbox>;
    /// Marks a member's notification read (`id`), or all of them (`None`);
    /// how many were unread.
    async fn mark_read(&self, tenant: &str, member: &str, id: Option<&str>, now_ms: i64) -> StoreResult<u64>;
    /// Whether the member has notification `id`.
    async fn has_notification(&self, tenant: &str, member: &str, id: &str) -> StoreResult<bool>;
}

#[async_trait]
impl Notifications for SqlStore {
    async fn inbox(&self, tenant: &str, member: &str, limit: u32) -> StoreResult<Inbox> {
        let rows = sqlx::query(
            "SELECT id, plugin, title, body, route, created_at, read_at FROM notifications \
             WHERE tenant = $1 AND member = $2 ORDER BY created_at DESC, id DESC LIMIT $3",
        )
        .bind(tenant)
        .bind(member)
        .bind(i64::from(limit))
        .fetch_all(&self.pool)
        .await?;
        let unread: i64 = sqlx::query_scalar(
            "SELECT COUNT(*) FROM notifications WHERE tenant = $1 AND member = $2 AND read_at IS NULL",
        )
        .bind(tenant)
        .bind(member)
        .fetch_one(&self.pool)
        .await?;
        let notifications = rows
            .iter()
            .map(|r| InboxEntry {
                id: r.get(0),
                plugin: r.get(1),
                title: r.get(2),
                text: r.get(3),
                route: r.get(4),
                created_at_ms: r.get(5),
                read_at_ms: r.get(6),
            })
            .collect();
        Ok(Inbox { unread: u64::try_from(unread).unwrap_or(0), notifications })
    }

    async fn mark_read(&self, tenant: &str, member: &str, id: Option<&str>, now_ms: i64) -> StoreResult<u64> {
        let done = sqlx::query(
            "UPDATE notifications SET read_at = $1 WHERE tenant = $2 AND member = $3 AND read_at IS NULL \
             AND ($4 IS NULL OR id = $4)",
        )
        .bind(now_ms)
        .bind(tenant)
        .bind(member)
        .bind(id)
        .execute(&self.pool)
        .await?;
        Ok(count(&done))
    }

    async fn has_notification(&self, tenant: &str, member: &str, id: &str) -> StoreResult<bool> {
        let found = sqlx::query("SELECT 1 FROM notifications WHERE tenant = $1 AND member = $2 AND id = $3")
            .bind(tenant)
            .bind(member)
            .bind(id)
            .fetch_optional(&self.pool)
            .await?;
        Ok(found.is_some())
    }
}

impl SqlStore {
    /// Puts `draft` in the change's person's inbox in `tx` (the consents
    /// were checked there already), unless one of `limits` — (per hour,
    /// column, value) — is reached: then how long until one may be sent.
    /// The person's bucket lock serialises one plugin's notifications to
    /// one person; across plugins two at once may pass the person's limit
    /// by one.
    pub(super) async fn put_notification(
        &self,
        tx: &mut Transaction<'_, Any>,
        change: &StorageChange,
        draft: &Draft,
        now_ms: i64,
        limits: [(&u32, &'static str, &str); 2],
    ) -> StoreResult<StorageOutcome> {
        // A plugin disabled since the call began sends nothing more.
        let state: Option<String> =
            sqlx::query_scalar("SELECT state FROM installations WHERE tenant = $1 AND plugin = $2")
                .bind(&change.tenant)
                .bind(&change.plugin)
                .fetch_optional(&mut **tx)
                .await?;
        if state.as_deref() != Some("enabled") {
            return Ok(StorageOutcome::Refused(crate::gate::Denial::NotGranted));
        }
        for (per_hour, column, value) in limits {
            let row = sqlx::query(&format!(
                "SELECT COUNT(*), MIN(created_at) FROM notifications WHERE tenant = $1 AND {column} = $2 AND created_at > $3"
            ))
            .bind(&change.tenant)
            .bind(value)
            .bind(now_ms - HOUR_MS)
            .fetch_one(&mut **tx)
            .await?;
            let (sent, oldest): (i64, Option<i64>) = (row.get(0), row.get(1));
            if sent >= i64::from(*per_hour) {
                let wait_ms = oldest.map_or(HOUR_MS, |oldest| oldest + HOUR_MS - now_ms);
                return Ok(StorageOutcome::RateLimited(u32::try_from(wait_ms / 1000 + 1).unwrap_or(3600)));
            }
        }
        sqlx::query(
            "INSERT INTO notifications (tenant, id, member, plugin, title, body, route, created_at) \
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8)",
        )
        .bind(&change.tenant)
        .bind(&change.key)
        .bind(change.person.as_deref().unwrap_or_default())
        .bind(&change.plugin)
        .bind(&draft.title)
        .bind(&draft.text)
        .bind(&draft.route)
        .bind(now_ms)
        .execute(&mut **tx)
        .await?;
        Ok(StorageOutcome::Set)
    }
}
