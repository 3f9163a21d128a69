//! The wasm sandbox: compiling trigger modules against the guest ABI and running one
//! invocation of a module on one batch of change records, under named limits.
//!
//! [`Runtime::compile`] turns module bytes into a [`CompiledModule`];
//! [`CompiledModule::invoke`] runs it on a batch and returns an [`Invocation`] (response,
//! logs, buffered [`WriteBack`]s) or an [`InvocationError`]. No wasmtime type crosses this
//! boundary. The ABI is documented in `docs/triggers.md`.

mod abi;
mod error;
mod host;
mod invoke;
mod limits;
mod runtime;
mod writeback;

#[cfg(test)]
mod tests;

pub use abi::{HOST_MODULE, STATUS_BAD_REQUEST, STATUS_OK};
pub use error::{InvocationError, SandboxError};
pub use invoke::Invocation;
pub use limits::{Limits, MEMORY_BYTES_ABI_MAX, RuntimeConfig};
pub use runtime::{CompiledModule, Runtime};
pub use writeback::{HostReader, WriteBack, WriteKind, check_get_request, check_request};
