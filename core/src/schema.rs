//! Table definitions: what CreateTable declares and UpdateTable changes, with DynamoDB's
//! validation rules for names, key schemas, attribute definitions and capacity settings.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use crate::error::Error;
use crate::index::{IndexKind, IndexMeta, IndexSpec, validate_indexes};
use crate::key::{KeyAttribute, KeySchema};

/// Shortest table name (DynamoDB: 3).
pub const TABLE_NAME_CHARS_MIN: usize = 3;
/// Longest table name (DynamoDB: 255).
pub const TABLE_NAME_CHARS_MAX: usize = 255;
/// Most tags on one resource (DynamoDB: 50).
pub const TAGS_MAX: usize = 50;
/// Longest tag key (DynamoDB: 128 characters).
pub const TAG_KEY_CHARS_MAX: usize = 128;
/// Longest tag value (DynamoDB: 256 characters).
pub const TAG_VALUE_CHARS_MAX: usize = 256;

/// How a table is billed; provisioned tables carry their throughput.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum BillingMode {
    /// On-demand capacity.
    PayPerRequest,
    /// Provisioned read and write capacity units.
    Provisioned {
        /// Read capacity units.
        read_capacity_units: u64,
        /// Write capacity units.
        write_capacity_units: u64,
    },
}

/// Which images the DynamoDB Streams API's stream of a table carries.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum StreamViewType {
    /// Only the key attributes.
    KeysOnly,
    /// The item after the change.
    NewImage,
    /// The item before the change.
    OldImage,
    /// Both images.
    NewAndOldImages,
}

impl StreamViewType {
    /// DynamoDB's name for the view type.
    pub fn as_str(self) -> &'static str {
        match self {
            StreamViewType::KeysOnly => "KEYS_ONLY",
            StreamViewType::NewImage => "NEW_IMAGE",
            StreamViewType::OldImage => "OLD_IMAGE",
            StreamViewType::NewAndOldImages => "NEW_AND_OLD_IMAGES",
        }
    }

    /// Parses DynamoDB's name for a view type.
    pub fn parse(s: &str) -> Option<Self> {
        Some(match s {
            "KEYS_ONLY" => StreamViewType::KeysOnly,
            "NEW_IMAGE" => StreamViewType::NewImage,
            "OLD_IMAGE" => StreamViewType::OldImage,
            "NEW_AND_OLD_IMAGES" => StreamViewType::NewAndOldImages,
            _ => return None,
        })
    }
}

/// The DynamoDB Streams API stream of a table, when enabled.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct StreamSettings {
    /// Images carried by the stream's records.
    pub view_type: StreamViewType,
    /// The stream label (an ISO 8601 timestamp, as DynamoDB makes it).
    pub label: String,
    /// The first seq the stream shows (records committed after it was enabled).
    #[serde(default)]
    pub first_seq: u64,
    /// The last seq the stream shows, once disabled.
    #[serde(default)]
    pub last_seq: Option<u64>,
}

/// A table as declared: everything CreateTable takes.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct TableSpec {
    /// Table name.
    pub name: String,
    /// Primary key.
    pub key_schema: KeySchema,
    /// Declared attributes (exactly the key attributes until indexes exist).
    pub attribute_definitions: Vec<KeyAttribute>,
    /// Billing mode and throughput.
    pub billing: BillingMode,
    /// Tags.
    pub tags: BTreeMap<String, String>,
    /// The DynamoDB Streams API stream, if enabled.
    pub stream: Option<StreamSettings>,
    /// DeletionProtectionEnabled.
    pub deletion_protection: bool,
    /// TableClass (`STANDARD` or `STANDARD_INFREQUENT_ACCESS`).
    pub table_class: String,
}

/// A table as stored: its declaration plus identity.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct TableMeta {
    /// The declaration, as changed by UpdateTable and tagging since.
    pub spec: TableSpec,
    /// Internal number naming the table's storage; never reused.
    pub id: u64,
    /// TableId: a UUID given at creation.
    pub table_uuid: String,
    /// CreationDateTime, milliseconds since the epoch.
    pub created_at_millis: u64,
    /// When provisioned throughput last went up, milliseconds since the epoch.
    pub last_increase_millis: Option<u64>,
    /// When provisioned throughput last went down, milliseconds since the epoch.
    pub last_decrease_millis: Option<u64>,
    /// How often throughput went down today (DynamoDB reports it).
    pub decreases_today: u64,
    /// Secondary indexes, global and local, in declaration order.
    #[serde(default)]
    pub indexes: Vec<IndexMeta>,
    /// How long this table's change records are kept, when not the store's default.
    #[serde(default)]
    pub retention_millis: Option<u64>,
    /// DynamoDB Streams API streams disabled earlier, still readable until their records expire.
    #[serde(default)]
    pub past_streams: Vec<StreamSettings>,
}

impl TableMeta {
    /// The index named `name`.
    pub fn index(&self, name: &str) -> Option<&IndexMeta> {
        self.indexes.iter().find(|i| i.spec.name == name)
    }

    /// True when the table has a local secondary index (item collections are then bounded).
    pub fn has_local_indexes(&self) -> bool {
        self.indexes.iter().any(|i| i.spec.kind == IndexKind::Local)
    }
}

/// A table's item count and size, maintained exactly in every commit.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct TableStats {
    /// ItemCount.
    pub item_count: u64,
    /// TableSizeBytes.
    pub size_bytes: u64,
}

/// Checks a table name as DynamoDB does, with DynamoDB's message.
pub fn validate_table_name(name: &str, field: &str) -> Result<(), Error> {
    let mut problems = Vec::new();
    let chars = name.chars().count();
    if chars < TABLE_NAME_CHARS_MIN {
        problems.push(format!(
            "Value '{name}' at '{field}' failed to satisfy constraint: Member must have length greater than or equal to {TABLE_NAME_CHARS_MIN}"
        ));
    }
    if chars > TABLE_NAME_CHARS_MAX {
        problems.push(format!(
            "Value '{name}' at '{field}' failed to satisfy constraint: Member must have length less than or equal to {TABLE_NAME_CHARS_MAX}"
        ));
    }
    if !name.chars().all(|c| c.is_ascii_alphanumeric() || matches!(c, '_' | '.' | '-')) {
        problems.push(format!(
            "Value '{name}' at '{field}' failed to satisfy constraint: Member must satisfy regular expression pattern: [a-zA-Z0-9_.-]+"
        ));
    }
    validation_errors(problems)
}

/// Joins constraint violations into DynamoDB's "N validation error(s) detected: ..." message.
pub fn validation_errors(problems: Vec<String>) -> Result<(), Error> {
    match problems.len() {
        0 => Ok(()),
        1 => Err(Error::validation(format!("1 validation error detected: {}", problems[0]))),
        n => Err(Error::validation(format!("{n} validation errors detected: {}", problems.join("; ")))),
    }
}

impl TableSpec {
    /// Checks the declaration as CreateTable does: the key attributes of the table and its
    /// indexes are declared, nothing else is declared, indexes and throughput are sane.
    pub fn validate(&self, indexes: &[&IndexSpec]) -> Result<(), Error> {
        validate_table_name(&self.name, "tableName")?;
        let key = &self.key_schema;
        if key.sort.as_ref().is_some_and(|s| s.name == key.partition.name) {
            return Err(Error::validation(
                "Both the Hash Key and the Range Key element in the KeySchema have the same name",
            ));
        }
        let mut seen = std::collections::BTreeSet::new();
        for def in &self.attribute_definitions {
            if !seen.insert(def.name.as_str()) {
                return Err(Error::validation(format!(
                    "Cannot have two attributes with the same name. Attribute name: {}",
                    def.name
                )));
            }
        }
        validate_indexes(key, indexes)?;
        let mut key_attributes: Vec<&str> = key.attribute_names().collect();
        for index in indexes {
            key_attributes.extend(index.key_schema.attribute_names());
        }
        key_attributes.sort_unstable();
        key_attributes.dedup();
        for attr in key_attributes.iter().copied() {
            let declared = self.attribute_definitions.iter().find(|d| d.name == attr);
            if declared.is_none() {
                return Err(Error::validation(
                    "One or more parameter values were invalid: Some index key attributes are not defined in AttributeDefinitions. Keys: [".to_string()
                        + attr
                        + "], AttributeDefinitions: ["
                        + &self.attribute_definitions.iter().map(|d| d.name.as_str()).collect::<Vec<_>>().join(", ")
                        + "]",
                ));
            }
        }
        if self.attribute_definitions.len() != key_attributes.len() {
            return Err(Error::validation(
                "One or more parameter values were invalid: Number of attributes in KeySchema does not exactly match number of attributes defined in AttributeDefinitions",
            ));
        }
        if let BillingMode::Provisioned { read_capacity_units, write_capacity_units } = self.billing {
            validate_throughput(read_capacity_units, write_capacity_units)?;
        }
        for index in indexes.iter().filter(|i| i.kind == IndexKind::Global) {
            match (self.billing, index.throughput) {
                (BillingMode::Provisioned { .. }, None) => {
                    return Err(Error::validation(format!(
                        "One or more parameter values were invalid: ProvisionedThroughput must be specified for index: {}",
                        index.name
                    )));
                }
                (BillingMode::PayPerRequest, Some(_)) => {
                    return Err(Error::validation(format!(
                        "One or more parameter values were invalid: ProvisionedThroughput should not be specified for index: {} when BillingMode is PAY_PER_REQUEST",
                        index.name
                    )));
                }
                _ => {}
            }
        }
        validate_tags(&self.tags)?;
        Ok(())
    }
}

/// Checks provisioned throughput figures.
pub fn validate_throughput(read: u64, write: u64) -> Result<(), Error> {
    for (what, units) in [("ReadCapacityUnits", read), ("WriteCapacityUnits", write)] {
        if units < 1 {
            return Err(Error::validation(format!(
                "One or more parameter values were invalid: {what} must be greater than 0 for table"
            )));
        }
    }
    Ok(())
}

/// Checks tag counts and sizes.
pub fn validate_tags(tags: &BTreeMap<String, String>) -> Result<(), Error> {
    if tags.len() > TAGS_MAX {
        return Err(Error::LimitExceeded {
            message: format!("The number of tags exceeds the limit of {TAGS_MAX} for this resource"),
        });
    }
    for (k, v) in tags {
        if k.is_empty() || k.chars().count() > TAG_KEY_CHARS_MAX {
            return Err(Error::validation(format!(
                "1 validation error detected: Value '{k}' at 'tags.member.key' failed to satisfy constraint: Member must have length less than or equal to {TAG_KEY_CHARS_MAX} and greater than or equal to 1"
            )));
        }
        if v.chars().count() > TAG_VALUE_CHARS_MAX {
            return Err(Error::validation(format!(
                "1 validation error detected: Value '{v}' at 'tags.member.value' failed to satisfy constraint: Member must have length less than or equal to {TAG_VALUE_CHARS_MAX}"
            )));
        }
        if k.starts_with("aws:") {
            return Err(Error::validation("Tag keys beginning with 'aws:' are reserved for system use"));
        }
    }
    Ok(())
}
