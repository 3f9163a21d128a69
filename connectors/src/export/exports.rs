//! [`Exports`]: starts export jobs, shows their live progress, and keeps their records as core
//! documents so finished exports survive restarts. An export still IN_PROGRESS when the
//! server stopped is marked FAILED when the server starts again: its snapshot is gone.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use eddy_core::Store;
use object_store::ObjectStore;
use object_store::aws::AmazonS3Builder;

use crate::export::error::ExportError;
use crate::export::job::{self, Upload};
use crate::export::limits::ExportLimits;
use crate::export::record::{self, DOCUMENT_KIND, ExportRecord, ExportStatus};
use crate::export::request::{Destination, ExportRequest};

/// How long a ClientToken names the export it started (DynamoDB: 8 hours).
const CLIENT_TOKEN_WINDOW: Duration = Duration::from_secs(8 * 3600);

/// What [`Exports`] needs besides the store.
#[derive(Debug, Clone)]
pub struct ExportsConfig {
    /// Region in ARNs.
    pub region: String,
    /// Account id in ARNs.
    pub account_id: String,
    /// Bounds.
    pub limits: ExportLimits,
    /// Where DynamoDB API exports write (their requests carry no S3 credentials); see
    /// [`Destination::from_env`].
    pub default_destination: Option<Destination>,
}

/// One page of ListExports.
#[derive(Debug, Clone)]
pub struct ExportPage {
    /// Exports in start order.
    pub exports: Vec<ExportRecord>,
    /// The export id to list after, when more remain.
    pub next: Option<String>,
}

/// The table exports of one store.
pub struct Exports {
    store: Store,
    config: ExportsConfig,
    /// Export id → live record of the exports this process runs.
    running: Arc<Mutex<HashMap<String, Arc<Mutex<ExportRecord>>>>>,
    /// Export id → the task of a running export, so shutdown can end them.
    tasks: Arc<Mutex<HashMap<String, tokio::task::AbortHandle>>>,
}

impl Exports {
    /// Opens the exports of `store`, failing those a previous process left IN_PROGRESS.
    pub async fn open(store: Store, config: ExportsConfig) -> Result<Arc<Exports>, ExportError> {
        let exports = Exports { store, config, running: Arc::default(), tasks: Arc::default() };
        for mut record in exports.stored()? {
            if record.status == ExportStatus::InProgress {
                record.status = ExportStatus::Failed;
                record.end_time_millis = Some(exports.store.now_millis());
                record.failure_code = Some("ExportInterrupted".into());
                record.failure_message =
                    Some("The server stopped before the export finished; start a new export".into());
                job::persist(&exports.store, &record).await?;
            }
        }
        Ok(Arc::new(exports))
    }

    /// The destination of DynamoDB API exports, when the server's environment gives one.
    pub fn default_destination(&self) -> Option<&Destination> {
        self.config.default_destination.as_ref()
    }

    /// The limits in force.
    pub fn limits(&self) -> &ExportLimits {
        &self.config.limits
    }

    /// Starts an export: takes the table's snapshot now, stores the export's record
    /// (IN_PROGRESS, with the snapshot's sequence number) and writes the files in the
    /// background. A ClientToken already used on this table within 8 hours answers that
    /// export instead (or ClientTokenMismatch if the parameters differ).
    pub async fn start(&self, request: ExportRequest) -> Result<ExportRecord, ExportError> {
        let request = request.validate()?;
        let meta = self.store.table(&request.table)?;
        if let Some(existing) = self.by_client_token(&request)? {
            return Ok(existing);
        }
        let in_progress = self.running.lock().unwrap_or_else(|p| p.into_inner()).len();
        if in_progress >= self.config.limits.exports_in_progress_max {
            return Err(ExportError::TooManyInProgress { max: self.config.limits.exports_in_progress_max });
        }
        let s3 = self.client(&request)?;
        let (sequence_number, files) =
            job::start_reader(self.store.clone(), request.table.clone(), self.config.limits.clone()).await?;
        let now = self.store.now_millis();
        let export_id = format!("{now:014}-{:08x}", uuid::Uuid::new_v4().as_u128() as u32);
        let table_arn = format!(
            "arn:aws:dynamodb:{}:{}:table/{}",
            self.config.region, self.config.account_id, request.table
        );
        let record = ExportRecord {
            export_arn: format!("{table_arn}/export/{export_id}"),
            export_id,
            table: request.table.clone(),
            table_arn,
            table_id: meta.table_uuid.clone(),
            status: ExportStatus::InProgress,
            start_time_millis: now,
            end_time_millis: None,
            export_time_millis: now,
            sequence_number,
            bucket: request.bucket.clone(),
            prefix: request.prefix.clone(),
            endpoint: request.destination.endpoint.clone(),
            format: request.format,
            client_token: request.client_token.clone(),
            item_count: 0,
            billed_size_bytes: 0,
            data_file_count: 0,
            manifest_key: None,
            failure_code: None,
            failure_message: None,
        };
        // Dropping `files` on failure stops the reader and releases the snapshot.
        job::persist(&self.store, &record).await?;
        let live = Arc::new(Mutex::new(record.clone()));
        self.running.lock().unwrap_or_else(|p| p.into_inner()).insert(record.export_id.clone(), live.clone());
        let upload =
            Upload { store: self.store.clone(), s3, limits: self.config.limits.clone(), record: live };
        let running = self.running.clone();
        let tasks = self.tasks.clone();
        let id = record.export_id.clone();
        // Held while the task is registered, so it cannot finish and unregister first.
        let mut registered = self.tasks.lock().unwrap_or_else(|p| p.into_inner());
        let task = tokio::spawn(async move {
            upload.run(files).await;
            // The final record is stored by now; describe reads it from the store from here on.
            running.lock().unwrap_or_else(|p| p.into_inner()).remove(&id);
            tasks.lock().unwrap_or_else(|p| p.into_inner()).remove(&id);
        });
        registered.insert(record.export_id.clone(), task.abort_handle());
        drop(registered);
        Ok(record)
    }

    /// Ends every running export (their records stay IN_PROGRESS until the next start marks
    /// them FAILED) so that nothing holds the store any more.
    pub fn shutdown(&self) {
        for (_, task) in self.tasks.lock().unwrap_or_else(|p| p.into_inner()).drain() {
            task.abort();
        }
    }

    /// DescribeExport by ARN.
    pub fn describe(&self, arn: &str) -> Result<ExportRecord, ExportError> {
        let not_found = || ExportError::NotFound { arn: arn.to_string() };
        let id = record::id_from_arn(arn).ok_or_else(not_found)?;
        let record = self.by_id(id)?.ok_or_else(not_found)?;
        if record.export_arn != arn {
            return Err(not_found());
        }
        Ok(record)
    }

    /// One export of `table` by its id (the REST API's `/v1/tables/{table}/exports/{id}`).
    pub fn describe_id(&self, table: &str, id: &str) -> Result<ExportRecord, ExportError> {
        match self.by_id(id)? {
            Some(record) if record.table == table => Ok(record),
            _ => Err(ExportError::NotFound { arn: format!("{table}/export/{id}") }),
        }
    }

    /// ListExports: exports (of `table` when given) in start order, after the export id
    /// `after`, at most `limit` (capped by `ExportLimits::list_results_max`).
    pub fn list(
        &self,
        table: Option<&str>,
        limit: Option<usize>,
        after: Option<&str>,
    ) -> Result<ExportPage, ExportError> {
        let limit = limit
            .unwrap_or(self.config.limits.list_results_max)
            .clamp(1, self.config.limits.list_results_max);
        let mut matching: Vec<ExportRecord> = self
            .stored()?
            .into_iter()
            .filter(|r| table.is_none_or(|t| r.table == t))
            .filter(|r| after.is_none_or(|a| r.export_id.as_str() > a))
            .collect();
        let more = matching.len() > limit;
        matching.truncate(limit);
        let exports: Vec<ExportRecord> = matching.into_iter().map(|r| self.live(r)).collect();
        let next = if more { exports.last().map(|r| r.export_id.clone()) } else { None };
        Ok(ExportPage { exports, next })
    }

    /// The live record of a running export, else the stored one.
    fn by_id(&self, id: &str) -> Result<Option<ExportRecord>, ExportError> {
        if let Some(live) = self.running.lock().unwrap_or_else(|p| p.into_inner()).get(id) {
            return Ok(Some(live.lock().unwrap_or_else(|p| p.into_inner()).clone()));
        }
        match self.store.document(DOCUMENT_KIND, id) {
            Ok(Some(bytes)) => decode(id, &bytes).map(Some),
            Ok(None) => Ok(None),
            // An id that is no valid document name names no export.
            Err(eddy_core::Error::Validation { .. }) => Ok(None),
            Err(e) => Err(e.into()),
        }
    }

    fn live(&self, stored: ExportRecord) -> ExportRecord {
        match self.running.lock().unwrap_or_else(|p| p.into_inner()).get(&stored.export_id) {
            Some(live) => live.lock().unwrap_or_else(|p| p.into_inner()).clone(),
            None => stored,
        }
    }

    fn stored(&self) -> Result<Vec<ExportRecord>, ExportError> {
        self.store.documents(DOCUMENT_KIND)?.iter().map(|(name, bytes)| decode(name, bytes)).collect()
    }

    fn by_client_token(&self, request: &ExportRequest) -> Result<Option<ExportRecord>, ExportError> {
        let Some(token) = &request.client_token else { return Ok(None) };
        let window_start = self.store.now_millis().saturating_sub(CLIENT_TOKEN_WINDOW.as_millis() as u64);
        let Some(existing) = self.stored()?.into_iter().rev().find(|r| {
            r.client_token.as_ref() == Some(token)
                && r.table == request.table
                && r.start_time_millis >= window_start
        }) else {
            return Ok(None);
        };
        let same = existing.bucket == request.bucket
            && existing.prefix == request.prefix
            && existing.format == request.format
            && existing.endpoint == request.destination.endpoint;
        if !same {
            return Err(ExportError::ClientTokenMismatch);
        }
        Ok(Some(self.live(existing)))
    }

    /// An S3 client for the request's bucket, endpoint and credentials.
    fn client(&self, request: &ExportRequest) -> Result<Arc<dyn ObjectStore>, ExportError> {
        let destination = &request.destination;
        let retry = object_store::RetryConfig {
            max_retries: self.config.limits.s3_retries_max,
            retry_timeout: self.config.limits.s3_retry_timeout,
            ..Default::default()
        };
        let mut builder = AmazonS3Builder::new()
            .with_bucket_name(&request.bucket)
            .with_region(&destination.region)
            .with_access_key_id(&destination.access_key_id)
            .with_secret_access_key(&destination.secret_access_key)
            .with_retry(retry);
        if let Some(endpoint) = &destination.endpoint {
            builder = builder
                .with_endpoint(endpoint)
                .with_allow_http(endpoint.starts_with("http://"))
                .with_virtual_hosted_style_request(false);
        }
        if let Some(prefix) = &request.prefix {
            object_store::path::Path::parse(prefix).map_err(|e| {
                ExportError::validation(format!("S3Prefix {prefix:?} is not a valid key: {e}"))
            })?;
        }
        let s3 =
            builder.build().map_err(|e| ExportError::validation(format!("Invalid S3 destination: {e}")))?;
        Ok(Arc::new(s3))
    }
}

fn decode(name: &str, bytes: &[u8]) -> Result<ExportRecord, ExportError> {
    serde_json::from_slice(bytes).map_err(|source| ExportError::Corrupt { name: name.to_string(), source })
}
