//! The sandbox runtime: one wasmtime engine with fuel, epoch interruption, an instance pool and
//! an on-disk compile cache, plus the ticker thread that drives every deadline.

use std::sync::Arc;
use std::sync::mpsc::{self, RecvTimeoutError, Sender};
use std::thread::JoinHandle;
use std::time::Duration;

use sha2::{Digest, Sha256};
use wasmtime::{
    Cache, CacheConfig, Config, Engine, InstanceAllocationStrategy, InstancePre, Linker, Module, OptLevel,
    PoolingAllocationConfig,
};

use super::abi;
use super::error::SandboxError;
use super::host::{self, HostState};
use super::limits::{Limits, MEMORY_BYTES_ABI_MAX, RuntimeConfig};

/// Compiles trigger modules and runs their invocations. Cheap to share (`Clone`); every
/// module compiled by it shares one engine, one instance pool and one epoch ticker.
#[derive(Clone)]
pub struct Runtime {
    pub(crate) shared: Arc<Shared>,
}

pub(crate) struct Shared {
    pub engine: Engine,
    pub linker: Linker<HostState>,
    pub config: RuntimeConfig,
    cache: Option<Cache>,
    /// Held for its `Drop`: the ticker runs as long as any runtime or module handle.
    _ticker: Ticker,
}

/// A module that passed validation, compiled and pre-linked: each invocation instantiates it
/// afresh from `pre`. Cheap to clone; keeps the runtime's engine and ticker alive.
#[derive(Clone)]
pub struct CompiledModule {
    pub(crate) shared: Arc<Shared>,
    pub(crate) pre: InstancePre<HostState>,
    pub(crate) limits: Arc<Limits>,
    digest: [u8; 32],
}

impl Runtime {
    /// Starts a runtime: builds the engine and starts the epoch ticker thread.
    pub fn new(config: RuntimeConfig) -> Result<Runtime, SandboxError> {
        if config.memory_bytes_ceiling > MEMORY_BYTES_ABI_MAX {
            return Err(SandboxError::Config(format!(
                "memory_bytes_ceiling {} is above the ABI's {MEMORY_BYTES_ABI_MAX} bytes",
                config.memory_bytes_ceiling
            )));
        }
        if config.epoch_tick.is_zero() {
            return Err(SandboxError::Config("epoch_tick must be above zero".into()));
        }
        let mut wasm = Config::new();
        wasm.consume_fuel(true).epoch_interruption(true).cranelift_opt_level(OptLevel::Speed);
        if config.pool_slots > 0 {
            let slots = config.pool_slots;
            let mut pool = PoolingAllocationConfig::new();
            pool.total_core_instances(slots)
                .total_memories(slots)
                .total_tables(slots)
                .total_component_instances(0)
                .max_memories_per_module(1)
                .max_tables_per_module(1)
                .max_memory_size(config.memory_bytes_ceiling as usize)
                .table_elements(config.table_elements_ceiling as usize);
            wasm.allocation_strategy(InstanceAllocationStrategy::Pooling(pool));
        }
        let cache = match &config.cache_dir {
            None => None,
            Some(dir) => {
                let failed = |reason: String| SandboxError::Cache { dir: dir.display().to_string(), reason };
                std::fs::create_dir_all(dir).map_err(|e| failed(e.to_string()))?;
                let mut settings = CacheConfig::new();
                settings.with_directory(dir);
                Some(Cache::new(settings).map_err(|e| failed(format!("{e:#}")))?)
            }
        };
        wasm.cache(cache.clone());
        let engine = Engine::new(&wasm).map_err(|e| SandboxError::Config(format!("{e:#}")))?;
        let mut linker = Linker::new(&engine);
        host::define(&mut linker).map_err(|e| SandboxError::Config(format!("{e:#}")))?;
        let _ticker = Ticker::start(engine.clone(), config.epoch_tick)?;
        Ok(Runtime { shared: Arc::new(Shared { engine, linker, config, cache, _ticker }) })
    }

    /// Validates and compiles a module (wasm binary or WAT text) under `limits`. Compilation
    /// goes through the on-disk cache when the runtime has one, so a module seen before (by
    /// this process or an earlier one) is loaded instead of recompiled.
    pub fn compile(&self, module: &[u8], limits: Limits) -> Result<CompiledModule, SandboxError> {
        let shared = &self.shared;
        if module.len() > limits.module_bytes_max {
            return Err(SandboxError::ModuleTooLarge { bytes: module.len(), max: limits.module_bytes_max });
        }
        let ceilings = [
            ("memory_bytes_max", limits.memory_bytes_max, shared.config.memory_bytes_ceiling),
            (
                "table_elements_max",
                u64::from(limits.table_elements_max),
                u64::from(shared.config.table_elements_ceiling),
            ),
        ];
        for (what, requested, ceiling) in ceilings {
            if requested > ceiling {
                return Err(SandboxError::LimitAboveCeiling { what, requested, ceiling });
            }
        }
        let compiled =
            Module::new(&shared.engine, module).map_err(|e| SandboxError::InvalidModule(format!("{e:#}")))?;
        abi::validate(&compiled)?;
        let pre = shared
            .linker
            .instantiate_pre(&compiled)
            .map_err(|e| SandboxError::ExceedsPool(format!("{e:#}")))?;
        Ok(CompiledModule {
            shared: Arc::clone(shared),
            pre,
            limits: Arc::new(limits),
            digest: Sha256::digest(module).into(),
        })
    }

    /// Modules loaded from the on-disk cache instead of compiled, since this runtime started.
    pub fn cache_hits(&self) -> usize {
        self.shared.cache.as_ref().map_or(0, Cache::cache_hits)
    }

    /// Modules compiled and stored in the on-disk cache, since this runtime started.
    pub fn cache_misses(&self) -> usize {
        self.shared.cache.as_ref().map_or(0, Cache::cache_misses)
    }
}

impl CompiledModule {
    /// SHA-256 of the module bytes as given to `compile`, in lowercase hex: a stable id for
    /// the module version.
    pub fn digest_hex(&self) -> String {
        self.digest.iter().map(|b| format!("{b:02x}")).collect()
    }

    /// The limits every invocation of this module runs under.
    pub fn limits(&self) -> &Limits {
        &self.limits
    }
}

impl std::fmt::Debug for CompiledModule {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("CompiledModule")
            .field("digest", &self.digest_hex())
            .field("limits", &self.limits)
            .finish()
    }
}

impl std::fmt::Debug for Runtime {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Runtime").field("config", &self.shared.config).finish()
    }
}

/// Advances the engine's epoch every tick; stops when the last runtime or module handle is
/// dropped (dropping the sender wakes it at once).
struct Ticker {
    stop: Option<Sender<()>>,
    thread: Option<JoinHandle<()>>,
}

impl Ticker {
    fn start(engine: Engine, tick: Duration) -> Result<Ticker, SandboxError> {
        let (stop, stopped) = mpsc::channel::<()>();
        let thread = std::thread::Builder::new()
            .name("eddy-trigger-epoch".into())
            .spawn(move || {
                while let Err(RecvTimeoutError::Timeout) = stopped.recv_timeout(tick) {
                    engine.increment_epoch();
                }
            })
            .map_err(|e| SandboxError::Config(format!("cannot start the epoch ticker thread: {e}")))?;
        Ok(Ticker { stop: Some(stop), thread: Some(thread) })
    }
}

impl Drop for Ticker {
    fn drop(&mut self) {
        drop(self.stop.take());
        if let Some(thread) = self.thread.take() {
            // A panic in the ticker thread is impossible short of a bug in increment_epoch;
            // nothing is left to clean up either way.
            let _ = thread.join();
        }
    }
}
