//! PutItem sent open-loop at a steady rate, for the connector workloads that run while writes
//! go on (`connector-*-lag`, `connector-*-slow-sink`). Write `i` is due at `i / rate` seconds
//! after the start; whichever of the connections is free takes it, and a write that goes out
//! late is still due when it was (no coordinated omission). Each write has the unique partition
//! key `<prefix><i>` and its acknowledgement time is kept, so a workload can match writes with
//! what the sink shows later.

use std::io::Write as _;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::{Duration, Instant};

use hdrhistogram::Histogram;

use super::client::{Client, Operation};
use super::keys::Bodies;

/// A write this late for its due time is not sent (the server is far behind the rate).
pub const LATE_SEND_MAX: Duration = Duration::from_secs(30);
/// Most writes in one run: one 8-byte stamp per write is kept.
pub const WRITES_MAX: u64 = 20_000_000;
/// Latencies above an hour (in µs) are recorded as an hour.
pub const LATENCY_MAX_US: u64 = 3_600_000_000;

/// When the writes are due.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Schedule {
    /// Writes per second.
    pub rate: u64,
    /// Writes before this are warmup: sent, not measured.
    pub warmup: Duration,
    /// The measured time after the warmup.
    pub duration: Duration,
}

impl Schedule {
    /// Writes scheduled over the warmup and the measured time.
    pub fn total_writes(&self) -> u64 {
        (u128::from(self.rate) * (self.warmup + self.duration).as_nanos() / 1_000_000_000) as u64
    }

    /// The first write due after the warmup.
    pub fn first_measured(&self) -> u64 {
        (u128::from(self.rate) * self.warmup.as_nanos() / 1_000_000_000) as u64
    }

    /// When write `index` is due, in nanoseconds after the start.
    pub fn due_ns(&self, index: u64) -> u64 {
        (u128::from(index) * 1_000_000_000 / u128::from(self.rate.max(1))) as u64
    }

    /// Refuses a run whose stamps would not fit [`WRITES_MAX`].
    pub fn check(&self, workload: &str) -> anyhow::Result<()> {
        let total = self.total_writes();
        if total > WRITES_MAX {
            anyhow::bail!(
                "{workload}: {} writes/s for {} s is {total} writes; at most {WRITES_MAX} per run",
                self.rate,
                (self.warmup + self.duration).as_secs()
            );
        }
        Ok(())
    }
}

/// A histogram of microseconds from 1 µs to an hour.
pub fn histogram() -> Histogram<u64> {
    // The bounds are constants that hdrhistogram accepts.
    #[allow(clippy::unwrap_used)]
    Histogram::new_with_bounds(1, LATENCY_MAX_US, 3).unwrap()
}

/// What the writers share and leave behind.
pub struct Writes {
    /// Every stamp counts from here.
    pub origin: Instant,
    /// The partition key prefix of this run's writes.
    pub prefix: String,
    pub schedule: Schedule,
    /// Acknowledgement of each write, nanoseconds after `origin` plus one (0: none).
    acks: Box<[AtomicU64]>,
    pub sent: AtomicU64,
    pub acked: AtomicU64,
    pub failed: AtomicU64,
    pub late_unsent: AtomicU64,
    error_printed: AtomicBool,
}

impl Writes {
    /// Room for every write of `schedule`.
    pub fn new(origin: Instant, prefix: String, schedule: Schedule) -> Writes {
        Writes {
            origin,
            prefix,
            schedule,
            acks: (0..schedule.total_writes()).map(|_| AtomicU64::new(0)).collect(),
            sent: AtomicU64::new(0),
            acked: AtomicU64::new(0),
            failed: AtomicU64::new(0),
            late_unsent: AtomicU64::new(0),
            error_printed: AtomicBool::new(false),
        }
    }

    /// Writes in the run.
    pub fn total(&self) -> u64 {
        self.acks.len() as u64
    }

    /// Nanoseconds from the origin to `at`.
    pub fn ns(&self, at: Instant) -> u64 {
        at.saturating_duration_since(self.origin).as_nanos() as u64
    }

    /// The acknowledgement of each write, nanoseconds after the origin.
    pub fn acks(&self) -> Vec<Option<u64>> {
        self.acks.iter().map(|s| s.load(Ordering::Relaxed).checked_sub(1)).collect()
    }
}

/// Sends every write of `writes.schedule` from `start`, one task per client; returns when all
/// are sent and answered. `workload` names the first error printed.
pub async fn run(
    writes: Arc<Writes>,
    bodies: Arc<Bodies>,
    clients: Vec<Client>,
    start: Instant,
    workload: &'static str,
) {
    let next = Arc::new(AtomicU64::new(0));
    let mut tasks = tokio::task::JoinSet::new();
    for client in clients {
        let writer = Writer {
            client,
            bodies: Arc::clone(&bodies),
            writes: Arc::clone(&writes),
            next: Arc::clone(&next),
            start,
            workload,
        };
        tasks.spawn(writer.run());
    }
    while tasks.join_next().await.is_some() {}
}

/// One connection: takes the next due write, waits for its due time, sends it.
struct Writer {
    client: Client,
    bodies: Arc<Bodies>,
    writes: Arc<Writes>,
    next: Arc<AtomicU64>,
    start: Instant,
    workload: &'static str,
}

impl Writer {
    async fn run(mut self) {
        let writes = &*self.writes;
        loop {
            let index = self.next.fetch_add(1, Ordering::Relaxed);
            let Some(slot) = writes.acks.get(index as usize) else { return };
            let due = self.start + Duration::from_nanos(writes.schedule.due_ns(index));
            tokio::time::sleep_until(due.into()).await;
            if due.elapsed() > LATE_SEND_MAX {
                writes.late_unsent.fetch_add(1, Ordering::Relaxed);
                continue;
            }
            let body = self.bodies.put_key(&format!("{}{index}", writes.prefix));
            writes.sent.fetch_add(1, Ordering::Relaxed);
            let error = match self.client.call(Operation::PutItem, body).await {
                Ok(reply) if reply.is_success() => {
                    // Stored plus one: 0 means "none".
                    slot.store(writes.ns(Instant::now()).saturating_add(1), Ordering::Relaxed);
                    writes.acked.fetch_add(1, Ordering::Relaxed);
                    continue;
                }
                Ok(reply) => format!("HTTP {}: {}", reply.status, reply.body_text()),
                Err(error) => format!("{error:#}"),
            };
            writes.failed.fetch_add(1, Ordering::Relaxed);
            if !writes.error_printed.swap(true, Ordering::Relaxed) {
                let _ = writeln!(std::io::stderr().lock(), "{} PutItem: first error: {error}", self.workload);
            }
            // A server that refuses connections would otherwise be hammered in a loop.
            if !self.client.is_connected() {
                tokio::time::sleep(Duration::from_millis(50)).await;
            }
        }
    }
}

/// The achieved rate: acknowledged writes due after the warmup, over the span from the first
/// measured due time (`start_ns` + its due offset) to the last of their acknowledgements, at
/// least the scheduled duration. Answers (writes, span).
pub fn achieved(writes: &Writes, start_ns: u64) -> (u64, Duration) {
    let schedule = writes.schedule;
    let first = schedule.first_measured();
    let due_from = start_ns + schedule.due_ns(first);
    let mut count = 0;
    let mut last = 0;
    for ack in writes.acks().iter().skip(first as usize).flatten() {
        count += 1;
        last = last.max(*ack);
    }
    let span = Duration::from_nanos(last.saturating_sub(due_from)).max(schedule.duration);
    (count, span)
}

/// Due time to acknowledgement of each measured write, µs.
pub fn put_latency(writes: &Writes, start_ns: u64) -> Histogram<u64> {
    let schedule = writes.schedule;
    let mut out = histogram();
    for (index, ack) in writes.acks().into_iter().enumerate().skip(schedule.first_measured() as usize) {
        if let Some(ack) = ack {
            let due = start_ns + schedule.due_ns(index as u64);
            out.saturating_record(ack.saturating_sub(due) / 1000);
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use std::time::{Duration, Instant};

    use super::{Schedule, Writes, achieved, put_latency};

    #[test]
    fn schedule_of_an_open_loop() {
        let s = Schedule { rate: 10_000, warmup: Duration::from_secs(2), duration: Duration::from_secs(10) };
        assert_eq!((s.total_writes(), s.first_measured()), (120_000, 20_000));
        assert_eq!((s.due_ns(1), s.due_ns(20_000)), (100_000, 2_000_000_000));
        assert!(s.check("w").is_ok());
        let huge = Schedule { rate: 1_000_000, duration: Duration::from_secs(3600), ..s };
        assert!(huge.check("w").unwrap_err().to_string().contains("at most"));
    }

    #[test]
    fn achieved_rate_and_put_latency_cover_measured_writes() {
        let s = Schedule { rate: 10, warmup: Duration::from_secs(1), duration: Duration::from_secs(1) };
        let writes = Writes::new(Instant::now(), "p-".into(), s);
        assert_eq!(writes.total(), 20);
        // Writes 10..20 are measured; each acknowledged 2 ms after its due time, one missing.
        for index in 0..20u64 {
            if index != 15 {
                let ack = s.due_ns(index) + 2_000_000;
                writes.acks[index as usize].store(ack + 1, std::sync::atomic::Ordering::Relaxed);
            }
        }
        let (count, span) = achieved(&writes, 0);
        assert_eq!(count, 9);
        assert_eq!(span, Duration::from_secs(1), "at least the scheduled duration");
        let put = put_latency(&writes, 0);
        assert_eq!(put.len(), 9);
        assert!(put.equivalent(put.max(), 2000));
    }
}
