//! The subscription loop against an in-memory change feed: start positions, catch-up then live
//! with no gap or duplicate, heartbeats, filters, deletion and trimming.

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use eddy_core::changelog::{ChangeEvent, ChangeFeed, ChangeRecord, FeedPosition};
use eddy_core::{AttributeValue, Item};
use tokio::sync::watch;

use super::*;
use crate::filter::FilterCriteria;

struct FakeFeed {
    records: Mutex<Vec<ChangeRecord>>,
    trim_horizon: Mutex<u64>,
    sender: Mutex<Option<watch::Sender<u64>>>,
}

impl FakeFeed {
    fn new(count: u64) -> Arc<FakeFeed> {
        let feed = Arc::new(FakeFeed {
            records: Mutex::new(Vec::new()),
            trim_horizon: Mutex::new(1),
            sender: Mutex::new(Some(watch::channel(0).0)),
        });
        for _ in 0..count {
            feed.append();
        }
        feed
    }

    fn append(&self) -> u64 {
        let mut records = self.records.lock().unwrap();
        let seq = records.len() as u64 + 1;
        let keys: Item = BTreeMap::from([("pk".to_string(), AttributeValue::S(format!("k{seq}")))]);
        records.push(ChangeRecord {
            seq,
            event: if seq.is_multiple_of(2) { ChangeEvent::Modify } else { ChangeEvent::Insert },
            keys: keys.clone(),
            old: None,
            new: Some(keys),
            created_at_millis: 1_000 * seq,
            transaction_id: None,
            hops: 0,
        });
        if let Some(sender) = self.sender.lock().unwrap().as_ref() {
            sender.send_replace(seq);
        }
        seq
    }

    fn delete(&self) {
        self.records.lock().unwrap().clear();
        self.sender.lock().unwrap().take();
    }
}

impl ChangeFeed for FakeFeed {
    fn read(&self, _: &str, from: u64, limit: usize) -> Result<Vec<ChangeRecord>, eddy_core::Error> {
        if self.sender.lock().unwrap().is_none() {
            return Err(eddy_core::Error::table_not_found());
        }
        let horizon = *self.trim_horizon.lock().unwrap();
        let records = self.records.lock().unwrap();
        Ok(records.iter().filter(|r| r.seq >= from.max(horizon)).take(limit).cloned().collect())
    }

    fn position(&self, _: &str) -> Result<FeedPosition, eddy_core::Error> {
        let high_watermark = self.records.lock().unwrap().len() as u64;
        let trim_horizon = (*self.trim_horizon.lock().unwrap()).min(high_watermark + 1);
        Ok(FeedPosition { table_id: 9, trim_horizon, high_watermark })
    }

    fn seq_at_time(&self, _: &str, millis: u64) -> Result<u64, eddy_core::Error> {
        let records = self.records.lock().unwrap();
        Ok(records.iter().find(|r| r.created_at_millis >= millis).map_or(records.len() as u64 + 1, |r| r.seq))
    }

    fn watch(&self, _: &str) -> Result<watch::Receiver<u64>, eddy_core::Error> {
        match self.sender.lock().unwrap().as_ref() {
            Some(sender) => Ok(sender.subscribe()),
            None => Err(eddy_core::Error::table_not_found()),
        }
    }
}

fn request(from: StartFrom, format: Format) -> SubscriptionRequest {
    SubscriptionRequest {
        table: "t".into(),
        from,
        last_event_id: None,
        format,
        filter: None,
        region: "us-east-1".into(),
    }
}

fn small_limits() -> Limits {
    Limits {
        page_records_max: 7,
        page_bytes_max: 1024,
        chunk_bytes_max: 300,
        heartbeat: Duration::from_millis(50),
    }
}

async fn open(feed: &Arc<FakeFeed>, request: SubscriptionRequest) -> Subscription {
    // A dropped stop sender means the server is stopping; these subscriptions run on.
    let (stop_tx, stop) = watch::channel(false);
    std::mem::forget(stop_tx);
    Subscription::open(feed.clone(), request, small_limits(), stop).await.unwrap()
}

/// The sequence numbers of the SSE records in a chunk.
fn sse_ids(chunk: &[u8]) -> Vec<u64> {
    String::from_utf8_lossy(chunk)
        .lines()
        .filter_map(|l| l.strip_prefix("id: "))
        .map(|id| id.parse().unwrap())
        .collect()
}

async fn collect_ids(subscription: &mut Subscription, count: usize) -> Vec<u64> {
    let mut ids = Vec::new();
    while ids.len() < count {
        let chunk =
            tokio::time::timeout(Duration::from_secs(5), subscription.next_chunk()).await.unwrap().unwrap();
        ids.extend(sse_ids(&chunk));
    }
    ids
}

#[test]
fn from_values_parse_ignoring_case() {
    assert_eq!(StartFrom::parse("TRIM_HORIZON").unwrap(), StartFrom::TrimHorizon);
    assert_eq!(StartFrom::parse("Latest").unwrap(), StartFrom::Latest);
    assert_eq!(StartFrom::parse("000000000000000000042").unwrap(), StartFrom::Sequence(42));
    assert_eq!(StartFrom::parse("1970-01-01t00:00:01z").unwrap(), StartFrom::Time(1000));
    assert!(StartFrom::parse("yesterday").is_err());
    assert!(StartFrom::parse("").is_err());
    assert_eq!(Format::parse("NDJSON").unwrap(), Format::Ndjson);
    assert!(Format::parse("xml").is_err());
    assert!(parse_heartbeat_ms("5").is_err());
    assert_eq!(parse_heartbeat_ms("100").unwrap(), Duration::from_millis(100));
    assert_eq!(parse_last_event_id("000000000000000000007").unwrap(), 7);
    assert!(parse_last_event_id("x").is_err());
}

#[tokio::test]
async fn catches_up_then_follows_live_without_gap_or_duplicate() {
    let feed = FakeFeed::new(20);
    let mut subscription = open(&feed, request(StartFrom::TrimHorizon, Format::Sse)).await;
    assert_eq!(collect_ids(&mut subscription, 20).await, (1..=20).collect::<Vec<_>>());
    let writer = {
        let feed = feed.clone();
        tokio::spawn(async move {
            for _ in 0..30 {
                feed.append();
                tokio::task::yield_now().await;
            }
        })
    };
    assert_eq!(collect_ids(&mut subscription, 30).await, (21..=50).collect::<Vec<_>>());
    writer.await.unwrap();
}

#[tokio::test]
async fn start_positions() {
    let feed = FakeFeed::new(10);
    let mut latest = open(&feed, request(StartFrom::Latest, Format::Sse)).await;
    assert_eq!(latest.next_seq(), 11);
    let mut at_seq = open(&feed, request(StartFrom::Sequence(4), Format::Sse)).await;
    let mut at_time = open(&feed, request(StartFrom::Time(7_500), Format::Sse)).await;
    feed.append();
    assert_eq!(collect_ids(&mut latest, 1).await, vec![11]);
    assert_eq!(collect_ids(&mut at_seq, 8).await, (4..=11).collect::<Vec<_>>());
    assert_eq!(collect_ids(&mut at_time, 3).await, vec![8, 9, 10]);

    let mut resumed = request(StartFrom::TrimHorizon, Format::Sse);
    resumed.last_event_id = Some(9);
    assert_eq!(collect_ids(&mut open(&feed, resumed).await, 2).await, vec![10, 11]);

    let (_, stop) = watch::channel(false);
    let past =
        Subscription::open(feed.clone(), request(StartFrom::Sequence(13), Format::Sse), small_limits(), stop);
    assert!(matches!(
        past.await,
        Err(SubscriptionError::SequenceNumberPastEnd { seq: 13, high_watermark: 11 })
    ));
}

#[tokio::test]
async fn trimmed_records_start_at_the_horizon_or_end_a_resume() {
    let feed = FakeFeed::new(10);
    *feed.trim_horizon.lock().unwrap() = 6;
    let mut from_old = open(&feed, request(StartFrom::Sequence(2), Format::Sse)).await;
    assert_eq!(collect_ids(&mut from_old, 5).await, (6..=10).collect::<Vec<_>>());

    let mut resumed = request(StartFrom::TrimHorizon, Format::Sse);
    resumed.last_event_id = Some(3);
    let mut subscription = open(&feed, resumed).await;
    let last = String::from_utf8(subscription.next_chunk().await.unwrap()).unwrap();
    assert!(last.starts_with("event: error\ndata: "), "{last}");
    assert!(last.contains("\"Reason\":\"RecordsTrimmed\""), "{last}");
    assert!(subscription.next_chunk().await.is_none());
}

#[tokio::test]
async fn idle_subscriptions_send_heartbeats() {
    let feed = FakeFeed::new(0);
    let mut sse = open(&feed, request(StartFrom::Latest, Format::Sse)).await;
    assert_eq!(sse.next_chunk().await.unwrap(), b": heartbeat\n\n");
    let mut ndjson = open(&feed, request(StartFrom::Latest, Format::Ndjson)).await;
    assert_eq!(ndjson.next_chunk().await.unwrap(), b"\n");
}

#[tokio::test]
async fn filters_and_ndjson() {
    let feed = FakeFeed::new(10);
    let mut filtered = request(StartFrom::TrimHorizon, Format::Ndjson);
    filtered.filter = Some(FilterCriteria::from_pattern(r#"{"eventName": ["MODIFY"]}"#).unwrap());
    let mut subscription = open(&feed, filtered).await;
    let mut lines = Vec::new();
    while lines.len() < 5 {
        let chunk = subscription.next_chunk().await.unwrap();
        lines.extend(String::from_utf8(chunk).unwrap().lines().map(str::to_string));
    }
    let seqs: Vec<String> = lines
        .iter()
        .map(|l| serde_json::from_str::<serde_json::Value>(l).unwrap())
        .map(|v| v["dynamodb"]["SequenceNumber"].as_str().unwrap().to_string())
        .collect();
    assert_eq!(seqs, ["2", "4", "6", "8", "10"].map(|s| format!("{s:0>21}")));
}

#[tokio::test]
async fn deleting_the_table_ends_the_subscription() {
    let feed = FakeFeed::new(3);
    let mut subscription = open(&feed, request(StartFrom::TrimHorizon, Format::Sse)).await;
    assert_eq!(collect_ids(&mut subscription, 3).await, vec![1, 2, 3]);
    let deleter = {
        let feed = feed.clone();
        tokio::spawn(async move {
            tokio::time::sleep(Duration::from_millis(20)).await;
            feed.delete();
        })
    };
    let mut last = String::new();
    while let Some(chunk) = subscription.next_chunk().await {
        last = String::from_utf8(chunk).unwrap();
    }
    assert!(last.starts_with("event: end\ndata: {"), "{last}");
    assert!(last.contains("\"Reason\":\"TableDeleted\""), "{last}");
    deleter.await.unwrap();
}

#[tokio::test]
async fn stopping_ends_the_subscription() {
    let feed = FakeFeed::new(0);
    let (stop_tx, stop) = watch::channel(false);
    let mut subscription =
        Subscription::open(feed.clone(), request(StartFrom::Latest, Format::Ndjson), small_limits(), stop)
            .await
            .unwrap();
    stop_tx.send_replace(true);
    let last = String::from_utf8(subscription.next_chunk().await.unwrap()).unwrap();
    assert!(last.starts_with("{\"End\":{") && last.contains("ServerShutdown"), "{last}");
    assert!(subscription.next_chunk().await.is_none());
}
