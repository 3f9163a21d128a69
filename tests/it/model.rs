//! Proves random sequences of item operations give the same answers and final table as a simple
//! in-memory model of DynamoDB semantics.

use std::collections::BTreeMap;

use aws_sdk_dynamodb::types::{AttributeValue, ReturnValue};
use eddy_tests::{Item, TestServer, hash_table, item, n, s};

/// A small deterministic generator (xorshift64*), so a failure replays from its seed.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_F491_4F6C_DD1D)
    }

    fn below(&mut self, n: u64) -> u64 {
        self.next() % n
    }
}

/// The model: key -> (counter, label).
type Model = BTreeMap<String, (i64, String)>;

fn to_item(key: &str, (counter, label): &(i64, String)) -> Item {
    item([("pk", s(key)), ("c", n(counter)), ("label", s(label.clone()))])
}

fn from_item(it: &Item) -> (String, (i64, String)) {
    let key = match it.get("pk") {
        Some(AttributeValue::S(k)) => k.clone(),
        other => panic!("{other:?}"),
    };
    let counter = match it.get("c") {
        Some(AttributeValue::N(c)) => c.parse().unwrap(),
        other => panic!("{other:?}"),
    };
    let label = match it.get("label") {
        Some(AttributeValue::S(l)) => l.clone(),
        other => panic!("{other:?}"),
    };
    (key, (counter, label))
}

fn old_of(attrs: Option<&Item>) -> Option<(i64, String)> {
    attrs.filter(|a| !a.is_empty()).map(|a| from_item(a).1)
}

#[tokio::test]
async fn random_item_operations_match_model() {
    let server = TestServer::start();
    let client = server.client();
    let table = hash_table(&client, "model").await;
    let seed = 0x5EED_u64;
    let mut rng = Rng(seed);
    let mut model = Model::new();

    for step in 0..400 {
        let key = format!("k{}", rng.below(12));
        let ctx = format!("seed {seed:#x} step {step} key {key}");
        match rng.below(6) {
            0 => {
                let value = (rng.below(100) as i64 - 50, format!("l{}", rng.below(5)));
                let out = client
                    .put_item()
                    .table_name(&table)
                    .set_item(Some(to_item(&key, &value)))
                    .return_values(ReturnValue::AllOld)
                    .send()
                    .await
                    .unwrap_or_else(|e| panic!("{ctx}: put: {e:?}"));
                assert_eq!(old_of(out.attributes()), model.insert(key.clone(), value), "{ctx}: put old");
            }
            1 => {
                let out = client
                    .delete_item()
                    .table_name(&table)
                    .key("pk", s(&key))
                    .return_values(ReturnValue::AllOld)
                    .send()
                    .await
                    .unwrap_or_else(|e| panic!("{ctx}: delete: {e:?}"));
                assert_eq!(old_of(out.attributes()), model.remove(&key), "{ctx}: delete old");
            }
            2 => {
                // Conditional put: only if absent.
                let value = (rng.below(10) as i64, "new".to_string());
                let result = client
                    .put_item()
                    .table_name(&table)
                    .set_item(Some(to_item(&key, &value)))
                    .condition_expression("attribute_not_exists(pk)")
                    .send()
                    .await;
                match (model.contains_key(&key), result) {
                    (false, Ok(_)) => {
                        model.insert(key, value);
                    }
                    (true, Err(e)) => {
                        let e = e.into_service_error();
                        assert!(e.is_conditional_check_failed_exception(), "{ctx}: {e:?}");
                    }
                    (exists, r) => panic!("{ctx}: exists={exists} but got {r:?}"),
                }
            }
            3 => {
                // Counter add, upserting with label "new" when missing.
                let delta = rng.below(21) as i64 - 10;
                let out = client
                    .update_item()
                    .table_name(&table)
                    .key("pk", s(&key))
                    .update_expression("SET label = if_not_exists(label, :l) ADD c :d")
                    .expression_attribute_values(":l", s("new"))
                    .expression_attribute_values(":d", n(delta))
                    .return_values(ReturnValue::AllNew)
                    .send()
                    .await
                    .unwrap_or_else(|e| panic!("{ctx}: add: {e:?}"));
                let entry = model.entry(key.clone()).or_insert((0, "new".to_string()));
                entry.0 += delta;
                assert_eq!(old_of(out.attributes()), Some(entry.clone()), "{ctx}: add new image");
            }
            4 => {
                // Conditional relabel: only if the counter is above a threshold.
                let threshold = rng.below(40) as i64 - 20;
                let result = client
                    .update_item()
                    .table_name(&table)
                    .key("pk", s(&key))
                    .update_expression("SET label = :l")
                    .condition_expression("c > :t")
                    .expression_attribute_values(":l", s("relabelled"))
                    .expression_attribute_values(":t", n(threshold))
                    .send()
                    .await;
                match (model.get_mut(&key), result) {
                    (Some(v), Ok(_)) if v.0 > threshold => v.1 = "relabelled".into(),
                    (Some(v), Err(e)) if v.0 <= threshold => {
                        let e = e.into_service_error();
                        assert!(e.is_conditional_check_failed_exception(), "{ctx}: {e:?}");
                    }
                    (None, Err(e)) => {
                        let e = e.into_service_error();
                        assert!(e.is_conditional_check_failed_exception(), "{ctx}: {e:?}");
                    }
                    (v, r) => panic!("{ctx}: model {v:?} but got {r:?}"),
                }
            }
            _ => {
                let got = client
                    .get_item()
                    .table_name(&table)
                    .key("pk", s(&key))
                    .send()
                    .await
                    .unwrap_or_else(|e| panic!("{ctx}: get: {e:?}"));
                assert_eq!(got.item().map(|i| from_item(i).1), model.get(&key).cloned(), "{ctx}: get");
            }
        }
    }

    let scanned = client.scan().table_name(&table).send().await.unwrap();
    let table_now: Model = scanned.items().iter().map(from_item).collect();
    assert_eq!(table_now, model);
}
