//! Write-backs a trigger buffers during an invocation, the reader the host serves `get_item`
//! from, and the overlay that lets an invocation read its own buffered writes.

use serde_json::{Map, Value};

/// The committed state a trigger's `get_item` reads, supplied by the caller. Items and keys
/// are DynamoDB JSON (`{"id": {"S": "a"}}`).
pub trait HostReader: Send + Sync {
    /// The committed item with this primary key in `table`, or `None`. An `Err` fails the
    /// invocation with `InvocationError::HostRead`, so the batch is retried.
    fn get_item(&self, table: &str, key: &Value) -> Result<Option<Value>, String>;

    /// Applies one buffered `update_item` request (its `UpdateExpression` and
    /// `ExpressionAttributeNames`/`Values`) to `item`, the item as the invocation sees it so
    /// far (`None`: absent). Returns `None` when the reader does not evaluate updates, which
    /// is the default: the sandbox then answers with the item as of its last buffered put or
    /// delete and `"UnappliedUpdates": n`. Conditions are not evaluated here; the overlay
    /// assumes every buffered write will succeed.
    fn apply_update(&self, item: Option<&Value>, request: &Value) -> Option<Result<Option<Value>, String>> {
        let _ = (item, request);
        None
    }
}

/// Which DynamoDB write a write-back is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum WriteKind {
    /// `put_item`: `{"TableName", "Item", ...}`.
    Put,
    /// `update_item`: `{"TableName", "Key", "UpdateExpression", ...}`.
    Update,
    /// `delete_item`: `{"TableName", "Key", ...}`.
    Delete,
}

impl WriteKind {
    /// The host function name that buffers this kind.
    pub fn host_function(self) -> &'static str {
        match self {
            WriteKind::Put => "put_item",
            WriteKind::Update => "update_item",
            WriteKind::Delete => "delete_item",
        }
    }
}

/// One buffered write, in the order the guest issued it. The request has passed the shape
/// check of [`check_request`]; the caller parses its expressions and values and commits all
/// write-backs of the batch in one transaction with the trigger's checkpoint.
#[derive(Debug, Clone, PartialEq)]
pub struct WriteBack {
    /// Put, update or delete.
    pub kind: WriteKind,
    /// The request JSON, shaped like the DynamoDB API's request for that operation.
    pub request: Value,
}

impl WriteBack {
    /// The target table.
    pub fn table_name(&self) -> &str {
        self.request.get("TableName").and_then(Value::as_str).unwrap_or_default()
    }

    /// The `Item` of a put or the `Key` of an update or delete.
    pub fn key_or_item(&self) -> &Value {
        let field = if self.kind == WriteKind::Put { "Item" } else { "Key" };
        self.request.get(field).unwrap_or(&Value::Null)
    }
}

/// Checks the shape of a write-back request: a JSON object with a non-empty string
/// `TableName`, an object `Item` (put) or `Key` (update, delete), a string `UpdateExpression`
/// (update only), and optional string `ConditionExpression` and object
/// `ExpressionAttributeNames`/`ExpressionAttributeValues`. Nothing else is allowed.
pub fn check_request(kind: WriteKind, request: &Value) -> Result<(), String> {
    let object = request.as_object().ok_or("request is not a JSON object")?;
    check_table_name(object)?;
    let target = if kind == WriteKind::Put { "Item" } else { "Key" };
    require_object(object, target)?;
    match (kind, object.get("UpdateExpression")) {
        (WriteKind::Update, Some(Value::String(_))) => {}
        (WriteKind::Update, _) => return Err("UpdateExpression must be a string".into()),
        (_, Some(_)) => return Err(format!("UpdateExpression is not allowed in {}", kind.host_function())),
        (_, None) => {}
    }
    for (field, value) in object {
        // TableName, the target and UpdateExpression were checked above.
        let ok = match field.as_str() {
            "TableName" | "UpdateExpression" => true,
            "Item" | "Key" => field == target,
            "ConditionExpression" => value.is_string(),
            "ExpressionAttributeNames" | "ExpressionAttributeValues" => value.is_object(),
            _ => false,
        };
        if !ok {
            return Err(format!(
                "field `{field}` is not allowed or has the wrong type in {}",
                kind.host_function()
            ));
        }
    }
    Ok(())
}

/// Checks a `get_item` request: `{"TableName": string, "Key": object}` and optionally
/// `ConsistentRead` (ignored: reads are always of the last commit).
pub fn check_get_request(request: &Value) -> Result<(&str, &Value), String> {
    let object = request.as_object().ok_or("request is not a JSON object")?;
    let table = check_table_name(object)?;
    let key = require_object(object, "Key")?;
    for (field, value) in object {
        let ok = match field.as_str() {
            "TableName" | "Key" => true,
            "ConsistentRead" => value.is_boolean(),
            _ => false,
        };
        if !ok {
            return Err(format!("field `{field}` is not allowed or has the wrong type in get_item"));
        }
    }
    Ok((table, key))
}

fn check_table_name(object: &Map<String, Value>) -> Result<&str, String> {
    match object.get("TableName") {
        Some(Value::String(name)) if !name.is_empty() => Ok(name),
        _ => Err("TableName must be a non-empty string".into()),
    }
}

fn require_object<'a>(object: &'a Map<String, Value>, field: &str) -> Result<&'a Value, String> {
    match object.get(field) {
        Some(value @ Value::Object(_)) => Ok(value),
        _ => Err(format!("{field} must be a JSON object")),
    }
}

/// The item as the invocation sees it: the committed item, then each buffered write to the
/// same table and key in order. A put or delete replaces the item exactly; an update is handed
/// to [`HostReader::apply_update`] or, if the reader does not evaluate updates, counted.
pub(crate) struct Overlaid {
    pub item: Option<Value>,
    pub unapplied_updates: usize,
}

pub(crate) fn overlay(
    reader: &dyn HostReader,
    table: &str,
    key: &Value,
    committed: Option<Value>,
    writes: &[WriteBack],
) -> Result<Overlaid, String> {
    let mut seen = Overlaid { item: committed, unapplied_updates: 0 };
    for write in writes.iter().filter(|w| w.table_name() == table && same_key(key, w)) {
        match write.kind {
            WriteKind::Put => {
                seen = Overlaid { item: Some(write.key_or_item().clone()), unapplied_updates: 0 };
            }
            WriteKind::Delete => seen = Overlaid { item: None, unapplied_updates: 0 },
            WriteKind::Update if seen.unapplied_updates > 0 => seen.unapplied_updates += 1,
            WriteKind::Update => match reader.apply_update(seen.item.as_ref(), &write.request) {
                Some(result) => seen.item = result?,
                None => seen.unapplied_updates = 1,
            },
        }
    }
    Ok(seen)
}

/// A write targets `key` when every key attribute is equal in the write's `Key` (update,
/// delete) or `Item` (put). Attribute values compare as written: `{"N": "1"}` and
/// `{"N": "1.0"}` differ.
fn same_key(key: &Value, write: &WriteBack) -> bool {
    let (Some(key), Some(target)) = (key.as_object(), write.key_or_item().as_object()) else {
        return false;
    };
    let exact_len = write.kind != WriteKind::Put;
    (!exact_len || key.len() == target.len())
        && key.iter().all(|(name, value)| target.get(name) == Some(value))
}
