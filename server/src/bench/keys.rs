//! The benchmark's data layout and request bodies. Bodies are written by hand rather than through
//! `serde_json` values because the client shares the machine with the server under test: every
//! microsecond spent here is taken from the figure being measured.

use bytes::Bytes;

/// Items per partition of the query data set: one Query reads one whole partition.
pub const PARTITION_ITEMS: u64 = 10;

/// Builds request bodies for one table and value size. Table names and keys are restricted to
/// characters that need no JSON escaping (checked by `BenchArgs::validate`; keys are ours).
#[derive(Debug)]
pub struct Bodies {
    table: String,
    value: String,
}

impl Bodies {
    pub fn new(table: &str, value_bytes: usize) -> Bodies {
        Bodies { table: table.to_string(), value: value_of(value_bytes) }
    }

    /// PutItem of the single item `index` of the get data set.
    pub fn put_item(&self, index: u64) -> Bytes {
        self.put(&item_pk(index), "0")
    }

    /// PutItem of item `index` of the query data set: partition `index / 10`, sort key `index % 10`.
    pub fn put_partition_item(&self, index: u64) -> Bytes {
        let sk = format!("{:02}", index % PARTITION_ITEMS);
        self.put(&partition_pk(index / PARTITION_ITEMS), &sk)
    }

    /// PutItem of a fresh key derived from `random`.
    pub fn put_new(&self, random: u64) -> Bytes {
        self.put(&format!("put-{random:016x}"), "0")
    }

    /// PutItem of the marker that says a data set is fully loaded.
    pub fn put_marker(&self, marker: &str) -> Bytes {
        self.put(MARKER_PK, marker)
    }

    /// GetItem of the single item `index`.
    pub fn get_item(&self, index: u64) -> Bytes {
        self.get(&item_pk(index), "0")
    }

    /// GetItem of a data set's marker.
    pub fn get_marker(&self, marker: &str) -> Bytes {
        self.get(MARKER_PK, marker)
    }

    /// Query of the whole partition `partition`.
    pub fn query_partition(&self, partition: u64) -> Bytes {
        Bytes::from(format!(
            r#"{{"TableName":"{}","KeyConditionExpression":"pk = :pk","ExpressionAttributeValues":{{":pk":{{"S":"{}"}}}}}}"#,
            self.table,
            partition_pk(partition)
        ))
    }

    /// DescribeTable of the table.
    pub fn describe_table(&self) -> Bytes {
        Bytes::from(format!(r#"{{"TableName":"{}"}}"#, self.table))
    }

    /// CreateTable of the table: `pk` S hash key, `sk` S range key, on-demand billing.
    pub fn create_table(&self) -> Bytes {
        Bytes::from(format!(
            concat!(
                r#"{{"TableName":"{}","BillingMode":"PAY_PER_REQUEST","#,
                r#""AttributeDefinitions":[{{"AttributeName":"pk","AttributeType":"S"}},"#,
                r#"{{"AttributeName":"sk","AttributeType":"S"}}],"#,
                r#""KeySchema":[{{"AttributeName":"pk","KeyType":"HASH"}},{{"AttributeName":"sk","KeyType":"RANGE"}}]}}"#
            ),
            self.table
        ))
    }

    /// CreateTable of the table as [`Bodies::create_table`] does, with a stream that shows both
    /// images (`StreamSpecification`), as the change-stream workloads need.
    pub fn create_table_with_stream(&self) -> Bytes {
        let mut body = self.create_table().to_vec();
        body.pop();
        body.extend_from_slice(
            br#","StreamSpecification":{"StreamEnabled":true,"StreamViewType":"NEW_AND_OLD_IMAGES"}}"#,
        );
        Bytes::from(body)
    }

    /// DeleteTable of the table.
    pub fn delete_table(&self) -> Bytes {
        self.describe_table()
    }

    /// PutItem of the item with partition key `pk` and sort key `0` (`pk` needs no escaping).
    pub fn put_key(&self, pk: &str) -> Bytes {
        self.put(pk, "0")
    }

    /// BatchWriteItem of `count` puts (at most 25) of the items `first..first + count` of the
    /// get-records data set.
    pub fn batch_put_records(&self, first: u64, count: u64) -> Bytes {
        let mut body = String::with_capacity(64 + count as usize * (self.value.len() + 80));
        body.push_str(r#"{"RequestItems":{""#);
        body.push_str(&self.table);
        body.push_str(r#"":["#);
        for index in first..first + count {
            if index > first {
                body.push(',');
            }
            body.push_str(r#"{"PutRequest":{"Item":{"pk":{"S":""#);
            body.push_str(&record_pk(index));
            body.push_str(r#""},"sk":{"S":"0"},"v":{"S":""#);
            body.push_str(&self.value);
            body.push_str(r#""}}}}"#);
        }
        body.push_str("]}}");
        Bytes::from(body)
    }

    fn put(&self, pk: &str, sk: &str) -> Bytes {
        let mut body = String::with_capacity(self.table.len() + self.value.len() + pk.len() + 80);
        body.push_str(r#"{"TableName":""#);
        body.push_str(&self.table);
        body.push_str(r#"","Item":{"pk":{"S":""#);
        body.push_str(pk);
        body.push_str(r#""},"sk":{"S":""#);
        body.push_str(sk);
        body.push_str(r#""},"v":{"S":""#);
        body.push_str(&self.value);
        body.push_str(r#""}}}"#);
        Bytes::from(body)
    }

    fn get(&self, pk: &str, sk: &str) -> Bytes {
        Bytes::from(format!(
            r#"{{"TableName":"{}","Key":{{"pk":{{"S":"{pk}"}},"sk":{{"S":"{sk}"}}}}}}"#,
            self.table
        ))
    }
}

/// The partition key of the markers of loaded data sets.
const MARKER_PK: &str = "eddy-bench-preload";

fn item_pk(index: u64) -> String {
    format!("item-{index:010}")
}

/// The partition key of item `index` of the get-records data set.
pub fn record_pk(index: u64) -> String {
    format!("gr-{index:010}")
}

fn partition_pk(partition: u64) -> String {
    format!("part-{partition:010}")
}

/// A value of `len` ASCII letters and digits in a fixed pseudo-random order, so it neither
/// compresses to nothing nor needs JSON escaping.
fn value_of(len: usize) -> String {
    const ALPHABET: &[u8] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789";
    let mut rng = Rng::new(0x5eed);
    (0..len).map(|_| ALPHABET[(rng.next() % ALPHABET.len() as u64) as usize] as char).collect()
}

/// Whether a GetItem response body holds an item (DynamoDB answers `{}` for a missing one).
pub fn has_item(body: &[u8]) -> bool {
    body.windows(7).any(|w| w == b"\"Item\":" || w == b"\"Item\" ")
}

/// The `Count` of a Query response body, found without parsing the items.
pub fn query_count(body: &[u8]) -> Option<u64> {
    let at = body.windows(7).position(|w| w == b"\"Count\"")? + 7;
    let rest = &body[at..];
    let rest = &rest[rest.iter().position(|b| !b.is_ascii_whitespace())?..];
    let rest = rest.strip_prefix(b":")?;
    let start = rest.iter().position(|b| !b.is_ascii_whitespace())?;
    let digits = &rest[start..];
    let end = digits.iter().position(|b| !b.is_ascii_digit()).unwrap_or(digits.len());
    std::str::from_utf8(&digits[..end]).ok()?.parse().ok()
}

/// splitmix64: a small, fast generator for key choice. Statistical quality is ample for picking
/// keys and a fixed seed keeps values reproducible.
#[derive(Debug, Clone)]
pub struct Rng(u64);

impl Rng {
    pub fn new(seed: u64) -> Rng {
        Rng(seed)
    }

    pub fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }

    /// A value in `0..bound` (`bound` > 0); the modulo bias is negligible for key counts.
    pub fn below(&mut self, bound: u64) -> u64 {
        self.next() % bound.max(1)
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::{Bodies, has_item, query_count};

    #[test]
    fn bodies_are_valid_json_of_the_right_shape() {
        let bodies = Bodies::new("eddy-bench", 16);
        let put: serde_json::Value = serde_json::from_slice(&bodies.put_partition_item(123)).unwrap();
        assert_eq!(put["TableName"], "eddy-bench");
        assert_eq!(put["Item"]["pk"]["S"], "part-0000000012");
        assert_eq!(put["Item"]["sk"]["S"], "03");
        assert_eq!(put["Item"]["v"]["S"].as_str().unwrap().len(), 16);
        let get: serde_json::Value = serde_json::from_slice(&bodies.get_item(7)).unwrap();
        assert_eq!(get["Key"]["pk"]["S"], "item-0000000007");
        let query: serde_json::Value = serde_json::from_slice(&bodies.query_partition(12)).unwrap();
        assert_eq!(query["ExpressionAttributeValues"][":pk"]["S"], "part-0000000012");
        let create: serde_json::Value = serde_json::from_slice(&bodies.create_table()).unwrap();
        assert_eq!(create["KeySchema"][1]["AttributeName"], "sk");
        let create: serde_json::Value = serde_json::from_slice(&bodies.create_table_with_stream()).unwrap();
        assert_eq!(create["KeySchema"][0]["AttributeName"], "pk");
        assert_eq!(create["StreamSpecification"]["StreamEnabled"], true);
        assert_eq!(create["StreamSpecification"]["StreamViewType"], "NEW_AND_OLD_IMAGES");
        let batch: serde_json::Value = serde_json::from_slice(&bodies.batch_put_records(50, 25)).unwrap();
        let puts = batch["RequestItems"]["eddy-bench"].as_array().unwrap();
        assert_eq!(puts.len(), 25);
        assert_eq!(puts[0]["PutRequest"]["Item"]["pk"]["S"], "gr-0000000050");
        assert_eq!(puts[24]["PutRequest"]["Item"]["pk"]["S"], "gr-0000000074");
        assert_eq!(puts[24]["PutRequest"]["Item"]["v"]["S"].as_str().unwrap().len(), 16);
        let put: serde_json::Value = serde_json::from_slice(&bodies.put_key("sl-1-2")).unwrap();
        assert_eq!(put["Item"]["pk"]["S"], "sl-1-2");
        for body in [
            bodies.put_new(42),
            bodies.put_marker("m"),
            bodies.get_marker("m"),
            bodies.describe_table(),
            bodies.delete_table(),
            bodies.batch_put_records(0, 1),
        ] {
            serde_json::from_slice::<serde_json::Value>(&body).unwrap();
        }
    }

    #[test]
    fn response_checks() {
        assert!(has_item(br#"{"Item":{"pk":{"S":"a"}}}"#));
        assert!(has_item(br#"{"Item": {}}"#));
        assert!(!has_item(b"{}"));
        assert_eq!(query_count(br#"{"Count":10,"Items":[],"ScannedCount":10}"#), Some(10));
        assert_eq!(query_count(br#"{"Items": [], "Count" : 3}"#), Some(3));
        assert_eq!(query_count(b"{}"), None);
    }
}
