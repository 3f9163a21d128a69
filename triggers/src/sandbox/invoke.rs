//! One invocation: a fresh instance from the pre-linked module, the batch written into guest
//! memory, `handle` called under fuel, deadline and memory limits, the response read back.

use std::sync::Arc;
use std::time::{Duration, Instant};

use serde_json::Value;
use wasmtime::{Store, Trap};

use super::abi;
use super::error::InvocationError;
use super::host::{self, Guest, HostAbort, HostState};
use super::runtime::CompiledModule;
use super::writeback::{HostReader, WriteBack};

/// What one successful invocation produced. Nothing here is committed yet: the caller commits
/// `writes` with the trigger's checkpoint, or drops them if it retries the batch.
#[derive(Debug, Clone, PartialEq)]
pub struct Invocation {
    /// The guest's response JSON (`{}` when it returned nothing).
    pub response: Value,
    /// `batchItemFailures[].itemIdentifier` of the response, in order: the sequence numbers of
    /// the records the guest failed (empty: the whole batch succeeded).
    pub batch_item_failures: Vec<String>,
    /// Log lines, in order; lines starting `eddy: ` are host notes on rejected requests.
    pub logs: Vec<String>,
    /// Buffered write-backs, in the order issued.
    pub writes: Vec<WriteBack>,
    /// Fuel burned, instantiation included.
    pub fuel_consumed: u64,
    /// Wall-clock time from instantiation to the response.
    pub elapsed: Duration,
}

impl CompiledModule {
    /// Runs the module once on a batch (`{"Records": [...]}` as JSON bytes), reading committed
    /// items through `reader`. Safe to call from many threads at once; each call has its own
    /// instance and limits. A trap, a runaway loop or a memory bomb fails this call only.
    pub fn invoke(
        &self,
        batch_json: &[u8],
        reader: Arc<dyn HostReader>,
    ) -> Result<Invocation, InvocationError> {
        let limits = &self.limits;
        if batch_json.len() > limits.input_bytes_max {
            return Err(InvocationError::InputTooLarge {
                bytes: batch_json.len(),
                max: limits.input_bytes_max,
            });
        }
        let input_len = i32::try_from(batch_json.len()).map_err(|_| InvocationError::InputTooLarge {
            bytes: batch_json.len(),
            max: i32::MAX as usize,
        })?;
        let mut store = Store::new(&self.shared.engine, HostState::new(Arc::clone(limits), reader));
        store.limiter(|state| &mut state.limiter);
        store
            .set_fuel(limits.fuel_per_invocation)
            .map_err(|e| InvocationError::Instantiate(format!("{e:#}")))?;
        let tick = self.shared.config.epoch_tick;
        // One tick more than the quotient: the epoch may advance right after this call.
        let ticks = limits.deadline.as_nanos().div_ceil(tick.as_nanos().max(1)) + 1;
        store.set_epoch_deadline(u64::try_from(ticks).unwrap_or(u64::MAX));
        store.epoch_deadline_trap();
        let started = Instant::now();

        let outcome = self.run(&mut store, batch_json, input_len);
        let elapsed = started.elapsed();
        let fuel_consumed = limits.fuel_per_invocation.saturating_sub(store.get_fuel().unwrap_or(0));
        let bytes = outcome.map_err(|e| self.classify(e, elapsed))?;
        let (response, batch_item_failures) = abi::parse_response(&bytes)?;
        let state = store.into_data();
        Ok(Invocation {
            response,
            batch_item_failures,
            logs: state.logs,
            writes: state.writes,
            fuel_consumed,
            elapsed,
        })
    }

    /// Instantiates, hands over the batch, calls `handle` and copies the response out.
    fn run(&self, store: &mut Store<HostState>, batch: &[u8], input_len: i32) -> Result<Vec<u8>, Failure> {
        let instance = self.pre.instantiate(&mut *store).map_err(Failure::Instantiate)?;
        // `compile` validated these exports, so a miss here is a bug in the ABI check.
        let missing =
            |what: &str| Failure::Done(InvocationError::BadResponse(format!("export `{what}` vanished")));
        let memory = instance.get_memory(&mut *store, "memory").ok_or_else(|| missing("memory"))?;
        let alloc =
            instance.get_typed_func::<i32, i32>(&mut *store, "alloc").map_err(|_| missing("alloc"))?;
        let handle = instance
            .get_typed_func::<(i32, i32), i64>(&mut *store, "handle")
            .map_err(|_| missing("handle"))?;
        store.data_mut().guest = Some(Guest { memory, alloc });

        let ptr = host::write_guest(&mut *store, "batch input", batch).map_err(Failure::Wasm)?;
        let packed = handle.call(&mut *store, (ptr as i32, input_len)).map_err(Failure::Wasm)?;
        if packed < 0 {
            return Err(Failure::Done(InvocationError::GuestFailed { code: packed }));
        }
        let (out_ptr, out_len) = abi::unpack(packed);
        let max = self.limits.output_bytes_max;
        if out_len as usize > max {
            return Err(Failure::Done(InvocationError::OutputTooLarge { bytes: u64::from(out_len), max }));
        }
        let data = memory.data(&*store);
        let (start, end) = (out_ptr as usize, out_ptr as usize + out_len as usize);
        data.get(start..end).map(<[u8]>::to_vec).ok_or_else(|| {
            Failure::Done(InvocationError::BadResponse(format!(
                "response buffer {start}+{out_len} lies outside guest memory of {} bytes",
                data.len()
            )))
        })
    }

    /// Names the cause of a failed invocation.
    fn classify(&self, failure: Failure, elapsed: Duration) -> InvocationError {
        let (error, instantiating) = match failure {
            Failure::Done(error) => return error,
            Failure::Instantiate(error) => (error, true),
            Failure::Wasm(error) => (error, false),
        };
        if let Some(HostAbort(cause)) = error.downcast_ref::<HostAbort>() {
            return cause.clone();
        }
        match error.downcast_ref::<Trap>() {
            Some(Trap::OutOfFuel) => InvocationError::FuelExhausted { fuel: self.limits.fuel_per_invocation },
            Some(Trap::Interrupt) => {
                InvocationError::DeadlineExceeded { deadline: self.limits.deadline, after: elapsed }
            }
            Some(trap) => {
                let message = trap.to_string();
                InvocationError::Trap(message.strip_prefix("wasm trap: ").unwrap_or(&message).to_owned())
            }
            None if instantiating => {
                let message = format!("{error:#}");
                if message.contains("concurrent")
                    || message.contains("maximum") && message.contains("instances")
                {
                    InvocationError::PoolExhausted { slots: self.shared.config.pool_slots }
                } else {
                    InvocationError::Instantiate(message)
                }
            }
            None => InvocationError::Trap(format!("{error:#}")),
        }
    }
}

/// How `run` stopped: an error already named, or a wasmtime error still to classify.
enum Failure {
    Done(InvocationError),
    Instantiate(wasmtime::Error),
    Wasm(wasmtime::Error),
}
