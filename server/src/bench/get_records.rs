//! `--workload get-records`: how fast the DynamoDB Streams API hands out a table's changes.
//!
//! The table is created afresh with a NEW_AND_OLD_IMAGES stream and loaded with `--records` new
//! items by BatchWriteItem (25 puts a request, `--concurrency` connections), so its stream holds
//! exactly that many INSERT records. Then one reader does what a DynamoDB Streams consumer does:
//! ListStreams, DescribeStream (all pages), and for each shard, parents first, GetShardIterator
//! TRIM_HORIZON and GetRecords with Limit 1000, following NextShardIterator until a closed shard
//! has no next iterator or an open one answers an empty page. Records/s counts from the first
//! GetRecords request to the last page that carried records; every record's sequence number must
//! be above the previous one.

use std::borrow::Cow;
use std::collections::HashMap;
use std::fmt::Write as _;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use bytes::Bytes;
use hdrhistogram::Histogram;
use serde::Deserialize;
use serde::de::IgnoredAny;
use serde_json::{Value, json};

use super::client::{Client, Operation, Reply, Target};
use super::keys::Bodies;
use super::report::{OpResult, Report};
use super::table;

/// Puts per BatchWriteItem (DynamoDB's maximum).
const BATCH_ITEMS: u64 = 25;
/// GetRecords' Limit (DynamoDB Streams' maximum).
const PAGE_RECORDS: u32 = 1000;
/// Attempts at one batch whose items come back unprocessed or whose request fails.
const BATCH_ATTEMPTS: u32 = 5;
/// Empty pages in a row after which a closed shard that still gives a next iterator is an error.
const EMPTY_PAGES_MAX: u32 = 100;
/// The stated target in records per second.
pub const TARGET_RECORDS_PER_SEC: f64 = 100_000.0;
/// Latencies above an hour (in µs) are recorded as an hour.
const LATENCY_MAX_US: u64 = 3_600_000_000;

/// How the workload runs.
#[derive(Debug, Clone)]
pub struct Plan {
    /// The table, created afresh with a stream.
    pub table: String,
    pub records: u64,
    /// Preload connections.
    pub concurrency: usize,
    pub value_bytes: u64,
}

pub fn histogram() -> Histogram<u64> {
    // The bounds are constants that hdrhistogram accepts.
    #[allow(clippy::unwrap_used)]
    Histogram::new_with_bounds(1, LATENCY_MAX_US, 3).unwrap()
}

/// Runs the workload.
pub async fn run(plan: &Plan, target: &Arc<Target>) -> anyhow::Result<Report> {
    let name = "get-records";
    let bodies = Arc::new(Bodies::new(&plan.table, plan.value_bytes as usize));
    let mut client = Client::new(Arc::clone(target));
    table::recreate_with_stream(&mut client, &bodies, &plan.table).await?;

    let batches = Arc::clone(&bodies);
    let items = format!("items of {} bytes", plan.value_bytes);
    let preload =
        preload(&plan.table, plan.records, &items, plan.concurrency, target, move |first, count| {
            batches.batch_put_records(first, count)
        })
        .await?;
    eprintln!(
        "preload: {} items in {:.1} s ({:.0} items/s) by {} BatchWriteItem requests",
        plan.records,
        preload.elapsed.as_secs_f64(),
        plan.records as f64 / preload.elapsed.as_secs_f64().max(1e-9),
        preload.latency.len()
    );

    let started = Instant::now();
    let arn = stream_arn(&mut client, &plan.table).await?;
    let shards = shards(&mut client, &arn).await?;
    let control_time = started.elapsed();
    eprintln!("get-records: stream {arn}, {} shard(s); draining with Limit {PAGE_RECORDS}", shards.len());

    let mut drain = Drain::new();
    for shard in &shards {
        drain.shard(&mut client, &arn, shard).await?;
    }
    let read_time = drain.read_time();

    let records_per_sec = drain.records as f64 / read_time.as_secs_f64().max(1e-9);
    let rows = vec![
        OpResult {
            workload: name,
            operation: "BatchWriteItem",
            concurrency: plan.concurrency,
            duration: preload.elapsed,
            ops: preload.latency.len(),
            errors: preload.retries,
            latency: preload.latency,
        },
        OpResult {
            workload: name,
            operation: "GetRecords",
            concurrency: 1,
            duration: read_time,
            ops: drain.latency.len(),
            errors: 0,
            latency: drain.latency.clone(),
        },
    ];
    let mut notes = String::new();
    let _ = writeln!(
        notes,
        "records: {} read of {} written, {} GetRecords requests ({:.0} records a page), {} shard(s), \
         in {:.3} s: {records_per_sec:.0} records/s",
        drain.records,
        plan.records,
        drain.latency.len(),
        drain.records as f64 / drain.pages_with_records.max(1) as f64,
        shards.len(),
        read_time.as_secs_f64()
    );
    let _ = writeln!(
        notes,
        "ListStreams + DescribeStream: {:.2} ms; GetShardIterator requests: {}",
        control_time.as_secs_f64() * 1000.0,
        shards.len()
    );
    let verdict = if records_per_sec >= TARGET_RECORDS_PER_SEC { "met" } else { "NOT met" };
    let _ = writeln!(notes, "target: >= {TARGET_RECORDS_PER_SEC:.0} records/s: {verdict}");
    let failure = if drain.records != plan.records {
        Some(format!("read {} records, expected {}", drain.records, plan.records))
    } else if drain.out_of_order > 0 {
        Some(format!("{} records came with a sequence number not above the previous one", drain.out_of_order))
    } else {
        None
    };
    let summary = json!({
        "workload": name,
        "operation": "summary",
        "records_written": plan.records,
        "records_read": drain.records,
        "records_per_s": records_per_sec.round(),
        "get_records_requests": drain.latency.len(),
        "read_s": read_time.as_secs_f64(),
        "shards": shards.len(),
        "out_of_order": drain.out_of_order,
    });
    Ok(Report { rows, notes, summary, failure })
}

/// What the preload measured.
pub struct Preload {
    pub elapsed: Duration,
    /// Per BatchWriteItem request, µs.
    pub latency: Histogram<u64>,
    /// Requests sent again (unprocessed items or a failed request).
    pub retries: u64,
}

/// Writes `records` new items into `table` by BatchWriteItem over `concurrency` connections:
/// `batch(first, count)` is the request body of the items `first..first + count` (at most 25).
/// `items` says what they are, for the progress message.
pub async fn preload<F>(
    table: &str,
    records: u64,
    items: &str,
    concurrency: usize,
    target: &Arc<Target>,
    batch: F,
) -> anyhow::Result<Preload>
where
    F: Fn(u64, u64) -> Bytes + Send + Sync + 'static,
{
    let batches = records.div_ceil(BATCH_ITEMS);
    eprintln!(
        "preload: writing {records} {items} into {table} in {batches} BatchWriteItem requests over \
         {concurrency} connections"
    );
    let started = Instant::now();
    let next = Arc::new(AtomicU64::new(0));
    let bodies = Arc::new(batch);
    let mut tasks = tokio::task::JoinSet::new();
    for _ in 0..concurrency.min(batches as usize).max(1) {
        let (target, bodies, next) = (Arc::clone(target), Arc::clone(&bodies), Arc::clone(&next));
        tasks.spawn(async move {
            let mut client = Client::new(target);
            client.connect().await?;
            let mut latency = histogram();
            let mut retries = 0;
            loop {
                let batch = next.fetch_add(1, Ordering::Relaxed);
                if batch >= batches {
                    return anyhow::Ok((latency, retries));
                }
                let first = batch * BATCH_ITEMS;
                let body = bodies(first, BATCH_ITEMS.min(records - first));
                retries += write_batch(&mut client, body, &mut latency).await?;
            }
        });
    }
    let mut latency = histogram();
    let mut retries = 0;
    while let Some(joined) = tasks.join_next().await {
        let (part, part_retries) = joined??;
        latency.add(&part)?;
        retries += part_retries;
    }
    Ok(Preload { elapsed: started.elapsed(), latency, retries })
}

#[derive(Deserialize)]
struct BatchWriteOutput {
    #[serde(rename = "UnprocessedItems", default)]
    unprocessed: HashMap<String, Vec<IgnoredAny>>,
}

/// Sends one batch until all of it is processed; returns how many times it was sent again.
/// Sending a whole batch again is harmless: a put of an identical item changes nothing and
/// records no change.
async fn write_batch(client: &mut Client, body: Bytes, latency: &mut Histogram<u64>) -> anyhow::Result<u64> {
    let mut attempt = 0;
    loop {
        attempt += 1;
        let sent = Instant::now();
        let outcome = client.call(Operation::BatchWriteItem, body.clone()).await;
        let elapsed = sent.elapsed();
        let problem = match outcome {
            Ok(reply) if reply.is_success() => {
                latency.saturating_record((elapsed.as_micros() as u64).max(1));
                let output: BatchWriteOutput = serde_json::from_slice(&reply.body).map_err(|e| {
                    anyhow::anyhow!("BatchWriteItem: unexpected response ({e}): {}", reply.body_text())
                })?;
                if output.unprocessed.values().all(Vec::is_empty) {
                    return Ok(u64::from(attempt - 1));
                }
                "unprocessed items".to_string()
            }
            Ok(reply) => format!("HTTP {}: {}", reply.status, reply.body_text()),
            Err(error) => format!("{error:#}"),
        };
        if attempt >= BATCH_ATTEMPTS {
            anyhow::bail!("preload BatchWriteItem failed {attempt} times; last: {problem}");
        }
        tokio::time::sleep(Duration::from_millis(10 << attempt)).await;
    }
}

/// Calls a DynamoDB Streams operation with a JSON body and parses its JSON answer.
async fn call_json(client: &mut Client, operation: Operation, body: &Value) -> anyhow::Result<Value> {
    let reply = client.call(operation, Bytes::from(body.to_string())).await?;
    check(operation, &reply)?;
    serde_json::from_slice(&reply.body)
        .map_err(|e| anyhow::anyhow!("{}: the response is not JSON ({e})", operation.name()))
}

fn check(operation: Operation, reply: &Reply) -> anyhow::Result<()> {
    if !reply.is_success() {
        anyhow::bail!("{}: HTTP {}: {}", operation.name(), reply.status, reply.body_text());
    }
    Ok(())
}

/// The ARN of the table's stream (the newest, should ListStreams show more than one).
async fn stream_arn(client: &mut Client, table: &str) -> anyhow::Result<String> {
    let out = call_json(client, Operation::ListStreams, &json!({ "TableName": table })).await?;
    out["Streams"]
        .as_array()
        .into_iter()
        .flatten()
        .filter(|s| s["TableName"] == table)
        .max_by(|a, b| a["StreamLabel"].as_str().cmp(&b["StreamLabel"].as_str()))
        .and_then(|s| s["StreamArn"].as_str())
        .map(str::to_string)
        .ok_or_else(|| anyhow::anyhow!("ListStreams shows no stream of {table}: {out}"))
}

/// One shard as DescribeStream lists it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Shard {
    pub id: String,
    pub parent: Option<String>,
    /// Whether the shard has an EndingSequenceNumber (no record will be added to it).
    pub closed: bool,
}

/// All shards of the stream, every DescribeStream page, in reading order (parents first).
async fn shards(client: &mut Client, arn: &str) -> anyhow::Result<Vec<Shard>> {
    let mut shards = Vec::new();
    let mut after: Option<String> = None;
    loop {
        let mut body = json!({ "StreamArn": arn });
        if let Some(after) = &after {
            body["ExclusiveStartShardId"] = after.clone().into();
        }
        let out = call_json(client, Operation::DescribeStream, &body).await?;
        let description = &out["StreamDescription"];
        for shard in description["Shards"].as_array().into_iter().flatten() {
            let Some(id) = shard["ShardId"].as_str() else {
                anyhow::bail!("DescribeStream: a shard without ShardId: {shard}");
            };
            shards.push(Shard {
                id: id.to_string(),
                parent: shard["ParentShardId"].as_str().map(str::to_string),
                closed: shard["SequenceNumberRange"]
                    .get("EndingSequenceNumber")
                    .is_some_and(|e| !e.is_null()),
            });
        }
        match description["LastEvaluatedShardId"].as_str() {
            Some(last) => after = Some(last.to_string()),
            None => break,
        }
    }
    if shards.is_empty() {
        anyhow::bail!("DescribeStream of {arn} lists no shard");
    }
    Ok(parents_first(shards))
}

/// Orders shards so that each comes after its parent when the parent is listed: wave by wave,
/// each wave in listed order (DescribeStream lists the oldest first). A cycle, which a sane
/// server never lists, is left in listed order at the end.
pub fn parents_first(shards: Vec<Shard>) -> Vec<Shard> {
    let mut ordered = Vec::with_capacity(shards.len());
    let mut pending = shards;
    while !pending.is_empty() {
        let waits = |shard: &Shard, pending: &[Shard]| {
            shard.parent.as_ref().is_some_and(|parent| pending.iter().any(|other| &other.id == parent))
        };
        let (waiting, ready): (Vec<Shard>, Vec<Shard>) =
            pending.iter().cloned().partition(|shard| waits(shard, &pending));
        if ready.is_empty() {
            ordered.extend(waiting);
            break;
        }
        ordered.extend(ready);
        pending = waiting;
    }
    ordered
}

#[derive(Deserialize)]
#[serde(rename_all = "PascalCase")]
struct GetRecordsOutput<'a> {
    #[serde(borrow, default)]
    records: Vec<RecordSequence<'a>>,
    #[serde(borrow)]
    next_shard_iterator: Option<Cow<'a, str>>,
}

#[derive(Deserialize)]
struct RecordSequence<'a> {
    #[serde(borrow)]
    dynamodb: SequenceOnly<'a>,
}

#[derive(Deserialize)]
struct SequenceOnly<'a> {
    #[serde(rename = "SequenceNumber", borrow)]
    sequence_number: Cow<'a, str>,
}

/// The sequence numbers of a GetRecords page and its next iterator.
pub fn parse_page(body: &[u8]) -> anyhow::Result<(Vec<u128>, Option<String>)> {
    let page: GetRecordsOutput<'_> =
        serde_json::from_slice(body).map_err(|e| anyhow::anyhow!("GetRecords: unexpected response ({e})"))?;
    let mut seqs = Vec::with_capacity(page.records.len());
    for record in &page.records {
        let text = &record.dynamodb.sequence_number;
        seqs.push(text.parse().map_err(|_| anyhow::anyhow!("GetRecords: SequenceNumber {text:?}"))?);
    }
    Ok((seqs, page.next_shard_iterator.map(Cow::into_owned)))
}

/// The reading of all shards.
struct Drain {
    records: u64,
    pages_with_records: u64,
    out_of_order: u64,
    last_seq: Option<u128>,
    /// Per GetRecords request, µs.
    latency: Histogram<u64>,
    first_request: Option<Instant>,
    last_records: Option<Instant>,
}

impl Drain {
    fn new() -> Drain {
        Drain {
            records: 0,
            pages_with_records: 0,
            out_of_order: 0,
            last_seq: None,
            latency: histogram(),
            first_request: None,
            last_records: None,
        }
    }

    /// From the first GetRecords request to the arrival of the last page with records.
    fn read_time(&self) -> Duration {
        match (self.first_request, self.last_records) {
            (Some(first), Some(last)) => last.saturating_duration_since(first),
            _ => Duration::ZERO,
        }
    }

    async fn shard(&mut self, client: &mut Client, arn: &str, shard: &Shard) -> anyhow::Result<()> {
        let out = call_json(
            client,
            Operation::GetShardIterator,
            &json!({"StreamArn": arn, "ShardId": shard.id, "ShardIteratorType": "TRIM_HORIZON"}),
        )
        .await?;
        let Some(mut iterator) = out["ShardIterator"].as_str().map(str::to_string) else {
            anyhow::bail!("GetShardIterator of {}: no ShardIterator: {out}", shard.id);
        };
        let mut empty_pages = 0;
        loop {
            let body = Bytes::from(json!({"ShardIterator": iterator, "Limit": PAGE_RECORDS}).to_string());
            let sent = Instant::now();
            self.first_request.get_or_insert(sent);
            let reply = client.call(Operation::GetRecords, body).await?;
            let arrived = Instant::now();
            self.latency.saturating_record((arrived.duration_since(sent).as_micros() as u64).max(1));
            check(Operation::GetRecords, &reply)?;
            let (seqs, next) = parse_page(&reply.body)?;
            if !seqs.is_empty() {
                self.pages_with_records += 1;
                self.last_records = Some(arrived);
            }
            for seq in &seqs {
                if self.last_seq.is_some_and(|last| *seq <= last) {
                    self.out_of_order += 1;
                }
                self.last_seq = Some(*seq);
            }
            self.records += seqs.len() as u64;
            empty_pages = if seqs.is_empty() { empty_pages + 1 } else { 0 };
            match next {
                // An open shard is drained when it has nothing more to give now.
                Some(_) if seqs.is_empty() && !shard.closed => return Ok(()),
                Some(_) if empty_pages >= EMPTY_PAGES_MAX => {
                    anyhow::bail!("closed shard {} gave {EMPTY_PAGES_MAX} empty pages in a row", shard.id)
                }
                Some(next) => iterator = next,
                None => return Ok(()),
            }
        }
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::{Shard, parents_first, parse_page};

    fn shard(id: &str, parent: Option<&str>) -> Shard {
        Shard { id: id.to_string(), parent: parent.map(str::to_string), closed: false }
    }

    #[test]
    fn shards_are_read_parents_first() {
        let ids = |shards: Vec<Shard>| shards.into_iter().map(|s| s.id).collect::<Vec<_>>();
        // Listed oldest first: kept.
        let listed = vec![shard("a", None), shard("b", Some("a")), shard("c", Some("b"))];
        assert_eq!(ids(parents_first(listed)), ["a", "b", "c"]);
        // A child listed before its parent comes after it; a parent that is not listed (trimmed)
        // does not hold its child back.
        let listed =
            vec![shard("c", Some("b")), shard("b", Some("a")), shard("d", Some("gone")), shard("a", None)];
        assert_eq!(ids(parents_first(listed)), ["d", "a", "b", "c"]);
        // A cycle is kept, not dropped.
        let listed = vec![shard("x", Some("y")), shard("y", Some("x"))];
        assert_eq!(ids(parents_first(listed)), ["x", "y"]);
    }

    #[test]
    fn get_records_pages() {
        let body = br#"{"Records":[
            {"eventID":"1","eventName":"INSERT","dynamodb":{"Keys":{"pk":{"S":"gr-0000000001"}},
             "NewImage":{"pk":{"S":"gr-0000000001"}},"SequenceNumber":"000000000000000000041","SizeBytes":30}},
            {"eventID":"2","eventName":"INSERT","dynamodb":{"SequenceNumber":"000000000000000000042"}}
        ],"NextShardIterator":"it\/2"}"#;
        let (seqs, next) = parse_page(body).unwrap();
        assert_eq!(seqs, [41, 42]);
        assert_eq!(next.as_deref(), Some("it/2"));
        let (seqs, next) = parse_page(br#"{"Records":[]}"#).unwrap();
        assert!(seqs.is_empty());
        assert_eq!(next, None);
        assert!(parse_page(br#"{"Records":[{"dynamodb":{"SequenceNumber":"x"}}]}"#).is_err());
        assert!(parse_page(b"not json").is_err());
    }
}
