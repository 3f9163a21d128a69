//! Command-line options of `eddy bench` and the workloads they name.

use std::time::Duration;

/// Options of `eddy bench`.
#[derive(Debug, Clone, clap::Args)]
#[command(after_help = "\
Credentials are found as the AWS CLI finds them: AWS_ACCESS_KEY_ID, AWS_SECRET_ACCESS_KEY and \
AWS_SESSION_TOKEN, else the profile AWS_PROFILE (or `default`) of AWS_SHARED_CREDENTIALS_FILE \
(or ~/.aws/credentials), else the dummy pair eddy/eddy. The region is AWS_REGION or \
AWS_DEFAULT_REGION, else us-east-1.")]
pub struct BenchArgs {
    /// Server to load (plain HTTP); the path, if any, prefixes every request.
    #[arg(long, env = "EDDY_ENDPOINT", default_value = "http://127.0.0.1:8000")]
    pub endpoint: String,

    /// Table to use; created (pk S hash key, sk S range key, on demand) when missing.
    #[arg(long, default_value = "eddy-bench")]
    pub table: String,

    /// Workload to run; `all` runs put, get, query and mix in turn (not the change-stream and
    /// trigger workloads, which run on tables of their own, recreated on each run:
    /// `<table>-stream-latency`, `<table>-get-records`, `<table>-trigger-latency` and its `-sink`,
    /// `<table>-trigger-throughput`, `<table>-orders`, `<table>-connector-s3`,
    /// `<table>-connector-opensearch` and the same with `-lag` and `-slow-sink`).
    #[arg(long, value_enum, default_value_t = WorkloadArg::All)]
    pub workload: WorkloadArg,

    /// Concurrent requests, one connection each [default: put 64, get 16, query 16, mix 32,
    /// stream-latency and trigger-latency 32 writers, get-records and trigger-throughput 32
    /// preload connections].
    #[arg(long, value_parser = clap::value_parser!(u32).range(1..=4096))]
    pub concurrency: Option<u32>,

    /// Measured seconds per workload.
    #[arg(long, default_value_t = 10, value_parser = clap::value_parser!(u64).range(1..=86_400))]
    pub duration: u64,

    /// Items preloaded for get and mix; query preloads the same count as partitions of 10 items.
    #[arg(long, default_value_t = 10_000, value_parser = clap::value_parser!(u64).range(10..=100_000_000))]
    pub items: u64,

    /// Bytes of the value attribute `v` in each item.
    #[arg(long, default_value_t = 100, value_parser = clap::value_parser!(u64).range(0..=350_000))]
    pub value_bytes: u64,

    /// Seconds of load before measuring starts, for each workload.
    #[arg(long, default_value_t = 2, value_parser = clap::value_parser!(u64).range(0..=3_600))]
    pub warmup: u64,

    /// stream-latency, trigger-latency, connector-*-lag, connector-*-slow-sink: PutItem per second,
    /// each sent at its scheduled time (open loop) [default: stream-latency 1000, the others
    /// 10000].
    #[arg(long, value_parser = clap::value_parser!(u64).range(1..=1_000_000))]
    pub rate: Option<u64>,

    /// get-records, trigger-throughput, connector-s3, connector-opensearch: change records
    /// preloaded (BatchWriteItem of 25 puts) and then read back, drained through a trigger or
    /// exported by a connector [default: get-records 200000, the others 1000000].
    #[arg(long, value_parser = clap::value_parser!(u64).range(1..=100_000_000))]
    pub records: Option<u64>,

    /// connector-*: the pid of the server, whose memory is read from /proc/<pid>/status: peak RSS
    /// during a drain, RSS once a second during the lag and slow-sink runs (required by
    /// connector-*-slow-sink, which also reads the size of its eddy.redb through /proc/<pid>/fd).
    #[arg(long)]
    pub server_pid: Option<u32>,

    /// connector-*-lag, connector-*-slow-sink: `Batch.FlushIntervalMillis` of the connector, how
    /// long a batch that is not full waits for more records (the drains use 0).
    #[arg(long, default_value_t = 0, value_parser = clap::value_parser!(u64).range(0..=900_000))]
    pub flush_interval_millis: u64,

    /// connector-*-slow-sink: how many times slower than `--rate` the sink takes records after the
    /// warmup; 0 leaves the proxy open, for a run to compare with.
    #[arg(long, default_value_t = SINK_SLOWDOWN, value_parser = clap::value_parser!(u64).range(0..=1_000))]
    pub sink_slowdown: u64,

    /// Print the final figures as JSON lines on stdout (the table then goes to stderr).
    #[arg(long)]
    pub json: bool,
}

impl BenchArgs {
    /// Measured time per workload.
    pub fn duration(&self) -> Duration {
        Duration::from_secs(self.duration)
    }

    /// Warmup time per workload.
    pub fn warmup(&self) -> Duration {
        Duration::from_secs(self.warmup)
    }

    /// The item workloads to run, in order (none for a change-stream workload).
    pub fn workloads(&self) -> Vec<Workload> {
        match self.workload {
            WorkloadArg::StreamLatency
            | WorkloadArg::GetRecords
            | WorkloadArg::TriggerLatency
            | WorkloadArg::TriggerThroughput
            | WorkloadArg::ConnectorS3
            | WorkloadArg::ConnectorOpensearch
            | WorkloadArg::ConnectorS3Lag
            | WorkloadArg::ConnectorOpensearchLag
            | WorkloadArg::ConnectorS3SlowSink
            | WorkloadArg::ConnectorOpensearchSlowSink => Vec::new(),
            WorkloadArg::Put => vec![Workload::Put],
            WorkloadArg::Get => vec![Workload::Get],
            WorkloadArg::Query => vec![Workload::Query],
            WorkloadArg::Mix => vec![Workload::Mix],
            WorkloadArg::All => vec![Workload::Put, Workload::Get, Workload::Query, Workload::Mix],
        }
    }

    /// The change-stream workload to run, if one was asked for.
    pub fn stream_workload(&self) -> Option<StreamWorkload> {
        match self.workload {
            WorkloadArg::StreamLatency => Some(StreamWorkload::Latency),
            WorkloadArg::GetRecords => Some(StreamWorkload::GetRecords),
            WorkloadArg::TriggerLatency => Some(StreamWorkload::TriggerLatency),
            WorkloadArg::TriggerThroughput => Some(StreamWorkload::TriggerThroughput),
            WorkloadArg::ConnectorS3 => Some(StreamWorkload::ConnectorS3),
            WorkloadArg::ConnectorOpensearch => Some(StreamWorkload::ConnectorOpenSearch),
            WorkloadArg::ConnectorS3Lag => Some(StreamWorkload::ConnectorS3Lag),
            WorkloadArg::ConnectorOpensearchLag => Some(StreamWorkload::ConnectorOpenSearchLag),
            WorkloadArg::ConnectorS3SlowSink => Some(StreamWorkload::ConnectorS3SlowSink),
            WorkloadArg::ConnectorOpensearchSlowSink => Some(StreamWorkload::ConnectorOpenSearchSlowSink),
            _ => None,
        }
    }

    /// Writes per second of a latency workload: the override if given, else the workload's own.
    pub fn rate_for(&self, workload: StreamWorkload) -> u64 {
        self.rate.unwrap_or(match workload {
            StreamWorkload::TriggerLatency => TRIGGER_LATENCY_RATE,
            StreamWorkload::ConnectorS3Lag
            | StreamWorkload::ConnectorOpenSearchLag
            | StreamWorkload::ConnectorS3SlowSink
            | StreamWorkload::ConnectorOpenSearchSlowSink => CONNECTOR_RATE,
            _ => STREAM_LATENCY_RATE,
        })
    }

    /// Records preloaded by a throughput workload: the override if given, else the workload's own.
    pub fn records_for(&self, workload: StreamWorkload) -> u64 {
        self.records.unwrap_or(match workload {
            StreamWorkload::TriggerThroughput => TRIGGER_THROUGHPUT_RECORDS,
            StreamWorkload::ConnectorS3 | StreamWorkload::ConnectorOpenSearch => CONNECTOR_RECORDS,
            _ => GET_RECORDS_RECORDS,
        })
    }

    /// Concurrency of a change-stream workload's writers: the override if given, else 32.
    pub fn stream_concurrency(&self) -> usize {
        self.concurrency.map_or(STREAM_CONCURRENCY, |c| c as usize)
    }

    /// Concurrency for `workload`: the override if given, else the project's target figure.
    pub fn concurrency_for(&self, workload: Workload) -> usize {
        match self.concurrency {
            Some(c) => c as usize,
            None => workload.default_concurrency(),
        }
    }

    /// Checks what clap cannot: the table name follows DynamoDB's rules (so it needs no JSON
    /// escaping in request bodies).
    pub fn validate(&self) -> anyhow::Result<()> {
        let name = &self.table;
        let valid_chars = name.bytes().all(|b| b.is_ascii_alphanumeric() || matches!(b, b'_' | b'-' | b'.'));
        if !(3..=255).contains(&name.len()) || !valid_chars {
            anyhow::bail!(
                "--table {name:?}: a table name has 3 to 255 characters among a-z, A-Z, 0-9, '_', '-', '.'"
            );
        }
        if let Some(workload) = self.stream_workload() {
            for suffix in workload.table_suffixes() {
                if name.len() + suffix.len() > 255 {
                    anyhow::bail!(
                        "--table {name:?}: the {} workload uses the table {name}{suffix}, longer than 255 characters",
                        workload.name(),
                    );
                }
            }
        }
        Ok(())
    }
}

/// The `--workload` values.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum WorkloadArg {
    /// PutItem of new random keys.
    Put,
    /// GetItem of random preloaded items.
    Get,
    /// Query of one random preloaded partition of 10 items.
    Query,
    /// 50% PutItem over the preloaded items, 50% GetItem of them.
    Mix,
    /// put, get, query and mix in turn.
    All,
    /// Latency from a PutItem's acknowledgement to its record on an SSE subscription
    /// (`GET /v1/tables/{table}/stream`), writes sent open-loop at `--rate` per second.
    StreamLatency,
    /// Throughput of reading `--records` preloaded changes through the DynamoDB Streams API
    /// (ListStreams, DescribeStream, GetShardIterator, GetRecords with Limit 1000).
    GetRecords,
    /// Latency from a PutItem's acknowledgement to the write-back of a trigger (BatchSize 1, no
    /// batching window) that copies each record's key into a second table, seen on that table's
    /// SSE subscription; writes sent open-loop at `--rate` per second.
    TriggerLatency,
    /// Records/s of a trigger draining a backlog of `--records` preloaded changes with
    /// BatchSize 1000: a no-op module, then the order-totals example module.
    TriggerThroughput,
    /// Records/s of an S3 connector (`Start: trim_horizon`) draining a backlog of `--records`
    /// preloaded changes into the bucket of EDDY_TEST_S3_ENDPOINT.
    #[value(name = "connector-s3")]
    ConnectorS3,
    /// Docs/s of an OpenSearch connector (`Start: trim_horizon`) draining a backlog of
    /// `--records` preloaded changes into a new index at EDDY_TEST_OPENSEARCH_URL.
    #[value(name = "connector-opensearch")]
    ConnectorOpensearch,
    /// Lag from a PutItem's acknowledgement to its record in the S3 sink (connector from
    /// `latest`, status polled every 10 ms), writes sent open-loop at `--rate` per second.
    #[value(name = "connector-s3-lag")]
    ConnectorS3Lag,
    /// Lag from a PutItem's acknowledgement to its document in OpenSearch, as connector-s3-lag.
    #[value(name = "connector-opensearch-lag")]
    ConnectorOpensearchLag,
    /// The server's RSS once a second while an S3 connector's sink, behind a bandwidth-limiting
    /// proxy, takes records `--sink-slowdown` (10) times slower than `--rate` writes them (needs
    /// `--server-pid`).
    #[value(name = "connector-s3-slow-sink")]
    ConnectorS3SlowSink,
    /// As connector-s3-slow-sink, with OpenSearch behind the proxy.
    #[value(name = "connector-opensearch-slow-sink")]
    ConnectorOpensearchSlowSink,
}

/// Writers of the latency workloads and preload connections of the throughput workloads unless
/// `--concurrency`.
pub const STREAM_CONCURRENCY: usize = 32;
/// `--rate` of stream-latency unless given.
pub const STREAM_LATENCY_RATE: u64 = 1000;
/// `--rate` of trigger-latency unless given: the rate its target is stated at.
pub const TRIGGER_LATENCY_RATE: u64 = 10_000;
/// `--records` of get-records unless given.
pub const GET_RECORDS_RECORDS: u64 = 200_000;
/// `--records` of trigger-throughput unless given.
pub const TRIGGER_THROUGHPUT_RECORDS: u64 = 1_000_000;
/// `--records` of the connector workloads unless given.
pub const CONNECTOR_RECORDS: u64 = 1_000_000;
/// `--rate` of the connector lag and slow-sink workloads unless given.
pub const CONNECTOR_RATE: u64 = 10_000;
/// `--sink-slowdown` unless given.
pub const SINK_SLOWDOWN: u64 = 10;

/// A change-stream workload: it prepares its own table and prints its own figures.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum StreamWorkload {
    Latency,
    GetRecords,
    TriggerLatency,
    TriggerThroughput,
    ConnectorS3,
    ConnectorOpenSearch,
    ConnectorS3Lag,
    ConnectorOpenSearchLag,
    ConnectorS3SlowSink,
    ConnectorOpenSearchSlowSink,
}

impl StreamWorkload {
    /// The name in the report and the JSON lines.
    pub fn name(self) -> &'static str {
        match self {
            StreamWorkload::Latency => "stream-latency",
            StreamWorkload::GetRecords => "get-records",
            StreamWorkload::TriggerLatency => "trigger-latency",
            StreamWorkload::TriggerThroughput => "trigger-throughput",
            StreamWorkload::ConnectorS3 => "connector-s3",
            StreamWorkload::ConnectorOpenSearch => "connector-opensearch",
            StreamWorkload::ConnectorS3Lag => "connector-s3-lag",
            StreamWorkload::ConnectorOpenSearchLag => "connector-opensearch-lag",
            StreamWorkload::ConnectorS3SlowSink => "connector-s3-slow-sink",
            StreamWorkload::ConnectorOpenSearchSlowSink => "connector-opensearch-slow-sink",
        }
    }

    /// Appended to `--table` to name the workload's own table (its source table, for the trigger
    /// workloads).
    pub fn table_suffix(self) -> &'static str {
        match self {
            StreamWorkload::Latency => "-stream-latency",
            StreamWorkload::GetRecords => "-get-records",
            StreamWorkload::TriggerLatency => "-trigger-latency",
            StreamWorkload::TriggerThroughput => "-trigger-throughput",
            StreamWorkload::ConnectorS3 => "-connector-s3",
            StreamWorkload::ConnectorOpenSearch => "-connector-opensearch",
            StreamWorkload::ConnectorS3Lag => "-connector-s3-lag",
            StreamWorkload::ConnectorOpenSearchLag => "-connector-opensearch-lag",
            StreamWorkload::ConnectorS3SlowSink => "-connector-s3-slow-sink",
            StreamWorkload::ConnectorOpenSearchSlowSink => "-connector-opensearch-slow-sink",
        }
    }

    /// Suffixes of all the tables the workload creates under `--table`.
    pub fn table_suffixes(self) -> &'static [&'static str] {
        match self {
            StreamWorkload::Latency => &["-stream-latency"],
            StreamWorkload::GetRecords => &["-get-records"],
            StreamWorkload::TriggerLatency => &["-trigger-latency", "-trigger-latency-sink"],
            StreamWorkload::TriggerThroughput => &["-trigger-throughput", "-orders"],
            StreamWorkload::ConnectorS3 => &["-connector-s3"],
            StreamWorkload::ConnectorOpenSearch => &["-connector-opensearch"],
            StreamWorkload::ConnectorS3Lag => &["-connector-s3-lag"],
            StreamWorkload::ConnectorOpenSearchLag => &["-connector-opensearch-lag"],
            StreamWorkload::ConnectorS3SlowSink => &["-connector-s3-slow-sink"],
            StreamWorkload::ConnectorOpenSearchSlowSink => &["-connector-opensearch-slow-sink"],
        }
    }
}

/// One workload that runs on its own and gets its own rows in the report.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Workload {
    Put,
    Get,
    Query,
    Mix,
}

impl Workload {
    /// The name in the report and the JSON lines.
    pub fn name(self) -> &'static str {
        match self {
            Workload::Put => "put",
            Workload::Get => "get",
            Workload::Query => "query",
            Workload::Mix => "mix",
        }
    }

    /// The concurrency at which the project states its targets for this workload.
    pub fn default_concurrency(self) -> usize {
        match self {
            Workload::Put => 64,
            Workload::Get => 16,
            Workload::Query => 16,
            Workload::Mix => 32,
        }
    }

    /// Whether the workload reads the preloaded single items.
    pub fn needs_items(self) -> bool {
        matches!(self, Workload::Get | Workload::Mix)
    }

    /// Whether the workload reads the preloaded partitions.
    pub fn needs_partitions(self) -> bool {
        matches!(self, Workload::Query)
    }
}
