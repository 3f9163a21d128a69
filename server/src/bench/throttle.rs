//! A bandwidth-limiting TCP proxy for the slow-sink workloads: it listens on a free port of
//! 127.0.0.1 and forwards every connection to the sink, passing the bytes that go *to* the sink
//! (request bodies: S3 objects, `_bulk` bodies) through one token bucket shared by all
//! connections, so the sink takes data no faster than the set rate whatever the connector's
//! batch sizes. Answers come back unthrottled. Bytes are forwarded unchanged, so signed S3
//! requests stay valid (they are signed for the proxy's address, which is what the sink sees in
//! `Host`).

use std::net::SocketAddr;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use anyhow::Context as _;
use tokio::io::{AsyncReadExt as _, AsyncWriteExt as _};
use tokio::net::{TcpListener, TcpStream};
use tokio::task::JoinSet;
use tokio::time::Instant;

/// Bytes read from a client before they are passed on (one buffer per connection direction).
pub const CHUNK_BYTES: usize = 16 * 1024;
/// Connections open through the proxy at once; more are refused (closed at once).
pub const CONNECTIONS_MAX: usize = 64;
/// How long connecting to the sink may take.
const CONNECT_TIMEOUT: Duration = Duration::from_secs(5);

/// The shared token bucket: a rate in bytes per second (0: unlimited) and the time at which
/// the bytes granted so far will have gone out at that rate.
struct Limiter {
    bytes_per_sec: AtomicU64,
    next: Mutex<Option<Instant>>,
}

impl Limiter {
    /// Waits until `bytes` more may go out.
    async fn take(&self, bytes: usize) {
        let rate = self.bytes_per_sec.load(Ordering::Relaxed);
        if rate == 0 {
            return;
        }
        let cost = Duration::from_secs_f64(bytes as f64 / rate as f64);
        let until = {
            let mut next = self.next.lock().unwrap_or_else(|p| p.into_inner());
            let now = Instant::now();
            let start = next.map_or(now, |t| t.max(now));
            let until = start + cost;
            *next = Some(until);
            until
        };
        tokio::time::sleep_until(until).await;
    }
}

/// A running proxy; dropping it closes the listener and every connection.
pub struct Proxy {
    addr: SocketAddr,
    limiter: Arc<Limiter>,
    bytes_up: Arc<AtomicU64>,
    task: tokio::task::JoinHandle<()>,
}

impl Proxy {
    /// Starts a proxy to `upstream` (`host:port`), unlimited until [`Proxy::set_rate`].
    pub async fn start(upstream: String) -> anyhow::Result<Proxy> {
        let listener = TcpListener::bind("127.0.0.1:0").await.context("binding the sink proxy")?;
        let addr = listener.local_addr()?;
        let limiter = Arc::new(Limiter { bytes_per_sec: AtomicU64::new(0), next: Mutex::new(None) });
        let bytes_up = Arc::new(AtomicU64::new(0));
        let task = tokio::spawn(accept(listener, upstream, Arc::clone(&limiter), Arc::clone(&bytes_up)));
        Ok(Proxy { addr, limiter, bytes_up, task })
    }

    /// `http://127.0.0.1:<port>`.
    pub fn url(&self) -> String {
        format!("http://{}", self.addr)
    }

    /// Limits the bytes to the sink to `bytes_per_sec` (0: unlimited).
    pub fn set_rate(&self, bytes_per_sec: u64) {
        self.limiter.bytes_per_sec.store(bytes_per_sec, Ordering::Relaxed);
    }

    /// Bytes passed to the sink so far.
    pub fn bytes_up(&self) -> u64 {
        self.bytes_up.load(Ordering::Relaxed)
    }
}

impl Drop for Proxy {
    fn drop(&mut self) {
        // The accept task owns the connection tasks: aborting it drops them all.
        self.task.abort();
    }
}

async fn accept(listener: TcpListener, upstream: String, limiter: Arc<Limiter>, bytes_up: Arc<AtomicU64>) {
    let mut connections = JoinSet::new();
    loop {
        tokio::select! {
            accepted = listener.accept() => {
                let Ok((client, _)) = accepted else { continue };
                if connections.len() >= CONNECTIONS_MAX {
                    drop(client);
                    continue;
                }
                let (upstream, limiter, bytes_up) = (upstream.clone(), Arc::clone(&limiter), Arc::clone(&bytes_up));
                connections.spawn(async move {
                    if let Err(e) = forward(client, &upstream, &limiter, &bytes_up).await {
                        tracing::debug!("sink proxy connection to {upstream}: {e:#}");
                    }
                });
            }
            Some(_) = connections.join_next(), if !connections.is_empty() => {}
        }
    }
}

/// Forwards one connection until either side closes it.
async fn forward(
    client: TcpStream,
    upstream: &str,
    limiter: &Limiter,
    bytes_up: &AtomicU64,
) -> anyhow::Result<()> {
    let sink = tokio::time::timeout(CONNECT_TIMEOUT, TcpStream::connect(upstream))
        .await
        .with_context(|| format!("connecting to {upstream}: timed out"))?
        .with_context(|| format!("connecting to {upstream}"))?;
    client.set_nodelay(true)?;
    sink.set_nodelay(true)?;
    let (mut client_read, mut client_write) = client.into_split();
    let (mut sink_read, mut sink_write) = sink.into_split();
    let up = async {
        let mut buffer = vec![0u8; CHUNK_BYTES];
        loop {
            let n = client_read.read(&mut buffer).await?;
            if n == 0 {
                sink_write.shutdown().await?;
                return anyhow::Ok(());
            }
            limiter.take(n).await;
            sink_write.write_all(&buffer[..n]).await?;
            bytes_up.fetch_add(n as u64, Ordering::Relaxed);
        }
    };
    let down = async {
        let mut buffer = vec![0u8; CHUNK_BYTES];
        loop {
            let n = sink_read.read(&mut buffer).await?;
            if n == 0 {
                client_write.shutdown().await?;
                return anyhow::Ok(());
            }
            client_write.write_all(&buffer[..n]).await?;
        }
    };
    // Either side closing ends the connection; HTTP clients do not half-close.
    tokio::select! {
        r = up => r,
        r = down => r,
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use std::time::Duration;

    use tokio::io::{AsyncReadExt as _, AsyncWriteExt as _};
    use tokio::net::TcpListener;

    use super::Proxy;

    /// An echo server, the proxy in front of it, and 64 KiB sent through at 256 KiB/s: the
    /// bytes come back unchanged, after about a quarter of a second.
    #[tokio::test]
    async fn bytes_pass_unchanged_at_the_set_rate() {
        let echo = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let upstream = echo.local_addr().unwrap().to_string();
        tokio::spawn(async move {
            let (mut socket, _) = echo.accept().await.unwrap();
            let (mut r, mut w) = socket.split();
            tokio::io::copy(&mut r, &mut w).await.unwrap();
        });
        let proxy = Proxy::start(upstream).await.unwrap();
        proxy.set_rate(256 * 1024);
        let addr = proxy.url().trim_start_matches("http://").to_string();
        let mut client = tokio::net::TcpStream::connect(addr).await.unwrap();
        let sent: Vec<u8> = (0..64 * 1024).map(|i| (i % 251) as u8).collect();
        let started = tokio::time::Instant::now();
        let (mut r, mut w) = client.split();
        let send = async {
            w.write_all(&sent).await.unwrap();
        };
        let mut got = vec![0u8; sent.len()];
        let receive = async {
            r.read_exact(&mut got).await.unwrap();
        };
        tokio::join!(send, receive);
        let elapsed = started.elapsed();
        assert_eq!(got, sent);
        assert_eq!(proxy.bytes_up(), sent.len() as u64);
        assert!(elapsed >= Duration::from_millis(200), "{elapsed:?}: the rate was not applied");
        assert!(elapsed < Duration::from_secs(5), "{elapsed:?}");
    }
}
