//! A [`ChangeRecord`] as DynamoDB Streams shows it: the `Record` of GetRecords, with attribute
//! values in DynamoDB JSON and the images the stream's view type asks for.
//!
//! Eddy's transaction id and trigger hop count are not part of DynamoDB's `StreamRecord`, so
//! [`to_json`] (the Streams API) leaves them out: a client that checks records against
//! DynamoDB's model sees nothing unexpected. Eddy's own APIs use [`to_json_extended`].

use base64::Engine;
use base64::engine::general_purpose::STANDARD as BASE64;
use eddy_core::changelog::ChangeRecord;
use eddy_core::schema::StreamViewType;
use eddy_core::value::item_size_bytes;
use eddy_core::{AttributeValue, Item};
use serde_json::{Map, Value, json};

/// DynamoDB Streams' eventVersion for records of tables (global tables version 2019).
pub const EVENT_VERSION: &str = "1.1";
/// DynamoDB Streams' eventSource.
pub const EVENT_SOURCE: &str = "aws:dynamodb";

/// What a record's encoding needs besides the record itself.
#[derive(Debug, Clone, Copy)]
pub struct RecordContext<'a> {
    /// The table's internal id: with the seq it makes the eventID unique.
    pub table_id: u64,
    /// Which images the stream shows.
    pub view_type: StreamViewType,
    /// awsRegion.
    pub region: &'a str,
}

/// The images a view type shows: (old, new).
fn images(record: &ChangeRecord, view_type: StreamViewType) -> (Option<&Item>, Option<&Item>) {
    let old = record.old.as_ref();
    let new = record.new.as_ref();
    match view_type {
        StreamViewType::KeysOnly => (None, None),
        StreamViewType::NewImage => (None, new),
        StreamViewType::OldImage => (old, None),
        StreamViewType::NewAndOldImages => (old, new),
    }
}

/// SizeBytes: the keys plus the images the view type shows.
pub fn size_bytes(record: &ChangeRecord, view_type: StreamViewType) -> usize {
    let (old, new) = images(record, view_type);
    item_size_bytes(&record.keys) + old.map_or(0, item_size_bytes) + new.map_or(0, item_size_bytes)
}

/// The eventID: 32 hex digits, unique per table and seq, the same every time it is read.
pub fn event_id(table_id: u64, seq: u64) -> String {
    format!("{table_id:016x}{seq:016x}")
}

/// The record as a GetRecords `Record`.
pub fn to_json(record: &ChangeRecord, context: RecordContext<'_>) -> Value {
    let (old, new) = images(record, context.view_type);
    let mut dynamodb = Map::new();
    dynamodb.insert("ApproximateCreationDateTime".into(), json!(record.created_at_millis / 1000));
    dynamodb.insert("Keys".into(), item_json(&record.keys));
    if let Some(new) = new {
        dynamodb.insert("NewImage".into(), item_json(new));
    }
    if let Some(old) = old {
        dynamodb.insert("OldImage".into(), item_json(old));
    }
    dynamodb.insert("SequenceNumber".into(), record.sequence_number().into());
    dynamodb.insert("SizeBytes".into(), json!(size_bytes(record, context.view_type)));
    dynamodb.insert("StreamViewType".into(), context.view_type.as_str().into());
    json!({
        "awsRegion": context.region,
        "dynamodb": dynamodb,
        "eventID": event_id(context.table_id, record.seq),
        "eventName": record.event.as_str(),
        "eventSource": EVENT_SOURCE,
        "eventVersion": EVENT_VERSION,
    })
}

/// The record as Eddy's own APIs show it (HTTP subscriptions, consumers, trigger batches): the
/// GetRecords shape plus `eventSourceARN` (the table's stream ARN, as Lambda events carry it)
/// and an `eddy` object with the transaction id (shared by all records of one transaction) and
/// the trigger hop count, when they apply.
pub fn to_json_extended(
    record: &ChangeRecord,
    context: RecordContext<'_>,
    event_source_arn: Option<&str>,
) -> Value {
    let mut value = to_json(record, context);
    if let Value::Object(map) = &mut value {
        if let Some(arn) = event_source_arn {
            map.insert("eventSourceARN".into(), arn.into());
        }
        let mut eddy = Map::new();
        if let Some(id) = record.transaction_id {
            eddy.insert("TransactionId".into(), format!("{id:016x}").into());
        }
        if record.hops > 0 {
            eddy.insert("Hops".into(), record.hops.into());
        }
        if !eddy.is_empty() {
            map.insert("eddy".into(), Value::Object(eddy));
        }
    }
    value
}

/// An item (or key) in DynamoDB JSON.
pub fn item_json(item: &Item) -> Value {
    Value::Object(item.iter().map(|(k, v)| (k.clone(), value_json(v))).collect())
}

/// An attribute value in DynamoDB JSON (`{"S": "x"}`, `{"N": "1"}`, `{"B": base64}`, ...).
pub fn value_json(value: &AttributeValue) -> Value {
    match value {
        AttributeValue::S(s) => json!({"S": s}),
        AttributeValue::N(n) => json!({"N": n.to_string()}),
        AttributeValue::B(b) => json!({"B": BASE64.encode(b)}),
        AttributeValue::Bool(b) => json!({"BOOL": b}),
        AttributeValue::Null => json!({"NULL": true}),
        AttributeValue::M(m) => json!({"M": item_json(m)}),
        AttributeValue::L(l) => json!({"L": l.iter().map(value_json).collect::<Vec<_>>()}),
        AttributeValue::Ss(s) => json!({"SS": s}),
        AttributeValue::Ns(s) => json!({"NS": s.iter().map(|n| n.to_string()).collect::<Vec<_>>()}),
        AttributeValue::Bs(s) => json!({"BS": s.iter().map(|b| BASE64.encode(b)).collect::<Vec<_>>()}),
    }
}

#[cfg(test)]
mod tests {
    use std::collections::{BTreeMap, BTreeSet};

    use eddy_core::Number;
    use eddy_core::changelog::ChangeEvent;

    use super::*;

    fn modify() -> ChangeRecord {
        let keys: Item = BTreeMap::from([("pk".to_string(), AttributeValue::S("a".into()))]);
        let mut old = keys.clone();
        old.insert("n".into(), AttributeValue::N(Number::parse("1").unwrap_or_else(|_| Number::zero())));
        let mut new = keys.clone();
        new.insert("b".into(), AttributeValue::B(vec![0, 1]));
        new.insert("ss".into(), AttributeValue::Ss(BTreeSet::from(["x".to_string()])));
        ChangeRecord {
            seq: 7,
            event: ChangeEvent::Modify,
            keys,
            old: Some(old),
            new: Some(new),
            created_at_millis: 1_700_000_000_999,
            transaction_id: Some(3),
            hops: 0,
        }
    }

    fn context(view_type: StreamViewType) -> RecordContext<'static> {
        RecordContext { table_id: 2, view_type, region: "us-east-1" }
    }

    #[test]
    fn records_have_dynamodb_streams_shape() {
        let json = to_json(&modify(), context(StreamViewType::NewAndOldImages));
        assert_eq!(
            json,
            json!({
                "awsRegion": "us-east-1",
                "dynamodb": {
                    "ApproximateCreationDateTime": 1_700_000_000,
                    "Keys": {"pk": {"S": "a"}},
                    "NewImage": {"pk": {"S": "a"}, "b": {"B": "AAE="}, "ss": {"SS": ["x"]}},
                    "OldImage": {"pk": {"S": "a"}, "n": {"N": "1"}},
                    "SequenceNumber": "000000000000000000007",
                    "SizeBytes": 18,
                    "StreamViewType": "NEW_AND_OLD_IMAGES"
                },
                "eventID": "00000000000000020000000000000007",
                "eventName": "MODIFY",
                "eventSource": "aws:dynamodb",
                "eventVersion": "1.1"
            })
        );
    }

    #[test]
    fn view_types_choose_the_images() {
        let record = modify();
        let has = |view, field: &str| to_json(&record, context(view))["dynamodb"].get(field).is_some();
        assert!(!has(StreamViewType::KeysOnly, "NewImage") && !has(StreamViewType::KeysOnly, "OldImage"));
        assert!(has(StreamViewType::NewImage, "NewImage") && !has(StreamViewType::NewImage, "OldImage"));
        assert!(!has(StreamViewType::OldImage, "NewImage") && has(StreamViewType::OldImage, "OldImage"));
        assert_eq!(size_bytes(&record, StreamViewType::KeysOnly), 3);
        assert!(
            to_json(&record, context(StreamViewType::KeysOnly))["dynamodb"].get("TransactionId").is_none()
        );
    }
}
