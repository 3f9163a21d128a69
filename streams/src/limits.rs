//! Every bound of the read side, named with its unit and the DynamoDB Streams figure it mirrors.

use std::time::Duration;

/// Bounds of the DynamoDB Streams API view.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Limits {
    /// How long a shard iterator stays usable after it was handed out (DynamoDB Streams: 15
    /// minutes).
    pub iterator_lifetime: Duration,
    /// Most records one GetRecords returns, and its default Limit (DynamoDB Streams: 1000).
    pub get_records_records_max: usize,
    /// Most bytes of records (their SizeBytes) one GetRecords returns (DynamoDB Streams: 1 MB).
    pub get_records_bytes_max: usize,
    /// Most streams one ListStreams returns, and its default Limit (DynamoDB Streams: 100).
    pub list_streams_max: usize,
    /// Most shards one DescribeStream returns, and its default Limit (DynamoDB Streams: 100).
    pub describe_stream_shards_max: usize,
}

impl Default for Limits {
    fn default() -> Self {
        Limits {
            iterator_lifetime: Duration::from_secs(15 * 60),
            get_records_records_max: 1000,
            get_records_bytes_max: 1024 * 1024,
            list_streams_max: 100,
            describe_stream_shards_max: 100,
        }
    }
}
