//! Eddy's table store: the data model, the DynamoDB expression languages, validation and
//! limits, storage on redb and the single-writer group-commit pipeline.
//!
//! This crate knows nothing of HTTP or of the JSON wire format: the server converts requests
//! into the types here and maps [`Error`] to DynamoDB error types.

pub mod expr;
pub mod limits;
pub mod number;
pub mod value;

pub use limits::Limits;
pub use number::{Number, NumberError};
pub use value::{AttributeValue, Item, ValueType};
