//! The S3-compatible service (MinIO) the connector tests write to: found through the variables
//! `scripts/services/minio.sh env` prints, reached with SigV4-signed path-style requests over
//! plain HTTP/1.1, so the tests need no S3 SDK.

use std::io::{Read, Write};
use std::net::TcpStream;
use std::time::{Duration, SystemTime};

use aws_sdk_dynamodb::config::Credentials;

/// The MinIO that `scripts/services/minio.sh start` runs.
#[derive(Debug, Clone)]
pub struct S3Service {
    /// `EDDY_TEST_S3_ENDPOINT`, e.g. `http://127.0.0.1:19000`.
    pub endpoint: String,
    /// `EDDY_TEST_S3_ACCESS_KEY`.
    pub access_key: String,
    /// `EDDY_TEST_S3_SECRET_KEY`.
    pub secret_key: String,
    /// `EDDY_TEST_S3_REGION` [default: us-east-1].
    pub region: String,
}

impl S3Service {
    /// The service from `EDDY_TEST_S3_*`, or `None` after printing why the test is skipped.
    /// Under CI (`CI` set) a missing service fails the test instead.
    pub fn from_env() -> Option<S3Service> {
        let var = |name: &str| std::env::var(name).ok().filter(|v| !v.is_empty());
        let service = (|| {
            Some(S3Service {
                endpoint: var("EDDY_TEST_S3_ENDPOINT")?.trim_end_matches('/').to_string(),
                access_key: var("EDDY_TEST_S3_ACCESS_KEY")?,
                secret_key: var("EDDY_TEST_S3_SECRET_KEY")?,
                region: var("EDDY_TEST_S3_REGION").unwrap_or_else(|| "us-east-1".into()),
            })
        })();
        if service.is_none() {
            assert!(
                std::env::var_os("CI").is_none(),
                "MinIO is not running under CI (scripts/test starts it)"
            );
            println!("skipped: MinIO not running (scripts/test starts it)");
        }
        service
    }

    /// Creates a bucket named after `prefix`, unique to this process and moment.
    pub fn create_bucket(&self, prefix: &str) -> String {
        let nanos =
            SystemTime::now().duration_since(SystemTime::UNIX_EPOCH).map(|d| d.as_nanos()).unwrap_or(0);
        let bucket = format!("{prefix}-{}-{:x}", std::process::id(), nanos % 0xffff_ffff);
        self.create_named_bucket(&bucket);
        bucket
    }

    /// Creates the bucket `bucket`.
    pub fn create_named_bucket(&self, bucket: &str) {
        let (status, body) = self.request("PUT", &format!("/{bucket}"), "", b"");
        assert_eq!(status, 200, "create bucket {bucket}: {}", String::from_utf8_lossy(&body));
    }

    /// Every key in `bucket` under `prefix`, in key order.
    pub fn list(&self, bucket: &str, prefix: &str) -> Vec<String> {
        let mut keys = Vec::new();
        let mut token: Option<String> = None;
        loop {
            let mut query = format!("list-type=2&prefix={}", encode(prefix));
            if let Some(t) = &token {
                query = format!("continuation-token={}&{query}", encode(t));
            }
            let (status, body) = self.request("GET", &format!("/{bucket}"), &query, b"");
            let text = String::from_utf8_lossy(&body).to_string();
            assert_eq!(status, 200, "list {bucket}: {text}");
            keys.extend(tags(&text, "Key"));
            match tags(&text, "NextContinuationToken").into_iter().next() {
                Some(t) if text.contains("<IsTruncated>true</IsTruncated>") => token = Some(t),
                _ => break,
            }
        }
        keys
    }

    /// Every (key, ETag) in `bucket` under `prefix` (first page of the listing).
    pub fn list_etags(&self, bucket: &str, prefix: &str) -> Vec<(String, String)> {
        let query = format!("list-type=2&prefix={}", encode(prefix));
        let (status, body) = self.request("GET", &format!("/{bucket}"), &query, b"");
        let text = String::from_utf8_lossy(&body).to_string();
        assert_eq!(status, 200, "list {bucket}: {text}");
        tags(&text, "Key").into_iter().zip(tags(&text, "ETag")).collect()
    }

    /// GETs an object; panics unless it exists.
    pub fn get(&self, bucket: &str, key: &str) -> Vec<u8> {
        let (status, body) = self.request("GET", &format!("/{bucket}/{key}"), "", b"");
        assert_eq!(status, 200, "get {bucket}/{key}: {}", String::from_utf8_lossy(&body));
        body
    }

    /// One SigV4-signed path-style request over plain HTTP/1.1; `query` is already encoded
    /// and its parameters sorted.
    pub fn request(&self, method: &str, path: &str, query: &str, body: &[u8]) -> (u16, Vec<u8>) {
        let authority = self.endpoint.trim_start_matches("http://").to_string();
        let target = if query.is_empty() { path.to_string() } else { format!("{path}?{query}") };
        let url = format!("{}{target}", self.endpoint);
        let mut headers = vec![("host".to_string(), authority.clone())];
        let identity = Credentials::new(&self.access_key, &self.secret_key, None, None, "test").into();
        let mut settings = aws_sigv4::http_request::SigningSettings::default();
        settings.payload_checksum_kind = aws_sigv4::http_request::PayloadChecksumKind::XAmzSha256;
        settings.percent_encoding_mode = aws_sigv4::http_request::PercentEncodingMode::Single;
        settings.uri_path_normalization_mode = aws_sigv4::http_request::UriPathNormalizationMode::Disabled;
        let params = aws_sigv4::sign::v4::SigningParams::builder()
            .identity(&identity)
            .region(&self.region)
            .name("s3")
            .time(SystemTime::now())
            .settings(settings)
            .build()
            .expect("signing params")
            .into();
        let signable = aws_sigv4::http_request::SignableRequest::new(
            method,
            &url,
            headers.iter().map(|(k, v)| (k.as_str(), v.as_str())),
            aws_sigv4::http_request::SignableBody::Bytes(body),
        )
        .expect("signable request");
        let (instructions, _) = aws_sigv4::http_request::sign(signable, &params).expect("sign").into_parts();
        for (name, value) in instructions.headers() {
            headers.push((name.to_string(), value.to_string()));
        }
        let mut request = format!("{method} {target} HTTP/1.1\r\n");
        for (name, value) in &headers {
            request.push_str(&format!("{name}: {value}\r\n"));
        }
        request.push_str(&format!("content-length: {}\r\nconnection: close\r\n\r\n", body.len()));
        let mut stream = TcpStream::connect(&authority).expect("connect to MinIO");
        stream.set_read_timeout(Some(Duration::from_secs(30))).expect("set read timeout");
        stream.write_all(request.as_bytes()).expect("send request");
        stream.write_all(body).expect("send body");
        let mut raw = Vec::new();
        stream.read_to_end(&mut raw).expect("read response");
        let split = raw.windows(4).position(|w| w == b"\r\n\r\n").expect("end of HTTP headers");
        let head = String::from_utf8_lossy(&raw[..split]).to_ascii_lowercase();
        let status = head.split_whitespace().nth(1).and_then(|s| s.parse().ok()).expect("status code");
        let mut body = raw[split + 4..].to_vec();
        if head.contains("transfer-encoding: chunked") {
            body = dechunk(&body);
        }
        (status, body)
    }
}

/// The texts of every `<name>...</name>` element, in order.
fn tags(xml: &str, name: &str) -> Vec<String> {
    let (open, close) = (format!("<{name}>"), format!("</{name}>"));
    let mut out = Vec::new();
    let mut rest = xml;
    while let Some(start) = rest.find(&open) {
        let after = &rest[start + open.len()..];
        let Some(end) = after.find(&close) else { break };
        out.push(after[..end].replace("&amp;", "&").replace("&quot;", "\""));
        rest = &after[end + close.len()..];
    }
    out
}

/// Percent-encodes a query value (RFC 3986 unreserved characters stay).
fn encode(text: &str) -> String {
    text.bytes()
        .map(|b| match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' | b'~' => (b as char).to_string(),
            _ => format!("%{b:02X}"),
        })
        .collect()
}

fn dechunk(mut raw: &[u8]) -> Vec<u8> {
    let mut out = Vec::new();
    while let Some(end) = raw.windows(2).position(|w| w == b"\r\n") {
        let size_text = String::from_utf8_lossy(&raw[..end]).to_string();
        let size =
            usize::from_str_radix(size_text.split(';').next().unwrap_or("").trim(), 16).expect("chunk size");
        if size == 0 {
            break;
        }
        out.extend_from_slice(&raw[end + 2..end + 2 + size]);
        raw = &raw[end + 2 + size + 2..];
    }
    out
}
