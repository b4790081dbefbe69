//! Plugin runs, as their developer sees them: how each call of a plugin
//! version ended ([`RunKind`]) and how long it took (a [`DURATION_BOUNDS`]
//! bucket), counted per tenant and hour ([`RunKey`]); and the developer's
//! view of them ([`RunsView`]): per version, across tenants, with no tenant
//! or member identity (a tenant with fewer than k members is folded into
//! "other").

use std::collections::BTreeMap;

use serde::Serialize;

/// The upper bounds of the duration buckets, ms (the last is everything longer).
pub const DURATION_BOUNDS: [u32; 16] =
    [1, 2, 5, 10, 20, 50, 100, 200, 500, 1_000, 2_000, 5_000, 10_000, 20_000, 50_000, u32::MAX];

/// The bucket of a call that took `ms`.
pub fn duration_bucket(ms: u64) -> u8 {
    DURATION_BOUNDS.iter().position(|bound| ms <= u64::from(*bound)).unwrap_or(DURATION_BOUNDS.len() - 1) as u8
}

/// How a call ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, utoipa::ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum RunKind {
    /// It answered (any status).
    Ok,
    /// The plugin returned its own error.
    PluginError,
    /// It ran past its deadline.
    Deadline,
    /// Another trap: memory, stack, host calls, a panic, a bad answer.
    Trap,
    /// It never ran: the host's admission or rate limits turned it away.
    Refused,
}

impl RunKind {
    /// Every kind, in the order views list them.
    pub const ALL: [RunKind; 5] =
        [RunKind::Ok, RunKind::PluginError, RunKind::Deadline, RunKind::Trap, RunKind::Refused];

    /// The stored name.
    pub fn as_str(self) -> &'static str {
        match self {
            RunKind::Ok => "ok",
            RunKind::PluginError => "plugin_error",
            RunKind::Deadline => "deadline",
            RunKind::Trap => "trap",
            RunKind::Refused => "refused",
        }
    }

    /// Parses [`RunKind::as_str`].
    pub fn parse(text: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|k| k.as_str() == text)
    }
}

/// What one row of the runs counts under.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct RunKey {
    /// The plugin id.
    pub plugin: String,
    /// Its version (`""` when a call was refused before one was chosen).
    pub version: String,
    /// The tenant it ran in.
    pub tenant: String,
    /// The start of the UTC hour, ms.
    pub hour_ms: i64,
    /// How it ended.
    pub kind: RunKind,
    /// Its duration's bucket ([`duration_bucket`]).
    pub bucket: u8,
}

/// What the calls under one key add up to.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct RunCount {
    /// Calls.
    pub calls: i64,
    /// Their outbound requests that failed or were refused.
    pub egress_failures: i64,
}

impl RunCount {
    /// Adds `other`.
    pub fn add(&mut self, other: RunCount) {
        self.calls += other.calls;
        self.egress_failures += other.egress_failures;
    }
}

/// The smallest tenant (in members) shown on its own to a developer.
pub const DEFAULT_K: u32 = 5;

/// One version's calls, or one tenant's share of them.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, utoipa::ToSchema)]
pub struct RunTotals {
    /// Calls (refused ones included).
    pub calls: i64,
    /// Calls per way of ending: ok, plugin_error, deadline, trap, refused.
    pub ended: BTreeMap<String, i64>,
    /// Errors among them: every call that did not end ok.
    pub errors: i64,
    /// The median call took at most this long, ms (the bucket's bound).
    pub p50_ms: Option<u32>,
    /// 99 in 100 calls took at most this long, ms (the bucket's bound;
    /// `null` above the last bound).
    pub p99_ms: Option<u32>,
    /// Outbound requests that failed or were refused.
    pub egress_failures: i64,
}

/// A tenant's share of a version's calls, by a label that names nobody.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, utoipa::ToSchema)]
pub struct TenantShare {
    /// `tenant 1`, `tenant 2`, … by calls in this answer (the labels mean
    /// nothing beyond it); `other` for the tenants with fewer than k members
    /// when together they have k (else they are left out).
    pub tenant: String,
    /// Its calls.
    #[serde(flatten)]
    pub totals: RunTotals,
}

/// One version of the developer's plugin.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, utoipa::ToSchema)]
pub struct VersionRuns {
    /// The version (`""`: calls refused before a version was chosen).
    pub version: String,
    /// Across every tenant.
    #[serde(flatten)]
    pub totals: RunTotals,
    /// Per tenant, largest first; `other` last.
    pub tenants: Vec<TenantShare>,
}

/// What a developer sees of their plugin's calls.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, utoipa::ToSchema)]
pub struct RunsView {
    /// The plugin.
    pub plugin: String,
    /// From, ms (on an hour).
    pub from: i64,
    /// To (exclusive), ms (on an hour).
    pub to: i64,
    /// Tenants with fewer members than this are folded into `other`.
    pub k: u32,
    /// Newest version first.
    pub versions: Vec<VersionRuns>,
}

/// Totals of `rows` (bucket and count, with their kind).
pub fn totals<'a>(rows: impl IntoIterator<Item = (&'a RunKey, &'a RunCount)>) -> RunTotals {
    let mut totals = RunTotals::default();
    let mut histogram = [0i64; DURATION_BOUNDS.len()];
    for (key, count) in rows {
        totals.calls += count.calls;
        totals.egress_failures += count.egress_failures;
        *totals.ended.entry(key.kind.as_str().to_owned()).or_default() += count.calls;
        if key.kind != RunKind::Ok {
            totals.errors += count.calls;
        }
        // A refused call never ran: it has no duration.
        if key.kind != RunKind::Refused {
            histogram[usize::from(key.bucket).min(DURATION_BOUNDS.len() - 1)] += count.calls;
        }
    }
    let ran: i64 = histogram.iter().sum();
    let bound = |share: f64| {
        if ran == 0 {
            return None;
        }
        let needed = ((ran as f64) * share).ceil().max(1.0) as i64;
        let mut seen = 0;
        for (i, n) in histogram.iter().enumerate() {
            seen += n;
            if seen >= needed {
                return Some(DURATION_BOUNDS[i]).filter(|b| *b != u32::MAX);
            }
        }
        None
    };
    totals.p50_ms = bound(0.5);
    totals.p99_ms = bound(0.99);
    totals
}

/// The developer's view of `rows` (one plugin's): each tenant of at least
/// `k` members (`members`) by rank; the smaller ones folded into `other`
/// when together they have at least `k` members, else left out entirely
/// (totals included), so that no answer is about fewer than `k` people.
pub fn view(
    plugin: &str,
    from_ms: i64,
    to_ms: i64,
    k: u32,
    rows: &BTreeMap<RunKey, RunCount>,
    members: &dyn Fn(&str) -> u64,
) -> RunsView {
    let mut versions: Vec<String> = rows.keys().map(|key| key.version.clone()).collect();
    versions.sort_by(|a, b| semver::Version::parse(b).ok().cmp(&semver::Version::parse(a).ok()).then(b.cmp(a)));
    versions.dedup();
    let versions = versions
        .into_iter()
        .map(|version| {
            let mut of_version: Vec<(&RunKey, &RunCount)> = rows.iter().filter(|(k, _)| k.version == version).collect();
            let mut tenants: Vec<&str> = of_version.iter().map(|(k, _)| k.tenant.as_str()).collect();
            tenants.sort_unstable();
            tenants.dedup();
            let (shown, mut folded): (Vec<&str>, Vec<&str>) =
                tenants.into_iter().partition(|tenant| members(tenant) >= u64::from(k));
            if folded.iter().map(|tenant| members(tenant)).sum::<u64>() < u64::from(k) {
                let left_out = std::mem::take(&mut folded);
                of_version.retain(|(key, _)| !left_out.contains(&key.tenant.as_str()));
            }
            let mut shares: Vec<RunTotals> = shown
                .iter()
                .map(|tenant| totals(of_version.iter().copied().filter(|(key, _)| key.tenant == *tenant)))
                .collect();
            shares.sort_by_key(|share| std::cmp::Reverse(share.calls));
            let mut shares: Vec<TenantShare> = shares
                .into_iter()
                .enumerate()
                .map(|(i, totals)| TenantShare { tenant: format!("tenant {}", i + 1), totals })
                .collect();
            if !folded.is_empty() {
                let other = totals(of_version.iter().copied().filter(|(key, _)| folded.contains(&key.tenant.as_str())));
                shares.push(TenantShare { tenant: "other".to_owned(), totals: other });
            }
            VersionRuns { totals: totals(of_version.iter().copied()), version, tenants: shares }
        })
        .filter(|runs| runs.totals.calls > 0)
        .collect();
    RunsView { plugin: plugin.to_owned(), from: from_ms, to: to_ms, k, versions }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn key(version: &str, tenant: &str, kind: RunKind, ms: u64) -> RunKey {
        RunKey {
            plugin: "p".into(),
            version: version.into(),
            tenant: tenant.into(),
            hour_ms: 0,
            kind,
            bucket: duration_bucket(ms),
        }
    }

    #[test]
    fn durations_fall_in_the_bucket_of_their_bound() {
        assert_eq!(duration_bucket(0), 0);
        assert_eq!(duration_bucket(1), 0);
        assert_eq!(duration_bucket(2), 1);
        assert_eq!(duration_bucket(3), 2);
        assert_eq!(duration_bucket(50_000), 14);
        assert_eq!(duration_bucket(50_001), 15);
        assert_eq!(duration_bucket(u64::MAX), 15);
    }

    #[test]
    fn totals_count_errors_by_kind_and_read_percentiles_off_the_buckets() {
        let mut rows = BTreeMap::new();
        rows.insert(key("1.0.0", "a", RunKind::Ok, 3), RunCount { calls: 98, egress_failures: 1 });
        rows.insert(key("1.0.0", "a", RunKind::Deadline, 600), RunCount { calls: 2, egress_failures: 0 });
        rows.insert(key("1.0.0", "a", RunKind::Refused, 0), RunCount { calls: 7, egress_failures: 0 });
        let t = totals(rows.iter());
        assert_eq!(t.calls, 107);
        assert_eq!(t.errors, 9);
        assert_eq!(t.ended["deadline"], 2);
        assert_eq!(t.ended["refused"], 7);
        assert_eq!(t.egress_failures, 1);
        assert_eq!(t.p50_ms, Some(5));
        assert_eq!(t.p99_ms, Some(1_000));
    }

    #[test]
    fn small_tenants_are_folded_and_big_ones_named_by_rank_only() {
        let mut rows = BTreeMap::new();
        rows.insert(key("1.0.0", "acme", RunKind::Ok, 3), RunCount { calls: 5, egress_failures: 0 });
        rows.insert(key("1.0.0", "globex", RunKind::Deadline, 3_000), RunCount { calls: 50, egress_failures: 0 });
        rows.insert(key("1.0.0", "tiny", RunKind::Ok, 3), RunCount { calls: 1, egress_failures: 0 });
        rows.insert(key("1.0.0", "small", RunKind::Trap, 3), RunCount { calls: 2, egress_failures: 0 });
        rows.insert(key("2.0.0", "acme", RunKind::Ok, 3), RunCount { calls: 3, egress_failures: 0 });
        let members = |tenant: &str| match tenant {
            "acme" | "globex" => 100,
            "tiny" => 3,
            _ => 2,
        };
        let view = view("p", 0, 1, 5, &rows, &members);
        assert_eq!(view.versions.iter().map(|v| v.version.as_str()).collect::<Vec<_>>(), ["2.0.0", "1.0.0"]);
        let one = &view.versions[1];
        assert_eq!(one.totals.calls, 58);
        let shares: Vec<(&str, i64)> = one.tenants.iter().map(|t| (t.tenant.as_str(), t.totals.calls)).collect();
        assert_eq!(shares, [("tenant 1", 50), ("tenant 2", 5), ("other", 3)]);
        let text = serde_json::to_string(&view).expect("serialises");
        for name in ["acme", "globex", "tiny", "small"] {
            assert!(!text.contains(name), "{name} in {text}");
        }
        // Together under k, the small ones are left out, from the totals too.
        let fewer = |tenant: &str| if tenant == "tiny" { 2 } else { members(tenant) };
        let view = super::view("p", 0, 1, 5, &rows, &fewer);
        let one = &view.versions[1];
        assert_eq!(one.totals.calls, 55);
        let shares: Vec<&str> = one.tenants.iter().map(|t| t.tenant.as_str()).collect();
        assert_eq!(shares, ["tenant 1", "tenant 2"]);
        // A version only small tenants ran is not shown at all.
        let mut small_only = BTreeMap::new();
        small_only.insert(key("3.0.0", "tiny", RunKind::Ok, 3), RunCount { calls: 4, egress_failures: 0 });
        assert!(super::view("p", 0, 1, 5, &small_only, &fewer).versions.is_empty());
    }
}
