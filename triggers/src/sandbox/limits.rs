//! Every bound the sandbox enforces on one trigger invocation, and the engine-wide settings
//! those bounds must fit in.

use std::path::PathBuf;
use std::time::Duration;

/// Per-trigger bounds on one invocation. `Limits::default()` gives the figures documented on
/// each field; a trigger registration may lower or raise them within [`RuntimeConfig`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Limits {
    /// Fuel (roughly one unit per wasm instruction) one invocation may burn, instantiation
    /// included. 1 billion is about a second of compute on one core.
    pub fuel_per_invocation: u64,
    /// Wall-clock time one invocation may take, host calls included (Lambda's default
    /// timeout: 3 s). Enforced by epoch interruption, so it fires between `deadline` and
    /// `deadline` plus one [`RuntimeConfig::epoch_tick`], at the guest's next loop iteration
    /// or call; a host call in progress is not interrupted.
    pub deadline: Duration,
    /// Largest linear memory of the instance in bytes (Lambda's smallest function: 128 MB).
    pub memory_bytes_max: u64,
    /// Most elements in any one table of the instance.
    pub table_elements_max: u32,
    /// Most instances one invocation may create; a trigger module is one instance.
    pub instances_max: u32,
    /// Largest module accepted by `compile`, binary or text, in bytes (Lambda's direct upload:
    /// 50 MB zipped; a trigger is one module with no dependencies to bundle).
    pub module_bytes_max: usize,
    /// Largest batch JSON handed to the guest, in bytes (Lambda's synchronous request payload:
    /// 6 MB).
    pub input_bytes_max: usize,
    /// Largest response JSON the guest may return, in bytes (Lambda's synchronous response
    /// payload: 6 MB).
    pub output_bytes_max: usize,
    /// Most log bytes per invocation, each line counted with one byte for its line end
    /// (Lambda truncates the log tail it returns at 4 KB; Eddy keeps whole lines up to this).
    pub log_bytes_max: usize,
    /// Most write-backs (`put_item`, `update_item`, `delete_item`) one invocation may buffer.
    /// They commit in one transaction with the checkpoint.
    pub writes_max: usize,
    /// Most bytes of write-back requests one invocation may buffer (DynamoDB BatchWriteItem:
    /// 16 MB per request).
    pub write_bytes_max: usize,
    /// Largest single host call request (`get_item`, `put_item`, ...) in bytes: a 400 KB item
    /// plus its expressions fits with room to spare.
    pub host_request_bytes_max: usize,
}

impl Default for Limits {
    fn default() -> Self {
        Limits {
            fuel_per_invocation: 1_000_000_000,
            deadline: Duration::from_secs(3),
            memory_bytes_max: 128 * 1024 * 1024,
            table_elements_max: 10_000,
            instances_max: 1,
            module_bytes_max: 8 * 1024 * 1024,
            input_bytes_max: 6 * 1024 * 1024,
            output_bytes_max: 6 * 1024 * 1024,
            log_bytes_max: 256 * 1024,
            writes_max: 1_000,
            write_bytes_max: 16 * 1024 * 1024,
            host_request_bytes_max: 1024 * 1024,
        }
    }
}

/// Engine-wide settings, fixed when the [`Runtime`](crate::sandbox::Runtime) starts.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RuntimeConfig {
    /// Directory of the on-disk compiled-module cache (keyed by SHA-256 of the module and the
    /// engine settings), so a restart does not recompile. `None` compiles every time.
    pub cache_dir: Option<PathBuf>,
    /// Period of the epoch ticker that drives every invocation's deadline: the deadline's
    /// resolution.
    pub epoch_tick: Duration,
    /// Instance slots of the pooling allocator: the most invocations that may run at once
    /// across all modules. Instantiating from a warm slot costs microseconds instead of an
    /// `mmap` per invocation. 0 allocates every instance on demand (no bound, slower).
    pub pool_slots: u32,
    /// Ceiling of any trigger's [`Limits::memory_bytes_max`]: the size of one pool slot's
    /// linear memory. At most 2 GiB, so guest pointers fit the ABI's positive `i64` results.
    pub memory_bytes_ceiling: u64,
    /// Ceiling of any trigger's [`Limits::table_elements_max`].
    pub table_elements_ceiling: u32,
}

impl Default for RuntimeConfig {
    fn default() -> Self {
        RuntimeConfig {
            cache_dir: None,
            epoch_tick: Duration::from_millis(10),
            pool_slots: 64,
            memory_bytes_ceiling: 512 * 1024 * 1024,
            table_elements_ceiling: 100_000,
        }
    }
}

/// Largest linear memory the ABI can address: results pack a pointer into the upper half of a
/// positive `i64`.
pub const MEMORY_BYTES_ABI_MAX: u64 = 1 << 31;
