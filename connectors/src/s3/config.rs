//! The `S3` settings of a connector and how they become an `object_store` client.

use std::sync::Arc;
use std::time::Duration;

use object_store::aws::AmazonS3Builder;
use object_store::{ClientOptions, ObjectStore, RetryConfig};
use serde_json::{Map, Value};

/// Smallest `MultipartThresholdBytes` (S3's smallest part is 5 MiB).
pub const MULTIPART_THRESHOLD_MIN: u64 = 5 * 1024 * 1024;
/// Largest `MultipartThresholdBytes` (S3's largest single PUT is 5 GiB).
pub const MULTIPART_THRESHOLD_MAX: u64 = 5 * 1024 * 1024 * 1024;
/// Default `MultipartThresholdBytes`: objects larger than this go up in parts.
pub const MULTIPART_THRESHOLD_DEFAULT: u64 = 16 * 1024 * 1024;
/// Longest `Prefix` (bytes); S3 keys are at most 1024 bytes.
pub const PREFIX_BYTES_MAX: usize = 512;
/// Connecting to the endpoint may take this long before the attempt fails (and is retried by
/// the pull loop with its backoff).
pub const CONNECT_TIMEOUT: Duration = Duration::from_secs(5);
/// One request (a part, a whole object) may take this long.
pub const REQUEST_TIMEOUT: Duration = Duration::from_secs(120);

const FIELDS: &[&str] = &[
    "Endpoint",
    "Bucket",
    "Prefix",
    "Region",
    "AccessKeyId",
    "SecretAccessKey",
    "Gzip",
    "ForcePathStyle",
    "AllowHttp",
    "MultipartThresholdBytes",
];

/// Parsed `S3` settings.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct S3Config {
    /// `Endpoint`: the S3 API URL (MinIO, Garage, ...); AWS's regional endpoint when absent.
    pub endpoint: Option<String>,
    /// `Bucket`.
    pub bucket: String,
    /// `Prefix`: prepended to every key (no leading or trailing `/`).
    pub prefix: String,
    /// `Region` [default: us-east-1].
    pub region: String,
    /// `AccessKeyId` and `SecretAccessKey`; without them, the environment's AWS credentials.
    pub credentials: Option<(String, String)>,
    /// `Gzip`: objects are `.ndjson.gz`.
    pub gzip: bool,
    /// `ForcePathStyle`: `ENDPOINT/BUCKET/KEY` addressing [default: true with an Endpoint].
    pub force_path_style: bool,
    /// `AllowHttp`: permit an `http://` endpoint [default: false].
    pub allow_http: bool,
    /// `MultipartThresholdBytes`.
    pub multipart_threshold: u64,
}

impl S3Config {
    /// Parses and checks the `S3` object; the message names the field.
    pub fn parse(settings: &Value) -> Result<S3Config, String> {
        let Value::Object(fields) = settings else { return Err("the settings must be a JSON object".into()) };
        if let Some(unknown) = fields.keys().find(|k| !FIELDS.contains(&k.as_str())) {
            return Err(format!("unknown field {unknown:?}; S3 takes {}", FIELDS.join(", ")));
        }
        let endpoint = string(fields, "Endpoint")?.map(|e| e.trim_end_matches('/').to_string());
        let bucket = string(fields, "Bucket")?.ok_or("Bucket is required")?;
        let bucket_ok = (3..=63).contains(&bucket.len())
            && bucket.bytes().all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-' || b == b'.');
        if !bucket_ok {
            return Err(format!(
                "Bucket must be 3 to 63 characters of lowercase letters, digits, '-' and '.'; got {bucket:?}"
            ));
        }
        let prefix = string(fields, "Prefix")?.unwrap_or_default().trim_matches('/').to_string();
        if prefix.len() > PREFIX_BYTES_MAX || prefix.split('/').any(|p| p.is_empty() && !prefix.is_empty()) {
            return Err(format!(
                "Prefix must be at most {PREFIX_BYTES_MAX} bytes without empty segments (\"//\")"
            ));
        }
        let region = string(fields, "Region")?.unwrap_or_else(|| "us-east-1".into());
        let credentials = match (string(fields, "AccessKeyId")?, string(fields, "SecretAccessKey")?) {
            (Some(id), Some(secret)) => Some((id, secret)),
            (None, None) => None,
            _ => return Err("AccessKeyId and SecretAccessKey go together: give both or neither".into()),
        };
        let gzip = boolean(fields, "Gzip")?.unwrap_or(false);
        let force_path_style = boolean(fields, "ForcePathStyle")?.unwrap_or(endpoint.is_some());
        let allow_http = boolean(fields, "AllowHttp")?.unwrap_or(false);
        if let Some(endpoint) = &endpoint {
            if endpoint.starts_with("http://") && !allow_http {
                return Err(format!("Endpoint {endpoint} is plain HTTP; set AllowHttp to true to use it"));
            }
            if !endpoint.starts_with("http://") && !endpoint.starts_with("https://") {
                return Err(format!("Endpoint must be an http:// or https:// URL; got {endpoint:?}"));
            }
        }
        let multipart_threshold = match fields.get("MultipartThresholdBytes") {
            None | Some(Value::Null) => MULTIPART_THRESHOLD_DEFAULT,
            Some(v) => v
                .as_u64()
                .filter(|n| (MULTIPART_THRESHOLD_MIN..=MULTIPART_THRESHOLD_MAX).contains(n))
                .ok_or_else(|| {
                    format!(
                        "MultipartThresholdBytes must be a whole number from {MULTIPART_THRESHOLD_MIN} to \
                         {MULTIPART_THRESHOLD_MAX}; got {v}"
                    )
                })?,
        };
        Ok(S3Config {
            endpoint,
            bucket,
            prefix,
            region,
            credentials,
            gzip,
            force_path_style,
            allow_http,
            multipart_threshold,
        })
    }

    /// The client. It does not retry on its own: the pull loop owns retries and backoff, and
    /// reports every failure.
    pub fn client(&self) -> Result<Arc<dyn ObjectStore>, String> {
        let options = ClientOptions::new()
            .with_allow_http(self.allow_http)
            .with_connect_timeout(CONNECT_TIMEOUT)
            .with_timeout(REQUEST_TIMEOUT);
        let retry = RetryConfig { max_retries: 0, retry_timeout: REQUEST_TIMEOUT, ..RetryConfig::default() };
        let mut builder = AmazonS3Builder::new()
            .with_bucket_name(&self.bucket)
            .with_region(&self.region)
            .with_allow_http(self.allow_http)
            .with_virtual_hosted_style_request(!self.force_path_style)
            .with_client_options(options)
            .with_retry(retry);
        if let Some(endpoint) = &self.endpoint {
            builder = builder.with_endpoint(endpoint);
        }
        if let Some((id, secret)) = &self.credentials {
            builder = builder.with_access_key_id(id).with_secret_access_key(secret);
        }
        builder.build().map(|s| Arc::new(s) as Arc<dyn ObjectStore>).map_err(|e| e.to_string())
    }
}

fn string(fields: &Map<String, Value>, name: &str) -> Result<Option<String>, String> {
    match fields.get(name) {
        None | Some(Value::Null) => Ok(None),
        Some(Value::String(s)) if !s.is_empty() => Ok(Some(s.clone())),
        Some(v) => Err(format!("{name} must be a non-empty string; got {v}")),
    }
}

fn boolean(fields: &Map<String, Value>, name: &str) -> Result<Option<bool>, String> {
    match fields.get(name) {
        None | Some(Value::Null) => Ok(None),
        Some(Value::Bool(b)) => Ok(Some(*b)),
        Some(v) => Err(format!("{name} must be true or false; got {v}")),
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    #[test]
    fn settings_are_checked_field_by_field() {
        let ok = S3Config::parse(&json!({
            "Endpoint": "http://127.0.0.1:19000/", "Bucket": "b-1", "Prefix": "/exports/x/",
            "AccessKeyId": "a", "SecretAccessKey": "s", "AllowHttp": true,
        }));
        let ok = ok.map_err(|e| e.to_string());
        assert_eq!(ok.as_ref().map(|c| (c.prefix.as_str(), c.force_path_style)), Ok(("exports/x", true)));
        let bad = [
            (json!({"Bucket": "B"}), "Bucket"),
            (json!({}), "Bucket"),
            (json!({"Bucket": "bbb", "Endpoint": "http://h:1"}), "AllowHttp"),
            (json!({"Bucket": "bbb", "AccessKeyId": "a"}), "SecretAccessKey"),
            (json!({"Bucket": "bbb", "Gzip": "yes"}), "Gzip"),
            (json!({"Bucket": "bbb", "MultipartThresholdBytes": 10}), "MultipartThresholdBytes"),
            (json!({"Bucket": "bbb", "Colour": 1}), "Colour"),
            (json!({"Bucket": "bbb", "Prefix": "a//b"}), "Prefix"),
        ];
        for (settings, field) in bad {
            match S3Config::parse(&settings) {
                Err(message) => assert!(message.contains(field), "{field}: {message}"),
                Ok(c) => panic!("{field}: accepted {c:?}"),
            }
        }
    }
}
