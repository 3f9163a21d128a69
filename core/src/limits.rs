//! Every bound the table store enforces, named with its unit and the DynamoDB figure it mirrors.

use std::time::Duration;

/// The table store's limits. `Limits::default()` gives DynamoDB's figures.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Limits {
    /// Largest item, names and values counted as DynamoDB does (DynamoDB: 400 KB).
    pub item_bytes_max: usize,
    /// Largest partition key value (DynamoDB: 2048 bytes).
    pub partition_key_bytes_max: usize,
    /// Largest sort key value (DynamoDB: 1024 bytes).
    pub sort_key_bytes_max: usize,
    /// Deepest nesting of maps and lists in an item (DynamoDB: 32).
    pub nesting_depth_max: usize,
    /// Longest expression string (DynamoDB: 4 KB).
    pub expression_bytes_max: usize,
    /// Longest attribute name in an item (DynamoDB: 64 KB).
    pub attribute_name_bytes_max: usize,
    /// Most data one Query or Scan page reads (DynamoDB: 1 MB).
    pub page_bytes_max: usize,
    /// Most keys in one BatchGetItem (DynamoDB: 100).
    pub batch_get_keys_max: usize,
    /// Most item data one BatchGetItem returns; the rest come back as UnprocessedKeys
    /// (DynamoDB: 16 MB).
    pub batch_get_response_bytes_max: usize,
    /// Most requests in one BatchWriteItem (DynamoDB: 25).
    pub batch_write_requests_max: usize,
    /// Most actions in one TransactWriteItems or TransactGetItems (DynamoDB: 100).
    pub transact_actions_max: usize,
    /// Largest aggregate size of the items and keys in one transaction (DynamoDB: 4 MB).
    pub transact_request_bytes_max: usize,
    /// How long a transaction's ClientRequestToken makes retries of it idempotent
    /// (DynamoDB: 10 minutes).
    pub idempotency_window: Duration,
    /// Most expired idempotency tokens one transaction removes, so trimming never makes a
    /// commit long.
    pub idempotency_trim_tokens_max: usize,
    /// Most requests the writer folds into one commit (one fsync).
    pub commit_batch_requests_max: usize,
    /// Most write requests queued for the writer before callers wait.
    pub write_queue_requests_max: usize,
    /// Largest item collection (a partition's items plus their local index entries) of a table
    /// with local secondary indexes (DynamoDB: 10 GB).
    pub item_collection_bytes_max: u64,
    /// How long change records are kept by default (DynamoDB Streams: 24 hours; Eddy lets a
    /// table keep them longer).
    pub retention: Duration,
    /// How long a shard of the DynamoDB Streams API view stays open before a new one starts
    /// (DynamoDB rolls shards over every few hours).
    pub shard_period: Duration,
    /// Most expired change records one trim step removes (one step runs inside one writer
    /// batch, so writers never wait for a long trim).
    pub trim_step_records_max: usize,
    /// Most tables (DynamoDB default quota: 2500 per region).
    pub tables_max: usize,
    /// Most read capacity units all tables of the account may provision together, as
    /// DescribeLimits reports (DynamoDB default quota: 80,000). Eddy does not throttle; clients
    /// that size their tables from DescribeLimits get DynamoDB's figures.
    pub account_read_capacity_units_max: u64,
    /// Most write capacity units all tables may provision together (DynamoDB default: 80,000).
    pub account_write_capacity_units_max: u64,
    /// Most read capacity units one table or index may provision (DynamoDB default: 40,000).
    pub table_read_capacity_units_max: u64,
    /// Most write capacity units one table or index may provision (DynamoDB default: 40,000).
    pub table_write_capacity_units_max: u64,
    /// Longest time a write request may wait for its commit before it fails.
    pub write_timeout: Duration,
}

impl Default for Limits {
    fn default() -> Self {
        Limits {
            item_bytes_max: 400 * 1024,
            partition_key_bytes_max: 2048,
            sort_key_bytes_max: 1024,
            nesting_depth_max: 32,
            expression_bytes_max: 4096,
            attribute_name_bytes_max: 65535,
            page_bytes_max: 1024 * 1024,
            batch_get_keys_max: 100,
            batch_get_response_bytes_max: 16 * 1024 * 1024,
            batch_write_requests_max: 25,
            transact_actions_max: 100,
            transact_request_bytes_max: 4 * 1024 * 1024,
            idempotency_window: Duration::from_secs(10 * 60),
            idempotency_trim_tokens_max: 64,
            commit_batch_requests_max: 1024,
            write_queue_requests_max: 8192,
            item_collection_bytes_max: 10 * 1024 * 1024 * 1024,
            retention: Duration::from_secs(24 * 3600),
            shard_period: Duration::from_secs(4 * 3600),
            trim_step_records_max: 1000,
            tables_max: 2500,
            account_read_capacity_units_max: 80_000,
            account_write_capacity_units_max: 80_000,
            table_read_capacity_units_max: 40_000,
            table_write_capacity_units_max: 40_000,
            write_timeout: Duration::from_secs(30),
        }
    }
}
