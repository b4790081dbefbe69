//! Events and their deliveries: the outbox. An accepted event and one
//! delivery per subscribed installation are written in one transaction
//! (an event id is accepted once per tenant); replicas claim due
//! deliveries under a lease (`FOR UPDATE SKIP LOCKED` on PostgreSQL), and
//! a claim whose replica died is taken over once its lease ends. Only the
//! holder of a claim may finish it.

use async_trait::async_trait;
use sqlx::Row;

use super::backend::{SqlStore, count, from_json};
use super::dialect::Backend;
use super::{ChangeRecord, StoreResult};
use crate::model::audit::AuditRecord;
use crate::model::events::{DeliveryState, EventKind};

/// An event to accept.
#[derive(Debug, Clone)]
pub struct NewEvent {
    /// Its id, unique per tenant.
    pub id: String,
    /// What happened.
    pub kind: EventKind,
    /// The member it is about.
    pub subject: Option<String>,
    /// When it happened, ms since the epoch.
    pub occurred_at_ms: i64,
    /// Its payload, JSON.
    pub payload: String,
    /// Only this plugin is told (the host's events about one plugin);
    /// `None`: every installation subscribed to the kind.
    pub plugin: Option<String>,
    /// Where it came from: `platform` or `host`.
    pub source: &'static str,
}

/// What became of one accepted event.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, utoipa::ToSchema)]
pub struct Accepted {
    /// The event's id.
    pub id: String,
    /// It had been accepted before: nothing was added.
    pub duplicate: bool,
    /// How many plugins it goes to (0 for a duplicate).
    pub deliveries: u32,
}

/// An event as stored and given to plugins.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StoredEvent {
    /// Its id.
    pub id: String,
    /// Its kind's name.
    pub kind: String,
    /// The member it is about.
    pub subject: Option<String>,
    /// When it happened, ms since the epoch.
    pub occurred_at_ms: i64,
    /// Its payload, JSON.
    pub payload: String,
}

/// A delivery claimed by this replica.
#[derive(Debug, Clone)]
pub struct Claimed {
    /// The delivery's id.
    pub id: String,
    /// Tenant.
    pub tenant: String,
    /// The plugin it goes to.
    pub plugin: String,
    /// The event.
    pub event: StoredEvent,
    /// This attempt's number (1 for the first).
    pub attempt: u32,
    /// The claim: who holds it and until when (ms).
    pub claimed_by: String,
    /// The lease's end.
    pub lease_until_ms: i64,
}

/// How an attempt ended.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Finish {
    /// The plugin handled it.
    Done,
    /// It failed: tried again at `at_ms`.
    Retry {
        /// When.
        at_ms: i64,
        /// Why it failed.
        error: String,
    },
    /// It failed its last attempt.
    Dead {
        /// Why it failed.
        error: String,
    },
    /// Not attempted after all (no slot was free): tried again at `at_ms`,
    /// without counting an attempt.
    Release {
        /// When.
        at_ms: i64,
    },
}

/// A delivery as the app admin sees it.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, utoipa::ToSchema)]
pub struct DeliveryView {
    /// The delivery's id.
    pub id: String,
    /// The plugin it goes to.
    pub plugin: String,
    /// The event's id.
    pub event_id: String,
    /// The event's kind.
    pub kind: String,
    /// Where it stands.
    pub state: DeliveryState,
    /// Attempts made.
    pub attempts: u32,
    /// The next attempt (pending), ms since the epoch.
    pub next_at_ms: i64,
    /// Why the last attempt failed.
    pub last_error: Option<String>,
    /// When it last changed, ms since the epoch.
    pub updated_at_ms: i64,
}

/// The outbox.
#[async_trait]
pub trait Events: Send + Sync + std::fmt::Debug {
    /// Accepts `events` of `tenant` in one transaction: each new id with a
    /// delivery to every enabled installation subscribed to its kind (or to
    /// its one plugin); a known id is a duplicate and adds nothing.
    async fn accept_events(&self, tenant: &str, events: &[NewEvent], now_ms: i64) -> StoreResult<Vec<Accepted>>;
    /// Claims at most `limit` due deliveries for `replica` until `now_ms + lease_ms`.
    async fn claim_deliveries(
        &self,
        replica: &str,
        now_ms: i64,
        lease_ms: i64,
        limit: u32,
    ) -> StoreResult<Vec<Claimed>>;
    /// Ends an attempt; false when the claim was lost (its lease ended and
    /// another replica took it over), and nothing was changed.
    async fn finish_delivery(&self, claimed: &Claimed, finish: &Finish, now_ms: i64) -> StoreResult<bool>;
    /// The tenant's deliveries in `state` (all when `None`), newest first.
    async fn deliveries(
        &self,
        tenant: &str,
        state: Option<DeliveryState>,
        limit: u32,
    ) -> StoreResult<Vec<DeliveryView>>;
    /// Makes a dead delivery due again now, with its record; `None` when
    /// there is no dead delivery `id` in the tenant.
    async fn replay_delivery(
        &self,
        tenant: &str,
        id: &str,
        record: ChangeRecord<'_>,
    ) -> StoreResult<Option<AuditRecord>>;
    /// Deletes at most `limit` of `tenant`'s settled deliveries (done or
    /// dead) last changed before `before_ms`, then at most `limit` of its
    /// events accepted before then that no delivery needs any more; how
    /// many of each.
    async fn purge_events(&self, tenant: &str, before_ms: i64, limit: u32) -> StoreResult<(u64, u64)>;
}

#[async_trait]
impl Events for SqlStore {
    async fn accept_events(&self, tenant: &str, events: &[NewEvent], now_ms: i64) -> StoreResult<Vec<Accepted>> {
        let mut tx = self.begin().await?;
        let rows =
            sqlx::query("SELECT plugin, subscriptions FROM installations WHERE tenant = $1 AND state = 'enabled'")
                .bind(tenant)
                .fetch_all(&mut *tx)
                .await?;
        let mut subscribed: Vec<(String, Vec<String>)> = Vec::with_capacity(rows.len());
        for row in &rows {
            subscribed.push((row.get(0), from_json(row.get::<&str, _>(1))?));
        }
        // In the order of their ids, so two batches holding the same ids in
        // another order cannot deadlock on PostgreSQL; answered in the order sent.
        let mut order: Vec<usize> = (0..events.len()).collect();
        order.sort_by(|a, b| events[*a].id.cmp(&events[*b].id));
        let mut accepted = vec![None; events.len()];
        for index in order {
            let event = &events[index];
            let inserted = sqlx::query(
                "INSERT INTO events (tenant, id, kind, subject, occurred_at, payload, source, accepted_at) \
                 VALUES ($1, $2, $3, $4, $5, $6, $7, $8) ON CONFLICT (tenant, id) DO NOTHING",
            )
            .bind(tenant)
            .bind(&event.id)
            .bind(event.kind.as_str())
            .bind(event.subject.as_deref())
            .bind(event.occurred_at_ms)
            .bind(&event.payload)
            .bind(event.source)
            .bind(now_ms)
            .execute(&mut *tx)
            .await?;
            if count(&inserted) == 0 {
                accepted[index] = Some(Accepted { id: event.id.clone(), duplicate: true, deliveries: 0 });
                continue;
            }
            let subscription = subscription_name(event.kind.as_str(), &event.payload);
            let mut deliveries = 0;
            for (plugin, subscriptions) in &subscribed {
                let to_it = event.plugin.as_ref().is_none_or(|p| p == plugin);
                if !to_it || !subscriptions.contains(&subscription) {
                    continue;
                }
                sqlx::query(
                    "INSERT INTO deliveries (id, tenant, event_id, plugin, state, attempts, next_at, updated_at) \
                     VALUES ($1, $2, $3, $4, 'pending', 0, $5, $5)",
                )
                .bind(uuid::Uuid::now_v7().to_string())
                .bind(tenant)
                .bind(&event.id)
                .bind(plugin)
                .bind(now_ms)
                .execute(&mut *tx)
                .await?;
                deliveries += 1;
            }
            accepted[index] = Some(Accepted { id: event.id.clone(), duplicate: false, deliveries });
        }
        tx.commit().await?;
        Ok(accepted.into_iter().flatten().collect())
    }

    async fn claim_deliveries(
        &self,
        replica: &str,
        now_ms: i64,
        lease_ms: i64,
        limit: u32,
    ) -> StoreResult<Vec<Claimed>> {
        let skip_locked = match self.backend {
            Backend::Postgres => " FOR UPDATE SKIP LOCKED",
            Backend::Sqlite => "",
        };
        let lease_until = now_ms + lease_ms;
        let claimed = sqlx::query(&format!(
            "UPDATE deliveries SET claimed_by = $1, lease_until = $2, attempts = attempts + 1 WHERE id IN \
             (SELECT id FROM deliveries WHERE state = 'pending' AND next_at <= $3 \
              AND (lease_until IS NULL OR lease_until <= $3) ORDER BY next_at LIMIT $4{skip_locked}) \
             RETURNING id, tenant, plugin, event_id, attempts"
        ))
        .bind(replica)
        .bind(lease_until)
        .bind(now_ms)
        .bind(i64::from(limit))
        .fetch_all(&self.pool)
        .await?;
        let mut out = Vec::with_capacity(claimed.len());
        for row in claimed {
            let (id, tenant, plugin, event_id): (String, String, String, String) =
                (row.get(0), row.get(1), row.get(2), row.get(3));
            let attempts: i64 = row.get(4);
            let event =
                sqlx::query("SELECT id, kind, subject, occurred_at, payload FROM events WHERE tenant = $1 AND id = $2")
                    .bind(&tenant)
                    .bind(&event_id)
                    .fetch_optional(&self.pool)
                    .await?;
            let Some(event) = event else {
                // The event is gone (with its subject's removal): nothing to deliver.
                sqlx::query("DELETE FROM deliveries WHERE id = $1").bind(&id).execute(&self.pool).await?;
                continue;
            };
            out.push(Claimed {
                id,
                tenant,
                plugin,
                event: StoredEvent {
                    id: event.get(0),
                    kind: event.get(1),
                    subject: event.get(2),
                    occurred_at_ms: event.get(3),
                    payload: event.get(4),
                },
                attempt: u32::try_from(attempts).unwrap_or(u32::MAX),
                claimed_by: replica.to_owned(),
                lease_until_ms: lease_until,
            });
        }
        Ok(out)
    }

    async fn finish_delivery(&self, claimed: &Claimed, finish: &Finish, now_ms: i64) -> StoreResult<bool> {
        let (state, next_at, error, uncount) = match finish {
            Finish::Done => (DeliveryState::Done, now_ms, None, 0),
            Finish::Retry { at_ms, error } => (DeliveryState::Pending, *at_ms, Some(error.as_str()), 0),
            Finish::Dead { error } => (DeliveryState::Dead, now_ms, Some(error.as_str()), 0),
            Finish::Release { at_ms } => (DeliveryState::Pending, *at_ms, None, 1),
        };
        let done = sqlx::query(
            "UPDATE deliveries SET state = $1, next_at = $2, last_error = COALESCE($3, last_error), \
             attempts = attempts - $4, claimed_by = NULL, lease_until = NULL, updated_at = $5 \
             WHERE id = $6 AND claimed_by = $7 AND lease_until = $8",
        )
        .bind(state.as_str())
        .bind(next_at)
        .bind(error)
        .bind(uncount)
        .bind(now_ms)
        .bind(&claimed.id)
        .bind(&claimed.claimed_by)
        .bind(claimed.lease_until_ms)
        .execute(&self.pool)
        .await?;
        Ok(count(&done) == 1)
    }

    async fn deliveries(
        &self,
        tenant: &str,
        state: Option<DeliveryState>,
        limit: u32,
    ) -> StoreResult<Vec<DeliveryView>> {
        let rows = sqlx::query(
            "SELECT d.id, d.plugin, d.event_id, e.kind, d.state, d.attempts, d.next_at, d.last_error, d.updated_at \
             FROM deliveries d JOIN events e ON e.tenant = d.tenant AND e.id = d.event_id \
             WHERE d.tenant = $1 AND ($2 IS NULL OR d.state = $2) ORDER BY d.updated_at DESC, d.id DESC LIMIT $3",
        )
        .bind(tenant)
        .bind(state.map(DeliveryState::as_str))
        .bind(i64::from(limit))
        .fetch_all(&self.pool)
        .await?;
        rows.iter()
            .map(|r| {
                let state = r.get::<&str, _>(4);
                Ok(DeliveryView {
                    id: r.get(0),
                    plugin: r.get(1),
                    event_id: r.get(2),
                    kind: r.get(3),
                    state: DeliveryState::parse(state)
                        .ok_or_else(|| super::StoreError::Corrupt(format!("delivery state {state:?}")))?,
                    attempts: u32::try_from(r.get::<i64, _>(5)).unwrap_or(0),
                    next_at_ms: r.get(6),
                    last_error: r.get(7),
                    updated_at_ms: r.get(8),
                })
            })
            .collect()
    }

    async fn replay_delivery(
        &self,
        tenant: &str,
        id: &str,
        record: ChangeRecord<'_>,
    ) -> StoreResult<Option<AuditRecord>> {
        let _changing = self.changing(tenant);
        let mut tx = self.begin_recorded(&record).await?;
        let done = sqlx::query(
            "UPDATE deliveries SET state = 'pending', attempts = 0, next_at = $1, updated_at = $1 \
             WHERE tenant = $2 AND id = $3 AND state = 'dead'",
        )
        .bind(crate::now_ms())
        .bind(tenant)
        .bind(id)
        .execute(&mut *tx)
        .await?;
        if count(&done) == 0 {
            return Ok(None);
        }
        Ok(Some(self.commit_recorded(tx, record).await?))
    }

    async fn purge_events(&self, tenant: &str, before_ms: i64, limit: u32) -> StoreResult<(u64, u64)> {
        let mut tx = self.begin().await?;
        let deliveries = sqlx::query(
            "DELETE FROM deliveries WHERE id IN (SELECT id FROM deliveries WHERE tenant = $1 \
             AND state IN ('done', 'dead') AND updated_at < $2 LIMIT $3)",
        )
        .bind(tenant)
        .bind(before_ms)
        .bind(i64::from(limit))
        .execute(&mut *tx)
        .await?;
        let events = sqlx::query(
            "DELETE FROM events WHERE tenant = $1 AND id IN (SELECT e.id FROM events e WHERE e.tenant = $1 \
             AND e.accepted_at < $2 AND NOT EXISTS (SELECT 1 FROM deliveries d WHERE d.tenant = e.tenant \
             AND d.event_id = e.id) LIMIT $3)",
        )
        .bind(tenant)
        .bind(before_ms)
        .bind(i64::from(limit))
        .execute(&mut *tx)
        .await?;
        tx.commit().await?;
        Ok((count(&deliveries), count(&events)))
    }
}

/// The subscription an event of `kind` with `payload` needs:
/// `approval.submitted`, or for a tick `schedule:NAME` (its payload names
/// the schedule).
pub fn subscription_name(kind: &str, payload: &str) -> String {
    if kind == EventKind::Schedule.as_str() {
        let name = serde_json::from_str::<serde_json::Value>(payload)
            .ok()
            .and_then(|p| p["schedule"].as_str().map(str::to_owned))
            .unwrap_or_default();
        return format!("schedule:{name}");
    }
    kind.to_owned()
}
