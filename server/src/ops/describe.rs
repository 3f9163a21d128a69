//! DescribeEndpoints and DescribeLimits: what a client asks before it talks to a table.

use serde_json::json;

use super::respond;
use crate::app::AppState;
use crate::error::ApiError;

/// How long a client may cache the endpoint (DynamoDB: 1440 minutes).
const ENDPOINT_CACHE_MINUTES: u64 = 1440;

/// DescribeEndpoints: this server, at the address the client reached it by (its Host header);
/// without one, the regional DynamoDB name the ARNs use.
pub(super) fn describe_endpoints(state: &AppState, host: Option<&str>) -> Result<Vec<u8>, ApiError> {
    let address = match host {
        Some(h) if !h.is_empty() => h.to_string(),
        _ => format!("dynamodb.{}.amazonaws.com", state.identity().region),
    };
    respond(&json!({
        "Endpoints": [{"Address": address, "CachePeriodInMinutes": ENDPOINT_CACHE_MINUTES}]
    }))
}

/// DescribeLimits: the provisioned-throughput bounds in `Limits` (DynamoDB's default quotas).
pub(super) fn describe_limits(state: &AppState) -> Result<Vec<u8>, ApiError> {
    let limits = state.store().limits();
    respond(&json!({
        "AccountMaxReadCapacityUnits": limits.account_read_capacity_units_max,
        "AccountMaxWriteCapacityUnits": limits.account_write_capacity_units_max,
        "TableMaxReadCapacityUnits": limits.table_read_capacity_units_max,
        "TableMaxWriteCapacityUnits": limits.table_write_capacity_units_max,
    }))
}
