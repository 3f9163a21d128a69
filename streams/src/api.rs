//! The four operations of the DynamoDB Streams API (ListStreams, DescribeStream,
//! GetShardIterator, GetRecords) over a [`StreamSource`]: requests in, DynamoDB Streams JSON
//! out. The server only parses bodies and maps [`StreamsError`] to error responses.

use eddy_core::changelog::{FeedPosition, format_sequence_number, parse_sequence_number};
use serde::Deserialize;
use serde_json::{Map, Value, json};

use crate::error::StreamsError;
use crate::iterator::{IteratorType, ShardIterator};
use crate::limits::Limits;
use crate::record::{self, RecordContext};
use crate::shard::{self, Shard};
use crate::source::StreamSource;
use crate::stream::{self, ArnScope, Stream};

/// ListStreams' request.
#[derive(Debug, Default, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct ListStreamsInput {
    /// Only the streams of this table.
    pub table_name: Option<String>,
    /// Most streams to return.
    pub limit: Option<i64>,
    /// Continue after this stream (the previous page's LastEvaluatedStreamArn).
    pub exclusive_start_stream_arn: Option<String>,
}

/// DescribeStream's ShardFilter.
#[derive(Debug, Default, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct ShardFilter {
    /// `CHILD_SHARDS`.
    #[serde(rename = "Type")]
    pub kind: Option<String>,
    /// The shard whose children are asked for.
    pub shard_id: Option<String>,
}

/// DescribeStream's request.
#[derive(Debug, Default, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct DescribeStreamInput {
    /// The stream.
    pub stream_arn: Option<String>,
    /// Most shards to return.
    pub limit: Option<i64>,
    /// Continue after this shard (the previous page's LastEvaluatedShardId).
    pub exclusive_start_shard_id: Option<String>,
    /// Only the children of a shard.
    pub shard_filter: Option<ShardFilter>,
}

/// GetShardIterator's request.
#[derive(Debug, Default, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct GetShardIteratorInput {
    /// The stream.
    pub stream_arn: Option<String>,
    /// The shard.
    pub shard_id: Option<String>,
    /// TRIM_HORIZON, LATEST, AT_SEQUENCE_NUMBER or AFTER_SEQUENCE_NUMBER.
    pub shard_iterator_type: Option<String>,
    /// For AT_ and AFTER_SEQUENCE_NUMBER.
    pub sequence_number: Option<String>,
}

/// GetRecords' request.
#[derive(Debug, Default, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct GetRecordsInput {
    /// Where to read.
    pub shard_iterator: Option<String>,
    /// Most records to return.
    pub limit: Option<i64>,
}

/// The DynamoDB Streams API of one server.
pub struct StreamsApi<'a, S> {
    /// The store (or a test double).
    pub source: &'a S,
    /// Region and account in ARNs.
    pub scope: ArnScope<'a>,
    /// Bounds.
    pub limits: &'a Limits,
}

fn required<T>(value: Option<T>, field: &str) -> Result<T, StreamsError> {
    value.ok_or_else(|| {
        StreamsError::validation(format!(
            "1 validation error detected: Value null at '{field}' failed to satisfy constraint: Member must not be null"
        ))
    })
}

/// A Limit parameter checked against 1..=max; `max` when absent.
fn limit(value: Option<i64>, max: usize) -> Result<usize, StreamsError> {
    let Some(n) = value else { return Ok(max) };
    if n < 1 {
        return Err(StreamsError::validation(format!(
            "1 validation error detected: Value '{n}' at 'limit' failed to satisfy constraint: Member must have value greater than or equal to 1"
        )));
    }
    if n as u64 > max as u64 {
        return Err(StreamsError::validation(format!(
            "1 validation error detected: Value '{n}' at 'limit' failed to satisfy constraint: Member must have value less than or equal to {max}"
        )));
    }
    Ok(n as usize)
}

fn shard_not_found(id: &str) -> StreamsError {
    StreamsError::not_found(format!("Requested resource not found: Shard does not exist: {id}"))
}

fn trimmed(seq: u64, position: FeedPosition) -> StreamsError {
    StreamsError::trimmed(format!(
        "Attempted to access a record that was trimmed: sequence number {} is older than the trim horizon {}",
        format_sequence_number(seq),
        format_sequence_number(position.trim_horizon)
    ))
}

impl<S: StreamSource> StreamsApi<'_, S> {
    /// ListStreams.
    pub fn list_streams(&self, input: ListStreamsInput) -> Result<Value, StreamsError> {
        let max = limit(input.limit, self.limits.list_streams_max)?;
        let after = match &input.exclusive_start_stream_arn {
            Some(arn) => Some(self.scope.parse_stream_arn(arn).ok_or_else(|| stream::invalid_arn(arn))?),
            None => None,
        };
        let mut tables = match &input.table_name {
            Some(name) => {
                let not_found = || {
                    StreamsError::not_found(format!("Requested resource not found: Table: {name} not found"))
                };
                stream::table_state(self.source, name, not_found)?;
                vec![name.clone()]
            }
            None => self.source.table_names(),
        };
        tables.sort();
        let mut listed = Vec::new();
        let mut more = false;
        'tables: for table in tables {
            if after.is_some_and(|(t, _)| table.as_str() < t) {
                continue;
            }
            // A table deleted since it was listed has no streams.
            let Ok((meta, position)) =
                stream::table_state(self.source, &table, || stream::stream_not_found(""))
            else {
                continue;
            };
            let mut streams = stream::streams_of(&meta, position);
            streams.sort_by(|a, b| a.settings.label.cmp(&b.settings.label));
            for s in streams {
                if after.is_some_and(|(t, l)| (table.as_str(), s.settings.label.as_str()) <= (t, l)) {
                    continue;
                }
                if listed.len() == max {
                    more = true;
                    break 'tables;
                }
                listed.push(s);
            }
        }
        let arns: Vec<String> = listed.iter().map(|s| self.arn(s)).collect();
        let streams: Vec<Value> = listed
            .iter()
            .zip(&arns)
            .map(|(s, arn)| json!({"StreamArn": arn, "TableName": s.table_name(), "StreamLabel": s.settings.label}))
            .collect();
        let mut out = json!({ "Streams": streams });
        if more && let Some(last) = arns.last() {
            out["LastEvaluatedStreamArn"] = last.clone().into();
        }
        Ok(out)
    }

    /// DescribeStream.
    pub fn describe_stream(&self, input: DescribeStreamInput) -> Result<Value, StreamsError> {
        let arn = required(input.stream_arn, "streamArn")?;
        let max = limit(input.limit, self.limits.describe_stream_shards_max)?;
        let after = input.exclusive_start_shard_id.as_deref().map(shard::parse_shard_id).transpose()?;
        let parent = match input.shard_filter {
            Some(filter) => {
                let kind = required(filter.kind, "shardFilter.type")?;
                if kind != "CHILD_SHARDS" {
                    return Err(StreamsError::validation(format!(
                        "1 validation error detected: Value '{kind}' at 'shardFilter.type' failed to satisfy constraint: Member must satisfy enum value set: [CHILD_SHARDS]"
                    )));
                }
                Some(required(filter.shard_id, "shardFilter.shardId")?)
            }
            None => None,
        };
        let (stream, position) = stream::resolve(self.source, self.scope, &arn)?;
        let shards = self.shards(&stream, position)?;
        let mut page: Vec<&Shard> = shards
            .iter()
            .filter(|s| after.is_none_or(|after| s.start > after))
            .filter(|s| parent.is_none() || s.parent_id == parent)
            .take(max + 1)
            .collect();
        let more = page.len() > max;
        page.truncate(max);
        let key_schema = &stream.table.spec.key_schema;
        let mut keys = vec![json!({"AttributeName": key_schema.partition.name, "KeyType": "HASH"})];
        if let Some(sort) = &key_schema.sort {
            keys.push(json!({"AttributeName": sort.name, "KeyType": "RANGE"}));
        }
        let created_millis =
            stream::label_millis(&stream.settings.label).unwrap_or(stream.table.created_at_millis);
        let mut description = json!({
            "StreamArn": arn,
            "StreamLabel": stream.settings.label,
            "StreamStatus": stream.status(),
            "StreamViewType": stream.settings.view_type.as_str(),
            "CreationRequestDateTime": created_millis as f64 / 1000.0,
            "TableName": stream.table_name(),
            "KeySchema": keys,
            "Shards": page.iter().map(|s| s.to_json()).collect::<Vec<_>>(),
        });
        if more && let Some(last) = page.last() {
            description["LastEvaluatedShardId"] = last.id.clone().into();
        }
        Ok(json!({ "StreamDescription": description }))
    }

    /// GetShardIterator.
    pub fn get_shard_iterator(&self, input: GetShardIteratorInput) -> Result<Value, StreamsError> {
        let arn = required(input.stream_arn, "streamArn")?;
        let shard_id = required(input.shard_id, "shardId")?;
        let kind = IteratorType::parse(&required(input.shard_iterator_type, "shardIteratorType")?)?;
        shard::parse_shard_id(&shard_id)?;
        let sequence_number = match kind {
            IteratorType::AtSequenceNumber | IteratorType::AfterSequenceNumber => {
                let text = input.sequence_number.ok_or_else(|| {
                    StreamsError::validation(
                        "Must specify a sequence number with the AT_SEQUENCE_NUMBER or AFTER_SEQUENCE_NUMBER iterator type",
                    )
                })?;
                Some(parse_sequence_number(&text).ok_or_else(|| {
                    StreamsError::validation(format!(
                        "Invalid SequenceNumber: {text} is not a sequence number"
                    ))
                })?)
            }
            IteratorType::TrimHorizon | IteratorType::Latest => None,
        };
        let (stream, position) = stream::resolve(self.source, self.scope, &arn)?;
        let shards = self.shards(&stream, position)?;
        let shard = shards.iter().find(|s| s.id == shard_id).ok_or_else(|| shard_not_found(&shard_id))?;
        let after_end = shard.end.map_or(u64::MAX, |end| end + 1);
        let next_seq = match (kind, sequence_number) {
            (IteratorType::TrimHorizon, _) => shard.start.max(position.trim_horizon).min(after_end),
            (IteratorType::Latest, _) => match shard.end {
                Some(end) => end + 1,
                None => (position.high_watermark + 1).max(shard.start),
            },
            (_, Some(seq)) => {
                if seq < shard.start || seq >= after_end || seq > position.high_watermark {
                    return Err(StreamsError::validation(format!(
                        "Invalid SequenceNumber: {} is not in shard {shard_id}",
                        format_sequence_number(seq)
                    )));
                }
                if seq < position.trim_horizon {
                    return Err(trimmed(seq, position));
                }
                if kind == IteratorType::AtSequenceNumber { seq } else { seq + 1 }
            }
            (_, None) => return Err(StreamsError::validation("Invalid SequenceNumber")),
        };
        let iterator = ShardIterator {
            table: stream.table_name().to_string(),
            table_id: stream.table.id,
            label: stream.settings.label.clone(),
            shard_start: shard.start,
            next_seq,
            issued_at_millis: self.source.now_millis(),
        };
        Ok(json!({ "ShardIterator": iterator.encode() }))
    }

    /// GetRecords.
    pub fn get_records(&self, input: GetRecordsInput) -> Result<Value, StreamsError> {
        let token = required(input.shard_iterator, "shardIterator")?;
        let max = limit(input.limit, self.limits.get_records_records_max)?;
        let iterator = ShardIterator::decode(&token)?;
        let now = self.source.now_millis();
        let lifetime = self.limits.iterator_lifetime.as_millis() as u64;
        let age = now.saturating_sub(iterator.issued_at_millis);
        if age > lifetime {
            return Err(StreamsError::ExpiredIterator {
                message: format!(
                    "Iterator expired. The iterator was created {} seconds ago; iterators expire after {} seconds",
                    age / 1000,
                    lifetime / 1000
                ),
            });
        }
        let arn = self.scope.stream_arn(&iterator.table, &iterator.label);
        let (meta, position) =
            stream::table_state(self.source, &iterator.table, || stream::stream_not_found(&arn))?;
        if meta.id != iterator.table_id {
            return Err(stream::stream_not_found(&arn));
        }
        let stream = stream::streams_of(&meta, position)
            .into_iter()
            .find(|s| s.settings.label == iterator.label)
            .ok_or_else(|| stream::stream_not_found(&arn))?;
        // Trimmed shards too: reading one that still had records for the iterator is a trim.
        let shards = self.all_shards(&stream, position)?;
        let shard = shards.iter().find(|s| s.start == iterator.shard_start).ok_or_else(|| {
            shard_not_found(&shard::shard_id(meta.id, &iterator.label, iterator.shard_start))
        })?;
        let upto = shard.end.unwrap_or(u64::MAX).min(position.high_watermark);
        let mut records = Vec::new();
        let mut next_seq = iterator.next_seq;
        if next_seq <= upto && next_seq < position.trim_horizon {
            return Err(trimmed(next_seq, position));
        }
        if next_seq <= upto {
            let want = usize::try_from(upto - next_seq + 1).unwrap_or(usize::MAX).min(max);
            let read = self.source.read(&iterator.table, next_seq, want)?;
            // A trim that ran after the position was read shows as a gap at the start.
            if read.first().is_none_or(|r| r.seq != next_seq) {
                return Err(trimmed(next_seq, self.source.position(&iterator.table)?));
            }
            let context = RecordContext {
                table_id: meta.id,
                view_type: stream.settings.view_type,
                region: self.scope.region,
            };
            let mut bytes = 0;
            for change in read.iter().take_while(|r| r.seq <= upto) {
                bytes += record::size_bytes(change, context.view_type);
                if bytes > self.limits.get_records_bytes_max && !records.is_empty() {
                    break;
                }
                records.push(record::to_json(change, context));
                next_seq = change.seq + 1;
            }
        }
        let mut out = Map::new();
        out.insert("Records".into(), Value::Array(records));
        let drained = shard.end.is_some_and(|end| next_seq > end);
        if !drained {
            let next = ShardIterator { next_seq, issued_at_millis: now, ..iterator };
            out.insert("NextShardIterator".into(), next.encode().into());
        }
        Ok(Value::Object(out))
    }

    fn arn(&self, stream: &Stream) -> String {
        self.scope.stream_arn(stream.table_name(), &stream.settings.label)
    }

    /// The stream's shards a client sees, oldest first.
    fn shards(&self, stream: &Stream, position: FeedPosition) -> Result<Vec<Shard>, StreamsError> {
        Ok(shard::live_shards(self.all_shards(stream, position)?, position))
    }

    /// Every shard of the stream, trimmed ones included.
    fn all_shards(&self, stream: &Stream, position: FeedPosition) -> Result<Vec<Shard>, StreamsError> {
        let starts = self.source.shard_starts(stream.table_name())?;
        Ok(shard::stream_shards(stream.table.id, &stream.settings, &starts, position))
    }
}

#[cfg(test)]
#[path = "api_tests.rs"]
mod tests;
