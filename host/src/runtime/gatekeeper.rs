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
use crate::scope::{Scope, ScopeSet, SharedScopes};
use crate::store::{CallStore, ChangeEntry, StorageChange, StorageOutcome};

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
    /// The tenant's changes the store had seen before the context above was
    /// read (`Consents::tenant_changes`).
    pub changes: u64,
    /// The call is about nobody (an event about no one, or about someone
    /// outside the plugin's range): `member` is empty, no consent holds,
    /// and only capabilities answer.
    pub nobody: bool,
}

/// A storage change handed to the audit writer with its record, whose fate
/// the call has not seen yet (it was cut off while waiting): once its batch
/// is done, the receipt says whether it was written.
pub type PendingEffect = crate::audit::Receipt;

/// How long a running call goes on with its invocation context before it
/// reads it again, even when no change was seen in this process: a change
/// made through another replica (PostgreSQL) reaches it by then. The read
/// is the tenant's generation and a cache hit while nothing changed.
const RECHECK: std::time::Duration = std::time::Duration::from_millis(50);

/// Shared services the host imports use.
#[derive(Debug, Clone)]
pub struct HostServices {
    /// Persistence.
    pub store: Arc<dyn CallStore>,
    /// Derives open ids.
    pub open_ids: OpenIdKey,
    /// Limits.
    pub limits: Arc<super::limits::RuntimeLimits>,
    /// The audit writer, which applies a call's storage changes in the
    /// transaction of their records.
    pub audit: crate::audit::AuditWriter,
}

/// The gatekeeper of one call (see the module documentation).
pub struct Gatekeeper {
    pub(crate) call: CallContext,
    pub(crate) services: HostServices,
    /// The call's audit events, in order, on their way to the writer
    /// (shared with its outbound requests, which hand theirs over as they end).
    pub(crate) journal: Arc<super::journal::Journal>,
    /// Effects started and not yet seen through by the guest.
    pub(crate) pending: Vec<PendingEffect>,
    /// The call's records already durable (written with its storage changes).
    pub(crate) written: Vec<crate::model::audit::AuditRecord>,
    /// Why records the call handed over with a change were not written: the
    /// call's answer must then not leave (see [`CallOutcome::settle`]).
    ///
    /// [`CallOutcome::settle`]: super::CallOutcome::settle
    pub(crate) unwritten: Option<crate::audit::AuditError>,
    hostcalls: u32,
    profile: Option<Arc<MemberProfile>>,
    /// The personal scopes handed to the plugin so far in this call (shared
    /// with its outbound requests, whose bodies may still be on their way).
    pub(crate) read: SharedScopes,
    /// The caller's consents as the call began (a person bucket is written
    /// only while none of them has been withdrawn since).
    pub(crate) consents_at_start: Arc<ConsentSet>,
    /// When the call's context was last read (see [`Gatekeeper::refresh`]).
    context_read_at: std::time::Instant,
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
        let consents_at_start = Arc::clone(&call.consents);
        let journal = Arc::new(super::journal::Journal::new(services.audit.clone()));
        Self {
            call,
            services,
            journal,
            pending: Vec::new(),
            written: Vec::new(),
            unwritten: None,
            hostcalls: 0,
            profile,
            read: SharedScopes::default(),
            consents_at_start,
            context_read_at: std::time::Instant::now(),
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
        self.journal.push(event);
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
            subject: (!self.call.nobody).then(|| self.call.member.clone()),
            scope: scope.map(|s| s.as_str().to_owned()),
            purpose,
            reason,
            invocation: Some(self.call.invocation.clone()),
            ..AuditEvent::new(&self.call.tenant, self.call.actor.clone(), action, outcome)
        }
    }

    /// Hands `change` to the audit writer with every event of the call so
    /// far and the change's own record, and waits for their batch: the
    /// change is applied in the transaction that appends its record, so a
    /// crash at any instant leaves both or neither, and the call's records
    /// stay in the order the call made them. If the call is cut off while
    /// it waits, the batch still ends as it would have, and its receipt
    /// stays in [`Gatekeeper::pending`] for the call's end to look at. The
    /// error is the writer's: nothing of the submission was written (and
    /// [`Gatekeeper::unwritten`] keeps it, so the call cannot answer).
    pub(crate) async fn effect(
        &mut self,
        action: Action,
        scope: Scope,
        change: StorageChange,
    ) -> Result<StorageOutcome, crate::audit::AuditError> {
        let event = self.event(action, Some(scope), Outcome::Allowed, None);
        // Nothing is taken from the call before its place in the queue is.
        let place = self.journal.place().await?;
        let receipt = self.journal.send_change(place, ChangeEntry { change, event });
        self.pending.push(receipt);
        // Awaited where it lies and taken out only once done: cut off even
        // here, the receipt stays in `pending`.
        let written = match self.pending.last_mut() {
            Some(receipt) => receipt.await.unwrap_or(Err(crate::audit::AuditError::Stopped)),
            None => Err(crate::audit::AuditError::Stopped),
        };
        self.pending.pop();
        let written = written.inspect_err(|error| {
            // The records that went with the change are lost with it.
            self.unwritten.get_or_insert_with(|| error.clone());
        })?;
        self.written.extend(written.records);
        written.change.ok_or_else(|| crate::audit::AuditError::Write("the change's outcome did not come back".into()))
    }

    /// Counts the host call and asks the gate about `scope`; a refusal is
    /// audited here, an allowed access by the caller once it is done.
    /// The outer error is a trap (host call limit); the inner one the denial.
    pub(crate) async fn gate(&mut self, action: Action, scope: Scope) -> wasmtime::Result<Result<(), Denial>> {
        self.count_hostcall()?;
        self.refresh().await?;
        let decision = gate::decide(scope, &self.call.policy, &self.call.consents, self.call.now_ms);
        if let Err(denial) = decision {
            self.record(action, Some(scope), Outcome::Denied, Some(denial.code().to_owned()));
        }
        Ok(decision)
    }

    /// [`Gatekeeper::gate`], auditing an allowed access at once (field reads).
    pub(crate) async fn access(&mut self, action: Action, scope: Scope) -> wasmtime::Result<Result<(), Denial>> {
        let decision = self.gate(action, scope).await?;
        if decision.is_ok() {
            self.record(action, Some(scope), Outcome::Allowed, None);
            if scope.is_personal() {
                self.read.insert(scope);
            }
        }
        Ok(decision)
    }

    /// When the tenant changed while the call runs (a withdrawal, a grant
    /// narrowed, an uninstall, a member removed, through this process), and
    /// at least every [`RECHECK`] (another replica's change), reads the
    /// call's invocation context again, so the gate judges every later
    /// access by what holds now: a running call cannot go on reading what
    /// was withdrawn after it began. Costs one counter read otherwise.
    async fn refresh(&mut self) -> wasmtime::Result<()> {
        let store = &self.services.store;
        let changes = store.tenant_changes(&self.call.tenant);
        if changes == self.call.changes && self.context_read_at.elapsed() < RECHECK {
            return Ok(());
        }
        self.context_read_at = std::time::Instant::now();
        let (tenant, member, plugin) = (&self.call.tenant, &self.call.member, &self.call.manifest.id);
        let reread = |e: crate::store::StoreError| wasmtime::format_err!("reading the call's consents again: {e}");
        let usable = if self.call.nobody {
            // About nobody: the installation alone, enabled or not.
            let installation = store.installation(tenant, plugin).await.map_err(reread)?;
            installation.filter(|i| i.state == crate::model::installation::InstallationState::Enabled).map(Arc::new)
        } else {
            let context = store.invocation_context(tenant, member, plugin).await.map_err(reread)?;
            let usable = context.profile.is_some().then_some(context.installation).flatten();
            self.call.consents = context.consents;
            usable.filter(|i| i.usable_by(member, &[]))
        };
        self.call.changes = changes;
        let policy = match usable {
            Some(installation) => self.call.manifest.policy(installation.granted, &installation.egress),
            // Uninstalled, disabled, out of range or no longer a member:
            // nothing is granted any more.
            None => {
                self.call.consents = Arc::default();
                self.call.manifest.policy(ScopeSet::default(), &[])
            }
        };
        self.call.policy = Arc::new(policy);
        Ok(())
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
