//! Timestamps in the forms DynamoDB shows them.

/// `YYYY-MM-DDTHH:MM:SS.mmm` in UTC, the form of DynamoDB stream labels.
pub fn iso8601_millis(millis: u64) -> String {
    eddy_streams::subscription::time::format_millis(millis)
}

/// Milliseconds since the epoch, now.
pub fn now_millis() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_millis() as u64)
        .unwrap_or(0)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn formats_known_instants() {
        assert_eq!(iso8601_millis(0), "1970-01-01T00:00:00.000");
        assert_eq!(iso8601_millis(1_795_568_645_123), "2026-11-25T01:04:05.123");
        assert_eq!(iso8601_millis(951_782_400_000), "2000-02-29T00:00:00.000");
    }
}
