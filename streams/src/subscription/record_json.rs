//! A change record as DynamoDB Streams JSON (the `Record` shape of GetRecords), the form HTTP
//! subscriptions and consumers hand out and filters match against. Subscriptions always carry
//! both images, so `StreamViewType` is `NEW_AND_OLD_IMAGES`.

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD as BASE64;
use eddy_core::changelog::ChangeRecord;
use eddy_core::{AttributeValue, Item};
use serde_json::{Map, Value, json};

/// `eventVersion` of the records (DynamoDB Streams reports "1.1").
pub const EVENT_VERSION: &str = "1.1";

/// What a record's JSON needs beyond the record itself.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RecordContext {
    /// `awsRegion`.
    pub region: String,
    /// The internal id of the table, which makes `eventID` unique across re-created tables.
    pub table_id: u64,
}

/// The record as DynamoDB Streams JSON. `eventID` is derived from the table id and the seq, so
/// every read of one record gives the same id.
pub fn record_json(record: &ChangeRecord, context: &RecordContext) -> Value {
    let mut dynamodb = Map::new();
    dynamodb.insert("ApproximateCreationDateTime".into(), json!(record.created_at_millis / 1000));
    dynamodb.insert("Keys".into(), item_json(&record.keys));
    if let Some(new) = &record.new {
        dynamodb.insert("NewImage".into(), item_json(new));
    }
    if let Some(old) = &record.old {
        dynamodb.insert("OldImage".into(), item_json(old));
    }
    dynamodb.insert("SequenceNumber".into(), record.sequence_number().into());
    dynamodb.insert("SizeBytes".into(), json!(record.size_bytes()));
    dynamodb.insert("StreamViewType".into(), "NEW_AND_OLD_IMAGES".into());
    json!({
        "eventID": format!("{:016x}{:016x}", context.table_id, record.seq),
        "eventName": record.event.as_str(),
        "eventVersion": EVENT_VERSION,
        "eventSource": "aws:dynamodb",
        "awsRegion": context.region,
        "dynamodb": Value::Object(dynamodb),
    })
}

/// An item as DynamoDB JSON (`{"name": {"S": "..."}}`).
pub fn item_json(item: &Item) -> Value {
    Value::Object(item.iter().map(|(k, v)| (k.clone(), value_json(v))).collect())
}

/// One attribute value as DynamoDB JSON.
pub fn value_json(value: &AttributeValue) -> Value {
    match value {
        AttributeValue::S(s) => json!({ "S": s }),
        AttributeValue::N(n) => json!({ "N": n.to_string() }),
        AttributeValue::B(b) => json!({ "B": BASE64.encode(b) }),
        AttributeValue::Bool(b) => json!({ "BOOL": b }),
        AttributeValue::Null => json!({ "NULL": true }),
        AttributeValue::M(m) => json!({ "M": item_json(m) }),
        AttributeValue::L(l) => json!({ "L": l.iter().map(value_json).collect::<Vec<_>>() }),
        AttributeValue::Ss(s) => json!({ "SS": s }),
        AttributeValue::Ns(s) => json!({ "NS": s.iter().map(|n| n.to_string()).collect::<Vec<_>>() }),
        AttributeValue::Bs(s) => json!({ "BS": s.iter().map(|b| BASE64.encode(b)).collect::<Vec<_>>() }),
    }
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeMap;

    use eddy_core::Number;
    use eddy_core::changelog::ChangeEvent;

    use super::*;

    #[test]
    fn modify_record_has_the_dynamodb_streams_shape() {
        let keys: Item = BTreeMap::from([("pk".to_string(), AttributeValue::S("a".into()))]);
        let mut old = keys.clone();
        old.insert("n".into(), AttributeValue::N(Number::parse("4").unwrap_or_else(|_| Number::zero())));
        let mut new = keys.clone();
        new.insert("b".into(), AttributeValue::B(vec![1, 2]));
        let record = ChangeRecord {
            seq: 42,
            event: ChangeEvent::Modify,
            keys,
            old: Some(old),
            new: Some(new),
            created_at_millis: 1_700_000_000_123,
            transaction_id: None,
            hops: 0,
        };
        let value = record_json(&record, &RecordContext { region: "eu-west-1".into(), table_id: 3 });
        assert_eq!(value["eventID"], "0000000000000003000000000000002a");
        assert_eq!(value["eventName"], "MODIFY");
        assert_eq!(value["eventSource"], "aws:dynamodb");
        assert_eq!(value["awsRegion"], "eu-west-1");
        assert_eq!(value["dynamodb"]["SequenceNumber"], "000000000000000000042");
        assert_eq!(value["dynamodb"]["ApproximateCreationDateTime"], 1_700_000_000);
        assert_eq!(value["dynamodb"]["Keys"], json!({"pk": {"S": "a"}}));
        assert_eq!(value["dynamodb"]["OldImage"]["n"], json!({"N": "4"}));
        assert_eq!(value["dynamodb"]["NewImage"]["b"], json!({"B": "AQI="}));
        assert_eq!(value["dynamodb"]["StreamViewType"], "NEW_AND_OLD_IMAGES");
        assert_eq!(value["dynamodb"]["SizeBytes"], json!(record.size_bytes()));
    }
}
