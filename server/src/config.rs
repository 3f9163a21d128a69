//! Server configuration: command-line flags, optionally a TOML file whose keys mirror them.

use std::net::SocketAddr;
use std::path::{Path, PathBuf};

use serde::Deserialize;

/// Default listen address (DynamoDB Local's habit).
pub const DEFAULT_LISTEN: &str = "127.0.0.1:8000";
/// Default data dir.
pub const DEFAULT_DATA_DIR: &str = "./eddy-data";
/// Default region used in ARNs.
pub const DEFAULT_REGION: &str = "us-east-1";
/// Default retention of change records (DynamoDB Streams: 24 hours).
pub const DEFAULT_RETENTION_HOURS: u64 = 24;
/// Longest retention a table's change records may be given (90 days).
pub const RETENTION_HOURS_MAX: u64 = 90 * 24;
/// Default shard period of the DynamoDB Streams API view (4 hours).
pub const DEFAULT_SHARD_PERIOD_SECS: u64 = 4 * 3600;
/// Default account id used in ARNs.
pub const DEFAULT_ACCOUNT_ID: &str = "000000000000";

/// The region and account this server presents in ARNs.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Identity {
    /// Region, e.g. `us-east-1`.
    pub region: String,
    /// Twelve-digit account id.
    pub account_id: String,
}

impl Identity {
    /// The ARN of a table.
    pub fn table_arn(&self, table: &str) -> String {
        format!("arn:aws:dynamodb:{}:{}:table/{table}", self.region, self.account_id)
    }

    /// The table name in a table ARN of this server, if it is one.
    pub fn table_from_arn<'a>(&self, arn: &'a str) -> Option<&'a str> {
        let prefix = format!("arn:aws:dynamodb:{}:{}:table/", self.region, self.account_id);
        arn.strip_prefix(&prefix).filter(|t| !t.contains('/'))
    }
}

/// Everything `eddy serve` needs.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ServeConfig {
    /// Address to listen on.
    pub listen: SocketAddr,
    /// Data dir.
    pub data_dir: PathBuf,
    /// ARN identity.
    pub identity: Identity,
    /// How long change records are kept by default.
    pub retention: std::time::Duration,
    /// How long a DynamoDB Streams shard stays open before the next starts.
    pub shard_period: std::time::Duration,
    /// Serve `POST /v1/dev/clock`, which moves the server's clock forward (tests only).
    pub dev_clock: bool,
}

/// Settings from the flags or from the TOML file, whose keys mirror the flags (`listen`,
/// `data-dir`, `region`, `account-id`, `retention-hours`, `shard-period-secs`, `dev-clock`).
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "kebab-case")]
pub struct FileConfig {
    /// `--listen`.
    pub listen: Option<String>,
    /// `--data-dir`.
    pub data_dir: Option<PathBuf>,
    /// `--region`.
    pub region: Option<String>,
    /// `--account-id`.
    pub account_id: Option<String>,
    /// `--retention-hours`.
    pub retention_hours: Option<u64>,
    /// `--shard-period-secs`.
    pub shard_period_secs: Option<u64>,
    /// `--dev-clock`.
    pub dev_clock: Option<bool>,
}

impl FileConfig {
    /// Reads a TOML config file.
    pub fn load(path: &Path) -> anyhow::Result<FileConfig> {
        let text = std::fs::read_to_string(path)
            .map_err(|e| anyhow::anyhow!("cannot read config file {}: {e}", path.display()))?;
        toml::from_str(&text).map_err(|e| anyhow::anyhow!("invalid config file {}: {e}", path.display()))
    }
}

/// Flags win over the file, the file over the defaults.
pub fn resolve(flags: FileConfig, file: FileConfig) -> anyhow::Result<ServeConfig> {
    let FileConfig { listen, data_dir, region, account_id, retention_hours, shard_period_secs, dev_clock } =
        flags;
    let retention_hours = retention_hours.or(file.retention_hours).unwrap_or(DEFAULT_RETENTION_HOURS);
    if !(1..=RETENTION_HOURS_MAX).contains(&retention_hours) {
        anyhow::bail!(
            "--retention-hours must be between 1 and {RETENTION_HOURS_MAX} (got {retention_hours})"
        );
    }
    let shard_period_secs = shard_period_secs.or(file.shard_period_secs).unwrap_or(DEFAULT_SHARD_PERIOD_SECS);
    if shard_period_secs == 0 {
        anyhow::bail!("--shard-period-secs must be at least 1");
    }
    let listen_text = listen.or(file.listen).unwrap_or_else(|| DEFAULT_LISTEN.to_string());
    let listen: SocketAddr = listen_text.parse().map_err(|_| {
        anyhow::anyhow!("--listen must be ADDR:PORT, such as 127.0.0.1:8000 (got {listen_text:?})")
    })?;
    let account_id = account_id.or(file.account_id).unwrap_or_else(|| DEFAULT_ACCOUNT_ID.to_string());
    if account_id.len() != 12 || !account_id.bytes().all(|b| b.is_ascii_digit()) {
        anyhow::bail!("--account-id must be twelve digits (got {account_id:?})");
    }
    let region = region.or(file.region).unwrap_or_else(|| DEFAULT_REGION.to_string());
    if region.is_empty() || !region.bytes().all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-')
    {
        anyhow::bail!("--region must look like us-east-1 (got {region:?})");
    }
    Ok(ServeConfig {
        listen,
        data_dir: data_dir.or(file.data_dir).unwrap_or_else(|| PathBuf::from(DEFAULT_DATA_DIR)),
        identity: Identity { region, account_id },
        retention: std::time::Duration::from_secs(retention_hours * 3600),
        shard_period: std::time::Duration::from_secs(shard_period_secs),
        dev_clock: dev_clock.or(file.dev_clock).unwrap_or(false),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn flags_win_over_file_and_file_over_defaults() {
        let file: FileConfig = toml::from_str(
            "listen = \"0.0.0.0:9000\"\ndata-dir = \"/var/lib/eddy\"\nregion = \"eu-west-1\"\n",
        )
        .unwrap_or_default();
        let flags = FileConfig { listen: Some("127.0.0.1:1234".into()), ..FileConfig::default() };
        let c = resolve(flags, file).ok();
        let c = c.as_ref();
        assert_eq!(c.map(|c| c.listen.port()), Some(1234));
        assert_eq!(c.map(|c| c.data_dir.clone()), Some(PathBuf::from("/var/lib/eddy")));
        assert_eq!(c.map(|c| c.identity.region.as_str()), Some("eu-west-1"));
        assert_eq!(c.map(|c| c.identity.account_id.as_str()), Some(DEFAULT_ACCOUNT_ID));
    }

    #[test]
    fn unknown_file_keys_and_bad_values_are_errors() {
        assert!(toml::from_str::<FileConfig>("port = 1").is_err());
        let bad = FileConfig { listen: Some("nope".into()), ..FileConfig::default() };
        assert!(resolve(bad, FileConfig::default()).is_err());
    }
}
