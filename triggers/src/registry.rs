//! Trigger registrations: the request body of `PUT /v1/triggers/{name}` (the fields of Lambda's
//! CreateEventSourceMapping where they exist, plus the module and its sandbox limits), its
//! validation with precise messages, and the durable document a registration is stored as.

use std::time::Duration;

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD as BASE64;
use eddy_core::changelog::parse_sequence_number;
use eddy_core::store::StartPosition;
use eddy_streams::filter::FilterCriteria;
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value, json};

use crate::error::TriggerError;
use crate::sandbox::Limits;

/// Most triggers in one store.
pub const TRIGGERS_MAX: usize = 1000;
/// Longest trigger name (characters), as Lambda function names.
pub const TRIGGER_NAME_CHARS_MAX: usize = 64;
/// Document kind of registrations in the store.
pub const DOCUMENT_KIND: &str = "trigger";
/// Prefix of the core consumer that holds a trigger's checkpoint: `trigger.<name>`.
pub const CONSUMER_PREFIX: &str = "trigger.";
/// Suffix of the default dead-letter table: `<name>-dead-letters`.
pub const DEAD_LETTER_SUFFIX: &str = "-dead-letters";

/// BatchSize bounds and default (Lambda, DynamoDB Streams: 1 to 10 000, default 100).
pub const BATCH_SIZE_MAX: i64 = 10_000;
/// Default BatchSize.
pub const BATCH_SIZE_DEFAULT: i64 = 100;
/// Longest MaximumBatchingWindowInSeconds (Lambda: 300).
pub const BATCHING_WINDOW_SECONDS_MAX: i64 = 300;
/// Most MaximumRetryAttempts (Lambda: 10 000; -1 retries until the record expires).
pub const RETRY_ATTEMPTS_MAX: i64 = 10_000;
/// MaximumRecordAgeInSeconds bounds (Lambda: 60 to 604 800; -1 is infinite).
pub const RECORD_AGE_SECONDS_MIN: i64 = 60;
/// Largest MaximumRecordAgeInSeconds (7 days).
pub const RECORD_AGE_SECONDS_MAX: i64 = 604_800;
/// Largest ParallelizationFactor (Lambda: 10).
pub const PARALLELIZATION_FACTOR_MAX: i64 = 10;
/// Longest TumblingWindowInSeconds (Lambda: 900).
pub const TUMBLING_WINDOW_SECONDS_MAX: i64 = 900;
/// Longest `Limits.TimeoutMillis` (Lambda's longest timeout: 15 minutes).
pub const TIMEOUT_MILLIS_MAX: i64 = 900_000;

/// Where a new trigger starts reading its table's changelog.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum StartingPosition {
    /// The oldest retained record.
    TrimHorizon,
    /// Records committed after the registration.
    Latest,
    /// The first record committed at or after `StartingPositionTimestamp`.
    AtTimestamp,
    /// The record `StartingSequenceNumber` (Eddy's addition).
    AtSequenceNumber,
}

/// The sandbox limits of a registration, in the API's units.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct LimitsConfig {
    /// Fuel per invocation.
    pub fuel_per_invocation: u64,
    /// Wall-clock deadline of one invocation, milliseconds.
    pub timeout_millis: u64,
    /// Largest linear memory, bytes.
    pub memory_bytes_max: u64,
    /// Most table elements.
    pub table_elements_max: u32,
    /// Largest batch JSON, bytes.
    pub input_bytes_max: u64,
    /// Largest response JSON, bytes.
    pub output_bytes_max: u64,
    /// Most log bytes per invocation.
    pub log_bytes_max: u64,
    /// Most write-backs per invocation.
    pub writes_max: u64,
    /// Most bytes of write-back requests per invocation.
    pub write_bytes_max: u64,
    /// Largest host call request, bytes.
    pub host_request_bytes_max: u64,
}

impl Default for LimitsConfig {
    fn default() -> Self {
        let d = Limits::default();
        LimitsConfig {
            fuel_per_invocation: d.fuel_per_invocation,
            timeout_millis: d.deadline.as_millis() as u64,
            memory_bytes_max: d.memory_bytes_max,
            table_elements_max: d.table_elements_max,
            input_bytes_max: d.input_bytes_max as u64,
            output_bytes_max: d.output_bytes_max as u64,
            log_bytes_max: d.log_bytes_max as u64,
            writes_max: d.writes_max as u64,
            write_bytes_max: d.write_bytes_max as u64,
            host_request_bytes_max: d.host_request_bytes_max as u64,
        }
    }
}

impl LimitsConfig {
    /// The sandbox's limits.
    pub fn to_limits(&self) -> Limits {
        let size = |v: u64| usize::try_from(v).unwrap_or(usize::MAX);
        Limits {
            fuel_per_invocation: self.fuel_per_invocation,
            deadline: Duration::from_millis(self.timeout_millis),
            memory_bytes_max: self.memory_bytes_max,
            table_elements_max: self.table_elements_max,
            input_bytes_max: size(self.input_bytes_max),
            output_bytes_max: size(self.output_bytes_max),
            log_bytes_max: size(self.log_bytes_max),
            writes_max: size(self.writes_max),
            write_bytes_max: size(self.write_bytes_max),
            host_request_bytes_max: size(self.host_request_bytes_max),
            ..Limits::default()
        }
    }
}

/// A validated binding of a module to a table: everything but the module bytes.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct TriggerConfig {
    /// The source table.
    pub table_name: String,
    /// Where a new trigger starts.
    pub starting_position: StartingPosition,
    /// With AT_TIMESTAMP: milliseconds since the epoch.
    pub starting_position_timestamp_millis: Option<u64>,
    /// With AT_SEQUENCE_NUMBER: the seq.
    pub starting_sequence_number: Option<u64>,
    /// Most records per batch.
    pub batch_size: u32,
    /// How long to gather records before invoking, seconds.
    pub maximum_batching_window_in_seconds: u32,
    /// Lambda's FilterCriteria as given (validated), if any.
    pub filter_criteria: Option<Value>,
    /// Retries of a failed batch; -1 retries until the records expire.
    pub maximum_retry_attempts: i64,
    /// Oldest record delivered, seconds; -1 is no limit.
    pub maximum_record_age_in_seconds: i64,
    /// Split a failed batch in two and retry each half.
    pub bisect_batch_on_function_error: bool,
    /// Honour `batchItemFailures` (`ReportBatchItemFailures`).
    pub report_batch_item_failures: bool,
    /// Concurrent invocations per batch, split by item key.
    pub parallelization_factor: u32,
    /// Length of the tumbling windows, seconds; 0 is none.
    pub tumbling_window_in_seconds: u32,
    /// The dead-letter table.
    pub dead_letter_table: String,
    /// Whether the trigger runs.
    pub enabled: bool,
    /// Sandbox limits.
    pub limits: LimitsConfig,
}

impl TriggerConfig {
    /// The start position of the trigger's consumer.
    pub fn start_position(&self) -> StartPosition {
        match self.starting_position {
            StartingPosition::TrimHorizon => StartPosition::TrimHorizon,
            StartingPosition::Latest => StartPosition::Latest,
            StartingPosition::AtTimestamp => {
                StartPosition::AtTime(self.starting_position_timestamp_millis.unwrap_or(0))
            }
            StartingPosition::AtSequenceNumber => {
                StartPosition::AtSequence(self.starting_sequence_number.unwrap_or(0))
            }
        }
    }

    /// The parsed filter; `None` lets every record pass. The criteria were validated at
    /// registration, so a stored one always parses.
    pub fn filter(&self) -> Option<FilterCriteria> {
        self.filter_criteria.as_ref().and_then(|f| FilterCriteria::from_json(f).ok())
    }

    /// The configuration as `GET /v1/triggers/{name}` shows it (Lambda's field names).
    pub fn to_json(&self) -> Value {
        let mut out = Map::new();
        out.insert("TableName".into(), self.table_name.clone().into());
        out.insert("StartingPosition".into(), json!(self.starting_position));
        if let Some(millis) = self.starting_position_timestamp_millis {
            out.insert("StartingPositionTimestamp".into(), json!(millis as f64 / 1000.0));
        }
        if let Some(seq) = self.starting_sequence_number {
            out.insert(
                "StartingSequenceNumber".into(),
                eddy_core::changelog::format_sequence_number(seq).into(),
            );
        }
        out.insert("BatchSize".into(), self.batch_size.into());
        out.insert("MaximumBatchingWindowInSeconds".into(), self.maximum_batching_window_in_seconds.into());
        if let Some(filter) = &self.filter_criteria {
            out.insert("FilterCriteria".into(), filter.clone());
        }
        out.insert("MaximumRetryAttempts".into(), self.maximum_retry_attempts.into());
        out.insert("MaximumRecordAgeInSeconds".into(), self.maximum_record_age_in_seconds.into());
        out.insert("BisectBatchOnFunctionError".into(), self.bisect_batch_on_function_error.into());
        let types: Vec<&str> =
            if self.report_batch_item_failures { vec!["ReportBatchItemFailures"] } else { vec![] };
        out.insert("FunctionResponseTypes".into(), json!(types));
        out.insert("ParallelizationFactor".into(), self.parallelization_factor.into());
        out.insert("TumblingWindowInSeconds".into(), self.tumbling_window_in_seconds.into());
        out.insert("DestinationConfig".into(), json!({"OnFailure": {"Destination": self.dead_letter_table}}));
        out.insert("Enabled".into(), self.enabled.into());
        out.insert("Limits".into(), json!(self.limits));
        Value::Object(out)
    }
}

/// A parsed `PUT /v1/triggers/{name}` body: the module and its configuration.
#[derive(Debug, Clone)]
pub struct Registration {
    /// Module bytes (wasm binary or WAT text).
    pub module: Vec<u8>,
    /// The binding.
    pub config: TriggerConfig,
}

/// The stored document of a registration (kind [`DOCUMENT_KIND`]).
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct StoredTrigger {
    /// The binding.
    pub config: TriggerConfig,
    /// The module, base64.
    pub module: String,
    /// SHA-256 of the module bytes, hex.
    pub module_sha256: String,
    /// First registration, milliseconds since the epoch.
    pub created_at_millis: u64,
    /// Last change (module, configuration, enable/disable), milliseconds since the epoch.
    pub last_modified_millis: u64,
    /// Counts registrations of this name: 1 at creation, +1 per replacement.
    pub version: u64,
}

impl StoredTrigger {
    /// Encodes for the store.
    pub fn encode(&self) -> Result<Vec<u8>, TriggerError> {
        serde_json::to_vec(self)
            .map_err(|e| TriggerError::Corrupt { name: String::new(), reason: e.to_string() })
    }

    /// Decodes a stored document.
    pub fn decode(name: &str, bytes: &[u8]) -> Result<StoredTrigger, TriggerError> {
        serde_json::from_slice(bytes)
            .map_err(|e| TriggerError::Corrupt { name: name.into(), reason: e.to_string() })
    }

    /// The module bytes.
    pub fn module_bytes(&self) -> Result<Vec<u8>, TriggerError> {
        BASE64.decode(&self.module).map_err(|e| TriggerError::Corrupt {
            name: String::new(),
            reason: format!("module is not base64: {e}"),
        })
    }
}

/// Checks a trigger name: 1 to 64 characters of letters, digits, `-` and `_`.
pub fn validate_name(name: &str) -> Result<(), TriggerError> {
    let ok = !name.is_empty()
        && name.chars().count() <= TRIGGER_NAME_CHARS_MAX
        && name.chars().all(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '_'));
    if ok {
        Ok(())
    } else {
        Err(TriggerError::validation(format!(
            "Trigger names are 1 to {TRIGGER_NAME_CHARS_MAX} characters of letters, digits, '-' and '_'; got {name:?}"
        )))
    }
}

/// The consumer holding a trigger's checkpoint.
pub fn consumer_name(trigger: &str) -> String {
    format!("{CONSUMER_PREFIX}{trigger}")
}

const FIELDS: &[&str] = &[
    "Module",
    "ModuleWat",
    "TableName",
    "StartingPosition",
    "StartingPositionTimestamp",
    "StartingSequenceNumber",
    "BatchSize",
    "MaximumBatchingWindowInSeconds",
    "FilterCriteria",
    "MaximumRetryAttempts",
    "MaximumRecordAgeInSeconds",
    "BisectBatchOnFunctionError",
    "FunctionResponseTypes",
    "ParallelizationFactor",
    "TumblingWindowInSeconds",
    "DestinationConfig",
    "Enabled",
    "Limits",
];

/// Parses and validates a registration body for trigger `name`.
pub fn parse_registration(name: &str, body: &Value) -> Result<Registration, TriggerError> {
    validate_name(name)?;
    let Value::Object(body) = body else {
        return Err(TriggerError::validation("The request body must be a JSON object"));
    };
    if let Some(unknown) = body.keys().find(|k| !FIELDS.contains(&k.as_str())) {
        return Err(TriggerError::validation(format!(
            "Unknown field {unknown:?}; a registration has {}",
            FIELDS.join(", ")
        )));
    }
    let module = match (body.get("Module"), body.get("ModuleWat")) {
        (Some(_), Some(_)) => {
            return Err(TriggerError::validation(
                "Give either Module (base64 wasm) or ModuleWat (text), not both",
            ));
        }
        (None, None) => {
            return Err(TriggerError::validation("Module (base64 wasm) or ModuleWat (WAT text) is required"));
        }
        (Some(Value::String(b64)), None) => BASE64
            .decode(b64.trim())
            .map_err(|e| TriggerError::validation(format!("Module must be base64-encoded wasm: {e}")))?,
        (None, Some(Value::String(text))) => text.clone().into_bytes(),
        (Some(_), None) => return Err(TriggerError::validation("Module must be a string (base64 wasm)")),
        (None, Some(_)) => return Err(TriggerError::validation("ModuleWat must be a string (WAT text)")),
    };
    let table_name = match body.get("TableName") {
        Some(Value::String(t)) => validate_table_name(t, "TableName")?,
        Some(_) => return Err(TriggerError::validation("TableName must be a string")),
        None => return Err(TriggerError::validation("TableName is required")),
    };
    let starting_position = match body.get("StartingPosition") {
        None => {
            return Err(TriggerError::validation(
                "StartingPosition is required: TRIM_HORIZON, LATEST, AT_TIMESTAMP or AT_SEQUENCE_NUMBER",
            ));
        }
        Some(Value::String(s)) => match s.as_str() {
            "TRIM_HORIZON" => StartingPosition::TrimHorizon,
            "LATEST" => StartingPosition::Latest,
            "AT_TIMESTAMP" => StartingPosition::AtTimestamp,
            "AT_SEQUENCE_NUMBER" => StartingPosition::AtSequenceNumber,
            other => {
                return Err(TriggerError::validation(format!(
                    "StartingPosition must be TRIM_HORIZON, LATEST, AT_TIMESTAMP or AT_SEQUENCE_NUMBER; got {other:?}"
                )));
            }
        },
        Some(_) => return Err(TriggerError::validation("StartingPosition must be a string")),
    };
    let starting_position_timestamp_millis = match (body.get("StartingPositionTimestamp"), starting_position)
    {
        (None, StartingPosition::AtTimestamp) => {
            return Err(TriggerError::validation("StartingPositionTimestamp is required with AT_TIMESTAMP"));
        }
        (Some(value), StartingPosition::AtTimestamp) => Some(timestamp_millis(value)?),
        (Some(_), _) => {
            return Err(TriggerError::validation(
                "StartingPositionTimestamp is only allowed with AT_TIMESTAMP",
            ));
        }
        (None, _) => None,
    };
    let starting_sequence_number = match (body.get("StartingSequenceNumber"), starting_position) {
        (None, StartingPosition::AtSequenceNumber) => {
            return Err(TriggerError::validation(
                "StartingSequenceNumber is required with AT_SEQUENCE_NUMBER",
            ));
        }
        (Some(Value::String(text)), StartingPosition::AtSequenceNumber) => {
            Some(parse_sequence_number(text).ok_or_else(|| {
                TriggerError::validation(format!(
                    "StartingSequenceNumber must be a sequence number (digits); got {text:?}"
                ))
            })?)
        }
        (Some(_), StartingPosition::AtSequenceNumber) => {
            return Err(TriggerError::validation("StartingSequenceNumber must be a string of digits"));
        }
        (Some(_), _) => {
            return Err(TriggerError::validation(
                "StartingSequenceNumber is only allowed with AT_SEQUENCE_NUMBER",
            ));
        }
        (None, _) => None,
    };
    let batch_size = integer(body, "BatchSize", BATCH_SIZE_DEFAULT, 1, BATCH_SIZE_MAX)?;
    let window = integer(body, "MaximumBatchingWindowInSeconds", 0, 0, BATCHING_WINDOW_SECONDS_MAX)?;
    let filter_criteria = match body.get("FilterCriteria") {
        None | Some(Value::Null) => None,
        Some(value) => {
            FilterCriteria::from_json(value)
                .map_err(|e| TriggerError::validation(format!("Invalid FilterCriteria: {e}")))?;
            Some(value.clone())
        }
    };
    let maximum_retry_attempts = integer(body, "MaximumRetryAttempts", -1, -1, RETRY_ATTEMPTS_MAX)?;
    let maximum_record_age_in_seconds =
        integer(body, "MaximumRecordAgeInSeconds", -1, -1, RECORD_AGE_SECONDS_MAX)?;
    if (0..RECORD_AGE_SECONDS_MIN).contains(&maximum_record_age_in_seconds) {
        return Err(TriggerError::validation(format!(
            "MaximumRecordAgeInSeconds must be -1 (no limit) or from {RECORD_AGE_SECONDS_MIN} to {RECORD_AGE_SECONDS_MAX}; got {maximum_record_age_in_seconds}"
        )));
    }
    let bisect = boolean(body, "BisectBatchOnFunctionError", false)?;
    let report_batch_item_failures = match body.get("FunctionResponseTypes") {
        None | Some(Value::Null) => false,
        Some(Value::Array(types)) => {
            if types.len() > 1 {
                return Err(TriggerError::validation(
                    "FunctionResponseTypes holds at most one value: ReportBatchItemFailures",
                ));
            }
            match types.first() {
                None => false,
                Some(Value::String(t)) if t == "ReportBatchItemFailures" => true,
                Some(other) => {
                    return Err(TriggerError::validation(format!(
                        "FunctionResponseTypes may only contain \"ReportBatchItemFailures\"; got {other}"
                    )));
                }
            }
        }
        Some(_) => {
            return Err(TriggerError::validation(
                "FunctionResponseTypes must be a list, e.g. [\"ReportBatchItemFailures\"]",
            ));
        }
    };
    let parallelization_factor = integer(body, "ParallelizationFactor", 1, 1, PARALLELIZATION_FACTOR_MAX)?;
    let tumbling = integer(body, "TumblingWindowInSeconds", 0, 0, TUMBLING_WINDOW_SECONDS_MAX)?;
    if tumbling != 0 && parallelization_factor != 1 {
        return Err(TriggerError::validation(format!(
            "TumblingWindowInSeconds needs ParallelizationFactor 1 (one window state per trigger); got ParallelizationFactor {parallelization_factor}"
        )));
    }
    let dead_letter_table = match body.get("DestinationConfig") {
        None | Some(Value::Null) => format!("{name}{DEAD_LETTER_SUFFIX}"),
        Some(value) => destination(value, name)?,
    };
    if dead_letter_table == table_name {
        return Err(TriggerError::validation(
            "DestinationConfig.OnFailure.Destination must not be the trigger's own source table",
        ));
    }
    let enabled = boolean(body, "Enabled", true)?;
    let limits = limits(body.get("Limits"))?;
    Ok(Registration {
        module,
        config: TriggerConfig {
            table_name,
            starting_position,
            starting_position_timestamp_millis,
            starting_sequence_number,
            batch_size: batch_size as u32,
            maximum_batching_window_in_seconds: window as u32,
            filter_criteria,
            maximum_retry_attempts,
            maximum_record_age_in_seconds,
            bisect_batch_on_function_error: bisect,
            report_batch_item_failures,
            parallelization_factor: parallelization_factor as u32,
            tumbling_window_in_seconds: tumbling as u32,
            dead_letter_table,
            enabled,
            limits,
        },
    })
}

/// Table names as DynamoDB allows them: 3 to 255 characters of `[a-zA-Z0-9_.-]`.
fn validate_table_name(name: &str, field: &str) -> Result<String, TriggerError> {
    let ok = (3..=255).contains(&name.len())
        && name.chars().all(|c| c.is_ascii_alphanumeric() || matches!(c, '_' | '.' | '-'));
    if ok {
        Ok(name.to_string())
    } else {
        Err(TriggerError::validation(format!(
            "{field} must be a table name of 3 to 255 characters of [a-zA-Z0-9_.-]; got {name:?}"
        )))
    }
}

/// `{"OnFailure": {"Destination": "<table name or table ARN>"}}`.
fn destination(value: &Value, trigger: &str) -> Result<String, TriggerError> {
    let Value::Object(config) = value else {
        return Err(TriggerError::validation(
            "DestinationConfig must be an object: {\"OnFailure\": {\"Destination\": \"<table>\"}}",
        ));
    };
    if config.contains_key("OnSuccess") {
        return Err(TriggerError::validation(
            "DestinationConfig.OnSuccess is not supported for triggers (Lambda does not support it for streams either)",
        ));
    }
    if let Some(unknown) = config.keys().find(|k| k.as_str() != "OnFailure") {
        return Err(TriggerError::validation(format!("Unknown field DestinationConfig.{unknown}")));
    }
    let Some(on_failure) = config.get("OnFailure") else {
        return Ok(format!("{trigger}{DEAD_LETTER_SUFFIX}"));
    };
    let Value::Object(on_failure) = on_failure else {
        return Err(TriggerError::validation("DestinationConfig.OnFailure must be an object"));
    };
    if let Some(unknown) = on_failure.keys().find(|k| k.as_str() != "Destination") {
        return Err(TriggerError::validation(format!("Unknown field DestinationConfig.OnFailure.{unknown}")));
    }
    match on_failure.get("Destination") {
        None => Ok(format!("{trigger}{DEAD_LETTER_SUFFIX}")),
        Some(Value::String(target)) => {
            // A table ARN names the table after `:table/`.
            let table = match target.split_once(":table/") {
                Some((prefix, table)) if prefix.starts_with("arn:") => table,
                _ => target.as_str(),
            };
            validate_table_name(table, "DestinationConfig.OnFailure.Destination")
        }
        Some(_) => Err(TriggerError::validation(
            "DestinationConfig.OnFailure.Destination must be a string: the dead-letter table's name or ARN",
        )),
    }
}

fn integer(
    body: &Map<String, Value>,
    field: &str,
    default: i64,
    min: i64,
    max: i64,
) -> Result<i64, TriggerError> {
    match body.get(field) {
        None | Some(Value::Null) => Ok(default),
        Some(Value::Number(n)) => match n.as_i64() {
            Some(v) if (min..=max).contains(&v) => Ok(v),
            _ => Err(TriggerError::validation(format!(
                "{field} must be a whole number from {min} to {max}; got {n}"
            ))),
        },
        Some(other) => Err(TriggerError::validation(format!("{field} must be a number; got {other}"))),
    }
}

fn boolean(body: &Map<String, Value>, field: &str, default: bool) -> Result<bool, TriggerError> {
    match body.get(field) {
        None | Some(Value::Null) => Ok(default),
        Some(Value::Bool(b)) => Ok(*b),
        Some(other) => Err(TriggerError::validation(format!("{field} must be true or false; got {other}"))),
    }
}

/// `StartingPositionTimestamp`: epoch seconds (a number, as Lambda takes it) or RFC 3339.
fn timestamp_millis(value: &Value) -> Result<u64, TriggerError> {
    let invalid = || {
        TriggerError::validation(
            "StartingPositionTimestamp must be epoch seconds or an RFC 3339 time such as 2024-05-01T12:00:00Z",
        )
    };
    match value {
        Value::Number(n) => {
            let secs = n.as_f64().filter(|s| s.is_finite() && *s >= 0.0).ok_or_else(invalid)?;
            Ok((secs * 1000.0) as u64)
        }
        Value::String(s) => eddy_streams::subscription::time::parse_rfc3339_millis(s).ok_or_else(invalid),
        _ => Err(invalid()),
    }
}

/// One settable sandbox limit: its field, the most a registration may ask, and where it goes.
struct LimitField {
    name: &'static str,
    max: u64,
    set: fn(&mut LimitsConfig, u64),
}

const LIMIT_FIELDS: &[LimitField] = &[
    LimitField { name: "FuelPerInvocation", max: 1_000_000_000_000, set: |l, v| l.fuel_per_invocation = v },
    LimitField { name: "TimeoutMillis", max: TIMEOUT_MILLIS_MAX as u64, set: |l, v| l.timeout_millis = v },
    LimitField { name: "MemoryBytesMax", max: 1 << 31, set: |l, v| l.memory_bytes_max = v },
    LimitField { name: "TableElementsMax", max: 1_000_000, set: |l, v| l.table_elements_max = v as u32 },
    LimitField { name: "InputBytesMax", max: 64 << 20, set: |l, v| l.input_bytes_max = v },
    LimitField { name: "OutputBytesMax", max: 64 << 20, set: |l, v| l.output_bytes_max = v },
    LimitField { name: "LogBytesMax", max: 16 << 20, set: |l, v| l.log_bytes_max = v },
    LimitField { name: "WritesMax", max: 100_000, set: |l, v| l.writes_max = v },
    LimitField { name: "WriteBytesMax", max: 64 << 20, set: |l, v| l.write_bytes_max = v },
    LimitField { name: "HostRequestBytesMax", max: 16 << 20, set: |l, v| l.host_request_bytes_max = v },
];

fn limits(value: Option<&Value>) -> Result<LimitsConfig, TriggerError> {
    let mut limits = LimitsConfig::default();
    let fields = match value {
        None | Some(Value::Null) => return Ok(limits),
        Some(Value::Object(fields)) => fields,
        Some(_) => return Err(TriggerError::validation("Limits must be an object")),
    };
    for (name, value) in fields {
        let Some(field) = LIMIT_FIELDS.iter().find(|f| f.name == name) else {
            let known: Vec<&str> = LIMIT_FIELDS.iter().map(|f| f.name).collect();
            return Err(TriggerError::validation(format!(
                "Unknown field Limits.{name}; the limits are {}",
                known.join(", ")
            )));
        };
        match value.as_u64() {
            Some(v) if (1..=field.max).contains(&v) => (field.set)(&mut limits, v),
            _ => {
                return Err(TriggerError::validation(format!(
                    "Limits.{name} must be a whole number from 1 to {}; got {value}",
                    field.max
                )));
            }
        }
    }
    Ok(limits)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(body: Value) -> Result<Registration, String> {
        parse_registration("t1", &body).map_err(|e| e.to_string())
    }

    fn base() -> Value {
        json!({"ModuleWat": "(module)", "TableName": "Orders", "StartingPosition": "TRIM_HORIZON"})
    }

    fn with(field: &str, value: Value) -> Value {
        let mut body = base();
        body[field] = value;
        body
    }

    #[test]
    fn defaults_follow_lambda() {
        let r = parse(base()).unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(r.config.batch_size, 100);
        assert_eq!(r.config.maximum_retry_attempts, -1);
        assert_eq!(r.config.maximum_record_age_in_seconds, -1);
        assert_eq!(r.config.parallelization_factor, 1);
        assert_eq!(r.config.dead_letter_table, "t1-dead-letters");
        assert!(r.config.enabled);
        assert_eq!(r.module, b"(module)");
    }

    #[test]
    fn ranges_are_lambdas_with_precise_messages() {
        for (field, bad) in [
            ("BatchSize", json!(0)),
            ("BatchSize", json!(10_001)),
            ("MaximumBatchingWindowInSeconds", json!(301)),
            ("MaximumRetryAttempts", json!(-2)),
            ("MaximumRetryAttempts", json!(10_001)),
            ("MaximumRecordAgeInSeconds", json!(59)),
            ("MaximumRecordAgeInSeconds", json!(604_801)),
            ("ParallelizationFactor", json!(11)),
            ("TumblingWindowInSeconds", json!(901)),
            ("TumblingWindowInSeconds", json!(-1)),
            ("BatchSize", json!("10")),
        ] {
            let error = parse(with(field, bad.clone())).err().unwrap_or_default();
            assert!(error.contains(field), "{field}={bad}: {error}");
        }
        for (field, good) in [
            ("BatchSize", json!(10_000)),
            ("MaximumRetryAttempts", json!(0)),
            ("MaximumRecordAgeInSeconds", json!(60)),
            ("MaximumRecordAgeInSeconds", json!(-1)),
            ("ParallelizationFactor", json!(10)),
            ("TumblingWindowInSeconds", json!(0)),
            ("TumblingWindowInSeconds", json!(900)),
        ] {
            assert!(parse(with(field, good.clone())).is_ok(), "{field}={good}");
        }
        let mut body = with("TumblingWindowInSeconds", json!(60));
        body["ParallelizationFactor"] = json!(2);
        let error = parse(body).err().unwrap_or_default();
        assert!(error.contains("TumblingWindowInSeconds needs ParallelizationFactor 1"), "{error}");
    }

    #[test]
    fn starting_positions_need_their_companions() {
        let error = parse(with("StartingPosition", json!("AT_TIMESTAMP"))).err().unwrap_or_default();
        assert!(error.contains("StartingPositionTimestamp is required"), "{error}");
        let mut body = with("StartingPosition", json!("AT_SEQUENCE_NUMBER"));
        body["StartingSequenceNumber"] = json!("000000000000000000042");
        let r = parse(body).unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(r.config.start_position(), StartPosition::AtSequence(42));
        let error = parse(with("StartingSequenceNumber", json!("1"))).err().unwrap_or_default();
        assert!(error.contains("only allowed with AT_SEQUENCE_NUMBER"), "{error}");
        let mut no_position = base();
        no_position.as_object_mut().map(|o| o.remove("StartingPosition"));
        assert!(parse(no_position).is_err());
    }

    #[test]
    fn modules_destinations_filters_and_limits_are_checked() {
        let mut both = base();
        both["Module"] = json!("AGFzbQEAAAA=");
        assert!(parse(both).err().unwrap_or_default().contains("not both"));
        assert!(parse(with("Module", json!("!!!"))).is_err());
        let r = parse(with(
            "DestinationConfig",
            json!({"OnFailure": {"Destination": "arn:aws:dynamodb:us-east-1:000000000000:table/Dlq"}}),
        ))
        .unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(r.config.dead_letter_table, "Dlq");
        let own = parse(with("DestinationConfig", json!({"OnFailure": {"Destination": "Orders"}})));
        assert!(own.err().unwrap_or_default().contains("own source table"));
        let bad_filter = parse(with("FilterCriteria", json!({"Filters": [{"Pattern": "{"}]})));
        assert!(bad_filter.err().unwrap_or_default().contains("FilterCriteria"));
        let r = parse(with("Limits", json!({"FuelPerInvocation": 1000, "TimeoutMillis": 50})))
            .unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(r.config.limits.to_limits().fuel_per_invocation, 1000);
        assert_eq!(r.config.limits.to_limits().deadline, Duration::from_millis(50));
        let error = parse(with("Limits", json!({"Fuel": 1}))).err().unwrap_or_default();
        assert!(error.contains("Limits.Fuel"), "{error}");
        let error = parse(with("Limits", json!({"TimeoutMillis": 0}))).err().unwrap_or_default();
        assert!(error.contains("Limits.TimeoutMillis"), "{error}");
        assert!(parse(with("Bogus", json!(1))).err().unwrap_or_default().contains("Bogus"));
        assert!(parse_registration("bad name", &base()).is_err());
    }
}
