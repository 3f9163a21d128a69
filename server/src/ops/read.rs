//! Query and Scan.

use std::collections::BTreeMap;

use eddy_core::capacity::{Consistency, ConsumedCapacity, Detail};
use eddy_core::expr::ExpressionKind;
use eddy_core::index::{IndexKind, IndexMeta, Projection as IndexProjection};
use eddy_core::schema::TableMeta;
use eddy_core::store::{Page, ReadOptions, ScanSegment};
use serde::{Deserialize, Serialize};

use super::expressions::Expressions;
use super::items::{LegacyParameters, projection, table_name};
use super::legacy::{FilterKind, check_mixing};
use super::{blocking, capacity, respond};
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
    /// Every read is strongly consistent; the flag only matters where DynamoDB forbids it.
    consistent_read: Option<bool>,
    segment: Option<i64>,
    total_segments: Option<i64>,
    #[serde(flatten)]
    legacy: LegacyParameters,
}

/// The index a Query or Scan names, checked against the table.
fn named_index<'m>(meta: &'m TableMeta, input: &ReadInput) -> Result<Option<&'m IndexMeta>, ApiError> {
    let Some(name) = &input.index_name else {
        return Ok(None);
    };
    let index = meta.index(name).ok_or_else(|| {
        ApiError::validation(format!("The table does not have the specified index: {name}"))
    })?;
    if index.spec.kind == IndexKind::Global && input.consistent_read == Some(true) {
        return Err(ApiError::validation("Consistent reads are not supported on global secondary indexes"));
    }
    Ok(Some(index))
}

/// What Query and Scan share: filter, projection, select, limit, start key.
fn read_options(
    index: Option<&IndexMeta>,
    input: &mut ReadInput,
    expressions: &mut Expressions,
) -> Result<ReadOptions, ApiError> {
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
        Some("ALL_ATTRIBUTES") => {
            if let Some(index) = index
                .filter(|i| i.spec.kind == IndexKind::Global && i.spec.projection != IndexProjection::All)
            {
                return Err(ApiError::validation(format!(
                    "One or more parameter values were invalid: Select type ALL_ATTRIBUTES is not supported for global secondary index {} because its projection type is not ALL",
                    index.spec.name
                )));
            }
            false
        }
        Some("ALL_PROJECTED_ATTRIBUTES") if index.is_some() && has_projection => {
            return Err(ApiError::validation(
                "Cannot specify the ProjectionExpression when choosing to get ALL_PROJECTED_ATTRIBUTES",
            ));
        }
        Some("ALL_PROJECTED_ATTRIBUTES") if index.is_some() => false,
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
    let exclusive_start = input.exclusive_start_key.take().map(item_from_raw).transpose()?;
    Ok(ReadOptions {
        filter,
        projection,
        count_only,
        limit,
        exclusive_start,
        all_attributes: index.is_some() && input.select.as_deref() == Some("ALL_ATTRIBUTES"),
        backward: input.scan_index_forward == Some(false),
    })
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
    #[serde(skip_serializing_if = "Option::is_none")]
    consumed_capacity: Option<serde_json::Value>,
}

fn page_body(
    page: Page,
    count_only: bool,
    consumed_capacity: Option<serde_json::Value>,
) -> Result<Vec<u8>, ApiError> {
    respond(&PageBody {
        items: (!count_only).then_some(WireItems(&page.items)),
        count: page.count,
        scanned_count: page.scanned_count,
        last_evaluated_key: page.last_evaluated_key.as_ref().map(WireItem),
        consumed_capacity,
    })
}

/// A Query or Scan page's read capacity: the items evaluated, rounded up once for the page,
/// charged to the index read when there is one.
fn page_capacity(
    detail: Option<Detail>,
    table: &str,
    index: Option<(&str, eddy_core::index::IndexKind)>,
    page: &Page,
    consistency: Consistency,
) -> Option<serde_json::Value> {
    capacity::single(detail, || match index {
        Some((name, kind)) => {
            ConsumedCapacity::index_read(table, name, kind.into(), page.scanned_bytes, consistency)
        }
        None => ConsumedCapacity::table_read(table, page.scanned_bytes, consistency),
    })
}

/// QueryFilter may not name key attributes, as FilterExpression may not.
fn check_query_filter(
    filter: Option<&eddy_core::expr::Condition>,
    schema: &eddy_core::KeySchema,
) -> Result<(), ApiError> {
    if let Some(filter) = filter
        && let Some(key) = filter.top_level_attributes().into_iter().find(|a| schema.is_key_attribute(a))
    {
        return Err(ApiError::validation(format!(
            "QueryFilter can only contain non-primary key attributes: Primary key attribute: {key}"
        )));
    }
    Ok(())
}

pub(super) async fn query(state: &AppState, mut input: ReadInput) -> Result<Vec<u8>, ApiError> {
    let table = table_name(input.table_name.take())?;
    let with_expression = input.key_condition_expression.is_some();
    check_mixing(
        &[
            ("AttributesToGet", input.attributes_to_get.is_some()),
            ("QueryFilter", input.legacy.has_filter(FilterKind::Query)),
            ("ConditionalOperator", input.legacy.has_conditional_operator()),
            // KeyConditions may go with the other expressions, just not with KeyConditionExpression.
            ("KeyConditions", input.legacy.has_key_conditions() && with_expression),
        ],
        &[
            ("ProjectionExpression", input.projection_expression.is_some()),
            ("FilterExpression", input.filter_expression.is_some()),
            ("KeyConditionExpression", with_expression),
        ],
    )?;
    let detail = input.legacy.returns()?;
    let legacy_filter = input.legacy.filter(FilterKind::Query)?;
    if input.segment.is_some() || input.total_segments.is_some() {
        return Err(ApiError::validation("Segment and TotalSegments are Scan parameters"));
    }
    let meta = state.store().table(&table)?;
    let mut expressions =
        Expressions::new(input.expression_attribute_names.take(), input.expression_attribute_values.take())?;
    let text = input.key_condition_expression.take();
    if text.is_none() && !input.legacy.has_key_conditions() {
        return Err(ApiError::validation(
            "Either the KeyConditions or KeyConditionExpression parameter must be specified in the request.",
        ));
    }
    let index = named_index(&meta, &input)?;
    let schema = match index {
        Some(index) => &index.spec.key_schema,
        None => &meta.spec.key_schema,
    };
    let sort_key = schema.sort.as_ref().map(|s| s.name.as_str());
    let key_condition = match text {
        Some(text) => expressions.key_condition(&text, &schema.partition.name, sort_key)?,
        None => input
            .legacy
            .key_conditions(&schema.partition.name, sort_key)?
            .ok_or_else(|| ApiError::validation("Conditions can be of length 1 or 2 only"))?,
    };
    let mut options = read_options(index, &mut input, &mut expressions)?;
    expressions.finish()?;
    check_query_filter(legacy_filter.as_ref(), schema)?;
    options.filter = options.filter.or(legacy_filter);
    check_key_types(schema, &key_condition)?;
    if let Some(filter) = &options.filter
        && let Some(key) = filter.top_level_attributes().into_iter().find(|a| schema.is_key_attribute(a))
    {
        return Err(ApiError::validation(format!(
            "Filter Expression can only contain non-primary key attributes: Primary key attribute: {key}"
        )));
    }
    let count_only = options.count_only;
    let index_kind = index.map(|i| i.spec.kind);
    let index_name = input.index_name.take();
    let store = state.store().clone();
    let (name, read_index) = (table.clone(), index_name.clone());
    let page =
        blocking(move || Ok(store.query(&name, read_index.as_deref(), &key_condition, &options)?)).await?;
    let index = index_name.as_deref().zip(index_kind);
    let consumed = page_capacity(detail, &table, index, &page, Consistency::from_flag(input.consistent_read));
    page_body(page, count_only, consumed)
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
    let table = table_name(input.table_name.take())?;
    check_mixing(
        &[
            ("AttributesToGet", input.attributes_to_get.is_some()),
            ("ScanFilter", input.legacy.has_filter(FilterKind::Scan)),
            ("ConditionalOperator", input.legacy.has_conditional_operator()),
        ],
        &[
            ("ProjectionExpression", input.projection_expression.is_some()),
            ("FilterExpression", input.filter_expression.is_some()),
        ],
    )?;
    let detail = input.legacy.returns()?;
    let legacy_filter = input.legacy.filter(FilterKind::Scan)?;
    let meta = state.store().table(&table)?;
    if input.key_condition_expression.is_some() {
        return Err(ApiError::validation("KeyConditionExpression is a Query parameter"));
    }
    if input.scan_index_forward.is_some() {
        return Err(ApiError::validation("ScanIndexForward is a Query parameter"));
    }
    let segment = segment(input.segment, input.total_segments)?;
    let mut expressions =
        Expressions::new(input.expression_attribute_names.take(), input.expression_attribute_values.take())?;
    let index = named_index(&meta, &input)?;
    let mut options = read_options(index, &mut input, &mut expressions)?;
    expressions.finish()?;
    options.filter = options.filter.or(legacy_filter);
    let count_only = options.count_only;
    let index_kind = index.map(|i| i.spec.kind);
    let index_name = input.index_name.take();
    let store = state.store().clone();
    let (name, read_index) = (table.clone(), index_name.clone());
    let page = blocking(move || Ok(store.scan(&name, read_index.as_deref(), &options, segment)?)).await?;
    let index = index_name.as_deref().zip(index_kind);
    let consumed = page_capacity(detail, &table, index, &page, Consistency::from_flag(input.consistent_read));
    page_body(page, count_only, consumed)
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
