//! Control plane: CreateTable, DescribeTable, ListTables, DeleteTable, UpdateTable, and tags.

use std::collections::BTreeMap;

use eddy_core::index::{IndexKind, IndexSpec, Projection as IndexProjection};
use eddy_core::schema::{BillingMode, StreamSettings, StreamViewType, TableSpec, validate_table_name};
use eddy_core::store::TableChange;
use eddy_core::{KeyAttribute, KeySchema, ScalarType};
use serde::Deserialize;
use serde::de::IgnoredAny;
use serde_json::json;

use super::{required, respond};
use crate::app::AppState;
use crate::error::{ApiError, ErrorKind};
use crate::wire::table::{TableStatus, describe};
use crate::wire::time::iso8601_millis;

/// Most tables one ListTables page returns (DynamoDB: 100).
const LIST_TABLES_LIMIT_MAX: usize = 100;

#[derive(Deserialize)]
#[serde(rename_all = "PascalCase")]
pub(super) struct KeySchemaElement {
    attribute_name: Option<String>,
    key_type: Option<String>,
}

#[derive(Deserialize)]
#[serde(rename_all = "PascalCase")]
pub(super) struct AttributeDefinition {
    attribute_name: Option<String>,
    attribute_type: Option<String>,
}

#[derive(Deserialize)]
#[serde(rename_all = "PascalCase")]
pub(super) struct Throughput {
    read_capacity_units: Option<i64>,
    write_capacity_units: Option<i64>,
}

#[derive(Deserialize)]
#[serde(rename_all = "PascalCase")]
pub(super) struct Tag {
    key: Option<String>,
    value: Option<String>,
}

#[derive(Deserialize)]
#[serde(rename_all = "PascalCase")]
pub(super) struct StreamSpecification {
    stream_enabled: Option<bool>,
    stream_view_type: Option<String>,
}

#[derive(Deserialize)]
#[serde(rename_all = "PascalCase")]
pub(super) struct SseSpecification {
    enabled: Option<bool>,
}

#[derive(Deserialize)]
#[serde(rename_all = "PascalCase")]
pub(super) struct CreateTableInput {
    table_name: Option<String>,
    key_schema: Option<Vec<KeySchemaElement>>,
    attribute_definitions: Option<Vec<AttributeDefinition>>,
    billing_mode: Option<String>,
    provisioned_throughput: Option<Throughput>,
    tags: Option<Vec<Tag>>,
    stream_specification: Option<StreamSpecification>,
    #[serde(rename = "SSESpecification")]
    sse_specification: Option<SseSpecification>,
    table_class: Option<String>,
    deletion_protection_enabled: Option<bool>,
    global_secondary_indexes: Option<Vec<IndexInput>>,
    local_secondary_indexes: Option<Vec<IndexInput>>,
    resource_policy: Option<IgnoredAny>,
    warm_throughput: Option<IgnoredAny>,
}

pub(super) async fn create_table(state: &AppState, input: CreateTableInput) -> Result<Vec<u8>, ApiError> {
    let name = required(input.table_name, "tableName")?;
    validate_table_name(&name, "tableName")?;
    if input.resource_policy.is_some() {
        return Err(ApiError::unsupported("ResourcePolicy"));
    }
    if input.warm_throughput.is_some() {
        return Err(ApiError::unsupported("WarmThroughput"));
    }
    if input.sse_specification.and_then(|s| s.enabled) == Some(true) {
        return Err(ApiError::unsupported("SSESpecification with Enabled=true"));
    }
    let definitions = attribute_definitions(required(input.attribute_definitions, "attributeDefinitions")?)?;
    let key_schema = key_schema(required(input.key_schema, "keySchema")?, &definitions)?;
    let billing = billing(input.billing_mode.as_deref(), input.provisioned_throughput)?
        .ok_or_else(|| ApiError::validation("No provisioned throughput specified for the table"))?;
    let stream = match input.stream_specification {
        Some(spec) => stream_settings(spec, state.store().now_millis(), &[])?,
        None => None,
    };
    let spec = TableSpec {
        name,
        key_schema,
        attribute_definitions: definitions,
        billing,
        tags: tags(input.tags.unwrap_or_default())?,
        stream,
        deletion_protection: input.deletion_protection_enabled.unwrap_or(false),
        table_class: table_class(input.table_class)?,
    };
    let mut indexes = Vec::new();
    for (list, kind, field) in [
        (input.global_secondary_indexes, IndexKind::Global, "globalSecondaryIndexes"),
        (input.local_secondary_indexes, IndexKind::Local, "localSecondaryIndexes"),
    ] {
        let Some(list) = list else { continue };
        if list.is_empty() {
            return Err(ApiError::validation(format!(
                "1 validation error detected: Value '[]' at '{field}' failed to satisfy constraint: Member must have length greater than or equal to 1"
            )));
        }
        for index in list {
            indexes.push(index_spec(index, kind, &spec.attribute_definitions)?);
        }
    }
    let table_uuid = uuid::Uuid::new_v4().to_string();
    let meta = state.store().create_table(spec, indexes, table_uuid).await?;
    let stats = state.store().table_stats(&meta.spec.name)?;
    respond(
        &json!({"TableDescription": describe(state.identity(), &meta, stats, TableStatus::Active, &index_stats(state))}),
    )
}

#[derive(Deserialize)]
#[serde(rename_all = "PascalCase")]
pub(super) struct ProjectionInput {
    projection_type: Option<String>,
    non_key_attributes: Option<Vec<String>>,
}

#[derive(Deserialize)]
#[serde(rename_all = "PascalCase")]
pub(super) struct IndexInput {
    index_name: Option<String>,
    key_schema: Option<Vec<KeySchemaElement>>,
    projection: Option<ProjectionInput>,
    provisioned_throughput: Option<Throughput>,
    on_demand_throughput: Option<IgnoredAny>,
    warm_throughput: Option<IgnoredAny>,
}

/// One GlobalSecondaryIndexes or LocalSecondaryIndexes member (or an UpdateTable Create).
fn index_spec(input: IndexInput, kind: IndexKind, defs: &[KeyAttribute]) -> Result<IndexSpec, ApiError> {
    let name = required(input.index_name, "indexName")?;
    if input.on_demand_throughput.is_some() || input.warm_throughput.is_some() {
        return Err(ApiError::unsupported("OnDemandThroughput and WarmThroughput on indexes"));
    }
    let key_schema = key_schema(required(input.key_schema, "keySchema")?, defs)?;
    let projection = required(input.projection, "projection")?;
    let projection = match (projection.projection_type.as_deref(), projection.non_key_attributes) {
        (Some("INCLUDE"), Some(attrs)) => {
            if attrs.is_empty() {
                return Err(ApiError::validation(
                    "1 validation error detected: Value '[]' at 'projection.nonKeyAttributes' failed to satisfy constraint: Member must have length greater than or equal to 1",
                ));
            }
            IndexProjection::Include(attrs.into_iter().collect())
        }
        (Some("INCLUDE"), None) => {
            return Err(ApiError::validation(
                "One or more parameter values were invalid: NonKeyAttributes must be specified when ProjectionType is INCLUDE",
            ));
        }
        (Some(other @ ("ALL" | "KEYS_ONLY")), Some(_)) => {
            return Err(ApiError::validation(format!(
                "One or more parameter values were invalid: ProjectionType is {other}, but NonKeyAttributes is specified"
            )));
        }
        (Some("ALL"), None) => IndexProjection::All,
        (Some("KEYS_ONLY"), None) => IndexProjection::KeysOnly,
        (None, _) => {
            return Err(ApiError::validation(
                "One or more parameter values were invalid: Unknown ProjectionType: null",
            ));
        }
        (Some(other), _) => {
            return Err(ApiError::validation(format!(
                "1 validation error detected: Value '{other}' at 'projection.projectionType' failed to satisfy constraint: Member must satisfy enum value set: [ALL, INCLUDE, KEYS_ONLY]"
            )));
        }
    };
    let throughput = match (kind, input.provisioned_throughput) {
        (IndexKind::Local, Some(_)) => {
            return Err(ApiError::validation(
                "One or more parameter values were invalid: ProvisionedThroughput should not be specified for a local secondary index",
            ));
        }
        (_, None) => None,
        (IndexKind::Global, Some(t)) => match billing(Some("PROVISIONED"), Some(t))? {
            Some(BillingMode::Provisioned { read_capacity_units, write_capacity_units }) => {
                Some((read_capacity_units, write_capacity_units))
            }
            _ => None,
        },
    };
    Ok(IndexSpec { name, kind, key_schema, projection, throughput })
}

fn attribute_definitions(defs: Vec<AttributeDefinition>) -> Result<Vec<KeyAttribute>, ApiError> {
    defs.into_iter()
        .enumerate()
        .map(|(i, d)| {
            let name = required(d.attribute_name, &format!("attributeDefinitions.{}.member.attributeName", i + 1))?;
            let ty = required(d.attribute_type, &format!("attributeDefinitions.{}.member.attributeType", i + 1))?;
            let scalar_type = ScalarType::parse(&ty).ok_or_else(|| {
                ApiError::validation(format!(
                    "1 validation error detected: Value '{ty}' at 'attributeDefinitions.{}.member.attributeType' failed to satisfy constraint: Member must satisfy enum value set: [B, N, S]",
                    i + 1
                ))
            })?;
            Ok(KeyAttribute { name, scalar_type })
        })
        .collect()
}

fn key_schema(elements: Vec<KeySchemaElement>, defs: &[KeyAttribute]) -> Result<KeySchema, ApiError> {
    if elements.is_empty() || elements.len() > 2 {
        let bound =
            if elements.is_empty() { "greater than or equal to 1" } else { "less than or equal to 2" };
        return Err(ApiError::validation(format!(
            "1 validation error detected: Value '[...]' at 'keySchema' failed to satisfy constraint: Member must have length {bound}"
        )));
    }
    let mut parsed = Vec::new();
    for (i, e) in elements.into_iter().enumerate() {
        let name = required(e.attribute_name, &format!("keySchema.{}.member.attributeName", i + 1))?;
        let key_type = required(e.key_type, &format!("keySchema.{}.member.keyType", i + 1))?;
        if key_type != "HASH" && key_type != "RANGE" {
            return Err(ApiError::validation(format!(
                "1 validation error detected: Value '{key_type}' at 'keySchema.{}.member.keyType' failed to satisfy constraint: Member must satisfy enum value set: [HASH, RANGE]",
                i + 1
            )));
        }
        parsed.push((name, key_type));
    }
    if parsed[0].1 != "HASH" {
        return Err(ApiError::validation(
            "Invalid KeySchema: The first KeySchemaElement is not a HASH key type",
        ));
    }
    if parsed.get(1).is_some_and(|(_, t)| t != "RANGE") {
        return Err(ApiError::validation(
            "Invalid KeySchema: The second KeySchemaElement is not a RANGE key type",
        ));
    }
    let typed = |name: &str| {
        defs.iter().find(|d| d.name == name).cloned().ok_or_else(|| {
            ApiError::validation(format!(
                "One or more parameter values were invalid: Some index key attributes are not defined in AttributeDefinitions. Keys: [{}], AttributeDefinitions: [{}]",
                name,
                defs.iter().map(|d| d.name.as_str()).collect::<Vec<_>>().join(", ")
            ))
        })
    };
    Ok(KeySchema { partition: typed(&parsed[0].0)?, sort: parsed.get(1).map(|(n, _)| typed(n)).transpose()? })
}

/// BillingMode and ProvisionedThroughput together; `None` when neither was given.
fn billing(mode: Option<&str>, throughput: Option<Throughput>) -> Result<Option<BillingMode>, ApiError> {
    match mode {
        Some("PAY_PER_REQUEST") => {
            if throughput.is_some() {
                return Err(ApiError::validation(
                    "One or more parameter values were invalid: Neither ReadCapacityUnits nor WriteCapacityUnits can be specified when BillingMode is PAY_PER_REQUEST",
                ));
            }
            Ok(Some(BillingMode::PayPerRequest))
        }
        Some("PROVISIONED") | None => {
            let Some(t) = throughput else {
                if mode.is_none() {
                    return Ok(None);
                }
                return Err(ApiError::validation(
                    "One or more parameter values were invalid: ReadCapacityUnits and WriteCapacityUnits must both be specified when BillingMode is PROVISIONED",
                ));
            };
            let read = required(t.read_capacity_units, "provisionedThroughput.readCapacityUnits")?;
            let write = required(t.write_capacity_units, "provisionedThroughput.writeCapacityUnits")?;
            for (field, v) in [("readCapacityUnits", read), ("writeCapacityUnits", write)] {
                if v < 1 {
                    return Err(ApiError::validation(format!(
                        "1 validation error detected: Value '{v}' at 'provisionedThroughput.{field}' failed to satisfy constraint: Member must have value greater than or equal to 1"
                    )));
                }
            }
            Ok(Some(BillingMode::Provisioned {
                read_capacity_units: read as u64,
                write_capacity_units: write as u64,
            }))
        }
        Some(other) => Err(ApiError::validation(format!(
            "1 validation error detected: Value '{other}' at 'billingMode' failed to satisfy constraint: Member must satisfy enum value set: [PROVISIONED, PAY_PER_REQUEST]"
        ))),
    }
}

/// The stream a StreamSpecification asks for. Its label is the time by the server's clock,
/// moved on a millisecond if an earlier stream of the table has it, so every stream ARN of a
/// table names one stream.
fn stream_settings(
    spec: StreamSpecification,
    now_millis: u64,
    taken: &[&str],
) -> Result<Option<StreamSettings>, ApiError> {
    let enabled = required(spec.stream_enabled, "streamSpecification.streamEnabled")?;
    match (enabled, spec.stream_view_type) {
        (true, Some(view)) => {
            let view_type = StreamViewType::parse(&view).ok_or_else(|| {
                ApiError::validation(format!(
                    "1 validation error detected: Value '{view}' at 'streamSpecification.streamViewType' failed to satisfy constraint: Member must satisfy enum value set: [NEW_IMAGE, OLD_IMAGE, NEW_AND_OLD_IMAGES, KEYS_ONLY]"
                ))
            })?;
            Ok(Some(StreamSettings {
                view_type,
                label: (now_millis..)
                    .map(iso8601_millis)
                    .find(|label| !taken.contains(&label.as_str()))
                    .unwrap_or_default(),
                first_seq: 0,
                last_seq: None,
            }))
        }
        (true, None) => Err(ApiError::validation(
            "One or more parameter values were invalid: You must specify a StreamViewType when enabling a stream",
        )),
        (false, Some(_)) => Err(ApiError::validation(
            "One or more parameter values were invalid: You cannot specify a StreamViewType when disabling a stream",
        )),
        (false, None) => Ok(None),
    }
}

fn tags(tags: Vec<Tag>) -> Result<BTreeMap<String, String>, ApiError> {
    tags.into_iter()
        .enumerate()
        .map(|(i, t)| {
            Ok((
                required(t.key, &format!("tags.{}.member.key", i + 1))?,
                required(t.value, &format!("tags.{}.member.value", i + 1))?,
            ))
        })
        .collect()
}

fn table_class(class: Option<String>) -> Result<String, ApiError> {
    match class.as_deref() {
        None => Ok("STANDARD".into()),
        Some("STANDARD" | "STANDARD_INFREQUENT_ACCESS") => Ok(class.unwrap_or_default()),
        Some(other) => Err(ApiError::validation(format!(
            "1 validation error detected: Value '{other}' at 'tableClass' failed to satisfy constraint: Member must satisfy enum value set: [STANDARD, STANDARD_INFREQUENT_ACCESS]"
        ))),
    }
}

#[derive(Deserialize)]
#[serde(rename_all = "PascalCase")]
pub(super) struct TableNameInput {
    table_name: Option<String>,
}

fn table_name(input: TableNameInput) -> Result<String, ApiError> {
    let name = required(input.table_name, "tableName")?;
    validate_table_name(&name, "tableName")?;
    Ok(name)
}

/// Reads index stats for a TableDescription (zero if they cannot be read).
fn index_stats(state: &AppState) -> impl Fn(u64) -> eddy_core::schema::TableStats + '_ {
    move |id| state.store().index_stats(id).unwrap_or_default()
}

fn not_found(name: &str) -> ApiError {
    ApiError::new(
        ErrorKind::ResourceNotFound,
        format!("Requested resource not found: Table: {name} not found"),
    )
}

pub(super) fn describe_table(state: &AppState, input: TableNameInput) -> Result<Vec<u8>, ApiError> {
    let name = table_name(input)?;
    let meta = state.store().table(&name).map_err(|_| not_found(&name))?;
    let stats = state.store().table_stats(&name)?;
    respond(
        &json!({"Table": describe(state.identity(), &meta, stats, TableStatus::Active, &index_stats(state))}),
    )
}

pub(super) async fn delete_table(state: &AppState, input: TableNameInput) -> Result<Vec<u8>, ApiError> {
    let name = table_name(input)?;
    let (meta, stats) = state.store().delete_table(&name).await?;
    respond(
        &json!({"TableDescription": describe(state.identity(), &meta, stats, TableStatus::Deleting, &|_| Default::default())}),
    )
}

#[derive(Deserialize)]
#[serde(rename_all = "PascalCase")]
pub(super) struct ListTablesInput {
    exclusive_start_table_name: Option<String>,
    limit: Option<i64>,
}

pub(super) fn list_tables(state: &AppState, input: ListTablesInput) -> Result<Vec<u8>, ApiError> {
    let limit = match input.limit {
        None => LIST_TABLES_LIMIT_MAX,
        Some(l) if (1..=LIST_TABLES_LIMIT_MAX as i64).contains(&l) => l as usize,
        Some(l) => {
            let bound = if l < 1 { "greater than or equal to 1" } else { "less than or equal to 100" };
            return Err(ApiError::validation(format!(
                "1 validation error detected: Value '{l}' at 'limit' failed to satisfy constraint: Member must have value {bound}"
            )));
        }
    };
    if let Some(start) = &input.exclusive_start_table_name {
        validate_table_name(start, "exclusiveStartTableName")?;
    }
    let names: Vec<String> = state
        .store()
        .table_names()
        .into_iter()
        .filter(|n| input.exclusive_start_table_name.as_ref().is_none_or(|s| n > s))
        .collect();
    let page: Vec<&String> = names.iter().take(limit).collect();
    let mut out = json!({"TableNames": page});
    if names.len() > limit
        && let Some(last) = page.last()
    {
        out["LastEvaluatedTableName"] = json!(last);
    }
    respond(&out)
}

#[derive(Deserialize)]
#[serde(rename_all = "PascalCase")]
pub(super) struct UpdateTableInput {
    table_name: Option<String>,
    billing_mode: Option<String>,
    provisioned_throughput: Option<Throughput>,
    stream_specification: Option<StreamSpecification>,
    deletion_protection_enabled: Option<bool>,
    table_class: Option<String>,
    attribute_definitions: Option<Vec<AttributeDefinition>>,
    global_secondary_index_updates: Option<Vec<IndexUpdate>>,
    replica_updates: Option<IgnoredAny>,
    #[serde(rename = "SSESpecification")]
    sse_specification: Option<IgnoredAny>,
    on_demand_throughput: Option<IgnoredAny>,
    warm_throughput: Option<IgnoredAny>,
}

#[derive(Deserialize)]
#[serde(rename_all = "PascalCase")]
pub(super) struct IndexNameOnly {
    index_name: Option<String>,
    provisioned_throughput: Option<Throughput>,
}

#[derive(Deserialize)]
#[serde(rename_all = "PascalCase")]
pub(super) struct IndexUpdate {
    create: Option<IndexInput>,
    delete: Option<IndexNameOnly>,
    update: Option<IndexNameOnly>,
}

/// One GlobalSecondaryIndexUpdates member.
fn index_change(
    update: IndexUpdate,
    definitions: &[KeyAttribute],
    table_billing: BillingMode,
) -> Result<TableChange, ApiError> {
    match (update.create, update.delete, update.update) {
        (Some(create), None, None) => {
            let spec = index_spec(create, IndexKind::Global, definitions)?;
            let used: Vec<KeyAttribute> =
                definitions.iter().filter(|d| spec.key_schema.is_key_attribute(&d.name)).cloned().collect();
            match (table_billing, spec.throughput) {
                (BillingMode::Provisioned { .. }, None) => Err(ApiError::validation(format!(
                    "One or more parameter values were invalid: ProvisionedThroughput must be specified for index: {}",
                    spec.name
                ))),
                (BillingMode::PayPerRequest, Some(_)) => Err(ApiError::validation(format!(
                    "One or more parameter values were invalid: ProvisionedThroughput should not be specified for index: {} when BillingMode is PAY_PER_REQUEST",
                    spec.name
                ))),
                _ => Ok(TableChange::CreateIndex(spec, used)),
            }
        }
        (None, Some(delete), None) => Ok(TableChange::DeleteIndex(required(delete.index_name, "indexName")?)),
        (None, None, Some(update)) => {
            let name = required(update.index_name, "indexName")?;
            let throughput = required(update.provisioned_throughput, "provisionedThroughput")?;
            match billing(Some("PROVISIONED"), Some(throughput))? {
                Some(BillingMode::Provisioned { read_capacity_units, write_capacity_units }) => {
                    Ok(TableChange::IndexThroughput(name, (read_capacity_units, write_capacity_units)))
                }
                _ => Err(ApiError::validation("ProvisionedThroughput is required to update an index")),
            }
        }
        _ => Err(ApiError::validation(
            "One or more parameter values were invalid: One of GlobalSecondaryIndexUpdate.Create, Update, or Delete must be specified",
        )),
    }
}

pub(super) async fn update_table(state: &AppState, input: UpdateTableInput) -> Result<Vec<u8>, ApiError> {
    let name = table_name(TableNameInput { table_name: input.table_name })?;
    for (present, feature) in [
        (input.replica_updates.is_some(), "ReplicaUpdates"),
        (input.sse_specification.is_some(), "SSESpecification"),
        (input.on_demand_throughput.is_some(), "OnDemandThroughput"),
        (input.warm_throughput.is_some(), "WarmThroughput"),
    ] {
        if present {
            return Err(ApiError::unsupported(feature));
        }
    }
    let current = state.store().table(&name).map_err(|_| not_found(&name))?;
    let mut changes = Vec::new();
    let definitions = attribute_definitions(input.attribute_definitions.unwrap_or_default())?;
    for update in input.global_secondary_index_updates.unwrap_or_default() {
        changes.push(index_change(update, &definitions, current.spec.billing)?);
    }
    if changes
        .iter()
        .filter(|c| matches!(c, TableChange::CreateIndex(..) | TableChange::DeleteIndex(_)))
        .count()
        > 1
    {
        return Err(ApiError::new(
            ErrorKind::LimitExceeded,
            "Subscriber limit exceeded: Only 1 online index can be created or deleted simultaneously per table",
        ));
    }
    let has_throughput = input.provisioned_throughput.is_some();
    if input.billing_mode.is_some() || has_throughput {
        let mode = input.billing_mode.as_deref().or(match current.spec.billing {
            BillingMode::PayPerRequest if has_throughput => Some("PROVISIONED_IMPLIED"),
            _ => None,
        });
        if mode == Some("PROVISIONED_IMPLIED") {
            return Err(ApiError::validation(
                "One or more parameter values were invalid: Neither ReadCapacityUnits nor WriteCapacityUnits can be specified when BillingMode is PAY_PER_REQUEST",
            ));
        }
        if let Some(billing) = billing(mode, input.provisioned_throughput)? {
            if let (
                BillingMode::Provisioned { read_capacity_units: r0, write_capacity_units: w0 },
                BillingMode::Provisioned { read_capacity_units: r1, write_capacity_units: w1 },
            ) = (current.spec.billing, billing)
                && r0 == r1
                && w0 == w1
            {
                return Err(ApiError::validation(format!(
                    "The provisioned throughput for the table will not change. The requested value equals the current value. Current ReadCapacityUnits provisioned for the table: {r0}. Requested ReadCapacityUnits: {r1}. Current WriteCapacityUnits provisioned for the table: {w0}. Requested WriteCapacityUnits: {w1}. Refer to the Amazon DynamoDB Developer Guide for current limits and how to request higher limits."
                )));
            }
            changes.push(TableChange::Billing(billing));
        }
    }
    if let Some(spec) = input.stream_specification {
        let taken: Vec<&str> =
            current.spec.stream.iter().chain(&current.past_streams).map(|s| s.label.as_str()).collect();
        let settings = stream_settings(spec, state.store().now_millis(), &taken)?;
        match (&current.spec.stream, &settings) {
            (Some(_), Some(_)) => {
                return Err(ApiError::validation(format!(
                    "Table already has an enabled stream: TableName: {name}"
                )));
            }
            (None, None) => {
                return Err(ApiError::validation(format!(
                    "Table already has stream disabled: TableName: {name}"
                )));
            }
            _ => changes.push(TableChange::Stream(settings)),
        }
    }
    if let Some(on) = input.deletion_protection_enabled {
        changes.push(TableChange::DeletionProtection(on));
    }
    if input.table_class.is_some() {
        changes.push(TableChange::TableClass(table_class(input.table_class)?));
    }
    if changes.is_empty() {
        return Err(ApiError::validation(
            "At least one of ProvisionedThroughput, BillingMode, UpdateStreamEnabled, GlobalSecondaryIndexUpdates or SSESpecification or ReplicaUpdates is required",
        ));
    }
    let meta = state.store().alter_table(&name, changes).await?;
    let stats = state.store().table_stats(&name)?;
    respond(
        &json!({"TableDescription": describe(state.identity(), &meta, stats, TableStatus::Active, &index_stats(state))}),
    )
}

fn table_of_arn<'a>(state: &AppState, arn: &'a str) -> Result<&'a str, ApiError> {
    let table = state.identity().table_from_arn(arn).ok_or_else(|| {
        ApiError::validation(format!("Invalid TableArn: Invalid ResourceArn provided as input {arn}"))
    })?;
    if state.store().table(table).is_err() {
        return Err(ApiError::new(
            ErrorKind::ResourceNotFound,
            format!("Requested resource not found: ResourcArn: {arn} not found"),
        ));
    }
    Ok(table)
}

#[derive(Deserialize)]
#[serde(rename_all = "PascalCase")]
pub(super) struct TagResourceInput {
    resource_arn: Option<String>,
    tags: Option<Vec<Tag>>,
}

pub(super) async fn tag_resource(state: &AppState, input: TagResourceInput) -> Result<Vec<u8>, ApiError> {
    let arn = required(input.resource_arn, "resourceArn")?;
    let tags = tags(required(input.tags, "tags")?)?;
    let table = table_of_arn(state, &arn)?;
    state.store().alter_table(table, vec![TableChange::Tag(tags)]).await?;
    respond(&json!({}))
}

#[derive(Deserialize)]
#[serde(rename_all = "PascalCase")]
pub(super) struct UntagResourceInput {
    resource_arn: Option<String>,
    tag_keys: Option<Vec<String>>,
}

pub(super) async fn untag_resource(state: &AppState, input: UntagResourceInput) -> Result<Vec<u8>, ApiError> {
    let arn = required(input.resource_arn, "resourceArn")?;
    let keys = required(input.tag_keys, "tagKeys")?;
    let table = table_of_arn(state, &arn)?;
    state.store().alter_table(table, vec![TableChange::Untag(keys)]).await?;
    respond(&json!({}))
}

#[derive(Deserialize)]
#[serde(rename_all = "PascalCase")]
pub(super) struct ListTagsInput {
    resource_arn: Option<String>,
    #[allow(
        dead_code,
        reason = "tags fit one page (at most 50 per resource), so there is never a next token"
    )]
    next_token: Option<String>,
}

pub(super) fn list_tags(state: &AppState, input: ListTagsInput) -> Result<Vec<u8>, ApiError> {
    let arn = required(input.resource_arn, "resourceArn")?;
    let table = table_of_arn(state, &arn)?;
    let meta = state.store().table(table)?;
    let tags: Vec<_> = meta.spec.tags.iter().map(|(k, v)| json!({"Key": k, "Value": v})).collect();
    respond(&json!({"Tags": tags}))
}
