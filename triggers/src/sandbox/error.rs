//! What can go wrong compiling a trigger module and running one invocation of it.

use std::time::Duration;

/// A module was refused by [`Runtime::compile`](crate::sandbox::Runtime::compile), or the
/// runtime could not start.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum SandboxError {
    /// The module is larger than `Limits::module_bytes_max`.
    #[error("module is {bytes} bytes; the limit is {max} bytes")]
    ModuleTooLarge { bytes: usize, max: usize },
    /// The bytes are not a valid wasm module (binary or text).
    #[error("not a valid wasm module: {0}")]
    InvalidModule(String),
    /// The module lacks an export the ABI requires.
    #[error("module does not export `{name}`; the trigger ABI requires `{name}: {expected}`")]
    MissingExport { name: &'static str, expected: &'static str },
    /// An export the ABI requires has the wrong type.
    #[error("export `{name}` is {found}; the trigger ABI requires {expected}")]
    ExportType { name: &'static str, expected: &'static str, found: String },
    /// The module imports from a module other than `eddy` (WASI, for instance).
    #[error(
        "module imports `{module}`.`{name}`: only host functions from module `eddy` are \
         available (no WASI: no filesystem, network, clock or environment)"
    )]
    ForbiddenImport { module: String, name: String },
    /// The module imports a name module `eddy` does not provide.
    #[error(
        "module imports `eddy`.`{name}`, which does not exist; module `eddy` provides log, \
         get_item, put_item, update_item and delete_item"
    )]
    UnknownHostFunction { name: String },
    /// The module imports a host function with the wrong signature.
    #[error("module imports `eddy`.`{name}` as {found}; the host provides {expected}")]
    ImportType { name: String, expected: &'static str, found: String },
    /// A trigger's limits ask for more than the runtime's pool slots hold.
    #[error("{what} limit {requested} is above the runtime's ceiling of {ceiling}")]
    LimitAboveCeiling { what: &'static str, requested: u64, ceiling: u64 },
    /// The module needs more than one pool slot holds (memories, tables, initial sizes).
    #[error("module does not fit the runtime's instance pool: {0}")]
    ExceedsPool(String),
    /// The runtime configuration is unusable.
    #[error("invalid sandbox runtime configuration: {0}")]
    Config(String),
    /// The compiled-module cache directory could not be set up.
    #[error("cannot use compile cache directory {dir}: {reason}")]
    Cache { dir: String, reason: String },
}

/// One invocation failed. The engine, the module and other invocations are unaffected; the
/// delivery loop decides whether to retry the batch.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum InvocationError {
    /// The guest burned its whole `Limits::fuel_per_invocation`.
    #[error("trigger ran out of fuel after {fuel} units (a loop that never ends?)")]
    FuelExhausted { fuel: u64 },
    /// The guest ran past `Limits::deadline`.
    #[error("trigger exceeded its deadline of {deadline:?}; stopped after {after:?}")]
    DeadlineExceeded { deadline: Duration, after: Duration },
    /// The guest tried to grow its memory (or a table) past the limit.
    #[error("trigger tried to grow {what} to {requested} past the limit of {max}")]
    MemoryLimit { what: &'static str, requested: u64, max: u64 },
    /// The guest trapped: `unreachable`, an out-of-bounds access, a stack overflow, ...
    #[error("trigger trapped: {0}")]
    Trap(String),
    /// The batch is larger than `Limits::input_bytes_max`.
    #[error("batch is {bytes} bytes; the trigger's input limit is {max} bytes")]
    InputTooLarge { bytes: usize, max: usize },
    /// The response is larger than `Limits::output_bytes_max`.
    #[error("trigger response is {bytes} bytes; the limit is {max} bytes")]
    OutputTooLarge { bytes: u64, max: usize },
    /// The guest logged more than `Limits::log_bytes_max` in one invocation.
    #[error("trigger logged more than {max} bytes in one invocation")]
    LogTooLarge { max: usize },
    /// The guest buffered more than `Limits::writes_max` write-backs or more than
    /// `Limits::write_bytes_max` bytes of them.
    #[error("trigger buffered more than {writes_max} write-backs or {bytes_max} bytes of them")]
    TooManyWrites { writes_max: usize, bytes_max: usize },
    /// The guest's `handle` returned a negative value: it failed the whole batch itself.
    #[error("trigger reported failure of the whole batch with code {code}")]
    GuestFailed { code: i64 },
    /// The response is not the JSON the ABI asks for, or lies outside guest memory.
    #[error("trigger response is invalid: {0}")]
    BadResponse(String),
    /// The guest called a host function with arguments outside its memory, or its `alloc`
    /// returned a buffer outside its memory.
    #[error("trigger made an invalid host call: {0}")]
    BadHostCall(String),
    /// The host's reader failed while serving `get_item`; retrying the batch may succeed.
    #[error("get_item failed in the host: {0}")]
    HostRead(String),
    /// Every pool slot is busy; retrying once an invocation ends succeeds.
    #[error("all {slots} sandbox instance slots are busy")]
    PoolExhausted { slots: u32 },
    /// Instantiating the module failed for a reason other than the above.
    #[error("trigger could not be instantiated: {0}")]
    Instantiate(String),
}
