//! The DynamoDB Streams API streams of a table: the enabled one (`TableSpec::stream`) and the
//! disabled ones still readable (`TableMeta::past_streams`), their ARNs, and how an ARN finds
//! its stream.

use std::sync::Arc;

use eddy_core::Error as CoreError;
use eddy_core::changelog::FeedPosition;
use eddy_core::schema::{StreamSettings, TableMeta};

use crate::error::StreamsError;
use crate::source::StreamSource;

/// The region and account a server shows in ARNs.
#[derive(Debug, Clone, Copy)]
pub struct ArnScope<'a> {
    /// Region, e.g. `us-east-1`.
    pub region: &'a str,
    /// Twelve-digit account id.
    pub account_id: &'a str,
}

impl ArnScope<'_> {
    /// `arn:aws:dynamodb:<region>:<account>:table/<table>/stream/<label>`.
    pub fn stream_arn(&self, table: &str, label: &str) -> String {
        format!("arn:aws:dynamodb:{}:{}:table/{table}/stream/{label}", self.region, self.account_id)
    }

    /// The table and label named by a stream ARN of this server.
    pub fn parse_stream_arn<'s>(&self, arn: &'s str) -> Option<(&'s str, &'s str)> {
        let prefix = format!("arn:aws:dynamodb:{}:{}:table/", self.region, self.account_id);
        let rest = arn.strip_prefix(&prefix)?;
        let (table, label) = rest.split_once("/stream/")?;
        (!table.is_empty() && !label.is_empty() && !label.contains('/')).then_some((table, label))
    }
}

/// A stream, found.
#[derive(Debug, Clone)]
pub struct Stream {
    /// The table's declaration when the stream was found.
    pub table: Arc<TableMeta>,
    /// The stream's settings (its range of seqs and view type).
    pub settings: StreamSettings,
    /// False once disabled (StreamStatus DISABLED).
    pub enabled: bool,
}

impl Stream {
    /// The table's name.
    pub fn table_name(&self) -> &str {
        &self.table.spec.name
    }

    /// StreamStatus.
    pub fn status(&self) -> &'static str {
        if self.enabled { "ENABLED" } else { "DISABLED" }
    }
}

/// The table's streams that clients can still see, oldest first: past streams until their last
/// record is trimmed, then the enabled one.
pub fn streams_of(table: &Arc<TableMeta>, position: FeedPosition) -> Vec<Stream> {
    let mut streams: Vec<Stream> = table
        .past_streams
        .iter()
        .filter(|s| s.last_seq.is_some_and(|last| last >= s.first_seq && last >= position.trim_horizon))
        .map(|s| Stream { table: Arc::clone(table), settings: s.clone(), enabled: false })
        .collect();
    if let Some(s) = &table.spec.stream {
        streams.push(Stream { table: Arc::clone(table), settings: s.clone(), enabled: true });
    }
    streams
}

/// The message of a ResourceNotFoundException for a stream ARN.
pub fn stream_not_found(arn: &str) -> StreamsError {
    StreamsError::not_found(format!("Requested resource not found: Stream: {arn} not found"))
}

/// The table's declaration and changelog position, or `not_found` when the table is gone.
pub fn table_state(
    source: &impl StreamSource,
    table: &str,
    not_found: impl Fn() -> StreamsError,
) -> Result<(Arc<TableMeta>, FeedPosition), StreamsError> {
    let missing = |e: CoreError| match e {
        CoreError::ResourceNotFound { .. } => not_found(),
        other => other.into(),
    };
    let meta = source.table_meta(table).map_err(missing)?;
    let position = source.position(table).map_err(missing)?;
    Ok((meta, position))
}

/// Finds the stream an ARN names.
pub fn resolve(
    source: &impl StreamSource,
    scope: ArnScope<'_>,
    arn: &str,
) -> Result<(Stream, FeedPosition), StreamsError> {
    let (table, label) = scope.parse_stream_arn(arn).ok_or_else(|| invalid_arn(arn))?;
    let (meta, position) = table_state(source, table, || stream_not_found(arn))?;
    let stream = streams_of(&meta, position)
        .into_iter()
        .find(|s| s.settings.label == label)
        .ok_or_else(|| stream_not_found(arn))?;
    Ok((stream, position))
}

/// The ValidationException for an ARN that is not a stream ARN of this server.
pub fn invalid_arn(arn: &str) -> StreamsError {
    StreamsError::validation(format!("Invalid StreamArn: {arn}"))
}

/// The milliseconds since the epoch of a stream label (`YYYY-MM-DDTHH:MM:SS.mmm`, UTC).
pub fn label_millis(label: &str) -> Option<u64> {
    let b = label.as_bytes();
    if b.len() != 23 || b[4] != b'-' || b[7] != b'-' || b[10] != b'T' || b[13] != b':' || b[16] != b':' {
        return None;
    }
    let num = |range: std::ops::Range<usize>| label.get(range)?.parse::<i64>().ok();
    let (y, m, d) = (num(0..4)?, num(5..7)?, num(8..10)?);
    let (hh, mm, ss, ms) = (num(11..13)?, num(14..16)?, num(17..19)?, num(20..23)?);
    if !(1..=12).contains(&m) || !(1..=31).contains(&d) || hh > 23 || mm > 59 || ss > 60 {
        return None;
    }
    // Days from civil (Howard Hinnant's algorithm).
    let y = if m <= 2 { y - 1 } else { y };
    let era = y.div_euclid(400);
    let yoe = y - era * 400;
    let mp = (m + 9) % 12;
    let doy = (153 * mp + 2) / 5 + d - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    let days = era * 146_097 + doe - 719_468;
    let millis = ((days * 86_400 + hh * 3600 + mm * 60 + ss) * 1000) + ms;
    u64::try_from(millis).ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn labels_parse_back_to_their_instant() {
        assert_eq!(label_millis("1970-01-01T00:00:00.000"), Some(0));
        assert_eq!(label_millis("2026-11-25T01:04:05.123"), Some(1_795_568_645_123));
        assert_eq!(label_millis("2000-02-29T00:00:00.000"), Some(951_782_400_000));
        assert_eq!(label_millis("2000-02-29 00:00:00.000"), None);
        assert_eq!(label_millis("x"), None);
    }

    #[test]
    fn stream_arns_round_trip() {
        let scope = ArnScope { region: "us-east-1", account_id: "000000000000" };
        let arn = scope.stream_arn("t1", "2026-01-01T00:00:00.000");
        assert_eq!(arn, "arn:aws:dynamodb:us-east-1:000000000000:table/t1/stream/2026-01-01T00:00:00.000");
        assert_eq!(scope.parse_stream_arn(&arn), Some(("t1", "2026-01-01T00:00:00.000")));
        assert_eq!(scope.parse_stream_arn("arn:aws:dynamodb:us-east-1:000000000000:table/t1"), None);
        assert_eq!(scope.parse_stream_arn("arn:aws:dynamodb:eu-west-1:000000000000:table/t/stream/x"), None);
    }
}
