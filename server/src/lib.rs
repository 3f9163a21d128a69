//! Eddy's server: the DynamoDB JSON 1.0 protocol over axum, configuration, and the `eddy` CLI.
//!
//! Business logic lives in `eddy-core`; this crate converts wire shapes into core types, maps
//! core errors to DynamoDB error types (in one place, [`error`]), and wires the process together.

pub mod app;
pub mod auth;
pub mod bench;
pub mod cli;
pub mod config;
pub mod connector_cli;
pub mod dev_clock;
pub mod error;
mod ops;
pub mod rest_client;
pub mod serve;
pub mod tail;
pub mod trigger_cli;
pub mod v1;
pub mod wire;
