//! `--workload stream-latency`: how long after a write is acknowledged its change record reaches
//! a subscriber of `GET /v1/tables/{table}/stream?from=latest&format=sse`.
//!
//! One subscriber reads the SSE body on a thread of its own (so its clock readings do not queue
//! behind the writers' tasks) and stamps each event with the instant the piece of body that
//! completed it arrived. Writers send PutItem open-loop: write `i` is due at `i / rate` seconds
//! after the start, whichever of the `--concurrency` connections is free takes it, and a write
//! that goes out late is still measured from its due time, so a stalled server shows as latency
//! instead of as fewer requests (no coordinated omission). Each write's partition key
//! `sl-<run>-<i>` is unique, so its record's `dynamodb.Keys` names the write it belongs to.
//!
//! Reported, over the writes due after the warmup: `PutItem` (due time to acknowledgement),
//! `ack->event` (acknowledgement to event, the figure the target is stated for; an event that
//! beats its acknowledgement counts as 0 and is counted) and `due->event` (due time to event).
//!
//! `--workload trigger-latency` runs the same writers and subscriber with a trigger in between
//! ([`Via::Trigger`]): a trigger on the table (BatchSize 1, no batching window, LATEST) writes
//! each record's key back into a second table, the sink, and the subscription follows the sink.
//! Its `ack->write-back` row is the time from a write's acknowledgement to its trigger's
//! write-back on the sink's stream: the trigger's wake-up, read, invocation and the commit of the
//! write-back with the trigger's checkpoint (fsynced like any commit), and the sink's event.

use std::borrow::Cow;
use std::fmt::Write as _;
use std::io::Write as _;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::{Duration, Instant, SystemTime};

use anyhow::Context as _;
use hdrhistogram::Histogram;
use http_body_util::BodyExt as _;
use serde::Deserialize;
use tokio::sync::{oneshot, watch};

use super::client::{self, Client, Operation, Target};
use super::keys::Bodies;
use super::report::{OpResult, Report};
use super::sse;
use super::table;
use super::trigger;

/// How long the probe write's event may take to show that the subscription is live.
const PROBE_WAIT: Duration = Duration::from_secs(10);
/// How long after the last acknowledgement events may still arrive (stream-latency), or how
/// long the trigger's write-backs may pause before the rest count as missing (trigger-latency).
const DRAIN_WAIT: Duration = Duration::from_secs(10);
/// Longest drain of a trigger that keeps making progress behind the writes.
const TRIGGER_DRAIN_MAX: Duration = Duration::from_secs(600);
/// A write this late for its due time is not sent (the server is far behind the rate).
const LATE_SEND_MAX: Duration = Duration::from_secs(30);
/// Most writes in one run: two 8-byte stamps per write are kept.
const WRITES_MAX: u64 = 20_000_000;
/// The stated target: ack->event p99 under this many milliseconds ...
pub const TARGET_P99_MS: f64 = 5.0;
/// ... and commit->invocation p99 of trigger-latency under this many (measured by the server,
/// read from the trigger's status; ack->write-back is reported against it as the end-to-end
/// bound, which adds the write-back's own durable commit) ...
pub const TRIGGER_TARGET_P99_MS: f64 = 10.0;
/// ... at this many writes per second.
pub const TARGET_RATE: u64 = 10_000;
/// Latencies above an hour (in µs) are recorded as an hour.
const LATENCY_MAX_US: u64 = 3_600_000_000;

/// How the workload runs.
#[derive(Debug, Clone)]
pub struct Plan {
    /// The table, created afresh with a stream.
    pub table: String,
    pub rate: u64,
    /// Writer connections.
    pub concurrency: usize,
    pub warmup: Duration,
    pub duration: Duration,
    pub value_bytes: u64,
    /// What is between the writes and the subscription.
    pub via: Via,
}

/// What the subscriber follows.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Via {
    /// The table's own stream: one event per write (`stream-latency`).
    Stream,
    /// A trigger named `trigger` on the table that copies each record's key into `sink`, whose
    /// stream the subscriber follows (`trigger-latency`).
    Trigger { trigger: String, sink: String },
}

impl Via {
    /// The workload's name in the report.
    pub fn workload(&self) -> &'static str {
        match self {
            Via::Stream => "stream-latency",
            Via::Trigger { .. } => "trigger-latency",
        }
    }

    /// What arrives on the subscription for each write, in the report.
    fn observed(&self) -> &'static str {
        match self {
            Via::Stream => "event",
            Via::Trigger { .. } => "write-back",
        }
    }

    /// The report's rows: acknowledgement to observation, due time to observation.
    fn rows(&self) -> (&'static str, &'static str) {
        match self {
            Via::Stream => ("ack->event", "due->event"),
            Via::Trigger { .. } => ("ack->write-back", "due->write-back"),
        }
    }

    /// The p99 the target is stated for, in milliseconds.
    fn target_p99_ms(&self) -> f64 {
        match self {
            Via::Stream => TARGET_P99_MS,
            Via::Trigger { .. } => TRIGGER_TARGET_P99_MS,
        }
    }

    /// The start of every key of a run.
    fn key_prefix(&self) -> &'static str {
        match self {
            Via::Stream => "sl",
            Via::Trigger { .. } => "tl",
        }
    }
}

impl Plan {
    /// The table the subscriber follows.
    fn events_table(&self) -> &str {
        match &self.via {
            Via::Stream => &self.table,
            Via::Trigger { sink, .. } => sink,
        }
    }

    /// Writes scheduled over the warmup and the measured time.
    fn total_writes(&self) -> u64 {
        (u128::from(self.rate) * (self.warmup + self.duration).as_nanos() / 1_000_000_000) as u64
    }

    /// The first write due after the warmup.
    fn first_measured(&self) -> u64 {
        (u128::from(self.rate) * self.warmup.as_nanos() / 1_000_000_000) as u64
    }

    /// When write `index` is due, in nanoseconds after the start.
    fn due_ns(&self, index: u64) -> u64 {
        (u128::from(index) * 1_000_000_000 / u128::from(self.rate.max(1))) as u64
    }
}

/// One instant per write, in nanoseconds after the run's origin, written once from any thread.
struct Stamps(Box<[AtomicU64]>);

impl Stamps {
    fn new(len: u64) -> Stamps {
        Stamps((0..len).map(|_| AtomicU64::new(0)).collect())
    }

    /// Records `ns` for write `index` unless it has a stamp already; false if it had.
    fn set(&self, index: u64, ns: u64) -> bool {
        let Some(slot) = self.0.get(index as usize) else { return false };
        // 0 means "none", so stamps are stored plus one.
        slot.compare_exchange(0, ns.saturating_add(1), Ordering::Relaxed, Ordering::Relaxed).is_ok()
    }

    fn snapshot(&self) -> Vec<Option<u64>> {
        self.0.iter().map(|s| s.load(Ordering::Relaxed).checked_sub(1)).collect()
    }
}

/// What the writers and the subscriber share.
struct Shared {
    origin: Instant,
    /// The partition key prefix of this run's writes, `sl-<run>-` (`tl-<run>-` for triggers).
    prefix: String,
    total: u64,
    acks: Stamps,
    events: Stamps,
    sent: AtomicU64,
    acked: AtomicU64,
    failed: AtomicU64,
    late_unsent: AtomicU64,
    /// Events of this run's writes, each counted once.
    events_ours: AtomicU64,
    duplicates: AtomicU64,
    /// Record events of other keys (other writers of the table).
    foreign: AtomicU64,
    /// Record events whose data has no `dynamodb.Keys.pk.S`.
    unreadable: AtomicU64,
    probe_seen: AtomicBool,
    error_printed: AtomicBool,
}

impl Shared {
    fn ns(&self, at: Instant) -> u64 {
        at.saturating_duration_since(self.origin).as_nanos() as u64
    }
}

/// Runs the workload.
pub async fn run(plan: &Plan, target: &Arc<Target>) -> anyhow::Result<Report> {
    let name = plan.via.workload();
    let total = plan.total_writes();
    if total > WRITES_MAX {
        anyhow::bail!(
            "{name}: {} writes/s for {} s is {total} writes; at most {WRITES_MAX} per run",
            plan.rate,
            (plan.warmup + plan.duration).as_secs()
        );
    }
    let bodies = Arc::new(Bodies::new(&plan.table, plan.value_bytes as usize));
    let mut control = Client::new(Arc::clone(target));
    match &plan.via {
        Via::Stream => table::recreate_with_stream(&mut control, &bodies, &plan.table).await?,
        Via::Trigger { trigger, sink } => {
            // The trigger goes first: deleting its table under it would fail it.
            trigger::delete_if_present(&mut control, trigger).await?;
            table::recreate_with_stream(&mut control, &bodies, &plan.table).await?;
            let sink_bodies = Bodies::new(sink, 0);
            table::recreate_with_stream(&mut control, &sink_bodies, sink).await?;
            let module = trigger::write_back_wat(sink);
            let body = trigger::registration(&plan.table, trigger::Module::Wat(&module), "LATEST", 1);
            trigger::register(&mut control, trigger, &body).await?;
            eprintln!(
                "registered trigger {trigger} on {} (BatchSize 1, no batching window, LATEST): one put_item \
                 of each record's key into {sink}",
                plan.table
            );
        }
    }

    let run_id = SystemTime::now().duration_since(SystemTime::UNIX_EPOCH).map_or(1, |d| d.as_nanos() as u64);
    let shared = Arc::new(Shared {
        origin: Instant::now(),
        prefix: format!("{}-{:08x}-", plan.via.key_prefix(), run_id as u32),
        total,
        acks: Stamps::new(total),
        events: Stamps::new(total),
        sent: AtomicU64::new(0),
        acked: AtomicU64::new(0),
        failed: AtomicU64::new(0),
        late_unsent: AtomicU64::new(0),
        events_ours: AtomicU64::new(0),
        duplicates: AtomicU64::new(0),
        foreign: AtomicU64::new(0),
        unreadable: AtomicU64::new(0),
        probe_seen: AtomicBool::new(false),
        error_printed: AtomicBool::new(false),
    });

    // The writers' clients connect now, so connecting is not measured.
    let mut clients = Vec::with_capacity(plan.concurrency);
    for _ in 0..plan.concurrency {
        let mut client = Client::new(Arc::clone(target));
        client.connect().await?;
        clients.push(client);
    }

    let path = format!("/v1/tables/{}/stream?from=latest&format=sse", plan.events_table());
    let (stop_tx, stop_rx) = watch::channel(false);
    let (ready_tx, ready_rx) = oneshot::channel();
    let reader = {
        let (target, shared) = (Arc::clone(target), Arc::clone(&shared));
        std::thread::Builder::new().name("bench-sse".into()).spawn(move || {
            let runtime = tokio::runtime::Builder::new_current_thread().enable_all().build()?;
            runtime.block_on(subscribe(target, path, shared, stop_rx, ready_tx))
        })?
    };
    ready_rx.await.context("the subscriber thread stopped before the stream opened")??;

    // A probe write whose event shows that the subscription is live before the clock starts.
    let probe = control.call(Operation::PutItem, bodies.put_key(&format!("{}probe", shared.prefix))).await?;
    if !probe.is_success() {
        anyhow::bail!("{name} probe PutItem: HTTP {}: {}", probe.status, probe.body_text());
    }
    let probe_sent = Instant::now();
    while !shared.probe_seen.load(Ordering::Acquire) {
        if reader.is_finished() || probe_sent.elapsed() > PROBE_WAIT {
            let _ = stop_tx.send(true);
            let why = match join_reader(reader).await {
                Ok(Some(why)) => why,
                Ok(None) => "no event".to_string(),
                Err(e) => format!("{e:#}"),
            };
            anyhow::bail!(
                "{name}: the probe write's {} did not arrive on the subscription within {} s: {why}",
                plan.via.observed(),
                PROBE_WAIT.as_secs()
            );
        }
        tokio::time::sleep(Duration::from_millis(1)).await;
    }

    // Write i is due at start + due_ns(i); stamps count from the shared origin.
    let start = Instant::now() + Duration::from_millis(20);
    let start_ns = shared.ns(start);
    eprintln!(
        "{name}: {} writes/s over {} connections, {} s warmup + {} s measured ({total} writes)",
        plan.rate,
        plan.concurrency,
        plan.warmup.as_secs(),
        plan.duration.as_secs()
    );
    let plan = Arc::new(plan.clone());
    let next = Arc::new(AtomicU64::new(0));
    let mut writers = tokio::task::JoinSet::new();
    for client in clients {
        let writer = Writer {
            client,
            bodies: Arc::clone(&bodies),
            shared: Arc::clone(&shared),
            plan: Arc::clone(&plan),
            next: Arc::clone(&next),
            start,
        };
        writers.spawn(writer.run());
    }
    let ticker = tokio::spawn(print_progress(Arc::clone(&shared), Arc::clone(&plan), start));
    while let Some(joined) = writers.join_next().await {
        joined?;
    }
    let acked = shared.acked.load(Ordering::Relaxed);
    let drain_from = Instant::now();
    // A trigger may be far behind the writes and still be working through them: its drain
    // lasts while write-backs keep arriving.
    let mut progress = (shared.events_ours.load(Ordering::Relaxed), Instant::now());
    loop {
        let seen = shared.events_ours.load(Ordering::Relaxed);
        if seen >= acked || reader.is_finished() {
            break;
        }
        if seen != progress.0 {
            progress = (seen, Instant::now());
        }
        let waited_out = match plan.via {
            Via::Stream => drain_from.elapsed() >= DRAIN_WAIT,
            Via::Trigger { .. } => {
                progress.1.elapsed() >= DRAIN_WAIT || drain_from.elapsed() >= TRIGGER_DRAIN_MAX
            }
        };
        if waited_out {
            break;
        }
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
    let drained_in = drain_from.elapsed();
    ticker.abort();
    let _ = stop_tx.send(true);
    let ended = join_reader(reader).await?;

    let mut extra = String::new();
    if let Via::Trigger { trigger, .. } = &plan.via {
        let _ = writeln!(
            extra,
            "drain: {:.2} s from the last write's acknowledgement to the last write-back",
            drained_in.as_secs_f64()
        );
        match trigger::status(&mut control, trigger).await {
            Ok(status) => {
                let _ = writeln!(extra, "trigger {trigger}: {}", status.summary());
                let _ = writeln!(extra, "{}", invocation_delay_lines(&status, plan.rate));
            }
            Err(e) => {
                let _ = writeln!(extra, "trigger {trigger}: status unavailable: {e:#}");
            }
        }
        trigger::delete_if_present(&mut control, trigger).await?;
    }

    let matched = match_writes(
        &shared.acks.snapshot(),
        &shared.events.snapshot(),
        |i| start_ns + plan.due_ns(i),
        plan.first_measured(),
    );
    let mut report = report(&plan, &shared, &matched, ended, start_ns);
    report.notes.push_str(&extra);
    Ok(report)
}

async fn join_reader(
    reader: std::thread::JoinHandle<anyhow::Result<Option<String>>>,
) -> anyhow::Result<Option<String>> {
    match tokio::task::spawn_blocking(move || reader.join()).await? {
        Ok(result) => result,
        Err(_) => anyhow::bail!("the subscriber thread panicked"),
    }
}

/// One writer connection: takes the next due write, waits for its due time, sends it.
struct Writer {
    client: Client,
    bodies: Arc<Bodies>,
    shared: Arc<Shared>,
    plan: Arc<Plan>,
    next: Arc<AtomicU64>,
    start: Instant,
}

impl Writer {
    async fn run(mut self) {
        let shared = &*self.shared;
        loop {
            let index = self.next.fetch_add(1, Ordering::Relaxed);
            if index >= shared.total {
                return;
            }
            let due = self.start + Duration::from_nanos(self.plan.due_ns(index));
            tokio::time::sleep_until(due.into()).await;
            if due.elapsed() > LATE_SEND_MAX {
                shared.late_unsent.fetch_add(1, Ordering::Relaxed);
                continue;
            }
            let body = self.bodies.put_key(&format!("{}{index}", shared.prefix));
            shared.sent.fetch_add(1, Ordering::Relaxed);
            let error = match self.client.call(Operation::PutItem, body).await {
                Ok(reply) if reply.is_success() => {
                    let acked = Instant::now();
                    shared.acks.set(index, shared.ns(acked));
                    shared.acked.fetch_add(1, Ordering::Relaxed);
                    continue;
                }
                Ok(reply) => format!("HTTP {}: {}", reply.status, reply.body_text()),
                Err(error) => format!("{error:#}"),
            };
            shared.failed.fetch_add(1, Ordering::Relaxed);
            if !shared.error_printed.swap(true, Ordering::Relaxed) {
                eprintln!("{} PutItem: first error: {error}", self.plan.via.workload());
            }
            // A server that refuses connections would otherwise be hammered in a loop.
            if !self.client.is_connected() {
                tokio::time::sleep(Duration::from_millis(50)).await;
            }
        }
    }
}

/// The subscriber: opens the stream, reports on `ready` whether it opened, then stamps events
/// until `stop` or the end of the stream. Returns why the stream ended if not by `stop`.
async fn subscribe(
    target: Arc<Target>,
    path: String,
    shared: Arc<Shared>,
    mut stop: watch::Receiver<bool>,
    ready: oneshot::Sender<anyhow::Result<()>>,
) -> anyhow::Result<Option<String>> {
    let mut body = match open(&target, &path).await {
        Ok(body) => {
            let _ = ready.send(Ok(()));
            body
        }
        Err(error) => {
            let _ = ready.send(Err(error));
            return Ok(None);
        }
    };
    let mut parser = sse::Parser::new();
    let mut ended = None;
    loop {
        let frame = tokio::select! {
            biased;
            _ = stop.changed() => return Ok(None),
            frame = body.frame() => frame,
        };
        let frame = match frame {
            None => return Ok(Some("the server closed the stream".to_string())),
            Some(frame) => frame.context("reading the event stream")?,
        };
        // One reading of the clock for every event this piece completes.
        let arrived = shared.ns(Instant::now());
        let Some(data) = frame.data_ref() else { continue };
        parser.push(data, |event| on_event(&shared, event, arrived, &mut ended))?;
        if ended.is_some() {
            return Ok(ended);
        }
    }
}

async fn open(target: &Target, path: &str) -> anyhow::Result<hyper::body::Incoming> {
    let response = client::open_stream(target, path, "text/event-stream").await?;
    let status = response.status();
    if !status.is_success() {
        let body = tokio::time::timeout(client::REQUEST_TIMEOUT, response.into_body().collect())
            .await
            .ok()
            .and_then(Result::ok)
            .map(|b| String::from_utf8_lossy(&b.to_bytes()).into_owned())
            .unwrap_or_default();
        anyhow::bail!("GET {path}: HTTP {}: {body}", status.as_u16());
    }
    let content_type = response.headers().get(hyper::header::CONTENT_TYPE).and_then(|v| v.to_str().ok());
    if !content_type.is_some_and(|t| t.starts_with("text/event-stream")) {
        anyhow::bail!("GET {path}: Content-Type {content_type:?}, not text/event-stream");
    }
    Ok(response.into_body())
}

fn on_event(shared: &Shared, event: sse::Event<'_>, arrived: u64, ended: &mut Option<String>) {
    match event.event {
        "record" => {
            let Some(pk) = record_pk(event.data) else {
                shared.unreadable.fetch_add(1, Ordering::Relaxed);
                return;
            };
            match classify(&shared.prefix, &pk, shared.total) {
                Key::Probe => shared.probe_seen.store(true, Ordering::Release),
                Key::Write(index) => {
                    if shared.events.set(index, arrived) {
                        shared.events_ours.fetch_add(1, Ordering::Relaxed);
                    } else {
                        shared.duplicates.fetch_add(1, Ordering::Relaxed);
                    }
                }
                Key::Other => {
                    shared.foreign.fetch_add(1, Ordering::Relaxed);
                }
            }
        }
        "end" | "error" => {
            *ended = Some(format!("{} event: {}", event.event, String::from_utf8_lossy(event.data)));
        }
        _ => {}
    }
}

#[derive(Deserialize)]
struct RecordKeys<'a> {
    #[serde(borrow)]
    dynamodb: StreamRecordKeys<'a>,
}

#[derive(Deserialize)]
struct StreamRecordKeys<'a> {
    #[serde(rename = "Keys", borrow)]
    keys: PartitionKey<'a>,
}

#[derive(Deserialize)]
struct PartitionKey<'a> {
    #[serde(borrow)]
    pk: StringValue<'a>,
}

#[derive(Deserialize)]
struct StringValue<'a> {
    #[serde(rename = "S", borrow)]
    s: Cow<'a, str>,
}

/// The partition key `pk` (type S) in `dynamodb.Keys` of a DynamoDB Streams record's JSON.
pub fn record_pk(data: &[u8]) -> Option<Cow<'_, str>> {
    serde_json::from_slice::<RecordKeys<'_>>(data).ok().map(|r| r.dynamodb.keys.pk.s)
}

/// Whose a record is, by its partition key.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Key {
    /// The write that shows the subscription is live.
    Probe,
    /// Write `i` of this run.
    Write(u64),
    /// Not this run's.
    Other,
}

/// Classifies the partition key `pk` against this run's `prefix` and `total` writes.
pub fn classify(prefix: &str, pk: &str, total: u64) -> Key {
    match pk.strip_prefix(prefix) {
        Some("probe") => Key::Probe,
        Some(rest) if !rest.is_empty() && rest.bytes().all(|b| b.is_ascii_digit()) => match rest.parse() {
            Ok(index) if index < total => Key::Write(index),
            _ => Key::Other,
        },
        _ => Key::Other,
    }
}

/// Acknowledgements and events matched write by write.
#[derive(Debug)]
pub struct Matched {
    /// Writes acknowledged, and events received for writes of this run (warmup included).
    pub acked: u64,
    pub events: u64,
    /// Writes with both an acknowledgement and an event.
    pub matched: u64,
    /// Of those, events that arrived before the acknowledgement.
    pub early: u64,
    /// Acknowledged writes without an event.
    pub missing: u64,
    /// Events of writes that were never acknowledged (the request failed after the commit).
    pub unacked_events: u64,
    /// Acknowledged writes due after the warmup, and of those, the ones with an event.
    pub measured_acked: u64,
    pub measured_matched: u64,
    /// Latest acknowledgement of a measured write, nanoseconds after the origin.
    pub last_measured_ack_ns: Option<u64>,
    /// Microseconds, measured writes only: due time to acknowledgement, acknowledgement to event
    /// (0 when the event came first), due time to event.
    pub put: Histogram<u64>,
    pub ack_to_event: Histogram<u64>,
    pub due_to_event: Histogram<u64>,
}

fn histogram() -> Histogram<u64> {
    // The bounds are constants that hdrhistogram accepts.
    #[allow(clippy::unwrap_used)]
    Histogram::new_with_bounds(1, LATENCY_MAX_US, 3).unwrap()
}

/// Matches write `i`'s acknowledgement `acks[i]` with its event `events[i]` (nanoseconds after
/// the origin, `None` when absent); `due_ns(i)` is when write `i` was due. Latencies are
/// recorded for the writes from `first_measured` on.
pub fn match_writes(
    acks: &[Option<u64>],
    events: &[Option<u64>],
    due_ns: impl Fn(u64) -> u64,
    first_measured: u64,
) -> Matched {
    let us = |ns: u64| ns / 1000;
    let mut m = Matched {
        acked: 0,
        events: 0,
        matched: 0,
        early: 0,
        missing: 0,
        unacked_events: 0,
        measured_acked: 0,
        measured_matched: 0,
        last_measured_ack_ns: None,
        put: histogram(),
        ack_to_event: histogram(),
        due_to_event: histogram(),
    };
    let len = acks.len().max(events.len());
    for i in 0..len {
        let ack = acks.get(i).copied().flatten();
        let event = events.get(i).copied().flatten();
        let index = i as u64;
        let measured = index >= first_measured;
        let due = due_ns(index);
        if let Some(ack) = ack {
            m.acked += 1;
            if measured {
                m.measured_acked += 1;
                m.put.saturating_record(us(ack.saturating_sub(due)));
                m.last_measured_ack_ns = Some(m.last_measured_ack_ns.map_or(ack, |last| last.max(ack)));
            }
        }
        if event.is_some() {
            m.events += 1;
        }
        match (ack, event) {
            (Some(ack), Some(event)) => {
                m.matched += 1;
                if event < ack {
                    m.early += 1;
                }
                if measured {
                    m.measured_matched += 1;
                    m.ack_to_event.saturating_record(us(event.saturating_sub(ack)));
                    m.due_to_event.saturating_record(us(event.saturating_sub(due)));
                }
            }
            (Some(_), None) => m.missing += 1,
            (None, Some(_)) => m.unacked_events += 1,
            (None, None) => {}
        }
    }
    m
}

fn report(plan: &Plan, shared: &Shared, m: &Matched, ended: Option<String>, start_ns: u64) -> Report {
    let name = plan.via.workload();
    let observed = plan.via.observed();
    let (ack_row, due_row) = plan.via.rows();
    let target_p99_ms = plan.via.target_p99_ms();
    let due_from = start_ns + plan.due_ns(plan.first_measured());
    // The measured span runs from the first measured due time to the last measured
    // acknowledgement, so a server that falls behind the rate shows a lower achieved rate.
    let span = Duration::from_nanos(
        m.last_measured_ack_ns
            .map_or(0, |last| last.saturating_sub(due_from))
            .max(plan.duration.as_nanos() as u64),
    );
    let failed = shared.failed.load(Ordering::Relaxed);
    let achieved = m.measured_acked as f64 / span.as_secs_f64().max(1e-9);
    let rows = vec![
        OpResult {
            workload: name,
            operation: "PutItem",
            concurrency: plan.concurrency,
            duration: span,
            ops: m.measured_acked,
            errors: failed,
            latency: m.put.clone(),
        },
        OpResult {
            workload: name,
            operation: ack_row,
            concurrency: 1,
            duration: span,
            ops: m.measured_matched,
            errors: m.missing,
            latency: m.ack_to_event.clone(),
        },
        OpResult {
            workload: name,
            operation: due_row,
            concurrency: 1,
            duration: span,
            ops: m.measured_matched,
            errors: m.missing,
            latency: m.due_to_event.clone(),
        },
    ];
    let p99 = (m.measured_matched > 0).then(|| m.ack_to_event.value_at_quantile(0.99) as f64 / 1000.0);
    let (late, duplicates, foreign, unreadable) = (
        shared.late_unsent.load(Ordering::Relaxed),
        shared.duplicates.load(Ordering::Relaxed),
        shared.foreign.load(Ordering::Relaxed),
        shared.unreadable.load(Ordering::Relaxed),
    );
    let mut notes = String::new();
    let _ = writeln!(
        notes,
        "writes: {} scheduled at {}/s, {} acknowledged, {failed} failed, {late} not sent (over {} s late); \
         achieved {achieved:.1} writes/s over the measured {:.2} s",
        shared.total,
        plan.rate,
        m.acked,
        LATE_SEND_MAX.as_secs(),
        span.as_secs_f64()
    );
    let _ = writeln!(
        notes,
        "{observed}s: {} received for {} acknowledged writes ({}); {} arrived before their ack (counted as 0 ms)",
        m.events,
        m.acked,
        if m.matched == m.acked && m.events == m.acked { "equal" } else { "NOT equal" },
        m.early,
    );
    let _ = writeln!(
        notes,
        "        {} acknowledged writes without {observed}, {} {observed}s of unacknowledged writes, {duplicates} \
         duplicate, {foreign} foreign, {unreadable} unreadable",
        m.missing, m.unacked_events
    );
    let verdict = match p99 {
        Some(p99) if plan.rate >= TARGET_RATE && p99 < target_p99_ms => format!("met ({p99:.2} ms)"),
        Some(p99) if plan.rate >= TARGET_RATE => format!("NOT met ({p99:.2} ms)"),
        Some(p99) => format!("{p99:.2} ms at {} writes/s; the target is stated at {TARGET_RATE}", plan.rate),
        None => format!("no {observed}s"),
    };
    let label = match plan.via {
        Via::Stream => "target",
        Via::Trigger { .. } => "end-to-end bound (the target is on commit->invocation, below)",
    };
    let _ =
        writeln!(notes, "{label}: {ack_row} p99 < {target_p99_ms} ms at {TARGET_RATE} writes/s: {verdict}");
    if let Some(why) = &ended {
        let _ = writeln!(notes, "the subscription ended early: {why}");
    }
    let failure = if let Some(why) = ended {
        Some(format!("the subscription ended before the run did: {why}"))
    } else if m.matched != m.acked {
        Some(match plan.via {
            Via::Stream => {
                format!("{} acknowledged writes got no event within {} s", m.missing, DRAIN_WAIT.as_secs())
            }
            Via::Trigger { .. } => format!(
                "{} acknowledged writes got no write-back (none arrived for {} s)",
                m.missing,
                DRAIN_WAIT.as_secs()
            ),
        })
    } else {
        None
    };
    let summary = serde_json::json!({
        "workload": name,
        "operation": "summary",
        "rate_target": plan.rate,
        "rate_achieved": (achieved * 10.0).round() / 10.0,
        "concurrency": plan.concurrency,
        "writes_scheduled": shared.total,
        "writes_acknowledged": m.acked,
        "writes_failed": failed,
        "writes_not_sent": late,
        "events_received": m.events,
        "events_before_ack": m.early,
        "events_missing": m.missing,
        "events_unacknowledged": m.unacked_events,
        "events_duplicate": duplicates,
        "events_foreign": foreign,
        "ack_to_event_p99_ms": p99.map(|v| (v * 100.0).round() / 100.0),
    });
    Report { rows, notes, summary, failure }
}

/// The server's commit -> invocation figures of a trigger and the verdict on its target.
fn invocation_delay_lines(status: &trigger::Status, rate: u64) -> String {
    let Some(delay) = &status.invocation_delay else {
        return "commit->invocation: not reported by the server".to_string();
    };
    let ms = |v: Option<f64>| v.map_or_else(|| "-".to_string(), |v| format!("{v:.1} ms"));
    let verdict = match delay.p99_millis {
        Some(p99) if rate >= TARGET_RATE && p99 < TRIGGER_TARGET_P99_MS => format!("met ({p99:.1} ms)"),
        Some(p99) if rate >= TARGET_RATE => format!("NOT met ({p99:.1} ms)"),
        Some(p99) => format!("{p99:.1} ms at {rate} writes/s; the target is stated at {TARGET_RATE}"),
        None => "no invocations measured".to_string(),
    };
    format!(
        "commit->invocation (server-side, 0.1 ms buckets, warmup included): {} invocations, p50 {}, p99 {}, max {}\n\
         target: commit->invocation p99 < {TRIGGER_TARGET_P99_MS} ms at {TARGET_RATE} writes/s: {verdict}",
        delay.count,
        ms(delay.p50_millis),
        ms(delay.p99_millis),
        ms(delay.max_millis),
    )
}

/// Prints one line a second on stderr: writes sent, acknowledged and seen on the stream.
async fn print_progress(shared: Arc<Shared>, plan: Arc<Plan>, start: Instant) {
    let second = Duration::from_secs(1);
    let mut ticks = tokio::time::interval_at(tokio::time::Instant::from_std(start) + second, second);
    loop {
        let now = ticks.tick().await.into_std();
        let secs = now.duration_since(start).as_secs_f64();
        let phase = if now < start + plan.warmup { "warmup" } else { "measure" };
        let line = format!(
            "{} {phase:<7} {secs:>4.0} s  sent {:>9}  acked {:>9}  {}s {:>9}  failed {}",
            plan.via.workload(),
            shared.sent.load(Ordering::Relaxed),
            shared.acked.load(Ordering::Relaxed),
            plan.via.observed(),
            shared.events_ours.load(Ordering::Relaxed),
            shared.failed.load(Ordering::Relaxed),
        );
        let mut stderr = std::io::stderr().lock();
        let _ = writeln!(stderr, "{line}");
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use std::time::Duration;

    use super::{Key, Plan, Stamps, classify, match_writes, record_pk};
    use crate::bench::sse;

    #[test]
    fn the_key_of_a_record_event() {
        let data = br#"{"awsRegion":"us-east-1","dynamodb":{"ApproximateCreationDateTime":1700000000,
            "Keys":{"sk":{"S":"0"},"pk":{"S":"sl-0000abcd-17"}},"NewImage":{"pk":{"S":"other"}},
            "SequenceNumber":"000000000000000000042","SizeBytes":20},"eventName":"INSERT"}"#;
        assert_eq!(record_pk(data).as_deref(), Some("sl-0000abcd-17"));
        // Escapes in the key are decoded.
        assert_eq!(record_pk(br#"{"dynamodb":{"Keys":{"pk":{"S":"a\"b"}}}}"#).as_deref(), Some("a\"b"));
        assert_eq!(record_pk(br#"{"dynamodb":{"Keys":{"pk":{"N":"1"}}}}"#), None);
        assert_eq!(record_pk(br#"{"dynamodb":{}}"#), None);
        assert_eq!(record_pk(b"{"), None);
    }

    #[test]
    fn keys_of_this_run() {
        let prefix = "sl-0000abcd-";
        assert_eq!(classify(prefix, "sl-0000abcd-0", 10), Key::Write(0));
        assert_eq!(classify(prefix, "sl-0000abcd-9", 10), Key::Write(9));
        assert_eq!(classify(prefix, "sl-0000abcd-10", 10), Key::Other);
        assert_eq!(classify(prefix, "sl-0000abcd-probe", 10), Key::Probe);
        assert_eq!(classify(prefix, "sl-0000abcd-", 10), Key::Other);
        assert_eq!(classify(prefix, "sl-0000abcd-+1", 10), Key::Other);
        assert_eq!(classify(prefix, "sl-ffffffff-1", 10), Key::Other);
        assert_eq!(classify(prefix, "item-0000000001", 10), Key::Other);
    }

    #[test]
    fn schedule_of_an_open_loop() {
        let plan = Plan {
            table: "t-stream-latency".into(),
            rate: 10_000,
            concurrency: 32,
            warmup: Duration::from_secs(2),
            duration: Duration::from_secs(10),
            value_bytes: 100,
            via: super::Via::Stream,
        };
        assert_eq!(plan.total_writes(), 120_000);
        assert_eq!(plan.first_measured(), 20_000);
        assert_eq!(plan.due_ns(0), 0);
        assert_eq!(plan.due_ns(1), 100_000);
        assert_eq!(plan.due_ns(20_000), 2_000_000_000);
        let plan = Plan { rate: 3, ..plan };
        assert_eq!(plan.due_ns(1), 333_333_333);
        assert_eq!(plan.total_writes(), 36);
    }

    #[test]
    fn stamps_are_set_once() {
        let stamps = Stamps::new(3);
        assert!(stamps.set(1, 0));
        assert!(!stamps.set(1, 5));
        assert!(stamps.set(2, 7));
        assert!(!stamps.set(3, 7), "beyond the run");
        assert_eq!(stamps.snapshot(), [None, Some(0), Some(7)]);
    }

    #[test]
    fn acknowledgements_and_events_are_matched_write_by_write() {
        const MS: u64 = 1_000_000;
        // Writes due every 10 ms; the first two are warmup.
        let due = |i: u64| i * 10 * MS;
        let acks =
            [Some(MS), Some(11 * MS), Some(21 * MS), Some(31 * MS), Some(41 * MS), None, Some(61 * MS)];
        let events = [
            Some(2 * MS),            // warmup: counted, not measured
            None,                    // warmup write without event
            Some(21 * MS + 500_000), // 0.5 ms after its ack
            Some(31 * MS - 200_000), // before its ack: 0, and counted as early
            Some(44 * MS),           // 3 ms
            Some(52 * MS),           // never acknowledged
            None,                    // acknowledged, no event
        ];
        let m = match_writes(&acks, &events, due, 2);
        assert_eq!((m.acked, m.events, m.matched), (6, 5, 4));
        assert_eq!((m.early, m.missing, m.unacked_events), (1, 2, 1));
        assert_eq!((m.measured_acked, m.measured_matched), (4, 3));
        assert_eq!(m.last_measured_ack_ns, Some(61 * MS));
        assert_eq!(m.put.len(), 4);
        assert_eq!(m.put.max(), 1000);
        assert_eq!(m.ack_to_event.len(), 3);
        assert_eq!(m.ack_to_event.min(), 0);
        assert!(m.ack_to_event.equivalent(m.ack_to_event.value_at_quantile(0.5), 500));
        assert!(m.ack_to_event.equivalent(m.ack_to_event.max(), 3000));
        assert!(m.due_to_event.equivalent(m.due_to_event.max(), 4000));
        // Arrays of different lengths: the missing tail is absent.
        let m = match_writes(&[Some(1)], &[Some(2), Some(3)], |_| 0, 0);
        assert_eq!((m.matched, m.unacked_events), (1, 1));
    }

    #[test]
    fn events_parsed_from_pieces_are_matched() {
        // The subscriber's path without a server: SSE pieces, key extraction, stamps, matching.
        let prefix = "sl-00000001-";
        let events = Stamps::new(3);
        let mut stream = String::from(": heartbeat\n\n");
        for (seq, key) in [(7, "probe"), (8, "1"), (9, "0"), (10, "2")] {
            stream.push_str(&format!(
                "id: {seq:021}\nevent: record\ndata: {{\"dynamodb\":{{\"Keys\":{{\"pk\":{{\"S\":\"{prefix}{key}\"}},\"sk\":{{\"S\":\"0\"}}}}}}}}\n\n"
            ));
        }
        let mut parser = sse::Parser::new();
        let mut probe = false;
        for (n, piece) in stream.as_bytes().chunks(13).enumerate() {
            let arrived = n as u64 * 1000;
            parser
                .push(piece, |event| {
                    assert_eq!(event.event, "record");
                    match classify(prefix, &record_pk(event.data).unwrap(), 3) {
                        Key::Probe => probe = true,
                        Key::Write(i) => assert!(events.set(i, arrived)),
                        Key::Other => panic!("foreign key"),
                    }
                })
                .unwrap();
        }
        assert!(probe);
        let events = events.snapshot();
        assert!(events.iter().all(Option::is_some));
        assert!(events[1] < events[0] && events[0] < events[2]);
        let acks: Vec<Option<u64>> = events.iter().map(|e| e.map(|e| e.saturating_sub(500))).collect();
        let m = match_writes(&acks, &events, |_| 0, 0);
        assert_eq!((m.matched, m.missing, m.early), (3, 0, 0));
    }
}
