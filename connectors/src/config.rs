//! A connector's configuration (`PUT /v1/connectors/{name}`): which sink, which table, where
//! to start, how to batch and how to retry, with every number checked against a named range.
//! It is stored as a durable document of kind [`DOCUMENT_KIND`]; credentials are kept there
//! and shown only as [`REDACTED`].

use std::time::Duration;

use serde_json::{Map, Value, json};

use crate::error::ConnectorError;

/// Document kind of connector configurations.
pub const DOCUMENT_KIND: &str = "connector";
/// Most connectors in one store.
pub const CONNECTORS_MAX: usize = 256;
/// Longest connector name (characters); the checkpoint's consumer name adds a prefix.
pub const NAME_CHARS_MAX: usize = 100;

/// Most records in one batch (one S3 object).
pub const BATCH_RECORDS_MAX: u64 = 100_000;
/// Default `Batch.MaxRecords`.
pub const BATCH_RECORDS_DEFAULT: u64 = 10_000;
/// Smallest `Batch.MaxBytes`.
pub const BATCH_BYTES_MIN: u64 = 1024;
/// Largest `Batch.MaxBytes`: the pull loop holds one batch in memory (twice: records and
/// their JSON), so this bounds a connector's memory.
pub const BATCH_BYTES_MAX: u64 = 256 * 1024 * 1024;
/// Default `Batch.MaxBytes`.
pub const BATCH_BYTES_DEFAULT: u64 = 8 * 1024 * 1024;
/// Longest `Batch.FlushIntervalMillis` (15 minutes).
pub const FLUSH_INTERVAL_MAX: Duration = Duration::from_secs(15 * 60);
/// Default `Batch.FlushIntervalMillis`.
pub const FLUSH_INTERVAL_DEFAULT: Duration = Duration::from_secs(1);
/// Most `Retry.MaxAttempts` (0 means: retry until the sink takes the batch).
pub const RETRY_ATTEMPTS_MAX: u64 = 1_000_000;
/// Longest `Retry.MaxBackoffMillis` (1 hour); also the bound of `InitialBackoffMillis`.
pub const BACKOFF_MAX: Duration = Duration::from_secs(3600);
/// Default `Retry.InitialBackoffMillis`.
pub const BACKOFF_INITIAL_DEFAULT: Duration = Duration::from_millis(200);
/// Default `Retry.MaxBackoffMillis`.
pub const BACKOFF_MAX_DEFAULT: Duration = Duration::from_secs(30);

/// What secret settings show as in every answer.
pub const REDACTED: &str = "****";

/// The checkpoint of connector `name`: a core consumer of this name.
pub fn consumer_name(name: &str) -> String {
    format!("connector.{name}")
}

/// Checks a connector name: 1 to [`NAME_CHARS_MAX`] of `[a-zA-Z0-9_.-]`.
pub fn validate_name(name: &str) -> Result<(), ConnectorError> {
    let ok = !name.is_empty()
        && name.chars().count() <= NAME_CHARS_MAX
        && name.chars().all(|c| c.is_ascii_alphanumeric() || matches!(c, '_' | '.' | '-'));
    if ok {
        Ok(())
    } else {
        Err(ConnectorError::validation(format!(
            "Connector names are 1 to {NAME_CHARS_MAX} characters of [a-zA-Z0-9_.-]; got {name:?}"
        )))
    }
}

/// The destination kind.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SinkType {
    /// S3-compatible object storage (`S3` settings).
    S3,
    /// OpenSearch (`OpenSearch` settings).
    OpenSearch,
}

impl SinkType {
    /// The `Type` value.
    pub fn as_str(self) -> &'static str {
        match self {
            SinkType::S3 => "s3",
            SinkType::OpenSearch => "opensearch",
        }
    }

    /// The field holding this type's settings.
    pub fn settings_field(self) -> &'static str {
        match self {
            SinkType::S3 => "S3",
            SinkType::OpenSearch => "OpenSearch",
        }
    }
}

/// Where a new connector starts.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Start {
    /// Export every item of the table first, then stream from the changelog position taken
    /// before the scan.
    Snapshot,
    /// The oldest retained change record.
    TrimHorizon,
    /// Only changes committed after the connector is created.
    Latest,
}

impl Start {
    /// The `Start` value.
    pub fn as_str(self) -> &'static str {
        match self {
            Start::Snapshot => "snapshot",
            Start::TrimHorizon => "trim_horizon",
            Start::Latest => "latest",
        }
    }
}

/// When the pull loop hands a batch to the sink: whichever bound is reached first.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct BatchPolicy {
    /// `MaxRecords`: most records per batch.
    pub records_max: usize,
    /// `MaxBytes`: most bytes of record JSON lines per batch (a single larger record still
    /// goes alone).
    pub bytes_max: usize,
    /// `FlushIntervalMillis`: how long a batch that is not full waits for more records.
    pub flush_interval: Duration,
}

/// How the pull loop retries a batch the sink could not take for a transient reason.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RetryPolicy {
    /// `MaxAttempts`: attempts of one batch before the connector goes FAILED (0: no limit; the
    /// connector waits for the sink as long as it takes).
    pub attempts_max: u32,
    /// `InitialBackoffMillis`: the wait after the first failure; doubles per attempt.
    pub backoff_initial: Duration,
    /// `MaxBackoffMillis`: the longest wait.
    pub backoff_max: Duration,
}

impl RetryPolicy {
    /// The wait before attempt `attempt + 1` after `attempt` failures (1-based), with "equal
    /// jitter": half the exponential delay plus a random share of the other half, so many
    /// connectors failing together do not retry in lockstep. `jitter` is in `[0, 1)`.
    pub fn backoff(&self, attempt: u32, jitter: f64) -> Duration {
        let factor = 1u32 << attempt.saturating_sub(1).min(20);
        let full = self.backoff_initial.saturating_mul(factor).min(self.backoff_max);
        let half = full / 2;
        half + half.mul_f64(jitter.clamp(0.0, 1.0))
    }
}

/// A connector's whole configuration, as sent (settings of the sink kept as JSON; the sink
/// parses them).
#[derive(Debug, Clone, PartialEq)]
pub struct ConnectorConfig {
    /// `Type`.
    pub sink_type: SinkType,
    /// `TableName`.
    pub table_name: String,
    /// `Start`.
    pub start: Start,
    /// `Batch`.
    pub batch: BatchPolicy,
    /// `Retry`.
    pub retry: RetryPolicy,
    /// `S3` or `OpenSearch`: the sink's settings, with secrets.
    pub settings: Value,
}

const FIELDS: &[&str] = &["Type", "TableName", "Start", "Batch", "Retry", "S3", "OpenSearch"];

impl ConnectorConfig {
    /// Parses and checks a `PUT /v1/connectors/{name}` body. Settings that a previous
    /// configuration had and this one shows as [`REDACTED`] keep their stored value, so a
    /// configuration read back with GET can be sent again.
    pub fn parse(
        body: &Value,
        previous: Option<&ConnectorConfig>,
    ) -> Result<ConnectorConfig, ConnectorError> {
        let Value::Object(fields) = body else {
            return Err(ConnectorError::validation("The connector configuration must be a JSON object"));
        };
        if let Some(unknown) = fields.keys().find(|k| !FIELDS.contains(&k.as_str())) {
            return Err(ConnectorError::validation(format!(
                "Unknown field {unknown:?}; a connector takes {}",
                FIELDS.join(", ")
            )));
        }
        let sink_type = match fields.get("Type").and_then(Value::as_str) {
            Some("s3") => SinkType::S3,
            Some("opensearch") => SinkType::OpenSearch,
            Some(other) => {
                return Err(ConnectorError::validation(format!(
                    "Type must be \"s3\" or \"opensearch\"; got {other:?}"
                )));
            }
            None => return Err(ConnectorError::validation("Type is required: \"s3\" or \"opensearch\"")),
        };
        let table_name = match fields.get("TableName").and_then(Value::as_str) {
            Some(t) if !t.is_empty() => t.to_string(),
            _ => return Err(ConnectorError::validation("TableName is required (a string)")),
        };
        let start = match fields.get("Start").map(|v| v.as_str()) {
            None => Start::Latest,
            Some(Some("snapshot")) => Start::Snapshot,
            Some(Some("trim_horizon")) => Start::TrimHorizon,
            Some(Some("latest")) => Start::Latest,
            Some(_) => {
                return Err(ConnectorError::validation(format!(
                    "Start must be \"snapshot\", \"trim_horizon\" or \"latest\"; got {}",
                    fields["Start"]
                )));
            }
        };
        let batch = object(fields, "Batch", &["MaxRecords", "MaxBytes", "FlushIntervalMillis"])?;
        let batch = BatchPolicy {
            records_max: number(&batch, "Batch.MaxRecords", 1, BATCH_RECORDS_MAX, BATCH_RECORDS_DEFAULT)?
                as usize,
            bytes_max: number(
                &batch,
                "Batch.MaxBytes",
                BATCH_BYTES_MIN,
                BATCH_BYTES_MAX,
                BATCH_BYTES_DEFAULT,
            )? as usize,
            flush_interval: millis(
                &batch,
                "Batch.FlushIntervalMillis",
                0,
                FLUSH_INTERVAL_MAX,
                FLUSH_INTERVAL_DEFAULT,
            )?,
        };
        let retry = object(fields, "Retry", &["MaxAttempts", "InitialBackoffMillis", "MaxBackoffMillis"])?;
        let backoff_initial =
            millis(&retry, "Retry.InitialBackoffMillis", 1, BACKOFF_MAX, BACKOFF_INITIAL_DEFAULT)?;
        let retry = RetryPolicy {
            attempts_max: number(&retry, "Retry.MaxAttempts", 0, RETRY_ATTEMPTS_MAX, 0)? as u32,
            backoff_initial,
            backoff_max: millis(
                &retry,
                "Retry.MaxBackoffMillis",
                backoff_initial.as_millis() as u64,
                BACKOFF_MAX,
                BACKOFF_MAX_DEFAULT.max(backoff_initial),
            )?,
        };
        let field = sink_type.settings_field();
        for other in [SinkType::S3, SinkType::OpenSearch] {
            if other != sink_type && fields.contains_key(other.settings_field()) {
                return Err(ConnectorError::validation(format!(
                    "{} settings do not apply to Type {}; give {field}",
                    other.settings_field(),
                    sink_type.as_str()
                )));
            }
        }
        let mut settings = match fields.get(field) {
            Some(Value::Object(s)) => Value::Object(s.clone()),
            Some(_) => return Err(ConnectorError::validation(format!("{field} must be a JSON object"))),
            None => {
                return Err(ConnectorError::validation(format!(
                    "{field} is required for Type {}",
                    sink_type.as_str()
                )));
            }
        };
        if let Some(previous) = previous.filter(|p| p.sink_type == sink_type) {
            restore_secrets(&mut settings, &previous.settings);
        }
        Ok(ConnectorConfig { sink_type, table_name, start, batch, retry, settings })
    }

    /// The configuration as stored (with secrets).
    pub fn to_stored_json(&self) -> Value {
        let mut out = json!({
            "Type": self.sink_type.as_str(),
            "TableName": self.table_name,
            "Start": self.start.as_str(),
            "Batch": {
                "MaxRecords": self.batch.records_max,
                "MaxBytes": self.batch.bytes_max,
                "FlushIntervalMillis": self.batch.flush_interval.as_millis() as u64,
            },
            "Retry": {
                "MaxAttempts": self.retry.attempts_max,
                "InitialBackoffMillis": self.retry.backoff_initial.as_millis() as u64,
                "MaxBackoffMillis": self.retry.backoff_max.as_millis() as u64,
            },
        });
        out[self.sink_type.settings_field()] = self.settings.clone();
        out
    }

    /// The configuration as answers show it: secrets replaced by [`REDACTED`].
    pub fn to_json(&self) -> Value {
        let mut out = self.to_stored_json();
        redact(&mut out[self.sink_type.settings_field()]);
        out
    }

    /// Whether a change from `self` to `next` keeps the checkpoint: the same table and start.
    pub fn keeps_checkpoint(&self, next: &ConnectorConfig) -> bool {
        self.table_name == next.table_name && self.start == next.start
    }
}

/// Whether a settings field holds a secret (shown as [`REDACTED`]).
pub fn is_secret(field: &str) -> bool {
    let lower = field.to_ascii_lowercase();
    ["secret", "password", "token", "apikey", "api_key"].iter().any(|s| lower.contains(s))
}

fn redact(value: &mut Value) {
    match value {
        Value::Object(fields) => {
            for (key, v) in fields.iter_mut() {
                if is_secret(key) && !v.is_null() {
                    *v = REDACTED.into();
                } else {
                    redact(v);
                }
            }
        }
        Value::Array(items) => items.iter_mut().for_each(redact),
        _ => {}
    }
}

fn restore_secrets(value: &mut Value, previous: &Value) {
    if let (Value::Object(fields), Value::Object(old)) = (value, previous) {
        for (key, v) in fields.iter_mut() {
            match old.get(key) {
                Some(stored) if is_secret(key) && v.as_str() == Some(REDACTED) => *v = stored.clone(),
                Some(stored) => restore_secrets(v, stored),
                None => {}
            }
        }
    }
}

fn object(
    fields: &Map<String, Value>,
    name: &str,
    allowed: &[&str],
) -> Result<Map<String, Value>, ConnectorError> {
    match fields.get(name) {
        None | Some(Value::Null) => Ok(Map::new()),
        Some(Value::Object(o)) => {
            if let Some(unknown) = o.keys().find(|k| !allowed.contains(&k.as_str())) {
                return Err(ConnectorError::validation(format!(
                    "Unknown field {name}.{unknown}; {name} takes {}",
                    allowed.join(", ")
                )));
            }
            Ok(o.clone())
        }
        Some(_) => Err(ConnectorError::validation(format!("{name} must be a JSON object"))),
    }
}

fn number(
    fields: &Map<String, Value>,
    path: &str,
    min: u64,
    max: u64,
    default: u64,
) -> Result<u64, ConnectorError> {
    let key = path.rsplit('.').next().unwrap_or(path);
    match fields.get(key) {
        None | Some(Value::Null) => Ok(default),
        Some(v) => match v.as_u64() {
            Some(n) if (min..=max).contains(&n) => Ok(n),
            _ => Err(ConnectorError::validation(format!(
                "{path} must be a whole number from {min} to {max}; got {v}"
            ))),
        },
    }
}

fn millis(
    fields: &Map<String, Value>,
    path: &str,
    min: u64,
    max: Duration,
    default: Duration,
) -> Result<Duration, ConnectorError> {
    number(fields, path, min, max.as_millis() as u64, default.as_millis() as u64).map(Duration::from_millis)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn body() -> Value {
        json!({
            "Type": "s3",
            "TableName": "Orders",
            "Start": "trim_horizon",
            "Batch": {"MaxRecords": 500, "FlushIntervalMillis": 100},
            "S3": {"Bucket": "b", "AccessKeyId": "ak", "SecretAccessKey": "sk"},
        })
    }

    #[test]
    fn defaults_fill_what_is_not_given_and_secrets_are_redacted() -> Result<(), ConnectorError> {
        let config = ConnectorConfig::parse(&body(), None)?;
        assert_eq!(config.batch.records_max, 500);
        assert_eq!(config.batch.bytes_max, BATCH_BYTES_DEFAULT as usize);
        assert_eq!(config.retry.attempts_max, 0);
        let shown = config.to_json();
        assert_eq!(shown["S3"]["SecretAccessKey"], REDACTED);
        assert_eq!(shown["S3"]["AccessKeyId"], "ak");
        assert_eq!(config.to_stored_json()["S3"]["SecretAccessKey"], "sk");
        // What GET shows can be sent back: the stored secret stays.
        let again = ConnectorConfig::parse(&shown, Some(&config))?;
        assert_eq!(again.settings["SecretAccessKey"], "sk");
        Ok(())
    }

    #[test]
    fn out_of_range_and_unknown_fields_name_the_field() {
        let cases = [
            (json!({"Batch": {"MaxRecords": 0}}), "Batch.MaxRecords"),
            (json!({"Batch": {"MaxBytes": 10}}), "Batch.MaxBytes"),
            (
                json!({"Retry": {"InitialBackoffMillis": 5000, "MaxBackoffMillis": 10}}),
                "Retry.MaxBackoffMillis",
            ),
            (json!({"Retry": {"Attempts": 1}}), "Retry.Attempts"),
            (json!({"Start": "yesterday"}), "Start"),
            (json!({"Type": "kafka"}), "Type"),
            (json!({"OpenSearch": {}}), "OpenSearch"),
            (json!({"Colour": 1}), "Colour"),
        ];
        for (patch, field) in cases {
            let mut b = body();
            if let (Value::Object(b), Value::Object(p)) = (&mut b, patch) {
                b.extend(p);
            }
            match ConnectorConfig::parse(&b, None) {
                Err(ConnectorError::Validation { message }) => assert!(message.contains(field), "{message}"),
                other => panic!("{field}: {other:?}"),
            }
        }
    }

    #[test]
    fn backoff_grows_to_its_bound_with_bounded_jitter() {
        let retry = RetryPolicy {
            attempts_max: 0,
            backoff_initial: Duration::from_millis(100),
            backoff_max: Duration::from_secs(1),
        };
        assert_eq!(retry.backoff(1, 0.0), Duration::from_millis(50));
        assert_eq!(retry.backoff(1, 0.999_999).as_millis(), 99);
        assert_eq!(retry.backoff(3, 0.0), Duration::from_millis(200));
        assert_eq!(retry.backoff(60, 0.0), Duration::from_millis(500));
        assert!(retry.backoff(60, 0.999) <= Duration::from_secs(1));
    }
}
