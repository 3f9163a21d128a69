//! `StreamsApi` over an in-memory [`StreamSource`]: the byte bound of GetRecords, iterator
//! expiry, trims under live iterators, and drained shards.

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex};

use eddy_core::changelog::{ChangeEvent, ChangeFeed, ChangeRecord, FeedPosition};
use eddy_core::key::{KeyAttribute, KeySchema, ScalarType};
use eddy_core::schema::{BillingMode, StreamSettings, StreamViewType, TableMeta, TableSpec};
use eddy_core::store::ShardStart;
use eddy_core::{AttributeValue, Error, Item};
use serde_json::Value;

use super::*;

/// One table, `t1`, whose log and clock the test moves by hand.
struct Fake {
    meta: TableMeta,
    log: Mutex<Vec<ChangeRecord>>,
    shards: Vec<ShardStart>,
    now: Mutex<u64>,
}

impl Fake {
    fn new(records: u64, bytes_each: usize, shards: &[u64], stream_last_seq: Option<u64>) -> Fake {
        let spec = TableSpec {
            name: "t1".into(),
            key_schema: KeySchema {
                partition: KeyAttribute { name: "pk".into(), scalar_type: ScalarType::S },
                sort: None,
            },
            attribute_definitions: Vec::new(),
            billing: BillingMode::PayPerRequest,
            tags: BTreeMap::new(),
            stream: None,
            deletion_protection: false,
            table_class: "STANDARD".into(),
        };
        let settings = StreamSettings {
            view_type: StreamViewType::NewImage,
            label: "2026-01-01T00:00:00.000".into(),
            first_seq: 1,
            last_seq: stream_last_seq,
        };
        let mut meta = TableMeta {
            spec,
            id: 4,
            table_uuid: String::new(),
            created_at_millis: 0,
            last_increase_millis: None,
            last_decrease_millis: None,
            decreases_today: 0,
            indexes: Vec::new(),
            retention_millis: None,
            past_streams: Vec::new(),
        };
        match stream_last_seq {
            Some(_) => meta.past_streams.push(settings),
            None => meta.spec.stream = Some(settings),
        }
        let log = (1..=records)
            .map(|seq| {
                let keys: Item = BTreeMap::from([("pk".to_string(), AttributeValue::S(format!("k{seq}")))]);
                let mut new = keys.clone();
                new.insert("blob".into(), AttributeValue::B(vec![0; bytes_each]));
                ChangeRecord {
                    seq,
                    event: ChangeEvent::Insert,
                    keys,
                    old: None,
                    new: Some(new),
                    created_at_millis: 1000 * seq,
                    transaction_id: None,
                    hops: 0,
                }
            })
            .collect();
        let shards = shards.iter().map(|&first_seq| ShardStart { first_seq, created_at_millis: 0 }).collect();
        Fake { meta, log: Mutex::new(log), shards, now: Mutex::new(1_000_000) }
    }

    fn trim_through(&self, seq: u64) {
        self.log.lock().unwrap().retain(|r| r.seq > seq);
    }

    fn advance(&self, millis: u64) {
        *self.now.lock().unwrap() += millis;
    }
}

impl ChangeFeed for Fake {
    fn read(&self, _: &str, from: u64, limit: usize) -> Result<Vec<ChangeRecord>, Error> {
        Ok(self.log.lock().unwrap().iter().filter(|r| r.seq >= from).take(limit).cloned().collect())
    }

    fn position(&self, _: &str) -> Result<FeedPosition, Error> {
        let log = self.log.lock().unwrap();
        let high_watermark = 12;
        let trim_horizon = log.first().map_or(high_watermark + 1, |r| r.seq);
        Ok(FeedPosition { table_id: self.meta.id, trim_horizon, high_watermark })
    }

    fn seq_at_time(&self, _: &str, _: u64) -> Result<u64, Error> {
        Ok(1)
    }

    fn watch(&self, _: &str) -> Result<tokio::sync::watch::Receiver<u64>, Error> {
        Ok(tokio::sync::watch::channel(12).1)
    }
}

impl StreamSource for Fake {
    fn table_meta(&self, table: &str) -> Result<Arc<TableMeta>, Error> {
        if table == "t1" { Ok(Arc::new(self.meta.clone())) } else { Err(Error::table_not_found()) }
    }

    fn table_names(&self) -> Vec<String> {
        vec!["t1".into()]
    }

    fn shard_starts(&self, _: &str) -> Result<Vec<ShardStart>, Error> {
        Ok(self.shards.clone())
    }

    fn now_millis(&self) -> u64 {
        *self.now.lock().unwrap()
    }
}

const LIMITS: Limits = Limits {
    iterator_lifetime: std::time::Duration::from_secs(900),
    get_records_records_max: 1000,
    get_records_bytes_max: 1024 * 1024,
    list_streams_max: 100,
    describe_stream_shards_max: 100,
};

fn api(fake: &Fake) -> StreamsApi<'_, Fake> {
    StreamsApi {
        source: fake,
        scope: ArnScope { region: "us-east-1", account_id: "000000000000" },
        limits: &LIMITS,
    }
}

fn arn() -> String {
    "arn:aws:dynamodb:us-east-1:000000000000:table/t1/stream/2026-01-01T00:00:00.000".into()
}

fn shard_ids(fake: &Fake) -> Vec<String> {
    let input = DescribeStreamInput { stream_arn: Some(arn()), ..Default::default() };
    let out = api(fake).describe_stream(input).unwrap();
    let shards = out["StreamDescription"]["Shards"].as_array().unwrap().clone();
    shards.iter().map(|s| s["ShardId"].as_str().unwrap().to_string()).collect()
}

fn iterator(fake: &Fake, shard: &str, kind: &str) -> String {
    let input = GetShardIteratorInput {
        stream_arn: Some(arn()),
        shard_id: Some(shard.into()),
        shard_iterator_type: Some(kind.into()),
        sequence_number: None,
    };
    api(fake).get_shard_iterator(input).unwrap()["ShardIterator"].as_str().unwrap().to_string()
}

fn get(fake: &Fake, iterator: &str) -> Result<Value, StreamsError> {
    api(fake).get_records(GetRecordsInput { shard_iterator: Some(iterator.into()), limit: None })
}

#[test]
fn get_records_stops_at_one_megabyte_and_resumes_there() {
    let fake = Fake::new(12, 300 * 1024, &[1], None);
    let shard = &shard_ids(&fake)[0];
    let first = get(&fake, &iterator(&fake, shard, "TRIM_HORIZON")).unwrap();
    assert_eq!(first["Records"].as_array().unwrap().len(), 3);
    let next = first["NextShardIterator"].as_str().unwrap();
    let second = get(&fake, next).unwrap();
    assert_eq!(second["Records"][0]["dynamodb"]["SequenceNumber"], "000000000000000000004");
}

#[test]
fn iterators_expire_after_their_lifetime() {
    let fake = Fake::new(12, 1, &[1], None);
    let it = iterator(&fake, &shard_ids(&fake)[0], "LATEST");
    fake.advance(900_000);
    assert!(get(&fake, &it).is_ok());
    fake.advance(1);
    assert!(matches!(get(&fake, &it), Err(StreamsError::ExpiredIterator { .. })));
}

#[test]
fn a_trim_under_a_live_iterator_is_trimmed_data_access() {
    let fake = Fake::new(12, 1, &[1], None);
    let it = iterator(&fake, &shard_ids(&fake)[0], "TRIM_HORIZON");
    fake.trim_through(5);
    assert!(matches!(get(&fake, &it), Err(StreamsError::TrimmedDataAccess { .. })));
    // TRIM_HORIZON now starts at the oldest record kept.
    let fresh = get(&fake, &iterator(&fake, &shard_ids(&fake)[0], "TRIM_HORIZON")).unwrap();
    assert_eq!(fresh["Records"][0]["dynamodb"]["SequenceNumber"], "000000000000000000006");
}

#[test]
fn a_drained_closed_shard_ends_even_after_its_records_are_trimmed() {
    let fake = Fake::new(12, 1, &[1, 6], None);
    let ids = shard_ids(&fake);
    let (records, next) = {
        let out = get(&fake, &iterator(&fake, &ids[0], "TRIM_HORIZON")).unwrap();
        (out["Records"].as_array().unwrap().len(), out.get("NextShardIterator").cloned())
    };
    assert_eq!((records, next), (5, None));
    let at_end = iterator(&fake, &ids[0], "LATEST");
    fake.trim_through(5);
    let out = get(&fake, &at_end).unwrap();
    assert!(out["Records"].as_array().unwrap().is_empty() && out.get("NextShardIterator").is_none());
    assert_eq!(shard_ids(&fake), ids[1..], "a shard whose records all expired is no longer listed");
}

#[test]
fn a_disabled_stream_is_listed_until_its_records_expire() {
    let fake = Fake::new(12, 1, &[1], Some(8));
    let listed = api(&fake).list_streams(ListStreamsInput::default()).unwrap();
    assert_eq!(listed["Streams"][0]["StreamArn"], arn());
    let out =
        api(&fake).describe_stream(DescribeStreamInput { stream_arn: Some(arn()), ..Default::default() });
    assert_eq!(out.unwrap()["StreamDescription"]["StreamStatus"], "DISABLED");
    fake.trim_through(8);
    let listed = api(&fake).list_streams(ListStreamsInput::default()).unwrap();
    assert_eq!(listed["Streams"].as_array().unwrap().len(), 0);
    let gone =
        api(&fake).describe_stream(DescribeStreamInput { stream_arn: Some(arn()), ..Default::default() });
    assert!(matches!(gone, Err(StreamsError::ResourceNotFound { .. })));
}
