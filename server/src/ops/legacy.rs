//! The legacy (pre-expression) parameters on the wire (`Expected`, `ConditionalOperator`,
//! `AttributeUpdates`, `KeyConditions`, `QueryFilter`, `ScanFilter`), parsed into core's typed
//! inputs (`eddy_core::expr::legacy`), and DynamoDB's rule against mixing them with expression
//! parameters. The response-shaping parameters ReturnConsumedCapacity and
//! ReturnItemCollectionMetrics are read here too, since every data-plane request carries them.
//!
//! ReturnItemCollectionMetrics = SIZE is accepted and returns no ItemCollectionMetrics:
//! DynamoDB reports item collections only for tables with local secondary indexes, and Eddy
//! does not measure them yet, so only tables without local indexes get DynamoDB's answer.

use std::collections::BTreeMap;

use eddy_core::AttributeValue;
use eddy_core::capacity::Detail;
use eddy_core::expr::legacy::{
    self, AttributeCondition, AttributeUpdate, AttributeUpdateAction, ComparisonOperator,
    ConditionalOperator, ExpectedCondition,
};
use eddy_core::expr::{Condition, KeyCondition, UpdateExpression};
use serde::Deserialize;

use crate::error::ApiError;
use crate::wire::value::RawValue;

/// One entry of Expected as sent.
#[derive(Deserialize)]
#[serde(rename_all = "PascalCase")]
pub(super) struct RawExpected {
    value: Option<RawValue>,
    exists: Option<bool>,
    comparison_operator: Option<String>,
    attribute_value_list: Option<Vec<RawValue>>,
}

/// One entry of KeyConditions, QueryFilter or ScanFilter as sent.
#[derive(Deserialize)]
#[serde(rename_all = "PascalCase")]
pub(super) struct RawCondition {
    comparison_operator: Option<String>,
    attribute_value_list: Option<Vec<RawValue>>,
}

/// One entry of AttributeUpdates as sent.
#[derive(Deserialize)]
#[serde(rename_all = "PascalCase")]
pub(super) struct RawAttributeUpdate {
    value: Option<RawValue>,
    action: Option<String>,
}

/// The legacy parameters of a request, and its ReturnConsumedCapacity and
/// ReturnItemCollectionMetrics. Each operation takes the ones it accepts; DynamoDB ignores
/// members an operation does not have, and so does Eddy.
#[derive(Default, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub(super) struct LegacyParameters {
    expected: Option<BTreeMap<String, RawExpected>>,
    conditional_operator: Option<String>,
    attribute_updates: Option<BTreeMap<String, RawAttributeUpdate>>,
    key_conditions: Option<BTreeMap<String, RawCondition>>,
    query_filter: Option<BTreeMap<String, RawCondition>>,
    scan_filter: Option<BTreeMap<String, RawCondition>>,
    return_item_collection_metrics: Option<String>,
    return_consumed_capacity: Option<String>,
}

/// Which filter map a Query or Scan carries.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum FilterKind {
    /// QueryFilter.
    Query,
    /// ScanFilter.
    Scan,
}

fn enum_error(value: &str, at: &str, set: &str) -> ApiError {
    ApiError::validation(format!(
        "1 validation error detected: Value '{value}' at '{at}' failed to satisfy constraint: Member must satisfy enum value set: {set}"
    ))
}

fn values(list: Option<Vec<RawValue>>) -> Result<Option<Vec<AttributeValue>>, ApiError> {
    Ok(list.map(|l| l.into_iter().map(RawValue::into_value).collect::<Result<Vec<_>, _>>()).transpose()?)
}

fn operator(name: &str, at: &str) -> Result<ComparisonOperator, ApiError> {
    ComparisonOperator::parse(name).ok_or_else(|| enum_error(name, at, ComparisonOperator::VALUE_SET))
}

fn conditions(
    raw: BTreeMap<String, RawCondition>,
    field: &str,
) -> Result<BTreeMap<String, AttributeCondition>, ApiError> {
    let mut out = BTreeMap::new();
    for (attribute, c) in raw {
        let at = format!("{field}.{attribute}.member.comparisonOperator");
        let Some(name) = c.comparison_operator else {
            return Err(ApiError::validation(format!(
                "1 validation error detected: Value null at '{at}' failed to satisfy constraint: Member must not be null"
            )));
        };
        let op = operator(&name, &at)?;
        out.insert(
            attribute,
            AttributeCondition { operator: op, values: values(c.attribute_value_list)?.unwrap_or_default() },
        );
    }
    Ok(out)
}

/// DynamoDB's error for expression and non-expression parameters in one request. Each list
/// names the parameters in DynamoDB's order for the operation, with whether each is present.
pub(super) fn check_mixing(
    non_expression: &[(&str, bool)],
    expression: &[(&str, bool)],
) -> Result<(), ApiError> {
    let present = |list: &[(&str, bool)]| -> Vec<String> {
        list.iter().filter(|(_, p)| *p).map(|(n, _)| n.to_string()).collect()
    };
    let (legacy, modern) = (present(non_expression), present(expression));
    if legacy.is_empty() || modern.is_empty() {
        return Ok(());
    }
    Err(ApiError::validation(format!(
        "Can not use both expression and non-expression parameters in the same request: Non-expression parameters: {{{}}} Expression parameters: {{{}}}",
        legacy.join(", "),
        modern.join(", ")
    )))
}

impl LegacyParameters {
    /// Expected is present.
    pub(super) fn has_expected(&self) -> bool {
        self.expected.is_some()
    }

    /// ConditionalOperator is present.
    pub(super) fn has_conditional_operator(&self) -> bool {
        self.conditional_operator.is_some()
    }

    /// AttributeUpdates is present.
    pub(super) fn has_attribute_updates(&self) -> bool {
        self.attribute_updates.is_some()
    }

    /// KeyConditions is present.
    pub(super) fn has_key_conditions(&self) -> bool {
        self.key_conditions.is_some()
    }

    /// The filter map of `kind` is present.
    pub(super) fn has_filter(&self, kind: FilterKind) -> bool {
        match kind {
            FilterKind::Query => self.query_filter.is_some(),
            FilterKind::Scan => self.scan_filter.is_some(),
        }
    }

    fn conditional_operator(
        &self,
        conditions: Option<usize>,
    ) -> Result<Option<ConditionalOperator>, ApiError> {
        let op = match self.conditional_operator.as_deref() {
            None => None,
            Some(name) => Some(
                ConditionalOperator::parse(name)
                    .ok_or_else(|| enum_error(name, "conditionalOperator", "[AND, OR]"))?,
            ),
        };
        legacy::check_conditional_operator(op, conditions)?;
        Ok(op)
    }

    /// Expected (with ConditionalOperator) as a condition; `None` when absent or empty.
    pub(super) fn expected(&mut self) -> Result<Option<Condition>, ApiError> {
        let op = self.conditional_operator(self.expected.as_ref().map(BTreeMap::len))?;
        let Some(raw) = self.expected.take() else { return Ok(None) };
        let mut expected = BTreeMap::new();
        for (attribute, e) in raw {
            let at = format!("expected.{attribute}.member.comparisonOperator");
            let parsed = ExpectedCondition {
                value: e.value.map(RawValue::into_value).transpose()?,
                exists: e.exists,
                operator: e.comparison_operator.as_deref().map(|n| operator(n, &at)).transpose()?,
                values: values(e.attribute_value_list)?,
            };
            expected.insert(attribute, parsed);
        }
        Ok(legacy::expected_condition(&expected, op)?)
    }

    /// QueryFilter or ScanFilter (with ConditionalOperator) as a filter; `None` when absent or
    /// empty.
    pub(super) fn filter(&mut self, kind: FilterKind) -> Result<Option<Condition>, ApiError> {
        let (raw, field) = match kind {
            FilterKind::Query => (&mut self.query_filter, "queryFilter"),
            FilterKind::Scan => (&mut self.scan_filter, "scanFilter"),
        };
        let raw = raw.take();
        let op = self.conditional_operator(raw.as_ref().map(BTreeMap::len))?;
        let Some(raw) = raw else { return Ok(None) };
        Ok(legacy::filter_condition(&conditions(raw, field)?, op)?)
    }

    /// KeyConditions against a key schema; `None` when absent.
    pub(super) fn key_conditions(
        &mut self,
        partition_key: &str,
        sort_key: Option<&str>,
    ) -> Result<Option<KeyCondition>, ApiError> {
        let Some(raw) = self.key_conditions.take() else { return Ok(None) };
        let parsed = conditions(raw, "keyConditions")?;
        Ok(Some(legacy::key_conditions(&parsed, partition_key, sort_key)?))
    }

    /// AttributeUpdates as an update expression; `None` when absent or empty.
    pub(super) fn attribute_updates(&mut self) -> Result<Option<UpdateExpression>, ApiError> {
        let Some(raw) = self.attribute_updates.take() else { return Ok(None) };
        if raw.is_empty() {
            return Ok(None);
        }
        let mut updates = BTreeMap::new();
        for (attribute, u) in raw {
            let action = match u.action.as_deref() {
                None => AttributeUpdateAction::Put,
                Some(name) => AttributeUpdateAction::parse(name).ok_or_else(|| {
                    enum_error(
                        name,
                        &format!("attributeUpdates.{attribute}.member.action"),
                        "[ADD, PUT, DELETE]",
                    )
                })?,
            };
            let value = u.value.map(RawValue::into_value).transpose()?;
            updates.insert(attribute, AttributeUpdate { action, value });
        }
        Ok(Some(legacy::attribute_updates(&updates)?))
    }

    /// ReturnConsumedCapacity: `None` for NONE or absent.
    pub(super) fn capacity(&self) -> Result<Option<Detail>, ApiError> {
        match self.return_consumed_capacity.as_deref() {
            None | Some("NONE") => Ok(None),
            Some("TOTAL") => Ok(Some(Detail::Total)),
            Some("INDEXES") => Ok(Some(Detail::Indexes)),
            Some(other) => Err(enum_error(other, "returnConsumedCapacity", "[INDEXES, TOTAL, NONE]")),
        }
    }

    /// Checks ReturnItemCollectionMetrics (SIZE is accepted; see the module docs).
    pub(super) fn check_item_collection_metrics(&self) -> Result<(), ApiError> {
        match self.return_item_collection_metrics.as_deref() {
            None | Some("NONE" | "SIZE") => Ok(()),
            Some(other) => Err(enum_error(other, "returnItemCollectionMetrics", "[SIZE, NONE]")),
        }
    }

    /// ReturnItemCollectionMetrics = SIZE.
    pub(super) fn wants_item_collection_metrics(&self) -> bool {
        self.return_item_collection_metrics.as_deref() == Some("SIZE")
    }

    /// The response parameters every operation checks: ReturnItemCollectionMetrics and
    /// ReturnConsumedCapacity.
    pub(super) fn returns(&self) -> Result<Option<Detail>, ApiError> {
        self.check_item_collection_metrics()?;
        self.capacity()
    }
}
