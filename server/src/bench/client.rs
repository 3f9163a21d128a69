//! One keep-alive HTTP/1.1 connection to the server and the DynamoDB request shape: `POST` with
//! `Content-Type: application/x-amz-json-1.0`, `X-Amz-Target`, `User-Agent` and a SigV4
//! `Authorization` over the body, as the AWS SDKs send them.

use std::sync::Arc;
use std::time::{Duration, SystemTime};

use anyhow::Context as _;
use bytes::Bytes;
use http_body_util::{BodyExt as _, Full};
use hyper::client::conn::http1::SendRequest;
use hyper::http::{HeaderName, HeaderValue, Method, Request, Uri};
use hyper_util::rt::TokioIo;
use tokio::net::TcpStream;

use super::signer::Signer;

/// How long one request may take before it counts as failed and its connection is dropped.
pub const REQUEST_TIMEOUT: Duration = Duration::from_secs(30);
/// How long opening a connection may take.
pub const CONNECT_TIMEOUT: Duration = Duration::from_secs(5);

const CONTENT_TYPE: &str = "application/x-amz-json-1.0";

/// The DynamoDB operations the load generator sends.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Operation {
    PutItem,
    GetItem,
    Query,
    Scan,
    CreateTable,
    DescribeTable,
    DeleteTable,
    BatchWriteItem,
    ListStreams,
    DescribeStream,
    GetShardIterator,
    GetRecords,
}

impl Operation {
    /// The operation's name in the API and the report.
    pub fn name(self) -> &'static str {
        match self {
            Operation::PutItem => "PutItem",
            Operation::GetItem => "GetItem",
            Operation::Query => "Query",
            Operation::Scan => "Scan",
            Operation::CreateTable => "CreateTable",
            Operation::DescribeTable => "DescribeTable",
            Operation::DeleteTable => "DeleteTable",
            Operation::BatchWriteItem => "BatchWriteItem",
            Operation::ListStreams => "ListStreams",
            Operation::DescribeStream => "DescribeStream",
            Operation::GetShardIterator => "GetShardIterator",
            Operation::GetRecords => "GetRecords",
        }
    }

    /// The `X-Amz-Target` header value.
    fn target(self) -> &'static str {
        match self {
            Operation::PutItem => "DynamoDB_20120810.PutItem",
            Operation::GetItem => "DynamoDB_20120810.GetItem",
            Operation::Query => "DynamoDB_20120810.Query",
            Operation::Scan => "DynamoDB_20120810.Scan",
            Operation::CreateTable => "DynamoDB_20120810.CreateTable",
            Operation::DescribeTable => "DynamoDB_20120810.DescribeTable",
            Operation::DeleteTable => "DynamoDB_20120810.DeleteTable",
            Operation::BatchWriteItem => "DynamoDB_20120810.BatchWriteItem",
            // The DynamoDB Streams API shares the endpoint and the `dynamodb` signing name.
            Operation::ListStreams => "DynamodbStreams_20120810.ListStreams",
            Operation::DescribeStream => "DynamodbStreams_20120810.DescribeStream",
            Operation::GetShardIterator => "DynamodbStreams_20120810.GetShardIterator",
            Operation::GetRecords => "DynamodbStreams_20120810.GetRecords",
        }
    }
}

/// Where requests go, parsed once from `--endpoint`.
#[derive(Debug, Clone)]
pub struct Endpoint {
    /// Host to connect to, without IPv6 brackets.
    host: String,
    port: u16,
    /// The `Host` header: host and, when given, port, as written in the endpoint.
    authority: String,
    /// The request path, `/` unless the endpoint has one.
    path: String,
    /// The absolute URI the signature covers.
    signed_uri: String,
}

impl Endpoint {
    /// Parses a plain-HTTP endpoint such as `http://127.0.0.1:8000`.
    pub fn parse(text: &str) -> anyhow::Result<Endpoint> {
        let uri: Uri = text.parse().with_context(|| format!("endpoint {text:?} is not a URL"))?;
        match uri.scheme_str() {
            Some("http") => {}
            Some(other) => anyhow::bail!("endpoint {text:?}: scheme {other} is not supported, only http"),
            None => anyhow::bail!("endpoint {text:?} lacks http://"),
        }
        let authority = uri.authority().with_context(|| format!("endpoint {text:?} lacks a host"))?;
        if authority.as_str().contains('@') {
            anyhow::bail!("endpoint {text:?}: user information in the URL is not supported");
        }
        if uri.query().is_some() {
            anyhow::bail!("endpoint {text:?}: a query string is not supported");
        }
        let host = authority.host().trim_start_matches('[').trim_end_matches(']').to_string();
        let port = authority.port_u16().unwrap_or(80);
        let path = if uri.path().is_empty() { "/".to_string() } else { uri.path().to_string() };
        let authority = authority.as_str().to_string();
        let signed_uri = format!("http://{authority}{path}");
        Ok(Endpoint { host, port, authority, path, signed_uri })
    }

    /// The endpoint as requests see it, for messages.
    pub fn url(&self) -> &str {
        &self.signed_uri
    }

    /// `host:port` to connect to.
    pub fn host_port(&self) -> String {
        if self.host.contains(':') {
            format!("[{}]:{}", self.host, self.port)
        } else {
            format!("{}:{}", self.host, self.port)
        }
    }

    /// The request target of `path_and_query` (which starts with `/`) under the endpoint's path.
    pub fn path_for(&self, path_and_query: &str) -> String {
        format!("{}{path_and_query}", self.path.trim_end_matches('/'))
    }
}

/// Opens `GET path_and_query` (under the endpoint's path) on a connection of its own and returns
/// the response as soon as its head is in, so the caller reads the body as it streams. The
/// connection lives on the runtime of the caller and closes when the body is dropped. The request
/// is signed (over the empty body) like the DynamoDB requests.
pub async fn open_stream(
    target: &Target,
    path_and_query: &str,
    accept: &'static str,
) -> anyhow::Result<hyper::Response<hyper::body::Incoming>> {
    let endpoint = &target.endpoint;
    let stream =
        tokio::time::timeout(CONNECT_TIMEOUT, TcpStream::connect((endpoint.host.as_str(), endpoint.port)))
            .await
            .with_context(|| format!("connecting to {}: timed out", endpoint.authority))?
            .with_context(|| format!("connecting to {}", endpoint.authority))?;
    // Events are small and their arrival time is what is measured.
    stream.set_nodelay(true)?;
    let (mut sender, connection) =
        hyper::client::conn::http1::handshake::<_, http_body_util::Empty<Bytes>>(TokioIo::new(stream))
            .await?;
    tokio::spawn(async move {
        // A broken connection ends the body with an error, which the reader reports.
        let _ = connection.await;
    });
    let path = endpoint.path_for(path_and_query);
    let signed_uri = format!("http://{}{path}", endpoint.authority);
    let signed = [("host", endpoint.authority.as_str())];
    let added = target.signer.sign("GET", &signed_uri, &signed, b"", SystemTime::now())?;
    let mut request = Request::builder()
        .method(Method::GET)
        .uri(path.as_str())
        .header(hyper::header::HOST, endpoint.authority.as_str())
        .header(hyper::header::ACCEPT, accept)
        .header(hyper::header::USER_AGENT, target.user_agent.clone());
    for (name, value) in added {
        request = request.header(HeaderName::from_static(name), HeaderValue::try_from(value)?);
    }
    let request = request.body(http_body_util::Empty::new())?;
    let response = tokio::time::timeout(REQUEST_TIMEOUT, sender.send_request(request))
        .await
        .with_context(|| format!("GET {path}: no response head after {} s", REQUEST_TIMEOUT.as_secs()))?
        .with_context(|| format!("GET {path} failed"))?;
    Ok(response)
}

/// What all connections share: the endpoint, the signer and the `User-Agent`.
#[derive(Debug)]
pub struct Target {
    pub endpoint: Endpoint,
    pub signer: Signer,
    user_agent: HeaderValue,
}

impl Target {
    pub fn new(endpoint: Endpoint, signer: Signer) -> Target {
        let user_agent = HeaderValue::from_static(concat!("eddy-bench/", env!("CARGO_PKG_VERSION")));
        Target { endpoint, signer, user_agent }
    }
}

/// A response: its status and whole body.
#[derive(Debug)]
pub struct Reply {
    pub status: u16,
    pub body: Bytes,
}

impl Reply {
    /// Whether the status is 2xx.
    pub fn is_success(&self) -> bool {
        (200..300).contains(&self.status)
    }

    /// The body as text, for messages.
    pub fn body_text(&self) -> String {
        String::from_utf8_lossy(&self.body).into_owned()
    }

    /// The `__type` of an error body, without its namespace, if the body has one.
    pub fn error_type(&self) -> Option<String> {
        let value: serde_json::Value = serde_json::from_slice(&self.body).ok()?;
        let full = value.get("__type")?.as_str()?;
        Some(full.rsplit('#').next().unwrap_or(full).to_string())
    }
}

/// One client connection, opened on first use and reopened after a failure.
#[derive(Debug)]
pub struct Client {
    target: Arc<Target>,
    sender: Option<SendRequest<Full<Bytes>>>,
}

impl Client {
    /// A client that connects lazily.
    pub fn new(target: Arc<Target>) -> Client {
        Client { target, sender: None }
    }

    /// Whether a connection is open.
    pub fn is_connected(&self) -> bool {
        self.sender.as_ref().is_some_and(|s| !s.is_closed())
    }

    /// Opens the connection now if it is not open, so that connecting is not timed as a request.
    pub async fn connect(&mut self) -> anyhow::Result<()> {
        if self.is_connected() {
            return Ok(());
        }
        self.sender = None;
        let endpoint = &self.target.endpoint;
        let stream = tokio::time::timeout(
            CONNECT_TIMEOUT,
            TcpStream::connect((endpoint.host.as_str(), endpoint.port)),
        )
        .await
        .with_context(|| format!("connecting to {}: timed out", endpoint.authority))?
        .with_context(|| format!("connecting to {}", endpoint.authority))?;
        // Requests are small and latency is what is measured: do not let Nagle hold them back.
        stream.set_nodelay(true)?;
        let (sender, connection) = hyper::client::conn::http1::handshake(TokioIo::new(stream)).await?;
        tokio::spawn(async move {
            // A broken connection shows up as an error of the next request; nothing to do here.
            let _ = connection.await;
        });
        self.sender = Some(sender);
        Ok(())
    }

    /// Sends one signed request and reads the whole response. A transport failure or timeout
    /// drops the connection so the next call reconnects.
    pub async fn call(&mut self, operation: Operation, body: Bytes) -> anyhow::Result<Reply> {
        match tokio::time::timeout(REQUEST_TIMEOUT, self.call_inner(operation, body)).await {
            Ok(Ok(reply)) => Ok(reply),
            Ok(Err(error)) => {
                self.sender = None;
                Err(error)
            }
            Err(_) => {
                self.sender = None;
                anyhow::bail!("{} timed out after {} s", operation.name(), REQUEST_TIMEOUT.as_secs())
            }
        }
    }

    async fn call_inner(&mut self, operation: Operation, body: Bytes) -> anyhow::Result<Reply> {
        self.connect().await?;
        let request = self.request(operation, body)?;
        self.send(request, operation.name()).await
    }

    /// Sends `request` on the open connection and reads the whole response; `what` names the
    /// request in the error of a failed send.
    async fn send(&mut self, request: Request<Full<Bytes>>, what: &str) -> anyhow::Result<Reply> {
        let Some(sender) = self.sender.as_mut() else {
            anyhow::bail!("connection to {} is not open", self.target.endpoint.authority);
        };
        sender.ready().await.context("connection closed")?;
        let response = sender.send_request(request).await.with_context(|| format!("{what} failed"))?;
        let status = response.status().as_u16();
        // The server may ask to close; honour it so the next call opens a fresh connection.
        let closing = response
            .headers()
            .get(hyper::header::CONNECTION)
            .is_some_and(|v| v.as_bytes().eq_ignore_ascii_case(b"close"));
        let body = response.into_body().collect().await.context("reading the response body")?.to_bytes();
        if closing {
            self.sender = None;
        }
        Ok(Reply { status, body })
    }

    /// Sends one request to Eddy's JSON API (`/v1/...`, under the endpoint's path) on this
    /// connection and reads the whole response; `body` is sent as `application/json`. Signed
    /// like the DynamoDB requests, though the `/v1` API does not ask for it.
    pub async fn rest(
        &mut self,
        method: Method,
        path_and_query: &str,
        body: Option<Bytes>,
    ) -> anyhow::Result<Reply> {
        let what = format!("{method} {path_and_query}");
        match tokio::time::timeout(REQUEST_TIMEOUT, self.rest_inner(method, path_and_query, body)).await {
            Ok(Ok(reply)) => Ok(reply),
            Ok(Err(error)) => {
                self.sender = None;
                Err(error)
            }
            Err(_) => {
                self.sender = None;
                anyhow::bail!("{what} timed out after {} s", REQUEST_TIMEOUT.as_secs())
            }
        }
    }

    async fn rest_inner(
        &mut self,
        method: Method,
        path_and_query: &str,
        body: Option<Bytes>,
    ) -> anyhow::Result<Reply> {
        self.connect().await?;
        let what = format!("{method} {path_and_query}");
        let target = &*self.target;
        let endpoint = &target.endpoint;
        let path = endpoint.path_for(path_and_query);
        let signed_uri = format!("http://{}{path}", endpoint.authority);
        let body = body.unwrap_or_default();
        let signed = [("host", endpoint.authority.as_str()), ("content-type", "application/json")];
        let added = target.signer.sign(method.as_str(), &signed_uri, &signed, &body, SystemTime::now())?;
        let mut request = Request::builder().method(method).uri(path.as_str());
        for (name, value) in signed {
            request = request.header(name, value);
        }
        request = request.header(hyper::header::USER_AGENT, target.user_agent.clone());
        for (name, value) in added {
            request = request.header(HeaderName::from_static(name), HeaderValue::try_from(value)?);
        }
        let request = request.body(Full::new(body))?;
        self.send(request, &what).await
    }

    fn request(&self, operation: Operation, body: Bytes) -> anyhow::Result<Request<Full<Bytes>>> {
        let target = &*self.target;
        let endpoint = &target.endpoint;
        let length = body.len().to_string();
        let signed = [
            ("host", endpoint.authority.as_str()),
            ("content-type", CONTENT_TYPE),
            ("x-amz-target", operation.target()),
            ("content-length", length.as_str()),
        ];
        let added = target.signer.sign("POST", &endpoint.signed_uri, &signed, &body, SystemTime::now())?;
        let mut request = Request::builder().method(Method::POST).uri(endpoint.path.as_str());
        for (name, value) in signed {
            request = request.header(name, value);
        }
        request = request.header(hyper::header::USER_AGENT, target.user_agent.clone());
        for (name, value) in added {
            request = request.header(HeaderName::from_static(name), HeaderValue::try_from(value)?);
        }
        Ok(request.body(Full::new(body))?)
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::Endpoint;

    #[test]
    fn endpoint_forms() {
        let e = Endpoint::parse("http://127.0.0.1:8000").unwrap();
        assert_eq!(
            (e.host.as_str(), e.port, e.authority.as_str(), e.path.as_str()),
            ("127.0.0.1", 8000, "127.0.0.1:8000", "/")
        );
        assert_eq!(e.url(), "http://127.0.0.1:8000/");
        assert_eq!(e.path_for("/v1/tables/t/stream?from=latest"), "/v1/tables/t/stream?from=latest");
        let e = Endpoint::parse("http://localhost/ddb").unwrap();
        assert_eq!((e.port, e.authority.as_str(), e.path.as_str()), (80, "localhost", "/ddb"));
        assert_eq!(e.path_for("/v1/x"), "/ddb/v1/x");
        let e = Endpoint::parse("http://[::1]:9000/").unwrap();
        assert_eq!((e.host.as_str(), e.authority.as_str()), ("::1", "[::1]:9000"));
        assert!(Endpoint::parse("https://example.com").is_err());
        assert!(Endpoint::parse("127.0.0.1:8000").is_err());
        assert!(Endpoint::parse("http://u:p@host:1").is_err());
        assert!(Endpoint::parse("not a url").is_err());
    }
}
