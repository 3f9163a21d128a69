//! Watching a connector export while writes go on: a poller on a thread of its own reads
//! `GET /v1/connectors/{name}` every [`POLL_INTERVAL`] and keeps every change of
//! `RecordsExported` with two times, and the matching of acknowledged writes with those samples.
//!
//! Times of a sample, both in nanoseconds after the run's origin:
//! - *seen*: the poll's answer arrived. An upper bound of when the sink held the records, late by
//!   up to one poll interval plus the poll's round trip.
//! - *exported*: the server's `LastExportedTime` (its clock, milliseconds), the time the newest
//!   batch went out, after the sink answered and before its checkpoint committed; clamped to
//!   *seen*. Exact to the millisecond for the newest batch of each poll, an upper bound for
//!   earlier batches within the same poll interval.
//!
//! Matching: the records are exported in seq order and each write's record commits before its
//! acknowledgement, so the k-th acknowledged write (in acknowledgement order) is matched with the
//! first sample whose count reached `base + k` (`base`: records exported before the first
//! write). Writes acknowledged within one group commit may swap places; their lags differ by
//! less than a commit's duration.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::{Duration, Instant, SystemTime};

use hdrhistogram::Histogram;

use super::client::{Client, Target};
use super::connector_setup::{memory, status};
use super::steady::histogram;

/// How often the poller reads the connector's status.
pub const POLL_INTERVAL: Duration = Duration::from_millis(10);
/// Most samples kept (changes of `RecordsExported`); at 10 ms a poll, over 2 hours.
pub const SAMPLES_MAX: usize = 1_000_000;

/// One change of `RecordsExported`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Sample {
    /// `RecordsExported`.
    pub count: u64,
    /// The poll's answer arrived.
    pub seen_ns: u64,
    /// The server's `LastExportedTime`, at most `seen_ns`.
    pub exported_ns: u64,
}

/// The status once a second.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Second {
    pub at_ns: u64,
    pub count: u64,
    pub lag_records: Option<u64>,
    pub rss_kib: Option<u64>,
}

/// What the poller saw.
#[derive(Debug, Default)]
pub struct Log {
    pub samples: Vec<Sample>,
    pub seconds: Vec<Second>,
    pub polls: u64,
    pub errors: u64,
    /// Samples not kept past [`SAMPLES_MAX`].
    pub dropped: u64,
    /// `FAILED` and why, if the connector failed.
    pub failed: Option<String>,
}

/// The latest figures, for the workload's progress and drain decisions.
#[derive(Debug, Default)]
pub struct Latest {
    pub count: AtomicU64,
    pub lag_records: AtomicU64,
    pub failed: AtomicBool,
    stop: AtomicBool,
}

impl Latest {
    /// Asks the poller to take one last sample and stop.
    pub fn stop(&self) {
        self.stop.store(true, Ordering::Release);
    }
}

/// The run's origin: the same instant by the monotonic clock and by the wall clock, so the
/// server's wall-clock times can be placed on the monotonic time line.
#[derive(Debug, Clone, Copy)]
pub struct Origin {
    pub instant: Instant,
    pub wall_millis: f64,
}

impl Origin {
    /// Now.
    pub fn now() -> Origin {
        let wall = SystemTime::now().duration_since(SystemTime::UNIX_EPOCH).unwrap_or_default();
        Origin { instant: Instant::now(), wall_millis: wall.as_secs_f64() * 1000.0 }
    }

    /// Nanoseconds from the origin to `at`.
    pub fn ns(&self, at: Instant) -> u64 {
        at.saturating_duration_since(self.instant).as_nanos() as u64
    }

    /// Nanoseconds from the origin to the wall-clock time `millis` (0 when before it).
    pub fn wall_ns(&self, millis: f64) -> u64 {
        ((millis - self.wall_millis) * 1_000_000.0).max(0.0) as u64
    }
}

/// Starts the poller of connector `name` on a thread of its own; `pid` adds the server's RSS to
/// the one-a-second figures. It runs until [`Latest::stop`].
pub fn spawn(
    target: Arc<Target>,
    name: String,
    origin: Origin,
    pid: Option<u32>,
    latest: Arc<Latest>,
) -> anyhow::Result<std::thread::JoinHandle<anyhow::Result<Log>>> {
    Ok(std::thread::Builder::new().name("bench-connector-poll".into()).spawn(move || {
        let runtime = tokio::runtime::Builder::new_current_thread().enable_all().build()?;
        runtime.block_on(poll(target, name, origin, pid, latest))
    })?)
}

async fn poll(
    target: Arc<Target>,
    name: String,
    origin: Origin,
    pid: Option<u32>,
    latest: Arc<Latest>,
) -> anyhow::Result<Log> {
    let mut client = Client::new(target);
    let mut log = Log::default();
    let mut next_second = 0u64;
    let mut last_count = None;
    let mut ticks = tokio::time::interval(POLL_INTERVAL);
    ticks.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        ticks.tick().await;
        let stopping = latest.stop.load(Ordering::Acquire);
        let answer = status(&mut client, &name).await;
        let seen_ns = origin.ns(Instant::now());
        log.polls += 1;
        let s = match answer {
            Ok(s) => s,
            Err(e) => {
                log.errors += 1;
                if log.errors == 1 {
                    eprintln!("connector {name}: status poll failed: {e:#}");
                }
                if stopping {
                    return Ok(log);
                }
                continue;
            }
        };
        if last_count != Some(s.records_exported) {
            last_count = Some(s.records_exported);
            let exported_ns = s.last_exported_millis.map_or(seen_ns, |ms| origin.wall_ns(ms).min(seen_ns));
            if log.samples.len() < SAMPLES_MAX {
                log.samples.push(Sample { count: s.records_exported, seen_ns, exported_ns });
            } else {
                log.dropped += 1;
            }
        }
        latest.count.store(s.records_exported, Ordering::Relaxed);
        latest.lag_records.store(s.lag_records.unwrap_or(0), Ordering::Relaxed);
        if seen_ns >= next_second {
            next_second = (seen_ns / 1_000_000_000 + 1) * 1_000_000_000;
            log.seconds.push(Second {
                at_ns: seen_ns,
                count: s.records_exported,
                lag_records: s.lag_records,
                rss_kib: pid.and_then(memory).map(|m| m.rss_kib),
            });
        }
        if s.state == "FAILED" && log.failed.is_none() {
            log.failed = Some(s.summary());
            latest.failed.store(true, Ordering::Release);
        }
        if stopping {
            return Ok(log);
        }
    }
}

/// Acknowledged writes matched with the samples.
#[derive(Debug)]
pub struct Lags {
    /// Microseconds from acknowledgement to *exported* and to *seen*, measured writes only.
    pub exported: Histogram<u64>,
    pub seen: Histogram<u64>,
    /// Acknowledged writes matched with a sample, and those without one.
    pub matched: u64,
    pub missing: u64,
    /// Measured writes whose *exported* time came before their acknowledgement (counted as 0).
    pub before_ack: u64,
}

/// Matches the acknowledged writes (`acks[i]`: write `i`'s acknowledgement, nanoseconds after
/// the origin) with `samples` (counts never decreasing), `base` records having been exported
/// before the first write. Lags are recorded for writes from `first_measured` on.
pub fn match_writes(acks: &[Option<u64>], first_measured: u64, samples: &[Sample], base: u64) -> Lags {
    let mut acked: Vec<(u64, u64)> =
        acks.iter().enumerate().filter_map(|(i, a)| a.map(|a| (a, i as u64))).collect();
    acked.sort_unstable();
    let mut lags = Lags { exported: histogram(), seen: histogram(), matched: 0, missing: 0, before_ack: 0 };
    let mut j = 0;
    for (k, (ack, index)) in acked.into_iter().enumerate() {
        let need = base + k as u64 + 1;
        while samples.get(j).is_some_and(|s| s.count < need) {
            j += 1;
        }
        let Some(sample) = samples.get(j) else {
            lags.missing += 1;
            continue;
        };
        lags.matched += 1;
        if index < first_measured {
            continue;
        }
        if sample.exported_ns < ack {
            lags.before_ack += 1;
        }
        lags.exported.saturating_record(sample.exported_ns.saturating_sub(ack) / 1000);
        lags.seen.saturating_record(sample.seen_ns.saturating_sub(ack) / 1000);
    }
    lags
}

/// `RecordsExported` at `ns`: the count of the last sample seen at or before it (`base` before
/// the first).
pub fn count_at(samples: &[Sample], ns: u64, base: u64) -> u64 {
    samples.iter().take_while(|s| s.seen_ns <= ns).last().map_or(base, |s| s.count)
}

#[cfg(test)]
mod tests {
    use super::{Origin, Sample, count_at, match_writes};

    const MS: u64 = 1_000_000;

    #[test]
    fn writes_are_matched_by_rank_of_acknowledgement() {
        // Write 1 was acknowledged before write 0; one probe record was exported before.
        let acks = [Some(3 * MS), Some(2 * MS), Some(4 * MS), None, Some(9 * MS)];
        let samples = [
            Sample { count: 1, seen_ns: MS, exported_ns: MS },
            Sample { count: 3, seen_ns: 10 * MS, exported_ns: 6 * MS },
            Sample { count: 4, seen_ns: 20 * MS, exported_ns: 15 * MS },
        ];
        let lags = match_writes(&acks, 0, &samples, 1);
        assert_eq!((lags.matched, lags.missing, lags.before_ack), (3, 1, 0));
        // Ranks: 2 ms -> count 2 (sample 2: exported 6 ms), 3 ms -> count 3 (6 ms),
        // 4 ms -> count 4 (15 ms), 9 ms -> count 5: never.
        assert_eq!(lags.exported.len(), 3);
        assert!(lags.exported.equivalent(lags.exported.min(), 3000));
        assert!(lags.exported.equivalent(lags.exported.max(), 11_000));
        assert!(lags.seen.equivalent(lags.seen.max(), 16_000));
        // Warmup writes are matched but not recorded.
        let lags = match_writes(&acks, 2, &samples, 1);
        assert_eq!((lags.matched, lags.exported.len()), (3, 1));
    }

    #[test]
    fn an_export_stamped_before_the_ack_counts_as_zero() {
        let samples = [Sample { count: 1, seen_ns: 5 * MS, exported_ns: MS }];
        let lags = match_writes(&[Some(2 * MS)], 0, &samples, 0);
        assert_eq!((lags.before_ack, lags.exported.max()), (1, 0));
    }

    #[test]
    fn counts_at_a_time() {
        let samples = [
            Sample { count: 5, seen_ns: 10, exported_ns: 9 },
            Sample { count: 9, seen_ns: 20, exported_ns: 20 },
        ];
        assert_eq!(
            (count_at(&samples, 5, 1), count_at(&samples, 10, 1), count_at(&samples, 25, 1)),
            (1, 5, 9)
        );
    }

    #[test]
    fn wall_clock_times_land_on_the_monotonic_line() {
        let origin = Origin { instant: std::time::Instant::now(), wall_millis: 1_000.0 };
        assert_eq!(origin.wall_ns(1_002.5), 2_500_000);
        assert_eq!(origin.wall_ns(999.0), 0);
    }
}
