//! Plugin storage: a key-value bucket per plugin and tenant, and one per
//! person who uses it.

use std::sync::Arc;

use async_trait::async_trait;
use sqlx::{Any, Row, Transaction};

use super::StoreResult;
use super::backend::{Missing, SqlStore, corrupt, count};
use crate::gate::Denial;
use crate::model::consent::ConsentSet;

/// Which key-value bucket.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct KvBucket<'a> {
    /// Tenant.
    pub tenant: &'a str,
    /// Plugin id.
    pub plugin: &'a str,
    /// The person for a person bucket; `None` for the plugin-wide bucket.
    pub person: Option<&'a str>,
}

/// One stored entry of a person's plugin storage (for their data export).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct KvEntry {
    /// Plugin id.
    pub plugin: String,
    /// Key.
    pub key: String,
    /// Value.
    pub value: Vec<u8>,
    /// Last write, ms since the epoch.
    pub updated_at_ms: i64,
}

/// A write that would exceed the bucket's quota.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct QuotaExceeded {
    /// The bucket's limit.
    pub limit_bytes: u64,
    /// What it holds now.
    pub used_bytes: u64,
}

/// A change a plugin's call makes to what the host keeps for it: its
/// storage, or a notification in a person's inbox. It is never written on
/// its own: the audit writer applies it in the transaction that appends its
/// audit record (see [`super::audit::AuditEntry`]), so a crash leaves both
/// or neither.
#[derive(Debug, Clone)]
pub struct StorageChange {
    /// Tenant.
    pub tenant: String,
    /// Plugin id.
    pub plugin: String,
    /// The person for a person bucket; `None` for the plugin-wide bucket.
    pub person: Option<String>,
    /// Key.
    pub key: String,
    /// Write or delete.
    pub op: StorageOp,
    /// The person's consents as the call began: a person bucket is written
    /// only while none of them has been withdrawn since (a withdrawal
    /// deletes the bucket, and a running call must not fill it again).
    pub consents_seen: Arc<ConsentSet>,
}

/// What a [`StorageChange`] does.
#[derive(Debug, Clone)]
pub enum StorageOp {
    /// Writes the value unless the bucket would exceed `quota_bytes`.
    Set {
        /// The value.
        value: Vec<u8>,
        /// The bucket's quota (keys plus values).
        quota_bytes: u64,
        /// The write's time, ms since the epoch.
        now_ms: i64,
    },
    /// Deletes the key.
    Delete,
    /// Puts a notification (its id the change's key) in the inbox of the
    /// person (the change's `person`), unless they had `per_person_hour`
    /// notifications in the last hour or the plugin sent `per_plugin_hour`
    /// in the tenant.
    Notify {
        /// What it says.
        draft: crate::model::notifications::Draft,
        /// When, ms since the epoch.
        now_ms: i64,
        /// The person's hourly limit, from every plugin.
        per_person_hour: u32,
        /// The plugin's hourly limit in the tenant.
        per_plugin_hour: u32,
    },
}

/// How a [`StorageChange`] ended, decided in its transaction.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum StorageOutcome {
    /// Written.
    Set,
    /// Not written: the bucket would exceed its quota.
    OverQuota(QuotaExceeded),
    /// Deleted; true when the key existed.
    Deleted(bool),
    /// Not sent: an hourly limit of notifications was reached; seconds
    /// until one may be sent again.
    RateLimited(u32),
    /// Not applied: the plugin is no longer installed (`not_granted`), or
    /// the person is no longer a member or withdrew consent since the call
    /// began (`consent_withdrawn`).
    Refused(Denial),
}

impl StorageChange {
    fn bucket(&self) -> KvBucket<'_> {
        KvBucket { tenant: &self.tenant, plugin: &self.plugin, person: self.person.as_deref() }
    }
}

/// Plugin storage.
#[async_trait]
pub trait Kv: Send + Sync + std::fmt::Debug {
    /// Every entry plugins stored about `person`, by plugin then key.
    async fn kv_person_entries(&self, tenant: &str, person: &str) -> StoreResult<Vec<KvEntry>>;
    /// Reads a key.
    async fn kv_get(&self, bucket: KvBucket<'_>, key: &str) -> StoreResult<Option<Vec<u8>>>;
    /// Keys starting with `prefix`, in byte order, at most `limit`.
    async fn kv_list(&self, bucket: KvBucket<'_>, prefix: &str, limit: u32) -> StoreResult<Vec<String>>;
}

fn person_key<'a>(bucket: &KvBucket<'a>) -> &'a str {
    bucket.person.unwrap_or("")
}

#[async_trait]
impl Kv for SqlStore {
    async fn kv_person_entries(&self, tenant: &str, person: &str) -> StoreResult<Vec<KvEntry>> {
        let rows = sqlx::query(
            "SELECT plugin, key, value, updated_at FROM plugin_kv WHERE tenant = $1 AND person = $2 ORDER BY plugin, key",
        )
        .bind(tenant)
        .bind(person)
        .fetch_all(&self.pool)
        .await?;
        Ok(rows
            .iter()
            .map(|r| KvEntry { plugin: r.get(0), key: r.get(1), value: r.get(2), updated_at_ms: r.get(3) })
            .collect())
    }

    async fn kv_get(&self, bucket: KvBucket<'_>, key: &str) -> StoreResult<Option<Vec<u8>>> {
        let row =
            sqlx::query("SELECT value FROM plugin_kv WHERE tenant = $1 AND plugin = $2 AND person = $3 AND key = $4")
                .bind(bucket.tenant)
                .bind(bucket.plugin)
                .bind(person_key(&bucket))
                .bind(key)
                .fetch_optional(&self.pool)
                .await?;
        Ok(row.map(|r| r.get(0)))
    }

    async fn kv_list(&self, bucket: KvBucket<'_>, prefix: &str, limit: u32) -> StoreResult<Vec<String>> {
        // Range scan on the primary key: [prefix, prefix + U+10FFFF) covers
        // every key with the prefix (keys compare bytewise on both engines).
        let upper = format!("{prefix}\u{10FFFF}");
        let rows = sqlx::query(
            "SELECT key FROM plugin_kv WHERE tenant = $1 AND plugin = $2 AND person = $3 AND key >= $4 AND key < $5 \
             ORDER BY key LIMIT $6",
        )
        .bind(bucket.tenant)
        .bind(bucket.plugin)
        .bind(person_key(&bucket))
        .bind(prefix)
        .bind(upper)
        .bind(i64::from(limit))
        .fetch_all(&self.pool)
        .await?;
        Ok(rows.into_iter().map(|r| r.get(0)).filter(|k: &String| k.starts_with(prefix)).collect())
    }
}

impl SqlStore {
    /// Applies `change` in `tx`, the transaction of its audit record. The
    /// rows that allow the write are read inside it, so an uninstall, a
    /// removal or a withdrawal that commits first is never undone.
    pub(super) async fn apply_storage_change(
        &self,
        tx: &mut Transaction<'_, Any>,
        change: &StorageChange,
    ) -> StoreResult<StorageOutcome> {
        let bucket = change.bucket();
        // The lock a withdrawal of this person's consents takes too.
        self.lock(tx, &format!("kv:{}/{}/{}", bucket.tenant, bucket.plugin, person_key(&bucket))).await?;
        if let Some(denial) = self.storage_refusal(tx, change).await? {
            return Ok(StorageOutcome::Refused(denial));
        }
        if let StorageOp::Notify { draft, now_ms, per_person_hour, per_plugin_hour } = &change.op {
            let person = person_key(&bucket);
            let limits = [(per_person_hour, "member", person), (per_plugin_hour, "plugin", bucket.plugin)];
            return self.put_notification(tx, change, draft, *now_ms, limits).await;
        }
        let StorageOp::Set { value, quota_bytes, now_ms } = &change.op else {
            let done =
                sqlx::query("DELETE FROM plugin_kv WHERE tenant = $1 AND plugin = $2 AND person = $3 AND key = $4")
                    .bind(bucket.tenant)
                    .bind(bucket.plugin)
                    .bind(person_key(&bucket))
                    .bind(&change.key)
                    .execute(&mut **tx)
                    .await?;
            return Ok(StorageOutcome::Deleted(count(&done) > 0));
        };
        let used: i64 = sqlx::query_scalar(
            "SELECT CAST(COALESCE(SUM(octet_length(key) + octet_length(value)), 0) AS BIGINT) FROM plugin_kv \
             WHERE tenant = $1 AND plugin = $2 AND person = $3 AND key <> $4",
        )
        .bind(bucket.tenant)
        .bind(bucket.plugin)
        .bind(person_key(&bucket))
        .bind(&change.key)
        .fetch_one(&mut **tx)
        .await?;
        let used = u64::try_from(used).map_err(corrupt)?;
        if used + (change.key.len() + value.len()) as u64 > *quota_bytes {
            return Ok(StorageOutcome::OverQuota(QuotaExceeded { limit_bytes: *quota_bytes, used_bytes: used }));
        }
        sqlx::query(
            "INSERT INTO plugin_kv (tenant, plugin, person, key, value, updated_at) VALUES ($1, $2, $3, $4, $5, $6) \
             ON CONFLICT (tenant, plugin, person, key) DO UPDATE SET value = excluded.value, updated_at = excluded.updated_at",
        )
        .bind(bucket.tenant)
        .bind(bucket.plugin)
        .bind(person_key(&bucket))
        .bind(&change.key)
        .bind(value.as_slice())
        .bind(*now_ms)
        .execute(&mut **tx)
        .await?;
        Ok(StorageOutcome::Set)
    }

    /// Why `change` may no longer be applied, if it may not: the plugin was
    /// uninstalled, the person removed, or (a person bucket) one of the
    /// consents the call began with withdrawn or given anew since.
    async fn storage_refusal(
        &self,
        tx: &mut Transaction<'_, Any>,
        change: &StorageChange,
    ) -> StoreResult<Option<Denial>> {
        let person = change.person.as_deref();
        match self.missing_installation_or_member(tx, &change.tenant, &change.plugin, person).await? {
            Some(Missing::Installation) => return Ok(Some(Denial::NotGranted)),
            Some(Missing::Member) => return Ok(Some(Denial::ConsentWithdrawn)),
            None => {}
        }
        let Some(person) = person else { return Ok(None) };
        let rows = sqlx::query(
            "SELECT scope, granted_at, withdrawn_at FROM consents WHERE tenant = $1 AND member = $2 AND plugin = $3",
        )
        .bind(&change.tenant)
        .bind(person)
        .bind(&change.plugin)
        .fetch_all(&mut **tx)
        .await?;
        for row in &rows {
            let scope: crate::scope::Scope = row.get::<&str, _>(0).parse().map_err(corrupt)?;
            let (granted_at, withdrawn_at): (i64, Option<i64>) = (row.get(1), row.get(2));
            let Some(seen) = change.consents_seen.get(scope) else { continue };
            if seen.withdrawn_at_ms.is_none() && (withdrawn_at.is_some() || granted_at != seen.granted_at_ms) {
                return Ok(Some(Denial::ConsentWithdrawn));
            }
        }
        Ok(None)
    }
}
