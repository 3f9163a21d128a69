//! The one place where errors become DynamoDB error responses: the `__type`, the HTTP status
//! and the message. Every handler returns [`ApiError`]; every core error converts here.

use axum::http::StatusCode;
use eddy_core::Item;
use eddy_core::error::CancellationReason;

/// DynamoDB's error types, each with its HTTP status.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum ErrorKind {
    /// A request parameter breaks a rule.
    Validation,
    /// The body is not valid JSON or has wrong JSON types.
    Serialization,
    /// The X-Amz-Target names no known operation.
    UnknownOperation,
    /// No Authorization header.
    MissingAuthenticationToken,
    /// The Authorization header is not a SigV4 signature.
    IncompleteSignature,
    /// The table (or other resource) does not exist.
    ResourceNotFound,
    /// The resource exists or is busy.
    ResourceInUse,
    /// A quota would be exceeded.
    LimitExceeded,
    /// A condition expression was false.
    ConditionalCheckFailed,
    /// A partition of a table with local secondary indexes would exceed 10 GB.
    ItemCollectionSizeLimitExceeded,
    /// A PartiQL INSERT found an item with its key already there.
    DuplicateItem,
    /// A transaction was cancelled; the body lists a reason per action.
    TransactionCanceled,
    /// A ClientRequestToken was reused with a different request.
    IdempotentParameterMismatch,
    /// The caller may not do this (for example the dev clock without `--dev-clock`).
    AccessDenied,
    /// The server failed.
    InternalServerError,
    /// The server cannot take the request now.
    ServiceUnavailable,
    /// A DynamoDB Streams shard iterator outlived its 15 minutes.
    ExpiredIterator,
    /// A DynamoDB Streams read reached records already trimmed.
    TrimmedDataAccess,
    /// DescribeExport named no export.
    ExportNotFound,
    /// An export's ClientToken was reused with other parameters.
    ExportConflict,
}

impl ErrorKind {
    /// The name after `#` in `__type`.
    pub fn type_name(self) -> &'static str {
        match self {
            ErrorKind::Validation => "ValidationException",
            ErrorKind::Serialization => "SerializationException",
            ErrorKind::UnknownOperation => "UnknownOperationException",
            ErrorKind::MissingAuthenticationToken => "MissingAuthenticationTokenException",
            ErrorKind::IncompleteSignature => "IncompleteSignatureException",
            ErrorKind::ResourceNotFound => "ResourceNotFoundException",
            ErrorKind::ResourceInUse => "ResourceInUseException",
            ErrorKind::LimitExceeded => "LimitExceededException",
            ErrorKind::ConditionalCheckFailed => "ConditionalCheckFailedException",
            ErrorKind::ItemCollectionSizeLimitExceeded => "ItemCollectionSizeLimitExceededException",
            ErrorKind::DuplicateItem => "DuplicateItemException",
            ErrorKind::TransactionCanceled => "TransactionCanceledException",
            ErrorKind::IdempotentParameterMismatch => "IdempotentParameterMismatchException",
            ErrorKind::AccessDenied => "AccessDeniedException",
            ErrorKind::InternalServerError => "InternalServerError",
            ErrorKind::ServiceUnavailable => "ServiceUnavailableException",
            ErrorKind::ExpiredIterator => "ExpiredIteratorException",
            ErrorKind::TrimmedDataAccess => "TrimmedDataAccessException",
            ErrorKind::ExportNotFound => "ExportNotFoundException",
            ErrorKind::ExportConflict => "ExportConflictException",
        }
    }

    /// The HTTP status of Eddy's REST API (`/v1`): like [`ErrorKind::status`], except that a
    /// missing resource is 404 and a resource that exists or is busy is 409.
    pub fn rest_status(self) -> StatusCode {
        match self {
            ErrorKind::ResourceNotFound | ErrorKind::ExportNotFound => StatusCode::NOT_FOUND,
            ErrorKind::ResourceInUse | ErrorKind::ExportConflict => StatusCode::CONFLICT,
            other => other.status(),
        }
    }

    /// The HTTP status DynamoDB answers with.
    pub fn status(self) -> StatusCode {
        match self {
            ErrorKind::InternalServerError => StatusCode::INTERNAL_SERVER_ERROR,
            ErrorKind::ServiceUnavailable => StatusCode::SERVICE_UNAVAILABLE,
            ErrorKind::AccessDenied => StatusCode::FORBIDDEN,
            _ => StatusCode::BAD_REQUEST,
        }
    }
}

/// An error response.
#[derive(Debug)]
pub struct ApiError {
    kind: ErrorKind,
    message: String,
    /// The item, for ConditionalCheckFailedException with ReturnValuesOnConditionCheckFailure.
    item: Option<Item>,
    /// CancellationReasons, for TransactionCanceledException.
    reasons: Vec<CancellationReason>,
}

impl ApiError {
    /// An error of `kind` with `message`.
    pub fn new(kind: ErrorKind, message: impl Into<String>) -> Self {
        ApiError { kind, message: message.into(), item: None, reasons: Vec::new() }
    }

    /// A ValidationException.
    pub fn validation(message: impl Into<String>) -> Self {
        Self::new(ErrorKind::Validation, message)
    }

    /// A SerializationException.
    pub fn serialization(message: impl Into<String>) -> Self {
        Self::new(ErrorKind::Serialization, message)
    }

    /// A ValidationException for a parameter a later version of Eddy supports.
    pub fn unsupported(feature: &str) -> Self {
        Self::validation(format!("{feature} is not supported by this version of Eddy"))
    }

    /// The error type.
    pub fn kind(&self) -> ErrorKind {
        self.kind
    }

    /// The message.
    pub fn message(&self) -> &str {
        &self.message
    }

    /// The item returned with a ConditionalCheckFailedException.
    pub fn item(&self) -> Option<&Item> {
        self.item.as_ref()
    }

    /// The response body.
    pub fn body(&self) -> Vec<u8> {
        let mut body = serde_json::Map::new();
        body.insert(
            "__type".into(),
            format!("com.amazonaws.dynamodb.v20120810#{}", self.kind.type_name()).into(),
        );
        body.insert("message".into(), self.message.clone().into());
        if let Some(item) = &self.item
            && let Ok(v) = serde_json::to_value(crate::wire::value::WireItem(item))
        {
            body.insert("Item".into(), v);
        }
        if self.kind == ErrorKind::TransactionCanceled {
            let reasons: Vec<serde_json::Value> = self.reasons.iter().map(cancellation_reason).collect();
            body.insert("CancellationReasons".into(), reasons.into());
        }
        serde_json::to_vec(&body).unwrap_or_default()
    }
}

impl From<eddy_core::Error> for ApiError {
    fn from(e: eddy_core::Error) -> Self {
        use eddy_core::Error as E;
        match e {
            E::Validation { message } => ApiError::new(ErrorKind::Validation, message),
            E::ResourceNotFound { message } => ApiError::new(ErrorKind::ResourceNotFound, message),
            E::ResourceInUse { message } => ApiError::new(ErrorKind::ResourceInUse, message),
            E::LimitExceeded { message } => ApiError::new(ErrorKind::LimitExceeded, message),
            E::ItemCollectionSizeLimitExceeded => ApiError::new(
                ErrorKind::ItemCollectionSizeLimitExceeded,
                "Item collection size limit exceeded",
            ),
            E::ConditionalCheckFailed { item } => ApiError {
                kind: ErrorKind::ConditionalCheckFailed,
                message: "The conditional request failed".into(),
                item,
                reasons: Vec::new(),
            },
            E::TransactionCanceled { reasons } => ApiError {
                kind: ErrorKind::TransactionCanceled,
                message: eddy_core::error::cancellation_message(&reasons),
                item: None,
                reasons,
            },
            E::IdempotentParameterMismatch => ApiError::new(
                ErrorKind::IdempotentParameterMismatch,
                E::IdempotentParameterMismatch.to_string(),
            ),
            E::Unavailable { message } => {
                tracing::warn!("request not served: {message}");
                ApiError::new(ErrorKind::ServiceUnavailable, message)
            }
            other => {
                tracing::error!("internal error: {other}");
                ApiError::new(ErrorKind::InternalServerError, "Internal server error")
            }
        }
    }
}

impl From<eddy_streams::StreamsError> for ApiError {
    fn from(e: eddy_streams::StreamsError) -> Self {
        use eddy_streams::StreamsError as E;
        match e {
            E::Validation { message } => ApiError::new(ErrorKind::Validation, message),
            E::ResourceNotFound { message } => ApiError::new(ErrorKind::ResourceNotFound, message),
            E::ExpiredIterator { message } => ApiError::new(ErrorKind::ExpiredIterator, message),
            E::TrimmedDataAccess { message } => ApiError::new(ErrorKind::TrimmedDataAccess, message),
            E::Store(e) => e.into(),
            other => {
                tracing::error!("internal error: {other}");
                ApiError::new(ErrorKind::InternalServerError, "Internal server error")
            }
        }
    }
}

impl From<eddy_triggers::TriggerError> for ApiError {
    fn from(e: eddy_triggers::TriggerError) -> Self {
        use eddy_triggers::{SandboxError, TriggerError as E};
        match e {
            E::Validation { message } => ApiError::new(ErrorKind::Validation, message),
            E::Module(SandboxError::Config(_) | SandboxError::Cache { .. }) => {
                tracing::error!("trigger sandbox failed: {e}");
                ApiError::new(ErrorKind::InternalServerError, "Internal server error")
            }
            E::Module(refused) => {
                ApiError::new(ErrorKind::Validation, format!("Invalid trigger module: {refused}"))
            }
            E::NotFound { .. } => ApiError::new(ErrorKind::ResourceNotFound, e.to_string()),
            E::TooManyTriggers { .. } => ApiError::new(ErrorKind::LimitExceeded, e.to_string()),
            E::Store(e) => e.into(),
            E::Stopping => ApiError::new(ErrorKind::ServiceUnavailable, e.to_string()),
            other => {
                tracing::error!("internal error: {other}");
                ApiError::new(ErrorKind::InternalServerError, "Internal server error")
            }
        }
    }
}

impl From<eddy_connectors::export::ExportError> for ApiError {
    fn from(e: eddy_connectors::export::ExportError) -> Self {
        use eddy_connectors::export::ExportError as E;
        match e {
            E::Validation { message } => ApiError::new(ErrorKind::Validation, message),
            E::NotFound { .. } => ApiError::new(ErrorKind::ExportNotFound, e.to_string()),
            E::TooManyInProgress { .. } => ApiError::new(ErrorKind::LimitExceeded, e.to_string()),
            E::ClientTokenMismatch => ApiError::new(ErrorKind::ExportConflict, e.to_string()),
            E::Store(e) => e.into(),
            other => {
                tracing::error!("internal error: {other}");
                ApiError::new(ErrorKind::InternalServerError, "Internal server error")
            }
        }
    }
}

impl From<eddy_connectors::ConnectorError> for ApiError {
    fn from(e: eddy_connectors::ConnectorError) -> Self {
        use eddy_connectors::ConnectorError as E;
        match e {
            E::Validation { message } => ApiError::new(ErrorKind::Validation, message),
            E::NotFound { .. } => ApiError::new(ErrorKind::ResourceNotFound, e.to_string()),
            E::TooManyConnectors { .. } => ApiError::new(ErrorKind::LimitExceeded, e.to_string()),
            E::Store(e) => e.into(),
            E::Stopping => ApiError::new(ErrorKind::ServiceUnavailable, e.to_string()),
            other => {
                tracing::error!("internal error: {other}");
                ApiError::new(ErrorKind::InternalServerError, "Internal server error")
            }
        }
    }
}

impl From<eddy_core::expr::ExprError> for ApiError {
    fn from(e: eddy_core::expr::ExprError) -> Self {
        ApiError::validation(e.message().to_string())
    }
}

/// One entry of CancellationReasons: `{"Code": ...}`, with the message and the item when there
/// are any.
fn cancellation_reason(reason: &CancellationReason) -> serde_json::Value {
    let mut entry = serde_json::Map::new();
    entry.insert("Code".into(), reason.code().into());
    if let Some(message) = reason.message() {
        entry.insert("Message".into(), message.into());
    }
    if let CancellationReason::ConditionalCheckFailed { item: Some(item) } = reason
        && let Ok(v) = serde_json::to_value(crate::wire::value::WireItem(item))
    {
        entry.insert("Item".into(), v);
    }
    serde_json::Value::Object(entry)
}
