//! Where host calls go: the real host's imports inside a component, or the
//! thread's [`crate::testing::MockHost`] everywhere else. Both modules expose
//! the same functions over the SDK's own types.

#[cfg(not(target_arch = "wasm32"))]
mod mock;
#[cfg(target_arch = "wasm32")]
pub(crate) mod wasm;

#[cfg(not(target_arch = "wasm32"))]
pub(crate) use mock::*;
#[cfg(target_arch = "wasm32")]
pub(crate) use wasm::*;
