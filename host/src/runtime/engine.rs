//! The one wasmtime [`Engine`]: component model, pooling allocator, epoch
//! interruption, and the on-disk cache of compiled components.

use std::path::Path;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use wasmtime::{Cache, CacheConfig, Config, Enabled, Engine, InstanceAllocationStrategy, PoolingAllocationConfig};

use super::limits::RuntimeLimits;

/// Per linear memory, at most this much of what a call touched stays mapped
/// for the next call in its slot (see [`build_engine`]).
const KEEP_RESIDENT_MEMORY: usize = 1 << 20;
/// The same for tables.
const KEEP_RESIDENT_TABLE: usize = 64 << 10;

/// Builds the engine. `cache_dir` keeps compiled components across restarts.
pub fn build_engine(limits: &RuntimeLimits, cache_dir: Option<&Path>) -> wasmtime::Result<Engine> {
    let mut config = Config::new();
    config.wasm_component_model(true);
    config.epoch_interruption(true);
    config.max_wasm_stack(limits.max_wasm_stack);
    config.async_stack_size(limits.max_wasm_stack + (1 << 20));
    let slots = limits.max_concurrent_instances.max(1);
    let mut pooling = PoolingAllocationConfig::default();
    pooling
        .total_component_instances(slots)
        .total_core_instances(slots * 8)
        .total_memories(slots * 2)
        .total_tables(slots * 8)
        .total_stacks(slots)
        .max_memory_size(limits.memory_bytes);
    // A slot's memory is reset between calls. By default that is an
    // `madvise` of the whole memory: the next call in the slot faults every
    // page it touches in again, and each `madvise` makes the kernel flush the
    // other cores' TLBs. Where Linux can list a range's dirty pages
    // (`PAGEMAP_SCAN`, 6.7+), only those are reset, with `memset`, to the
    // initial image and stay mapped, up to the sizes above; the rest is still
    // `madvise`d. Without that ioctl keeping pages resident would `memset`
    // the whole size every time, which costs more than it saves.
    if PoolingAllocationConfig::is_pagemap_scan_available() {
        pooling
            .pagemap_scan(Enabled::Yes)
            .linear_memory_keep_resident(KEEP_RESIDENT_MEMORY)
            .table_keep_resident(KEEP_RESIDENT_TABLE);
    }
    config.allocation_strategy(InstanceAllocationStrategy::Pooling(pooling));
    if let Some(dir) = cache_dir {
        std::fs::create_dir_all(dir).map_err(|e| wasmtime::format_err!("creating {}: {e}", dir.display()))?;
        let mut cache = CacheConfig::new();
        cache.with_directory(dir);
        config.cache(Some(Cache::new(cache)?));
    }
    Engine::new(&config)
}

/// Advances the engine's epoch every tick on a thread of its own; stops when dropped.
#[derive(Debug)]
pub struct EpochTicker {
    stop: Arc<AtomicBool>,
}

impl EpochTicker {
    /// Starts ticking `engine` every `tick`.
    pub fn start(engine: &Engine, tick: Duration) -> Self {
        let stop = Arc::new(AtomicBool::new(false));
        let engine = engine.clone();
        let flag = Arc::clone(&stop);
        std::thread::Builder::new()
            .name("workbench-epoch".into())
            .spawn(move || {
                while !flag.load(Ordering::Relaxed) {
                    std::thread::sleep(tick);
                    engine.increment_epoch();
                }
            })
            .expect("spawning the epoch thread");
        Self { stop }
    }
}

impl Drop for EpochTicker {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::Relaxed);
    }
}
