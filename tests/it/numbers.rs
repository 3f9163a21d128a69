//! Proves numbers behave as DynamoDB's decimal numbers: 38 significant digits, the documented
//! range, canonical forms on output, numeric (not textual) key order and exact arithmetic.

use aws_sdk_dynamodb::Client;
use aws_sdk_dynamodb::types::{AttributeValue, ReturnValue, ScalarAttributeType};
use eddy_tests::{TestServer, expect_validation, hash_range_table, hash_table, n, s};

async fn put_get(client: &Client, table: &str, value: &str) -> String {
    client.put_item().table_name(table).item("pk", s("k")).item("v", n(value)).send().await.unwrap_or_else(
        |e| {
            panic!("put {value}: {e:?}");
        },
    );
    let got = client.get_item().table_name(table).key("pk", s("k")).send().await.unwrap();
    match got.item().and_then(|i| i.get("v")) {
        Some(AttributeValue::N(v)) => v.clone(),
        other => panic!("{value} came back as {other:?}"),
    }
}

#[tokio::test]
async fn thirty_eight_digits_round_trip_exactly() {
    let server = TestServer::start();
    let client = server.client();
    let table = hash_table(&client, "prec").await;
    for value in [
        "12345678901234567890123456789012345678",
        "-12345678901234567890123456789012345678",
        "0.12345678901234567890123456789012345678",
        "1234567890123456789.0123456789012345678",
        "99999999999999999999999999999999999999",
        "0.00000000000000000000000000000000000000000001",
    ] {
        assert_eq!(put_get(&client, &table, value).await, value);
    }
}

#[tokio::test]
async fn range_limits_are_accepted() {
    let server = TestServer::start();
    let client = server.client();
    let table = hash_table(&client, "range").await;
    // Documented range: 1E-130 to 9.9999999999999999999999999999999999999E+125, either sign.
    for value in [
        "1E-130",
        "-1E-130",
        "9.9999999999999999999999999999999999999E+125",
        "-9.9999999999999999999999999999999999999E+125",
    ] {
        client
            .put_item()
            .table_name(&table)
            .item("pk", s(value))
            .item("v", n(value))
            .send()
            .await
            .unwrap_or_else(|e| panic!("{value} is in range: {e:?}"));
    }
}

#[tokio::test]
async fn numbers_come_back_in_canonical_form() {
    let server = TestServer::start();
    let client = server.client();
    let table = hash_table(&client, "canon").await;
    for (input, canonical) in [
        ("1.50", "1.5"),
        ("1.0", "1"),
        ("0100", "100"),
        ("-0", "0"),
        ("0.0", "0"),
        ("0.0010", "0.001"),
        ("1e2", "100"),
        ("1E+2", "100"),
        ("-2.500E1", "-25"),
        ("12.5e-1", "1.25"),
        ("000.5", "0.5"),
    ] {
        assert_eq!(put_get(&client, &table, input).await, canonical, "input {input}");
    }
}

#[tokio::test]
async fn out_of_range_and_over_precise_numbers_are_rejected() {
    let server = TestServer::start();
    let client = server.client();
    let table = hash_table(&client, "reject").await;
    for value in [
        "1E+126",
        "-1E+126",
        "1E-131",
        "123456789012345678901234567890123456789",
        "1.23456789012345678901234567890123456789",
        "abc",
        "",
        "1.2.3",
        "--1",
        "1e",
        "NaN",
        "Infinity",
    ] {
        let result = client.put_item().table_name(&table).item("pk", s("k")).item("v", n(value)).send().await;
        assert_eq!(
            result.as_ref().err().and_then(eddy_tests::error_code),
            Some("ValidationException"),
            "{value:?}: {result:?}"
        );
    }
    let got = client.get_item().table_name(&table).key("pk", s("k")).send().await.unwrap();
    assert!(got.item().is_none());
}

#[tokio::test]
async fn trailing_zeros_do_not_count_as_precision() {
    let server = TestServer::start();
    let client = server.client();
    let table = hash_table(&client, "zeros").await;
    // 40 digits, one of them significant.
    let value = format!("1{}", "0".repeat(39));
    assert_eq!(put_get(&client, &table, &value).await, value);
}

#[tokio::test]
async fn numeric_sort_key_orders_by_value() {
    let server = TestServer::start();
    let client = server.client();
    let table = hash_range_table(&client, "order", ScalarAttributeType::N).await;
    // Ascending by value; textual order would differ.
    let ordered = [
        "-99999999999999999999999999999999999999",
        "-1E+10",
        "-100",
        "-9",
        "-1.5",
        "-1",
        "-0.001",
        "-1E-100",
        "0",
        "1E-100",
        "0.00001",
        "0.5",
        "1",
        "2",
        "9",
        "10",
        "11",
        "100",
        "1500",
        "1E+20",
        "9.9999999999999999999999999999999999999E+125",
    ];
    let mut shuffled: Vec<&str> = ordered.to_vec();
    shuffled.reverse();
    shuffled.swap(0, 7);
    for v in &shuffled {
        client.put_item().table_name(&table).item("pk", s("p")).item("sk", n(v)).send().await.unwrap();
    }
    let out = client
        .query()
        .table_name(&table)
        .key_condition_expression("pk = :p")
        .expression_attribute_values(":p", s("p"))
        .send()
        .await
        .unwrap();
    let got: Vec<String> = out
        .items()
        .iter()
        .map(|i| match i.get("sk") {
            Some(AttributeValue::N(v)) => v.clone(),
            other => panic!("{other:?}"),
        })
        .collect();
    assert_eq!(got.len(), ordered.len(), "{got:?}");
    // Compare positions of values whose canonical form is not in doubt.
    for (a, b) in [("-100", "-9"), ("-1.5", "-1"), ("0", "0.5"), ("2", "10"), ("9", "11"), ("100", "1500")] {
        let pa = got.iter().position(|g| g == a).unwrap_or_else(|| panic!("{a} missing from {got:?}"));
        let pb = got.iter().position(|g| g == b).unwrap_or_else(|| panic!("{b} missing from {got:?}"));
        assert!(pa < pb, "{a} must sort before {b}: {got:?}");
    }

    // Every value is its own key: equal numbers in different spellings are the same key.
    client
        .put_item()
        .table_name(&table)
        .item("pk", s("p"))
        .item("sk", n("2.0"))
        .item("x", n(1))
        .send()
        .await
        .unwrap();
    let got = client.get_item().table_name(&table).key("pk", s("p")).key("sk", n("2")).send().await.unwrap();
    assert_eq!(got.item().and_then(|i| i.get("x")), Some(&n(1)));

    // Range conditions compare numerically too.
    let out = client
        .query()
        .table_name(&table)
        .key_condition_expression("pk = :p AND sk BETWEEN :lo AND :hi")
        .expression_attribute_values(":p", s("p"))
        .expression_attribute_values(":lo", n("-1.5"))
        .expression_attribute_values(":hi", n("2"))
        .send()
        .await
        .unwrap();
    let got: Vec<String> = out
        .items()
        .iter()
        .map(|i| match i.get("sk") {
            Some(AttributeValue::N(v)) => v.clone(),
            other => panic!("{other:?}"),
        })
        .collect();
    assert_eq!(got.len(), 10, "{got:?}");
    assert_eq!(got.first().map(String::as_str), Some("-1.5"));
    assert_eq!(got.last().map(String::as_str), Some("2"));
}

async fn add(client: &Client, table: &str, delta: &str) -> String {
    let out = client
        .update_item()
        .table_name(table)
        .key("pk", s("acc"))
        .update_expression("ADD v :d")
        .expression_attribute_values(":d", n(delta))
        .return_values(ReturnValue::UpdatedNew)
        .send()
        .await
        .unwrap_or_else(|e| panic!("ADD {delta}: {e:?}"));
    match out.attributes().and_then(|a| a.get("v")) {
        Some(AttributeValue::N(v)) => v.clone(),
        other => panic!("{other:?}"),
    }
}

#[tokio::test]
async fn add_arithmetic_is_exact_decimal() {
    let server = TestServer::start();
    let client = server.client();
    let table = hash_table(&client, "arith").await;
    assert_eq!(add(&client, &table, "0.1").await, "0.1");
    assert_eq!(add(&client, &table, "0.2").await, "0.3");
    assert_eq!(add(&client, &table, "-0.3").await, "0");
    assert_eq!(
        add(&client, &table, "12345678901234567890123456789012345678").await,
        "12345678901234567890123456789012345678"
    );
    assert_eq!(add(&client, &table, "1").await, "12345678901234567890123456789012345679");
    assert_eq!(add(&client, &table, "-12345678901234567890123456789012345679").await, "0");
    assert_eq!(add(&client, &table, "-5").await, "-5");
    assert_eq!(add(&client, &table, "5.5").await, "0.5");

    // SET arithmetic is exact too.
    let out = client
        .update_item()
        .table_name(&table)
        .key("pk", s("acc"))
        .update_expression("SET w = :a + :b, x = :a - :b")
        .expression_attribute_values(":a", n("1.1"))
        .expression_attribute_values(":b", n("2.2"))
        .return_values(ReturnValue::UpdatedNew)
        .send()
        .await
        .unwrap();
    let attrs = out.attributes().unwrap();
    assert_eq!(attrs.get("w"), Some(&n("3.3")));
    assert_eq!(attrs.get("x"), Some(&n("-1.1")));
}

#[tokio::test]
async fn arithmetic_overflow_is_validation_error() {
    let server = TestServer::start();
    let client = server.client();
    let table = hash_table(&client, "overflow").await;
    client
        .put_item()
        .table_name(&table)
        .item("pk", s("acc"))
        .item("v", n("9.9999999999999999999999999999999999999E+125"))
        .send()
        .await
        .unwrap();
    expect_validation(
        client
            .update_item()
            .table_name(&table)
            .key("pk", s("acc"))
            .update_expression("ADD v :d")
            .expression_attribute_values(":d", n("9.9999999999999999999999999999999999999E+125"))
            .send()
            .await,
    );
}

#[tokio::test]
async fn number_sets_reject_duplicate_values_in_any_spelling() {
    let server = TestServer::start();
    let client = server.client();
    let table = hash_table(&client, "nset").await;
    expect_validation(
        client
            .put_item()
            .table_name(&table)
            .item("pk", s("k"))
            .item("ns", AttributeValue::Ns(vec!["1".into(), "1.0".into()]))
            .send()
            .await,
    );
    expect_validation(
        client
            .put_item()
            .table_name(&table)
            .item("pk", s("k"))
            .item("ns", AttributeValue::Ns(vec!["1".into(), "x".into()]))
            .send()
            .await,
    );
}

#[tokio::test]
async fn exponent_forms_come_back_expanded() {
    let server = TestServer::start();
    let client = server.client();
    let table = hash_table(&client, "expand").await;
    assert_eq!(put_get(&client, &table, "1e100").await, format!("1{}", "0".repeat(100)));
    assert_eq!(put_get(&client, &table, "-1.5E+3").await, "-1500");
    assert_eq!(put_get(&client, &table, "1E-130").await, format!("0.{}1", "0".repeat(129)));
    assert_eq!(put_get(&client, &table, "12E-3").await, "0.012");
}

#[tokio::test]
async fn number_sets_compare_by_value() {
    let server = TestServer::start();
    let client = server.client();
    let table = hash_table(&client, "nsval").await;
    client
        .put_item()
        .table_name(&table)
        .item("pk", s("k"))
        .item("ns", AttributeValue::Ns(vec!["1".into(), "2.50".into(), "3".into()]))
        .send()
        .await
        .unwrap();
    // Adding values equal to members in another spelling adds nothing; deleting by value works.
    client
        .update_item()
        .table_name(&table)
        .key("pk", s("k"))
        .update_expression("ADD ns :more")
        .expression_attribute_values(
            ":more",
            AttributeValue::Ns(vec!["1.0".into(), "2.5".into(), "4".into()]),
        )
        .send()
        .await
        .unwrap();
    client
        .update_item()
        .table_name(&table)
        .key("pk", s("k"))
        .update_expression("DELETE ns :gone")
        .expression_attribute_values(":gone", AttributeValue::Ns(vec!["3.00".into()]))
        .send()
        .await
        .unwrap();
    let got = client.get_item().table_name(&table).key("pk", s("k")).send().await.unwrap();
    let mut ns = match got.item().and_then(|i| i.get("ns")) {
        Some(AttributeValue::Ns(v)) => v.clone(),
        other => panic!("{other:?}"),
    };
    ns.sort();
    assert_eq!(ns, vec!["1", "2.5", "4"]);
}
