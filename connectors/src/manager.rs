//! The connector manager: holds every connector, runs one pull task per connector, and serves
//! the `/v1/connectors` operations. Configurations are durable documents (kind
//! [`DOCUMENT_KIND`]); checkpoints are core consumers (`connector.<name>`) whose state is the
//! connector's [`Progress`] (plan, snapshot position, totals, last error), so
//! [`ConnectorManager::start`] resumes every connector from its checkpoint with its totals after
//! a restart. A connector that was FAILED is tried again, as a `restart` would.

use std::collections::BTreeMap;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, RwLock};
use std::time::Duration;

use eddy_core::Store;
use eddy_core::changelog::{ChangeFeed, format_sequence_number};
use eddy_core::store::{ConsumerStatus, StartPosition};
use serde::{Deserialize, Serialize};
use serde_json::{Value, json};
use tokio::task::JoinHandle;

use crate::config::{CONNECTORS_MAX, ConnectorConfig, DOCUMENT_KIND, Start, consumer_name, validate_name};
use crate::error::ConnectorError;
use crate::progress::{PROGRESS_KIND, Progress, SnapshotState};
use crate::pull::{self, Active, Shared};
use crate::sink::Sink;
use crate::status::{State, Status};

/// Largest `Limit` of a listing.
pub const LIST_LIMIT_MAX: usize = 1000;
/// How long a stopping task may take to finish its step before it is cancelled.
pub const STOP_GRACE: Duration = Duration::from_secs(10);

/// What the manager needs from the server.
#[derive(Debug, Clone)]
pub struct ManagerConfig {
    /// `awsRegion` of exported records.
    pub region: String,
}

/// A connector's stored document.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase")]
struct StoredConnector {
    /// The configuration with its secrets.
    config: Value,
    paused: bool,
    version: u64,
    created_at_millis: u64,
    last_modified_millis: u64,
}

impl StoredConnector {
    fn decode(name: &str, bytes: &[u8]) -> Result<StoredConnector, ConnectorError> {
        serde_json::from_slice(bytes)
            .map_err(|e| ConnectorError::Corrupt { name: name.into(), reason: e.to_string() })
    }

    fn encode(&self) -> Result<Vec<u8>, ConnectorError> {
        serde_json::to_vec(self)
            .map_err(|e| ConnectorError::Corrupt { name: String::new(), reason: e.to_string() })
    }
}

struct Handle {
    shared: Arc<Shared>,
    task: Mutex<Option<JoinHandle<()>>>,
}

/// Every connector of a store and its pull task.
pub struct ConnectorManager {
    store: Store,
    region: String,
    connectors: RwLock<BTreeMap<String, Arc<Handle>>>,
    /// Serializes changes (put, pause, resume, restart, delete) so each sees the last one's result.
    changes: tokio::sync::Mutex<()>,
    stopped: AtomicBool,
}

impl ConnectorManager {
    /// Starts the manager and every stored connector, each from its checkpoint.
    pub async fn start(store: Store, config: ManagerConfig) -> Result<Arc<ConnectorManager>, ConnectorError> {
        let manager = Arc::new(ConnectorManager {
            store: store.clone(),
            region: config.region,
            connectors: RwLock::new(BTreeMap::new()),
            changes: tokio::sync::Mutex::new(()),
            stopped: AtomicBool::new(false),
        });
        let documents = blocking(move || {
            let mut out = Vec::new();
            for (name, bytes) in store.documents(DOCUMENT_KIND)? {
                // A progress that cannot be read shows as zero totals here; the connector's
                // task reads it again and fails with the reason.
                let progress = match Progress::load(&store, &name) {
                    Ok(p) => p.map(|c| c.progress),
                    Err(e) => {
                        tracing::error!("connector {name}: {e}");
                        None
                    }
                };
                out.push((name, bytes, progress));
            }
            Ok(out)
        })
        .await?;
        for (name, bytes, progress) in documents {
            let stored = match StoredConnector::decode(&name, &bytes) {
                Ok(s) => s,
                Err(e) => {
                    tracing::error!("connector {name} not started: {e}");
                    continue;
                }
            };
            let active = match ConnectorConfig::parse(&stored.config, None) {
                Ok(config) => {
                    // A sink that cannot be built shows as FAILED with the reason.
                    let sink =
                        crate::factory::build(config.sink_type, &config.settings).map_err(|e| e.to_string());
                    active(config, sink, &stored)
                }
                Err(e) => {
                    tracing::error!("connector {name} not started: {e}");
                    continue;
                }
            };
            let status = match &progress {
                Some(progress) => Status::restored(State::Running, progress),
                None => Status::new(State::Running),
            };
            manager.spawn(&name, active, status);
        }
        Ok(manager)
    }

    fn connectors(&self) -> std::sync::RwLockReadGuard<'_, BTreeMap<String, Arc<Handle>>> {
        self.connectors.read().unwrap_or_else(|p| p.into_inner())
    }

    fn connectors_mut(&self) -> std::sync::RwLockWriteGuard<'_, BTreeMap<String, Arc<Handle>>> {
        self.connectors.write().unwrap_or_else(|p| p.into_inner())
    }

    fn handle(&self, name: &str) -> Result<Arc<Handle>, ConnectorError> {
        self.connectors().get(name).cloned().ok_or_else(|| ConnectorError::NotFound { name: name.into() })
    }

    fn spawn(&self, name: &str, active: Active, status: Status) {
        let shared = Arc::new(Shared {
            name: name.to_string(),
            consumer: consumer_name(name),
            store: self.store.clone(),
            region: self.region.clone(),
            active: Arc::new(active),
            status: Mutex::new(status),
            stop: tokio::sync::watch::Sender::new(false),
            stopping: AtomicBool::new(false),
        });
        let task = tokio::spawn(pull::run(Arc::clone(&shared)));
        self.connectors_mut()
            .insert(name.to_string(), Arc::new(Handle { shared, task: Mutex::new(Some(task)) }));
    }

    /// Stops a connector's task and waits for it (cancelling it after [`STOP_GRACE`]).
    async fn stop(&self, name: &str) -> Option<Arc<Shared>> {
        let handle = self.connectors_mut().remove(name)?;
        handle.shared.stopping.store(true, Ordering::Release);
        handle.shared.stop.send_replace(true);
        let task = handle.task.lock().unwrap_or_else(|p| p.into_inner()).take();
        if let Some(mut task) = task
            && tokio::time::timeout(STOP_GRACE, &mut task).await.is_err()
        {
            // Every step is idempotent (a re-read range, a rewritten object), so cancelling
            // one mid-way loses nothing.
            task.abort();
            let _ = task.await;
        }
        Some(Arc::clone(&handle.shared))
    }

    /// Creates a connector, or replaces the configuration of one of the same name. A
    /// replacement on the same table with the same `Start` keeps the checkpoint; otherwise the
    /// connector starts over as `Start` says. Answers the description and whether it was created.
    pub async fn put(&self, name: &str, body: &Value) -> Result<(Value, bool), ConnectorError> {
        validate_name(name)?;
        let _serial = self.changes.lock().await;
        if self.stopped.load(Ordering::Acquire) {
            return Err(ConnectorError::Stopping);
        }
        let existing = self.connectors().get(name).map(|h| Arc::clone(&h.shared.active));
        let config = ConnectorConfig::parse(body, existing.as_ref().map(|a| &a.config))?;
        // Refuses bad settings before anything is stored.
        let sink = crate::factory::build(config.sink_type, &config.settings)?;
        let created = existing.is_none();
        if created && self.connectors().len() >= CONNECTORS_MAX {
            return Err(ConnectorError::TooManyConnectors { max: CONNECTORS_MAX });
        }
        let meta = self.store.table(&config.table_name).map_err(|_| eddy_core::Error::ResourceNotFound {
            message: format!("Requested resource not found: Table: {} not found", config.table_name),
        })?;
        let consumer = consumer_name(name);
        let current = match self.store.consumer(&consumer) {
            Ok(c) => Some(c),
            Err(eddy_core::Error::ResourceNotFound { .. }) => None,
            Err(e) => return Err(e.into()),
        };
        let keep = existing.as_ref().is_some_and(|a| a.config.keeps_checkpoint(&config))
            && current.as_ref().is_some_and(|c| c.table_id == meta.id && c.status == ConsumerStatus::Active);
        let now = self.store.now_millis();
        let stored = StoredConnector {
            config: config.to_stored_json(),
            paused: existing.as_ref().is_some_and(|a| a.paused),
            version: existing.as_ref().map_or(1, |a| a.version + 1),
            created_at_millis: existing.as_ref().map_or(now, |a| a.created_at_millis),
            last_modified_millis: now,
        };
        // The old task must be gone before its checkpoint or progress is replaced.
        let previous = self.stop(name).await;
        let result = async {
            if !keep {
                if current.is_some() {
                    self.store.delete_consumer(&consumer).await?;
                }
                // What an earlier build kept outside the consumer's state must not be read back.
                self.store.delete_document(PROGRESS_KIND, name).await?;
                let mut progress = Progress::default();
                let start = match config.start {
                    Start::TrimHorizon => StartPosition::TrimHorizon,
                    Start::Latest => StartPosition::Latest,
                    Start::Snapshot => {
                        // The position before the scan: every change after it is streamed,
                        // every change up to it is in what the scan reads.
                        let position = self.store.position(&config.table_name)?;
                        progress.snapshot = Some(SnapshotState {
                            seq: position.high_watermark,
                            taken_at_millis: now,
                            part: 0,
                            cursor: None,
                        });
                        StartPosition::AtSequence(position.high_watermark + 1)
                    }
                };
                let created = self.store.create_consumer(&consumer, &config.table_name, start).await?;
                progress.commit(&self.store, name, created.checkpoint).await?;
            }
            self.store.put_document(DOCUMENT_KIND, name, stored.encode()?).await?;
            Ok::<(), ConnectorError>(())
        }
        .await;
        if let Err(e) = result {
            if let Some(previous) = previous {
                // Put the connector back as it was; its configuration did not change.
                let old = &previous.active;
                let again = Active {
                    config: old.config.clone(),
                    sink: old.sink.clone(),
                    paused: old.paused,
                    version: old.version,
                    created_at_millis: old.created_at_millis,
                    last_modified_millis: old.last_modified_millis,
                };
                let status = previous.status().clone();
                self.spawn(name, again, status);
            }
            return Err(e);
        }
        let status = match (&previous, keep) {
            (Some(previous), true) => {
                let mut status = previous.status().clone();
                status.last_error = None;
                status.attempts = 0;
                status
            }
            _ => Status::new(State::Running),
        };
        self.spawn(name, active(config, Ok(sink), &stored), status);
        Ok((self.describe(name)?, created))
    }

    /// A connector's configuration (secrets redacted) and status.
    pub fn describe(&self, name: &str) -> Result<Value, ConnectorError> {
        let handle = self.handle(name)?;
        let shared = &handle.shared;
        let active = &shared.active;
        let mut body = active.config.to_json();
        body["ConnectorName"] = name.into();
        body["Version"] = active.version.into();
        body["CreationDateTime"] = seconds(active.created_at_millis);
        body["LastModified"] = seconds(active.last_modified_millis);
        let status = shared.status().to_json();
        if let Value::Object(fields) = status {
            for (key, value) in fields {
                body[key] = value;
            }
        }
        if let Ok(consumer) = self.store.consumer(&shared.consumer) {
            body["CheckpointSequenceNumber"] = format_sequence_number(consumer.checkpoint).into();
            if let Ok(progress) = Progress::from_state(&self.store, name, consumer.state.as_deref())
                && let Some(snapshot) = progress.snapshot
            {
                body["Snapshot"] = json!({
                    "SequenceNumber": format_sequence_number(snapshot.seq),
                    "PartsWritten": snapshot.part,
                });
            }
            if let Ok(position) = self.store.position(&consumer.table)
                && position.table_id == consumer.table_id
            {
                let lag = position.high_watermark.saturating_sub(consumer.checkpoint);
                let lag_millis = if lag == 0 {
                    0
                } else {
                    self.store
                        .read(&consumer.table, consumer.next_seq(), 1)
                        .ok()
                        .and_then(|r| {
                            r.first().map(|r| self.store.now_millis().saturating_sub(r.created_at_millis))
                        })
                        .unwrap_or(0)
                };
                body["HighWatermarkSequenceNumber"] = format_sequence_number(position.high_watermark).into();
                body["LagRecords"] = lag.into();
                body["LagSeconds"] = (lag_millis / 1000).into();
            }
        }
        Ok(body)
    }

    /// Connectors in name order after `after`, at most `limit`; the last name when more follow.
    pub fn list(&self, after: Option<&str>, limit: usize) -> (Vec<Value>, Option<String>) {
        let names: Vec<String> =
            self.connectors().keys().filter(|n| after.is_none_or(|a| n.as_str() > a)).cloned().collect();
        let more = names.len() > limit;
        let page: Vec<&String> = names.iter().take(limit).collect();
        let next = if more { page.last().map(|n| n.to_string()) } else { None };
        (page.iter().filter_map(|n| self.describe(n).ok()).collect(), next)
    }

    /// Deletes a connector: stops its task, removes its configuration, progress and
    /// checkpoint. What it exported stays where it is. Answers the last description.
    pub async fn delete(&self, name: &str) -> Result<Value, ConnectorError> {
        let _serial = self.changes.lock().await;
        let description = self.describe(name)?;
        self.stop(name).await;
        self.store.delete_document(DOCUMENT_KIND, name).await?;
        self.store.delete_document(PROGRESS_KIND, name).await?;
        match self.store.delete_consumer(&consumer_name(name)).await {
            Ok(_) | Err(eddy_core::Error::ResourceNotFound { .. }) => {}
            Err(e) => return Err(e.into()),
        }
        Ok(description)
    }

    /// Pauses a connector (durably) after the step in flight; the checkpoint stays.
    pub async fn pause(&self, name: &str) -> Result<Value, ConnectorError> {
        self.set_paused(name, true).await
    }

    /// Resumes a paused (or failed) connector from its checkpoint.
    pub async fn resume(&self, name: &str) -> Result<Value, ConnectorError> {
        self.set_paused(name, false).await
    }

    /// Restarts a connector's task from its checkpoint: a FAILED connector tries again, a
    /// waiting one retries at once. A paused connector stays paused.
    pub async fn restart(&self, name: &str) -> Result<Value, ConnectorError> {
        let _serial = self.changes.lock().await;
        let handle = self.handle(name)?;
        let paused = handle.shared.active.paused;
        self.respawn(name, paused).await
    }

    async fn set_paused(&self, name: &str, paused: bool) -> Result<Value, ConnectorError> {
        let _serial = self.changes.lock().await;
        let handle = self.handle(name)?;
        let active = &handle.shared.active;
        if active.paused != paused {
            let now = self.store.now_millis();
            let stored = StoredConnector {
                config: active.config.to_stored_json(),
                paused,
                version: active.version,
                created_at_millis: active.created_at_millis,
                last_modified_millis: now,
            };
            self.store.put_document(DOCUMENT_KIND, name, stored.encode()?).await?;
        } else if paused {
            return self.describe(name);
        }
        self.respawn(name, paused).await
    }

    /// Replaces a connector's task by a fresh one over the same configuration.
    async fn respawn(&self, name: &str, paused: bool) -> Result<Value, ConnectorError> {
        let Some(previous) = self.stop(name).await else {
            return Err(ConnectorError::NotFound { name: name.into() });
        };
        let old = &previous.active;
        // A sink that could not be built is built again: the cause may be gone.
        let sink = match &old.sink {
            Ok(sink) => Ok(Arc::clone(sink)),
            Err(_) => {
                crate::factory::build(old.config.sink_type, &old.config.settings).map_err(|e| e.to_string())
            }
        };
        let active = Active {
            config: old.config.clone(),
            sink,
            paused,
            version: old.version,
            created_at_millis: old.created_at_millis,
            last_modified_millis: if paused == old.paused {
                old.last_modified_millis
            } else {
                self.store.now_millis()
            },
        };
        let mut status = previous.status().clone();
        status.state = if paused { State::Paused } else { State::Running };
        status.attempts = 0;
        if !paused {
            status.last_error = None;
        }
        self.spawn(name, active, status);
        self.describe(name)
    }

    /// Stops every connector task. Later changes are refused.
    pub async fn shutdown(&self) {
        let _serial = self.changes.lock().await;
        self.stopped.store(true, Ordering::Release);
        let names: Vec<String> = self.connectors().keys().cloned().collect();
        for name in names {
            self.stop(&name).await;
        }
    }
}

fn active(config: ConnectorConfig, sink: Result<Arc<dyn Sink>, String>, stored: &StoredConnector) -> Active {
    Active {
        config,
        sink,
        paused: stored.paused,
        version: stored.version,
        created_at_millis: stored.created_at_millis,
        last_modified_millis: stored.last_modified_millis,
    }
}

fn seconds(millis: u64) -> Value {
    json!(millis as f64 / 1000.0)
}

async fn blocking<T: Send + 'static>(
    work: impl FnOnce() -> Result<T, ConnectorError> + Send + 'static,
) -> Result<T, ConnectorError> {
    tokio::task::spawn_blocking(work).await.unwrap_or_else(|e| {
        Err(ConnectorError::Store(eddy_core::Error::Unavailable { message: e.to_string() }))
    })
}
