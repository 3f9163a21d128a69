//! The expression parameters shared by data-plane requests: ExpressionAttributeNames and
//! ExpressionAttributeValues, checked as DynamoDB checks them, and parsing of each expression.

use std::collections::BTreeMap;

use eddy_core::expr::{
    Condition, ExpressionKind, KeyCondition, Placeholders, Projection, UpdateExpression, parse_condition,
    parse_key_condition, parse_projection, parse_update,
};

use crate::error::ApiError;
use crate::wire::value::RawValue;

/// The placeholders of one request, ready for its expressions.
pub struct Expressions {
    placeholders: Placeholders,
    any_expression: bool,
    names_given: bool,
    values_given: bool,
}

impl Expressions {
    /// Checks the placeholder maps (keys, emptiness, values).
    pub fn new(
        names: Option<BTreeMap<String, String>>,
        values: Option<BTreeMap<String, RawValue>>,
    ) -> Result<Self, ApiError> {
        let names_given = names.is_some();
        let values_given = values.is_some();
        let names = names.unwrap_or_default();
        if names_given && names.is_empty() {
            return Err(ApiError::validation("ExpressionAttributeNames must not be empty"));
        }
        if let Some(bad) = names.keys().find(|k| !k.starts_with('#') || k.len() < 2) {
            return Err(ApiError::validation(format!(
                "ExpressionAttributeNames contains invalid key: Syntax error; key: \"{bad}\""
            )));
        }
        let values = values.unwrap_or_default();
        if values_given && values.is_empty() {
            return Err(ApiError::validation("ExpressionAttributeValues must not be empty"));
        }
        let mut converted = BTreeMap::new();
        for (k, v) in values {
            if !k.starts_with(':') || k.len() < 2 {
                return Err(ApiError::validation(format!(
                    "ExpressionAttributeValues contains invalid key: Syntax error; key: \"{k}\""
                )));
            }
            let value = v.into_value().map_err(|e| {
                ApiError::validation(format!(
                    "ExpressionAttributeValues contains invalid value: {} for key {k}",
                    e.message()
                ))
            })?;
            converted.insert(k, value);
        }
        Ok(Expressions {
            placeholders: Placeholders::new(names, converted),
            any_expression: false,
            names_given,
            values_given,
        })
    }

    /// ConditionExpression or FilterExpression.
    pub fn condition(
        &mut self,
        text: Option<&str>,
        kind: ExpressionKind,
    ) -> Result<Option<Condition>, ApiError> {
        let Some(text) = text else { return Ok(None) };
        self.any_expression = true;
        Ok(Some(parse_condition(text, kind, &mut self.placeholders)?))
    }

    /// UpdateExpression.
    pub fn update(&mut self, text: Option<&str>) -> Result<Option<UpdateExpression>, ApiError> {
        let Some(text) = text else { return Ok(None) };
        self.any_expression = true;
        Ok(Some(parse_update(text, &mut self.placeholders)?))
    }

    /// ProjectionExpression.
    pub fn projection(&mut self, text: Option<&str>) -> Result<Option<Projection>, ApiError> {
        let Some(text) = text else { return Ok(None) };
        self.any_expression = true;
        Ok(Some(parse_projection(text, &mut self.placeholders)?))
    }

    /// KeyConditionExpression.
    pub fn key_condition(
        &mut self,
        text: &str,
        partition_key: &str,
        sort_key: Option<&str>,
    ) -> Result<KeyCondition, ApiError> {
        self.any_expression = true;
        Ok(parse_key_condition(text, &mut self.placeholders, partition_key, sort_key)?)
    }

    /// After all expressions: placeholders without expressions, and unused placeholders, are errors.
    pub fn finish(self) -> Result<(), ApiError> {
        if !self.any_expression {
            if self.values_given {
                return Err(ApiError::validation(
                    "ExpressionAttributeValues can only be specified when using expressions",
                ));
            }
            if self.names_given {
                return Err(ApiError::validation(
                    "ExpressionAttributeNames can only be specified when using expressions",
                ));
            }
            return Ok(());
        }
        Ok(self.placeholders.check_all_used()?)
    }
}
