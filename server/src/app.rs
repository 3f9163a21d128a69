//! The axum application: `POST /` speaks the DynamoDB JSON 1.0 protocol (DynamoDB and
//! DynamoDB Streams targets), `GET /` and `GET /healthz` answer health checks. [`app`] builds
//! the router so tests can run it in-process.

use std::sync::Arc;

use axum::Router;
use axum::body::Bytes;
use axum::extract::{DefaultBodyLimit, State};
use axum::http::{HeaderMap, HeaderValue, header};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use eddy_core::Store;

use crate::config::Identity;
use crate::dev_clock::DevClock;
use crate::error::{ApiError, ErrorKind};
use crate::ops;

/// Largest request body accepted (DynamoDB: 16 MB for BatchWriteItem).
pub const REQUEST_BYTES_MAX: usize = 16 * 1024 * 1024;

/// What every handler shares.
#[derive(Clone)]
pub struct AppState {
    inner: Arc<StateInner>,
}

struct StateInner {
    store: Store,
    identity: Identity,
    dev_clock: Option<Arc<DevClock>>,
    /// Turns true when the server stops, which ends every streaming subscription.
    subscriptions_stop: tokio::sync::watch::Sender<bool>,
    /// The trigger manager (`/v1/triggers`), when the server runs one.
    triggers: Option<Arc<eddy_triggers::TriggerManager>>,
    /// Table exports to S3, when the server runs them.
    exports: Option<Arc<eddy_connectors::export::Exports>>,
    /// The connector manager (`/v1/connectors`), when the server runs one.
    connectors: Option<Arc<eddy_connectors::ConnectorManager>>,
}

impl AppState {
    /// State over an open store.
    pub fn new(store: Store, identity: Identity) -> Self {
        let subscriptions_stop = tokio::sync::watch::Sender::new(false);
        AppState {
            inner: Arc::new(StateInner {
                store,
                identity,
                dev_clock: None,
                subscriptions_stop,
                triggers: None,
                exports: None,
                connectors: None,
            }),
        }
    }

    /// Serves `POST /v1/dev/clock` with this clock (`eddy serve --dev-clock`).
    pub fn with_dev_clock(self, dev_clock: Option<Arc<DevClock>>) -> Self {
        let inner = StateInner {
            store: self.inner.store.clone(),
            identity: self.inner.identity.clone(),
            dev_clock,
            subscriptions_stop: self.inner.subscriptions_stop.clone(),
            triggers: self.inner.triggers.clone(),
            exports: self.inner.exports.clone(),
            connectors: self.inner.connectors.clone(),
        };
        AppState { inner: Arc::new(inner) }
    }

    /// Serves `/v1/triggers` with this trigger manager.
    pub fn with_triggers(self, triggers: Arc<eddy_triggers::TriggerManager>) -> Self {
        let inner = StateInner {
            store: self.inner.store.clone(),
            identity: self.inner.identity.clone(),
            dev_clock: self.inner.dev_clock.clone(),
            subscriptions_stop: self.inner.subscriptions_stop.clone(),
            triggers: Some(triggers),
            exports: self.inner.exports.clone(),
            connectors: self.inner.connectors.clone(),
        };
        AppState { inner: Arc::new(inner) }
    }

    /// Serves table exports (`/v1/tables/{table}/export`, ExportTableToPointInTime) with these.
    pub fn with_exports(self, exports: Arc<eddy_connectors::export::Exports>) -> Self {
        let inner = StateInner {
            store: self.inner.store.clone(),
            identity: self.inner.identity.clone(),
            dev_clock: self.inner.dev_clock.clone(),
            subscriptions_stop: self.inner.subscriptions_stop.clone(),
            triggers: self.inner.triggers.clone(),
            exports: Some(exports),
            connectors: self.inner.connectors.clone(),
        };
        AppState { inner: Arc::new(inner) }
    }

    /// Serves `/v1/connectors` with this connector manager.
    pub fn with_connectors(self, connectors: Arc<eddy_connectors::ConnectorManager>) -> Self {
        let inner = StateInner {
            store: self.inner.store.clone(),
            identity: self.inner.identity.clone(),
            dev_clock: self.inner.dev_clock.clone(),
            subscriptions_stop: self.inner.subscriptions_stop.clone(),
            triggers: self.inner.triggers.clone(),
            exports: self.inner.exports.clone(),
            connectors: Some(connectors),
        };
        AppState { inner: Arc::new(inner) }
    }

    /// The connector manager, when the server runs one.
    pub fn connectors(&self) -> Option<&Arc<eddy_connectors::ConnectorManager>> {
        self.inner.connectors.as_ref()
    }

    /// Table exports, when the server runs them.
    pub fn exports(&self) -> Option<&Arc<eddy_connectors::export::Exports>> {
        self.inner.exports.as_ref()
    }

    /// The trigger manager, when the server runs one.
    pub fn triggers(&self) -> Option<&Arc<eddy_triggers::TriggerManager>> {
        self.inner.triggers.as_ref()
    }

    /// The development clock, when enabled.
    pub fn dev_clock(&self) -> Option<&Arc<DevClock>> {
        self.inner.dev_clock.as_ref()
    }

    /// The table store.
    pub fn store(&self) -> &Store {
        &self.inner.store
    }

    /// Region and account used in ARNs.
    pub fn identity(&self) -> &Identity {
        &self.inner.identity
    }

    /// A receiver that turns true when the server stops (streaming subscriptions end on it).
    pub fn subscriptions_stop(&self) -> tokio::sync::watch::Receiver<bool> {
        self.inner.subscriptions_stop.subscribe()
    }

    /// Ends every streaming subscription with a final event, so a graceful shutdown is not held
    /// open by them.
    pub fn stop_subscriptions(&self) {
        self.inner.subscriptions_stop.send_replace(true);
    }
}

/// The router.
pub fn app(state: AppState) -> Router {
    Router::new()
        .route("/", get(health).post(dynamodb))
        .route("/healthz", get(health))
        .route("/v1/dev/clock", axum::routing::post(crate::v1::dev::advance_clock))
        .route("/v1/tables/{table}/retention", get(crate::v1::retention::get).put(crate::v1::retention::put))
        .route("/v1/tables/{table}/stream", get(crate::v1::stream::subscribe))
        .route("/v1/tables/{table}/export", axum::routing::post(crate::v1::exports::start))
        .route("/v1/tables/{table}/exports", get(crate::v1::exports::list))
        .route("/v1/tables/{table}/exports/{id}", get(crate::v1::exports::describe))
        .route("/v1/consumers", get(crate::v1::consumers::list).post(crate::v1::consumers::create))
        .route(
            "/v1/consumers/{name}",
            get(crate::v1::consumers::describe).delete(crate::v1::consumers::delete),
        )
        .route("/v1/consumers/{name}/records", get(crate::v1::consumers::records))
        .route("/v1/consumers/{name}/checkpoint", axum::routing::post(crate::v1::consumers::checkpoint))
        .route("/v1/triggers", get(crate::v1::triggers::list))
        .route(
            "/v1/triggers/{name}",
            get(crate::v1::triggers::describe)
                .put(crate::v1::triggers::put)
                .delete(crate::v1::triggers::delete),
        )
        .route("/v1/triggers/{name}/enable", axum::routing::post(crate::v1::triggers::enable))
        .route("/v1/triggers/{name}/disable", axum::routing::post(crate::v1::triggers::disable))
        .route("/v1/triggers/{name}/logs", get(crate::v1::triggers::logs))
        .route("/v1/triggers/{name}/dead-letters", get(crate::v1::triggers::dead_letters))
        .route("/v1/triggers/{name}/dead-letters/replay", axum::routing::post(crate::v1::triggers::replay))
        .route("/v1/connectors", get(crate::v1::connectors::list))
        .route(
            "/v1/connectors/{name}",
            get(crate::v1::connectors::describe)
                .put(crate::v1::connectors::put)
                .delete(crate::v1::connectors::delete),
        )
        .route("/v1/connectors/{name}/pause", axum::routing::post(crate::v1::connectors::pause))
        .route("/v1/connectors/{name}/resume", axum::routing::post(crate::v1::connectors::resume))
        .route("/v1/connectors/{name}/restart", axum::routing::post(crate::v1::connectors::restart))
        .layer(DefaultBodyLimit::max(REQUEST_BYTES_MAX))
        .with_state(state)
}

async fn health(State(state): State<AppState>, headers: HeaderMap) -> String {
    let host = headers
        .get(header::HOST)
        .and_then(|h| h.to_str().ok())
        .map(str::to_string)
        .unwrap_or_else(|| format!("dynamodb.{}.amazonaws.com", state.identity().region));
    format!("healthy: {host} ")
}

async fn dynamodb(State(state): State<AppState>, headers: HeaderMap, body: Bytes) -> Response {
    let request_id = uuid::Uuid::new_v4().simple().to_string().to_uppercase();
    let result = handle(&state, &headers, &body).await;
    let (status, body) = match result {
        Ok(body) => (axum::http::StatusCode::OK, body),
        Err(e) => {
            if e.kind() == ErrorKind::InternalServerError {
                tracing::error!(request_id, "internal error: {}", e.message());
            }
            (e.kind().status(), e.body())
        }
    };
    let crc = crc32fast::hash(&body);
    let mut response = (status, body).into_response();
    let h = response.headers_mut();
    h.insert(header::CONTENT_TYPE, HeaderValue::from_static("application/x-amz-json-1.0"));
    if let Ok(v) = HeaderValue::from_str(&request_id) {
        h.insert("x-amzn-requestid", v);
    }
    h.insert("x-amz-crc32", HeaderValue::from(crc));
    response
}

async fn handle(state: &AppState, headers: &HeaderMap, body: &[u8]) -> Result<Vec<u8>, ApiError> {
    let target = headers.get("x-amz-target").and_then(|t| t.to_str().ok()).unwrap_or_default();
    let operation = match target.split_once('.') {
        Some(("DynamoDB_20120810", op)) => op,
        // The AWS SDKs and CLI send `DynamoDBStreams_20120810`; some older clients spell it
        // `DynamodbStreams_20120810`.
        Some(("DynamoDBStreams_20120810" | "DynamodbStreams_20120810", op)) => {
            crate::auth::caller(headers)?;
            return ops::streams::dispatch(state, op, body).await;
        }
        _ => return Err(ApiError::new(ErrorKind::UnknownOperation, "")),
    };
    crate::auth::caller(headers)?;
    let host = headers.get(header::HOST).and_then(|h| h.to_str().ok());
    ops::dispatch(state, operation, body, host).await
}
