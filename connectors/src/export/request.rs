//! What an export is asked to do: the table, the bucket and prefix, the S3 endpoint and
//! credentials, and the format, with DynamoDB's rules for each.

use std::fmt;

use serde::{Deserialize, Serialize};

use crate::export::error::ExportError;

/// Longest S3Bucket (DynamoDB: 255).
const BUCKET_BYTES_MAX: usize = 255;
/// Longest S3Prefix (DynamoDB: 1024).
const PREFIX_BYTES_MAX: usize = 1024;
/// Longest ClientToken (DynamoDB: 64).
const CLIENT_TOKEN_BYTES_MAX: usize = 64;

/// The format of the data files.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum ExportFormat {
    /// One `{"Item": {...}}` of DynamoDB JSON per line.
    #[serde(rename = "DYNAMODB_JSON")]
    DynamoDbJson,
}

impl ExportFormat {
    /// Parses ExportFormat (absent means DYNAMODB_JSON, as in DynamoDB).
    pub fn parse(value: Option<&str>) -> Result<Self, ExportError> {
        match value {
            None | Some("DYNAMODB_JSON") => Ok(ExportFormat::DynamoDbJson),
            Some("ION") => Err(ExportError::validation(
                "ExportFormat ION is not supported by this version of Eddy; use DYNAMODB_JSON",
            )),
            Some(other) => Err(ExportError::validation(format!(
                "1 validation error detected: Value '{other}' at 'exportFormat' failed to satisfy constraint: Member must satisfy enum value set: [DYNAMODB_JSON, ION]"
            ))),
        }
    }

    /// The name DynamoDB uses.
    pub fn as_str(self) -> &'static str {
        match self {
            ExportFormat::DynamoDbJson => "DYNAMODB_JSON",
        }
    }
}

/// Where and as whom the export writes: an S3-compatible endpoint and its credentials.
#[derive(Clone, PartialEq, Eq)]
pub struct Destination {
    /// The endpoint URL (`http://127.0.0.1:19000` for MinIO); `None` means AWS S3 in `region`.
    /// Buckets are addressed path-style when an endpoint is given.
    pub endpoint: Option<String>,
    /// The signing region.
    pub region: String,
    /// Access key id.
    pub access_key_id: String,
    /// Secret access key; never stored with the export nor shown.
    pub secret_access_key: String,
}

impl fmt::Debug for Destination {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Destination")
            .field("endpoint", &self.endpoint)
            .field("region", &self.region)
            .field("access_key_id", &self.access_key_id)
            .finish_non_exhaustive()
    }
}

impl Destination {
    /// The destination of DynamoDB API exports (whose requests carry no S3 credentials), from
    /// the server's environment: `EDDY_EXPORT_S3_ENDPOINT` (optional), `AWS_ACCESS_KEY_ID`,
    /// `AWS_SECRET_ACCESS_KEY` and `AWS_REGION` (default `us-east-1`). `None` without keys.
    pub fn from_env() -> Option<Destination> {
        let var = |name: &str| std::env::var(name).ok().filter(|v| !v.is_empty());
        Some(Destination {
            endpoint: var("EDDY_EXPORT_S3_ENDPOINT"),
            region: var("AWS_REGION").unwrap_or_else(|| "us-east-1".into()),
            access_key_id: var("AWS_ACCESS_KEY_ID")?,
            secret_access_key: var("AWS_SECRET_ACCESS_KEY")?,
        })
    }

    fn validate(&self) -> Result<(), ExportError> {
        if let Some(endpoint) = &self.endpoint
            && !(endpoint.starts_with("http://") || endpoint.starts_with("https://"))
        {
            return Err(ExportError::validation(format!(
                "S3Endpoint must be an http:// or https:// URL, not {endpoint:?}"
            )));
        }
        if self.region.is_empty() {
            return Err(ExportError::validation("S3Region must not be empty"));
        }
        if self.access_key_id.is_empty() || self.secret_access_key.is_empty() {
            return Err(ExportError::validation("AccessKeyId and SecretAccessKey must not be empty"));
        }
        Ok(())
    }
}

/// One export to start.
#[derive(Debug, Clone)]
pub struct ExportRequest {
    /// The table's name.
    pub table: String,
    /// S3Bucket.
    pub bucket: String,
    /// S3Prefix (without a trailing `/`; `None` writes under the bucket's root).
    pub prefix: Option<String>,
    /// Endpoint and credentials.
    pub destination: Destination,
    /// ExportFormat.
    pub format: ExportFormat,
    /// ClientToken: a retry with the same token answers the export it started.
    pub client_token: Option<String>,
}

impl ExportRequest {
    /// Checks the parameters against DynamoDB's rules and normalises the prefix.
    pub fn validate(mut self) -> Result<Self, ExportError> {
        let bucket_ok = !self.bucket.is_empty()
            && self.bucket.len() <= BUCKET_BYTES_MAX
            && self.bucket.bytes().all(|b| b.is_ascii_alphanumeric() || b"._-".contains(&b))
            && self.bucket.bytes().next().is_some_and(|b| b.is_ascii_alphanumeric())
            && self.bucket.bytes().last().is_some_and(|b| b.is_ascii_alphanumeric());
        if !bucket_ok {
            return Err(ExportError::validation(format!(
                "1 validation error detected: Value '{}' at 's3Bucket' failed to satisfy constraint: Member must satisfy regular expression pattern: ^[a-z0-9A-Z]+[\\.\\-\\w]*[a-z0-9A-Z]+$",
                self.bucket
            )));
        }
        if let Some(prefix) = &self.prefix {
            if prefix.len() > PREFIX_BYTES_MAX {
                return Err(ExportError::validation(format!(
                    "1 validation error detected: Value at 's3Prefix' failed to satisfy constraint: Member must have length less than or equal to {PREFIX_BYTES_MAX}"
                )));
            }
            let trimmed = prefix.trim_matches('/');
            if trimmed.split('/').any(|part| part.is_empty() || part == "." || part == "..")
                && !trimmed.is_empty()
            {
                return Err(ExportError::validation(format!(
                    "S3Prefix {prefix:?} has an empty or relative part"
                )));
            }
            self.prefix = (!trimmed.is_empty()).then(|| trimmed.to_string());
        }
        if let Some(token) = &self.client_token
            && (token.is_empty() || token.len() > CLIENT_TOKEN_BYTES_MAX)
        {
            return Err(ExportError::validation(format!(
                "1 validation error detected: Value at 'clientToken' failed to satisfy constraint: Member must have length between 1 and {CLIENT_TOKEN_BYTES_MAX}"
            )));
        }
        self.destination.validate()?;
        Ok(self)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn request(bucket: &str, prefix: Option<&str>) -> ExportRequest {
        ExportRequest {
            table: "t".into(),
            bucket: bucket.into(),
            prefix: prefix.map(str::to_string),
            destination: Destination {
                endpoint: Some("http://127.0.0.1:19000".into()),
                region: "us-east-1".into(),
                access_key_id: "k".into(),
                secret_access_key: "s".into(),
            },
            format: ExportFormat::DynamoDbJson,
            client_token: None,
        }
    }

    #[test]
    fn prefix_is_trimmed_and_buckets_are_checked() {
        let ok = request("my-bucket", Some("/exports/2026/")).validate().map(|r| r.prefix);
        assert_eq!(ok.ok().flatten().as_deref(), Some("exports/2026"));
        assert!(request("-bad", None).validate().is_err());
        assert!(request("ok", Some("a//b")).validate().is_err());
        assert!(request("ok", Some("/")).validate().is_ok_and(|r| r.prefix.is_none()));
    }

    #[test]
    fn formats_other_than_dynamodb_json_are_refused() {
        assert_eq!(ExportFormat::parse(None).ok(), Some(ExportFormat::DynamoDbJson));
        assert!(ExportFormat::parse(Some("ION")).is_err_and(|e| e.to_string().contains("ION")));
        assert!(ExportFormat::parse(Some("CSV")).is_err());
    }

    #[test]
    fn debug_hides_the_secret() {
        let text = format!("{:?}", request("b", None).destination);
        assert!(!text.contains("\"s\""), "{text}");
    }
}
