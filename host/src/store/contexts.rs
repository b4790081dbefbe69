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

use std::collections::HashMap;
use std::sync::Mutex;

use super::InvocationContext;

/// Contexts held at most (each small: the installation's visible range is
/// narrowed to the caller before caching).
const CAPACITY: usize = 20_000;

/// See the module documentation.
pub(super) struct ContextCache {
    entries: quick_cache::sync::Cache<String, (u64, InvocationContext)>,
    /// SQLite: each tenant's generation.
    local: Mutex<HashMap<String, u64>>,
    /// Both engines: the changes to each tenant this process has seen end
    /// (see `Consents::tenant_changes`), and on PostgreSQL the latest
    /// generation read of each.
    seen: Mutex<HashMap<String, Seen>>,
}

#[derive(Debug, Default, Clone, Copy)]
struct Seen {
    changes: u64,
    generation: u64,
}

impl std::fmt::Debug for ContextCache {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ContextCache").field("entries", &self.entries.len()).finish_non_exhaustive()
    }
}

impl Default for ContextCache {
    fn default() -> Self {
        Self { entries: quick_cache::sync::Cache::new(CAPACITY), local: Mutex::default(), seen: Mutex::default() }
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

    /// SQLite: the tenant's generation.
    pub(super) fn local_generation(&self, tenant: &str) -> u64 {
        self.local.lock().unwrap_or_else(std::sync::PoisonError::into_inner).get(tenant).copied().unwrap_or(0)
    }

    /// A change to the tenant made here has ended.
    pub(super) fn changed(&self, tenant: &str) {
        let mut seen = self.seen.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
        seen.entry(tenant.to_owned()).or_default().changes += 1;
    }

    /// PostgreSQL: the tenant's generation read now; a newer one than any
    /// read before is a change made elsewhere.
    pub(super) fn observed(&self, tenant: &str, generation: u64) {
        let mut seen = self.seen.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
        match seen.get_mut(tenant) {
            Some(entry) if entry.generation < generation => {
                entry.generation = generation;
                entry.changes += 1;
            }
            Some(_) => {}
            None => {
                seen.insert(tenant.to_owned(), Seen { changes: 0, generation });
            }
        }
    }

    /// See `Consents::tenant_changes`.
    pub(super) fn changes(&self, tenant: &str) -> u64 {
        let seen = self.seen.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
        seen.get(tenant).map_or(0, |s| s.changes)
    }

    /// SQLite: a change to the tenant has ended.
    pub(super) fn bump_local(&self, tenant: &str) {
        let mut local = self.local.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
        match local.get_mut(tenant) {
            Some(generation) => *generation += 1,
            None => {
                local.insert(tenant.to_owned(), 1);
            }
        }
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
        cache.bump_local("t");
        assert_eq!(cache.local_generation("t"), 1);
        assert_eq!(cache.local_generation("other"), 0);
        assert!(cache.get(&key, cache.local_generation("t")).is_none());
    }

    #[test]
    fn keys_do_not_run_together() {
        assert_ne!(ContextCache::key("ab", "c", "d"), ContextCache::key("a", "bc", "d"));
    }
}
