//! Eddy's trigger host: wasm modules run in a wasmtime sandbox on a table's change records.
//!
//! This crate is a placeholder until triggers land; see `ARCHITECTURE.md` for its boundary.
