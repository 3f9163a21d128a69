//! The client subcommands' HTTP client for the server's `/v1` API (`eddy trigger`, `eddy
//! connector`): one request per connection, JSON in and out, the server's message on errors.

use std::time::Duration;

use anyhow::Context as _;
use bytes::Bytes;
use http_body_util::{BodyExt as _, Full};
use hyper::http::{Request, Uri};
use hyper_util::rt::TokioIo;
use serde_json::Value;
use tokio::net::TcpStream;

/// Longest wait for one answer of the server.
pub const REQUEST_TIMEOUT: Duration = Duration::from_secs(60);

/// One-request-per-connection HTTP/1 client of the server's `/v1` API.
pub struct Client {
    host: String,
    port: u16,
    authority: String,
    base: String,
}

impl Client {
    pub fn new(endpoint: &str) -> anyhow::Result<Client> {
        let uri: Uri = endpoint.parse().with_context(|| format!("endpoint {endpoint:?} is not a URL"))?;
        if uri.scheme_str() != Some("http") {
            anyhow::bail!("endpoint {endpoint:?}: only http:// endpoints are supported");
        }
        let authority = uri.authority().with_context(|| format!("endpoint {endpoint:?} lacks a host"))?;
        Ok(Client {
            host: authority.host().trim_start_matches('[').trim_end_matches(']').to_string(),
            port: authority.port_u16().unwrap_or(80),
            authority: authority.as_str().to_string(),
            base: uri.path().trim_end_matches('/').to_string(),
        })
    }

    /// Sends one request; a non-2xx answer is an error carrying the server's message.
    pub async fn call(&self, method: &str, path: &str, body: Option<Value>) -> anyhow::Result<Value> {
        let exchange = async {
            let stream = TcpStream::connect((self.host.as_str(), self.port))
                .await
                .with_context(|| format!("connecting to {}", self.authority))?;
            let (mut sender, connection) =
                hyper::client::conn::http1::handshake::<_, Full<Bytes>>(TokioIo::new(stream)).await?;
            tokio::spawn(async move {
                let _ = connection.await;
            });
            let bytes = body.map(|b| b.to_string()).unwrap_or_default();
            let request = Request::builder()
                .method(method)
                .uri(format!("{}{path}", self.base))
                .header(hyper::header::HOST, self.authority.as_str())
                .header(hyper::header::CONTENT_TYPE, "application/json")
                .header(hyper::header::USER_AGENT, concat!("eddy-cli/", env!("CARGO_PKG_VERSION")))
                .body(Full::new(Bytes::from(bytes)))?;
            let response = sender.send_request(request).await?;
            let status = response.status();
            let body = response.into_body().collect().await?.to_bytes();
            anyhow::Ok((status, body))
        };
        let (status, body) = tokio::time::timeout(REQUEST_TIMEOUT, exchange)
            .await
            .with_context(|| format!("no answer from {} within {REQUEST_TIMEOUT:?}", self.authority))??;
        let value: Value = serde_json::from_slice(&body).unwrap_or(Value::Null);
        if !status.is_success() {
            let message = value["message"]
                .as_str()
                .map(str::to_string)
                .unwrap_or_else(|| String::from_utf8_lossy(&body).into_owned());
            anyhow::bail!("the server answered {status}: {message}");
        }
        Ok(value)
    }
}
