//! `GET /v1/tables/{table}/stream`: a table's change records as Server-Sent Events or NDJSON,
//! caught up from the changelog and then followed live. The subscription logic is
//! `eddy_streams::subscription`; this handler parses the request and pipes the chunks into a
//! bounded response body.

use std::collections::HashMap;
use std::convert::Infallible;
use std::sync::Arc;

use axum::body::{Body, Bytes};
use axum::extract::rejection::QueryRejection;
use axum::extract::{Path, Query, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use eddy_core::changelog::ChangeFeed;
use eddy_streams::filter::FilterCriteria;
use eddy_streams::subscription::{
    Format, Limits, StartFrom, Subscription, SubscriptionError, SubscriptionRequest, parse_heartbeat_ms,
    parse_last_event_id,
};
use http_body_util::channel::Channel;

use crate::app::AppState;
use crate::error::ApiError;
use crate::v1::response;

/// Chunks queued between a subscription and its connection. With each chunk bounded by
/// `Limits::chunk_bytes_max`, a subscriber that reads slowly holds at most this many chunks
/// plus one page of records; the subscription reads the log again only as the connection drains.
pub const SUBSCRIPTION_CHUNKS_BUFFERED: usize = 2;

/// The query parameters `GET /v1/tables/{table}/stream` accepts.
const PARAMETERS: [&str; 4] = ["from", "format", "filter", "heartbeat_ms"];

/// Handles `GET /v1/tables/{table}/stream?from=...&format=...&filter=...&heartbeat_ms=...`.
pub async fn subscribe(
    State(state): State<AppState>,
    Path(table): Path<String>,
    headers: HeaderMap,
    query: Result<Query<Vec<(String, String)>>, QueryRejection>,
) -> Response {
    let opened = async {
        let Query(pairs) = query.map_err(|e| ApiError::validation(format!("Invalid query string: {e}")))?;
        let params = parameters(pairs)?;
        let mut limits = Limits::default();
        if let Some(ms) = params.get("heartbeat_ms") {
            limits.heartbeat = parse_heartbeat_ms(ms).map_err(refused)?;
        }
        let format =
            params.get("format").map(|f| Format::parse(f)).transpose().map_err(refused)?.unwrap_or_default();
        let from = match params.get("from") {
            Some(text) => StartFrom::parse(text).map_err(refused)?,
            None => StartFrom::Latest,
        };
        let last_event_id = match headers.get("last-event-id") {
            Some(value) => {
                let text = value.to_str().map_err(|_| ApiError::validation("Last-Event-ID is not text"))?;
                Some(parse_last_event_id(text).map_err(refused)?)
            }
            None => None,
        };
        // Subscriptions let `numeric` compare DynamoDB number strings (see docs/filters.md).
        let filter = match params.get("filter") {
            Some(pattern) => Some(
                FilterCriteria::from_pattern(pattern)
                    .map_err(|e| ApiError::validation(e.to_string()))?
                    .with_dynamodb_numbers(),
            ),
            None => None,
        };
        let request = SubscriptionRequest {
            table,
            from,
            last_event_id,
            format,
            filter,
            region: state.identity().region.clone(),
        };
        let feed: Arc<dyn ChangeFeed> = Arc::new(state.store().clone());
        let subscription =
            Subscription::open(feed, request, limits, state.subscriptions_stop()).await.map_err(refused)?;
        Ok::<_, ApiError>((subscription, format))
    }
    .await;
    let (mut subscription, format) = match opened {
        Ok(opened) => opened,
        Err(e) => return response::error(&e),
    };
    let (mut sender, body) = Channel::<Bytes, Infallible>::new(SUBSCRIPTION_CHUNKS_BUFFERED);
    tokio::spawn(async move {
        while let Some(chunk) = subscription.next_chunk().await {
            if sender.send_data(Bytes::from(chunk)).await.is_err() {
                // The subscriber went away.
                break;
            }
        }
    });
    let mut response = (StatusCode::OK, Body::new(body)).into_response();
    let h = response.headers_mut();
    h.insert(header::CONTENT_TYPE, HeaderValue::from_static(format.content_type()));
    h.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-cache"));
    // Reverse proxies such as nginx would otherwise buffer the stream.
    h.insert("x-accel-buffering", HeaderValue::from_static("no"));
    response
}

/// The query as a map, refusing unknown and repeated parameters.
fn parameters(pairs: Vec<(String, String)>) -> Result<HashMap<String, String>, ApiError> {
    let mut params = HashMap::new();
    for (name, value) in pairs {
        if !PARAMETERS.contains(&name.as_str()) {
            return Err(ApiError::validation(format!(
                "Unknown query parameter {name:?}; expected one of {}",
                PARAMETERS.join(", ")
            )));
        }
        if params.insert(name.clone(), value).is_some() {
            return Err(ApiError::validation(format!("Query parameter {name:?} is given more than once")));
        }
    }
    Ok(params)
}

fn refused(e: SubscriptionError) -> ApiError {
    match e {
        SubscriptionError::Feed(e) => e.into(),
        other => ApiError::validation(other.to_string()),
    }
}
