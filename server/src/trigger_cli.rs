//! `eddy trigger deploy | list | status | logs | rm`: a client of `/v1/triggers` on a running
//! server (`--endpoint` or `EDDY_ENDPOINT`), printing readable text or, with `--json`, the
//! server's JSON.

use std::path::PathBuf;

use anyhow::Context as _;
use base64::Engine as _;
use base64::engine::general_purpose::STANDARD as BASE64;
use serde_json::{Value, json};

use crate::rest_client::Client;
use crate::tail::DEFAULT_ENDPOINT;

/// Largest module file `deploy` reads (the server's own limit is 8 MiB by default).
pub const MODULE_FILE_BYTES_MAX: u64 = 64 * 1024 * 1024;

/// `eddy trigger` arguments.
#[derive(Debug, clap::Args)]
pub struct TriggerArgs {
    #[command(subcommand)]
    command: TriggerCommand,
    /// The server.
    #[arg(long, env = "EDDY_ENDPOINT", default_value = DEFAULT_ENDPOINT, value_name = "URL", global = true)]
    endpoint: String,
    /// Print the server's JSON instead of text.
    #[arg(long, global = true)]
    json: bool,
}

#[derive(Debug, clap::Subcommand)]
enum TriggerCommand {
    /// Register a module on a table, or replace a trigger's module and settings (the
    /// checkpoint stays when the table does).
    Deploy(DeployArgs),
    /// List the triggers with their state and lag.
    List,
    /// Show a trigger's settings and status.
    Status {
        /// The trigger.
        name: String,
    },
    /// Print a trigger's captured guest log lines.
    Logs {
        /// The trigger.
        name: String,
        /// How many of the newest lines.
        #[arg(long, default_value_t = 100)]
        limit: usize,
    },
    /// Delete a trigger and its checkpoint (its dead-letter table stays).
    Rm {
        /// The trigger.
        name: String,
    },
}

#[derive(Debug, clap::Args)]
struct DeployArgs {
    /// The trigger's name (letters, digits, '-' and '_').
    name: String,
    /// The table whose changes run the module.
    #[arg(long)]
    table: String,
    /// The module: a `.wasm` binary or a `.wat` text file.
    #[arg(long, value_name = "FILE")]
    module: PathBuf,
    /// Most records per batch (1 to 10000).
    #[arg(long)]
    batch_size: Option<u32>,
    /// trim_horizon, latest, a sequence number, or an RFC 3339 time.
    #[arg(long, default_value = "latest")]
    starting_position: String,
    /// Only records matching this event pattern (JSON; see docs/filters.md).
    #[arg(long, value_name = "PATTERN")]
    filter: Option<String>,
    /// Retries of a failed batch before its records go to the dead letters (-1: until they
    /// expire).
    #[arg(long)]
    max_retries: Option<i64>,
    /// Split a failed batch in two and retry each half.
    #[arg(long)]
    bisect: bool,
    /// Honour `batchItemFailures` in the module's response.
    #[arg(long)]
    report_batch_item_failures: bool,
    /// The dead-letter table [default: NAME-dead-letters].
    #[arg(long, value_name = "TABLE")]
    dead_letter_table: Option<String>,
    /// Register it disabled.
    #[arg(long)]
    disabled: bool,
}

/// Runs `eddy trigger ...`.
pub fn run(args: TriggerArgs) -> anyhow::Result<()> {
    let runtime = tokio::runtime::Builder::new_current_thread().enable_all().build()?;
    runtime.block_on(trigger(args))
}

async fn trigger(args: TriggerArgs) -> anyhow::Result<()> {
    let client = Client::new(&args.endpoint)?;
    match args.command {
        TriggerCommand::Deploy(deploy) => {
            let body = deploy_body(&deploy)?;
            let answer = client.call("PUT", &format!("/v1/triggers/{}", deploy.name), Some(body)).await?;
            if args.json {
                print_json(&answer);
            } else {
                let trigger = &answer["Trigger"];
                println!(
                    "deployed {} (version {}, module sha256 {}) on table {}",
                    deploy.name,
                    trigger["Version"],
                    trigger["ModuleSha256"].as_str().unwrap_or_default(),
                    trigger["TableName"].as_str().unwrap_or_default()
                );
            }
        }
        TriggerCommand::List => {
            let mut triggers = Vec::new();
            let mut token: Option<String> = None;
            loop {
                let path = match &token {
                    Some(t) => format!("/v1/triggers?NextToken={t}"),
                    None => "/v1/triggers".to_string(),
                };
                let page = client.call("GET", &path, None).await?;
                triggers.extend(page["Triggers"].as_array().cloned().unwrap_or_default());
                match page["NextToken"].as_str() {
                    Some(t) => token = Some(t.to_string()),
                    None => break,
                }
            }
            if args.json {
                print_json(&json!({ "Triggers": triggers }));
            } else {
                print_list(&triggers);
            }
        }
        TriggerCommand::Status { name } => {
            let answer = client.call("GET", &format!("/v1/triggers/{name}"), None).await?;
            if args.json {
                print_json(&answer);
            } else {
                print_status(&answer["Trigger"]);
            }
        }
        TriggerCommand::Logs { name, limit } => {
            let answer = client.call("GET", &format!("/v1/triggers/{name}/logs?Limit={limit}"), None).await?;
            if args.json {
                print_json(&answer);
            } else {
                for line in answer["Logs"].as_array().into_iter().flatten() {
                    println!(
                        "{} {} {}",
                        line["Time"],
                        line["SequenceNumber"].as_str().unwrap_or_default(),
                        line["Message"].as_str().unwrap_or_default()
                    );
                }
            }
        }
        TriggerCommand::Rm { name } => {
            let answer = client.call("DELETE", &format!("/v1/triggers/{name}"), None).await?;
            if args.json {
                print_json(&answer);
            } else {
                println!(
                    "deleted {name}; its dead letters stay in table {}",
                    answer["Trigger"]["DeadLetterTable"].as_str().unwrap_or_default()
                );
            }
        }
    }
    Ok(())
}

/// The registration body of `deploy`.
fn deploy_body(deploy: &DeployArgs) -> anyhow::Result<Value> {
    let size = std::fs::metadata(&deploy.module)
        .with_context(|| format!("cannot read {}", deploy.module.display()))?
        .len();
    if size > MODULE_FILE_BYTES_MAX {
        anyhow::bail!(
            "{} is {size} bytes; the most `deploy` reads is {MODULE_FILE_BYTES_MAX}",
            deploy.module.display()
        );
    }
    let bytes =
        std::fs::read(&deploy.module).with_context(|| format!("cannot read {}", deploy.module.display()))?;
    let mut body = json!({ "TableName": deploy.table });
    if bytes.starts_with(b"\0asm") {
        body["Module"] = BASE64.encode(&bytes).into();
    } else {
        let text = String::from_utf8(bytes)
            .with_context(|| format!("{} is neither a wasm binary nor WAT text", deploy.module.display()))?;
        body["ModuleWat"] = text.into();
    }
    let position = deploy.starting_position.trim();
    match position.to_ascii_lowercase().as_str() {
        "trim_horizon" => body["StartingPosition"] = "TRIM_HORIZON".into(),
        "latest" => body["StartingPosition"] = "LATEST".into(),
        _ if !position.is_empty() && position.bytes().all(|b| b.is_ascii_digit()) => {
            body["StartingPosition"] = "AT_SEQUENCE_NUMBER".into();
            body["StartingSequenceNumber"] = position.into();
        }
        _ => {
            body["StartingPosition"] = "AT_TIMESTAMP".into();
            body["StartingPositionTimestamp"] = position.into();
        }
    }
    if let Some(size) = deploy.batch_size {
        body["BatchSize"] = size.into();
    }
    if let Some(pattern) = &deploy.filter {
        body["FilterCriteria"] = json!({"Filters": [{"Pattern": pattern}]});
    }
    if let Some(retries) = deploy.max_retries {
        body["MaximumRetryAttempts"] = retries.into();
    }
    if deploy.bisect {
        body["BisectBatchOnFunctionError"] = true.into();
    }
    if deploy.report_batch_item_failures {
        body["FunctionResponseTypes"] = json!(["ReportBatchItemFailures"]);
    }
    if let Some(table) = &deploy.dead_letter_table {
        body["DestinationConfig"] = json!({"OnFailure": {"Destination": table}});
    }
    if deploy.disabled {
        body["Enabled"] = false.into();
    }
    Ok(body)
}

fn print_json(value: &Value) {
    println!("{}", serde_json::to_string_pretty(value).unwrap_or_default());
}

fn print_list(triggers: &[Value]) {
    if triggers.is_empty() {
        println!("no triggers");
        return;
    }
    println!(
        "{:<24} {:<24} {:<9} {:>10} {:>12} {:>9}",
        "NAME", "TABLE", "STATE", "LAG", "PROCESSED", "FAILURES"
    );
    for t in triggers {
        println!(
            "{:<24} {:<24} {:<9} {:>10} {:>12} {:>9}",
            t["TriggerName"].as_str().unwrap_or_default(),
            t["TableName"].as_str().unwrap_or_default(),
            t["State"].as_str().unwrap_or_default(),
            t["LagRecords"].as_u64().map_or("-".to_string(), |n| n.to_string()),
            t["RecordsProcessed"].as_u64().unwrap_or(0),
            t["Failures"].as_u64().unwrap_or(0),
        );
    }
}

fn print_status(t: &Value) {
    let text = |field: &str| match &t[field] {
        Value::Null => "-".to_string(),
        Value::String(s) => s.clone(),
        other => other.to_string(),
    };
    println!("trigger         {}", text("TriggerName"));
    println!("table           {}", text("TableName"));
    println!("state           {}", text("State"));
    println!("module          sha256 {} (version {})", text("ModuleSha256"), text("Version"));
    println!(
        "checkpoint      {} (high watermark {})",
        text("CheckpointSequenceNumber"),
        text("HighWatermarkSequenceNumber")
    );
    println!("lag             {} records, {} s", text("LagRecords"), text("LagSeconds"));
    println!(
        "processed       {} records, {} invocations, {} failures, {} write-backs",
        text("RecordsProcessed"),
        text("Invocations"),
        text("Failures"),
        text("WriteBacks")
    );
    println!("dead letters    {} records in table {}", text("RecordsDeadLettered"), text("DeadLetterTable"));
    println!(
        "batching        size {}, window {} s, parallelization {}",
        text("BatchSize"),
        text("MaximumBatchingWindowInSeconds"),
        text("ParallelizationFactor")
    );
    println!(
        "on failure      retries {}, max record age {} s, bisect {}",
        text("MaximumRetryAttempts"),
        text("MaximumRecordAgeInSeconds"),
        text("BisectBatchOnFunctionError")
    );
    if !t["LastError"].is_null() {
        println!("last error      {}", text("LastError"));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn deploy(module: PathBuf, position: &str) -> DeployArgs {
        DeployArgs {
            name: "t".into(),
            table: "Orders".into(),
            module,
            batch_size: Some(10),
            starting_position: position.into(),
            filter: Some("{\"eventName\":[\"INSERT\"]}".into()),
            max_retries: Some(3),
            bisect: true,
            report_batch_item_failures: true,
            dead_letter_table: None,
            disabled: false,
        }
    }

    #[test]
    fn deploy_sends_wat_as_text_and_wasm_as_base64() -> anyhow::Result<()> {
        let dir = std::env::temp_dir().join(format!("eddy-trigger-cli-{}", std::process::id()));
        std::fs::create_dir_all(&dir)?;
        let wat = dir.join("m.wat");
        std::fs::write(&wat, "(module)")?;
        let body = deploy_body(&deploy(wat, "trim_horizon"))?;
        assert_eq!(body["ModuleWat"], "(module)");
        assert_eq!(body["StartingPosition"], "TRIM_HORIZON");
        assert_eq!(body["BatchSize"], 10);
        assert_eq!(body["FunctionResponseTypes"], json!(["ReportBatchItemFailures"]));
        assert_eq!(body["FilterCriteria"]["Filters"][0]["Pattern"], "{\"eventName\":[\"INSERT\"]}");
        let wasm = dir.join("m.wasm");
        std::fs::write(&wasm, b"\0asm\x01\0\0\0")?;
        let body = deploy_body(&deploy(wasm, "42"))?;
        assert_eq!(body["Module"], "AGFzbQEAAAA=");
        assert_eq!(
            (body["StartingPosition"].as_str(), body["StartingSequenceNumber"].as_str()),
            (Some("AT_SEQUENCE_NUMBER"), Some("42"))
        );
        std::fs::remove_dir_all(&dir)?;
        Ok(())
    }
}
