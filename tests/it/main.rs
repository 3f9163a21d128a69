//! Integration tests: the real server process driven through the AWS SDK for Rust, one module per
//! scenario.

#![allow(clippy::unwrap_used, clippy::expect_used)]

mod bad_input;
mod batch;
mod control_plane;
mod durability;
mod items;
mod model;
mod numbers;
mod query_scan;
mod update;
