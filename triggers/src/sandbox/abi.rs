//! The guest ABI: what a trigger module must export and may import, the status codes host
//! functions return, and how results are packed. `docs/triggers.md` is its user-facing form.

use serde_json::Value;
use wasmtime::{ExternType, FuncType, Module, ValType};

use super::error::{InvocationError, SandboxError};

/// The only module a trigger may import from.
pub const HOST_MODULE: &str = "eddy";

/// A host call succeeded (`put_item`, `update_item`, `delete_item`).
pub const STATUS_OK: i32 = 0;
/// The request is not valid JSON or not shaped as the operation asks.
pub const STATUS_BAD_REQUEST: i32 = -1;

/// Host functions and their signatures, `(params, results)`.
const HOST_FUNCTIONS: [(&str, &[ValType], &[ValType]); 5] = [
    ("log", &[ValType::I32, ValType::I32], &[]),
    ("get_item", &[ValType::I32, ValType::I32], &[ValType::I64]),
    ("put_item", &[ValType::I32, ValType::I32], &[ValType::I32]),
    ("update_item", &[ValType::I32, ValType::I32], &[ValType::I32]),
    ("delete_item", &[ValType::I32, ValType::I32], &[ValType::I32]),
];

/// Checks a compiled module against the ABI: exports `memory`, `alloc(i32) -> i32` and
/// `handle(i32, i32) -> i64`; imports only functions of module `eddy`, with their exact types.
pub fn validate(module: &Module) -> Result<(), SandboxError> {
    match module.get_export("memory") {
        None => return Err(SandboxError::MissingExport { name: "memory", expected: "memory" }),
        Some(ExternType::Memory(memory)) if !memory.is_64() && !memory.is_shared() => {}
        Some(other) => {
            return Err(SandboxError::ExportType {
                name: "memory",
                expected: "a 32-bit, unshared memory",
                found: describe(&other),
            });
        }
    }
    export_func(module, "alloc", "func (param i32) (result i32)", &[ValType::I32], &[ValType::I32])?;
    export_func(
        module,
        "handle",
        "func (param i32 i32) (result i64)",
        &[ValType::I32, ValType::I32],
        &[ValType::I64],
    )?;
    for import in module.imports() {
        if import.module() != HOST_MODULE {
            return Err(SandboxError::ForbiddenImport {
                module: import.module().to_owned(),
                name: import.name().to_owned(),
            });
        }
        let Some((_, params, results)) = HOST_FUNCTIONS.iter().find(|(name, ..)| *name == import.name())
        else {
            return Err(SandboxError::UnknownHostFunction { name: import.name().to_owned() });
        };
        let expected = signature_text(import.name());
        match import.ty() {
            ExternType::Func(func) if same_signature(&func, params, results) => {}
            other => {
                return Err(SandboxError::ImportType {
                    name: import.name().to_owned(),
                    expected,
                    found: describe(&other),
                });
            }
        }
    }
    Ok(())
}

fn export_func(
    module: &Module,
    name: &'static str,
    expected: &'static str,
    params: &[ValType],
    results: &[ValType],
) -> Result<(), SandboxError> {
    match module.get_export(name) {
        None => Err(SandboxError::MissingExport { name, expected }),
        Some(ExternType::Func(func)) if same_signature(&func, params, results) => Ok(()),
        Some(other) => Err(SandboxError::ExportType { name, expected, found: describe(&other) }),
    }
}

fn same_signature(func: &FuncType, params: &[ValType], results: &[ValType]) -> bool {
    let same = |found: &mut dyn ExactSizeIterator<Item = ValType>, wanted: &[ValType]| {
        found.len() == wanted.len() && found.zip(wanted).all(|(a, b)| ValType::eq(&a, b))
    };
    same(&mut func.params(), params) && same(&mut func.results(), results)
}

fn signature_text(name: &str) -> &'static str {
    match name {
        "log" => "func (param i32 i32)",
        "get_item" => "func (param i32 i32) (result i64)",
        _ => "func (param i32 i32) (result i32)",
    }
}

fn describe(ty: &ExternType) -> String {
    match ty {
        ExternType::Func(func) => {
            let list = |types: &mut dyn Iterator<Item = ValType>| {
                types.map(|t| t.to_string()).collect::<Vec<_>>().join(" ")
            };
            format!("func (param {}) (result {})", list(&mut func.params()), list(&mut func.results()))
        }
        ExternType::Memory(memory) => {
            let bits = if memory.is_64() { 64 } else { 32 };
            let shared = if memory.is_shared() { "shared " } else { "" };
            format!("a {shared}{bits}-bit memory")
        }
        ExternType::Table(_) => "a table".into(),
        ExternType::Global(_) => "a global".into(),
        ExternType::Tag(_) => "a tag".into(),
    }
}

/// Packs a guest buffer as the ABI's `(ptr << 32) | len`.
pub fn pack(ptr: u32, len: u32) -> i64 {
    (i64::from(ptr) << 32) | i64::from(len)
}

/// Unpacks `(ptr << 32) | len`; the caller has ruled out negative values.
pub fn unpack(packed: i64) -> (u32, u32) {
    let bits = packed as u64;
    ((bits >> 32) as u32, bits as u32)
}

/// The guest's response, parsed: the JSON and the `itemIdentifier`s of `batchItemFailures`.
/// An empty response means `{}`: the whole batch succeeded.
pub fn parse_response(bytes: &[u8]) -> Result<(Value, Vec<String>), InvocationError> {
    if bytes.is_empty() {
        return Ok((Value::Object(Default::default()), Vec::new()));
    }
    let response: Value =
        serde_json::from_slice(bytes).map_err(|e| InvocationError::BadResponse(format!("not JSON: {e}")))?;
    let object = response
        .as_object()
        .ok_or_else(|| InvocationError::BadResponse("the response is not a JSON object".into()))?;
    let failures = match object.get("batchItemFailures") {
        None | Some(Value::Null) => Vec::new(),
        Some(Value::Array(list)) => list
            .iter()
            .map(|entry| match entry.get("itemIdentifier") {
                Some(Value::String(id)) if !id.is_empty() => Ok(id.clone()),
                _ => Err(InvocationError::BadResponse(format!(
                    "batchItemFailures entry {entry} lacks a non-empty string itemIdentifier"
                ))),
            })
            .collect::<Result<_, _>>()?,
        Some(_) => return Err(InvocationError::BadResponse("batchItemFailures is not a list".into())),
    };
    Ok((response, failures))
}
