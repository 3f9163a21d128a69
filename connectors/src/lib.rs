//! Eddy's connectors: the [`sink::Sink`] trait and the pull loop that exports change records to
//! S3-compatible storage and OpenSearch, effectively exactly once.

mod batch;
pub mod config;
pub mod error;
pub mod export;
pub mod factory;
pub mod manager;
pub mod opensearch;
pub mod progress;
pub mod pull;
pub mod s3;
pub mod sink;
mod snapshot;
pub mod status;

pub use error::ConnectorError;
pub use manager::{ConnectorManager, ManagerConfig};
