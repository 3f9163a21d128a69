//! What can go wrong managing connectors (registration, pause, resume, restart, delete). Why a
//! batch failed in the pull loop is a [`crate::sink::SinkError`], shown as the connector's
//! `LastError`.

/// A connector operation was refused or failed. The server maps each variant to an HTTP error.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum ConnectorError {
    /// The configuration (or another request) breaks a rule; the message names the field.
    #[error("{message}")]
    Validation {
        /// What is wrong, naming the field.
        message: String,
    },
    /// No connector has this name.
    #[error("Connector not found: {name}")]
    NotFound {
        /// The name asked for.
        name: String,
    },
    /// The store holds [`crate::config::CONNECTORS_MAX`] connectors already.
    #[error("A store holds at most {max} connectors")]
    TooManyConnectors {
        /// The limit.
        max: usize,
    },
    /// The table store refused or failed.
    #[error(transparent)]
    Store(#[from] eddy_core::Error),
    /// A stored configuration or progress document does not decode: a broken invariant.
    #[error("stored connector {name} is corrupt: {reason}")]
    Corrupt {
        /// The connector.
        name: String,
        /// What does not decode.
        reason: String,
    },
    /// The connector manager is shutting down.
    #[error("the connector manager is stopping")]
    Stopping,
}

impl ConnectorError {
    /// A validation error with this message.
    pub fn validation(message: impl Into<String>) -> Self {
        ConnectorError::Validation { message: message.into() }
    }
}
