//! Compiled components, once per digest: `PluginPre` (a component linked
//! against the host's imports and ready to instantiate) kept in memory; the
//! machine code itself is also cached on disk by the engine's cache.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use tokio::sync::OnceCell;
use wasmtime::Engine;
use wasmtime::component::types::ComponentItem;
use wasmtime::component::{Component, Linker};

pub use super::wit::v0_1::PluginPre;

/// A prepared component.
pub type PluginPreHandle = PluginPre<CallState>;
use super::state::CallState;

/// Why a component cannot run here.
#[derive(Debug, Clone, thiserror::Error)]
pub enum PrepareError {
    /// Not a valid component, or compilation failed.
    #[error("not a valid component: {0}")]
    Invalid(String),
    /// Valid, but its imports or exports do not match `workbench:plugin/plugin`.
    #[error("the component does not fit the workbench:plugin contract: {0}")]
    Contract(String),
}

type Slot = Arc<OnceCell<Result<Arc<PluginPre<CallState>>, PrepareError>>>;

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
    ) -> Result<Arc<PluginPre<CallState>>, PrepareError> {
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

/// Compiles and links `bytes` against the host's imports.
pub fn prepare(
    engine: &Engine,
    linker: &Linker<CallState>,
    bytes: &[u8],
) -> Result<Arc<PluginPre<CallState>>, PrepareError> {
    let component = Component::new(engine, bytes).map_err(|e| PrepareError::Invalid(format!("{e:#}")))?;
    link(linker, &component)
}

fn link(linker: &Linker<CallState>, component: &Component) -> Result<Arc<PluginPre<CallState>>, PrepareError> {
    let instance_pre = linker.instantiate_pre(component).map_err(|e| PrepareError::Contract(format!("{e:#}")))?;
    let pre = PluginPre::new(instance_pre).map_err(|e| PrepareError::Contract(format!("{e:#}")))?;
    Ok(Arc::new(pre))
}

/// Compiles and links `bytes` like [`prepare`], and lists what the
/// component imports.
pub fn inspect(engine: &Engine, linker: &Linker<CallState>, bytes: &[u8]) -> Result<Vec<Import>, PrepareError> {
    let component = Component::new(engine, bytes).map_err(|e| PrepareError::Invalid(format!("{e:#}")))?;
    link(linker, &component)?;
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
    Ok(imports)
}
