//! The data of one call's wasmtime `Store`: WASI, the memory limiter, the
//! call's [`Gatekeeper`], and each WIT interface's own state; and how each
//! interface of each contract version is linked to its part of it.

use wasmtime::component::{HasSelf, Linker, ResourceTable};
use wasmtime_wasi::{WasiCtx, WasiCtxView, WasiView};
use wasmtime_wasi_http::{WasiHttpCtx, WasiHttpCtxView, WasiHttpView};

use super::egress::CallHooks;
use super::gatekeeper::{CallContext, Gatekeeper, HostServices};
use super::limits::CallLimiter;
use super::wit::{v0_1, v0_2, v0_3};
use crate::model::audit::{Action, Outcome};

/// The data of one call's wasmtime `Store`.
pub struct CallState {
    wasi: WasiCtx,
    table: ResourceTable,
    pub(crate) limiter: CallLimiter,
    pub(crate) epoch_ticks: u64,
    /// What every interface shares.
    pub(crate) keeper: Gatekeeper,
    /// `storage`'s state (every version's).
    pub(crate) storage: v0_3::storage::StorageState,
    /// `log`'s state (every version's).
    pub(crate) log: v0_3::log::LogState,
    /// `wasi:http`'s state.
    http: WasiHttpCtx,
    /// The gate of outbound requests.
    pub(crate) egress: CallHooks,
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

impl WasiHttpView for CallState {
    fn http(&mut self) -> WasiHttpCtxView<'_> {
        // The first outbound request needs its record's template (tenant,
        // actor, member, invocation); a call that makes none never builds it.
        if self.egress.template.is_none() {
            let template = self.keeper.event(Action::HttpRequest, None, Outcome::Allowed, None);
            self.egress.template = Some(std::sync::Arc::new(template));
        }
        WasiHttpCtxView { hooks: &mut self.egress, table: &mut self.table, ctx: &mut self.http }
    }
}

/// Links a version's interfaces that are one per scope (0.2.0 on), and
/// its storage and log, each to its part of the call's state.
macro_rules! link_scopes {
    ($version:ident, $linker:expr) => {{
        use $version::workbench::plugin::*;
        type Keeper = HasSelf<Gatekeeper>;
        types::add_to_linker::<CallState, Keeper>($linker, keeper)?;
        user_id::add_to_linker::<CallState, Keeper>($linker, keeper)?;
        user_avatar::add_to_linker::<CallState, Keeper>($linker, keeper)?;
        user_nickname::add_to_linker::<CallState, Keeper>($linker, keeper)?;
        user_name::add_to_linker::<CallState, Keeper>($linker, keeper)?;
        user_gender::add_to_linker::<CallState, Keeper>($linker, keeper)?;
        user_birthday::add_to_linker::<CallState, Keeper>($linker, keeper)?;
        user_region::add_to_linker::<CallState, Keeper>($linker, keeper)?;
        user_email::add_to_linker::<CallState, Keeper>($linker, keeper)?;
        user_phone::add_to_linker::<CallState, Keeper>($linker, keeper)?;
        org_department::add_to_linker::<CallState, Keeper>($linker, keeper)?;
        perm_customer::add_to_linker::<CallState, Keeper>($linker, keeper)?;
        perm_approval::add_to_linker::<CallState, Keeper>($linker, keeper)?;
        storage::add_to_linker::<CallState, v0_3::storage::Storage>($linker, storage_host)?;
        log::add_to_linker::<CallState, v0_3::log::Log>($linker, log_host)?;
    }};
}

impl CallState {
    /// A fresh state. WASI is minimal: no files, no environment, no arguments,
    /// no sockets or name lookups; stdio goes nowhere. Outbound HTTP goes
    /// through `egress` only.
    pub fn new(call: CallContext, services: HostServices, egress: CallHooks) -> Self {
        let mut wasi = WasiCtx::builder();
        wasi.allow_tcp(false)
            .allow_udp(false)
            .allow_ip_name_lookup(false)
            .socket_addr_check(|_, _| Box::pin(async { false }));
        let limiter = CallLimiter { memory_bytes: services.limits.memory_bytes };
        let keeper = Gatekeeper::new(call, services);
        // What the call has read is what its requests could carry: they see it as it grows.
        let mut egress = egress;
        egress.read = keeper.read.clone();
        // Each request's record joins the call's events when the request ends.
        egress.journal = Some(std::sync::Arc::clone(&keeper.journal));
        Self {
            wasi: wasi.build(),
            table: ResourceTable::new(),
            limiter,
            epoch_ticks: 0,
            keeper,
            storage: Default::default(),
            log: Default::default(),
            http: WasiHttpCtx::new(),
            egress,
        }
    }

    /// Links the workbench interfaces of every contract version, each to its
    /// own part of the call's state; an old version's interfaces reach the
    /// same parts as the new ones they forward to.
    pub(crate) fn add_to_linker(linker: &mut Linker<CallState>) -> wasmtime::Result<()> {
        link_scopes!(v0_3, linker);
        v0_3::workbench::plugin::notify::add_to_linker::<CallState, HasSelf<Gatekeeper>>(linker, keeper)?;
        // Not part of the contract's versions: the standard configuration
        // interface, the same for every version.
        super::config::add_to_linker::<CallState, HasSelf<Gatekeeper>>(linker, keeper)?;
        link_scopes!(v0_2, linker);
        {
            use v0_1::workbench::plugin::*;
            type Keeper = HasSelf<Gatekeeper>;
            types::add_to_linker::<CallState, Keeper>(linker, keeper)?;
            profile::add_to_linker::<CallState, Keeper>(linker, keeper)?;
            permissions::add_to_linker::<CallState, Keeper>(linker, keeper)?;
            storage::add_to_linker::<CallState, v0_3::storage::Storage>(linker, storage_host)?;
            log::add_to_linker::<CallState, v0_3::log::Log>(linker, log_host)?;
        }
        Ok(())
    }
}

fn keeper(s: &mut CallState) -> &mut Gatekeeper {
    &mut s.keeper
}

fn storage_host(s: &mut CallState) -> v0_3::storage::StorageHost<'_> {
    v0_3::storage::StorageHost { keeper: &mut s.keeper, state: &mut s.storage }
}

fn log_host(s: &mut CallState) -> v0_3::log::LogHost<'_> {
    v0_3::log::LogHost { keeper: &mut s.keeper, state: &mut s.log }
}
