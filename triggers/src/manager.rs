//! The trigger manager: holds every registered trigger, runs one delivery task per trigger,
//! and serves registration, status, logs, dead letters and replay. Registrations are durable
//! documents and checkpoints are core consumers, so [`TriggerManager::start`] resumes every
//! trigger from its checkpoint after a restart.

use std::collections::BTreeMap;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, RwLock};

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD as BASE64;
use eddy_core::Store;
use eddy_core::changelog::{ChangeFeed, format_sequence_number};
use eddy_core::store::ConsumerStatus;
use serde_json::{Value, json};
use tokio::sync::{mpsc, oneshot};
use tokio::task::JoinHandle;

use crate::delay::CommitStamps;
use crate::delivery::{self, Active, ReplayOutcome, ReplayRequest, Shared, dead_letter};
use crate::error::TriggerError;
use crate::registry::{self, DOCUMENT_KIND, Registration, StoredTrigger, TRIGGERS_MAX};
use crate::sandbox::{Runtime, RuntimeConfig};
use crate::status::{LogRing, State, Status, Totals};

/// Replay requests queued per trigger.
const REPLAY_QUEUE_MAX: usize = 4;
/// Default and largest `Limit` of a listing (triggers, logs, dead letters).
pub const LIST_LIMIT_MAX: usize = 1000;

/// What the manager needs from the server.
#[derive(Debug, Clone)]
pub struct ManagerConfig {
    /// `awsRegion` of the records handed to modules.
    pub region: String,
    /// The account in the `eventSourceARN` of the records handed to modules.
    pub account_id: String,
    /// The sandbox engine (compile cache directory, instance pool).
    pub runtime: RuntimeConfig,
}

struct Handle {
    shared: Arc<Shared>,
    replays: mpsc::Sender<ReplayRequest>,
    task: Mutex<Option<JoinHandle<()>>>,
}

/// A registration that could not be started (its module no longer compiles): shown as Failed.
struct Broken {
    stored: StoredTrigger,
    error: String,
}

/// Every trigger of a store and its delivery task.
pub struct TriggerManager {
    store: Store,
    runtime: Runtime,
    region: String,
    account_id: String,
    triggers: RwLock<BTreeMap<String, Arc<Handle>>>,
    broken: Mutex<BTreeMap<String, Broken>>,
    /// Serializes registration changes (put, delete, enable) so each sees the last one's result.
    changes: tokio::sync::Mutex<()>,
    stopped: AtomicBool,
}

impl TriggerManager {
    /// Starts the manager and every stored trigger, each from its checkpoint.
    pub async fn start(store: Store, config: ManagerConfig) -> Result<Arc<TriggerManager>, TriggerError> {
        let runtime = Runtime::new(config.runtime)?;
        let manager = Arc::new(TriggerManager {
            store: store.clone(),
            runtime,
            region: config.region,
            account_id: config.account_id,
            triggers: RwLock::new(BTreeMap::new()),
            broken: Mutex::new(BTreeMap::new()),
            changes: tokio::sync::Mutex::new(()),
            stopped: AtomicBool::new(false),
        });
        let documents = {
            let store = store.clone();
            tokio::task::spawn_blocking(move || store.documents(DOCUMENT_KIND))
                .await
                .map_err(|e| eddy_core::Error::Unavailable { message: e.to_string() })??
        };
        for (name, bytes) in documents {
            let stored = match StoredTrigger::decode(&name, &bytes) {
                Ok(s) => s,
                Err(e) => {
                    tracing::error!("trigger {name} not started: {e}");
                    continue;
                }
            };
            match manager.compile(&stored).await {
                Ok(active) => {
                    let state = if active.config.enabled { State::Enabled } else { State::Disabled };
                    // The counters continue from the last commit.
                    let counters =
                        manager.store.consumer(&registry::consumer_name(&name)).ok().and_then(|c| c.counters);
                    manager.spawn(&name, active, Status::resumed(state, Totals::decode(counters.as_deref())));
                }
                Err(e) => {
                    tracing::error!("trigger {name} not started: {e}");
                    let error = format!("the module could not be loaded: {e}");
                    manager.broken().insert(name, Broken { stored, error });
                }
            }
        }
        Ok(manager)
    }

    fn triggers(&self) -> std::sync::RwLockReadGuard<'_, BTreeMap<String, Arc<Handle>>> {
        self.triggers.read().unwrap_or_else(|p| p.into_inner())
    }

    fn triggers_mut(&self) -> std::sync::RwLockWriteGuard<'_, BTreeMap<String, Arc<Handle>>> {
        self.triggers.write().unwrap_or_else(|p| p.into_inner())
    }

    fn broken(&self) -> std::sync::MutexGuard<'_, BTreeMap<String, Broken>> {
        self.broken.lock().unwrap_or_else(|p| p.into_inner())
    }

    fn handle(&self, name: &str) -> Result<Arc<Handle>, TriggerError> {
        self.triggers().get(name).cloned().ok_or_else(|| TriggerError::NotFound { name: name.into() })
    }

    /// Compiles a stored registration's module (through the on-disk cache).
    async fn compile(&self, stored: &StoredTrigger) -> Result<Active, TriggerError> {
        let bytes = stored.module_bytes()?;
        let runtime = self.runtime.clone();
        let limits = stored.config.limits.to_limits();
        let module = tokio::task::spawn_blocking(move || runtime.compile(&bytes, limits))
            .await
            .map_err(|e| eddy_core::Error::Unavailable { message: e.to_string() })??;
        Ok(Active {
            filter: stored.config.filter(),
            config: stored.config.clone(),
            module,
            module_sha256: stored.module_sha256.clone(),
            version: stored.version,
            created_at_millis: stored.created_at_millis,
            last_modified_millis: stored.last_modified_millis,
        })
    }

    fn spawn(&self, name: &str, active: Active, status: Status) {
        let shared = Arc::new(Shared {
            name: name.to_string(),
            consumer: registry::consumer_name(name),
            store: self.store.clone(),
            region: self.region.clone(),
            account_id: self.account_id.clone(),
            active: RwLock::new(Arc::new(active)),
            status: Mutex::new(status),
            logs: Mutex::new(LogRing::default()),
            stamps: Mutex::new(CommitStamps::default()),
            wake: tokio::sync::Notify::new(),
            stopping: AtomicBool::new(false),
        });
        let (replays, requests) = mpsc::channel(REPLAY_QUEUE_MAX);
        let task = tokio::spawn(delivery::run(Arc::clone(&shared), requests));
        self.triggers_mut()
            .insert(name.to_string(), Arc::new(Handle { shared, replays, task: Mutex::new(Some(task)) }));
    }

    /// Stops a trigger's task and waits for it (it finishes the batch it is on).
    async fn stop(&self, name: &str) -> Option<Arc<Shared>> {
        let handle = self.triggers_mut().remove(name)?;
        handle.shared.stopping.store(true, Ordering::Release);
        handle.shared.wake.notify_one();
        let task = handle.task.lock().unwrap_or_else(|p| p.into_inner()).take();
        if let Some(task) = task {
            let _ = task.await;
        }
        Some(Arc::clone(&handle.shared))
    }

    /// Registers a trigger, or replaces one of the same name. A replacement on the same table
    /// keeps the checkpoint: the new module takes over at the next batch. Answers the trigger's
    /// description and whether it was created.
    pub async fn put(&self, name: &str, registration: Registration) -> Result<(Value, bool), TriggerError> {
        let _serial = self.changes.lock().await;
        if self.stopped.load(Ordering::Acquire) {
            return Err(TriggerError::Stopping);
        }
        let Registration { module, config } = registration;
        let existing = self.triggers().get(name).map(|h| h.shared.active());
        let was_broken = self.broken().get(name).map(|b| b.stored.clone());
        let created = existing.is_none() && was_broken.is_none();
        if created && self.triggers().len() + self.broken().len() >= TRIGGERS_MAX {
            return Err(TriggerError::TooManyTriggers { max: TRIGGERS_MAX });
        }
        let meta = self.store.table(&config.table_name).map_err(|_| eddy_core::Error::ResourceNotFound {
            message: format!("Requested resource not found: Table: {} not found", config.table_name),
        })?;
        let now = self.store.now_millis();
        let previous_created = existing.as_ref().map(|a| (a.created_at_millis, a.version));
        let previous_created =
            previous_created.or_else(|| was_broken.as_ref().map(|b| (b.created_at_millis, b.version)));
        let stored = StoredTrigger {
            module_sha256: hex_sha256(&module),
            module: BASE64.encode(&module),
            created_at_millis: previous_created.map_or(now, |(at, _)| at),
            last_modified_millis: now,
            version: previous_created.map_or(1, |(_, v)| v + 1),
            config,
        };
        let active = self.compile(&stored).await?;
        dead_letter::ensure_table(&self.store, &stored.config.dead_letter_table).await?;

        // The checkpoint stays when the trigger keeps following the same table.
        let consumer_name = registry::consumer_name(name);
        let same_table = existing.as_ref().map(|a| a.config.table_name.as_str())
            == Some(stored.config.table_name.as_str())
            || was_broken.as_ref().map(|b| b.config.table_name.as_str())
                == Some(stored.config.table_name.as_str());
        let current = match self.store.consumer(&consumer_name) {
            Ok(c) => Some(c),
            Err(eddy_core::Error::ResourceNotFound { .. }) => None,
            Err(e) => return Err(e.into()),
        };
        let keep = current
            .as_ref()
            .is_some_and(|c| same_table && c.table_id == meta.id && c.status == ConsumerStatus::Active);
        let state = if active.config.enabled { State::Enabled } else { State::Disabled };
        let running = self.triggers().get(name).cloned();
        if keep && let Some(handle) = running {
            // Same table: swap the registration under the running task, which picks it up at
            // its next batch.
            self.store.put_document(DOCUMENT_KIND, name, stored.encode()?).await?;
            *handle.shared.active.write().unwrap_or_else(|p| p.into_inner()) = Arc::new(active);
            handle.shared.status().state = state;
            handle.shared.wake.notify_one();
            return Ok((self.describe(name)?, created));
        }
        // A new checkpoint: the old task must be gone before its consumer is replaced, or a
        // batch in flight could commit against the new one.
        let previous = self.stop(name).await;
        let restarted = async {
            if !keep {
                if current.is_some() {
                    self.store.delete_consumer(&consumer_name).await?;
                }
                self.store
                    .create_consumer(
                        &consumer_name,
                        &stored.config.table_name,
                        stored.config.start_position(),
                    )
                    .await?;
            }
            self.store.put_document(DOCUMENT_KIND, name, stored.encode()?).await?;
            Ok::<(), TriggerError>(())
        }
        .await;
        if let Err(e) = restarted {
            // Put the trigger back as it was; its registration did not change.
            if let Some(previous) = previous {
                let status = previous.status().clone();
                let old = previous.active();
                let old = Active {
                    config: old.config.clone(),
                    module: old.module.clone(),
                    filter: old.filter.clone(),
                    module_sha256: old.module_sha256.clone(),
                    version: old.version,
                    created_at_millis: old.created_at_millis,
                    last_modified_millis: old.last_modified_millis,
                };
                self.spawn(name, old, status);
            }
            return Err(e);
        }
        self.broken().remove(name);
        let status = match (&previous, keep) {
            (Some(previous), true) => {
                let mut status = previous.status().clone();
                status.state = state;
                status
            }
            _ => Status::new(state),
        };
        self.spawn(name, active, status);
        Ok((self.describe(name)?, created))
    }

    /// A trigger's configuration and status.
    pub fn describe(&self, name: &str) -> Result<Value, TriggerError> {
        if let Some(broken) = self.broken().get(name) {
            let mut body = broken.stored.config.to_json();
            body["TriggerName"] = name.into();
            body["ModuleSha256"] = broken.stored.module_sha256.clone().into();
            body["Version"] = broken.stored.version.into();
            body["State"] = State::Failed.as_str().into();
            body["LastError"] = broken.error.clone().into();
            return Ok(body);
        }
        let handle = self.handle(name)?;
        let shared = &handle.shared;
        let active = shared.active();
        let mut body = active.config.to_json();
        body["TriggerName"] = name.into();
        body["ModuleSha256"] = active.module_sha256.clone().into();
        body["Version"] = active.version.into();
        body["CreationDateTime"] = seconds(active.created_at_millis);
        body["LastModified"] = seconds(active.last_modified_millis);
        body["DeadLetterTable"] = active.config.dead_letter_table.clone().into();
        let status = shared.status().to_json();
        if let Value::Object(fields) = status {
            for (key, value) in fields {
                body[key] = value;
            }
        }
        if let Ok(consumer) = self.store.consumer(&shared.consumer) {
            body["CheckpointSequenceNumber"] = format_sequence_number(consumer.checkpoint).into();
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

    /// Triggers in name order after `after`, at most `limit`; the last name when more follow.
    pub fn list(&self, after: Option<&str>, limit: usize) -> (Vec<Value>, Option<String>) {
        let mut names: Vec<String> = self.triggers().keys().cloned().collect();
        names.extend(self.broken().keys().cloned());
        names.sort();
        names.dedup();
        let names: Vec<String> = names.into_iter().filter(|n| after.is_none_or(|a| n.as_str() > a)).collect();
        let more = names.len() > limit;
        let page: Vec<&String> = names.iter().take(limit).collect();
        let next = if more { page.last().map(|n| n.to_string()) } else { None };
        (page.iter().filter_map(|n| self.describe(n).ok()).collect(), next)
    }

    /// Deletes a trigger: stops its task, removes its registration and checkpoint. Its
    /// dead-letter table stays. Answers the last description.
    pub async fn delete(&self, name: &str) -> Result<Value, TriggerError> {
        let _serial = self.changes.lock().await;
        let description = self.describe(name)?;
        self.stop(name).await;
        self.broken().remove(name);
        self.store.delete_document(DOCUMENT_KIND, name).await?;
        match self.store.delete_consumer(&registry::consumer_name(name)).await {
            Ok(_) | Err(eddy_core::Error::ResourceNotFound { .. }) => {}
            Err(e) => return Err(e.into()),
        }
        Ok(description)
    }

    /// Enables or disables a trigger (durably). Disabling pauses delivery after the batch in
    /// flight; the checkpoint stays.
    pub async fn set_enabled(&self, name: &str, enabled: bool) -> Result<Value, TriggerError> {
        let _serial = self.changes.lock().await;
        let handle = self.handle(name)?;
        let active = handle.shared.active();
        let now = self.store.now_millis();
        let mut config = active.config.clone();
        config.enabled = enabled;
        let document = self
            .store
            .document(DOCUMENT_KIND, name)?
            .ok_or_else(|| TriggerError::NotFound { name: name.into() })?;
        let mut stored = StoredTrigger::decode(name, &document)?;
        stored.config = config.clone();
        stored.last_modified_millis = now;
        self.store.put_document(DOCUMENT_KIND, name, stored.encode()?).await?;
        let next = Active {
            config,
            module: active.module.clone(),
            filter: active.filter.clone(),
            module_sha256: active.module_sha256.clone(),
            version: active.version,
            created_at_millis: active.created_at_millis,
            last_modified_millis: now,
        };
        *handle.shared.active.write().unwrap_or_else(|p| p.into_inner()) = Arc::new(next);
        handle.shared.status().state = if enabled { State::Enabled } else { State::Disabled };
        handle.shared.wake.notify_one();
        self.describe(name)
    }

    /// The newest `limit` captured log lines of a trigger, oldest first.
    pub fn logs(&self, name: &str, limit: usize) -> Result<Value, TriggerError> {
        let handle = self.handle(name)?;
        let logs = handle.shared.logs();
        let lines: Vec<Value> = logs
            .tail(limit)
            .into_iter()
            .map(|l| json!({"Time": seconds(l.at_millis), "SequenceNumber": l.sequence_number, "Message": l.line}))
            .collect();
        Ok(json!({"TriggerName": name, "Logs": lines, "Dropped": logs.dropped()}))
    }

    /// A page of a trigger's dead letters, in sequence order after `after`.
    pub fn dead_letters(&self, name: &str, after: Option<u64>, limit: usize) -> Result<Value, TriggerError> {
        let handle = self.handle(name)?;
        let table = handle.shared.active().config.dead_letter_table.clone();
        let (letters, more) = dead_letter::list(&self.store, &table, name, after, limit)?;
        let mut body = json!({
            "TriggerName": name,
            "DeadLetterTable": table,
            "DeadLetters": letters.iter().map(|d| dead_letter::to_json(&d.item)).collect::<Vec<_>>(),
        });
        if more && let Some(last) = letters.last() {
            body["NextToken"] = format_sequence_number(last.seq).into();
        }
        Ok(body)
    }

    /// Replays up to `limit` dead letters through the trigger's current module.
    pub async fn replay(&self, name: &str, limit: usize) -> Result<ReplayOutcome, TriggerError> {
        let handle = self.handle(name)?;
        let (reply, answer) = oneshot::channel();
        handle.replays.send(ReplayRequest { limit, reply }).await.map_err(|_| TriggerError::Stopping)?;
        handle.shared.wake.notify_one();
        answer.await.map_err(|_| TriggerError::Stopping)?
    }

    /// Stops every trigger task (each finishes its batch in flight). Later changes are refused.
    pub async fn shutdown(&self) {
        let _serial = self.changes.lock().await;
        self.stopped.store(true, Ordering::Release);
        let names: Vec<String> = self.triggers().keys().cloned().collect();
        for name in names {
            self.stop(&name).await;
        }
    }

    /// The sandbox runtime (compile cache statistics).
    pub fn runtime(&self) -> &Runtime {
        &self.runtime
    }
}

fn seconds(millis: u64) -> Value {
    json!(millis as f64 / 1000.0)
}

fn hex_sha256(bytes: &[u8]) -> String {
    use sha2::{Digest, Sha256};
    Sha256::digest(bytes).iter().map(|b| format!("{b:02x}")).collect()
}
