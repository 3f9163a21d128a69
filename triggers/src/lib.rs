//! Eddy's trigger host: wasm modules run in a wasmtime sandbox on a table's change records.
//!
//! [`sandbox`] runs one invocation of a trigger module safely: the guest ABI, the compile
//! cache and the per-invocation limits. The delivery loop (batching, filters, retries,
//! checkpoints, dead letters) builds on it. Wasmtime types never appear in this crate's API.

pub mod sandbox;

pub use sandbox::{
    CompiledModule, HostReader, Invocation, InvocationError, Limits, Runtime, RuntimeConfig, SandboxError,
    WriteBack, WriteKind,
};
