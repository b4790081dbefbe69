//! The data of one call's wasmtime `Store`: WASI, the memory limiter, the
//! call's [`Gatekeeper`], and each WIT interface's own state; and how each
//! interface of each contract version is linked to its part of it.

use wasmtime::component::{HasSelf, Linker, ResourceTable};
use wasmtime_wasi::{WasiCtx, WasiCtxView, WasiView};

use super::gatekeeper::{CallContext, Gatekeeper, HostServices};
use super::limits::CallLimiter;
use super::wit::v0_1;

/// The data of one call's wasmtime `Store`.
pub struct CallState {
    wasi: WasiCtx,
    table: ResourceTable,
    pub(crate) limiter: CallLimiter,
    pub(crate) epoch_ticks: u64,
    /// What every interface shares.
    pub(crate) keeper: Gatekeeper,
    /// `storage@0.1.0`'s state.
    pub(crate) storage: v0_1::storage::StorageState,
    /// `log@0.1.0`'s state.
    pub(crate) log: v0_1::log::LogState,
}

impl std::fmt::Debug for CallState {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("CallState").field("keeper", &self.keeper).finish_non_exhaustive()
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
        Self {
            wasi: wasi.build(),
            table: ResourceTable::new(),
            limiter,
            epoch_ticks: 0,
            keeper: Gatekeeper::new(call, services),
            storage: Default::default(),
            log: Default::default(),
        }
    }

    /// Links the workbench interfaces of every contract version, each to its
    /// own part of the call's state.
    pub(crate) fn add_to_linker(linker: &mut Linker<CallState>) -> wasmtime::Result<()> {
        use v0_1::workbench::plugin::{log, permissions, profile, storage, types};
        types::add_to_linker::<CallState, HasSelf<Gatekeeper>>(linker, |s| &mut s.keeper)?;
        profile::add_to_linker::<CallState, HasSelf<Gatekeeper>>(linker, |s| &mut s.keeper)?;
        permissions::add_to_linker::<CallState, HasSelf<Gatekeeper>>(linker, |s| &mut s.keeper)?;
        storage::add_to_linker::<CallState, v0_1::storage::Storage>(linker, |s| v0_1::storage::StorageHost {
            keeper: &mut s.keeper,
            state: &mut s.storage,
        })?;
        log::add_to_linker::<CallState, v0_1::log::Log>(linker, |s| v0_1::log::LogHost {
            keeper: &mut s.keeper,
            state: &mut s.log,
        })?;
        Ok(())
    }
}
