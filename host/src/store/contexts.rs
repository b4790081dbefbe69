//! Invocation contexts (the caller's profile, the plugin's installation as
//! the caller sees it, the caller's consents) cached per tenant, member and
//! plugin, each tagged with its tenant's *generation* read before the context
//! was read from the database. An entry is used only while the generation is
//! unchanged, and every change to a tenant's directory, installations or
//! consents bumps it:
//!
//! - PostgreSQL: deferred triggers bump `tenant_generations` in the same
//!   transaction as the change (migration 0003), and every call reads it (in
//!   batches, see [`super::generations`]) instead of the join, so a change
//!   committed through any replica binds the next call on every replica.
//! - SQLite: one process owns the file, so the generation is held here and
//!   the store's changing methods bump it when they end (also when their
//!   future is dropped half-way), after their commit.
//!
//! A call that overlaps a change may see either side of it; a call that
//! starts after the change has returned sees it.
//!
//! Both engines also count here the changes to each tenant this process has
//! seen end ([`ContextCache::changes`]): its own, and on PostgreSQL a newer
//! generation read than the one before (another replica's). On SQLite that
//! count is the generation itself. Running calls compare it with the count
//! they began with (see `runtime/gatekeeper.rs`).

use std::collections::HashMap;
use std::sync::Mutex;

use super::InvocationContext;

/// Contexts held at most (each small: the installation's visible range is
/// narrowed to the caller before caching).
const CAPACITY: usize = 20_000;

/// See the module documentation.
pub(super) struct ContextCache {
    entries: quick_cache::sync::Cache<String, (u64, InvocationContext)>,
    /// Each tenant's changes seen here (see the module documentation).
    tenants: Mutex<HashMap<String, Seen>>,
}

#[derive(Debug, Default, Clone, Copy)]
struct Seen {
    /// Changes seen end: on SQLite, the tenant's generation.
    changes: u64,
    /// PostgreSQL: the latest generation read.
    generation_read: Option<u64>,
}

impl std::fmt::Debug for ContextCache {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ContextCache").field("entries", &self.entries.len()).finish_non_exhaustive()
    }
}

impl Default for ContextCache {
    fn default() -> Self {
        Self { entries: quick_cache::sync::Cache::new(CAPACITY), tenants: Mutex::default() }
    }
}

impl ContextCache {
    /// The cache key. Ids hold no NUL (paths and tokens with one are refused).
    pub(super) fn key(tenant: &str, member: &str, plugin: &str) -> String {
        let mut key = String::with_capacity(tenant.len() + member.len() + plugin.len() + 2);
        for (i, part) in [tenant, member, plugin].into_iter().enumerate() {
            if i > 0 {
                key.push('\0');
            }
            key.push_str(part);
        }
        key
    }

    /// The context cached under `key` if it was read at `generation`.
    pub(super) fn get(&self, key: &str, generation: u64) -> Option<InvocationContext> {
        let hit = self.entries.get(key).and_then(|(at, context)| (at == generation).then_some(context));
        metrics::counter!("workbench_context_cache_total", "result" => if hit.is_some() { "hit" } else { "miss" })
            .increment(1);
        hit
    }

    /// Keeps `context`, read after `generation` was.
    pub(super) fn put(&self, key: String, generation: u64, context: InvocationContext) {
        self.entries.insert(key, (generation, context));
    }

    fn tenants(&self) -> std::sync::MutexGuard<'_, HashMap<String, Seen>> {
        self.tenants.lock().unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    /// The changes to `tenant` seen here; on SQLite its generation.
    pub(super) fn changes(&self, tenant: &str) -> u64 {
        self.tenants().get(tenant).map_or(0, |seen| seen.changes)
    }

    /// A change to the tenant made here has ended.
    pub(super) fn changed(&self, tenant: &str) {
        self.tenants().entry(tenant.to_owned()).or_default().changes += 1;
    }

    /// PostgreSQL: the tenant's generation, read now; a newer one than the
    /// last read is a change made elsewhere.
    pub(super) fn observed(&self, tenant: &str, generation: u64) {
        let mut tenants = self.tenants();
        let seen = tenants.entry(tenant.to_owned()).or_default();
        if seen.generation_read.is_some_and(|read| read < generation) {
            seen.changes += 1;
        }
        seen.generation_read = Some(generation);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_entry_serves_only_its_generation() {
        let cache = ContextCache::default();
        let key = ContextCache::key("t", "m", "p");
        assert!(cache.get(&key, 0).is_none());
        cache.put(key.clone(), 0, InvocationContext::default());
        assert!(cache.get(&key, 0).is_some());
        cache.changed("t");
        assert_eq!(cache.changes("t"), 1);
        assert_eq!(cache.changes("other"), 0);
        assert!(cache.get(&key, cache.changes("t")).is_none());
    }

    #[test]
    fn keys_do_not_run_together() {
        assert_ne!(ContextCache::key("ab", "c", "d"), ContextCache::key("a", "bc", "d"));
    }

    #[test]
    fn a_newer_generation_read_counts_as_a_change() {
        let cache = ContextCache::default();
        cache.observed("t", 5);
        assert_eq!(cache.changes("t"), 0, "the first read is where counting starts");
        cache.observed("t", 5);
        assert_eq!(cache.changes("t"), 0);
        cache.observed("t", 7);
        cache.changed("t");
        assert_eq!(cache.changes("t"), 2, "another replica's change, then one made here");
    }
}
