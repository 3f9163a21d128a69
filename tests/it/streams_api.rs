//! Proves the DynamoDB Streams API works with the unmodified `aws-sdk-dynamodbstreams` on the
//! DynamoDB endpoint: records per view type, every iterator type, paging, iterator expiry and
//! trimming on the dev clock, disabled streams, shard rollover with lineage, and that failed
//! or no-op writes record nothing while a transaction's records stay contiguous.

use std::collections::{HashMap, HashSet};

use aws_sdk_dynamodb::Client;
use aws_sdk_dynamodb::types::{
    BillingMode, KeyType, Put, ScalarAttributeType, StreamSpecification, StreamViewType, TransactWriteItem,
};
use aws_sdk_dynamodbstreams::Client as StreamsClient;
use aws_sdk_dynamodbstreams::types::{
    OperationType, Record, Shard, ShardFilter, ShardFilterType, ShardIteratorType, StreamStatus,
};
use eddy_tests::{
    TestServer, attr_def, expect_error, expect_validation, item, key_elem, n, s, unique_table_name,
};

/// Creates a table keyed by `pk` (S) with a stream of `view`; returns its name and stream ARN.
async fn stream_table(client: &Client, view: StreamViewType) -> (String, String) {
    let name = unique_table_name("streams");
    let out = client
        .create_table()
        .table_name(&name)
        .billing_mode(BillingMode::PayPerRequest)
        .attribute_definitions(attr_def("pk", ScalarAttributeType::S))
        .key_schema(key_elem("pk", KeyType::Hash))
        .stream_specification(
            StreamSpecification::builder().stream_enabled(true).stream_view_type(view).build().unwrap(),
        )
        .send()
        .await
        .unwrap();
    let arn = out.table_description().unwrap().latest_stream_arn().unwrap().to_string();
    (name, arn)
}

async fn put(client: &Client, table: &str, pk: &str, v: i64) {
    client
        .put_item()
        .table_name(table)
        .set_item(Some(item([("pk", s(pk)), ("v", n(v))])))
        .send()
        .await
        .unwrap();
}

/// Every shard of a stream, through DescribeStream pages of `page` shards.
async fn shards(streams: &StreamsClient, arn: &str, page: i32) -> Vec<Shard> {
    let mut all = Vec::new();
    let mut start: Option<String> = None;
    loop {
        let out = streams
            .describe_stream()
            .stream_arn(arn)
            .limit(page)
            .set_exclusive_start_shard_id(start.clone())
            .send()
            .await
            .unwrap();
        let description = out.stream_description().unwrap();
        all.extend(description.shards().iter().cloned());
        match description.last_evaluated_shard_id() {
            Some(last) => start = Some(last.to_string()),
            None => return all,
        }
    }
}

async fn iterator(
    streams: &StreamsClient,
    arn: &str,
    shard: &str,
    kind: ShardIteratorType,
    seq: Option<&str>,
) -> String {
    streams
        .get_shard_iterator()
        .stream_arn(arn)
        .shard_id(shard)
        .shard_iterator_type(kind)
        .set_sequence_number(seq.map(str::to_string))
        .send()
        .await
        .unwrap()
        .shard_iterator()
        .unwrap()
        .to_string()
}

/// Reads a shard from `iterator` until it is drained (closed) or returns nothing (open).
async fn drain(
    streams: &StreamsClient,
    mut iterator: String,
    limit: Option<i32>,
) -> (Vec<Record>, Option<String>) {
    let mut records = Vec::new();
    loop {
        let out = streams.get_records().shard_iterator(&iterator).set_limit(limit).send().await.unwrap();
        let got = out.records().len();
        records.extend(out.records().iter().cloned());
        match out.next_shard_iterator() {
            None => return (records, None),
            Some(next) if got == 0 => return (records, Some(next.to_string())),
            Some(next) => iterator = next.to_string(),
        }
    }
}

/// Every record of a stream, shard after shard from the trim horizon.
async fn all_records(streams: &StreamsClient, arn: &str) -> Vec<Record> {
    let mut records = Vec::new();
    for shard in shards(streams, arn, 100).await {
        let it =
            iterator(streams, arn, shard.shard_id().unwrap(), ShardIteratorType::TrimHorizon, None).await;
        records.extend(drain(streams, it, None).await.0);
    }
    records
}

fn seq(record: &Record) -> String {
    record.dynamodb().unwrap().sequence_number().unwrap().to_string()
}

fn pk(record: &Record) -> String {
    record.dynamodb().unwrap().keys().unwrap()["pk"].as_s().unwrap().clone()
}

fn value(image: Option<&HashMap<String, aws_sdk_dynamodbstreams::types::AttributeValue>>) -> Option<String> {
    image.and_then(|i| i.get("v")).map(|v| v.as_n().unwrap().clone())
}

#[tokio::test]
async fn each_view_type_carries_its_images() {
    let server = TestServer::start();
    let (client, streams) = (server.client(), server.streams_client());
    for view in [
        StreamViewType::KeysOnly,
        StreamViewType::NewImage,
        StreamViewType::OldImage,
        StreamViewType::NewAndOldImages,
    ] {
        let (table, arn) = stream_table(&client, view.clone()).await;
        put(&client, &table, "a", 1).await;
        put(&client, &table, "a", 2).await;
        client.delete_item().table_name(&table).key("pk", s("a")).send().await.unwrap();

        let records = all_records(&streams, &arn).await;
        let names: Vec<_> = records.iter().map(|r| r.event_name().unwrap().clone()).collect();
        assert_eq!(names, [OperationType::Insert, OperationType::Modify, OperationType::Remove], "{view:?}");
        let (want_new, want_old) = match view {
            StreamViewType::KeysOnly => (false, false),
            StreamViewType::NewImage => (true, false),
            StreamViewType::OldImage => (false, true),
            _ => (true, true),
        };
        let news: Vec<_> = records.iter().map(|r| value(r.dynamodb().unwrap().new_image())).collect();
        let olds: Vec<_> = records.iter().map(|r| value(r.dynamodb().unwrap().old_image())).collect();
        let expect = |want: bool, v: [Option<&str>; 3]| -> Vec<Option<String>> {
            v.iter().map(|x| x.filter(|_| want).map(str::to_string)).collect()
        };
        assert_eq!(news, expect(want_new, [Some("1"), Some("2"), None]), "{view:?}");
        assert_eq!(olds, expect(want_old, [None, Some("1"), Some("2")]), "{view:?}");
        let mut ids = HashSet::new();
        for r in &records {
            assert_eq!(r.event_source(), Some("aws:dynamodb"));
            assert_eq!(r.event_version(), Some("1.1"));
            assert_eq!(r.aws_region(), Some("us-east-1"));
            assert!(ids.insert(r.event_id().unwrap().to_string()), "eventIDs are unique");
            let d = r.dynamodb().unwrap();
            assert_eq!(pk(r), "a");
            assert_eq!(d.stream_view_type().unwrap().as_str(), view.as_str());
            assert!(d.size_bytes().unwrap() > 0);
            assert_eq!(d.sequence_number().unwrap().len(), 21);
            let created = d.approximate_creation_date_time().unwrap().secs();
            let now =
                std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap().as_secs() as i64;
            assert!((now - created).abs() < 600, "ApproximateCreationDateTime is epoch seconds: {created}");
        }
        let seqs: Vec<_> = records.iter().map(seq).collect();
        assert!(seqs.windows(2).all(|w| w[0] < w[1]), "sequence numbers increase: {seqs:?}");
        // Reading again gives the same records.
        assert_eq!(all_records(&streams, &arn).await, records);
    }
}

#[tokio::test]
async fn every_iterator_type_starts_where_it_says() {
    let server = TestServer::start();
    let (client, streams) = (server.client(), server.streams_client());
    let (table, arn) = stream_table(&client, StreamViewType::NewImage).await;

    // A new table's stream already has an open shard, so LATEST before any write works.
    let shard_list = shards(&streams, &arn, 100).await;
    assert_eq!(shard_list.len(), 1);
    let shard = shard_list[0].shard_id().unwrap().to_string();
    assert!(shard_list[0].sequence_number_range().unwrap().ending_sequence_number().is_none());
    let early = iterator(&streams, &arn, &shard, ShardIteratorType::Latest, None).await;
    for i in 0..5 {
        put(&client, &table, &format!("k{i}"), i).await;
    }
    let (from_early, _) = drain(&streams, early, None).await;
    assert_eq!(from_early.len(), 5);
    let seqs: Vec<String> = from_early.iter().map(seq).collect();

    let (trim, _) =
        drain(&streams, iterator(&streams, &arn, &shard, ShardIteratorType::TrimHorizon, None).await, None)
            .await;
    assert_eq!(trim.iter().map(seq).collect::<Vec<_>>(), seqs);
    let at = iterator(&streams, &arn, &shard, ShardIteratorType::AtSequenceNumber, Some(&seqs[2])).await;
    let (at_records, _) = drain(&streams, at, None).await;
    assert_eq!(at_records.iter().map(pk).collect::<Vec<_>>(), ["k2", "k3", "k4"]);
    let after =
        iterator(&streams, &arn, &shard, ShardIteratorType::AfterSequenceNumber, Some(&seqs[2])).await;
    let (after_records, _) = drain(&streams, after, None).await;
    assert_eq!(after_records.iter().map(pk).collect::<Vec<_>>(), ["k3", "k4"]);

    // LATEST starts after the newest record; an open shard at its end keeps its position.
    let latest = iterator(&streams, &arn, &shard, ShardIteratorType::Latest, None).await;
    let out = streams.get_records().shard_iterator(&latest).send().await.unwrap();
    assert!(out.records().is_empty());
    let next = out.next_shard_iterator().expect("an open shard always gives a next iterator").to_string();
    put(&client, &table, "k5", 5).await;
    let out = streams.get_records().shard_iterator(&next).send().await.unwrap();
    assert_eq!(out.records().iter().map(pk).collect::<Vec<_>>(), ["k5"]);

    // Mistakes get DynamoDB Streams' errors.
    expect_validation(streams.get_records().shard_iterator("not-an-iterator").send().await);
    expect_validation(streams.get_records().shard_iterator(&next).limit(1001).send().await);
    expect_validation(streams.get_records().shard_iterator(&next).limit(0).send().await);
    expect_validation(
        streams
            .get_shard_iterator()
            .stream_arn(&arn)
            .shard_id(&shard)
            .shard_iterator_type(ShardIteratorType::AtSequenceNumber)
            .send()
            .await,
    );
    expect_error(
        streams
            .get_shard_iterator()
            .stream_arn(&arn)
            .shard_id("shardId-00000000000000999999-00000000")
            .shard_iterator_type(ShardIteratorType::TrimHorizon)
            .send()
            .await,
        "ResourceNotFoundException",
    );
    expect_error(
        streams.describe_stream().stream_arn(format!("{arn}0")).send().await,
        "ResourceNotFoundException",
    );
    expect_validation(
        streams.describe_stream().stream_arn("arn:aws:dynamodb:us-east-1:1:table/x").send().await,
    );
}

#[tokio::test]
async fn get_records_pages_through_many_records() {
    let server = TestServer::start();
    let (client, streams) = (server.client(), server.streams_client());
    let (table, arn) = stream_table(&client, StreamViewType::KeysOnly).await;
    for chunk in 0..100 {
        let writes = (0..25).map(|i| {
            let put = aws_sdk_dynamodb::types::PutRequest::builder()
                .set_item(Some(item([("pk", s(format!("k{:04}", chunk * 25 + i)))])))
                .build()
                .unwrap();
            aws_sdk_dynamodb::types::WriteRequest::builder().put_request(put).build()
        });
        client.batch_write_item().request_items(&table, writes.collect()).send().await.unwrap();
    }
    let shard = shards(&streams, &arn, 100).await[0].shard_id().unwrap().to_string();
    let mut it = iterator(&streams, &arn, &shard, ShardIteratorType::TrimHorizon, None).await;
    let mut pages = Vec::new();
    let mut seen = Vec::new();
    loop {
        let out = streams.get_records().shard_iterator(&it).send().await.unwrap();
        pages.push(out.records().len());
        seen.extend(out.records().iter().map(seq));
        it = out.next_shard_iterator().unwrap().to_string();
        if out.records().is_empty() {
            break;
        }
    }
    assert_eq!(pages, [1000, 1000, 500, 0]);
    assert!(seen.windows(2).all(|w| w[0] < w[1]));

    let small = iterator(&streams, &arn, &shard, ShardIteratorType::TrimHorizon, None).await;
    let out = streams.get_records().shard_iterator(&small).limit(7).send().await.unwrap();
    assert_eq!(out.records().iter().map(seq).collect::<Vec<_>>(), seen[..7]);
    let out = streams
        .get_records()
        .shard_iterator(out.next_shard_iterator().unwrap())
        .limit(7)
        .send()
        .await
        .unwrap();
    assert_eq!(out.records().iter().map(seq).collect::<Vec<_>>(), seen[7..14]);
}

#[tokio::test]
async fn iterators_expire_and_trimmed_records_are_gone() {
    let server = TestServer::start_with(&["--dev-clock"]);
    let (client, streams) = (server.client(), server.streams_client());
    let (table, arn) = stream_table(&client, StreamViewType::NewImage).await;
    put(&client, &table, "old", 1).await;
    let shard = shards(&streams, &arn, 100).await[0].shard_id().unwrap().to_string();
    let it = iterator(&streams, &arn, &shard, ShardIteratorType::TrimHorizon, None).await;
    let (records, _) = drain(&streams, it.clone(), None).await;
    let old_seq = seq(&records[0]);

    server.advance_clock(16 * 60);
    expect_error(streams.get_records().shard_iterator(&it).send().await, "ExpiredIteratorException");
    // A fresh iterator still reads the record: it is within retention.
    let fresh = iterator(&streams, &arn, &shard, ShardIteratorType::AtSequenceNumber, Some(&old_seq)).await;
    assert_eq!(drain(&streams, fresh.clone(), None).await.0.len(), 1);

    let trimmed = server.advance_clock(25 * 3600);
    assert_eq!(trimmed["TrimmedRecords"], 1, "{trimmed}");
    expect_error(
        streams
            .get_shard_iterator()
            .stream_arn(&arn)
            .shard_id(&shard)
            .shard_iterator_type(ShardIteratorType::AtSequenceNumber)
            .sequence_number(&old_seq)
            .send()
            .await,
        "TrimmedDataAccessException",
    );
    // After the trim, TRIM_HORIZON starts at the first record still kept.
    put(&client, &table, "new", 2).await;
    let records = all_records(&streams, &arn).await;
    assert_eq!(records.iter().map(pk).collect::<Vec<_>>(), ["new"]);
}

#[tokio::test]
async fn reading_an_iterator_whose_records_were_trimmed_fails() {
    // Iterators live 15 minutes, so the trim must pass under a live iterator: retention of one
    // hour, and the record is written 55 minutes before the iterator is used.
    let server = TestServer::start_with(&["--dev-clock", "--retention-hours", "1"]);
    let (client, streams) = (server.client(), server.streams_client());
    let (table, arn) = stream_table(&client, StreamViewType::NewImage).await;
    put(&client, &table, "a", 1).await;
    let shard = shards(&streams, &arn, 100).await[0].shard_id().unwrap().to_string();
    server.advance_clock(55 * 60);
    let it = iterator(&streams, &arn, &shard, ShardIteratorType::TrimHorizon, None).await;
    server.advance_clock(10 * 60);
    expect_error(streams.get_records().shard_iterator(&it).send().await, "TrimmedDataAccessException");
}

#[tokio::test]
async fn disabling_keeps_the_old_stream_readable_and_enabling_makes_a_new_one() {
    let server = TestServer::start();
    let (client, streams) = (server.client(), server.streams_client());
    let (table, first_arn) = stream_table(&client, StreamViewType::NewAndOldImages).await;
    put(&client, &table, "a", 1).await;
    let spec = |enabled: bool, view: Option<StreamViewType>| {
        StreamSpecification::builder().stream_enabled(enabled).set_stream_view_type(view).build().unwrap()
    };
    let disabled = client
        .update_table()
        .table_name(&table)
        .stream_specification(spec(false, None))
        .send()
        .await
        .unwrap();
    // As in DynamoDB, DescribeTable keeps naming the latest stream after it is disabled.
    let described = client.describe_table().table_name(&table).send().await.unwrap();
    let latest = described.table().and_then(|t| t.latest_stream_arn()).map(str::to_string);
    assert!(latest.is_some(), "LatestStreamArn after disabling");
    assert_eq!(disabled.table_description().and_then(|t| t.latest_stream_arn()), latest.as_deref());
    assert!(described.table().and_then(|t| t.stream_specification()).is_none());
    put(&client, &table, "a", 2).await;
    let out = client
        .update_table()
        .table_name(&table)
        .stream_specification(spec(true, Some(StreamViewType::KeysOnly)))
        .send()
        .await
        .unwrap();
    let second_arn = out.table_description().unwrap().latest_stream_arn().unwrap().to_string();
    assert_ne!(first_arn, second_arn);
    put(&client, &table, "a", 3).await;

    let listed = streams.list_streams().table_name(&table).send().await.unwrap();
    let arns: Vec<_> = listed.streams().iter().map(|s| s.stream_arn().unwrap().to_string()).collect();
    assert_eq!(arns, [first_arn.clone(), second_arn.clone()]);
    assert!(listed.last_evaluated_stream_arn().is_none());

    let first = streams.describe_stream().stream_arn(&first_arn).send().await.unwrap();
    let first = first.stream_description().unwrap();
    assert_eq!(first.stream_status(), Some(&StreamStatus::Disabled));
    assert_eq!(first.table_name(), Some(table.as_str()));
    assert_eq!(first.key_schema()[0].attribute_name(), "pk");
    assert!(first.creation_request_date_time().is_some());
    assert!(
        first.shards().iter().all(|s| s.sequence_number_range().unwrap().ending_sequence_number().is_some())
    );
    let second = streams.describe_stream().stream_arn(&second_arn).send().await.unwrap();
    assert_eq!(second.stream_description().unwrap().stream_status(), Some(&StreamStatus::Enabled));

    // The disabled stream holds only what was written while it was enabled, and its closed
    // shard ends with a null NextShardIterator.
    let old = all_records(&streams, &first_arn).await;
    assert_eq!(
        old.iter().map(|r| value(r.dynamodb().unwrap().new_image())).collect::<Vec<_>>(),
        [Some("1".into())]
    );
    let shard = first.shards()[0].shard_id().unwrap();
    let it = iterator(&streams, &first_arn, shard, ShardIteratorType::TrimHorizon, None).await;
    let out = streams.get_records().shard_iterator(&it).send().await.unwrap();
    assert_eq!(out.records().len(), 1);
    assert!(out.next_shard_iterator().is_none());
    let new = all_records(&streams, &second_arn).await;
    assert_eq!(new.len(), 1);
    assert!(new[0].dynamodb().unwrap().new_image().is_none());
}

#[tokio::test]
async fn shards_roll_over_and_keep_per_item_order_across_the_lineage() {
    let server = TestServer::start_with(&["--dev-clock", "--shard-period-secs", "2"]);
    let (client, streams) = (server.client(), server.streams_client());
    let (table, arn) = stream_table(&client, StreamViewType::NewImage).await;
    for round in 0..4 {
        put(&client, &table, "a", round).await;
        put(&client, &table, "b", round).await;
        server.advance_clock(3);
    }
    let all = shards(&streams, &arn, 100).await;
    assert!(all.len() >= 4, "one shard per period: {all:?}");
    assert!(all[0].parent_shard_id().is_none());
    for pair in all.windows(2) {
        assert_eq!(pair[1].parent_shard_id(), pair[0].shard_id(), "each shard's parent is the one before");
        let end = pair[0].sequence_number_range().unwrap().ending_sequence_number().unwrap();
        let start = pair[1].sequence_number_range().unwrap().starting_sequence_number().unwrap();
        assert!(end < start);
    }
    let last = all.last().unwrap();
    assert!(
        last.sequence_number_range().unwrap().ending_sequence_number().is_none(),
        "the newest shard is open"
    );

    // Reading parents before children gives each item's changes in order.
    let mut per_item: HashMap<String, Vec<String>> = HashMap::new();
    for shard in &all {
        let it =
            iterator(&streams, &arn, shard.shard_id().unwrap(), ShardIteratorType::TrimHorizon, None).await;
        let (records, next) = drain(&streams, it, Some(1)).await;
        let closed = shard.sequence_number_range().unwrap().ending_sequence_number().is_some();
        assert_eq!(next.is_none(), closed, "only a drained closed shard ends its iterators");
        for r in records {
            per_item.entry(pk(&r)).or_default().push(value(r.dynamodb().unwrap().new_image()).unwrap());
        }
    }
    assert_eq!(per_item["a"], ["0", "1", "2", "3"]);
    assert_eq!(per_item["b"], ["0", "1", "2", "3"]);

    // DescribeStream pages one shard at a time; starting after the last shard gives none.
    let paged = shards(&streams, &arn, 1).await;
    assert_eq!(paged, all);
    let out = streams
        .describe_stream()
        .stream_arn(&arn)
        .exclusive_start_shard_id(last.shard_id().unwrap())
        .send()
        .await
        .unwrap();
    assert!(out.stream_description().unwrap().shards().is_empty());
    assert!(out.stream_description().unwrap().last_evaluated_shard_id().is_none());
    let children = streams
        .describe_stream()
        .stream_arn(&arn)
        .shard_filter(
            ShardFilter::builder()
                .r#type(ShardFilterType::ChildShards)
                .shard_id(all[0].shard_id().unwrap())
                .build(),
        )
        .send()
        .await
        .unwrap();
    assert_eq!(children.stream_description().unwrap().shards(), &all[1..2]);
}

#[tokio::test]
async fn failed_and_no_op_writes_record_nothing() {
    let server = TestServer::start();
    let (client, streams) = (server.client(), server.streams_client());
    let (table, arn) = stream_table(&client, StreamViewType::NewAndOldImages).await;
    put(&client, &table, "a", 1).await;
    let failed = client
        .put_item()
        .table_name(&table)
        .set_item(Some(item([("pk", s("a")), ("v", n(9))])))
        .condition_expression("attribute_not_exists(pk)")
        .send()
        .await;
    expect_error(failed, "ConditionalCheckFailedException");
    put(&client, &table, "a", 1).await;
    client
        .update_item()
        .table_name(&table)
        .key("pk", s("a"))
        .update_expression("SET v = :v")
        .expression_attribute_values(":v", n(1))
        .send()
        .await
        .unwrap();
    client.delete_item().table_name(&table).key("pk", s("missing")).send().await.unwrap();
    let records = all_records(&streams, &arn).await;
    assert_eq!(records.len(), 1, "{records:?}");
    assert_eq!(records[0].event_name(), Some(&OperationType::Insert));
}

#[tokio::test]
async fn a_transactions_records_are_contiguous() {
    let server = TestServer::start();
    let (client, streams) = (server.client(), server.streams_client());
    let (table, arn) = stream_table(&client, StreamViewType::KeysOnly).await;
    let mut tasks = Vec::new();
    for i in 0..20 {
        let (client, table) = (client.clone(), table.clone());
        tasks.push(tokio::spawn(async move { put(&client, &table, &format!("solo{i}"), i).await }));
    }
    for t in 0..5 {
        let actions = (0..4).map(|i| {
            let put = Put::builder()
                .table_name(&table)
                .set_item(Some(item([("pk", s(format!("tx{t}-{i}")))])))
                .build()
                .unwrap();
            TransactWriteItem::builder().put(put).build()
        });
        client.transact_write_items().set_transact_items(Some(actions.collect())).send().await.unwrap();
    }
    for task in tasks {
        task.await.unwrap();
    }
    let keys: Vec<String> = all_records(&streams, &arn).await.iter().map(pk).collect();
    assert_eq!(keys.len(), 40);
    for t in 0..5 {
        let at = keys.iter().position(|k| k.starts_with(&format!("tx{t}-"))).unwrap();
        assert!(keys[at..at + 4].iter().all(|k| k.starts_with(&format!("tx{t}-"))), "{keys:?}");
    }
}

#[tokio::test]
async fn list_streams_pages_and_filters_by_table() {
    let server = TestServer::start();
    let (client, streams) = (server.client(), server.streams_client());
    let mut arns = Vec::new();
    for _ in 0..3 {
        arns.push(stream_table(&client, StreamViewType::KeysOnly).await.1);
    }
    let plain = eddy_tests::hash_table(&client, "nostream").await;
    arns.sort();

    let first = streams.list_streams().limit(2).send().await.unwrap();
    assert_eq!(first.streams().len(), 2);
    let start = first.last_evaluated_stream_arn().unwrap();
    let second = streams.list_streams().limit(2).exclusive_start_stream_arn(start).send().await.unwrap();
    assert!(second.last_evaluated_stream_arn().is_none());
    let listed: Vec<_> =
        first.streams().iter().chain(second.streams()).map(|s| s.stream_arn().unwrap()).collect();
    assert_eq!(listed, arns);

    assert!(streams.list_streams().table_name(&plain).send().await.unwrap().streams().is_empty());
    expect_error(
        streams.list_streams().table_name("no-such-table").send().await,
        "ResourceNotFoundException",
    );
    expect_validation(streams.list_streams().limit(0).send().await);
}
