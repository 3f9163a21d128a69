//! The per-invocation host state and the host functions of module `eddy`: `log`, `get_item`
//! and the buffered write-backs.

use std::sync::Arc;

use serde_json::{Value, json};
use wasmtime::{Caller, Linker, Memory, ResourceLimiter, TypedFunc};

use super::abi::{self, HOST_MODULE, STATUS_BAD_REQUEST, STATUS_OK};
use super::error::InvocationError;
use super::limits::Limits;
use super::writeback::{self, HostReader, WriteBack, WriteKind};

/// Everything one invocation's store holds. A fresh one per invocation, so nothing leaks from
/// one batch to the next.
pub(crate) struct HostState {
    pub limits: Arc<Limits>,
    pub limiter: Limiter,
    pub reader: Arc<dyn HostReader>,
    pub logs: Vec<String>,
    pub log_bytes: usize,
    pub writes: Vec<WriteBack>,
    pub write_bytes: usize,
    /// Set once the instance exists; host calls need them to reach guest memory.
    pub guest: Option<Guest>,
}

#[derive(Clone)]
pub(crate) struct Guest {
    pub memory: Memory,
    pub alloc: TypedFunc<i32, i32>,
}

impl HostState {
    pub fn new(limits: Arc<Limits>, reader: Arc<dyn HostReader>) -> Self {
        HostState {
            limiter: Limiter::new(&limits),
            limits,
            reader,
            logs: Vec::new(),
            log_bytes: 0,
            writes: Vec::new(),
            write_bytes: 0,
            guest: None,
        }
    }
}

/// Why a host call stopped the guest. Carried through wasmtime's error as the root cause and
/// turned into an [`InvocationError`] when the invocation ends.
#[derive(Debug, thiserror::Error)]
#[error("{0}")]
pub(crate) struct HostAbort(pub InvocationError);

/// Memory and table bounds of one invocation. Growing past them traps (rather than returning
/// -1 to the guest), so a memory bomb ends at once with a precise error.
pub(crate) struct Limiter {
    memory_bytes_max: u64,
    table_elements_max: u32,
    instances_max: u32,
}

impl Limiter {
    fn new(limits: &Limits) -> Self {
        Limiter {
            memory_bytes_max: limits.memory_bytes_max,
            table_elements_max: limits.table_elements_max,
            instances_max: limits.instances_max,
        }
    }
}

impl ResourceLimiter for Limiter {
    fn memory_growing(
        &mut self,
        _current: usize,
        desired: usize,
        _maximum: Option<usize>,
    ) -> wasmtime::Result<bool> {
        let desired = desired as u64;
        if desired > self.memory_bytes_max {
            return Err(wasmtime::Error::new(HostAbort(InvocationError::MemoryLimit {
                what: "memory (bytes)",
                requested: desired,
                max: self.memory_bytes_max,
            })));
        }
        Ok(true)
    }

    fn table_growing(
        &mut self,
        _current: usize,
        desired: usize,
        _maximum: Option<usize>,
    ) -> wasmtime::Result<bool> {
        if desired as u64 > u64::from(self.table_elements_max) {
            return Err(wasmtime::Error::new(HostAbort(InvocationError::MemoryLimit {
                what: "table (elements)",
                requested: desired as u64,
                max: u64::from(self.table_elements_max),
            })));
        }
        Ok(true)
    }

    fn instances(&self) -> usize {
        self.instances_max as usize
    }

    fn tables(&self) -> usize {
        1
    }

    fn memories(&self) -> usize {
        1
    }
}

fn abort(error: InvocationError) -> wasmtime::Error {
    wasmtime::Error::new(HostAbort(error))
}

fn guest(caller: &Caller<'_, HostState>) -> wasmtime::Result<Guest> {
    caller.data().guest.clone().ok_or_else(|| {
        abort(InvocationError::BadHostCall(
            "host function called before the instance was ready (from start?)".into(),
        ))
    })
}

/// Copies `len` bytes at `ptr` out of guest memory, bounded by `max`.
fn read_guest(
    caller: &Caller<'_, HostState>,
    what: &str,
    ptr: i32,
    len: i32,
    max: usize,
) -> wasmtime::Result<Vec<u8>> {
    let memory = guest(caller)?.memory;
    let (start, len) = (ptr as u32 as usize, len as u32 as usize);
    if len > max {
        return Err(abort(InvocationError::BadHostCall(format!(
            "{what}: {len} bytes is above the limit of {max}"
        ))));
    }
    let data = memory.data(caller);
    match start.checked_add(len).and_then(|end| data.get(start..end)) {
        Some(bytes) => Ok(bytes.to_vec()),
        None => Err(abort(InvocationError::BadHostCall(format!(
            "{what}: buffer {start}+{len} lies outside guest memory of {} bytes",
            data.len()
        )))),
    }
}

/// Asks the guest's `alloc` for `bytes.len()` bytes and copies `bytes` there.
pub(crate) fn write_guest(
    mut caller: impl wasmtime::AsContextMut<Data = HostState>,
    what: &str,
    bytes: &[u8],
) -> wasmtime::Result<u32> {
    let guest = caller
        .as_context()
        .data()
        .guest
        .clone()
        .ok_or_else(|| abort(InvocationError::BadHostCall(format!("{what}: no instance"))))?;
    let len = i32::try_from(bytes.len()).map_err(|_| {
        abort(InvocationError::BadHostCall(format!("{what}: {} bytes do not fit i32", bytes.len())))
    })?;
    let ptr = guest.alloc.call(&mut caller, len)? as u32;
    guest.memory.write(&mut caller, ptr as usize, bytes).map_err(|_| {
        abort(InvocationError::BadHostCall(format!(
            "{what}: alloc({len}) returned {ptr}, outside guest memory"
        )))
    })?;
    Ok(ptr)
}

/// Defines module `eddy` in `linker`.
pub(crate) fn define(linker: &mut Linker<HostState>) -> wasmtime::Result<()> {
    linker.func_wrap(HOST_MODULE, "log", log)?;
    linker.func_wrap(HOST_MODULE, "get_item", get_item)?;
    linker.func_wrap(HOST_MODULE, "put_item", |c: Caller<'_, HostState>, p: i32, l: i32| {
        buffer(c, WriteKind::Put, p, l)
    })?;
    linker.func_wrap(HOST_MODULE, "update_item", |c: Caller<'_, HostState>, p: i32, l: i32| {
        buffer(c, WriteKind::Update, p, l)
    })?;
    linker.func_wrap(HOST_MODULE, "delete_item", |c: Caller<'_, HostState>, p: i32, l: i32| {
        buffer(c, WriteKind::Delete, p, l)
    })?;
    Ok(())
}

fn log(mut caller: Caller<'_, HostState>, ptr: i32, len: i32) -> wasmtime::Result<()> {
    let max = caller.data().limits.log_bytes_max;
    let used = caller.data().log_bytes;
    let cost = (len as u32 as usize).saturating_add(1);
    if used.saturating_add(cost) > max {
        return Err(abort(InvocationError::LogTooLarge { max }));
    }
    let bytes = read_guest(&caller, "log", ptr, len, max)?;
    let state = caller.data_mut();
    state.log_bytes += cost;
    state.logs.push(String::from_utf8_lossy(&bytes).into_owned());
    Ok(())
}

/// Notes a rejected request in the invocation's logs, so a guest that ignores the status still
/// leaves a trace. Host notes do not count against the guest's log limit.
fn note(state: &mut HostState, function: &str, reason: &str) {
    state.logs.push(format!("eddy: {function} rejected: {reason}"));
}

fn get_item(mut caller: Caller<'_, HostState>, ptr: i32, len: i32) -> wasmtime::Result<i64> {
    let max = caller.data().limits.host_request_bytes_max;
    let bytes = read_guest(&caller, "get_item", ptr, len, max)?;
    let request: Value = match serde_json::from_slice(&bytes) {
        Ok(request) => request,
        Err(e) => {
            note(caller.data_mut(), "get_item", &format!("request is not JSON: {e}"));
            return Ok(i64::from(STATUS_BAD_REQUEST));
        }
    };
    let (table, key) = match writeback::check_get_request(&request) {
        Ok(found) => found,
        Err(reason) => {
            note(caller.data_mut(), "get_item", &reason);
            return Ok(i64::from(STATUS_BAD_REQUEST));
        }
    };
    let state = caller.data();
    let committed = state.reader.get_item(table, key).map_err(|e| abort(InvocationError::HostRead(e)))?;
    let seen = writeback::overlay(state.reader.as_ref(), table, key, committed, &state.writes)
        .map_err(|e| abort(InvocationError::HostRead(e)))?;
    let mut answer = serde_json::Map::new();
    if let Some(item) = seen.item {
        answer.insert("Item".into(), item);
    }
    if seen.unapplied_updates > 0 {
        answer.insert("UnappliedUpdates".into(), json!(seen.unapplied_updates));
    }
    let body = serde_json::to_vec(&Value::Object(answer))?;
    let ptr = write_guest(&mut caller, "get_item", &body)?;
    // `write_guest` proved `body.len()` fits an i32.
    Ok(abi::pack(ptr, body.len() as u32))
}

fn buffer(mut caller: Caller<'_, HostState>, kind: WriteKind, ptr: i32, len: i32) -> wasmtime::Result<i32> {
    let function = kind.host_function();
    let limits = Arc::clone(&caller.data().limits);
    let bytes = read_guest(&caller, function, ptr, len, limits.host_request_bytes_max)?;
    let request: Value = match serde_json::from_slice(&bytes) {
        Ok(request) => request,
        Err(e) => {
            note(caller.data_mut(), function, &format!("request is not JSON: {e}"));
            return Ok(STATUS_BAD_REQUEST);
        }
    };
    if let Err(reason) = writeback::check_request(kind, &request) {
        note(caller.data_mut(), function, &reason);
        return Ok(STATUS_BAD_REQUEST);
    }
    let state = caller.data_mut();
    if state.writes.len() >= limits.writes_max || state.write_bytes + bytes.len() > limits.write_bytes_max {
        return Err(abort(InvocationError::TooManyWrites {
            writes_max: limits.writes_max,
            bytes_max: limits.write_bytes_max,
        }));
    }
    state.write_bytes += bytes.len();
    state.writes.push(WriteBack { kind, request });
    Ok(STATUS_OK)
}
