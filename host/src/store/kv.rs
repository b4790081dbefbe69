//! Plugin storage: a key-value bucket per plugin and tenant, and one per
//! person who uses it.

use async_trait::async_trait;
use sqlx::Row;

use super::StoreResult;
use super::backend::{SqlStore, corrupt, count};

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

/// Plugin storage.
#[async_trait]
pub trait Kv: Send + Sync + std::fmt::Debug {
    /// Every entry plugins stored about `person`, by plugin then key.
    async fn kv_person_entries(&self, tenant: &str, person: &str) -> StoreResult<Vec<KvEntry>>;
    /// Reads a key.
    async fn kv_get(&self, bucket: KvBucket<'_>, key: &str) -> StoreResult<Option<Vec<u8>>>;
    /// Writes a key unless the bucket would exceed `quota_bytes` (keys plus
    /// values). Not found when the plugin is no longer installed or the
    /// person no longer a member.
    async fn kv_set(
        &self,
        bucket: KvBucket<'_>,
        key: &str,
        value: &[u8],
        quota_bytes: u64,
        now_ms: i64,
    ) -> StoreResult<Result<(), QuotaExceeded>>;
    /// Deletes a key; true when it existed.
    async fn kv_delete(&self, bucket: KvBucket<'_>, key: &str) -> StoreResult<bool>;
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

    async fn kv_set(
        &self,
        bucket: KvBucket<'_>,
        key: &str,
        value: &[u8],
        quota_bytes: u64,
        now_ms: i64,
    ) -> StoreResult<Result<(), QuotaExceeded>> {
        let mut tx = self.begin().await?;
        self.lock(&mut tx, &format!("kv:{}/{}/{}", bucket.tenant, bucket.plugin, person_key(&bucket))).await?;
        // An uninstall or a member's removal that commits while a call runs
        // must not be undone by the call's later writes.
        self.require_installed_member(&mut tx, bucket.tenant, bucket.plugin, bucket.person).await?;
        let used: i64 = sqlx::query_scalar(
            "SELECT CAST(COALESCE(SUM(octet_length(key) + octet_length(value)), 0) AS BIGINT) FROM plugin_kv \
             WHERE tenant = $1 AND plugin = $2 AND person = $3 AND key <> $4",
        )
        .bind(bucket.tenant)
        .bind(bucket.plugin)
        .bind(person_key(&bucket))
        .bind(key)
        .fetch_one(&mut *tx)
        .await?;
        let used = u64::try_from(used).map_err(corrupt)?;
        if used + (key.len() + value.len()) as u64 > quota_bytes {
            return Ok(Err(QuotaExceeded { limit_bytes: quota_bytes, used_bytes: used }));
        }
        sqlx::query(
            "INSERT INTO plugin_kv (tenant, plugin, person, key, value, updated_at) VALUES ($1, $2, $3, $4, $5, $6) \
             ON CONFLICT (tenant, plugin, person, key) DO UPDATE SET value = excluded.value, updated_at = excluded.updated_at",
        )
        .bind(bucket.tenant)
        .bind(bucket.plugin)
        .bind(person_key(&bucket))
        .bind(key)
        .bind(value)
        .bind(now_ms)
        .execute(&mut *tx)
        .await?;
        tx.commit().await?;
        Ok(Ok(()))
    }

    async fn kv_delete(&self, bucket: KvBucket<'_>, key: &str) -> StoreResult<bool> {
        let done = sqlx::query("DELETE FROM plugin_kv WHERE tenant = $1 AND plugin = $2 AND person = $3 AND key = $4")
            .bind(bucket.tenant)
            .bind(bucket.plugin)
            .bind(person_key(&bucket))
            .bind(key)
            .execute(&self.pool)
            .await?;
        Ok(count(&done) > 0)
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
