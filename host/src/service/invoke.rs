//! Members: run a plugin. The response is released only after the call's
//! audit records are durable.

use std::sync::Arc;
use std::time::Instant;

use super::runs::{Run, egress_failures, run_kind};
use super::{ServiceError, ServiceResult, Workbench, consent};
use crate::gate;
use crate::model::audit::{Action, AuditEvent, AuditRecord, Outcome};
use crate::model::runs::RunKind;
use crate::runtime::admission::{self, Refusal};
use crate::runtime::{CallContext, CallError, LogLine, Request, Response};

/// A successful invocation.
#[derive(Debug)]
pub struct Invoked {
    /// Invocation id.
    pub invocation: String,
    /// The plugin's response.
    pub response: Response,
    /// The durable audit records of the call.
    pub audit: Vec<AuditRecord>,
    /// Log lines the plugin wrote.
    pub logs: Vec<LogLine>,
}

use crate::model::directory::session_open;

impl Workbench {
    /// Runs `plugin` for `member` of `tenant`, as the host itself asks it
    /// (no token: the developer's `plugin run`, benchmarks).
    pub async fn invoke(&self, tenant: &str, member: &str, plugin: &str, request: Request) -> ServiceResult<Invoked> {
        self.invoke_signed_in(tenant, member, None, plugin, request).await
    }

    /// Runs `plugin` for `member` of `tenant`, whose token was issued at
    /// `issued_at` (seconds): a session ended since is refused (401
    /// `session_ended`) from the same read that finds the member.
    pub async fn invoke_signed_in(
        &self,
        tenant: &str,
        member: &str,
        issued_at: Option<u64>,
        plugin: &str,
        request: Request,
    ) -> ServiceResult<Invoked> {
        let started = Instant::now();
        // Rates first: a flood is turned away before it costs a query.
        if let Err(refusal) = self.admission.check_rate(tenant, member) {
            return Err(self.refuse(tenant, member, plugin, refusal).await);
        }
        // The tenant's changes seen before its context is read: a change that
        // ends after this reaches the call while it runs (see the gatekeeper).
        let changes = self.store.tenant_changes(tenant);
        // The directory, the installation and the consents in one round trip.
        let context = self.store.invocation_context(tenant, member, plugin).await?;
        let Some(profile) = context.profile else {
            return Err(ServiceError::not_a_member());
        };
        if issued_at.is_some_and(|iat| !session_open(context.sessions_ended_at_ms, iat)) {
            return Err(ServiceError::SessionEnded);
        }
        let installation = super::usable(context.installation, member, plugin)?;
        let loaded = self.load_version(plugin, &installation.version).await?;
        let consents = context.consents;
        let policy = loaded.manifest.policy(installation.granted, &installation.egress);
        let now = crate::now_ms();
        let invocation = uuid::Uuid::now_v7().to_string();
        let missing = gate::missing_required(&policy, &consents, now);
        if !missing.is_empty() {
            let names: Vec<_> = missing.iter().map(|(s, d)| format!("{s}:{}", d.code())).collect();
            let event = AuditEvent {
                subject: Some(member.to_owned()),
                reason: Some(format!("consent_required: {}", names.join(", "))),
                invocation: Some(invocation),
                ..AuditEvent::new(tenant, loaded.actor.clone(), Action::Invoke, Outcome::Denied)
            };
            self.audit.append(vec![event]).await?;
            metrics::counter!("workbench_invocations_total", "outcome" => "consent_required").increment(1);
            let disclosure = Box::new(consent::disclosure(&loaded, &installation, &consents, now));
            return Err(ServiceError::ConsentRequired { missing, disclosure });
        }
        let call = CallContext {
            tenant: tenant.to_owned(),
            member: member.to_owned(),
            manifest: Arc::clone(&loaded.manifest),
            actor: loaded.actor.clone(),
            policy: Arc::new(policy),
            consents,
            invocation: invocation.clone(),
            now_ms: now,
            profile: Some(profile),
            egress: installation.egress.clone().into(),
            config: Arc::clone(&installation.config),
            changes,
            nobody: false,
        };
        // A slot within the caller's shares, or a refusal after a short wait.
        let key = admission::CallKey::new(tenant, plugin, member);
        let permit = match self.admission.admit(key).await {
            Ok(permit) => permit,
            Err(refusal) => {
                let took = std::time::Duration::ZERO;
                let version = &installation.version;
                self.count_run(Run { tenant, plugin, version, kind: RunKind::Refused, took, egress_failures: 0 });
                return Err(self.refuse(tenant, member, plugin, refusal).await);
            }
        };
        // The call and its audit write run in their own task: a client that
        // disconnects or a request timeout cannot drop the records of what
        // the plugin already did. The answer waits for them until the
        // deadline plus `audit.durable_within_ms`, no longer; the task
        // goes on and logs what became of them.
        let (runtime, pre, services, writer) =
            (Arc::clone(&self.runtime), Arc::clone(&loaded.pre), self.services.clone(), self.audit.clone());
        // From here the call runs at most its deadline (plus a tick).
        let limits = self.runtime.limits();
        let answer_by = tokio::time::Instant::now()
            + std::time::Duration::from_millis(limits.deadline_ms + limits.epoch_tick_ms.max(1))
            + self.audit_grace;
        let detached = invocation.clone();
        let task = tokio::spawn(async move {
            let ran = Instant::now();
            let mut outcome = runtime.call(&pre, call, services, crate::runtime::Entry::Request(request)).await;
            let took = ran.elapsed();
            // The instance is gone: its slot is free before the audit write.
            drop(permit);
            let written = writer.append(std::mem::take(&mut outcome.audit)).await;
            // Changes the call was cut off waiting for were queued before the
            // records above, so their fate is known by now.
            let settled = outcome.settle(answer_by).await;
            // The call's records in order: those written with its changes, then the rest.
            let written = settled.and(written).map(|rest| {
                let mut all = std::mem::take(&mut outcome.written);
                all.extend(rest);
                // In the log's order (a request's record may have been written mid-call).
                all.sort_by_key(|record| record.seq);
                all
            });
            if let Err(error) = &written {
                tracing::error!(invocation = %detached, %error, "an invocation's records were not written; it was answered audit_unavailable");
            }
            (outcome, written, took)
        });
        let (outcome, written, took) = match tokio::time::timeout_at(answer_by, task).await {
            Ok(joined) => joined.map_err(|e| ServiceError::Internal(format!("invocation task: {e}")))?,
            Err(_) => {
                tracing::warn!(%invocation, "an invocation's records were not durable in time; answering audit_unavailable");
                metrics::counter!("workbench_invocations_total", "outcome" => "audit_late").increment(1);
                return Err(ServiceError::Audit(crate::audit::AuditError::Write(
                    "the call's records were not durable in time".into(),
                )));
            }
        };
        let audit = written?;
        self.count_run(Run {
            tenant,
            plugin,
            version: &installation.version,
            kind: run_kind(&outcome.result),
            took,
            egress_failures: egress_failures(audit.iter().map(|r| &r.event)),
        });
        let denials = audit.iter().filter(|r| r.event.outcome == Outcome::Denied).count();
        metrics::counter!("workbench_gate_denials_total").increment(denials as u64);
        metrics::histogram!("workbench_invocation_seconds").record(started.elapsed().as_secs_f64());
        match outcome.result {
            Ok(response) => {
                metrics::counter!("workbench_invocations_total", "outcome" => "ok").increment(1);
                tracing::debug!(%invocation, plugin, status = response.status, records = audit.len(), "invocation done");
                Ok(Invoked { invocation, response, audit, logs: outcome.logs })
            }
            Err(error) => {
                let label = match &error {
                    CallError::Plugin(_) => "plugin_error",
                    CallError::Trap { kind, .. } => {
                        metrics::counter!("workbench_traps_total", "kind" => kind.code()).increment(1);
                        "trap"
                    }
                };
                metrics::counter!("workbench_invocations_total", "outcome" => label).increment(1);
                tracing::warn!(%invocation, plugin, %error, "invocation failed");
                Err(ServiceError::Plugin { invocation, error })
            }
        }
    }
}

impl Workbench {
    /// Audits a refused call (a flood only once per window) and the error:
    /// `audit_unavailable` when the refusal could not be recorded.
    async fn refuse(&self, tenant: &str, member: &str, plugin: &str, refusal: Refusal) -> ServiceError {
        let label = match refusal {
            Refusal::Caller { .. } => "too_many_requests",
            Refusal::Host { .. } => "overloaded",
        };
        metrics::counter!("workbench_invocations_total", "outcome" => label).increment(1);
        match self.refusals.refused(tenant, member, plugin, refusal.limit()).await {
            Ok(()) => ServiceError::Refused(refusal),
            Err(error) => ServiceError::Audit(error),
        }
    }
}
