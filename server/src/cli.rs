//! The `eddy` command line: `eddy serve` runs the server, client subcommands talk to one.

use std::path::PathBuf;
use std::process::ExitCode;

use clap::{Parser, Subcommand};

use crate::config::{self, FileConfig};

/// Eddy: a DynamoDB-compatible table store whose change streams are first-class.
///
/// `eddy serve` runs the server; the AWS CLI, boto3 and the AWS SDKs talk to it unchanged
/// (for example `aws dynamodb list-tables --endpoint-url http://127.0.0.1:8000`).
#[derive(Debug, Parser)]
#[command(name = "eddy", version, about, long_about)]
pub struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Run the server: the DynamoDB API on 127.0.0.1:8000, data in ./eddy-data.
    Serve(ServeArgs),
    /// Load-test a running server and print ops/s and latency percentiles.
    Bench(crate::bench::BenchArgs),
    /// Print a table's changes live, one line per change (`--json`: DynamoDB Streams JSON).
    Tail(crate::tail::TailArgs),
    /// Manage wasm triggers on a running server: deploy, list, status, logs, rm.
    Trigger(crate::trigger_cli::TriggerArgs),
    /// Manage connectors on a running server: create, list, status, pause, resume, restart, rm.
    Connector(crate::connector_cli::ConnectorArgs),
}

#[derive(Debug, clap::Args)]
struct ServeArgs {
    /// Address and port to listen on [default: 127.0.0.1:8000].
    #[arg(long, value_name = "ADDR:PORT")]
    listen: Option<String>,
    /// Directory holding the database (created if missing) [default: ./eddy-data].
    #[arg(long, value_name = "DIR")]
    data_dir: Option<PathBuf>,
    /// Region shown in ARNs [default: us-east-1].
    #[arg(long, value_name = "REGION")]
    region: Option<String>,
    /// Account id shown in ARNs [default: 000000000000].
    #[arg(long, value_name = "ID")]
    account_id: Option<String>,
    /// How long change records are kept, in hours [default: 24; at most 2160].
    #[arg(long, value_name = "HOURS")]
    retention_hours: Option<u64>,
    /// How long a DynamoDB Streams shard stays open before the next begins [default: 14400].
    #[arg(long, value_name = "SECS")]
    shard_period_secs: Option<u64>,
    /// Serve POST /v1/dev/clock to move the server's clock forward (for tests; never in
    /// production).
    #[arg(long)]
    dev_clock: bool,
    /// TOML file whose keys mirror these flags (listen, data-dir, region, account-id,
    /// retention-hours, shard-period-secs, dev-clock); flags win over the file.
    #[arg(long, value_name = "FILE")]
    config: Option<PathBuf>,
}

/// Runs the CLI with the process arguments.
pub fn main() -> ExitCode {
    let cli = Cli::parse();
    init_logging();
    let result = match cli.command {
        Command::Serve(args) => serve(args),
        Command::Bench(args) => crate::bench::run(args),
        Command::Tail(args) => crate::tail::run(args),
        Command::Trigger(args) => crate::trigger_cli::run(args),
        Command::Connector(args) => crate::connector_cli::run(args),
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(error) => {
            eprintln!("eddy: {error:#}");
            ExitCode::FAILURE
        }
    }
}

fn serve(args: ServeArgs) -> anyhow::Result<()> {
    let file = match &args.config {
        Some(path) => FileConfig::load(path)?,
        None => FileConfig::default(),
    };
    let flags = FileConfig {
        listen: args.listen,
        data_dir: args.data_dir,
        region: args.region,
        account_id: args.account_id,
        retention_hours: args.retention_hours,
        shard_period_secs: args.shard_period_secs,
        dev_clock: args.dev_clock.then_some(true),
    };
    let config = config::resolve(flags, file)?;
    let runtime = tokio::runtime::Builder::new_multi_thread().enable_all().build()?;
    runtime.block_on(crate::serve::serve(config))
}

fn init_logging() {
    let filter = tracing_subscriber::EnvFilter::try_from_env("EDDY_LOG")
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("warn"));
    let _ = tracing_subscriber::fmt().with_env_filter(filter).with_writer(std::io::stderr).try_init();
}
