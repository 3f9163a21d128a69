//! `eddy serve`: opens the store, listens, serves until SIGINT or SIGTERM, then drains
//! in-flight requests and stops the writer after its last commit.

use std::sync::Arc;

use anyhow::Context;
use axum::serve::ListenerExt;
use eddy_core::{Clock, Limits, Store, SystemClock};

use crate::app::{AppState, app};
use crate::config::ServeConfig;
use crate::dev_clock::DevClock;

/// Runs the server until a shutdown signal.
pub async fn serve(config: ServeConfig) -> anyhow::Result<()> {
    let limits =
        Limits { retention: config.retention, shard_period: config.shard_period, ..Limits::default() };
    let dev_clock = config.dev_clock.then(|| Arc::new(DevClock::default()));
    let clock: Arc<dyn Clock> = match &dev_clock {
        Some(c) => c.clone(),
        None => Arc::new(SystemClock),
    };
    let store = Store::open(&config.data_dir, limits, clock)
        .with_context(|| format!("cannot open the data dir {}", config.data_dir.display()))?;
    let listener = tokio::net::TcpListener::bind(config.listen)
        .await
        .with_context(|| format!("cannot listen on {}", config.listen))?;
    let local = listener.local_addr()?;
    let data_dir = std::fs::canonicalize(&config.data_dir).unwrap_or_else(|_| config.data_dir.clone());
    println!("eddy {} listening on http://{local}", env!("CARGO_PKG_VERSION"));
    println!(
        "data in {} (format {}), region {}, account {}",
        data_dir.display(),
        eddy_core::store::layout::FORMAT_VERSION,
        config.identity.region,
        config.identity.account_id
    );
    if dev_clock.is_some() {
        println!("dev clock on: POST /v1/dev/clock moves the server's clock forward");
    }
    let triggers = eddy_triggers::TriggerManager::start(
        store.clone(),
        eddy_triggers::ManagerConfig {
            region: config.identity.region.clone(),
            account_id: config.identity.account_id.clone(),
            runtime: eddy_triggers::RuntimeConfig {
                // wasmtime's cache wants an absolute directory.
                cache_dir: Some(std::path::absolute(&data_dir)?.join(TRIGGER_CACHE_DIR)),
                ..eddy_triggers::RuntimeConfig::default()
            },
        },
    )
    .await
    .context("cannot start the triggers")?;
    let exports = eddy_connectors::export::Exports::open(
        store.clone(),
        eddy_connectors::export::ExportsConfig {
            region: config.identity.region.clone(),
            account_id: config.identity.account_id.clone(),
            limits: eddy_connectors::export::ExportLimits::from_env(),
            default_destination: eddy_connectors::export::Destination::from_env(),
        },
    )
    .await
    .context("cannot open the table exports")?;
    let connectors = eddy_connectors::ConnectorManager::start(
        store.clone(),
        eddy_connectors::ManagerConfig { region: config.identity.region.clone() },
    )
    .await
    .context("cannot start the connectors")?;
    let state = AppState::new(store.clone(), config.identity.clone())
        .with_dev_clock(dev_clock)
        .with_triggers(triggers.clone())
        .with_exports(exports.clone())
        .with_connectors(connectors.clone());
    let trimmer = tokio::spawn(trim_forever(store.clone()));
    let stopping = state.clone();
    // Without TCP_NODELAY, Nagle's algorithm holds small writes (an SSE event, a small response)
    // until the peer's delayed ACK: tens of milliseconds of added latency.
    let listener = listener.tap_io(|tcp| {
        if let Err(e) = tcp.set_nodelay(true) {
            tracing::warn!("cannot set TCP_NODELAY: {e}");
        }
    });
    axum::serve(listener, app(state))
        .with_graceful_shutdown(async move {
            shutdown_signal().await;
            // Streaming subscriptions never finish on their own; end them so the drain can.
            stopping.stop_subscriptions();
        })
        .await
        .context("server failed")?;
    trimmer.abort();
    // Each trigger finishes the batch in flight; its checkpoint commits before the writer stops.
    triggers.shutdown().await;
    drop(triggers);
    // Each connector finishes (or abandons, idempotently) its step; its checkpoint stays.
    connectors.shutdown().await;
    drop(connectors);
    // A running export ends with the process; it is marked FAILED at the next start.
    exports.shutdown();
    drop(exports);
    println!("eddy stopped; every acknowledged write is on disk");
    tokio::task::spawn_blocking(move || store.shutdown()).await.ok();
    Ok(())
}

/// Directory under the data dir holding compiled trigger modules, so a restart does not
/// recompile them.
pub const TRIGGER_CACHE_DIR: &str = "trigger-cache";

/// How often expired change records are trimmed.
pub const TRIM_INTERVAL: std::time::Duration = std::time::Duration::from_secs(60);

/// Trims expired change records every [`TRIM_INTERVAL`], in bounded steps between writes.
async fn trim_forever(store: Store) {
    let mut interval = tokio::time::interval(TRIM_INTERVAL);
    loop {
        interval.tick().await;
        if let Err(e) = store.trim_all().await {
            tracing::warn!("trimming expired change records failed: {e}");
        }
    }
}

async fn shutdown_signal() {
    let interrupt = async {
        if let Err(e) = tokio::signal::ctrl_c().await {
            tracing::error!("cannot listen for SIGINT: {e}");
            std::future::pending::<()>().await;
        }
    };
    let terminate = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut s) => {
                s.recv().await;
            }
            Err(e) => {
                tracing::error!("cannot listen for SIGTERM: {e}");
                std::future::pending::<()>().await;
            }
        }
    };
    tokio::select! {
        () = interrupt => {},
        () = terminate => {},
    }
    println!("eddy shutting down: finishing in-flight requests");
}
