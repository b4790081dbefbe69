//! The per-call store data: who is calling, what the plugin may read, the
//! limits, and the audit buffer every host import writes to.

use std::sync::Arc;

use wasmtime::component::ResourceTable;
use wasmtime_wasi::{WasiCtx, WasiCtxView, WasiView};

use super::limits::{CallLimiter, GuestLimit, RuntimeLimits};
use crate::gate::{self, Denial};
use crate::model::audit::{Action, AuditEvent, Outcome};
use crate::model::consent::{ConsentSet, PluginPolicy};
use crate::model::directory::MemberProfile;
use crate::model::manifest::Manifest;
use crate::openid::OpenIdKey;
use crate::scope::Scope;
use crate::store::CallStore;

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
}

/// A log line written by the plugin.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct LogLine {
    /// Level name.
    pub level: &'static str,
    /// Message (truncated to the limit).
    pub message: String,
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
    pub limits: Arc<RuntimeLimits>,
}

/// The data of one call's wasmtime `Store`.
pub struct CallState {
    wasi: WasiCtx,
    table: ResourceTable,
    pub(crate) limiter: CallLimiter,
    pub(crate) call: CallContext,
    pub(crate) services: HostServices,
    pub(crate) audit: Vec<AuditEvent>,
    pub(crate) logs: Vec<LogLine>,
    pub(crate) dropped_logs: u32,
    pub(crate) log_denial_audited: bool,
    pub(crate) epoch_ticks: u64,
    /// Effects started and not yet seen through by the guest.
    pub(crate) pending: Vec<PendingEffect>,
    /// Bytes of keys and values this call has asked storage to write.
    pub(crate) written_bytes: u64,
    hostcalls: u32,
    profile: Option<Arc<MemberProfile>>,
}

impl std::fmt::Debug for CallState {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("CallState")
            .field("call", &self.call)
            .field("hostcalls", &self.hostcalls)
            .finish_non_exhaustive()
    }
}

impl WasiView for CallState {
    fn ctx(&mut self) -> WasiCtxView<'_> {
        WasiCtxView { ctx: &mut self.wasi, table: &mut self.table }
    }
}

impl CallState {
    /// A fresh state. WASI is minimal: no files, no environment, no arguments,
    /// no sockets or name lookups; stdio goes nowhere.
    pub fn new(call: CallContext, services: HostServices) -> Self {
        let mut wasi = WasiCtx::builder();
        wasi.allow_tcp(false)
            .allow_udp(false)
            .allow_ip_name_lookup(false)
            .socket_addr_check(|_, _| Box::pin(async { false }));
        let limiter = CallLimiter { memory_bytes: services.limits.memory_bytes };
        let profile = call.profile.clone();
        Self {
            wasi: wasi.build(),
            table: ResourceTable::new(),
            limiter,
            call,
            services,
            audit: Vec::new(),
            logs: Vec::new(),
            dropped_logs: 0,
            log_denial_audited: false,
            epoch_ticks: 0,
            pending: Vec::new(),
            written_bytes: 0,
            hostcalls: 0,
            profile,
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

    /// The audit event [`CallState::record`] appends.
    pub(crate) fn event(
        &self,
        action: Action,
        scope: Option<Scope>,
        outcome: Outcome,
        reason: Option<String>,
    ) -> AuditEvent {
        let purpose = scope.and_then(|s| self.call.manifest.declaration(s)).map(|d| d.purpose.clone());
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
    /// event from [`CallState::pending`]. The outer error is a store failure.
    pub(crate) async fn effect<T, F>(
        &mut self,
        action: Action,
        work: F,
        audit: impl FnOnce(&T) -> (Outcome, Option<String>) + Send + 'static,
    ) -> Result<T, crate::store::StoreError>
    where
        T: Send + 'static,
        F: Future<Output = Result<T, crate::store::StoreError>> + Send + 'static,
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
        let result = answered
            .await
            .unwrap_or_else(|_| Err(crate::store::StoreError::Task("the storage task ended without an answer".into())));
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

    /// [`CallState::gate`], auditing an allowed access at once (field reads).
    pub(crate) fn access(&mut self, action: Action, scope: Scope) -> wasmtime::Result<Result<(), Denial>> {
        let decision = self.gate(action, scope)?;
        if decision.is_ok() {
            self.record(action, Some(scope), Outcome::Allowed, None);
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
