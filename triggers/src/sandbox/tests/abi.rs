//! Modules that do not follow the ABI are refused at compile time with an error naming what
//! is wrong; nothing from WASI is available.

use super::{compile, echo_after, limits, runtime};
use crate::sandbox::{Limits, SandboxError};

fn refused(wat: &str) -> SandboxError {
    runtime().compile(wat.as_bytes(), limits()).unwrap_err()
}

#[test]
fn wasi_import_is_refused() {
    let wat = echo_after("").replace(
        "(memory (export",
        "(import \"wasi_snapshot_preview1\" \"fd_write\" (func (param i32 i32 i32 i32) (result i32)))\n  (memory (export",
    );
    let error = refused(&wat);
    assert_eq!(
        error,
        SandboxError::ForbiddenImport { module: "wasi_snapshot_preview1".into(), name: "fd_write".into() }
    );
    assert!(error.to_string().contains("no WASI"), "{error}");
}

#[test]
fn module_exporting_nothing_is_refused() {
    assert_eq!(refused("(module)"), SandboxError::MissingExport { name: "memory", expected: "memory" });
}

#[test]
fn module_without_handle_is_refused() {
    let wat = echo_after("").replace("(export \"handle\")", "");
    assert_eq!(
        refused(&wat),
        SandboxError::MissingExport { name: "handle", expected: "func (param i32 i32) (result i64)" }
    );
}

#[test]
fn alloc_with_the_wrong_signature_is_refused() {
    let wat = r#"(module (memory (export "memory") 1)
        (func (export "alloc") (param i64) (result i32) (i32.const 0))
        (func (export "handle") (param i32 i32) (result i64) (i64.const 0)))"#;
    let error = refused(wat);
    assert_eq!(
        error,
        SandboxError::ExportType {
            name: "alloc",
            expected: "func (param i32) (result i32)",
            found: "func (param i64) (result i32)".into()
        }
    );
}

#[test]
fn unknown_or_mistyped_host_functions_are_refused() {
    let wat = echo_after("")
        .replace("(memory (export", "(import \"eddy\" \"scan\" (func (param i32 i32)))\n  (memory (export");
    assert_eq!(refused(&wat), SandboxError::UnknownHostFunction { name: "scan".into() });

    let wat = echo_after("").replace(
        "(import \"eddy\" \"log\" (func $log (param i32 i32)))",
        "(import \"eddy\" \"log\" (func $log (param i32 i32)))\n  (import \"eddy\" \"put_item\" (func (param i32) (result i32)))",
    );
    assert_eq!(
        refused(&wat),
        SandboxError::ImportType {
            name: "put_item".into(),
            expected: "func (param i32 i32) (result i32)",
            found: "func (param i32) (result i32)".into()
        }
    );

    let wat = echo_after("")
        .replace("(memory (export", "(import \"eddy\" \"memory\" (memory 1))\n  (memory (export");
    assert_eq!(refused(&wat), SandboxError::UnknownHostFunction { name: "memory".into() });
}

#[test]
fn garbage_is_not_a_module() {
    let error = runtime().compile(b"\0asm\x01\0\0\0garbage", limits()).unwrap_err();
    assert!(matches!(&error, SandboxError::InvalidModule(_)), "{error}");
    let error = runtime().compile(b"(module (func (export \"x\") (i32.add)))", limits()).unwrap_err();
    assert!(matches!(&error, SandboxError::InvalidModule(_)), "{error}");
}

#[test]
fn module_above_the_size_limit_is_refused_before_compiling() {
    let wat = echo_after("");
    let limits = Limits { module_bytes_max: 100, ..limits() };
    assert_eq!(
        runtime().compile(wat.as_bytes(), limits).unwrap_err(),
        SandboxError::ModuleTooLarge { bytes: wat.len(), max: 100 }
    );
}

#[test]
fn limits_above_the_runtime_ceiling_are_refused() {
    let limits = Limits { memory_bytes_max: 1 << 30, ..limits() };
    assert_eq!(
        runtime().compile(echo_after("").as_bytes(), limits).unwrap_err(),
        SandboxError::LimitAboveCeiling { what: "memory_bytes_max", requested: 1 << 30, ceiling: 64 << 20 }
    );
}

#[test]
fn module_whose_initial_memory_exceeds_its_limit_fails_to_instantiate() {
    let runtime = runtime();
    let wat = echo_after("").replace("(memory (export \"memory\") 2)", "(memory (export \"memory\") 100)");
    let module = compile(&runtime, &wat, limits());
    let error = module.invoke(b"{}", super::no_items()).unwrap_err();
    assert!(matches!(error, crate::sandbox::InvocationError::MemoryLimit { .. }), "{error}");
}
