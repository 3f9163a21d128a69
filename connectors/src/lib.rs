//! Eddy's connectors: the `Sink` trait and the pull loop that exports change records to
//! S3-compatible storage and OpenSearch.
//!
//! This crate is a placeholder until connectors land; see `ARCHITECTURE.md` for its boundary.
