//! Builds a sink from a connector's `Type` and its settings object. Each sink type parses and
//! checks its own settings (`from_config`), so a configuration error is a ValidationException
//! when the connector is registered, before anything runs.

use std::sync::Arc;

use serde_json::Value;

use crate::config::SinkType;
use crate::error::ConnectorError;
use crate::sink::Sink;

/// The sink of type `sink_type` with `settings` (the `S3` or `OpenSearch` object), or why the
/// settings are refused.
pub fn build(sink_type: SinkType, settings: &Value) -> Result<Arc<dyn Sink>, ConnectorError> {
    match sink_type {
        SinkType::S3 => crate::s3::S3Sink::from_config(settings)
            .map(|s| Arc::new(s) as Arc<dyn Sink>)
            .map_err(|e| ConnectorError::validation(format!("S3: {e}"))),
        // Without an `Index` the sink derives it from each batch's table and creates it before
        // the first write.
        SinkType::OpenSearch => crate::opensearch::OpenSearchSink::from_config(settings)
            .map(|s| Arc::new(s) as Arc<dyn Sink>)
            .map_err(|e| match e {
                crate::sink::SinkError::Permanent(m) | crate::sink::SinkError::Transient(m) => {
                    ConnectorError::validation(format!("OpenSearch: {m}"))
                }
            }),
    }
}
