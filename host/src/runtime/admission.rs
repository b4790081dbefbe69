//! Admission: whether a call may take an instance slot now. The pool of
//! slots and the memory their linear memories may grow to are shared by
//! every tenant; here each tenant, each (tenant, plugin) and each member
//! gets a bounded share of them, a call that does not fit waits briefly in
//! a bounded queue, and invocation rates are limited per member and per
//! tenant, so that no one caller can take what the others need.

use std::collections::{BTreeMap, HashMap, VecDeque};
use std::num::NonZeroU32;
use std::sync::{Arc, Mutex, PoisonError};
use std::time::Duration;

use governor::{DefaultKeyedRateLimiter, Quota, RateLimiter};
use serde::Deserialize;
use tokio::sync::oneshot;

use super::limits::RuntimeLimits;

/// Shares, queue and rates. Defaults suit interactive workbench pages on
/// the default runtime limits.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct AdmissionConfig {
    /// The most the linear memories of the calls in flight may add up to,
    /// each counted at its limit (`runtime.memory_bytes`), bytes. With the
    /// slots it bounds how many calls run at once:
    /// `min(max_concurrent_instances, memory_budget_bytes / memory_bytes)`.
    pub memory_budget_bytes: u64,
    /// The share of those slots one tenant may hold, percent.
    pub tenant_share_percent: u32,
    /// Calls of one plugin in one tenant that may run at once.
    pub per_plugin: u32,
    /// Calls of one member that may run at once.
    pub per_member: u32,
    /// How long a call that does not fit may wait for a slot, ms.
    pub queue_ms: u64,
    /// Calls that may wait at once, in all.
    pub queue_total: u32,
    /// Calls of one member that may wait at once.
    pub queue_per_member: u32,
    /// Invocations per second one member may start (token bucket).
    pub member_rate_per_sec: u32,
    /// The member bucket's size: calls in a burst.
    pub member_burst: u32,
    /// Invocations per second one tenant may start.
    pub tenant_rate_per_sec: u32,
    /// The tenant bucket's size.
    pub tenant_burst: u32,
    /// Refusals of one member are audited once per window, with a count, s.
    pub refusal_window_secs: u64,
    /// Per-tenant overrides, by tenant id.
    pub tenants: BTreeMap<String, TenantAdmission>,
}

impl Default for AdmissionConfig {
    fn default() -> Self {
        Self {
            memory_budget_bytes: 8 << 30,
            tenant_share_percent: 50,
            per_plugin: 32,
            per_member: 8,
            queue_ms: 250,
            queue_total: 1_024,
            queue_per_member: 32,
            member_rate_per_sec: 50,
            member_burst: 100,
            tenant_rate_per_sec: 2_000,
            tenant_burst: 4_000,
            refusal_window_secs: 10,
            tenants: BTreeMap::new(),
        }
    }
}

/// What one tenant gets instead of the defaults.
#[derive(Debug, Clone, Default, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TenantAdmission {
    /// Slots the tenant may hold at once (instead of its share).
    pub max_instances: Option<u32>,
    /// Instead of [`AdmissionConfig::per_plugin`].
    pub per_plugin: Option<u32>,
    /// Instead of [`AdmissionConfig::per_member`].
    pub per_member: Option<u32>,
    /// Instead of [`AdmissionConfig::member_rate_per_sec`].
    pub member_rate_per_sec: Option<u32>,
    /// Instead of [`AdmissionConfig::member_burst`].
    pub member_burst: Option<u32>,
    /// Instead of [`AdmissionConfig::tenant_rate_per_sec`].
    pub tenant_rate_per_sec: Option<u32>,
    /// Instead of [`AdmissionConfig::tenant_burst`].
    pub tenant_burst: Option<u32>,
}

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
    plugin: String,
    member: String,
}

impl CallKey {
    /// The key of `member`'s call of `plugin` in `tenant`.
    pub fn new(tenant: &str, plugin: &str, member: &str) -> Self {
        Self { tenant: tenant.to_owned(), plugin: plugin.to_owned(), member: member.to_owned() }
    }

    fn plugin_key(&self) -> String {
        format!("{}\0{}", self.tenant, self.plugin)
    }

    fn member_key(&self) -> String {
        member_key(&self.tenant, &self.member)
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

/// Token buckets keyed by member or tenant, with a bucket size of their own
/// for tenants that override it.
struct RateLimits {
    default: DefaultKeyedRateLimiter<String>,
    overrides: HashMap<String, DefaultKeyedRateLimiter<String>>,
    /// The limiters' clock, to say how long a refused caller must wait (a
    /// new clock per refusal would calibrate itself each time).
    clock: governor::clock::DefaultClock,
}

impl RateLimits {
    fn new(
        config: &AdmissionConfig,
        default: (u32, u32),
        of: impl Fn(&TenantAdmission) -> (Option<u32>, Option<u32>),
    ) -> Self {
        let limiter = |(rate, burst): (u32, u32)| RateLimiter::keyed(quota(rate, burst));
        let overrides = config
            .tenants
            .iter()
            .filter_map(|(tenant, o)| {
                let (rate, burst) = of(o);
                (rate.is_some() || burst.is_some())
                    .then(|| (tenant.clone(), limiter((rate.unwrap_or(default.0), burst.unwrap_or(default.1)))))
            })
            .collect();
        Self { default: limiter(default), overrides, clock: governor::clock::DefaultClock::default() }
    }

    /// `Err(wait)` when the bucket of `key` (in `tenant`) is empty.
    fn check(&self, tenant: &str, key: String) -> Result<(), Duration> {
        let limiter = self.overrides.get(tenant).unwrap_or(&self.default);
        limiter.check_key(&key).map_err(|not_until| not_until.wait_time_from(governor::clock::Clock::now(&self.clock)))
    }

    fn forget_idle(&self) {
        self.default.retain_recent();
        self.default.shrink_to_fit();
        for limiter in self.overrides.values() {
            limiter.retain_recent();
        }
    }
}

/// A rate of `rate` per second in bursts of `burst`; zero means one.
fn quota(rate: u32, burst: u32) -> Quota {
    let rate = NonZeroU32::new(rate).unwrap_or(NonZeroU32::MIN);
    let burst = NonZeroU32::new(burst).unwrap_or(NonZeroU32::MIN);
    Quota::per_second(rate).allow_burst(burst)
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
            let member = key.member_key();
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
        if counts.members.get(&key.member_key()).copied().unwrap_or(0) >= per_member {
            return Err(Blocked::Member(per_member));
        }
        if counts.plugins.get(&key.plugin_key()).copied().unwrap_or(0) >= per_plugin {
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
        counts.running = counts.running.saturating_sub(1);
        decrement(&mut counts.tenants, &key.tenant);
        decrement(&mut counts.plugins, &key.plugin_key());
        decrement(&mut counts.members, &key.member_key());
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
            if waiter.grant.send(()).is_err() {
                // It stopped waiting (its request ended): give the slot back.
                counts.running -= 1;
                decrement(&mut counts.tenants, &waiter.key.tenant);
                decrement(&mut counts.plugins, &waiter.key.plugin_key());
                decrement(&mut counts.members, &waiter.key.member_key());
            }
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
    *counts.plugins.entry(key.plugin_key()).or_default() += 1;
    let member = counts.members.entry(key.member_key()).or_default();
    *member += 1;
    counts.peak_member = counts.peak_member.max(*member);
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
    decrement(&mut counts.waiting_members, &key.member_key());
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

#[cfg(test)]
mod tests {
    use super::*;

    fn admission(config: AdmissionConfig, slots: u32) -> Arc<Admission> {
        let limits = RuntimeLimits { max_concurrent_instances: slots, ..RuntimeLimits::default() };
        Admission::new(config, &limits)
    }

    fn key(tenant: &str, plugin: &str, member: &str) -> CallKey {
        CallKey::new(tenant, plugin, member)
    }

    #[tokio::test]
    async fn shares_hold_and_a_waiter_gets_the_slot_given_back() {
        let config = AdmissionConfig { per_member: 2, queue_ms: 2_000, ..AdmissionConfig::default() };
        let admission = admission(config, 16);
        let a = admission.admit(key("t", "p", "m")).await.expect("first");
        let _b = admission.admit(key("t", "p", "m")).await.expect("second");
        // The third waits; another member is admitted meanwhile.
        let waiting = tokio::spawn({
            let admission = Arc::clone(&admission);
            async move { admission.admit(key("t", "p", "m")).await }
        });
        tokio::time::sleep(Duration::from_millis(50)).await;
        assert!(!waiting.is_finished(), "the member's third call waits");
        let _other = admission.admit(key("t", "p", "n")).await.expect("another member is not held up");
        drop(a);
        let third = waiting.await.expect("task").expect("admitted once a slot is given back");
        assert_eq!(admission.running(), 3);
        drop(third);
        assert_eq!(admission.running(), 2);
    }

    #[tokio::test]
    async fn past_the_queue_a_call_is_refused_naming_its_limit() {
        let config = AdmissionConfig { per_member: 1, queue_ms: 20, queue_per_member: 1, ..AdmissionConfig::default() };
        let admission = admission(config, 16);
        let _held = admission.admit(key("t", "p", "m")).await.expect("first");
        let (waited, refused) = tokio::join!(admission.admit(key("t", "p", "m")), admission.admit(key("t", "p", "m")));
        let refused = refused.expect_err("the queue holds one");
        assert!(matches!(refused, Refusal::Caller { .. }), "{refused:?}");
        assert!(refused.limit().contains("a member may run 1"), "{refused}");
        assert!(matches!(waited.expect_err("timed out"), Refusal::Caller { .. }));
        assert_eq!(admission.running(), 1);
    }

    #[tokio::test]
    async fn a_tenant_holds_at_most_its_share_and_the_host_at_most_its_budget() {
        let config = AdmissionConfig {
            per_member: 100,
            per_plugin: 100,
            tenant_share_percent: 50,
            queue_ms: 0,
            memory_budget_bytes: 6 * (128 << 20),
            ..AdmissionConfig::default()
        };
        // 16 slots, but memory for 6 instances of 128 MiB: 6 run at once, 3 per tenant.
        let admission = admission(config, 16);
        assert_eq!(admission.slots(), 6);
        let mut held = Vec::new();
        for i in 0..3 {
            held.push(admission.admit(key("a", "p", &format!("m{i}"))).await.expect("within the share"));
        }
        let refused = admission.admit(key("a", "p", "m9")).await.expect_err("over the tenant's share");
        assert!(refused.limit().contains("this workbench may run 3"), "{refused}");
        for i in 0..3 {
            held.push(admission.admit(key("b", "p", &format!("m{i}"))).await.expect("the other tenant"));
        }
        let refused = admission.admit(key("c", "p", "m")).await.expect_err("the host is full");
        assert!(matches!(refused, Refusal::Host { .. }), "{refused:?}");
        held.clear();
        assert_eq!(admission.running(), 0);
    }

    #[tokio::test]
    async fn a_tenant_override_replaces_the_share_and_the_per_member_limit() {
        let mut config = AdmissionConfig { queue_ms: 0, ..AdmissionConfig::default() };
        config.tenants.insert(
            "big".into(),
            TenantAdmission { max_instances: Some(12), per_member: Some(12), ..TenantAdmission::default() },
        );
        let admission = admission(config, 32);
        let mut held = Vec::new();
        for _ in 0..12 {
            held.push(admission.admit(key("big", "p", "m")).await.expect("within the override"));
        }
        let refused = admission.admit(key("big", "p", "n")).await.expect_err("over the override");
        assert!(refused.limit().contains("this workbench may run 12"), "{refused}");
        // Others keep the defaults: 8 per member.
        for _ in 0..8 {
            held.push(admission.admit(key("small", "p", "m")).await.expect("the default share"));
        }
        let refused = admission.admit(key("small", "p", "m")).await.expect_err("over the default per member");
        assert!(refused.limit().contains("a member may run 8"), "{refused}");
    }

    #[test]
    fn rates_are_per_member_and_per_tenant_with_overrides() {
        let mut config = AdmissionConfig { member_rate_per_sec: 1, member_burst: 2, ..AdmissionConfig::default() };
        config.tenants.insert("big".into(), TenantAdmission { member_burst: Some(5), ..TenantAdmission::default() });
        let admission = admission(config, 16);
        assert!(admission.check_rate("t", "m").is_ok());
        assert!(admission.check_rate("t", "m").is_ok());
        let refused = admission.check_rate("t", "m").expect_err("the bucket is empty");
        assert!(refused.retry_after() > Duration::ZERO && refused.retry_after() <= Duration::from_secs(1));
        assert!(admission.check_rate("t", "other").is_ok(), "another member has a bucket of its own");
        for _ in 0..5 {
            assert!(admission.check_rate("big", "m").is_ok(), "the override's burst");
        }
        assert!(admission.check_rate("big", "m").is_err());
    }
}
