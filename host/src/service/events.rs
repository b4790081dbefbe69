//! Events: accepted from the platform (and made by the host), delivered to
//! the plugins that subscribed, at least once. The outbox is the store's
//! (`store/events.rs`); here a worker claims due deliveries, runs each like
//! a request (the same admission shares, limits and deadline; with the
//! subject's consents, or about nobody with capabilities only), audits it
//! and settles it: done, retried on the backoff schedule, or a dead letter
//! an app admin may replay.

use std::sync::Arc;

use serde::Deserialize;

use super::{Actor, ServiceError, ServiceResult, Workbench};
use crate::gate;
use crate::model::audit::{Action, AuditEvent, Outcome};
use crate::model::events::{self, DeliveryState, EventKind};
use crate::model::installation::InstallationState;
use crate::model::manifest::Manifest;
use crate::model::text::Shown;
use crate::runtime::admission::CallKey;
use crate::runtime::{CallContext, CallError, Entry};
use crate::store::{Accepted, Claimed, DeliveryView, Finish, NewEvent};

/// One event as the platform sends it.
#[derive(Debug, Clone, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct PlatformEvent {
    /// Its id, unique in the tenant: 1 to 128 characters of letters,
    /// digits and `._:-`. Sent again, it is accepted once.
    pub id: String,
    /// What happened.
    #[schema(value_type = String, example = "approval.submitted")]
    pub kind: String,
    /// The member it is about (every platform kind names one).
    pub subject: String,
    /// When it happened, ms since the epoch (default: when accepted).
    #[serde(default)]
    pub time_ms: Option<i64>,
    /// Its details, by kind: see the schemas `ApprovalSubmitted`,
    /// `ApprovalDecided`, `CustomerAssigned`, `MemberChanged`.
    #[schema(value_type = Object)]
    pub payload: serde_json::Value,
}

/// The most deliveries listed at once.
const LIST_LIMIT: u32 = 200;

impl Workbench {
    /// Accepts the platform's `events` for `tenant` in one transaction:
    /// each checked first (an unknown kind, a payload that does not match
    /// its kind's schema, a subject who is not a member: 422 naming the
    /// event, and nothing is accepted).
    pub async fn accept_events(&self, tenant: &str, sent: Vec<PlatformEvent>) -> ServiceResult<Vec<Accepted>> {
        if sent.is_empty() || sent.len() > events::MAX_BATCH {
            return Err(ServiceError::BadRequest(format!("send 1 to {} events at once", events::MAX_BATCH)));
        }
        let now = crate::now_ms();
        let mut checked = Vec::with_capacity(sent.len());
        for (index, event) in sent.into_iter().enumerate() {
            let at = |problem: String| ServiceError::BadRequest(format!("events[{index}] ({}): {problem}", event.id));
            if !events::valid_event_id(&event.id) {
                return Err(at("the id must be 1 to 128 characters of letters, digits and ._:-".into()));
            }
            if event.id.starts_with("host:") || event.id.starts_with("schedule:") {
                return Err(at("ids starting with host: or schedule: are the host's own".into()));
            }
            let kind = match EventKind::parse(&event.kind) {
                Some(kind) if kind.from_platform() => kind,
                _ => {
                    let known: Vec<_> =
                        EventKind::ALL.iter().filter(|k| k.from_platform()).map(|k| k.as_str()).collect();
                    return Err(at(format!("unknown kind {:?}; the platform sends {}", event.kind, known.join(", "))));
                }
            };
            let payload = events::check_payload(kind, &event.payload).map_err(|p| at(format!("payload: {p}")))?;
            // A member who left is gone from the directory already.
            if kind != EventKind::MemberLeft && self.store.member(tenant, &event.subject).await?.is_none() {
                return Err(at("its subject is not a member of this tenant".into()));
            }
            checked.push(NewEvent {
                id: event.id,
                kind,
                subject: Some(event.subject),
                occurred_at_ms: event.time_ms.unwrap_or(now),
                payload,
                plugin: None,
                source: "platform",
            });
        }
        let accepted = self.store.accept_events(tenant, &checked, now).await?;
        let new = accepted.iter().filter(|a| !a.duplicate).count();
        metrics::counter!("workbench_events_accepted_total").increment(new as u64);
        if accepted.iter().any(|a| a.deliveries > 0) {
            self.deliveries_due.notify_one();
        }
        Ok(accepted)
    }

    /// Tells `plugin` in `tenant` what the host did to it (installed,
    /// upgraded), when it subscribed; a failure is logged, never the admin's.
    pub(crate) async fn host_event(&self, tenant: &str, plugin: &str, kind: EventKind, payload: serde_json::Value) {
        match self.store.installation(tenant, plugin).await {
            Ok(Some(installation)) if installation.subscriptions.iter().any(|s| s == kind.as_str()) => {}
            Ok(_) => return,
            Err(error) => {
                tracing::error!(%tenant, plugin, %kind, %error, "a host event was not accepted");
                return;
            }
        }
        let now = crate::now_ms();
        let event = NewEvent {
            id: format!("host:{}", uuid::Uuid::now_v7()),
            kind,
            subject: None,
            occurred_at_ms: now,
            payload: payload.to_string(),
            plugin: Some(plugin.to_owned()),
            source: "host",
        };
        match self.store.accept_events(tenant, &[event], now).await {
            Ok(accepted) if accepted.iter().any(|a| a.deliveries > 0) => self.deliveries_due.notify_one(),
            Ok(_) => {}
            Err(error) => tracing::error!(%tenant, plugin, %kind, %error, "a host event was not accepted"),
        }
    }

    /// The tenant's deliveries, dead letters first when asked for.
    pub async fn deliveries(&self, tenant: &str, state: Option<DeliveryState>) -> ServiceResult<Vec<DeliveryView>> {
        Ok(self.store.deliveries(tenant, state, LIST_LIMIT).await?)
    }

    /// Makes dead delivery `id` due again now (audited `event.replay`).
    pub async fn replay_delivery(&self, tenant: &str, admin: &str, id: &str) -> ServiceResult<()> {
        let record = self.record(tenant, Actor::Admin(admin), None, Action::EventReplay, format!("delivery {id}"));
        match self.store.replay_delivery(tenant, id, record).await? {
            Some(_) => {
                self.deliveries_due.notify_one();
                Ok(())
            }
            None => Err(ServiceError::NotFound(format!("no dead delivery {id} in this workbench"))),
        }
    }

    /// Claims and runs due deliveries until none is due; how many ran.
    pub async fn deliver_due(self: &Arc<Self>) -> ServiceResult<usize> {
        let mut ran = 0;
        loop {
            let now = crate::now_ms();
            let lease = i64::try_from(self.events.lease_ms).unwrap_or(i64::MAX / 2);
            let claimed = self.store.claim_deliveries(&self.replica, now, lease, self.events.claim_batch).await?;
            if claimed.is_empty() {
                return Ok(ran);
            }
            ran += claimed.len();
            let runs: Vec<_> = claimed
                .into_iter()
                .map(|claim| {
                    let workbench = Arc::clone(self);
                    tokio::spawn(async move { workbench.deliver(claim).await })
                })
                .collect();
            for run in runs {
                match run.await {
                    Ok(Ok(())) => {}
                    Ok(Err(error)) => {
                        tracing::error!(%error, "a delivery could not be settled; its lease will end and it runs again");
                    }
                    Err(error) => {
                        tracing::error!(%error, "a delivery's task ended without settling it; its lease will end");
                    }
                }
            }
        }
    }

    /// Runs the worker until the process ends: woken by an accept, else
    /// every `poll_ms` (retries that fall due, other replicas' accepts,
    /// claims whose lease ended).
    pub fn spawn_deliveries(self: &Arc<Self>) -> tokio::task::JoinHandle<()> {
        let workbench = Arc::downgrade(self);
        let (due, poll) =
            (Arc::clone(&self.deliveries_due), std::time::Duration::from_millis(self.events.poll_ms.max(10)));
        tokio::spawn(async move {
            loop {
                let Some(workbench) = workbench.upgrade() else { return };
                if let Err(error) = workbench.deliver_due().await {
                    tracing::error!(%error, "delivering events failed; trying again");
                }
                drop(workbench);
                let _ = tokio::time::timeout(poll, due.notified()).await;
            }
        })
    }

    /// One attempt of one delivery, audited, then settled.
    async fn deliver(&self, claim: Claimed) -> ServiceResult<()> {
        // A delivery whose attempts ended without a word (a replica killed
        // or a task lost mid-attempt, again and again) stops at the limit too.
        let out_of_attempts = claim.attempt as usize > self.events.retry_secs.len() + 1;
        let attempted = match out_of_attempts {
            true => Err(Attempt::Failed("its attempts ended without an outcome".into())),
            false => self.attempt(&claim).await,
        };
        let finish = match attempted {
            Ok(()) => Finish::Done,
            Err(Attempt::Busy) => Finish::Release { at_ms: crate::now_ms() + 1_000 },
            Err(Attempt::Failed(mut error)) => {
                error.truncate(error.floor_char_boundary(500));
                let retry = &self.events.retry_secs;
                match retry.get(claim.attempt as usize - 1) {
                    Some(secs) if claim.attempt as usize <= retry.len() => Finish::Retry {
                        at_ms: crate::now_ms() + i64::try_from(*secs).unwrap_or(i64::MAX / 4_000) * 1_000,
                        error,
                    },
                    _ => Finish::Dead { error },
                }
            }
        };
        let label = match &finish {
            Finish::Done => "done",
            Finish::Retry { .. } => "retry",
            Finish::Dead { .. } => "dead",
            Finish::Release { .. } => "busy",
        };
        metrics::counter!("workbench_event_deliveries_total", "outcome" => label).increment(1);
        if !self.store.finish_delivery(&claim, &finish, crate::now_ms()).await? {
            tracing::warn!(delivery = %claim.id, "a delivery's lease ended before it was settled; another replica has it");
        }
        Ok(())
    }
}

/// Why an attempt did not end in the plugin's success.
enum Attempt {
    /// No slot within the plugin's admission shares: not an attempt.
    Busy,
    /// The plugin failed (an error, a trap, the deadline) or could not run.
    Failed(String),
}

impl Workbench {
    /// Runs `claim`'s event in its plugin: about its subject while they are
    /// a member in the plugin's range (with their consents), else about
    /// nobody (capabilities only). The call's records and the delivery's own
    /// are durable before the attempt counts as done.
    async fn attempt(&self, claim: &Claimed) -> Result<(), Attempt> {
        let failed = |error: &dyn std::fmt::Display| Attempt::Failed(error.to_string());
        let (tenant, plugin, event) = (&claim.tenant, &claim.plugin, &claim.event);
        let changes = self.store.tenant_changes(tenant);
        let installation = self.store.installation(tenant, plugin).await.map_err(|e| failed(&e))?;
        let subject = event.subject.as_deref();
        // Not delivered, with its record (under the installed version, so
        // the audit log's filter by plugin finds it): uninstalled or
        // disabled since it was accepted, or no longer subscribed to it.
        let skip = |reason: &str| self.delivery_record(claim, subject, "", Outcome::Denied, reason.to_owned());
        let installation = match installation {
            Some(i) if i.state != InstallationState::Enabled => Err(("not_installed", Some(i.version))),
            Some(i) if !i.subscriptions.contains(&crate::store::subscription_name(&event.kind, &event.payload)) => {
                Err(("not_subscribed", Some(i.version)))
            }
            Some(i) => Ok(i),
            None => Err(("not_installed", None)),
        };
        let installation = match installation {
            Ok(installation) => installation,
            Err((reason, version)) => {
                let mut record = skip(reason);
                if let Some(version) = version {
                    record.actor = format!("plugin:{plugin}@{version}");
                }
                self.audit.append(vec![record]).await.map_err(|e| failed(&e))?;
                return Ok(());
            }
        };
        let loaded = self.load_version(plugin, &installation.version).await.map_err(|e| failed(&e))?;
        // About its subject while they are a member in the plugin's range
        // who consented to it (every required scope, and something): their
        // consents, as if they had opened it. A member outside the range is
        // not told about; one who never consented is no person to the
        // plugin (no person bucket to keep a pseudonym in); one who left is
        // nobody.
        let mut about = None;
        if let Some(member) = subject {
            let context = self.store.invocation_context(tenant, member, plugin).await.map_err(|e| failed(&e))?;
            if let Some(profile) = context.profile {
                let Some(usable) = context.installation.filter(|i| i.usable_by(member, &[])) else {
                    let mut record = skip("out_of_range");
                    record.actor = loaded.actor.clone();
                    self.audit.append(vec![record]).await.map_err(|e| failed(&e))?;
                    return Ok(());
                };
                let policy = loaded.manifest.policy(usable.granted, &usable.egress);
                let now = crate::now_ms();
                let consented = gate::missing_required(&policy, &context.consents, now).is_empty()
                    && crate::scope::Scope::ALL
                        .into_iter()
                        .any(|s| s.is_personal() && gate::decide(s, &policy, &context.consents, now).is_ok());
                if consented {
                    about = Some((member.to_owned(), profile, context.consents, usable));
                }
            }
        }
        let nobody = about.is_none();
        let (member, profile, consents, installation) = match about {
            Some((member, profile, consents, usable)) => (member, Some(profile), consents, usable),
            None => (String::new(), None, Arc::default(), Arc::new(installation)),
        };
        let invocation = uuid::Uuid::now_v7().to_string();
        let call_actor = loaded.actor.clone();
        let call = CallContext {
            tenant: tenant.clone(),
            member: member.clone(),
            manifest: Arc::clone(&loaded.manifest),
            actor: loaded.actor.clone(),
            policy: Arc::new(loaded.manifest.policy(installation.granted, &installation.egress)),
            consents,
            invocation: invocation.clone(),
            now_ms: crate::now_ms(),
            profile,
            egress: installation.egress.clone().into(),
            config: Arc::clone(&installation.config),
            changes,
            nobody,
        };
        let permit = self.admission.admit(CallKey::new(tenant, plugin, &member)).await.map_err(|_| Attempt::Busy)?;
        let entry = Entry::Event(crate::runtime::EventCall {
            // The delivery's id: the same on every attempt and replay, one per
            // plugin, and nothing of the event's own id (which may name a member).
            id: claim.id.clone(),
            kind: event.kind.clone(),
            time_ms: u64::try_from(event.occurred_at_ms).unwrap_or(0),
            person: !nobody,
            payload: event.payload.clone(),
        });
        let ran = std::time::Instant::now();
        let mut outcome = self.runtime.call(&loaded.pre, call, self.services.clone(), entry).await;
        drop(permit);
        self.count_run(super::runs::Run {
            tenant,
            plugin,
            version: &installation.version,
            kind: super::runs::run_kind(&outcome.result),
            took: ran.elapsed(),
            egress_failures: super::runs::egress_failures(
                outcome.audit.iter().chain(outcome.written.iter().map(|r| &r.event)),
            ),
        });
        let (result, reason) = match &outcome.result {
            Ok(_) => (Outcome::Allowed, "handled".to_owned()),
            Err(CallError::Plugin(error)) => {
                (Outcome::Failed, format!("plugin_error: {}", crate::runtime::describe(error)))
            }
            Err(CallError::Trap { kind, message }) => (Outcome::Trapped, format!("{}: {message}", kind.code())),
        };
        let mut records = std::mem::take(&mut outcome.audit);
        let how = if nobody && subject.is_some() { format!("{reason} (about nobody)") } else { reason };
        let mut record = self.delivery_record(claim, subject, &invocation, result, how);
        // Under the version that ran, as its own records are.
        record.actor = call_actor;
        records.push(record);
        let written = self.audit.append(records).await;
        let limits = self.runtime.limits();
        let until =
            tokio::time::Instant::now() + std::time::Duration::from_millis(limits.deadline_ms) + self.audit_grace;
        let settled = outcome.settle(until).await;
        written.and(settled).map_err(|e| Attempt::Failed(format!("the delivery's records were not written: {e}")))?;
        outcome.result.map(|_| ()).map_err(|e| failed(&e))
    }

    /// The record of one attempt: which event, to whom, how it ended.
    fn delivery_record(
        &self,
        claim: &Claimed,
        subject: Option<&str>,
        invocation: &str,
        outcome: Outcome,
        how: String,
    ) -> AuditEvent {
        let mut how = how;
        how.truncate(how.floor_char_boundary(500));
        AuditEvent {
            subject: subject.map(str::to_owned),
            reason: Some(format!("event {} ({}) attempt {}: {how}", claim.event.id, claim.event.kind, claim.attempt)),
            invocation: (!invocation.is_empty()).then(|| invocation.to_owned()),
            ..AuditEvent::new(&claim.tenant, format!("plugin:{}", claim.plugin), Action::EventDeliver, outcome)
        }
    }
}

/// One event or schedule a plugin version declares, as responses show it.
#[derive(Debug, Clone, serde::Serialize, utoipa::ToSchema)]
pub struct DeclaredSubscription {
    /// `approval.submitted`, or `schedule:NAME`.
    pub name: String,
    /// A schedule's cron expression.
    pub cron: Option<String>,
    /// A schedule's time zone.
    pub timezone: Option<String>,
    /// A schedule's ticks are about each member in range (`member`) or nobody (`plugin`).
    pub per: Option<String>,
    /// Why (in the language of the response's `lang`).
    #[schema(value_type = String)]
    pub purpose: Shown,
}

/// What `manifest` subscribes to, as responses show it.
pub(crate) fn declared_subscriptions(manifest: &Manifest) -> Vec<DeclaredSubscription> {
    let events = manifest.events.iter().map(|e| DeclaredSubscription {
        name: e.kind.as_str().to_owned(),
        cron: None,
        timezone: None,
        per: None,
        purpose: Shown::new(&e.purpose),
    });
    let schedules = manifest.schedules.iter().map(|s| DeclaredSubscription {
        name: format!("schedule:{}", s.name),
        cron: Some(s.cron.clone()),
        timezone: Some(s.timezone.clone()),
        per: Some(match s.per {
            events::SchedulePer::Plugin => "plugin".to_owned(),
            events::SchedulePer::Member => "member".to_owned(),
        }),
        purpose: Shown::new(&s.purpose),
    });
    events.chain(schedules).collect()
}
