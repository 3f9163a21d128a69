//! Query and Scan.

use std::collections::BTreeMap;

use eddy_core::PrimaryKey;
use eddy_core::expr::ExpressionKind;
use eddy_core::store::{Page, ReadOptions, ScanSegment};
use serde::{Deserialize, Serialize};

use super::expressions::Expressions;
use super::items::{LegacyParameters, projection, table_name};
use super::{blocking, respond};
use crate::app::AppState;
use crate::error::ApiError;
use crate::wire::value::{RawItem, RawValue, WireItem, WireItems, item_from_raw};

/// Most segments of a parallel Scan (DynamoDB: 1,000,000).
const SCAN_SEGMENTS_MAX: i64 = 1_000_000;

#[derive(Deserialize)]
#[serde(rename_all = "PascalCase")]
pub(super) struct ReadInput {
    table_name: Option<String>,
    index_name: Option<String>,
    key_condition_expression: Option<String>,
    filter_expression: Option<String>,
    projection_expression: Option<String>,
    expression_attribute_names: Option<BTreeMap<String, String>>,
    expression_attribute_values: Option<BTreeMap<String, RawValue>>,
    attributes_to_get: Option<Vec<String>>,
    select: Option<String>,
    limit: Option<i64>,
    exclusive_start_key: Option<RawItem>,
    scan_index_forward: Option<bool>,
    #[allow(dead_code, reason = "every read is strongly consistent, so the flag changes nothing")]
    consistent_read: Option<bool>,
    segment: Option<i64>,
    total_segments: Option<i64>,
    #[serde(flatten)]
    legacy: LegacyParameters,
}

/// What Query and Scan share: filter, projection, select, limit, start key.
fn read_options(
    state: &AppState,
    table: &str,
    input: &mut ReadInput,
    expressions: &mut Expressions,
) -> Result<ReadOptions, ApiError> {
    if input.index_name.is_some() {
        return Err(ApiError::unsupported("IndexName (secondary indexes)"));
    }
    let filter = expressions.condition(input.filter_expression.as_deref(), ExpressionKind::Filter)?;
    let has_projection = input.projection_expression.is_some() || input.attributes_to_get.is_some();
    let projection =
        projection(expressions, input.projection_expression.as_deref(), input.attributes_to_get.take())?;
    let count_only = match input.select.as_deref() {
        None => false,
        Some("ALL_ATTRIBUTES" | "COUNT") if has_projection => {
            return Err(ApiError::validation(
                "Cannot specify the ProjectionExpression when choosing to get ALL_ATTRIBUTES or COUNT",
            ));
        }
        Some("ALL_ATTRIBUTES") => false,
        Some("COUNT") => true,
        Some("SPECIFIC_ATTRIBUTES") if !has_projection => {
            return Err(ApiError::validation(
                "One or more parameter values were invalid: Select type SPECIFIC_ATTRIBUTES requires a ProjectionExpression or AttributesToGet",
            ));
        }
        Some("SPECIFIC_ATTRIBUTES") => false,
        Some("ALL_PROJECTED_ATTRIBUTES") => {
            return Err(ApiError::validation(
                "One or more parameter values were invalid: Select type ALL_PROJECTED_ATTRIBUTES is supported only for index queries",
            ));
        }
        Some(other) => {
            return Err(ApiError::validation(format!(
                "1 validation error detected: Value '{other}' at 'select' failed to satisfy constraint: Member must satisfy enum value set: [SPECIFIC_ATTRIBUTES, COUNT, ALL_ATTRIBUTES, ALL_PROJECTED_ATTRIBUTES]"
            )));
        }
    };
    let limit = match input.limit {
        None => None,
        Some(l) if l >= 1 => Some(l as usize),
        Some(l) => {
            return Err(ApiError::validation(format!(
                "1 validation error detected: Value '{l}' at 'limit' failed to satisfy constraint: Member must have value greater than or equal to 1"
            )));
        }
    };
    let exclusive_start = match input.exclusive_start_key.take() {
        None => None,
        Some(raw) => Some(start_key(state, table, raw)?),
    };
    Ok(ReadOptions {
        filter,
        projection,
        count_only,
        limit,
        exclusive_start,
        backward: input.scan_index_forward == Some(false),
    })
}

fn start_key(state: &AppState, table: &str, raw: RawItem) -> Result<PrimaryKey, ApiError> {
    let key = item_from_raw(raw)?;
    let meta = state.store().table(table)?;
    meta.spec
        .key_schema
        .key_from_request(&key, state.store().limits())
        .map_err(|e| ApiError::validation(format!("The provided starting key is invalid: {e}")))
}

/// A Query or Scan response, serialized straight from the page.
#[derive(Serialize)]
#[serde(rename_all = "PascalCase")]
struct PageBody<'a> {
    #[serde(skip_serializing_if = "Option::is_none")]
    items: Option<WireItems<'a>>,
    count: usize,
    scanned_count: usize,
    #[serde(skip_serializing_if = "Option::is_none")]
    last_evaluated_key: Option<WireItem<'a>>,
}

fn page_body(page: Page, count_only: bool) -> Result<Vec<u8>, ApiError> {
    respond(&PageBody {
        items: (!count_only).then_some(WireItems(&page.items)),
        count: page.count,
        scanned_count: page.scanned_count,
        last_evaluated_key: page.last_evaluated_key.as_ref().map(WireItem),
    })
}

pub(super) async fn query(state: &AppState, mut input: ReadInput) -> Result<Vec<u8>, ApiError> {
    input.legacy.reject()?;
    let table = table_name(input.table_name.take())?;
    if input.segment.is_some() || input.total_segments.is_some() {
        return Err(ApiError::validation("Segment and TotalSegments are Scan parameters"));
    }
    let meta = state.store().table(&table)?;
    let mut expressions =
        Expressions::new(input.expression_attribute_names.take(), input.expression_attribute_values.take())?;
    let Some(text) = input.key_condition_expression.take() else {
        return Err(ApiError::validation(
            "Either the KeyConditions or KeyConditionExpression parameter must be specified in the request.",
        ));
    };
    let schema = &meta.spec.key_schema;
    let key_condition = expressions.key_condition(
        &text,
        &schema.partition.name,
        schema.sort.as_ref().map(|s| s.name.as_str()),
    )?;
    let options = read_options(state, &table, &mut input, &mut expressions)?;
    expressions.finish()?;
    check_key_types(&meta.spec.key_schema, &key_condition)?;
    if let Some(filter) = &options.filter
        && let Some(key) = filter.top_level_attributes().into_iter().find(|a| schema.is_key_attribute(a))
    {
        return Err(ApiError::validation(format!(
            "Filter Expression can only contain non-primary key attributes: Primary key attribute: {key}"
        )));
    }
    let count_only = options.count_only;
    let store = state.store().clone();
    let page = blocking(move || Ok(store.query(&table, &key_condition, &options)?)).await?;
    page_body(page, count_only)
}

/// Key condition values must have the key attributes' types.
fn check_key_types(
    schema: &eddy_core::KeySchema,
    condition: &eddy_core::expr::KeyCondition,
) -> Result<(), ApiError> {
    use eddy_core::expr::SortKeyCondition as S;
    let mismatch = |_: &str, _: &str, _: &eddy_core::AttributeValue| {
        ApiError::validation(
            "One or more parameter values were invalid: Condition parameter type does not match schema type",
        )
    };
    if !schema.partition.scalar_type.matches(&condition.partition) {
        return Err(mismatch(
            &schema.partition.name,
            schema.partition.scalar_type.as_str(),
            &condition.partition,
        ));
    }
    if let (Some(attr), Some(sort)) = (&schema.sort, &condition.sort) {
        let values: Vec<&eddy_core::AttributeValue> = match sort {
            S::Eq(v) | S::Lt(v) | S::Le(v) | S::Gt(v) | S::Ge(v) | S::BeginsWith(v) => vec![v],
            S::Between(a, b) => vec![a, b],
        };
        for v in values {
            if !attr.scalar_type.matches(v) {
                return Err(mismatch(&attr.name, attr.scalar_type.as_str(), v));
            }
        }
        if matches!(sort, S::BeginsWith(_)) && attr.scalar_type == eddy_core::ScalarType::N {
            return Err(ApiError::validation(
                "Invalid KeyConditionExpression: Incorrect operand type for operator or function; operator or function: begins_with, operand type: N",
            ));
        }
    }
    Ok(())
}

pub(super) async fn scan(state: &AppState, mut input: ReadInput) -> Result<Vec<u8>, ApiError> {
    input.legacy.reject()?;
    let table = table_name(input.table_name.take())?;
    state.store().table(&table)?;
    if input.key_condition_expression.is_some() {
        return Err(ApiError::validation("KeyConditionExpression is a Query parameter"));
    }
    if input.scan_index_forward.is_some() {
        return Err(ApiError::validation("ScanIndexForward is a Query parameter"));
    }
    let segment = segment(input.segment, input.total_segments)?;
    let mut expressions =
        Expressions::new(input.expression_attribute_names.take(), input.expression_attribute_values.take())?;
    let options = read_options(state, &table, &mut input, &mut expressions)?;
    expressions.finish()?;
    let count_only = options.count_only;
    let store = state.store().clone();
    let page = blocking(move || Ok(store.scan(&table, &options, segment)?)).await?;
    page_body(page, count_only)
}

fn segment(segment: Option<i64>, total: Option<i64>) -> Result<Option<ScanSegment>, ApiError> {
    match (segment, total) {
        (None, None) => Ok(None),
        (Some(_), None) => Err(ApiError::validation(
            "The TotalSegments parameter is required but was not present in the request when Segment parameter is present",
        )),
        (None, Some(_)) => Err(ApiError::validation(
            "The Segment parameter is required but was not present in the request when parameter TotalSegments is present",
        )),
        (Some(s), Some(t)) => {
            if !(1..=SCAN_SEGMENTS_MAX).contains(&t) {
                return Err(ApiError::validation(format!(
                    "1 validation error detected: Value '{t}' at 'totalSegments' failed to satisfy constraint: Member must have value {}",
                    if t < 1 { "greater than or equal to 1" } else { "less than or equal to 1000000" }
                )));
            }
            if s < 0 {
                return Err(ApiError::validation(format!(
                    "1 validation error detected: Value '{s}' at 'segment' failed to satisfy constraint: Member must have value greater than or equal to 0"
                )));
            }
            if s >= t {
                return Err(ApiError::validation(format!(
                    "The Segment parameter is zero-based and must be less than parameter TotalSegments: Segment: {s} is not less than TotalSegments: {t}"
                )));
            }
            Ok(Some(ScanSegment { segment: s as u32, total: t as u32 }))
        }
    }
}
