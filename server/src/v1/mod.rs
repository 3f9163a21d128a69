//! Eddy's own REST API under `/v1`: PascalCase JSON bodies like the AWS APIs, errors as
//! `{"__type": ..., "message": ...}` with HTTP statuses, documented in `docs/api.md`.

pub mod connectors;
pub mod consumers;
pub mod dev;
pub mod exports;
pub mod response;
pub mod retention;
pub mod stream;
pub mod triggers;
