//! DynamoDB's export layout under `prefix/AWSDynamoDB/<export id>/`: the `_started` marker,
//! gzipped JSON-lines data files under `data/`, `manifest-files.json` (one line per data
//! file), `manifest-summary.json`, and a `.checksum` (hex MD5) beside each manifest.

use std::io::Write;

use base64::Engine as _;
use eddy_core::Item;
use eddy_core::changelog::format_sequence_number;
use flate2::Compression;
use flate2::write::GzEncoder;
use md5::{Digest, Md5};
use serde_json::{Value, json};

use crate::export::record::ExportRecord;
use crate::export::time::iso8601_millis;

/// The marker written first: proves the bucket is writable and that the export began.
pub const STARTED: &str = "_started";
/// The summary manifest.
pub const MANIFEST_SUMMARY: &str = "manifest-summary.json";
/// The files manifest.
pub const MANIFEST_FILES: &str = "manifest-files.json";
/// The summary manifest's format version DynamoDB writes.
const MANIFEST_VERSION: &str = "2020-06-30";

/// A data file being filled: items as `{"Item": ...}` lines, gzipped in memory.
pub struct DataFile {
    encoder: GzEncoder<Vec<u8>>,
    items: u64,
    /// Bytes of JSON lines written (before gzip).
    json_bytes: usize,
}

/// A finished data file, ready to upload.
pub struct FinishedFile {
    /// The gzipped bytes.
    pub bytes: Vec<u8>,
    /// Items in it.
    pub items: u64,
    /// Base64 MD5 of `bytes` (the manifest's `md5Checksum`).
    pub md5_base64: String,
}

impl Default for DataFile {
    fn default() -> Self {
        DataFile { encoder: GzEncoder::new(Vec::new(), Compression::default()), items: 0, json_bytes: 0 }
    }
}

impl DataFile {
    /// Appends one item as a line.
    pub fn push(&mut self, item: &Item) -> std::io::Result<()> {
        let mut line = serde_json::to_vec(&json!({ "Item": eddy_streams::record::item_json(item) }))?;
        line.push(b'\n');
        self.encoder.write_all(&line)?;
        self.items += 1;
        self.json_bytes += line.len();
        Ok(())
    }

    /// Bytes of JSON written so far (before gzip).
    pub fn json_bytes(&self) -> usize {
        self.json_bytes
    }

    /// Items written so far.
    pub fn items(&self) -> u64 {
        self.items
    }

    /// Closes the gzip stream.
    pub fn finish(self) -> std::io::Result<FinishedFile> {
        let bytes = self.encoder.finish()?;
        let md5_base64 = base64::engine::general_purpose::STANDARD.encode(Md5::digest(&bytes));
        Ok(FinishedFile { bytes, items: self.items, md5_base64 })
    }
}

/// A random data file name, like DynamoDB's (26 base-32 characters).
pub fn data_file_name() -> String {
    const ALPHABET: &[u8; 32] = b"abcdefghijklmnopqrstuvwxyz234567";
    let random = uuid::Uuid::new_v4().as_u128();
    let name: String = (0..26).map(|i| ALPHABET[((random >> (i * 5)) & 31) as usize] as char).collect();
    format!("{name}.json.gz")
}

/// One line of `manifest-files.json`.
pub fn files_manifest_line(items: u64, md5_base64: &str, etag: &str, key: &str) -> String {
    json!({ "itemCount": items, "md5Checksum": md5_base64, "etag": etag, "dataFileS3Key": key }).to_string()
}

/// `manifest-summary.json` of a finished export (`record` has its final counts and times).
pub fn summary_manifest(record: &ExportRecord, manifest_files_key: &str) -> Value {
    json!({
        "version": MANIFEST_VERSION,
        "exportArn": record.export_arn,
        "startTime": iso8601_millis(record.start_time_millis),
        "endTime": iso8601_millis(record.end_time_millis.unwrap_or(record.start_time_millis)),
        "tableArn": record.table_arn,
        "tableId": record.table_id,
        "exportTime": iso8601_millis(record.export_time_millis),
        "s3Bucket": record.bucket,
        "s3Prefix": record.prefix,
        "s3SseAlgorithm": "AES256",
        "s3SseKmsKeyId": null,
        "manifestFilesS3Key": manifest_files_key,
        "billedSizeBytes": record.billed_size_bytes,
        "itemCount": record.item_count,
        "outputFormat": record.format.as_str(),
        "exportType": "FULL_EXPORT",
        "eddySequenceNumber": format_sequence_number(record.sequence_number),
    })
}

/// Hex MD5 of a manifest, the content of its `.checksum` file.
pub fn checksum_hex(bytes: &[u8]) -> String {
    Md5::digest(bytes).iter().map(|b| format!("{b:02x}")).collect()
}

/// `name.json` → `name.checksum`.
pub fn checksum_name(manifest: &str) -> String {
    format!("{}.checksum", manifest.trim_end_matches(".json"))
}

#[cfg(test)]
mod tests {
    use std::io::Read;

    use eddy_core::AttributeValue;

    use super::*;

    #[test]
    fn data_file_is_gzipped_json_lines_with_its_md5() {
        let mut file = DataFile::default();
        for i in 0..3 {
            let mut item = Item::new();
            item.insert("pk".into(), AttributeValue::S(format!("k{i}")));
            file.push(&item).unwrap();
        }
        let finished = file.finish().unwrap();
        assert_eq!(finished.items, 3);
        let mut text = String::new();
        flate2::read::GzDecoder::new(finished.bytes.as_slice()).read_to_string(&mut text).unwrap();
        let lines: Vec<&str> = text.lines().collect();
        assert_eq!(lines[0], r#"{"Item":{"pk":{"S":"k0"}}}"#);
        assert_eq!(lines.len(), 3);
        let md5 = base64::engine::general_purpose::STANDARD.encode(Md5::digest(&finished.bytes));
        assert_eq!(finished.md5_base64, md5);
    }

    #[test]
    fn names_look_like_dynamodb_names() {
        let name = data_file_name();
        assert_eq!(name.len(), 26 + ".json.gz".len());
        assert_ne!(name, data_file_name());
        assert_eq!(checksum_name(MANIFEST_SUMMARY), "manifest-summary.checksum");
    }
}
