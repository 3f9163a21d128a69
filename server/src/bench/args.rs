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

    /// Workload to run; `all` runs put, get, query and mix in turn (not the change-stream
    /// workloads, which run on their own table, recreated on each run: `<table>-stream-latency`,
    /// `<table>-get-records`).
    #[arg(long, value_enum, default_value_t = WorkloadArg::All)]
    pub workload: WorkloadArg,

    /// Concurrent requests, one connection each [default: put 64, get 16, query 16, mix 32,
    /// stream-latency 32 writers, get-records 32 preload connections].
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

    /// stream-latency: PutItem per second, each sent at its scheduled time (open loop).
    #[arg(long, default_value_t = 1000, value_parser = clap::value_parser!(u64).range(1..=1_000_000))]
    pub rate: u64,

    /// get-records: change records preloaded (BatchWriteItem of 25 puts) and then read back.
    #[arg(long, default_value_t = 200_000, value_parser = clap::value_parser!(u64).range(1..=100_000_000))]
    pub records: u64,

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
            WorkloadArg::StreamLatency | WorkloadArg::GetRecords => Vec::new(),
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
            _ => None,
        }
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
            let full = name.len() + workload.table_suffix().len();
            if full > 255 {
                anyhow::bail!(
                    "--table {name:?}: the {} workload uses the table {name}{}, longer than 255 characters",
                    workload.name(),
                    workload.table_suffix()
                );
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
}

/// Writers of stream-latency and preload connections of get-records unless `--concurrency`.
pub const STREAM_CONCURRENCY: usize = 32;

/// A change-stream workload: it prepares its own table and prints its own figures.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum StreamWorkload {
    Latency,
    GetRecords,
}

impl StreamWorkload {
    /// The name in the report and the JSON lines.
    pub fn name(self) -> &'static str {
        match self {
            StreamWorkload::Latency => "stream-latency",
            StreamWorkload::GetRecords => "get-records",
        }
    }

    /// Appended to `--table` to name the workload's own table.
    pub fn table_suffix(self) -> &'static str {
        match self {
            StreamWorkload::Latency => "-stream-latency",
            StreamWorkload::GetRecords => "-get-records",
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
