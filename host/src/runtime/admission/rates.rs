//! Token buckets keyed by member or by tenant (governor).

use std::collections::HashMap;
use std::num::NonZeroU32;
use std::time::Duration;

use governor::{DefaultKeyedRateLimiter, Quota, RateLimiter};

use super::config::{AdmissionConfig, TenantAdmission};

/// Token buckets keyed by member or tenant, with a bucket size of their own
/// for tenants that override it.
pub(super) struct RateLimits {
    default: DefaultKeyedRateLimiter<String>,
    overrides: HashMap<String, DefaultKeyedRateLimiter<String>>,
    /// The limiters' clock, to say how long a refused caller must wait (a
    /// new clock per refusal would calibrate itself each time).
    clock: governor::clock::DefaultClock,
}

impl RateLimits {
    pub(super) fn new(
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
    pub(super) fn check(&self, tenant: &str, key: String) -> Result<(), Duration> {
        let limiter = self.overrides.get(tenant).unwrap_or(&self.default);
        limiter.check_key(&key).map_err(|not_until| not_until.wait_time_from(governor::clock::Clock::now(&self.clock)))
    }

    pub(super) fn forget_idle(&self) {
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
