//! Eddy's table store: the data model, the DynamoDB expression languages, validation and
//! limits, storage on redb and the single-writer group-commit pipeline.
//!
//! This crate knows nothing of HTTP or of the JSON wire format: the server converts requests
//! into the types here and maps [`Error`] to DynamoDB error types.

pub mod capacity;
pub mod changelog;
pub mod clock;
pub mod codec;
pub mod error;
pub mod expr;
pub mod index;
pub mod key;
pub mod limits;
pub mod number;
pub mod partiql;
pub mod schema;
pub mod store;
pub mod value;

pub use clock::{Clock, SystemClock};
pub use error::Error;
pub use key::{KeyAttribute, KeySchema, PrimaryKey, ScalarType};
pub use limits::Limits;
pub use number::{Number, NumberError};
pub use store::Store;
pub use value::{AttributeValue, Item, ValueType};
