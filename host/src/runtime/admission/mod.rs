//! Admission: whether a call may take an instance slot now. The pool of
//! slots and the memory their linear memories may grow to are shared by
//! every tenant; here each tenant, each (tenant, plugin) and each member
//! gets a bounded share of them, a call that does not fit waits briefly in
//! a bounded queue, and invocation rates are limited per member and per
//! tenant, so that no one caller can take what the others need.

mod config;
mod rates;
#[cfg(test)]
mod tests;

use std::collections::{HashMap, VecDeque};
use std::sync::{Arc, Mutex, PoisonError};
use std::time::Duration;

use tokio::sync::oneshot;

pub use config::{AdmissionConfig, TenantAdmission};
use rates::RateLimits;

use super::limits::RuntimeLimits;

/// Why a call was not admitted.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum Refusal {
    /// The caller's own share (member, plugin or tenant) is in use or its
    /// rate is spent: the caller should slow down (429).
    #[error("{limit}")]
    Caller {
        /// Which limit, for people and the audit record.
        limit: String,
        /// When to try again.
        retry_after: Duration,
    },
    /// The host as a whole is full (503).
    #[error("{limit}")]
    Host {
        /// Which limit.
        limit: String,
        /// When to try again.
        retry_after: Duration,
    },
}

impl Refusal {
    /// When to try again.
    pub fn retry_after(&self) -> Duration {
        match self {
            Refusal::Caller { retry_after, .. } | Refusal::Host { retry_after, .. } => *retry_after,
        }
    }

    /// The limit, as said to people.
    pub fn limit(&self) -> &str {
        match self {
            Refusal::Caller { limit, .. } | Refusal::Host { limit, .. } => limit,
        }
    }
}

/// Who a call is for.
#[derive(Debug, Clone)]
pub struct CallKey {
    tenant: String,
    /// `tenant\0plugin`, the key of the plugin's share.
    plugin: String,
    /// `tenant\0member`, the key of the member's share and queue places.
    member: String,
}

impl CallKey {
    /// The key of `member`'s call of `plugin` in `tenant`.
    pub fn new(tenant: &str, plugin: &str, member: &str) -> Self {
        Self { tenant: tenant.to_owned(), plugin: format!("{tenant}\0{plugin}"), member: member_key(tenant, member) }
    }
}

fn member_key(tenant: &str, member: &str) -> String {
    format!("{tenant}\0{member}")
}

/// Which limit a call ran into.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Blocked {
    Member(u32),
    Plugin(u32),
    Tenant(u32),
    Slots(u32),
}

#[derive(Debug, Default)]
struct Counts {
    running: u32,
    tenants: HashMap<String, u32>,
    plugins: HashMap<String, u32>,
    members: HashMap<String, u32>,
    waiting: VecDeque<Waiter>,
    waiting_members: HashMap<String, u32>,
    next_waiter: u64,
    /// The most calls one member has had running at once.
    peak_member: u32,
}

#[derive(Debug)]
struct Waiter {
    id: u64,
    key: CallKey,
    grant: oneshot::Sender<()>,
}

/// The admission control of one host.
pub struct Admission {
    config: AdmissionConfig,
    slots: u32,
    tenant_slots: u32,
    /// Deadline plus a tick: the longest a slot is held.
    hold: Duration,
    counts: Mutex<Counts>,
    member_rates: RateLimits,
    tenant_rates: RateLimits,
}

impl std::fmt::Debug for Admission {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Admission")
            .field("slots", &self.slots)
            .field("tenant_slots", &self.tenant_slots)
            .field("config", &self.config)
            .finish_non_exhaustive()
    }
}

impl Admission {
    /// Admission for a runtime with `limits`.
    pub fn new(config: AdmissionConfig, limits: &RuntimeLimits) -> Arc<Self> {
        let by_memory = config.memory_budget_bytes / (limits.memory_bytes.max(1) as u64);
        let slots = u64::from(limits.max_concurrent_instances.max(1)).min(by_memory).max(1) as u32;
        let tenant_slots = (u64::from(slots) * u64::from(config.tenant_share_percent.min(100)) / 100).max(1) as u32;
        let member_rates = RateLimits::new(&config, (config.member_rate_per_sec, config.member_burst), |o| {
            (o.member_rate_per_sec, o.member_burst)
        });
        let tenant_rates = RateLimits::new(&config, (config.tenant_rate_per_sec, config.tenant_burst), |o| {
            (o.tenant_rate_per_sec, o.tenant_burst)
        });
        let hold = Duration::from_millis(limits.deadline_ms + limits.epoch_tick_ms.max(1));
        Arc::new(Self {
            config,
            slots,
            tenant_slots,
            hold,
            counts: Mutex::new(Counts::default()),
            member_rates,
            tenant_rates,
        })
    }

    /// How many calls may run at once.
    pub fn slots(&self) -> u32 {
        self.slots
    }

    /// The settings.
    pub fn config(&self) -> &AdmissionConfig {
        &self.config
    }

    /// Takes one invocation from the member's and the tenant's buckets.
    pub fn check_rate(&self, tenant: &str, member: &str) -> Result<(), Refusal> {
        let limit = |which: &str, rate: u32, wait: Duration| Refusal::Caller {
            limit: format!("{which} may start at most {rate} invocations a second"),
            retry_after: wait,
        };
        let overrides = self.config.tenants.get(tenant);
        if let Err(wait) = self.member_rates.check(tenant, member_key(tenant, member)) {
            let rate = overrides.and_then(|o| o.member_rate_per_sec).unwrap_or(self.config.member_rate_per_sec);
            return Err(limit("a member", rate, wait));
        }
        if let Err(wait) = self.tenant_rates.check(tenant, tenant.to_owned()) {
            let rate = overrides.and_then(|o| o.tenant_rate_per_sec).unwrap_or(self.config.tenant_rate_per_sec);
            return Err(limit("this workbench", rate, wait));
        }
        Ok(())
    }

    /// Drops the rate state of members and tenants that have been idle.
    pub fn forget_idle(&self) {
        self.member_rates.forget_idle();
        self.tenant_rates.forget_idle();
    }

    /// A slot for `key`: at once when it fits, else after waiting in the
    /// queue for at most `queue_ms`, else a refusal naming the limit.
    pub async fn admit(self: &Arc<Self>, key: CallKey) -> Result<Permit, Refusal> {
        let (id, granted) = {
            let mut counts = self.lock();
            let blocked = match self.fits(&counts, &key) {
                Ok(()) => {
                    take(&mut counts, &key);
                    return Ok(Permit { admission: Arc::clone(self), key });
                }
                Err(blocked) => blocked,
            };
            let member = key.member.clone();
            let waiting = counts.waiting_members.get(&member).copied().unwrap_or(0);
            if counts.waiting.len() >= self.config.queue_total as usize || waiting >= self.config.queue_per_member {
                metrics::counter!("workbench_admission_refusals_total", "limit" => blocked.label()).increment(1);
                return Err(self.refusal(blocked));
            }
            let (grant, granted) = oneshot::channel();
            counts.next_waiter += 1;
            let id = counts.next_waiter;
            *counts.waiting_members.entry(member).or_default() += 1;
            counts.waiting.push_back(Waiter { id, key: key.clone(), grant });
            (id, granted)
        };
        // Dropped before it ends (the request went away), the guard takes
        // the waiter out of the queue, or gives back a slot granted to it.
        let mut guard = WaitGuard { admission: self, id, key: key.clone(), settled: false };
        let mut granted = granted;
        let waited = tokio::time::timeout(Duration::from_millis(self.config.queue_ms), &mut granted).await;
        guard.settled = true;
        if let Ok(Ok(())) = waited {
            return Ok(Permit { admission: Arc::clone(self), key });
        }
        let mut counts = self.lock();
        if remove_waiter(&mut counts, id, &key) {
            let blocked = self.fits(&counts, &key).err().unwrap_or(Blocked::Slots(self.slots));
            metrics::counter!("workbench_admission_refusals_total", "limit" => blocked.label()).increment(1);
            return Err(self.refusal(blocked));
        }
        // Granted between the timeout and the lock: the slot is ours.
        drop(counts);
        Ok(Permit { admission: Arc::clone(self), key })
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Counts> {
        self.counts.lock().unwrap_or_else(PoisonError::into_inner)
    }

    fn fits(&self, counts: &Counts, key: &CallKey) -> Result<(), Blocked> {
        let overrides = self.config.tenants.get(&key.tenant);
        let per_member = overrides.and_then(|o| o.per_member).unwrap_or(self.config.per_member).max(1);
        let per_plugin = overrides.and_then(|o| o.per_plugin).unwrap_or(self.config.per_plugin).max(1);
        let per_tenant = overrides.and_then(|o| o.max_instances).unwrap_or(self.tenant_slots).clamp(1, self.slots);
        if counts.members.get(&key.member).copied().unwrap_or(0) >= per_member {
            return Err(Blocked::Member(per_member));
        }
        if counts.plugins.get(&key.plugin).copied().unwrap_or(0) >= per_plugin {
            return Err(Blocked::Plugin(per_plugin));
        }
        if counts.tenants.get(&key.tenant).copied().unwrap_or(0) >= per_tenant {
            return Err(Blocked::Tenant(per_tenant));
        }
        if counts.running >= self.slots {
            return Err(Blocked::Slots(self.slots));
        }
        Ok(())
    }

    fn refusal(&self, blocked: Blocked) -> Refusal {
        let retry_after = self.hold;
        match blocked {
            Blocked::Member(n) => Refusal::Caller {
                limit: format!("a member may run {n} plugin calls at once, and yours are all in use"),
                retry_after,
            },
            Blocked::Plugin(n) => Refusal::Caller {
                limit: format!("this plugin may run {n} calls at once in this workbench, and they are all in use"),
                retry_after,
            },
            Blocked::Tenant(n) => Refusal::Caller {
                limit: format!("this workbench may run {n} plugin calls at once, and they are all in use"),
                retry_after,
            },
            Blocked::Slots(n) => Refusal::Host {
                limit: format!("the host is running as many plugin calls as it may ({n})"),
                retry_after,
            },
        }
    }

    fn release(&self, key: &CallKey) {
        let mut counts = self.lock();
        give_back(&mut counts, key);
        // Every waiter that fits now, in arrival order; one whose own share
        // is still in use is passed over, so it holds up no one else.
        let mut at = 0;
        while at < counts.waiting.len() && counts.running < self.slots {
            if self.fits(&counts, &counts.waiting[at].key).is_err() {
                at += 1;
                continue;
            }
            let Some(waiter) = counts.waiting.remove(at) else { break };
            unwait(&mut counts, &waiter.key);
            take(&mut counts, &waiter.key);
            // The slot now belongs to the waiter, whether or not it is still
            // listening: a waiter whose request went away finds itself out of
            // the queue when its guard drops and gives the slot back there,
            // once. Giving it back here too would count it free twice.
            let _ = waiter.grant.send(());
        }
    }

    /// Calls running now (for tests and metrics).
    pub fn running(&self) -> u32 {
        self.lock().running
    }

    /// The most calls any one member has had running at once since start.
    pub fn peak_per_member(&self) -> u32 {
        self.lock().peak_member
    }
}

impl Blocked {
    fn label(self) -> &'static str {
        match self {
            Blocked::Member(_) => "member",
            Blocked::Plugin(_) => "plugin",
            Blocked::Tenant(_) => "tenant",
            Blocked::Slots(_) => "host",
        }
    }
}

fn take(counts: &mut Counts, key: &CallKey) {
    counts.running += 1;
    *counts.tenants.entry(key.tenant.clone()).or_default() += 1;
    *counts.plugins.entry(key.plugin.clone()).or_default() += 1;
    let member = counts.members.entry(key.member.clone()).or_default();
    *member += 1;
    counts.peak_member = counts.peak_member.max(*member);
}

fn give_back(counts: &mut Counts, key: &CallKey) {
    debug_assert!(counts.running > 0, "a slot given back that was not taken");
    debug_assert!(
        [(&counts.tenants, &key.tenant), (&counts.plugins, &key.plugin), (&counts.members, &key.member)]
            .iter()
            .all(|(map, key)| map.get(key.as_str()).is_some_and(|n| *n > 0)),
        "a share given back that was not taken"
    );
    counts.running = counts.running.saturating_sub(1);
    decrement(&mut counts.tenants, &key.tenant);
    decrement(&mut counts.plugins, &key.plugin);
    decrement(&mut counts.members, &key.member);
}

/// Takes waiter `id` out of the queue; false when it is no longer there
/// (a slot was granted to it).
fn remove_waiter(counts: &mut Counts, id: u64, key: &CallKey) -> bool {
    match counts.waiting.iter().position(|w| w.id == id) {
        Some(at) => {
            counts.waiting.remove(at);
            unwait(counts, key);
            true
        }
        None => false,
    }
}

struct WaitGuard<'a> {
    admission: &'a Admission,
    id: u64,
    key: CallKey,
    settled: bool,
}

impl Drop for WaitGuard<'_> {
    fn drop(&mut self) {
        if self.settled {
            return;
        }
        let removed = remove_waiter(&mut self.admission.lock(), self.id, &self.key);
        if !removed {
            self.admission.release(&self.key);
        }
    }
}

fn unwait(counts: &mut Counts, key: &CallKey) {
    decrement(&mut counts.waiting_members, &key.member);
}

fn decrement(map: &mut HashMap<String, u32>, key: &str) {
    if let Some(n) = map.get_mut(key) {
        *n -= 1;
        if *n == 0 {
            map.remove(key);
        }
    }
}

/// A slot held; given back when dropped.
#[derive(Debug)]
pub struct Permit {
    admission: Arc<Admission>,
    key: CallKey,
}

impl Drop for Permit {
    fn drop(&mut self) {
        self.admission.release(&self.key);
    }
}
