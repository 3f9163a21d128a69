//! Eddy's connectors: the [`sink::Sink`] trait and the pull loop that exports change records to
//! S3-compatible storage and OpenSearch, effectively exactly once.

pub mod sink;
