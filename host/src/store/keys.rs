//! The audit signing keys a deployment has used, with their handovers.
//! A row here vouches for nothing by itself: verification trusts a key only
//! through a handover signed by a key it already trusts.

use async_trait::async_trait;
use sqlx::Row;

use super::StoreResult;
use super::backend::SqlStore;
use crate::model::audit::{AuditKey, Handover};

/// The deployment's audit key history.
#[async_trait]
pub trait AuditKeys: Send + Sync + std::fmt::Debug {
    /// Every key, oldest first.
    async fn audit_keys(&self) -> StoreResult<Vec<AuditKey>>;
    /// Adds `key` unless a key with its id is there; a handover replaces a
    /// row that had none (the key was used before it was handed over).
    async fn add_audit_key(&self, key: &AuditKey) -> StoreResult<()>;
}

#[async_trait]
impl AuditKeys for SqlStore {
    async fn audit_keys(&self) -> StoreResult<Vec<AuditKey>> {
        let rows = sqlx::query(
            "SELECT key_id, public_key, first_used_at, previous, handed_over_at, signed_by_previous, signed_by_self \
             FROM audit_keys ORDER BY first_used_at, key_id",
        )
        .fetch_all(&self.pool)
        .await?;
        Ok(rows
            .iter()
            .map(|r| {
                let previous: Option<String> = r.get(3);
                AuditKey {
                    key_id: r.get(0),
                    public_key: r.get(1),
                    first_used_at_ms: r.get(2),
                    handover: previous.map(|previous| Handover {
                        previous,
                        at_ms: r.get::<Option<i64>, _>(4).unwrap_or_default(),
                        signed_by_previous: r.get::<Option<String>, _>(5).unwrap_or_default(),
                        signed_by_self: r.get::<Option<String>, _>(6).unwrap_or_default(),
                    }),
                }
            })
            .collect())
    }

    async fn add_audit_key(&self, key: &AuditKey) -> StoreResult<()> {
        let handover = key.handover.as_ref();
        sqlx::query(
            "INSERT INTO audit_keys (key_id, public_key, first_used_at, previous, handed_over_at, signed_by_previous, \
             signed_by_self) VALUES ($1, $2, $3, $4, $5, $6, $7) ON CONFLICT (key_id) DO UPDATE SET \
             previous = excluded.previous, handed_over_at = excluded.handed_over_at, \
             signed_by_previous = excluded.signed_by_previous, signed_by_self = excluded.signed_by_self \
             WHERE audit_keys.previous IS NULL AND excluded.previous IS NOT NULL",
        )
        .bind(&key.key_id)
        .bind(&key.public_key)
        .bind(key.first_used_at_ms)
        .bind(handover.map(|h| h.previous.clone()))
        .bind(handover.map(|h| h.at_ms))
        .bind(handover.map(|h| h.signed_by_previous.clone()))
        .bind(handover.map(|h| h.signed_by_self.clone()))
        .execute(&self.pool)
        .await?;
        Ok(())
    }
}
