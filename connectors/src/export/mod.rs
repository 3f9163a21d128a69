//! Table export to S3 in DynamoDB's export format: a consistent snapshot of one table, taken
//! when the export is requested, written as gzipped DynamoDB JSON data files plus the
//! `manifest-summary.json` and `manifest-files.json` that DynamoDB writes (see
//! `docs/exports.md`). [`Exports`] starts export jobs and keeps their durable records.

mod error;
mod exports;
mod job;
mod layout;
mod limits;
mod record;
mod request;
mod time;

pub use error::ExportError;
pub use exports::{ExportPage, Exports, ExportsConfig};
pub use limits::ExportLimits;
pub use record::{ExportRecord, ExportStatus};
pub use request::{Destination, ExportFormat, ExportRequest};
pub use time::iso8601_millis;
