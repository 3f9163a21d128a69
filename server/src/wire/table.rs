//! The TableDescription structure of CreateTable, DescribeTable, UpdateTable and DeleteTable.

use eddy_core::KeySchema;
use eddy_core::index::{IndexKind, IndexMeta, IndexStatus, Projection};
use eddy_core::schema::{BillingMode, TableMeta, TableStats};
use serde_json::{Value, json};

use crate::config::Identity;

/// DynamoDB's table statuses used by Eddy.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TableStatus {
    /// Ready for use (tables are created synchronously).
    Active,
    /// Returned by DeleteTable.
    Deleting,
}

fn seconds(millis: u64) -> Value {
    json!(millis as f64 / 1000.0)
}

fn key_schema_json(key: &KeySchema) -> Vec<Value> {
    let mut out = vec![json!({"AttributeName": key.partition.name, "KeyType": "HASH"})];
    if let Some(sort) = &key.sort {
        out.push(json!({"AttributeName": sort.name, "KeyType": "RANGE"}));
    }
    out
}

/// Renders one index of a TableDescription.
fn describe_index(table_arn: &str, index: &IndexMeta, stats: TableStats) -> Value {
    let mut projection = json!({"ProjectionType": index.spec.projection.type_name()});
    if let Projection::Include(attrs) = &index.spec.projection {
        projection["NonKeyAttributes"] = json!(attrs);
    }
    let mut out = json!({
        "IndexName": index.spec.name,
        "KeySchema": key_schema_json(&index.spec.key_schema),
        "Projection": projection,
        "IndexSizeBytes": stats.size_bytes,
        "ItemCount": stats.item_count,
        "IndexArn": format!("{table_arn}/index/{}", index.spec.name),
    });
    if index.spec.kind == IndexKind::Global {
        let (read, write) = index.spec.throughput.unwrap_or((0, 0));
        out["IndexStatus"] = json!(match index.status {
            IndexStatus::Creating => "CREATING",
            IndexStatus::Active => "ACTIVE",
        });
        if index.status == IndexStatus::Creating {
            out["Backfilling"] = json!(true);
        }
        out["ProvisionedThroughput"] =
            json!({"NumberOfDecreasesToday": 0, "ReadCapacityUnits": read, "WriteCapacityUnits": write});
    }
    out
}

/// Renders a TableDescription; `index_stats` gives each index's entry count and size.
pub fn describe(
    identity: &Identity,
    meta: &TableMeta,
    stats: TableStats,
    status: TableStatus,
    index_stats: &dyn Fn(u64) -> TableStats,
) -> Value {
    let spec = &meta.spec;
    let mut key_schema = vec![json!({"AttributeName": spec.key_schema.partition.name, "KeyType": "HASH"})];
    if let Some(sort) = &spec.key_schema.sort {
        key_schema.push(json!({"AttributeName": sort.name, "KeyType": "RANGE"}));
    }
    let definitions: Vec<Value> = spec
        .attribute_definitions
        .iter()
        .map(|d| json!({"AttributeName": d.name, "AttributeType": d.scalar_type.as_str()}))
        .collect();
    let (read, write, mode) = match spec.billing {
        BillingMode::PayPerRequest => (0, 0, "PAY_PER_REQUEST"),
        BillingMode::Provisioned { read_capacity_units, write_capacity_units } => {
            (read_capacity_units, write_capacity_units, "PROVISIONED")
        }
    };
    let mut throughput = json!({
        "NumberOfDecreasesToday": meta.decreases_today,
        "ReadCapacityUnits": read,
        "WriteCapacityUnits": write,
    });
    if let Some(t) = meta.last_increase_millis {
        throughput["LastIncreaseDateTime"] = seconds(t);
    }
    if let Some(t) = meta.last_decrease_millis {
        throughput["LastDecreaseDateTime"] = seconds(t);
    }
    let table_arn = identity.table_arn(&spec.name);
    let mut description = json!({
        "TableName": spec.name,
        "TableArn": table_arn,
        "TableId": meta.table_uuid,
        "TableStatus": match status { TableStatus::Active => "ACTIVE", TableStatus::Deleting => "DELETING" },
        "KeySchema": key_schema,
        "AttributeDefinitions": definitions,
        "CreationDateTime": seconds(meta.created_at_millis),
        "ProvisionedThroughput": throughput,
        "BillingModeSummary": {"BillingMode": mode},
        "TableSizeBytes": stats.size_bytes,
        "ItemCount": stats.item_count,
        "DeletionProtectionEnabled": spec.deletion_protection,
        "TableClassSummary": {"TableClass": spec.table_class},
    });
    for (kind, field) in
        [(IndexKind::Global, "GlobalSecondaryIndexes"), (IndexKind::Local, "LocalSecondaryIndexes")]
    {
        let indexes: Vec<Value> = meta
            .indexes
            .iter()
            .filter(|i| i.spec.kind == kind)
            .map(|i| describe_index(&table_arn, i, index_stats(i.id)))
            .collect();
        if !indexes.is_empty() {
            description[field] = json!(indexes);
        }
    }
    if let Some(stream) = &spec.stream {
        description["StreamSpecification"] =
            json!({"StreamEnabled": true, "StreamViewType": stream.view_type.as_str()});
    }
    // As in DynamoDB, the latest stream stays named after it is disabled.
    if let Some(latest) = spec.stream.as_ref().or(meta.past_streams.last()) {
        description["LatestStreamLabel"] = json!(latest.label);
        description["LatestStreamArn"] = json!(format!("{table_arn}/stream/{}", latest.label));
    }
    description
}
