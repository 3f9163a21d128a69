//! `eddy bench`: a load generator that sends SigV4-signed DynamoDB requests, one keep-alive
//! HTTP/1.1 connection per concurrent task, and reports ops/s and latency percentiles.
//!
//! Each workload runs for `--warmup` then `--duration` seconds; `--workload all` runs put, get,
//! query and mix in turn at the concurrency the project states its targets for.
//!
//! Two change-stream workloads run on their own, each on a table of its own that it recreates:
//! `stream-latency` (acknowledgement of a PutItem to its event on an SSE subscription, writes
//! sent open-loop at `--rate`) and `get-records` (reading `--records` preloaded changes through
//! the DynamoDB Streams API).
//!
//! Two trigger workloads run the same way: `trigger-latency` (acknowledgement of a PutItem to
//! the write-back of a trigger with BatchSize 1, seen on the second table's SSE subscription)
//! and `trigger-throughput` (records/s of triggers draining a backlog of `--records` changes:
//! a no-op module, then the order-totals example module).
//!
//! Two connector workloads measure the records/s of a connector (`Start: trim_horizon`) draining
//! a backlog of `--records` changes into MinIO (`connector-s3`) or OpenSearch
//! (`connector-opensearch`), and with `--server-pid` the server's peak RSS meanwhile. Two more
//! per sink run while writes go on at `--rate`: `connector-*-lag` (acknowledgement of a PutItem
//! to the moment the sink holds it) and `connector-*-slow-sink` (the server's RSS while the sink,
//! behind a bandwidth-limiting proxy, takes records ten times slower than they are written).

mod args;
mod client;
mod connector;
mod connector_lag;
mod connector_poll;
mod connector_setup;
mod connector_slow;
mod credentials;
mod get_records;
mod ini;
mod keys;
mod report;
mod signer;
mod sse;
mod steady;
mod stream_latency;
mod table;
mod throttle;
mod trigger;
mod trigger_throughput;
mod workload;

use std::io::Write as _;
use std::sync::Arc;

pub use args::BenchArgs;

use args::StreamWorkload;

use client::{Client, Endpoint, Target};
use keys::Bodies;
use signer::Signer;
use table::DataSet;

/// Runs the benchmark.
pub fn run(args: BenchArgs) -> anyhow::Result<()> {
    args.validate()?;
    let runtime = tokio::runtime::Builder::new_multi_thread().enable_all().build()?;
    runtime.block_on(run_async(args))
}

async fn run_async(args: BenchArgs) -> anyhow::Result<()> {
    let endpoint = Endpoint::parse(&args.endpoint)?;
    let credentials = credentials::resolve()?;
    let region = credentials::region();
    if credentials.source == credentials::Source::Dummy {
        eprintln!(
            "note: no AWS credentials found (environment or shared credentials file); signing with the \
             dummy pair {}/{}",
            credentials::DUMMY_ACCESS_KEY_ID,
            credentials::DUMMY_SECRET_ACCESS_KEY
        );
    }
    eprintln!(
        "eddy bench: {} table {} region {} credentials from {}",
        endpoint.url(),
        args.table,
        region,
        credentials.source
    );
    let target = Arc::new(Target::new(endpoint, Signer::new(&credentials, region)));
    if let Some(workload) = args.stream_workload() {
        return run_stream_workload(&args, workload, &target).await;
    }
    let bodies = Arc::new(Bodies::new(&args.table, args.value_bytes as usize));

    let mut client = Client::new(Arc::clone(&target));
    table::ensure(&mut client, &bodies, &args.table).await?;
    drop(client);

    let workloads = args.workloads();
    if workloads.iter().any(|w| w.needs_items()) {
        table::preload(&target, &bodies, DataSet::Items, args.items, args.value_bytes).await?;
    }
    if workloads.iter().any(|w| w.needs_partitions()) {
        table::preload(&target, &bodies, DataSet::Partitions, args.items, args.value_bytes).await?;
    }

    let mut results = Vec::new();
    for workload in workloads {
        let plan = workload::Plan {
            workload,
            concurrency: args.concurrency_for(workload),
            warmup: args.warmup(),
            duration: args.duration(),
            items: args.items,
        };
        results.extend(workload::run(&plan, &target, &bodies).await?);
    }

    let table = report::table(&results);
    if args.json {
        eprint!("{table}");
        let mut stdout = std::io::stdout().lock();
        stdout.write_all(report::json_lines(&results).as_bytes())?;
        stdout.flush()?;
    } else {
        print!("{table}");
    }
    Ok(())
}

async fn run_stream_workload(
    args: &BenchArgs,
    workload: StreamWorkload,
    target: &Arc<Target>,
) -> anyhow::Result<()> {
    let table = format!("{}{}", args.table, workload.table_suffix());
    let report = match workload {
        StreamWorkload::Latency | StreamWorkload::TriggerLatency => {
            let via = if workload == StreamWorkload::TriggerLatency {
                stream_latency::Via::Trigger {
                    trigger: trigger::name_for(&args.table, workload.table_suffix()),
                    sink: format!("{table}-sink"),
                }
            } else {
                stream_latency::Via::Stream
            };
            let plan = stream_latency::Plan {
                table,
                rate: args.rate_for(workload),
                concurrency: args.stream_concurrency(),
                warmup: args.warmup(),
                duration: args.duration(),
                value_bytes: args.value_bytes,
                via,
            };
            stream_latency::run(&plan, target).await?
        }
        StreamWorkload::GetRecords => {
            let plan = get_records::Plan {
                table,
                records: args.records_for(workload),
                concurrency: args.stream_concurrency(),
                value_bytes: args.value_bytes,
            };
            get_records::run(&plan, target).await?
        }
        StreamWorkload::TriggerThroughput => {
            let plan = trigger_throughput::Plan {
                table: args.table.clone(),
                records: args.records_for(workload),
                concurrency: args.stream_concurrency(),
                value_bytes: args.value_bytes,
            };
            trigger_throughput::run(&plan, target).await?
        }
        StreamWorkload::ConnectorS3 | StreamWorkload::ConnectorOpenSearch => {
            let plan = connector::Plan {
                table,
                sink: connector_sink(workload),
                records: args.records_for(workload),
                concurrency: args.stream_concurrency(),
                value_bytes: args.value_bytes,
                server_pid: args.server_pid,
            };
            connector::run(&plan, target).await?
        }
        StreamWorkload::ConnectorS3Lag | StreamWorkload::ConnectorOpenSearchLag => {
            let plan = connector_lag::Plan {
                table,
                sink: connector_sink(workload),
                schedule: steady_schedule(args, workload),
                concurrency: args.stream_concurrency(),
                value_bytes: args.value_bytes,
                flush_millis: args.flush_interval_millis,
                server_pid: args.server_pid,
            };
            connector_lag::run(&plan, target).await?
        }
        StreamWorkload::ConnectorS3SlowSink | StreamWorkload::ConnectorOpenSearchSlowSink => {
            let Some(server_pid) = args.server_pid else {
                anyhow::bail!(
                    "{} samples the server's memory: give its pid with --server-pid (e.g. `pgrep -n eddy`)",
                    workload.name()
                );
            };
            let plan = connector_slow::Plan {
                table,
                sink: connector_sink(workload),
                schedule: steady_schedule(args, workload),
                concurrency: args.stream_concurrency(),
                value_bytes: args.value_bytes,
                flush_millis: args.flush_interval_millis,
                server_pid,
                slowdown: args.sink_slowdown,
            };
            connector_slow::run(&plan, target).await?
        }
    };
    let text = format!("{}{}", report::table(&report.rows), report.notes);
    if args.json {
        eprint!("{text}");
        let mut stdout = std::io::stdout().lock();
        stdout.write_all(report::json_lines(&report.rows).as_bytes())?;
        writeln!(stdout, "{}", report.summary)?;
        stdout.flush()?;
    } else {
        print!("{text}");
    }
    match report.failure {
        Some(failure) => anyhow::bail!("{}: {failure}", workload.name()),
        None => Ok(()),
    }
}

/// The sink a connector workload exports to.
fn connector_sink(workload: StreamWorkload) -> connector_setup::Sink {
    match workload {
        StreamWorkload::ConnectorS3
        | StreamWorkload::ConnectorS3Lag
        | StreamWorkload::ConnectorS3SlowSink => connector_setup::Sink::S3,
        _ => connector_setup::Sink::OpenSearch,
    }
}

/// The open-loop write schedule of a steady-rate workload.
fn steady_schedule(args: &BenchArgs, workload: StreamWorkload) -> steady::Schedule {
    steady::Schedule { rate: args.rate_for(workload), warmup: args.warmup(), duration: args.duration() }
}
