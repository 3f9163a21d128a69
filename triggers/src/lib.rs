//! Eddy's trigger host: wasm modules run in a wasmtime sandbox on a table's change records.
//!
//! [`sandbox`] runs one invocation of a trigger module safely: the guest ABI, the compile
//! cache and the per-invocation limits. [`registry`] validates registrations (Lambda's
//! CreateEventSourceMapping fields) and stores them as durable documents; [`delivery`] runs
//! one task per trigger (batching, filter, retries, bisection, partial batch responses, dead
//! letters, checkpoints committed with the write-backs); [`TriggerManager`] ties them together
//! for the server. Wasmtime types never appear in this crate's API.

pub mod delay;
pub mod delivery;
pub mod error;
pub mod manager;
pub mod registry;
pub mod sandbox;
pub mod status;

pub use error::{BatchFailure, TriggerError};
pub use manager::{ManagerConfig, TriggerManager};
pub use registry::{Registration, TriggerConfig, parse_registration};
pub use sandbox::{
    CompiledModule, HostReader, Invocation, InvocationError, Limits, Runtime, RuntimeConfig, SandboxError,
    WriteBack, WriteKind,
};
