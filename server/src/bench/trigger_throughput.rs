//! `--workload trigger-throughput`: how fast a trigger drains a backlog.
//!
//! Two runs, one after the other, each on a table of its own that it recreates:
//!
//! 1. **no-op**: `<table>-trigger-throughput` is loaded with `--records` new items by
//!    BatchWriteItem (25 puts a request, `--concurrency` connections), then a trigger whose WAT
//!    module answers `{}` to every batch is registered on it with `StartingPosition:
//!    TRIM_HORIZON` and `BatchSize: 1000`. Nothing else runs while it drains.
//! 2. **order-totals**: the same with the example module `examples/triggers/order-totals` (built
//!    into this binary) on `<table>-orders`, whose items carry `customer` (S, 1000 customers) and
//!    `amount` (N). Each record becomes one `update_item` (`ADD total_amount`) write-back into
//!    `CustomerTotals`, the table name compiled into the module: it is created when missing and
//!    never deleted. The sum of `total_amount` over it must grow by exactly the sum of the
//!    amounts written, which the run checks with a Scan before and after.
//!
//! The clock starts when the registration is sent and stops at the trigger's
//! `LastProcessedTime` (the server's time of its last checkpoint commit, in milliseconds) once
//! `GET /v1/triggers/{name}` shows every record processed and no lag. Client and server share
//! the machine's clock. The status is polled every 20 ms, so the poll's own figure is also shown.

use std::fmt::Write as _;
use std::sync::Arc;
use std::time::{Duration, Instant, SystemTime};

use bytes::Bytes;
use serde::Deserialize;
use serde_json::{Value, json};

use super::client::{Client, Operation, Reply, Target};
use super::get_records::{self, Preload};
use super::keys::Bodies;
use super::report::{OpResult, Report};
use super::table;
use super::trigger::{self, Module, Status};

/// The order-totals example module, as committed.
const ORDER_TOTALS_WASM: &[u8] = include_bytes!("../../../examples/triggers/order-totals/order_totals.wasm");
/// The view table the order-totals module writes to (compiled into it).
pub const TOTALS_TABLE: &str = "CustomerTotals";
/// Distinct customers of the orders.
const CUSTOMERS: u64 = 1000;
/// Records per invocation. Each order is an INSERT, which the order-totals module turns into
/// one write-back, so a batch stays within the default `WritesMax` of 1000.
const BATCH_SIZE: u32 = 1000;
/// How often the trigger's status is read while it drains.
const POLL: Duration = Duration::from_millis(20);
/// A drain that processes no record for this long has stalled.
const STALL_MAX: Duration = Duration::from_secs(60);
/// The stated target for the no-op trigger, in records per second.
pub const TARGET_RECORDS_PER_SEC: f64 = 100_000.0;

/// How the workload runs.
#[derive(Debug, Clone)]
pub struct Plan {
    /// `--table`: the workload's tables and triggers are named after it.
    pub table: String,
    pub records: u64,
    /// Preload connections.
    pub concurrency: usize,
    /// Bytes of `v` in the no-op run's items.
    pub value_bytes: u64,
}

/// One drain, timed.
#[derive(Debug)]
struct Drained {
    /// Registration sent to the last checkpoint commit (the server's `LastProcessedTime`), or
    /// to the poll that saw the backlog drained when that time is unusable.
    elapsed: Duration,
    /// Registration sent to the poll that saw the backlog drained.
    polled: Duration,
    /// Registration sent to its answer (validation and compilation of the module).
    registered: Duration,
    status: Status,
}

impl Drained {
    fn records_per_sec(&self) -> f64 {
        self.status.records_processed as f64 / self.elapsed.as_secs_f64().max(1e-9)
    }
}

/// Runs the workload.
pub async fn run(plan: &Plan, target: &Arc<Target>) -> anyhow::Result<Report> {
    let name = "trigger-throughput";
    let mut control = Client::new(Arc::clone(target));

    // 1. The no-op module.
    let source = format!("{}-trigger-throughput", plan.table);
    let noop_name = trigger::name_for(&plan.table, "-trigger-throughput");
    trigger::delete_if_present(&mut control, &noop_name).await?;
    let bodies = Arc::new(Bodies::new(&source, plan.value_bytes as usize));
    table::recreate_with_stream(&mut control, &bodies, &source).await?;
    let items = format!("items of {} bytes", plan.value_bytes);
    let batches = Arc::clone(&bodies);
    let noop_preload =
        get_records::preload(&source, plan.records, &items, plan.concurrency, target, move |f, n| {
            batches.batch_put_records(f, n)
        })
        .await?;
    report_preload(plan.records, &noop_preload);
    let wat = trigger::noop_wat();
    let body = trigger::registration(&source, Module::Wat(&wat), "TRIM_HORIZON", BATCH_SIZE);
    let noop = drain(&mut control, &noop_name, &body, plan.records).await?;
    trigger::delete_if_present(&mut control, &noop_name).await?;

    // 2. The order-totals module.
    let orders = format!("{}-orders", plan.table);
    let totals_name = trigger::name_for(&plan.table, "-order-totals");
    trigger::delete_if_present(&mut control, &totals_name).await?;
    table::recreate_with_stream(&mut control, &Bodies::new(&orders, 0), &orders).await?;
    ensure_totals_table(&mut control).await?;
    let before = totals_sum(&mut control).await?;
    let orders_table = orders.clone();
    let orders_preload =
        get_records::preload(&orders, plan.records, "orders", plan.concurrency, target, move |f, n| {
            batch_put_orders(&orders_table, f, n)
        })
        .await?;
    report_preload(plan.records, &orders_preload);
    let body = trigger::registration(&orders, Module::Wasm(ORDER_TOTALS_WASM), "TRIM_HORIZON", BATCH_SIZE);
    let totals = drain(&mut control, &totals_name, &body, plan.records).await?;
    trigger::delete_if_present(&mut control, &totals_name).await?;
    let after = totals_sum(&mut control).await?;
    let expected_cents = expected_total_cents(plan.records);
    let grown = after.sum - before.sum;
    let totals_ok = (grown - expected_cents as f64 / 100.0).abs() < 0.005;

    let rows = vec![
        OpResult {
            workload: name,
            operation: "BatchWriteItem",
            concurrency: plan.concurrency,
            duration: noop_preload.elapsed,
            ops: noop_preload.latency.len(),
            errors: noop_preload.retries,
            latency: noop_preload.latency,
        },
        OpResult {
            workload: name,
            operation: "BatchWriteItem orders",
            concurrency: plan.concurrency,
            duration: orders_preload.elapsed,
            ops: orders_preload.latency.len(),
            errors: orders_preload.retries,
            latency: orders_preload.latency,
        },
    ];
    let mut notes = String::new();
    for (label, drained, table) in [("no-op", &noop, &source), ("order-totals", &totals, &orders)] {
        let _ = writeln!(
            notes,
            "{label:<12} {:>8} records of {table} drained (BatchSize {BATCH_SIZE}, TRIM_HORIZON) in {:.3} s: \
             {:.0} records/s",
            drained.status.records_processed,
            drained.elapsed.as_secs_f64(),
            drained.records_per_sec(),
        );
        let _ = writeln!(
            notes,
            "             {} invocations, {} write-backs, {} failures; registration answered in {:.1} ms; \
             drained as seen by polling at {:.3} s",
            drained.status.invocations,
            drained.status.write_backs,
            drained.status.failures,
            drained.registered.as_secs_f64() * 1000.0,
            drained.polled.as_secs_f64(),
        );
    }
    let _ = writeln!(
        notes,
        "{TOTALS_TABLE}: total_amount over {} customers grew by {grown:.2}, expected {}.{:02} ({})",
        after.items,
        expected_cents / 100,
        expected_cents % 100,
        if totals_ok { "equal" } else { "NOT equal" },
    );
    let verdict = if noop.records_per_sec() >= TARGET_RECORDS_PER_SEC { "met" } else { "NOT met" };
    let _ = writeln!(notes, "target: no-op trigger >= {TARGET_RECORDS_PER_SEC:.0} records/s: {verdict}");
    let failure = if !totals_ok {
        Some(format!(
            "{TOTALS_TABLE}'s totals grew by {grown:.2} instead of {}.{:02} (another writer of the table?)",
            expected_cents / 100,
            expected_cents % 100
        ))
    } else {
        None
    };
    let summary = json!({
        "workload": name,
        "operation": "summary",
        "records": plan.records,
        "batch_size": BATCH_SIZE,
        "noop_records_per_s": noop.records_per_sec().round(),
        "noop_s": noop.elapsed.as_secs_f64(),
        "noop_invocations": noop.status.invocations,
        "noop_failures": noop.status.failures,
        "order_totals_records_per_s": totals.records_per_sec().round(),
        "order_totals_s": totals.elapsed.as_secs_f64(),
        "order_totals_invocations": totals.status.invocations,
        "order_totals_write_backs": totals.status.write_backs,
        "order_totals_failures": totals.status.failures,
        "totals_equal": totals_ok,
    });
    Ok(Report { rows, notes, summary, failure })
}

fn report_preload(records: u64, preload: &Preload) {
    eprintln!(
        "preload: {records} items in {:.1} s ({:.0} items/s) by {} BatchWriteItem requests",
        preload.elapsed.as_secs_f64(),
        records as f64 / preload.elapsed.as_secs_f64().max(1e-9),
        preload.latency.len()
    );
}

/// Registers the trigger and polls its status until all `records` are processed.
async fn drain(client: &mut Client, name: &str, body: &Value, records: u64) -> anyhow::Result<Drained> {
    let sent_wall = SystemTime::now();
    let sent = Instant::now();
    trigger::register(client, name, body).await?;
    let registered = sent.elapsed();
    eprintln!("trigger-throughput: registered {name}; draining {records} records");
    let mut progress = (0, Instant::now());
    let mut next_print = Instant::now() + Duration::from_secs(1);
    loop {
        tokio::time::sleep(POLL).await;
        let status = trigger::status(client, name).await?;
        if status.state == "Failed" {
            anyhow::bail!("trigger {name} failed: {}", status.summary());
        }
        if status.records_processed >= records && status.lag_records == Some(0) {
            let polled = sent.elapsed();
            let elapsed = status
                .last_processed_time
                .and_then(|at| server_elapsed(sent_wall, at))
                .filter(|d| *d <= polled)
                .unwrap_or(polled);
            return Ok(Drained { elapsed, polled, registered, status });
        }
        if status.records_processed != progress.0 {
            progress = (status.records_processed, Instant::now());
        } else if progress.1.elapsed() > STALL_MAX {
            anyhow::bail!(
                "trigger {name} processed nothing for {} s: {}",
                STALL_MAX.as_secs(),
                status.summary()
            );
        }
        if Instant::now() >= next_print {
            next_print += Duration::from_secs(1);
            eprintln!(
                "trigger-throughput {:>5.1} s  {name}: {}",
                sent.elapsed().as_secs_f64(),
                status.summary()
            );
        }
    }
}

/// The time from `sent` to `at_seconds` (seconds since the epoch), if `at_seconds` is after it.
fn server_elapsed(sent: SystemTime, at_seconds: f64) -> Option<Duration> {
    let sent = sent.duration_since(SystemTime::UNIX_EPOCH).ok()?.as_secs_f64();
    Duration::try_from_secs_f64(at_seconds - sent).ok()
}

/// The amount of order `index`, in cents: 1.00 to 97.99, in a fixed pattern.
pub fn order_amount_cents(index: u64) -> u64 {
    (1 + index % 97) * 100 + index % 100
}

/// The sum of the amounts of orders `0..records`, in cents.
pub fn expected_total_cents(records: u64) -> u64 {
    (0..records).map(order_amount_cents).sum()
}

/// BatchWriteItem of the orders `first..first + count` (at most 25) into `table`: key `pk`
/// `order-<index>` and `sk` `0`, `customer` (S) and `amount` (N).
pub fn batch_put_orders(table: &str, first: u64, count: u64) -> Bytes {
    let mut body = String::with_capacity(64 + count as usize * 140);
    let _ = write!(body, r#"{{"RequestItems":{{"{table}":["#);
    for index in first..first + count {
        if index > first {
            body.push(',');
        }
        let cents = order_amount_cents(index);
        let _ = write!(
            body,
            r#"{{"PutRequest":{{"Item":{{"pk":{{"S":"order-{index:010}"}},"sk":{{"S":"0"}},"customer":{{"S":"customer-{:04}"}},"amount":{{"N":"{}.{:02}"}}}}}}}}"#,
            index % CUSTOMERS,
            cents / 100,
            cents % 100
        );
    }
    body.push_str("]}}");
    Bytes::from(body)
}

/// Creates [`TOTALS_TABLE`] (`customer` S hash key) when it is missing; an existing one must
/// have that key.
async fn ensure_totals_table(client: &mut Client) -> anyhow::Result<()> {
    let bodies = Bodies::new(TOTALS_TABLE, 0);
    let reply = client.call(Operation::DescribeTable, bodies.describe_table()).await?;
    if reply.is_success() {
        let value: Value = serde_json::from_slice(&reply.body)?;
        let schema = &value["Table"]["KeySchema"];
        let expected = json!([{"AttributeName": "customer", "KeyType": "HASH"}]);
        if *schema != expected {
            anyhow::bail!(
                "table {TOTALS_TABLE} exists with key schema {schema}; the order-totals module needs customer (HASH)"
            );
        }
    } else if reply.error_type().as_deref() == Some("ResourceNotFoundException") {
        eprintln!("creating table {TOTALS_TABLE}");
        let create = json!({
            "TableName": TOTALS_TABLE,
            "BillingMode": "PAY_PER_REQUEST",
            "AttributeDefinitions": [{"AttributeName": "customer", "AttributeType": "S"}],
            "KeySchema": [{"AttributeName": "customer", "KeyType": "HASH"}],
        });
        let created = client.call(Operation::CreateTable, Bytes::from(create.to_string())).await?;
        check("CreateTable", &created)?;
    } else {
        check("DescribeTable", &reply)?;
    }
    table::wait_active(client, &bodies, TOTALS_TABLE).await
}

fn check(what: &str, reply: &Reply) -> anyhow::Result<()> {
    if !reply.is_success() {
        anyhow::bail!("{what} {TOTALS_TABLE}: HTTP {}: {}", reply.status, reply.body_text());
    }
    Ok(())
}

/// The totals of [`TOTALS_TABLE`], added up.
#[derive(Debug, Clone, Copy, PartialEq, Default)]
pub struct Totals {
    pub items: u64,
    pub sum: f64,
}

/// Scans [`TOTALS_TABLE`] and adds up `total_amount`.
async fn totals_sum(client: &mut Client) -> anyhow::Result<Totals> {
    let mut totals = Totals::default();
    let mut start: Option<Value> = None;
    loop {
        let mut request = json!({"TableName": TOTALS_TABLE});
        if let Some(key) = start.take() {
            request["ExclusiveStartKey"] = key;
        }
        let reply = client.call(Operation::Scan, Bytes::from(request.to_string())).await?;
        check("Scan", &reply)?;
        let (page, next) = parse_totals_page(&reply.body)?;
        totals.items += page.items;
        totals.sum += page.sum;
        match next {
            Some(key) => start = Some(key),
            None => return Ok(totals),
        }
    }
}

#[derive(Deserialize)]
struct ScanPage {
    #[serde(rename = "Items")]
    items: Vec<Value>,
    #[serde(rename = "LastEvaluatedKey")]
    last_evaluated_key: Option<Value>,
}

/// The items and the sum of their `total_amount` (N) in one Scan page, and where the next page
/// starts. An item without a numeric `total_amount` counts as 0.
pub fn parse_totals_page(body: &[u8]) -> anyhow::Result<(Totals, Option<Value>)> {
    let page: ScanPage = serde_json::from_slice(body).map_err(|e| {
        anyhow::anyhow!("Scan {TOTALS_TABLE}: unexpected response ({e}): {}", String::from_utf8_lossy(body))
    })?;
    let mut totals = Totals { items: page.items.len() as u64, sum: 0.0 };
    for item in &page.items {
        if let Some(n) = item["total_amount"]["N"].as_str() {
            totals.sum += n.parse::<f64>().map_err(|e| {
                anyhow::anyhow!("Scan {TOTALS_TABLE}: total_amount {n:?} is not a number: {e}")
            })?;
        }
    }
    Ok((totals, page.last_evaluated_key))
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use std::time::{Duration, SystemTime};

    use super::{
        ORDER_TOTALS_WASM, batch_put_orders, expected_total_cents, order_amount_cents, parse_totals_page,
        server_elapsed,
    };

    #[test]
    fn order_bodies() {
        let body: serde_json::Value =
            serde_json::from_slice(&batch_put_orders("b-orders", 1998, 25)).unwrap();
        let puts = body["RequestItems"]["b-orders"].as_array().unwrap();
        assert_eq!(puts.len(), 25);
        let first = &puts[0]["PutRequest"]["Item"];
        assert_eq!(first["pk"]["S"], "order-0000001998");
        assert_eq!(first["sk"]["S"], "0");
        assert_eq!(first["customer"]["S"], "customer-0998");
        assert_eq!(first["amount"]["N"], "59.98");
        assert_eq!(puts[2]["PutRequest"]["Item"]["customer"]["S"], "customer-0000");
        assert_eq!(puts[24]["PutRequest"]["Item"]["pk"]["S"], "order-0000002022");
        // Amounts are 1.00 to 97.99 and add up as the check expects.
        assert_eq!(order_amount_cents(0), 100);
        assert_eq!(order_amount_cents(96), 9796);
        assert_eq!(order_amount_cents(97), 197);
        assert_eq!(expected_total_cents(3), 100 + 201 + 302);
        let sum: f64 = puts
            .iter()
            .map(|p| p["PutRequest"]["Item"]["amount"]["N"].as_str().unwrap().parse::<f64>().unwrap())
            .sum();
        let cents: u64 = (1998..2023).map(order_amount_cents).sum();
        assert!((sum - cents as f64 / 100.0).abs() < 1e-6);
    }

    #[test]
    fn scan_pages_of_totals() {
        let body = br#"{"Items":[{"customer":{"S":"a"},"total_amount":{"N":"10.25"}},
            {"customer":{"S":"b"},"total_amount":{"N":"-3"}},{"customer":{"S":"c"}},
            {"customer":{"S":"d"},"total_amount":{"N":"1E+2"}}],
            "Count":4,"ScannedCount":4,"LastEvaluatedKey":{"customer":{"S":"d"}}}"#;
        let (totals, next) = parse_totals_page(body).unwrap();
        assert_eq!(totals.items, 4);
        assert!((totals.sum - 107.25).abs() < 1e-9);
        assert_eq!(next.unwrap()["customer"]["S"], "d");
        let (totals, next) = parse_totals_page(br#"{"Items":[],"Count":0,"ScannedCount":0}"#).unwrap();
        assert_eq!((totals.items, next), (0, None));
        assert!(parse_totals_page(br#"{"Items":[{"total_amount":{"N":"x"}}]}"#).is_err());
        assert!(parse_totals_page(b"{}").is_err());
    }

    #[test]
    fn the_drain_is_timed_by_the_servers_clock() {
        let sent = SystemTime::UNIX_EPOCH + Duration::from_millis(1_764_000_000_000);
        assert_eq!(server_elapsed(sent, 1_764_000_002.5), Some(Duration::from_millis(2500)));
        assert_eq!(server_elapsed(sent, 1_763_999_999.0), None);
    }

    #[test]
    fn the_example_module_is_built_in() {
        assert!(ORDER_TOTALS_WASM.starts_with(b"\0asm"));
    }
}
