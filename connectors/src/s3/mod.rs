//! The S3 sink: each batch becomes one object of NDJSON change records (one
//! `to_json_extended` record per line, optionally gzip) under a key derived from the batch's
//! seq range (see [`layout`]). Writing a batch again rewrites the same key with the same
//! bytes, which is what makes the export effectively exactly once. Objects larger than
//! `MultipartThresholdBytes` go up as a multipart upload.

pub mod config;
pub mod layout;

use std::sync::Arc;

use bytes::Bytes;
use object_store::path::Path;
use object_store::{ObjectStore, ObjectStoreExt as _, PutPayload};
use serde_json::Value;

pub use config::S3Config;

use crate::sink::{Batch, Sink, SinkError, SinkFuture, SnapshotPart};

/// Size of each part of a multipart upload (S3 wants at least 5 MiB for all but the last).
pub const PART_BYTES: usize = 8 * 1024 * 1024;

/// Exports batches to an S3-compatible bucket.
pub struct S3Sink {
    config: S3Config,
    store: Arc<dyn ObjectStore>,
}

impl std::fmt::Debug for S3Sink {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("S3Sink")
            .field("bucket", &self.config.bucket)
            .field("prefix", &self.config.prefix)
            .finish()
    }
}

impl S3Sink {
    /// Builds the sink from the connector's `S3` settings (nothing is contacted yet).
    pub fn from_config(settings: &Value) -> Result<S3Sink, String> {
        let config = S3Config::parse(settings)?;
        let store = config.client()?;
        Ok(S3Sink { config, store })
    }

    /// The parsed settings.
    pub fn config(&self) -> &S3Config {
        &self.config
    }

    async fn upload(&self, key: String, records: &[Value]) -> Result<(), SinkError> {
        let body = layout::encode(records, self.config.gzip)
            .map_err(|e| SinkError::Permanent(format!("cannot encode the records: {e}")))?;
        let path = Path::from(key.as_str());
        let result = if body.len() as u64 > self.config.multipart_threshold {
            self.upload_in_parts(&path, body).await
        } else {
            self.store.put(&path, PutPayload::from(body)).await.map(|_| ())
        };
        result.map_err(|e| classify(&self.config.bucket, &format!("writing {key}"), &e))
    }

    async fn upload_in_parts(&self, path: &Path, body: Bytes) -> object_store::Result<()> {
        let mut upload = self.store.put_multipart(path).await?;
        let mut offset = 0;
        while offset < body.len() {
            let end = (offset + PART_BYTES).min(body.len());
            // One part in flight at a time: the batch is already in memory, and S3 needs no
            // more to keep a single stream busy.
            if let Err(e) = upload.put_part(PutPayload::from(body.slice(offset..end))).await {
                let _ = upload.abort().await;
                return Err(e);
            }
            offset = end;
        }
        match upload.complete().await {
            Ok(_) => Ok(()),
            Err(e) => {
                let _ = upload.abort().await;
                Err(e)
            }
        }
    }
}

impl Sink for S3Sink {
    fn check(&self) -> SinkFuture<'_, Result<(), SinkError>> {
        Box::pin(async move {
            let prefix = (!self.config.prefix.is_empty()).then(|| Path::from(self.config.prefix.as_str()));
            self.store
                .list_with_delimiter(prefix.as_ref())
                .await
                .map(|_| ())
                .map_err(|e| classify(&self.config.bucket, "listing", &e))
        })
    }

    fn write<'a>(&'a self, batch: &'a Batch) -> SinkFuture<'a, Result<(), SinkError>> {
        Box::pin(async move {
            let (Some(first), Some(last)) = (batch.records.first(), batch.records.last()) else {
                return Ok(());
            };
            let key = layout::object_key(
                &self.config.prefix,
                &batch.table,
                first.seq,
                last.seq,
                first.created_at_millis,
                self.config.gzip,
            );
            self.upload(key, &batch.records_json).await
        })
    }

    fn write_snapshot<'a>(
        &'a self,
        part: SnapshotPart,
        batch: &'a Batch,
    ) -> SinkFuture<'a, Result<(), SinkError>> {
        Box::pin(async move {
            if batch.records.is_empty() {
                return Ok(());
            }
            let key = layout::snapshot_key(
                &self.config.prefix,
                &batch.table,
                part.seq,
                part.part,
                self.config.gzip,
            );
            self.upload(key, &batch.records_json).await
        })
    }
}

/// Sorts an `object_store` error into what retrying can fix (the network, a 5xx, throttling)
/// and what it cannot (a missing bucket, refused credentials), with a message naming the cause
/// (the S3 error code and message when the store sent them, not its whole XML body).
pub fn classify(bucket: &str, what: &str, error: &object_store::Error) -> SinkError {
    let text = error.to_string();
    let tag = |name: &str| {
        let open = format!("<{name}>");
        let start = text.find(&open)? + open.len();
        let end = text[start..].find(&format!("</{name}>"))? + start;
        Some(text[start..end].to_string())
    };
    let detail = match (tag("Code"), tag("Message")) {
        (Some(code), Some(message)) => format!("{code}: {message}"),
        (Some(code), None) => code,
        _ => text.clone(),
    };
    let code = tag("Code").unwrap_or_default();
    let not_found = matches!(error, object_store::Error::NotFound { .. });
    if code == "NoSuchBucket" || (not_found && code != "NoSuchKey") {
        return SinkError::Permanent(format!("bucket {bucket} does not exist ({detail})"));
    }
    let refused = matches!(
        error,
        object_store::Error::PermissionDenied { .. } | object_store::Error::Unauthenticated { .. }
    );
    if refused || ["InvalidAccessKeyId", "SignatureDoesNotMatch", "AccessDenied"].contains(&code.as_str()) {
        return SinkError::Permanent(format!("the credentials were refused for bucket {bucket} ({detail})"));
    }
    match error {
        object_store::Error::InvalidPath { .. }
        | object_store::Error::NotSupported { .. }
        | object_store::Error::NotImplemented { .. }
        | object_store::Error::UnknownConfigurationKey { .. } => {
            SinkError::Permanent(format!("{what} in bucket {bucket} failed ({detail})"))
        }
        _ => SinkError::Transient(format!("{what} in bucket {bucket} failed ({detail})")),
    }
}
