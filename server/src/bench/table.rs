//! Prepares the benchmark table: creates it when missing and loads the data sets the workloads
//! read, skipping a data set whose completion marker is already there.

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use bytes::Bytes;

use super::client::{Client, Operation, Reply, Target};
use super::keys::{Bodies, PARTITION_ITEMS, has_item};

/// How long a new table may stay in CREATING.
const ACTIVE_WAIT: Duration = Duration::from_secs(60);
/// Connections used to preload.
const PRELOAD_CONCURRENCY: usize = 32;

/// Creates the table when it does not exist and waits until it is ACTIVE; an existing table must
/// have the benchmark's key schema.
pub async fn ensure(client: &mut Client, bodies: &Bodies, table: &str) -> anyhow::Result<()> {
    let reply = client.call(Operation::DescribeTable, bodies.describe_table()).await?;
    if reply.is_success() {
        check_key_schema(&reply, table)?;
    } else if reply.error_type().as_deref() == Some("ResourceNotFoundException") {
        eprintln!("creating table {table}");
        let created = client.call(Operation::CreateTable, bodies.create_table()).await?;
        // Another run may have created it in between; that is as good.
        if !created.is_success() && created.error_type().as_deref() != Some("ResourceInUseException") {
            anyhow::bail!("CreateTable {table}: HTTP {}: {}", created.status, created.body_text());
        }
    } else {
        anyhow::bail!("DescribeTable {table}: HTTP {}: {}", reply.status, reply.body_text());
    }

    wait_active(client, bodies, table).await
}

/// Deletes the table if it exists and creates it afresh with a stream of both images, so a
/// change-stream workload reads only the changes it makes. The table belongs to the bench (its
/// name is `--table` with a suffix per workload).
pub async fn recreate_with_stream(client: &mut Client, bodies: &Bodies, table: &str) -> anyhow::Result<()> {
    let reply = client.call(Operation::DescribeTable, bodies.describe_table()).await?;
    if reply.is_success() {
        check_key_schema(&reply, table)?;
        eprintln!("deleting table {table} left by an earlier run");
        let deleted = client.call(Operation::DeleteTable, bodies.delete_table()).await?;
        if !deleted.is_success() && deleted.error_type().as_deref() != Some("ResourceNotFoundException") {
            anyhow::bail!("DeleteTable {table}: HTTP {}: {}", deleted.status, deleted.body_text());
        }
        let deadline = Instant::now() + ACTIVE_WAIT;
        loop {
            let reply = client.call(Operation::DescribeTable, bodies.describe_table()).await?;
            if reply.error_type().as_deref() == Some("ResourceNotFoundException") {
                break;
            }
            if Instant::now() >= deadline {
                anyhow::bail!("table {table} still exists {} s after DeleteTable", ACTIVE_WAIT.as_secs());
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    } else if reply.error_type().as_deref() != Some("ResourceNotFoundException") {
        anyhow::bail!("DescribeTable {table}: HTTP {}: {}", reply.status, reply.body_text());
    }
    eprintln!("creating table {table} with a NEW_AND_OLD_IMAGES stream");
    let created = client.call(Operation::CreateTable, bodies.create_table_with_stream()).await?;
    if !created.is_success() {
        anyhow::bail!("CreateTable {table}: HTTP {}: {}", created.status, created.body_text());
    }
    wait_active(client, bodies, table).await
}

/// Waits until `table` is ACTIVE.
pub async fn wait_active(client: &mut Client, bodies: &Bodies, table: &str) -> anyhow::Result<()> {
    let deadline = Instant::now() + ACTIVE_WAIT;
    loop {
        let reply = client.call(Operation::DescribeTable, bodies.describe_table()).await?;
        if !reply.is_success() {
            anyhow::bail!("DescribeTable {table}: HTTP {}: {}", reply.status, reply.body_text());
        }
        let status = table_field(&reply, "TableStatus");
        if status.as_deref() == Some("ACTIVE") {
            return Ok(());
        }
        if Instant::now() >= deadline {
            anyhow::bail!("table {table} is still {status:?} after {} s", ACTIVE_WAIT.as_secs());
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
}

fn table_field(reply: &Reply, field: &str) -> Option<String> {
    let value: serde_json::Value = serde_json::from_slice(&reply.body).ok()?;
    Some(value.get("Table")?.get(field)?.as_str()?.to_string())
}

fn check_key_schema(reply: &Reply, table: &str) -> anyhow::Result<()> {
    let value: serde_json::Value = serde_json::from_slice(&reply.body)
        .map_err(|e| anyhow::anyhow!("DescribeTable {table}: the response is not JSON: {e}"))?;
    let schema = &value["Table"]["KeySchema"];
    let key = |name: &str, kind: &str| {
        schema
            .as_array()
            .is_some_and(|keys| keys.iter().any(|k| k["AttributeName"] == name && k["KeyType"] == kind))
    };
    if !(key("pk", "HASH") && key("sk", "RANGE")) {
        anyhow::bail!(
            "table {table} exists with key schema {schema}; the benchmark needs pk (HASH) and sk (RANGE): pick another --table"
        );
    }
    Ok(())
}

/// A data set the workloads read.
#[derive(Debug, Clone, Copy)]
pub enum DataSet {
    /// `items` single items for GetItem and the mix.
    Items,
    /// `items` items in partitions of [`PARTITION_ITEMS`] for Query.
    Partitions,
}

/// Loads `data_set` of `items` items unless a previous run finished loading the same one.
pub async fn preload(
    target: &Arc<Target>,
    bodies: &Arc<Bodies>,
    data_set: DataSet,
    items: u64,
    value_bytes: u64,
) -> anyhow::Result<()> {
    let (label, items) = match data_set {
        DataSet::Items => ("items", items),
        // Whole partitions only, so every Query reads exactly PARTITION_ITEMS items.
        DataSet::Partitions => ("partitions", items / PARTITION_ITEMS * PARTITION_ITEMS),
    };
    let marker = format!("{label}-{items}-bytes-{value_bytes}");
    let mut client = Client::new(Arc::clone(target));
    let reply = client.call(Operation::GetItem, bodies.get_marker(&marker)).await?;
    if !reply.is_success() {
        anyhow::bail!("GetItem of the preload marker: HTTP {}: {}", reply.status, reply.body_text());
    }
    if has_item(&reply.body) {
        eprintln!("preload: {label} ({items} items of {value_bytes} bytes) already loaded");
        return Ok(());
    }

    eprintln!("preload: writing {items} items of {value_bytes} bytes ({label})");
    let started = Instant::now();
    let next = Arc::new(AtomicU64::new(0));
    let mut tasks = tokio::task::JoinSet::new();
    for _ in 0..PRELOAD_CONCURRENCY.min(items as usize).max(1) {
        let (target, bodies, next) = (Arc::clone(target), Arc::clone(bodies), Arc::clone(&next));
        tasks.spawn(async move {
            let mut client = Client::new(target);
            loop {
                let index = next.fetch_add(1, Ordering::Relaxed);
                if index >= items {
                    return anyhow::Ok(());
                }
                let body: Bytes = match data_set {
                    DataSet::Items => bodies.put_item(index),
                    DataSet::Partitions => bodies.put_partition_item(index),
                };
                let reply = client.call(Operation::PutItem, body).await?;
                if !reply.is_success() {
                    anyhow::bail!("preload PutItem: HTTP {}: {}", reply.status, reply.body_text());
                }
            }
        });
    }
    while let Some(joined) = tasks.join_next().await {
        joined??;
    }
    let reply = client.call(Operation::PutItem, bodies.put_marker(&marker)).await?;
    if !reply.is_success() {
        anyhow::bail!("PutItem of the preload marker: HTTP {}: {}", reply.status, reply.body_text());
    }
    let elapsed = started.elapsed().as_secs_f64();
    eprintln!("preload: {items} items in {elapsed:.1} s ({:.0} items/s)", items as f64 / elapsed.max(1e-9));
    Ok(())
}
