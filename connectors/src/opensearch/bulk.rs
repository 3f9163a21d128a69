//! The `_bulk` request bodies for a batch and the reading of OpenSearch's answers. Every action
//! carries the record's seq as an external version, which is what makes replays harmless: a
//! write with a version at or below the document's current one (or its delete tombstone) is
//! refused by OpenSearch with a version conflict, which means "already applied".

use std::collections::HashMap;

use eddy_core::changelog::ChangeEvent;
use serde_json::{Value, json};

use super::document::{document_id, item_to_json};
use crate::sink::{Batch, SinkError};

/// One document write of a batch: the last change of one item in the batch.
#[derive(Debug, Clone, PartialEq)]
pub struct Action {
    /// The document id (see [`document_id`]).
    pub id: String,
    /// The record's seq: the document's external version.
    pub version: u64,
    /// The document to index, or `None` to delete it.
    pub document: Option<Value>,
}

/// The actions of a batch: per item only its last change (an earlier change of the same item in
/// the same batch would be refused as a version conflict anyway), in order of each item's first
/// appearance.
pub fn actions(batch: &Batch) -> Result<Vec<Action>, SinkError> {
    let mut actions: Vec<Action> = Vec::with_capacity(batch.records.len());
    let mut by_id: HashMap<String, usize> = HashMap::with_capacity(batch.records.len());
    for record in &batch.records {
        if record.seq > i64::MAX as u64 {
            // OpenSearch versions are signed 64-bit; a seq never gets there in practice.
            return Err(SinkError::Permanent(format!(
                "seq {} is beyond OpenSearch's largest version",
                record.seq
            )));
        }
        let id = document_id(&batch.key_attributes, &record.keys)
            .map_err(|e| SinkError::Permanent(format!("record {}: {e}", record.seq)))?;
        let document = match (record.event, &record.new) {
            (ChangeEvent::Remove, _) => None,
            (_, Some(new)) => Some(item_to_json(new)),
            (_, None) => {
                return Err(SinkError::Permanent(format!(
                    "record {} is an INSERT or MODIFY without a new image",
                    record.seq
                )));
            }
        };
        let action = Action { id, version: record.seq, document };
        match by_id.get(&action.id) {
            Some(&i) => actions[i] = action,
            None => {
                by_id.insert(action.id.clone(), actions.len());
                actions.push(action);
            }
        }
    }
    Ok(actions)
}

/// The NDJSON bodies of `_bulk` requests to `/{index}/_bulk` carrying `actions`, each at most
/// `bytes_max` long unless a single action is larger on its own (it then goes alone).
pub fn bodies(actions: &[Action], bytes_max: usize) -> Vec<Vec<u8>> {
    let mut bodies = Vec::new();
    let mut body = Vec::new();
    let mut lines = Vec::new();
    for action in actions {
        lines.clear();
        let meta = json!({"_id": action.id, "version": action.version, "version_type": "external"});
        let op = if action.document.is_some() { "index" } else { "delete" };
        push_line(&mut lines, &json!({ op: meta }));
        if let Some(document) = &action.document {
            push_line(&mut lines, document);
        }
        if !body.is_empty() && body.len() + lines.len() > bytes_max {
            bodies.push(std::mem::take(&mut body));
        }
        body.extend_from_slice(&lines);
    }
    if !body.is_empty() {
        bodies.push(body);
    }
    bodies
}

fn push_line(out: &mut Vec<u8>, value: &Value) {
    // Serializing a `Value` into a Vec cannot fail: its keys are strings and writes to a Vec
    // always succeed.
    if serde_json::to_writer(&mut *out, value).is_ok() {
        out.push(b'\n');
    }
}

/// What OpenSearch did with the items of one `_bulk` request.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub struct Outcome {
    /// Documents created or replaced.
    pub indexed: u64,
    /// Documents deleted, or delete tombstones written for documents that were not there.
    pub deleted: u64,
    /// Writes refused because the document already has this version or a newer one: they were
    /// applied before (a replay or a retry).
    pub conflicts: u64,
}

/// Reads a `_bulk` response body: the items' outcome, or the error to report. An item error
/// that retrying can fix (429, 5xx, a missing index) makes the request transient; any other
/// item error (a mapping conflict, a document OpenSearch refuses) is permanent, and wins.
pub fn read_response(body: &Value) -> Result<Outcome, SinkError> {
    let items = body["items"]
        .as_array()
        .ok_or_else(|| SinkError::Transient("the _bulk response has no items".to_string()))?;
    let mut outcome = Outcome::default();
    let mut transient: Option<String> = None;
    let mut permanent: Vec<String> = Vec::new();
    let mut permanent_count = 0usize;
    for entry in items {
        let Some((op, item)) = entry.as_object().and_then(|o| o.iter().next()) else {
            return Err(SinkError::Transient(format!("unexpected _bulk response item {entry}")));
        };
        let status = item["status"].as_u64().unwrap_or(0);
        let error_type = item["error"]["type"].as_str().unwrap_or("");
        match status {
            200..=299 if op == "delete" => outcome.deleted += 1,
            200..=299 => outcome.indexed += 1,
            // A delete of a document that is not there still writes its versioned tombstone.
            404 if op == "delete" && item["error"].is_null() => outcome.deleted += 1,
            409 if error_type == "version_conflict_engine_exception" => outcome.conflicts += 1,
            _ => {
                let description = format!(
                    "{op} of document {} failed with status {status}: {error_type}: {}",
                    item["_id"].as_str().unwrap_or("?"),
                    item["error"]["reason"].as_str().unwrap_or("(no reason given)")
                );
                if status == 429 || status >= 500 || status == 0 || error_type == "index_not_found_exception"
                {
                    transient.get_or_insert(description);
                } else {
                    permanent_count += 1;
                    if permanent.len() < 3 {
                        permanent.push(description);
                    }
                }
            }
        }
    }
    if permanent_count > 0 {
        let more = permanent_count - permanent.len();
        let more = if more > 0 { format!(" (and {more} more)") } else { String::new() };
        return Err(SinkError::Permanent(format!("{}{more}", permanent.join("; "))));
    }
    if let Some(description) = transient {
        return Err(SinkError::Transient(description));
    }
    Ok(outcome)
}

#[cfg(test)]
mod tests {
    use eddy_core::changelog::ChangeRecord;
    use eddy_core::{AttributeValue, Item};

    use super::*;

    fn record(seq: u64, event: ChangeEvent, pk: &str, value: Option<&str>) -> ChangeRecord {
        let keys: Item = [("pk".to_string(), AttributeValue::S(pk.into()))].into();
        let new = value.map(|v| {
            let mut item = keys.clone();
            item.insert("v".into(), AttributeValue::S(v.into()));
            item
        });
        ChangeRecord { seq, event, keys, old: None, new, created_at_millis: 0, transaction_id: None, hops: 0 }
    }

    fn batch(records: Vec<ChangeRecord>) -> Batch {
        Batch { table: "t".into(), key_attributes: vec!["pk".into()], records, records_json: Vec::new() }
    }

    #[test]
    fn only_the_last_change_of_an_item_is_sent() {
        let b = batch(vec![
            record(1, ChangeEvent::Insert, "a", Some("1")),
            record(2, ChangeEvent::Insert, "b", Some("1")),
            record(3, ChangeEvent::Modify, "a", Some("2")),
            record(4, ChangeEvent::Remove, "b", None),
        ]);
        let actions = actions(&b).unwrap();
        assert_eq!(actions.len(), 2);
        assert_eq!(
            (actions[0].version, actions[0].document.as_ref().map(|d| d["v"].clone())),
            (3, Some(json!("2")))
        );
        assert_eq!((actions[1].version, actions[1].document.is_none()), (4, true));
    }

    #[test]
    fn bodies_are_split_by_bytes_and_keep_external_versions() {
        let records = (1..=10).map(|i| record(i, ChangeEvent::Insert, &format!("k{i}"), Some("x"))).collect();
        let actions = actions(&batch(records)).unwrap();
        let one = bodies(&actions, usize::MAX);
        assert_eq!(one.len(), 1);
        let text = String::from_utf8(one[0].clone()).unwrap();
        let lines: Vec<Value> = text.lines().map(|l| serde_json::from_str(l).unwrap()).collect();
        assert_eq!(lines.len(), 20);
        assert_eq!(lines[0]["index"]["version"], json!(1));
        assert_eq!(lines[0]["index"]["version_type"], json!("external"));
        assert_eq!(lines[1], json!({"pk": "k1", "v": "x"}));
        let per_action = one[0].len() / 10;
        let split = bodies(&actions, per_action * 3 + 1);
        assert!(split.len() >= 4, "{}", split.len());
        assert!(split.iter().all(|b| b.len() <= per_action * 3 + 1));
        assert_eq!(split.concat(), one[0]);
        // An action larger than the limit goes alone rather than not at all.
        assert_eq!(bodies(&actions, 1).len(), 10);
    }

    #[test]
    fn version_conflicts_and_missing_deletes_are_applied() {
        let body = json!({"errors": true, "items": [
            {"index": {"_id": "a", "status": 201, "result": "created"}},
            {"index": {"_id": "b", "status": 409, "error": {"type": "version_conflict_engine_exception", "reason": "v"}}},
            {"delete": {"_id": "c", "status": 404, "result": "not_found"}},
            {"delete": {"_id": "d", "status": 200, "result": "deleted"}},
        ]});
        assert_eq!(read_response(&body).unwrap(), Outcome { indexed: 1, deleted: 2, conflicts: 1 });
    }

    #[test]
    fn item_errors_are_classified() {
        let item = |status: u64, kind: &str| json!({"index": {"_id": "x", "status": status, "error": {"type": kind, "reason": "why"}}});
        let response = |items: Vec<Value>| json!({"errors": true, "items": items});
        assert!(matches!(
            read_response(&response(vec![item(429, "es_rejected_execution_exception")])),
            Err(SinkError::Transient(_))
        ));
        assert!(matches!(
            read_response(&response(vec![item(503, "unavailable_shards_exception")])),
            Err(SinkError::Transient(_))
        ));
        let Err(SinkError::Permanent(reason)) = read_response(&response(vec![
            item(429, "es_rejected_execution_exception"),
            item(400, "mapper_parsing_exception"),
        ])) else {
            panic!("a mapping conflict is permanent");
        };
        assert!(reason.contains("mapper_parsing_exception") && reason.contains("why"), "{reason}");
        let missing = json!({"delete": {"_id": "x", "status": 404, "error": {"type": "index_not_found_exception", "reason": "no such index"}}});
        assert!(matches!(read_response(&response(vec![missing])), Err(SinkError::Transient(_))));
    }
}
