//! Where records land in the bucket and what an object holds. Keys are derived only from the
//! batch (its table, first and last seq, the first record's commit time) and the bodies only
//! from its records, so writing a batch again produces the same key with the same bytes.
//!
//! ```text
//! PREFIX/TABLE/yyyy/mm/dd/hh/<first seq, 21 digits>-<last seq, 21 digits>.ndjson[.gz]
//! PREFIX/TABLE/snapshot/<snapshot seq, 21 digits>/<part, 6 digits>.ndjson[.gz]
//! ```

use std::io::Write as _;

use bytes::Bytes;
use eddy_core::changelog::format_sequence_number;
use flate2::Compression;
use flate2::write::GzEncoder;
use serde_json::Value;

/// The key of the object holding records `first..=last`, dated by `first_millis` (UTC).
pub fn object_key(prefix: &str, table: &str, first: u64, last: u64, first_millis: u64, gzip: bool) -> String {
    let (year, month, day, hour) = utc_hour(first_millis);
    format!(
        "{}{table}/{year:04}/{month:02}/{day:02}/{hour:02}/{}-{}.{}",
        prefix_dir(prefix),
        format_sequence_number(first),
        format_sequence_number(last),
        extension(gzip)
    )
}

/// The key of part `part` of the snapshot taken at `seq`.
pub fn snapshot_key(prefix: &str, table: &str, seq: u64, part: u64, gzip: bool) -> String {
    format!(
        "{}{table}/snapshot/{}/{part:06}.{}",
        prefix_dir(prefix),
        format_sequence_number(seq),
        extension(gzip)
    )
}

fn prefix_dir(prefix: &str) -> String {
    if prefix.is_empty() { String::new() } else { format!("{prefix}/") }
}

fn extension(gzip: bool) -> &'static str {
    if gzip { "ndjson.gz" } else { "ndjson" }
}

/// The object body: one record per line (`\n` after each), gzip-compressed if asked. flate2
/// writes a fixed gzip header (no time, no name), so the same records give the same bytes.
pub fn encode(records: &[Value], gzip: bool) -> std::io::Result<Bytes> {
    let mut plain = Vec::new();
    for record in records {
        serde_json::to_writer(&mut plain, record)?;
        plain.push(b'\n');
    }
    if !gzip {
        return Ok(Bytes::from(plain));
    }
    let mut encoder = GzEncoder::new(Vec::with_capacity(plain.len() / 4), Compression::default());
    encoder.write_all(&plain)?;
    Ok(Bytes::from(encoder.finish()?))
}

/// Year, month, day and hour (UTC) of a time in milliseconds since the epoch.
pub fn utc_hour(millis: u64) -> (i64, u32, u32, u32) {
    let seconds = (millis / 1000) as i64;
    let days = seconds.div_euclid(86_400);
    let hour = (seconds.rem_euclid(86_400) / 3600) as u32;
    // Howard Hinnant's days-to-civil algorithm.
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let day = (doy - (153 * mp + 2) / 5 + 1) as u32;
    let month = if mp < 10 { mp + 3 } else { mp - 9 } as u32;
    let year = yoe + era * 400 + i64::from(month <= 2);
    (year, month, day, hour)
}

#[cfg(test)]
mod tests {
    use std::io::Read as _;

    use serde_json::json;

    use super::*;

    #[test]
    fn keys_come_from_the_seq_range_and_the_first_commit_hour() {
        // 2024-02-29T23:59:59.999Z
        let millis = 1_709_251_199_999;
        assert_eq!(utc_hour(millis), (2024, 2, 29, 23));
        assert_eq!(utc_hour(0), (1970, 1, 1, 0));
        assert_eq!(
            object_key("exports", "Orders", 1, 42, millis, false),
            "exports/Orders/2024/02/29/23/000000000000000000001-000000000000000000042.ndjson"
        );
        assert_eq!(
            object_key("", "T", 7, 7, 0, true),
            "T/1970/01/01/00/000000000000000000007-000000000000000000007.ndjson.gz"
        );
        assert_eq!(snapshot_key("p", "T", 9, 3, false), "p/T/snapshot/000000000000000000009/000003.ndjson");
    }

    #[test]
    fn the_same_records_encode_to_the_same_bytes() -> std::io::Result<()> {
        let records = vec![json!({"eventName": "INSERT", "n": 1}), json!({"eventName": "REMOVE"})];
        assert_eq!(encode(&records, true)?, encode(&records, true)?);
        let plain = encode(&records, false)?;
        assert_eq!(
            plain,
            Bytes::from_static(b"{\"eventName\":\"INSERT\",\"n\":1}\n{\"eventName\":\"REMOVE\"}\n")
        );
        let mut text = Vec::new();
        flate2::read::GzDecoder::new(&encode(&records, true)?[..]).read_to_end(&mut text)?;
        assert_eq!(text, plain);
        Ok(())
    }
}
