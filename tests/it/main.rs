//! Integration tests: the real server process driven through the AWS SDK for Rust, one module per
//! scenario.

#![allow(clippy::unwrap_used, clippy::expect_used)]

mod bad_input;
mod batch;
mod capacity;
mod connectors_opensearch;
mod connectors_s3;
mod connectors_totals;
mod consumers;
mod control_plane;
mod durability;
mod exports;
mod gsi;
mod index_model;
mod items;
mod legacy;
mod lsi;
mod model;
mod numbers;
mod partiql;
mod query_scan;
mod stream_invariants;
mod streams_api;
mod subscriptions;
mod transactions;
mod trigger_delay;
mod trigger_groups;
mod triggers;
mod update;
