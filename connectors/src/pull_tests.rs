//! The pull loop against a real store and a fault-injecting sink: every record reaches the sink
//! in order, the checkpoint never passes a batch the sink did not take, transient failures are
//! retried with the same batch, and a permanent failure stops the connector with its checkpoint.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::collections::BTreeMap;
use std::sync::atomic::AtomicU32;

use eddy_core::schema::{BillingMode, TableSpec};
use eddy_core::store::{ItemWrite, StartPosition, WriteAction};
use eddy_core::{AttributeValue, KeyAttribute, KeySchema, Limits, ScalarType, SystemClock};
use serde_json::json;

use super::*;
use crate::sink::SinkFuture;

/// Records every batch it takes; fails attempts as told first.
#[derive(Default)]
struct FaultySink {
    /// Transient failures to inject before the next success.
    transient: AtomicU32,
    /// Fail every write permanently.
    permanent: AtomicBool,
    /// Every attempt, as (first, last) seq.
    attempts: Mutex<Vec<(u64, u64)>>,
    /// The batches taken, as their seqs.
    taken: Mutex<Vec<Vec<u64>>>,
}

impl Sink for FaultySink {
    fn check(&self) -> SinkFuture<'_, Result<(), SinkError>> {
        Box::pin(async { Ok(()) })
    }

    fn write<'a>(&'a self, batch: &'a Batch) -> SinkFuture<'a, Result<(), SinkError>> {
        Box::pin(async move {
            self.attempts.lock().unwrap().push(batch.range().unwrap());
            if self.permanent.load(Ordering::SeqCst) {
                return Err(SinkError::Permanent("the bucket is gone".into()));
            }
            if self.transient.load(Ordering::SeqCst) > 0 {
                self.transient.fetch_sub(1, Ordering::SeqCst);
                return Err(SinkError::Transient("connection reset".into()));
            }
            assert_eq!(batch.records.len(), batch.records_json.len());
            self.taken.lock().unwrap().push(batch.records.iter().map(|r| r.seq).collect());
            Ok(())
        })
    }
}

struct Fixture {
    _dir: tempfile::TempDir,
    store: Store,
}

async fn fixture(records: usize) -> Fixture {
    let dir = tempfile::tempdir().unwrap();
    let store = Store::open(dir.path(), Limits::default(), Arc::new(SystemClock)).unwrap();
    let key = KeyAttribute { name: "pk".into(), scalar_type: ScalarType::S };
    let spec = TableSpec {
        name: "Tab".into(),
        key_schema: KeySchema { partition: key.clone(), sort: None },
        attribute_definitions: vec![key],
        billing: BillingMode::PayPerRequest,
        tags: BTreeMap::new(),
        stream: None,
        deletion_protection: false,
        table_class: "STANDARD".into(),
    };
    store.create_table(spec, Vec::new(), "uuid".into()).await.unwrap();
    put(&store, 0..records).await;
    Fixture { _dir: dir, store }
}

async fn put(store: &Store, range: std::ops::Range<usize>) {
    let meta = store.table("Tab").unwrap();
    for i in range {
        let item: eddy_core::Item = BTreeMap::from([
            ("pk".to_string(), AttributeValue::S(format!("k{i:05}"))),
            ("n".to_string(), AttributeValue::S(i.to_string())),
        ]);
        let key = meta.spec.key_schema.key_of_item(&item, &Limits::default()).unwrap();
        let write = ItemWrite {
            table: "Tab".into(),
            key,
            action: WriteAction::Put(item),
            condition: None,
            return_item_on_condition_failure: false,
            hops: 0,
        };
        store.write(write).await.unwrap();
    }
}

fn shared(store: &Store, sink: Arc<FaultySink>, body: serde_json::Value) -> Arc<Shared> {
    let config = ConnectorConfig::parse(&body, None).unwrap();
    Arc::new(Shared {
        name: "c".into(),
        consumer: "connector.c".into(),
        store: store.clone(),
        region: "us-east-1".into(),
        active: Arc::new(Active {
            config,
            sink: Ok(sink),
            paused: false,
            version: 1,
            created_at_millis: 0,
            last_modified_millis: 0,
        }),
        status: Mutex::new(Status::new(State::Running)),
        stop: watch::Sender::new(false),
        stopping: AtomicBool::new(false),
    })
}

fn config(max_records: u64, attempts: u64) -> serde_json::Value {
    json!({
        "Type": "s3", "TableName": "Tab",
        "Batch": {"MaxRecords": max_records, "FlushIntervalMillis": 0},
        "Retry": {"MaxAttempts": attempts, "InitialBackoffMillis": 1, "MaxBackoffMillis": 5},
        "S3": {"Bucket": "unused"},
    })
}

async fn wait_for(mut done: impl FnMut() -> bool) {
    let deadline = Instant::now() + Duration::from_secs(20);
    while !done() {
        assert!(Instant::now() < deadline, "timed out");
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
}

fn stop(shared: &Shared) {
    shared.stopping.store(true, Ordering::Release);
    shared.stop.send_replace(true);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn transient_failures_are_retried_with_the_same_batch_and_nothing_is_lost_or_repeated() {
    let f = fixture(95).await;
    f.store.create_consumer("connector.c", "Tab", StartPosition::TrimHorizon).await.unwrap();
    let sink = Arc::new(FaultySink::default());
    sink.transient.store(3, Ordering::SeqCst);
    let shared = shared(&f.store, Arc::clone(&sink), config(10, 0));
    let task = tokio::spawn(run(Arc::clone(&shared)));
    wait_for(|| f.store.consumer("connector.c").unwrap().checkpoint == 95).await;
    // Failures in the middle of the run too.
    sink.transient.store(2, Ordering::SeqCst);
    put(&f.store, 95..120).await;
    wait_for(|| f.store.consumer("connector.c").unwrap().checkpoint == 120).await;
    stop(&shared);
    task.await.unwrap();
    let taken: Vec<u64> = sink.taken.lock().unwrap().iter().flatten().copied().collect();
    assert_eq!(taken, (1..=120).collect::<Vec<_>>(), "every record once, in order");
    let attempts = sink.attempts.lock().unwrap().clone();
    // The first batch was tried 4 times with exactly the same range.
    assert_eq!(&attempts[..4], &[(1, 10); 4]);
    assert!(sink.taken.lock().unwrap().iter().all(|b| b.len() <= 10));
    let status = shared.status().clone();
    assert_eq!(status.state, State::Running);
    assert_eq!(status.totals.records, 120);
    assert_eq!(status.totals.failures, 5);
    assert_eq!(status.attempts, 0);
    // The totals are the ones committed with the checkpoint.
    let committed = Progress::load(&f.store, "c").unwrap().unwrap();
    assert_eq!(committed.checkpoint, 120);
    assert_eq!(committed.progress.totals, status.totals);
    assert_eq!(committed.progress.plan, None, "no plan is left once its batch is checkpointed");
    assert!(committed.progress.last_error.unwrap().message.contains("connection reset"));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_permanent_failure_stops_the_connector_with_its_checkpoint_and_a_restart_resumes() {
    let f = fixture(30).await;
    f.store.create_consumer("connector.c", "Tab", StartPosition::TrimHorizon).await.unwrap();
    let sink = Arc::new(FaultySink::default());
    sink.permanent.store(true, Ordering::SeqCst);
    let first = shared(&f.store, Arc::clone(&sink), config(10, 0));
    run(Arc::clone(&first)).await;
    let status = first.status().clone();
    assert_eq!(status.state, State::Failed);
    assert!(status.last_error.unwrap().message.contains("the bucket is gone"));
    assert_eq!(f.store.consumer("connector.c").unwrap().checkpoint, 0, "the checkpoint stays");
    // The planned range is durable: a restart writes exactly the same first batch. The reason
    // of the failure is durable too.
    let committed = Progress::load(&f.store, "c").unwrap().unwrap();
    assert_eq!(committed.progress.plan, Some(Plan { first: 1, last: 10 }));
    assert!(committed.progress.last_error.unwrap().message.contains("the bucket is gone"));

    sink.permanent.store(false, Ordering::SeqCst);
    let second = shared(&f.store, Arc::clone(&sink), config(25, 0));
    let task = tokio::spawn(run(Arc::clone(&second)));
    wait_for(|| f.store.consumer("connector.c").unwrap().checkpoint == 30).await;
    stop(&second);
    task.await.unwrap();
    let taken = sink.taken.lock().unwrap().clone();
    assert_eq!(taken[0], (1..=10).collect::<Vec<_>>(), "the planned batch, not a bigger one");
    assert_eq!(taken.iter().flatten().copied().collect::<Vec<_>>(), (1..=30).collect::<Vec<_>>());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn exhausted_attempts_fail_the_connector_without_moving_the_checkpoint() {
    let f = fixture(5).await;
    f.store.create_consumer("connector.c", "Tab", StartPosition::TrimHorizon).await.unwrap();
    let sink = Arc::new(FaultySink::default());
    sink.transient.store(100, Ordering::SeqCst);
    let shared = shared(&f.store, Arc::clone(&sink), config(10, 3));
    run(Arc::clone(&shared)).await;
    let status = shared.status().clone();
    assert_eq!(status.state, State::Failed);
    assert!(status.last_error.unwrap().message.contains("gave up after 3 attempts"));
    assert_eq!(sink.attempts.lock().unwrap().len(), 3);
    assert_eq!(f.store.consumer("connector.c").unwrap().checkpoint, 0);
    let committed = Progress::load(&f.store, "c").unwrap().unwrap().progress;
    assert_eq!(
        (committed.totals.failures, committed.totals.records),
        (3, 0),
        "every failed attempt is counted"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_snapshot_exports_every_item_then_streams_from_its_seq() {
    let f = fixture(25).await;
    let position = f.store.position("Tab").unwrap();
    let created = f
        .store
        .create_consumer("connector.c", "Tab", StartPosition::AtSequence(position.high_watermark + 1))
        .await
        .unwrap();
    let progress = Progress {
        snapshot: Some(crate::progress::SnapshotState {
            seq: position.high_watermark,
            taken_at_millis: 0,
            part: 0,
            cursor: None,
        }),
        ..Progress::default()
    };
    progress.commit(&f.store, "c", created.checkpoint).await.unwrap();
    let sink = Arc::new(FaultySink::default());
    sink.transient.store(1, Ordering::SeqCst);
    let shared = shared(&f.store, Arc::clone(&sink), config(10, 0));
    let task = tokio::spawn(run(Arc::clone(&shared)));
    wait_for(|| Progress::load(&f.store, "c").unwrap().unwrap().progress.snapshot.is_none()).await;
    put(&f.store, 25..30).await;
    wait_for(|| f.store.consumer("connector.c").unwrap().checkpoint == 30).await;
    stop(&shared);
    task.await.unwrap();
    let taken = sink.taken.lock().unwrap().clone();
    // Three snapshot parts of items (seq 25 each), then the 5 new records.
    let snapshot: Vec<u64> = taken.iter().take(3).flatten().copied().collect();
    assert_eq!(snapshot, vec![25; 25]);
    assert_eq!(taken[3..].iter().flatten().copied().collect::<Vec<_>>(), (26..=30).collect::<Vec<_>>());
    // Snapshot items count once each, like streamed records.
    let totals = Progress::load(&f.store, "c").unwrap().unwrap().progress.totals;
    assert_eq!((totals.records, totals.failures), (30, 1));
    assert_eq!(totals.batches, taken.len() as u64, "three parts, then the streamed batches");
}

/// Wraps a real sink: the first `lost` writes reach the destination but answer a transient
/// error, as when the response is lost on the way back.
struct LostResponses<S> {
    inner: S,
    lost: AtomicU32,
}

impl<S: Sink> Sink for LostResponses<S> {
    fn check(&self) -> SinkFuture<'_, Result<(), SinkError>> {
        self.inner.check()
    }

    fn write<'a>(&'a self, batch: &'a Batch) -> SinkFuture<'a, Result<(), SinkError>> {
        Box::pin(async move {
            self.inner.write(batch).await?;
            if self.lost.load(Ordering::SeqCst) > 0 {
                self.lost.fetch_sub(1, Ordering::SeqCst);
                return Err(SinkError::Transient("the response was lost".into()));
            }
            Ok(())
        })
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn s3_objects_are_not_duplicated_when_uploads_succeed_but_their_answers_are_lost() {
    use object_store::ObjectStoreExt as _;
    let var = |n: &str| std::env::var(n).ok().filter(|v| !v.is_empty());
    let (Some(endpoint), Some(key), Some(secret)) =
        (var("EDDY_TEST_S3_ENDPOINT"), var("EDDY_TEST_S3_ACCESS_KEY"), var("EDDY_TEST_S3_SECRET_KEY"))
    else {
        println!("skipped: MinIO not running (scripts/test starts it)");
        return;
    };
    let bucket = format!("eddy-unit-lost-{}", std::process::id());
    let made = std::process::Command::new("aws")
        .args(["--endpoint-url", &endpoint, "s3", "mb", &format!("s3://{bucket}")])
        .env("AWS_ACCESS_KEY_ID", &key)
        .env("AWS_SECRET_ACCESS_KEY", &secret)
        .env("AWS_DEFAULT_REGION", "us-east-1")
        .output();
    if !made.as_ref().is_ok_and(|o| o.status.success()) {
        println!("skipped: cannot create a bucket with the aws CLI: {made:?}");
        return;
    }
    let settings = json!({
        "Endpoint": endpoint, "Bucket": bucket, "AccessKeyId": key, "SecretAccessKey": secret, "AllowHttp": true,
    });
    let s3 = crate::s3::S3Sink::from_config(&settings).unwrap();
    let client = s3.config().client().unwrap();
    let f = fixture(40).await;
    f.store.create_consumer("connector.c", "Tab", StartPosition::TrimHorizon).await.unwrap();
    let sink = Arc::new(LostResponses { inner: s3, lost: AtomicU32::new(3) });
    let config = ConnectorConfig::parse(&config(15, 0), None).unwrap();
    let shared = Arc::new(Shared {
        name: "c".into(),
        consumer: "connector.c".into(),
        store: f.store.clone(),
        region: "us-east-1".into(),
        active: Arc::new(Active {
            config,
            sink: Ok(sink.clone()),
            paused: false,
            version: 1,
            created_at_millis: 0,
            last_modified_millis: 0,
        }),
        status: Mutex::new(Status::new(State::Running)),
        stop: watch::Sender::new(false),
        stopping: AtomicBool::new(false),
    });
    let task = tokio::spawn(run(Arc::clone(&shared)));
    wait_for(|| f.store.consumer("connector.c").unwrap().checkpoint == 40).await;
    stop(&shared);
    task.await.unwrap();
    let listed = client.list_with_delimiter(Some(&object_store::path::Path::from("Tab"))).await;
    let mut keys = Vec::new();
    let mut prefixes = listed.unwrap().common_prefixes;
    // Walk Tab/yyyy/mm/dd/hh/.
    while let Some(prefix) = prefixes.pop() {
        let page = client.list_with_delimiter(Some(&prefix)).await.unwrap();
        keys.extend(page.objects.into_iter().map(|o| o.location.to_string()));
        prefixes.extend(page.common_prefixes);
    }
    keys.sort();
    let names: Vec<&str> = keys.iter().map(|k| k.rsplit('/').next().unwrap()).collect();
    assert_eq!(
        names,
        [
            "000000000000000000001-000000000000000000015.ndjson",
            "000000000000000000016-000000000000000000030.ndjson",
            "000000000000000000031-000000000000000000040.ndjson",
        ],
        "three lost answers, three retries, still one object per range"
    );
    let mut lines = 0;
    for key in &keys {
        let body =
            client.get(&object_store::path::Path::from(key.as_str())).await.unwrap().bytes().await.unwrap();
        lines += body.iter().filter(|b| **b == b'\n').count();
    }
    assert_eq!(lines, 40);
    assert_eq!(shared.status().totals.failures, 3);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn totals_survive_a_new_task_and_a_crash_between_write_and_checkpoint_counts_once() {
    let f = fixture(20).await;
    f.store.create_consumer("connector.c", "Tab", StartPosition::TrimHorizon).await.unwrap();
    let sink = Arc::new(FaultySink::default());
    let first = shared(&f.store, Arc::clone(&sink), config(10, 0));
    let task = tokio::spawn(run(Arc::clone(&first)));
    wait_for(|| f.store.consumer("connector.c").unwrap().checkpoint == 20).await;
    stop(&first);
    task.await.unwrap();
    // A batch planned and written whose checkpoint never committed (a crash in between): the
    // next task writes it again and counts it once.
    put(&f.store, 20..25).await;
    let committed = Progress::load(&f.store, "c").unwrap().unwrap();
    let mut planned = committed.progress.clone();
    planned.plan = Some(Plan { first: 21, last: 25 });
    planned.commit(&f.store, "c", committed.checkpoint).await.unwrap();

    // A new task as after a restart: its status starts from what was committed.
    let second = shared(&f.store, Arc::clone(&sink), config(10, 0));
    *second.status() = Status::restored(State::Running, &planned);
    assert_eq!(second.status().totals.records, 20);
    let task = tokio::spawn(run(Arc::clone(&second)));
    wait_for(|| f.store.consumer("connector.c").unwrap().checkpoint == 25).await;
    stop(&second);
    task.await.unwrap();
    let totals = Progress::load(&f.store, "c").unwrap().unwrap().progress.totals;
    assert_eq!((totals.records, totals.batches), (25, 3));
    assert_eq!(second.status().totals, totals);
    assert!(totals.bytes > 0 && totals.last_exported_millis.is_some());
}
