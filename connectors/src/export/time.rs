//! Timestamps as DynamoDB's export manifests write them (`2020-11-04T07:28:34.028Z`).

/// `YYYY-MM-DDTHH:MM:SS.mmmZ` in UTC.
pub fn iso8601_millis(millis: u64) -> String {
    format!("{}Z", eddy_streams::subscription::time::format_millis(millis))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn formats_like_dynamodb_manifests() {
        assert_eq!(iso8601_millis(0), "1970-01-01T00:00:00.000Z");
        assert_eq!(iso8601_millis(1_604_474_914_028), "2020-11-04T07:28:34.028Z");
    }
}
