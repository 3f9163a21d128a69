//! The TableDescription structure of CreateTable, DescribeTable, UpdateTable and DeleteTable.

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

/// Renders a TableDescription.
pub fn describe(identity: &Identity, meta: &TableMeta, stats: TableStats, status: TableStatus) -> Value {
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
    if let Some(stream) = &spec.stream {
        description["StreamSpecification"] =
            json!({"StreamEnabled": true, "StreamViewType": stream.view_type.as_str()});
        description["LatestStreamLabel"] = json!(stream.label);
        description["LatestStreamArn"] = json!(format!("{table_arn}/stream/{}", stream.label));
    }
    description
}
