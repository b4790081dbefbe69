//! Compiled components, once per digest: a [`Prepared`] component (linked
//! against the host's imports for the contract version it was built against,
//! ready to instantiate) kept in memory; the machine code itself is also
//! cached on disk by the engine's cache.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use tokio::sync::OnceCell;
use wasmtime::Engine;
use wasmtime::component::types::ComponentItem;
use wasmtime::component::{Component, Linker};

use super::state::CallState;
use super::wit::{self, v0_1, v0_2, v0_3};

/// A component linked against the host's imports, by the contract version
/// its handler export was built against.
pub enum Prepared {
    /// Built against `workbench:plugin@0.1.0`.
    V0_1(v0_1::PluginPre<CallState>),
    /// Built against `workbench:plugin@0.2.0`.
    V0_2(v0_2::PluginPre<CallState>),
    /// Built against `workbench:plugin@0.3.0`: its handler, and its
    /// `events` export when it has one.
    V0_3(Current),
}

/// A `0.3.0` component ready to instantiate. `events` is optional in its
/// world, so the exports are found one by one.
pub struct Current {
    pub(super) pre: wasmtime::component::InstancePre<CallState>,
    pub(super) handler: v0_3::exports::workbench::plugin::handler::GuestIndices,
    pub(super) events: Option<v0_3::exports::workbench::plugin::events::GuestIndices>,
}

impl Prepared {
    /// The contract version, e.g. `"0.2.0"`.
    pub fn contract(&self) -> &'static str {
        match self {
            Prepared::V0_1(_) => "0.1.0",
            Prepared::V0_2(_) => "0.2.0",
            Prepared::V0_3(_) => "0.3.0",
        }
    }

    /// Whether it exports `events` (it can be told of events and ticks).
    pub fn handles_events(&self) -> bool {
        matches!(self, Prepared::V0_3(Current { events: Some(_), .. }))
    }
}

impl std::fmt::Debug for Current {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Current").field("events", &self.events.is_some()).finish_non_exhaustive()
    }
}

impl std::fmt::Debug for Prepared {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Prepared").field("contract", &self.contract()).finish_non_exhaustive()
    }
}

/// Why a component cannot run here.
#[derive(Debug, Clone, thiserror::Error)]
pub enum PrepareError {
    /// Not a valid component, or compilation failed.
    #[error("not a valid component: {0}")]
    Invalid(String),
    /// Valid, but its imports or exports do not match `workbench:plugin/plugin`.
    #[error("the component does not fit the workbench:plugin contract: {0}")]
    Contract(String),
    /// Built against a version of the contract this host does not link.
    #[error(
        "the component is built against workbench:plugin@{version}: it needs a host that supports \
         workbench:plugin@{version} (this one supports {})",
        wit::SUPPORTED.join(", ")
    )]
    Unsupported {
        /// The version it names.
        version: String,
    },
}

type Slot = Arc<OnceCell<Result<Arc<Prepared>, PrepareError>>>;

/// Prepared components by digest.
#[derive(Default)]
pub struct ComponentCache {
    slots: Mutex<HashMap<String, Slot>>,
}

impl std::fmt::Debug for ComponentCache {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let count = self.slots.lock().map(|s| s.len()).unwrap_or(0);
        f.debug_struct("ComponentCache").field("components", &count).finish()
    }
}

impl ComponentCache {
    /// The prepared component for `digest`, compiling `bytes` (off the async
    /// threads) the first time. Concurrent first calls compile once.
    pub async fn get_or_prepare(
        &self,
        engine: &Engine,
        linker: &Arc<Linker<CallState>>,
        digest: &str,
        bytes: impl FnOnce() -> Vec<u8>,
    ) -> Result<Arc<Prepared>, PrepareError> {
        let slot = {
            let mut slots = self.slots.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
            Arc::clone(slots.entry(digest.to_owned()).or_default())
        };
        slot.get_or_init(|| {
            let bytes = bytes();
            let engine = engine.clone();
            let linker = Arc::clone(linker);
            async move {
                tokio::task::spawn_blocking(move || prepare(&engine, &linker, &bytes))
                    .await
                    .map_err(|e| PrepareError::Invalid(format!("compilation task failed: {e}")))?
            }
        })
        .await
        .clone()
    }
}

/// An instance a component imports and the functions it uses from it.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct Import {
    /// The instance, e.g. `workbench:plugin/profile@0.1.0`.
    pub interface: String,
    /// The functions the component imports from it.
    pub functions: Vec<String>,
}

/// What publishing learns of a component.
#[derive(Debug, Clone)]
pub struct Checked {
    /// The contract version it was built against.
    pub contract: &'static str,
    /// What it imports.
    pub imports: Vec<Import>,
    /// Whether it exports `events`.
    pub events: bool,
}

/// Compiles and links `bytes` against the host's imports.
pub fn prepare(engine: &Engine, linker: &Linker<CallState>, bytes: &[u8]) -> Result<Arc<Prepared>, PrepareError> {
    let component = Component::new(engine, bytes).map_err(|e| PrepareError::Invalid(format!("{e:#}")))?;
    link(linker, &component)
}

fn link(linker: &Linker<CallState>, component: &Component) -> Result<Arc<Prepared>, PrepareError> {
    let contract = contract_of(linker.engine(), component)?;
    let instance_pre = linker.instantiate_pre(component).map_err(|e| PrepareError::Contract(format!("{e:#}")))?;
    let contract_error = |e: wasmtime::Error| PrepareError::Contract(format!("{e:#}"));
    let prepared = match contract {
        "0.1.0" => Prepared::V0_1(v0_1::PluginPre::new(instance_pre).map_err(contract_error)?),
        "0.2.0" => Prepared::V0_2(v0_2::PluginPre::new(instance_pre).map_err(contract_error)?),
        _ => {
            use v0_3::exports::workbench::plugin::{events, handler};
            let handler = handler::GuestIndices::new(&instance_pre).map_err(contract_error)?;
            let name = format!("workbench:plugin/events@{}", wit::CURRENT);
            let exports_events = component.get_export_index(None, name.as_str()).is_some();
            let events = match exports_events {
                true => Some(events::GuestIndices::new(&instance_pre).map_err(contract_error)?),
                false => None,
            };
            Prepared::V0_3(Current { pre: instance_pre, handler, events })
        }
    };
    Ok(Arc::new(prepared))
}

/// The contract version a component was built against: the version of the
/// `workbench:plugin/handler` it exports. Every `workbench:plugin` name it
/// imports or exports must be of a version this host links; a version it
/// does not know is refused by name before linking says anything less clear.
fn contract_of(engine: &Engine, component: &Component) -> Result<&'static str, PrepareError> {
    let ty = component.component_type();
    let names = ty.imports(engine).map(|(name, _)| name).chain(ty.exports(engine).map(|(name, _)| name));
    for name in names {
        if let Some(version) =
            name.strip_prefix("workbench:plugin/").and_then(|rest| rest.split_once('@')).map(|(_, v)| v)
            && !wit::SUPPORTED.contains(&version)
        {
            return Err(PrepareError::Unsupported { version: version.to_owned() });
        }
    }
    let handler = ty.exports(engine).find_map(|(name, _)| name.strip_prefix("workbench:plugin/handler@"));
    match handler {
        Some(version) => Ok(wit::SUPPORTED.into_iter().find(|v| *v == version).unwrap_or(wit::CURRENT)),
        None => Err(PrepareError::Contract(format!(
            "it exports no workbench:plugin/handler; a plugin exports workbench:plugin/handler@{} (see wit/)",
            wit::CURRENT
        ))),
    }
}

/// Compiles and links `bytes` like [`prepare`], and lists what the
/// component imports.
pub fn inspect(engine: &Engine, linker: &Linker<CallState>, bytes: &[u8]) -> Result<Checked, PrepareError> {
    let component = Component::new(engine, bytes).map_err(|e| PrepareError::Invalid(format!("{e:#}")))?;
    let prepared = link(linker, &component)?;
    let (contract, events) = (prepared.contract(), prepared.handles_events());
    let imports = component
        .component_type()
        .imports(engine)
        .map(|(name, item)| {
            let functions = match item.ty {
                ComponentItem::ComponentInstance(instance) => instance
                    .exports(engine)
                    .filter(|(_, item)| matches!(item.ty, ComponentItem::ComponentFunc(_)))
                    .map(|(name, _)| name.to_owned())
                    .collect(),
                _ => Vec::new(),
            };
            Import { interface: name.to_owned(), functions }
        })
        .collect();
    Ok(Checked { contract, imports, events })
}
