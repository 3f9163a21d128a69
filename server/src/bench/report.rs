//! The final figures: a table for people and JSON lines for scripts.

use std::time::Duration;

use hdrhistogram::Histogram;

/// What one operation of one workload achieved during the measured time.
#[derive(Debug)]
pub struct OpResult {
    pub workload: &'static str,
    pub operation: &'static str,
    pub concurrency: usize,
    /// The measured time (warmup excluded).
    pub duration: Duration,
    /// Successful requests.
    pub ops: u64,
    /// Failed requests: non-2xx, transport failures, unexpected answers.
    pub errors: u64,
    /// Latency of successful requests in microseconds.
    pub latency: Histogram<u64>,
}

impl OpResult {
    /// Successful requests per second.
    pub fn ops_per_sec(&self) -> f64 {
        self.ops as f64 / self.duration.as_secs_f64().max(1e-9)
    }

    /// The latency at `quantile` in milliseconds, `None` without successful requests.
    pub fn latency_ms(&self, quantile: f64) -> Option<f64> {
        (self.ops > 0).then(|| self.latency.value_at_quantile(quantile) as f64 / 1000.0)
    }
}

/// The table, one row per result, aligned for a terminal.
pub fn table(results: &[OpResult]) -> String {
    let workload_width = results.iter().map(|r| r.workload.len()).chain([8]).max().unwrap_or(8);
    let operation_width = results.iter().map(|r| r.operation.len()).chain([9]).max().unwrap_or(9);
    let mut out = format!(
        "{:<workload_width$} {:<operation_width$} {:>11} {:>9} {:>7} {:>10} {:>8} {:>8} {:>8}\n",
        "workload", "operation", "concurrency", "ops", "errors", "ops/s", "p50 ms", "p99 ms", "p999 ms"
    );
    let ms = |value: Option<f64>| value.map_or_else(|| "-".to_string(), |v| format!("{v:.2}"));
    for r in results {
        out.push_str(&format!(
            "{:<workload_width$} {:<operation_width$} {:>11} {:>9} {:>7} {:>10.1} {:>8} {:>8} {:>8}\n",
            r.workload,
            r.operation,
            r.concurrency,
            r.ops,
            r.errors,
            r.ops_per_sec(),
            ms(r.latency_ms(0.5)),
            ms(r.latency_ms(0.99)),
            ms(r.latency_ms(0.999)),
        ));
    }
    out
}

/// What a change-stream workload prints: its rows, lines of figures that do not fit rows, one
/// JSON object with those figures, and why the run failed its own checks, if it did.
#[derive(Debug)]
pub struct Report {
    pub rows: Vec<OpResult>,
    pub notes: String,
    pub summary: serde_json::Value,
    /// Set when the run did not measure what it meant to (events lost, records missing).
    pub failure: Option<String>,
}

/// One JSON object per result, one per line; latencies are `null` without successful requests.
pub fn json_lines(results: &[OpResult]) -> String {
    let round = |v: Option<f64>| v.map(|v| (v * 100.0).round() / 100.0);
    results
        .iter()
        .map(|r| {
            let line = serde_json::json!({
                "workload": r.workload,
                "operation": r.operation,
                "concurrency": r.concurrency,
                "duration_s": r.duration.as_secs_f64(),
                "ops": r.ops,
                "errors": r.errors,
                "ops_per_s": (r.ops_per_sec() * 10.0).round() / 10.0,
                "p50_ms": round(r.latency_ms(0.5)),
                "p99_ms": round(r.latency_ms(0.99)),
                "p999_ms": round(r.latency_ms(0.999)),
            });
            format!("{line}\n")
        })
        .collect()
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use std::time::Duration;

    use hdrhistogram::Histogram;

    use super::{OpResult, json_lines, table};

    fn result(ops: u64) -> OpResult {
        let mut latency = Histogram::new_with_bounds(1, 3_600_000_000, 3).unwrap();
        for v in 1..=ops {
            latency.record(v * 10).unwrap();
        }
        OpResult {
            workload: "get",
            operation: "GetItem",
            concurrency: 16,
            duration: Duration::from_secs(10),
            ops,
            errors: 2,
            latency,
        }
    }

    #[test]
    fn figures_in_the_table_and_json() {
        let results = [result(1000), result(0)];
        let text = table(&results);
        let lines: Vec<&str> = text.lines().collect();
        assert_eq!(lines.len(), 3);
        assert!(lines[1].contains("100.0"), "{text}");
        assert!(lines[1].contains(" 5.00 "), "{text}");
        assert!(lines[2].ends_with('-'), "{text}");

        let json = json_lines(&results);
        let first: serde_json::Value = serde_json::from_str(json.lines().next().unwrap()).unwrap();
        assert_eq!(first["ops_per_s"], 100.0);
        assert_eq!(first["p50_ms"], 5.0);
        assert_eq!(first["p99_ms"], 9.9);
        assert_eq!(first["errors"], 2);
        let second: serde_json::Value = serde_json::from_str(json.lines().nth(1).unwrap()).unwrap();
        assert!(second["p50_ms"].is_null());
    }
}
