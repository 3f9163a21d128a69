//! `eddy connector create | list | status | pause | resume | restart | rm`: a client of
//! `/v1/connectors` on a running server (`--endpoint` or `EDDY_ENDPOINT`), printing readable
//! text or, with `--json`, the server's JSON.

use std::path::PathBuf;

use anyhow::Context as _;
use serde_json::{Value, json};

use crate::rest_client::Client;
use crate::tail::DEFAULT_ENDPOINT;

/// Largest configuration file `create` reads.
pub const CONFIG_FILE_BYTES_MAX: u64 = 1024 * 1024;

/// `eddy connector` arguments.
#[derive(Debug, clap::Args)]
pub struct ConnectorArgs {
    #[command(subcommand)]
    command: ConnectorCommand,
    /// The server.
    #[arg(long, env = "EDDY_ENDPOINT", default_value = DEFAULT_ENDPOINT, value_name = "URL", global = true)]
    endpoint: String,
    /// Print the server's JSON instead of text.
    #[arg(long, global = true)]
    json: bool,
}

#[derive(Debug, clap::Subcommand)]
enum ConnectorCommand {
    /// Create a connector, or replace its configuration (the checkpoint stays when the table
    /// and start do).
    Create(CreateArgs),
    /// List the connectors with their state and lag.
    List,
    /// Show a connector's configuration and status.
    Status {
        /// The connector.
        name: String,
    },
    /// Pause exporting; the checkpoint stays.
    Pause {
        /// The connector.
        name: String,
    },
    /// Resume exporting from the checkpoint.
    Resume {
        /// The connector.
        name: String,
    },
    /// Restart a connector from its checkpoint (a FAILED one tries again).
    Restart {
        /// The connector.
        name: String,
    },
    /// Delete a connector and its checkpoint (what it exported stays).
    Rm {
        /// The connector.
        name: String,
    },
}

#[derive(Debug, clap::Args)]
struct CreateArgs {
    /// The connector's name (letters, digits, '.', '-' and '_').
    name: String,
    /// s3 or opensearch.
    #[arg(long = "type", value_name = "TYPE")]
    sink_type: String,
    /// The table whose changes it exports.
    #[arg(long)]
    table: String,
    /// A JSON file: the sink's settings (the `S3` or `OpenSearch` object), or a whole
    /// configuration body (with `S3`/`OpenSearch`, `Batch`, `Retry`, `Start`).
    #[arg(long, value_name = "FILE")]
    config: PathBuf,
    /// snapshot, trim_horizon or latest [default: the file's Start, else latest].
    #[arg(long)]
    start: Option<String>,
}

/// Runs `eddy connector ...`.
pub fn run(args: ConnectorArgs) -> anyhow::Result<()> {
    let runtime = tokio::runtime::Builder::new_current_thread().enable_all().build()?;
    runtime.block_on(connector(args))
}

async fn connector(args: ConnectorArgs) -> anyhow::Result<()> {
    let client = Client::new(&args.endpoint)?;
    let answer = match &args.command {
        ConnectorCommand::Create(create) => {
            let text = read_config(&create.config)?;
            let body = create_body(create, &text)?;
            client.call("PUT", &format!("/v1/connectors/{}", create.name), Some(body)).await?
        }
        ConnectorCommand::List => {
            let mut connectors = Vec::new();
            let mut token: Option<String> = None;
            loop {
                let path = match &token {
                    Some(t) => format!("/v1/connectors?NextToken={t}"),
                    None => "/v1/connectors".to_string(),
                };
                let page = client.call("GET", &path, None).await?;
                connectors.extend(page["Connectors"].as_array().cloned().unwrap_or_default());
                match page["NextToken"].as_str() {
                    Some(t) => token = Some(t.to_string()),
                    None => break,
                }
            }
            if args.json {
                print_json(&json!({ "Connectors": connectors }));
            } else {
                print_list(&connectors);
            }
            return Ok(());
        }
        ConnectorCommand::Status { name } => {
            client.call("GET", &format!("/v1/connectors/{name}"), None).await?
        }
        ConnectorCommand::Pause { name } => {
            client.call("POST", &format!("/v1/connectors/{name}/pause"), None).await?
        }
        ConnectorCommand::Resume { name } => {
            client.call("POST", &format!("/v1/connectors/{name}/resume"), None).await?
        }
        ConnectorCommand::Restart { name } => {
            client.call("POST", &format!("/v1/connectors/{name}/restart"), None).await?
        }
        ConnectorCommand::Rm { name } => {
            client.call("DELETE", &format!("/v1/connectors/{name}"), None).await?
        }
    };
    if args.json {
        print_json(&answer);
        return Ok(());
    }
    let c = &answer["Connector"];
    match &args.command {
        ConnectorCommand::Rm { name } => println!("deleted connector {name}"),
        ConnectorCommand::Create(create) => {
            println!(
                "connector {} (version {}) exports table {} to {}: {}",
                create.name,
                c["Version"],
                text(c, "TableName"),
                text(c, "Type"),
                text(c, "State")
            );
        }
        _ => print_status(c),
    }
    Ok(())
}

fn read_config(path: &PathBuf) -> anyhow::Result<String> {
    let size = std::fs::metadata(path).with_context(|| format!("cannot read {}", path.display()))?.len();
    if size > CONFIG_FILE_BYTES_MAX {
        anyhow::bail!(
            "{} is {size} bytes; a configuration is at most {CONFIG_FILE_BYTES_MAX}",
            path.display()
        );
    }
    std::fs::read_to_string(path).with_context(|| format!("cannot read {}", path.display()))
}

/// The PUT body: the file as a whole configuration when it has configuration fields,
/// otherwise as the sink's settings; the flags set Type, TableName and Start.
fn create_body(create: &CreateArgs, file: &str) -> anyhow::Result<Value> {
    let value: Value = serde_json::from_str(file).context("the configuration file is not JSON")?;
    let Value::Object(fields) = value else {
        anyhow::bail!("the configuration file must hold a JSON object")
    };
    let settings_field = match create.sink_type.as_str() {
        "s3" => "S3",
        "opensearch" => "OpenSearch",
        other => anyhow::bail!("--type must be s3 or opensearch; got {other:?}"),
    };
    let whole = ["S3", "OpenSearch", "Batch", "Retry", "Start", "Type", "TableName"]
        .iter()
        .any(|k| fields.contains_key(*k));
    let mut body =
        if whole { Value::Object(fields) } else { json!({ settings_field: Value::Object(fields) }) };
    body["Type"] = create.sink_type.clone().into();
    body["TableName"] = create.table.clone().into();
    if let Some(start) = &create.start {
        body["Start"] = start.clone().into();
    }
    Ok(body)
}

fn print_json(value: &Value) {
    println!("{}", serde_json::to_string_pretty(value).unwrap_or_default());
}

fn text(c: &Value, field: &str) -> String {
    match &c[field] {
        Value::Null => "-".to_string(),
        Value::String(s) => s.clone(),
        other => other.to_string(),
    }
}

fn print_list(connectors: &[Value]) {
    if connectors.is_empty() {
        println!("no connectors");
        return;
    }
    println!("{:<24} {:<11} {:<24} {:<8} {:>10} {:>12}", "NAME", "TYPE", "TABLE", "STATE", "LAG", "EXPORTED");
    for c in connectors {
        println!(
            "{:<24} {:<11} {:<24} {:<8} {:>10} {:>12}",
            text(c, "ConnectorName"),
            text(c, "Type"),
            text(c, "TableName"),
            text(c, "State"),
            text(c, "LagRecords"),
            text(c, "RecordsExported"),
        );
    }
}

fn print_status(c: &Value) {
    println!("connector       {}", text(c, "ConnectorName"));
    println!("type            {} (version {})", text(c, "Type"), text(c, "Version"));
    println!("table           {} (start {})", text(c, "TableName"), text(c, "Start"));
    println!("state           {} ({})", text(c, "State"), text(c, "Phase"));
    println!(
        "checkpoint      {} (high watermark {})",
        text(c, "CheckpointSequenceNumber"),
        text(c, "HighWatermarkSequenceNumber")
    );
    println!("lag             {} records, {} s", text(c, "LagRecords"), text(c, "LagSeconds"));
    println!(
        "exported        {} records, {} bytes, {} batches ({} failed attempts)",
        text(c, "RecordsExported"),
        text(c, "BytesExported"),
        text(c, "BatchesExported"),
        text(c, "Failures")
    );
    println!(
        "batching        {} records, {} bytes, flush every {} ms",
        c["Batch"]["MaxRecords"], c["Batch"]["MaxBytes"], c["Batch"]["FlushIntervalMillis"]
    );
    if !c["LastError"].is_null() {
        println!("last error      {}", text(c, "LastError"));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn create(start: Option<&str>) -> CreateArgs {
        CreateArgs {
            name: "c".into(),
            sink_type: "s3".into(),
            table: "Orders".into(),
            config: PathBuf::from("unused.json"),
            start: start.map(str::to_string),
        }
    }

    #[test]
    fn a_settings_file_goes_under_the_type_and_a_whole_body_is_kept() -> anyhow::Result<()> {
        let body = create_body(&create(Some("snapshot")), r#"{"Bucket": "b"}"#)?;
        assert_eq!(
            body,
            json!({"S3": {"Bucket": "b"}, "Type": "s3", "TableName": "Orders", "Start": "snapshot"})
        );
        let body = create_body(&create(None), r#"{"S3": {"Bucket": "b"}, "Batch": {"MaxRecords": 5}}"#)?;
        assert_eq!(body["Batch"]["MaxRecords"], 5);
        assert_eq!(body["S3"]["Bucket"], "b");
        assert!(create_body(&create(None), "[1]").is_err());
        Ok(())
    }
}
