//! What the host side of every WIT interface shares: who is calling and what
//! the plugin may read ([`CallContext`]), the services it reaches
//! ([`HostServices`]), the call's audit buffer, and the one way an interface
//! asks for anything: count the host call, ask the gate, record the event.
//! Each interface keeps its own state beside it (see `wit/`).

use std::sync::Arc;

use super::limits::GuestLimit;
use crate::gate::{self, Denial};
use crate::model::audit::{Action, AuditEvent, Outcome};
use crate::model::consent::{ConsentSet, PluginPolicy};
use crate::model::directory::MemberProfile;
use crate::model::manifest::Manifest;
use crate::openid::OpenIdKey;
use crate::scope::{Scope, ScopeSet};
use crate::store::{CallStore, StoreError};

/// Everything a call needs to know about its caller and plugin.
#[derive(Debug, Clone)]
pub struct CallContext {
    /// Tenant.
    pub tenant: String,
    /// Internal member id of the caller (never shown to the plugin).
    pub member: String,
    /// The plugin version's manifest.
    pub manifest: Arc<Manifest>,
    /// `plugin:ID@VERSION`, the actor of the call's audit records.
    pub actor: String,
    /// Declared + granted scopes.
    pub policy: Arc<PluginPolicy>,
    /// The caller's consents for this plugin.
    pub consents: Arc<ConsentSet>,
    /// Invocation id.
    pub invocation: String,
    /// The time the gate judges consents at, ms since the epoch.
    pub now_ms: i64,
    /// The caller's profile when it was read with the consents (else it is
    /// loaded on first use).
    pub profile: Option<Arc<MemberProfile>>,
    /// The destinations the admin approved for outbound requests, as the
    /// manifest writes them.
    pub egress: Arc<[String]>,
    /// The configuration values the admin set (keys left unset read the
    /// manifest's defaults; see `runtime/config.rs`).
    pub config: Arc<std::collections::BTreeMap<String, String>>,
}

/// A host effect (a storage write) running in a task of its own, so that
/// cutting the call off at its deadline cannot stop it half-way: it yields
/// the audit event of what it did (`None` when the store failed and nothing
/// was written).
pub type PendingEffect = tokio::task::JoinHandle<Option<AuditEvent>>;

/// Shared services the host imports use.
#[derive(Debug, Clone)]
pub struct HostServices {
    /// Persistence.
    pub store: Arc<dyn CallStore>,
    /// Derives open ids.
    pub open_ids: OpenIdKey,
    /// Limits.
    pub limits: Arc<super::limits::RuntimeLimits>,
}

/// The gatekeeper of one call (see the module documentation).
pub struct Gatekeeper {
    pub(crate) call: CallContext,
    pub(crate) services: HostServices,
    /// The call's audit events, in order.
    pub(crate) audit: Vec<AuditEvent>,
    /// Effects started and not yet seen through by the guest.
    pub(crate) pending: Vec<PendingEffect>,
    hostcalls: u32,
    profile: Option<Arc<MemberProfile>>,
    /// The personal scopes handed to the plugin so far in this call.
    pub(crate) read: ScopeSet,
}

impl std::fmt::Debug for Gatekeeper {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Gatekeeper")
            .field("call", &self.call)
            .field("hostcalls", &self.hostcalls)
            .finish_non_exhaustive()
    }
}

impl Gatekeeper {
    /// The gatekeeper of a fresh call.
    pub fn new(call: CallContext, services: HostServices) -> Self {
        let profile = call.profile.clone();
        Self {
            call,
            services,
            audit: Vec::new(),
            pending: Vec::new(),
            hostcalls: 0,
            profile,
            read: ScopeSet::default(),
        }
    }

    /// Counts one host call; past the limit the guest traps.
    pub(crate) fn count_hostcall(&mut self) -> wasmtime::Result<()> {
        self.hostcalls += 1;
        if self.hostcalls > self.services.limits.hostcalls {
            return Err(GuestLimit::Hostcalls(self.services.limits.hostcalls).into());
        }
        Ok(())
    }

    /// Appends an audit event for this call.
    pub(crate) fn record(&mut self, action: Action, scope: Option<Scope>, outcome: Outcome, reason: Option<String>) {
        let event = self.event(action, scope, outcome, reason);
        self.audit.push(event);
    }

    /// The audit event [`Gatekeeper::record`] appends.
    pub(crate) fn event(
        &self,
        action: Action,
        scope: Option<Scope>,
        outcome: Outcome,
        reason: Option<String>,
    ) -> AuditEvent {
        let purpose = scope.and_then(|s| self.call.manifest.declaration(s)).map(|d| d.purpose.primary().to_owned());
        AuditEvent {
            subject: Some(self.call.member.clone()),
            scope: scope.map(|s| s.as_str().to_owned()),
            purpose,
            reason,
            invocation: Some(self.call.invocation.clone()),
            ..AuditEvent::new(&self.call.tenant, self.call.actor.clone(), action, outcome)
        }
    }

    /// Runs a storage write in a task of its own and waits for it. The task
    /// decides the write's audit event from its result; if the call is cut
    /// off meanwhile, the task still finishes and the runtime collects the
    /// event from [`Gatekeeper::pending`]. The outer error is a store failure.
    pub(crate) async fn effect<T, F>(
        &mut self,
        action: Action,
        work: F,
        audit: impl FnOnce(&T) -> (Outcome, Option<String>) + Send + 'static,
    ) -> Result<T, StoreError>
    where
        T: Send + 'static,
        F: Future<Output = Result<T, StoreError>> + Send + 'static,
    {
        let template = self.event(action, Some(Scope::Storage), Outcome::Allowed, None);
        let (answer, answered) = tokio::sync::oneshot::channel();
        let task = tokio::spawn(async move {
            let result = work.await;
            let event = result.as_ref().ok().map(|value| {
                let (outcome, reason) = audit(value);
                AuditEvent { outcome, reason, ..template }
            });
            let _ = answer.send(result);
            event
        });
        self.pending.push(task);
        let result =
            answered.await.unwrap_or_else(|_| Err(StoreError::Task("the storage task ended without an answer".into())));
        // Awaited where it lies and taken out only once done: cut off even
        // here, the task stays in `pending` and its event is still collected.
        let event = match self.pending.last_mut() {
            Some(task) => task.await,
            None => Ok(None),
        };
        self.pending.pop();
        match event {
            Ok(Some(event)) => self.audit.push(event),
            Ok(None) => {}
            Err(error) => tracing::error!(%error, "a storage effect's task failed"),
        }
        result
    }

    /// Counts the host call and asks the gate about `scope`; a refusal is
    /// audited here, an allowed access by the caller once it is done.
    /// The outer error is a trap (host call limit); the inner one the denial.
    pub(crate) fn gate(&mut self, action: Action, scope: Scope) -> wasmtime::Result<Result<(), Denial>> {
        self.count_hostcall()?;
        let decision = gate::decide(scope, &self.call.policy, &self.call.consents, self.call.now_ms);
        if let Err(denial) = decision {
            self.record(action, Some(scope), Outcome::Denied, Some(denial.code().to_owned()));
        }
        Ok(decision)
    }

    /// [`Gatekeeper::gate`], auditing an allowed access at once (field reads).
    pub(crate) fn access(&mut self, action: Action, scope: Scope) -> wasmtime::Result<Result<(), Denial>> {
        let decision = self.gate(action, scope)?;
        if decision.is_ok() {
            self.record(action, Some(scope), Outcome::Allowed, None);
            if scope.is_personal() {
                self.read.insert(scope);
            }
        }
        Ok(decision)
    }

    /// The caller's profile, loaded once per call on first use.
    pub(crate) async fn profile(&mut self) -> wasmtime::Result<Arc<MemberProfile>> {
        if let Some(profile) = &self.profile {
            return Ok(Arc::clone(profile));
        }
        let loaded = self
            .services
            .store
            .member(&self.call.tenant, &self.call.member)
            .await
            .map_err(|e| wasmtime::format_err!("loading the caller's profile: {e}"))?
            .ok_or_else(|| wasmtime::format_err!("the caller is no longer a member of the tenant"))?;
        let profile = Arc::new(loaded);
        self.profile = Some(Arc::clone(&profile));
        Ok(profile)
    }

    /// The caller's open id for this plugin.
    pub(crate) fn open_id(&self) -> String {
        self.services.open_ids.derive(&self.call.tenant, &self.call.manifest.id, &self.call.member)
    }
}
