//! [`Subscription`]: the loop that reads a table's changelog page by page from its position and
//! then waits for the high watermark to move, producing the encoded chunks of a response body.

use std::collections::VecDeque;
use std::sync::Arc;

use eddy_core::changelog::{ChangeFeed, ChangeRecord, FeedPosition, format_sequence_number};
use eddy_core::schema::StreamViewType;
use serde_json::{Value, json};
use tokio::sync::watch;
use tokio::time::Instant;

use super::frame::FinalKind;
use super::{Format, Limits, StartFrom, SubscriptionError};
use crate::filter::FilterCriteria;
use crate::record::{RecordContext, to_json_extended};

/// Pages start this small and grow toward [`Limits::page_records_max`] once the size of the
/// table's records is known, so a first page of huge records stays small.
const FIRST_PAGE_RECORDS: usize = 16;

/// What a subscriber asked for.
#[derive(Debug, Clone)]
pub struct SubscriptionRequest {
    /// The table.
    pub table: String,
    /// Where to start (`from=`).
    pub from: StartFrom,
    /// The sequence number of the last record the subscriber received (`Last-Event-ID`); it
    /// wins over `from`, and the subscription resumes just after it.
    pub last_event_id: Option<u64>,
    /// SSE or NDJSON.
    pub format: Format,
    /// Only records matching it are sent (all when `None`).
    pub filter: Option<FilterCriteria>,
    /// `awsRegion` of the records.
    pub region: String,
}

/// One subscriber's position in a table's changelog, and the loop that moves it.
pub struct Subscription {
    feed: Arc<dyn ChangeFeed>,
    table: String,
    table_id: u64,
    region: String,
    format: Format,
    filter: Option<FilterCriteria>,
    limits: Limits,
    /// The next seq to read.
    next_seq: u64,
    /// Records the next page reads.
    page_records: usize,
    /// Records read but not yet encoded (at most one page).
    pending: VecDeque<ChangeRecord>,
    watermark: watch::Receiver<u64>,
    stop: watch::Receiver<bool>,
    final_frame: Option<Vec<u8>>,
    done: bool,
    heartbeat_due: Instant,
}

impl Subscription {
    /// Checks the request against the table's changelog and positions the subscription. `stop`
    /// turning true ends the stream with `{"Reason": "ServerShutdown"}`.
    pub async fn open(
        feed: Arc<dyn ChangeFeed>,
        request: SubscriptionRequest,
        limits: Limits,
        stop: watch::Receiver<bool>,
    ) -> Result<Subscription, SubscriptionError> {
        let reader = feed.clone();
        let table = request.table.clone();
        let (watermark, position, time_seq) = blocking(move || {
            // Watching before reading the position: a commit in between is then both in the
            // position or after it, and seen by the receiver.
            let watermark = reader.watch(&table)?;
            let position = reader.position(&table)?;
            let time_seq = match (request.last_event_id, request.from) {
                (None, StartFrom::Time(millis)) => Some(reader.seq_at_time(&table, millis)?),
                _ => None,
            };
            Ok((watermark, position, time_seq))
        })
        .await?;
        let FeedPosition { table_id, trim_horizon, high_watermark } = position;
        let past_end = |seq| SubscriptionError::SequenceNumberPastEnd { seq, high_watermark };
        let mut final_frame = None;
        let next_seq = match (request.last_event_id, request.from) {
            (Some(last), _) => {
                if last > high_watermark {
                    return Err(past_end(last));
                }
                if last + 1 < trim_horizon {
                    let body = json!({
                        "Reason": "RecordsTrimmed",
                        "Message": format!(
                            "Records after {} are gone (trimmed by retention); the oldest retained is {}. \
                             Reconnect without Last-Event-ID, with from=trim_horizon.",
                            format_sequence_number(last),
                            format_sequence_number(trim_horizon)
                        ),
                        "LastEventId": format_sequence_number(last),
                        "TrimHorizonSequenceNumber": format_sequence_number(trim_horizon),
                    });
                    final_frame = Some(request.format.last(FinalKind::Error, &body));
                }
                last + 1
            }
            (None, StartFrom::TrimHorizon) => trim_horizon,
            (None, StartFrom::Latest) => high_watermark + 1,
            (None, StartFrom::Sequence(seq)) => {
                if seq > high_watermark + 1 {
                    return Err(past_end(seq));
                }
                seq.max(trim_horizon)
            }
            (None, StartFrom::Time(_)) => time_seq.unwrap_or(high_watermark + 1).max(trim_horizon),
        };
        Ok(Subscription {
            feed,
            table: request.table,
            table_id,
            region: request.region,
            format: request.format,
            filter: request.filter,
            limits,
            next_seq,
            page_records: FIRST_PAGE_RECORDS.min(limits.page_records_max).max(1),
            pending: VecDeque::new(),
            watermark,
            stop,
            final_frame,
            done: false,
            heartbeat_due: Instant::now() + limits.heartbeat,
        })
    }

    /// The seq the subscription reads next.
    pub fn next_seq(&self) -> u64 {
        self.next_seq
    }

    /// The next piece of the response body: records, a heartbeat, or the final event. `None`
    /// once the final event has been returned.
    pub async fn next_chunk(&mut self) -> Option<Vec<u8>> {
        loop {
            if self.done {
                return None;
            }
            if let Some(last) = self.final_frame.take() {
                self.done = true;
                return Some(last);
            }
            if *self.stop.borrow() {
                self.finish(
                    FinalKind::End,
                    json!({"Reason": "ServerShutdown", "Message": "The server is stopping"}),
                );
                continue;
            }
            if !self.pending.is_empty() {
                let chunk = self.encode_pending();
                if !chunk.is_empty() {
                    self.heartbeat_due = Instant::now() + self.limits.heartbeat;
                    return Some(chunk);
                }
                if Instant::now() >= self.heartbeat_due {
                    return Some(self.heartbeat());
                }
                continue;
            }
            // Mark the current watermark seen before reading: a commit after this point makes
            // `changed` return at once, so a wait never misses one.
            if self.watermark.has_changed().is_err() {
                self.table_deleted();
                continue;
            }
            self.watermark.borrow_and_update();
            let page = match self.read_page().await {
                Ok(page) => page,
                Err(eddy_core::Error::ResourceNotFound { .. }) => {
                    self.table_deleted();
                    continue;
                }
                Err(e) => {
                    self.finish(FinalKind::Error, json!({"Reason": "ReadFailed", "Message": e.to_string()}));
                    continue;
                }
            };
            // The name may already stand for a re-created table: records read after the
            // deletion are not this subscription's.
            if self.watermark.has_changed().is_err() {
                self.table_deleted();
                continue;
            }
            if let Some(first) = page.first()
                && first.seq > self.next_seq
            {
                self.trimmed_under_reader(first.seq);
                continue;
            }
            if let Some(last) = page.last() {
                self.next_seq = last.seq + 1;
                self.pending.extend(page);
                continue;
            }
            tokio::select! {
                changed = self.stop.changed() => {
                    if changed.is_err() {
                        self.finish(FinalKind::End, json!({"Reason": "ServerShutdown", "Message": "The server is stopping"}));
                    }
                }
                changed = self.watermark.changed() => {
                    if changed.is_err() {
                        self.table_deleted();
                    }
                }
                () = tokio::time::sleep_until(self.heartbeat_due) => return Some(self.heartbeat()),
            }
        }
    }

    async fn read_page(&mut self) -> Result<Vec<ChangeRecord>, eddy_core::Error> {
        let (feed, table, from, limit) =
            (self.feed.clone(), self.table.clone(), self.next_seq, self.page_records);
        let page = blocking(move || feed.read(&table, from, limit)).await?;
        if !page.is_empty() {
            let bytes: usize = page.iter().map(ChangeRecord::size_bytes).sum();
            let average = (bytes / page.len()).max(1);
            self.page_records =
                (self.limits.page_bytes_max / average).clamp(1, self.limits.page_records_max.max(1));
        }
        Ok(page)
    }

    fn encode_pending(&mut self) -> Vec<u8> {
        let mut out = Vec::new();
        while let Some(record) = self.pending.pop_front() {
            let context = RecordContext {
                table_id: self.table_id,
                view_type: StreamViewType::NewAndOldImages,
                region: &self.region,
            };
            let json = to_json_extended(&record, context, None);
            if let Some(filter) = &self.filter
                && !filter.matches(&json)
            {
                continue;
            }
            self.format.record(&mut out, &record.sequence_number(), json.to_string().as_bytes());
            if out.len() >= self.limits.chunk_bytes_max {
                break;
            }
        }
        out
    }

    fn heartbeat(&mut self) -> Vec<u8> {
        self.heartbeat_due = Instant::now() + self.limits.heartbeat;
        self.format.heartbeat()
    }

    fn table_deleted(&mut self) {
        let body = json!({
            "Reason": "TableDeleted",
            "Message": format!("Table {} was deleted", self.table),
            "TableName": self.table,
            "LastSequenceNumber": format_sequence_number(self.next_seq.saturating_sub(1)),
        });
        self.finish(FinalKind::End, body);
    }

    fn trimmed_under_reader(&mut self, first_retained: u64) {
        let body = json!({
            "Reason": "RecordsTrimmed",
            "Message": format!(
                "Records from {} were trimmed by retention before this subscription read them; \
                 the oldest retained is {}",
                format_sequence_number(self.next_seq),
                format_sequence_number(first_retained)
            ),
            "LastEventId": format_sequence_number(self.next_seq.saturating_sub(1)),
            "TrimHorizonSequenceNumber": format_sequence_number(first_retained),
        });
        self.finish(FinalKind::Error, body);
    }

    fn finish(&mut self, kind: FinalKind, body: Value) {
        self.pending.clear();
        self.final_frame = Some(self.format.last(kind, &body));
    }
}

/// Runs a changelog read on the blocking pool (redb reads never run on an async worker).
async fn blocking<T: Send + 'static>(
    work: impl FnOnce() -> Result<T, eddy_core::Error> + Send + 'static,
) -> Result<T, eddy_core::Error> {
    tokio::task::spawn_blocking(work).await.unwrap_or_else(|e| {
        Err(eddy_core::Error::Unavailable { message: format!("the changelog read did not finish: {e}") })
    })
}
