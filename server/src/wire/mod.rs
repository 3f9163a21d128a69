//! Wire shapes: DynamoDB JSON for attribute values and items, and the TableDescription.

pub mod table;
pub mod time;
pub mod value;
