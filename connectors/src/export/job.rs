//! One export job in two halves joined by a bounded channel: a blocking reader that opens the
//! table's snapshot, reads it in pages and gzips the items into data files; and an async
//! uploader that writes `_started`, each data file, then the manifests, and keeps the export's
//! record current (ItemCount so far, then COMPLETED or FAILED with a failure code).

use std::sync::{Arc, Mutex};
use std::time::Instant;

use eddy_core::Store;
use eddy_core::value::item_size_bytes;
use object_store::path::Path;
use object_store::{ObjectStore, ObjectStoreExt, PutPayload};
use tokio::sync::{mpsc, oneshot};

use crate::export::layout::{self, DataFile, FinishedFile};
use crate::export::limits::ExportLimits;
use crate::export::record::{DOCUMENT_KIND, ExportRecord, ExportStatus};

/// Why an export failed: DynamoDB's FailureCode and FailureMessage.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Failure {
    pub(crate) code: &'static str,
    pub(crate) message: String,
}

impl Failure {
    fn internal(message: impl Into<String>) -> Self {
        Failure { code: "InternalError", message: message.into() }
    }

    fn store(e: eddy_core::Error) -> Self {
        match e {
            eddy_core::Error::ResourceNotFound { .. } => {
                Failure { code: "TableNotFound", message: "The table was deleted during the export".into() }
            }
            other => Failure::internal(format!("reading the table failed: {other}")),
        }
    }

    fn s3(key: &str, e: object_store::Error) -> Self {
        let code = match &e {
            object_store::Error::NotFound { .. } => "S3NoSuchBucket",
            object_store::Error::PermissionDenied { .. } | object_store::Error::Unauthenticated { .. } => {
                "S3AccessDenied"
            }
            _ => "S3WriteFailed",
        };
        Failure { code, message: format!("writing {key} failed: {e}") }
    }
}

/// A data file the reader finished, with what it holds.
pub(crate) struct Produced {
    file: FinishedFile,
    /// DynamoDB item bytes of its items.
    item_bytes: u64,
}

/// What the reader sends the uploader.
pub(crate) type Files = mpsc::Receiver<Result<Produced, Failure>>;

/// Starts the reader on the blocking pool; answers the snapshot's high watermark once the
/// snapshot is open, then sends finished data files until the table is read.
pub(crate) async fn start_reader(
    store: Store,
    table: String,
    limits: ExportLimits,
) -> Result<(u64, Files), eddy_core::Error> {
    let (ready_tx, ready) = oneshot::channel();
    let (files_tx, files) = mpsc::channel(limits.files_ahead_max.max(1));
    tokio::task::spawn_blocking(move || read(store, table, limits, ready_tx, files_tx));
    let unavailable = || eddy_core::Error::Unavailable { message: "the export reader stopped".into() };
    let high_watermark = ready.await.map_err(|_| unavailable())??;
    Ok((high_watermark, files))
}

fn read(
    store: Store,
    table: String,
    limits: ExportLimits,
    ready: oneshot::Sender<Result<u64, eddy_core::Error>>,
    files: mpsc::Sender<Result<Produced, Failure>>,
) {
    let mut snapshot = match store.snapshot(&table) {
        Ok(s) => s,
        Err(e) => {
            let _ = ready.send(Err(e));
            return;
        }
    };
    if ready.send(Ok(snapshot.high_watermark())).is_err() {
        return;
    }
    let mut file = DataFile::default();
    let mut item_bytes = 0u64;
    let mut sent_any = false;
    loop {
        let page = match snapshot.next_page(limits.page_items_max, limits.page_bytes_max) {
            Ok(Some(page)) => page,
            Ok(None) => break,
            Err(e) => {
                let _ = files.blocking_send(Err(Failure::store(e)));
                return;
            }
        };
        for item in &page {
            if let Err(e) = file.push(item) {
                let _ = files.blocking_send(Err(Failure::internal(format!("gzip failed: {e}"))));
                return;
            }
            item_bytes += item_size_bytes(item) as u64;
            if file.json_bytes() >= limits.data_file_bytes_max {
                let full = std::mem::take(&mut file);
                if !send(&files, full, std::mem::take(&mut item_bytes)) {
                    return;
                }
                sent_any = true;
            }
        }
    }
    // DynamoDB writes at least one data file, empty for an empty table.
    if file.items() > 0 || !sent_any {
        send(&files, file, item_bytes);
    }
}

/// Finishes and sends one data file; false when the uploader is gone or gzip failed.
fn send(files: &mpsc::Sender<Result<Produced, Failure>>, file: DataFile, item_bytes: u64) -> bool {
    let produced = file
        .finish()
        .map(|file| Produced { file, item_bytes })
        .map_err(|e| Failure::internal(format!("gzip failed: {e}")));
    let ok = produced.is_ok();
    files.blocking_send(produced).is_ok() && ok
}

/// The uploader's side of one export.
pub(crate) struct Upload {
    pub(crate) store: Store,
    pub(crate) s3: Arc<dyn ObjectStore>,
    pub(crate) limits: ExportLimits,
    /// The live record, which DescribeExport reads while the export runs.
    pub(crate) record: Arc<Mutex<ExportRecord>>,
}

impl Upload {
    /// Runs the upload to its end and stores the final record.
    pub(crate) async fn run(self, files: Files) {
        let outcome = self.write_all(files).await;
        let now = self.store.now_millis();
        let record = self.update(|r| {
            r.end_time_millis = Some(now);
            match &outcome {
                Ok(manifest_key) => {
                    r.status = ExportStatus::Completed;
                    r.manifest_key = Some(manifest_key.clone());
                }
                Err(failure) => {
                    r.status = ExportStatus::Failed;
                    r.failure_code = Some(failure.code.to_string());
                    r.failure_message = Some(failure.message.clone());
                }
            }
        });
        if let Err(failure) = &outcome {
            tracing::warn!(export = %record.export_arn, code = failure.code, "export failed: {}", failure.message);
        }
        self.persist(&record).await;
    }

    async fn write_all(&self, mut files: Files) -> Result<String, Failure> {
        let dir = self.snapshot().export_dir();
        self.put(&format!("{dir}/{}", layout::STARTED), Vec::new()).await?;
        let mut lines = String::new();
        let mut persisted = Instant::now();
        while let Some(produced) = files.recv().await {
            let Produced { file, item_bytes } = produced?;
            let key = format!("{dir}/data/{}", layout::data_file_name());
            let etag = self.put(&key, file.bytes).await?;
            lines.push_str(&layout::files_manifest_line(file.items, &file.md5_base64, &etag, &key));
            lines.push('\n');
            let record = self.update(|r| {
                r.item_count += file.items;
                r.billed_size_bytes += item_bytes;
                r.data_file_count += 1;
            });
            if persisted.elapsed() >= self.limits.progress_interval {
                self.persist(&record).await;
                persisted = Instant::now();
            }
        }
        let files_key = format!("{dir}/{}", layout::MANIFEST_FILES);
        let files_checksum = layout::checksum_hex(lines.as_bytes());
        self.put(&files_key, lines.into_bytes()).await?;
        self.put(
            &format!("{dir}/{}", layout::checksum_name(layout::MANIFEST_FILES)),
            files_checksum.into_bytes(),
        )
        .await?;
        let now = self.store.now_millis();
        let mut finished = self.snapshot();
        finished.end_time_millis = Some(now);
        let summary = layout::summary_manifest(&finished, &files_key).to_string();
        let summary_key = format!("{dir}/{}", layout::MANIFEST_SUMMARY);
        let summary_checksum = layout::checksum_hex(summary.as_bytes());
        self.put(&summary_key, summary.into_bytes()).await?;
        self.put(
            &format!("{dir}/{}", layout::checksum_name(layout::MANIFEST_SUMMARY)),
            summary_checksum.into_bytes(),
        )
        .await?;
        // The record's end time is the one the summary shows.
        self.update(|r| r.end_time_millis = Some(now));
        Ok(summary_key)
    }

    /// Writes one object; returns its ETag without quotes.
    async fn put(&self, key: &str, bytes: Vec<u8>) -> Result<String, Failure> {
        let path = Path::parse(key).map_err(|e| Failure { code: "S3InvalidKey", message: e.to_string() })?;
        let result = self.s3.put(&path, PutPayload::from(bytes)).await.map_err(|e| Failure::s3(key, e))?;
        Ok(result.e_tag.unwrap_or_default().trim_matches('"').to_string())
    }

    fn snapshot(&self) -> ExportRecord {
        self.record.lock().unwrap_or_else(|p| p.into_inner()).clone()
    }

    fn update(&self, change: impl FnOnce(&mut ExportRecord)) -> ExportRecord {
        let mut record = self.record.lock().unwrap_or_else(|p| p.into_inner());
        change(&mut record);
        record.clone()
    }

    async fn persist(&self, record: &ExportRecord) {
        if let Err(e) = persist(&self.store, record).await {
            tracing::warn!(export = %record.export_arn, "cannot store the export's progress: {e}");
        }
    }
}

/// Stores an export record as its document.
pub(crate) async fn persist(store: &Store, record: &ExportRecord) -> Result<(), eddy_core::Error> {
    let bytes = serde_json::to_vec(record)
        .map_err(|e| eddy_core::Error::Corrupt(format!("export record does not encode: {e}")))?;
    store.put_document(DOCUMENT_KIND, &record.export_id, bytes).await.map(|_| ())
}
