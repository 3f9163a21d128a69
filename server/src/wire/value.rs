//! Attribute values on the wire: the DynamoDB JSON codec lives in `eddy_streams::json` (stream
//! records and trigger write-backs use it too); this module maps its errors to DynamoDB errors.

use eddy_core::Item;
pub use eddy_streams::json::{JsonValueError, RawItem, RawValue, Wire, WireItem, WireItems};

use crate::error::ApiError;

impl From<JsonValueError> for ApiError {
    fn from(e: JsonValueError) -> Self {
        match e {
            JsonValueError::Validation(m) => ApiError::validation(m),
            JsonValueError::Serialization(m) => ApiError::serialization(m),
            // A future kind of refusal is still the caller's mistake.
            other => ApiError::validation(other.message().to_string()),
        }
    }
}

/// Validates and converts an item.
pub fn item_from_raw(raw: RawItem) -> Result<Item, ApiError> {
    Ok(eddy_streams::json::item_from_raw(raw)?)
}
