//! Runs one workload: C tasks, each on its own connection, send requests back to back for the
//! warmup and then the measured duration, recording each operation's latency in microseconds.

use std::io::Write as _;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::{Duration, Instant, SystemTime};

use hdrhistogram::Histogram;

use super::args::Workload;
use super::client::{Client, Operation, Target};
use super::keys::{Bodies, PARTITION_ITEMS, Rng, has_item, query_count};
use super::report::OpResult;

/// Latencies above this (an hour, in µs) are recorded as this.
const LATENCY_MAX_US: u64 = 3_600_000_000;
/// Significant figures of the histograms: 0.1% precision.
const LATENCY_SIGFIG: u8 = 3;

/// How one workload is run.
#[derive(Debug, Clone)]
pub struct Plan {
    pub workload: Workload,
    pub concurrency: usize,
    pub warmup: Duration,
    pub duration: Duration,
    /// Items in the preloaded data sets.
    pub items: u64,
}

impl Workload {
    /// The operations the workload sends, in the order of its report rows.
    fn operations(self) -> &'static [Operation] {
        match self {
            Workload::Put => &[Operation::PutItem],
            Workload::Get => &[Operation::GetItem],
            Workload::Query => &[Operation::Query],
            Workload::Mix => &[Operation::PutItem, Operation::GetItem],
        }
    }
}

/// Counters the progress line reads while tasks run.
#[derive(Debug, Default)]
struct Progress {
    /// Successes during the warmup.
    warmup_ok: AtomicU64,
    /// Successes and failures of requests sent after the warmup.
    ok: AtomicU64,
    errors: AtomicU64,
    /// Set once the first failure has been printed.
    error_printed: AtomicBool,
}

/// What one task measured: a histogram and an error count per operation.
struct TaskTotals {
    latencies: Vec<Histogram<u64>>,
    errors: Vec<u64>,
}

/// Runs `plan` and returns one result per operation of the workload.
pub async fn run(plan: &Plan, target: &Arc<Target>, bodies: &Arc<Bodies>) -> anyhow::Result<Vec<OpResult>> {
    let name = plan.workload.name();
    // Connect every task before the clock starts so connection setup is not measured.
    let mut clients = Vec::with_capacity(plan.concurrency);
    for _ in 0..plan.concurrency {
        let mut client = Client::new(Arc::clone(target));
        client.connect().await?;
        clients.push(client);
    }

    let progress = Arc::new(Progress::default());
    let start = Instant::now();
    let measure_from = start + plan.warmup;
    let end = measure_from + plan.duration;
    let seed =
        SystemTime::now().duration_since(SystemTime::UNIX_EPOCH).map(|d| d.as_nanos() as u64).unwrap_or(1);

    let mut tasks = tokio::task::JoinSet::new();
    for (index, client) in clients.into_iter().enumerate() {
        let task = Task {
            client,
            workload: plan.workload,
            bodies: Arc::clone(bodies),
            progress: Arc::clone(&progress),
            rng: Rng::new(seed ^ (index as u64).wrapping_mul(0x9E37_79B9_7F4A_7C15)),
            items: plan.items,
            partitions: (plan.items / PARTITION_ITEMS).max(1),
        };
        tasks.spawn(task.run(measure_from, end));
    }

    let ticker =
        tokio::spawn(print_progress(name, plan.concurrency, Arc::clone(&progress), start, measure_from, end));
    let operations = plan.workload.operations();
    let mut latencies = Vec::with_capacity(operations.len());
    for _ in operations {
        latencies.push(new_histogram()?);
    }
    let mut errors = vec![0_u64; operations.len()];
    while let Some(joined) = tasks.join_next().await {
        let totals = joined??;
        for (sum, part) in latencies.iter_mut().zip(&totals.latencies) {
            sum.add(part)?;
        }
        for (sum, part) in errors.iter_mut().zip(&totals.errors) {
            *sum += part;
        }
    }
    ticker.abort();

    Ok(operations
        .iter()
        .zip(latencies)
        .zip(errors)
        .map(|((operation, latency), errors)| OpResult {
            workload: name,
            operation: operation.name(),
            concurrency: plan.concurrency,
            duration: plan.duration,
            ops: latency.len(),
            errors,
            latency,
        })
        .collect())
}

fn new_histogram() -> anyhow::Result<Histogram<u64>> {
    Ok(Histogram::new_with_bounds(1, LATENCY_MAX_US, LATENCY_SIGFIG)?)
}

struct Task {
    client: Client,
    workload: Workload,
    bodies: Arc<Bodies>,
    progress: Arc<Progress>,
    rng: Rng,
    items: u64,
    partitions: u64,
}

impl Task {
    async fn run(mut self, measure_from: Instant, end: Instant) -> anyhow::Result<TaskTotals> {
        let operations = self.workload.operations();
        let mut latencies = Vec::with_capacity(operations.len());
        for _ in operations {
            latencies.push(new_histogram()?);
        }
        let mut errors = vec![0_u64; operations.len()];
        loop {
            let sent = Instant::now();
            if sent >= end {
                break;
            }
            let slot = match self.workload {
                Workload::Mix => (self.rng.next() & 1) as usize,
                _ => 0,
            };
            let operation = operations[slot];
            let outcome = self.send(operation).await;
            let elapsed = sent.elapsed();
            let measured = sent >= measure_from;
            match outcome {
                Ok(()) if measured => {
                    self.progress.ok.fetch_add(1, Ordering::Relaxed);
                    latencies[slot].saturating_record((elapsed.as_micros() as u64).max(1));
                }
                Ok(()) => {
                    self.progress.warmup_ok.fetch_add(1, Ordering::Relaxed);
                }
                Err(error) => {
                    if measured {
                        self.progress.errors.fetch_add(1, Ordering::Relaxed);
                        errors[slot] += 1;
                    }
                    if !self.progress.error_printed.swap(true, Ordering::Relaxed) {
                        eprintln!("{} {}: first error: {error:#}", self.workload.name(), operation.name());
                    }
                    // A server that refuses connections would otherwise be hammered in a loop.
                    if !self.client.is_connected() {
                        tokio::time::sleep(Duration::from_millis(50)).await;
                    }
                }
            }
        }
        Ok(TaskTotals { latencies, errors })
    }

    /// Sends one request and checks its answer: a non-2xx status, a GetItem without an item and a
    /// Query that does not read a whole partition are errors.
    async fn send(&mut self, operation: Operation) -> anyhow::Result<()> {
        let body = match (self.workload, operation) {
            (Workload::Put, _) => self.bodies.put_new(self.rng.next()),
            (_, Operation::PutItem) => self.bodies.put_item(self.rng.below(self.items)),
            (_, Operation::Query) => self.bodies.query_partition(self.rng.below(self.partitions)),
            _ => self.bodies.get_item(self.rng.below(self.items)),
        };
        let reply = self.client.call(operation, body).await?;
        if !reply.is_success() {
            anyhow::bail!("HTTP {}: {}", reply.status, reply.body_text());
        }
        match operation {
            Operation::GetItem if !has_item(&reply.body) => {
                anyhow::bail!("GetItem found no item (is the data set loaded?): {}", reply.body_text())
            }
            Operation::Query if query_count(&reply.body) != Some(PARTITION_ITEMS) => {
                anyhow::bail!("Query did not return {PARTITION_ITEMS} items: {}", reply.body_text())
            }
            _ => Ok(()),
        }
    }
}

/// Prints one line a second on stderr: the phase, and ops/s over the phase so far.
async fn print_progress(
    name: &'static str,
    concurrency: usize,
    progress: Arc<Progress>,
    start: Instant,
    measure_from: Instant,
    end: Instant,
) {
    let second = Duration::from_secs(1);
    let mut ticks = tokio::time::interval_at(tokio::time::Instant::from_std(start) + second, second);
    loop {
        let now = ticks.tick().await.into_std();
        if now > end {
            return;
        }
        let line = if now <= measure_from {
            let secs = now.duration_since(start).as_secs_f64();
            let ok = progress.warmup_ok.load(Ordering::Relaxed);
            format!(
                "{name:<6} c={concurrency:<4} warmup {secs:>3.0}/{} s  {:>9.0} ops/s",
                measure_from.duration_since(start).as_secs(),
                ok as f64 / secs.max(1e-9)
            )
        } else {
            let secs = now.duration_since(measure_from).as_secs_f64();
            let ok = progress.ok.load(Ordering::Relaxed);
            let errors = progress.errors.load(Ordering::Relaxed);
            format!(
                "{name:<6} c={concurrency:<4} {secs:>3.0}/{} s  {:>9.0} ops/s so far  {errors} errors",
                end.duration_since(measure_from).as_secs(),
                ok as f64 / secs.max(1e-9),
            )
        };
        let mut stderr = std::io::stderr().lock();
        let _ = writeln!(stderr, "{line}");
    }
}
