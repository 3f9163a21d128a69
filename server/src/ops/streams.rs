//! The DynamoDB Streams API (`X-Amz-Target: DynamoDBStreams_20120810.<Op>`) on the same
//! endpoint as DynamoDB: each handler parses its request and calls `eddy_streams::StreamsApi`,
//! which owns shards, iterators and the record encoding.

use eddy_streams::stream::ArnScope;
use eddy_streams::{Limits, StreamsApi};
use serde_json::Value;

use super::{blocking, parse, respond};
use crate::app::AppState;
use crate::error::{ApiError, ErrorKind};

/// Runs one DynamoDB Streams operation.
pub async fn dispatch(state: &AppState, operation: &str, body: &[u8]) -> Result<Vec<u8>, ApiError> {
    let state = state.clone();
    let out = match operation {
        "ListStreams" => {
            let input = parse(body)?;
            run(state, move |api| api.list_streams(input)).await?
        }
        "DescribeStream" => {
            let input = parse(body)?;
            run(state, move |api| api.describe_stream(input)).await?
        }
        "GetShardIterator" => {
            let input = parse(body)?;
            run(state, move |api| api.get_shard_iterator(input)).await?
        }
        "GetRecords" => {
            let input = parse(body)?;
            run(state, move |api| api.get_records(input)).await?
        }
        _ => return Err(ApiError::new(ErrorKind::UnknownOperation, "")),
    };
    respond(&out)
}

/// Runs an operation on the blocking pool: GetRecords reads up to 1 MB of the changelog, and
/// the others read the catalog and shard list in their own read transactions.
async fn run(
    state: AppState,
    op: impl FnOnce(&StreamsApi<'_, eddy_core::Store>) -> Result<Value, eddy_streams::StreamsError>
    + Send
    + 'static,
) -> Result<Value, ApiError> {
    blocking(move || {
        let identity = state.identity();
        let limits = Limits::default();
        let api = StreamsApi {
            source: state.store(),
            scope: ArnScope { region: &identity.region, account_id: &identity.account_id },
            limits: &limits,
        };
        op(&api).map_err(ApiError::from)
    })
    .await
}
