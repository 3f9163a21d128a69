//! Commit → invocation delay: how long a record waits between its commit becoming visible and
//! the start of the invocation that carries it. A task per trigger stamps each move of the
//! source table's high watermark as it happens ([`CommitStamps`]); the delivery task looks up
//! the stamp that first covered a batch's first record when it invokes the batch, and adds the
//! difference to a [`DelayHistogram`] shown in the trigger's status.

use std::collections::VecDeque;
use std::time::{Duration, Instant};

use serde_json::{Value, json};

/// Most high-watermark stamps kept; older ones are dropped first (their records were
/// delivered long ago, or the trigger is so far behind that the delay is its lag).
pub const STAMPS_MAX: usize = 4096;
/// Width of one histogram bucket.
pub const BUCKET: Duration = Duration::from_micros(100);
/// Buckets of [`BUCKET`] each: delays up to 1 s are told apart, longer ones share the last.
pub const BUCKETS: usize = 10_000;

/// When each high watermark of the source table became visible.
#[derive(Debug, Default)]
pub struct CommitStamps {
    /// `(high watermark, when it was seen)`, in increasing watermark order.
    stamps: VecDeque<(u64, Instant)>,
    /// Records up to this seq were committed before stamping began: their delay is unknown.
    unknown_through: u64,
}

impl CommitStamps {
    /// Stamps from now on; records up to `high_watermark` have no stamp.
    pub fn starting_at(high_watermark: u64) -> Self {
        CommitStamps { stamps: VecDeque::new(), unknown_through: high_watermark }
    }

    /// The high watermark moved to `high_watermark` at `at`.
    pub fn stamp(&mut self, high_watermark: u64, at: Instant) {
        if self.stamps.back().is_some_and(|(seen, _)| *seen >= high_watermark)
            || high_watermark <= self.unknown_through
        {
            return;
        }
        if self.stamps.len() >= STAMPS_MAX
            && let Some((dropped, _)) = self.stamps.pop_front()
        {
            self.unknown_through = dropped;
        }
        self.stamps.push_back((high_watermark, at));
    }

    /// When the record with `seq` became visible, if stamped. Stamps below it are dropped:
    /// delivery moves forward.
    pub fn committed_at(&mut self, seq: u64) -> Option<Instant> {
        if seq <= self.unknown_through {
            return None;
        }
        while self.stamps.front().is_some_and(|(hw, _)| *hw < seq) {
            if let Some((dropped, _)) = self.stamps.pop_front() {
                self.unknown_through = dropped;
            }
        }
        self.stamps.front().map(|(_, at)| *at)
    }
}

/// Delays in buckets of [`BUCKET`], since the server started.
#[derive(Debug, Clone)]
pub struct DelayHistogram {
    counts: Vec<u64>,
    total: u64,
    max: Duration,
}

impl Default for DelayHistogram {
    fn default() -> Self {
        DelayHistogram { counts: vec![0; BUCKETS], total: 0, max: Duration::ZERO }
    }
}

impl DelayHistogram {
    /// Adds one delay.
    pub fn record(&mut self, delay: Duration) {
        let bucket = (delay.as_micros() / BUCKET.as_micros()).min(BUCKETS as u128 - 1) as usize;
        self.counts[bucket] += 1;
        self.total += 1;
        self.max = self.max.max(delay);
    }

    /// The delay at or below which `quantile` (0..=1) of the delays fall: the upper edge of
    /// its bucket, so never less than the true value (the maximum for the last bucket).
    pub fn quantile(&self, quantile: f64) -> Option<Duration> {
        if self.total == 0 {
            return None;
        }
        let rank = ((quantile.clamp(0.0, 1.0) * self.total as f64).ceil() as u64).max(1);
        let mut seen = 0;
        for (bucket, count) in self.counts.iter().enumerate() {
            seen += count;
            if seen >= rank {
                let edge = BUCKET * (bucket as u32 + 1);
                return Some(if bucket + 1 == BUCKETS { self.max } else { edge.min(self.max) });
            }
        }
        Some(self.max)
    }

    /// `{"Count", "P50Millis", "P99Millis", "MaxMillis"}`.
    pub fn to_json(&self) -> Value {
        let millis = |d: Option<Duration>| d.map(|d| (d.as_secs_f64() * 1e4).round() / 10.0);
        json!({
            "Count": self.total,
            "P50Millis": millis(self.quantile(0.50)),
            "P99Millis": millis(self.quantile(0.99)),
            "MaxMillis": millis((self.total > 0).then_some(self.max)),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_record_takes_the_stamp_of_the_first_watermark_that_covered_it() {
        let start = Instant::now();
        let mut stamps = CommitStamps::starting_at(10);
        stamps.stamp(12, start);
        stamps.stamp(15, start + Duration::from_millis(3));
        assert_eq!(stamps.committed_at(9), None, "committed before stamping began");
        assert_eq!(stamps.committed_at(11), Some(start));
        assert_eq!(stamps.committed_at(13), Some(start + Duration::from_millis(3)));
        // A watermark that does not move is no new stamp.
        stamps.stamp(15, start + Duration::from_millis(9));
        assert_eq!(stamps.committed_at(14), Some(start + Duration::from_millis(3)));
        assert_eq!(stamps.committed_at(16), None, "not committed yet");
    }

    #[test]
    fn stamps_are_bounded_and_forget_the_oldest() {
        let start = Instant::now();
        let mut stamps = CommitStamps::starting_at(0);
        for hw in 1..=(STAMPS_MAX as u64 + 10) {
            stamps.stamp(hw, start + Duration::from_micros(hw));
        }
        assert_eq!(stamps.committed_at(5), None, "dropped to keep the bound");
        assert_eq!(stamps.committed_at(STAMPS_MAX as u64 + 10), Some(start + Duration::from_micros(4106)));
    }

    #[test]
    fn quantiles_are_bucket_upper_edges_capped_by_the_maximum() {
        let mut histogram = DelayHistogram::default();
        assert_eq!(histogram.quantile(0.5), None);
        for micros in [150, 250, 250, 950, 30_000] {
            histogram.record(Duration::from_micros(micros));
        }
        assert_eq!(histogram.quantile(0.5), Some(Duration::from_micros(300)));
        assert_eq!(histogram.quantile(0.99), Some(Duration::from_micros(30_000)));
        histogram.record(Duration::from_secs(5));
        assert_eq!(histogram.quantile(1.0), Some(Duration::from_secs(5)));
        assert_eq!(histogram.to_json()["Count"], 6);
        assert_eq!(histogram.to_json()["MaxMillis"], 5000.0);
    }
}
