//! Proves single-item writes and reads (PutItem, GetItem, DeleteItem) keep every attribute type
//! intact and honour conditions, return values and projections as DynamoDB does.

use aws_sdk_dynamodb::types::{AttributeValue, ReturnValue, ReturnValuesOnConditionCheckFailure};
use eddy_tests::{Item, TestServer, b, expect_validation, hash_table, item, map, n, s};

fn sorted(mut v: Vec<String>) -> Vec<String> {
    v.sort();
    v
}

/// Compares two items treating sets as unordered.
fn assert_same_item(got: &Item, want: &Item) {
    assert_eq!(normalize_item(got), normalize_item(want), "\n got: {got:?}\nwant: {want:?}");
}

fn normalize_item(item: &Item) -> Vec<(String, String)> {
    let mut out: Vec<(String, String)> = item.iter().map(|(k, v)| (k.clone(), normalize(v))).collect();
    out.sort();
    out
}

fn normalize(v: &AttributeValue) -> String {
    match v {
        AttributeValue::Ss(x) => format!("SS{:?}", sorted(x.clone())),
        AttributeValue::Ns(x) => format!("NS{:?}", sorted(x.clone())),
        AttributeValue::Bs(x) => {
            let mut x: Vec<Vec<u8>> = x.iter().map(|b| b.as_ref().to_vec()).collect();
            x.sort();
            format!("BS{x:?}")
        }
        AttributeValue::M(m) => {
            let mut e: Vec<(String, String)> = m.iter().map(|(k, v)| (k.clone(), normalize(v))).collect();
            e.sort();
            format!("M{e:?}")
        }
        AttributeValue::L(l) => format!("L{:?}", l.iter().map(normalize).collect::<Vec<_>>()),
        other => format!("{other:?}"),
    }
}

fn every_type_item() -> Item {
    item([
        ("pk", s("all-types")),
        ("str", s("héllo wörld ✓")),
        ("empty_str", s("")),
        ("num", n("-12.5")),
        ("bin", b(vec![0u8, 1, 2, 255])),
        ("empty_bin", b(Vec::<u8>::new())),
        ("yes", AttributeValue::Bool(true)),
        ("no", AttributeValue::Bool(false)),
        ("nothing", AttributeValue::Null(true)),
        ("ss", AttributeValue::Ss(vec!["b".into(), "a".into(), "c".into()])),
        ("ns", AttributeValue::Ns(vec!["3".into(), "-1".into(), "2.5".into()])),
        (
            "bs",
            AttributeValue::Bs(vec![
                aws_sdk_dynamodb::primitives::Blob::new(vec![1u8]),
                aws_sdk_dynamodb::primitives::Blob::new(vec![0u8, 2]),
            ]),
        ),
        ("empty_list", AttributeValue::L(vec![])),
        ("empty_map", AttributeValue::M(Default::default())),
        (
            "nested",
            AttributeValue::M(item([
                ("lst", AttributeValue::L(vec![n("1"), s("two"), AttributeValue::Null(true)])),
                (
                    "deeper",
                    AttributeValue::M(item([
                        ("flag", AttributeValue::Bool(true)),
                        ("set", AttributeValue::Ss(vec!["x".into()])),
                        ("l", AttributeValue::L(vec![AttributeValue::M(item([("k", b(vec![9u8]))]))])),
                    ])),
                ),
            ])),
        ),
    ])
}

#[tokio::test]
async fn put_get_delete_round_trips_every_attribute_type() {
    let server = TestServer::start();
    let client = server.client();
    let table = hash_table(&client, "types").await;
    let want = every_type_item();
    client.put_item().table_name(&table).set_item(Some(want.clone())).send().await.unwrap();

    let got = client.get_item().table_name(&table).key("pk", s("all-types")).send().await.unwrap();
    assert_same_item(got.item().expect("item"), &want);

    client.delete_item().table_name(&table).key("pk", s("all-types")).send().await.unwrap();
    let got = client.get_item().table_name(&table).key("pk", s("all-types")).send().await.unwrap();
    assert!(got.item().is_none(), "deleted item still there: {:?}", got.item());
}

#[tokio::test]
async fn get_missing_item_returns_no_item() {
    let server = TestServer::start();
    let client = server.client();
    let table = hash_table(&client, "missing").await;
    let got = client.get_item().table_name(&table).key("pk", s("nope")).send().await.unwrap();
    assert!(got.item().is_none());
}

#[tokio::test]
async fn put_replaces_whole_item() {
    let server = TestServer::start();
    let client = server.client();
    let table = hash_table(&client, "replace").await;
    client
        .put_item()
        .table_name(&table)
        .item("pk", s("k"))
        .item("a", n(1))
        .item("b", n(2))
        .send()
        .await
        .unwrap();
    client.put_item().table_name(&table).item("pk", s("k")).item("c", n(3)).send().await.unwrap();
    let got = client.get_item().table_name(&table).key("pk", s("k")).send().await.unwrap();
    assert_same_item(got.item().unwrap(), &item([("pk", s("k")), ("c", n(3))]));
}

#[tokio::test]
async fn empty_set_is_validation_error() {
    let server = TestServer::start();
    let client = server.client();
    let table = hash_table(&client, "emptyset").await;
    expect_validation(
        client
            .put_item()
            .table_name(&table)
            .item("pk", s("k"))
            .item("ss", AttributeValue::Ss(vec![]))
            .send()
            .await,
    );
    expect_validation(
        client
            .put_item()
            .table_name(&table)
            .item("pk", s("k"))
            .item("ss", AttributeValue::Ss(vec!["a".into(), "a".into()]))
            .send()
            .await,
    );
}

#[tokio::test]
async fn return_values_all_old_on_put_and_delete() {
    let server = TestServer::start();
    let client = server.client();
    let table = hash_table(&client, "allold").await;

    let first = client
        .put_item()
        .table_name(&table)
        .item("pk", s("k"))
        .item("v", n(1))
        .return_values(ReturnValue::AllOld)
        .send()
        .await
        .unwrap();
    assert!(first.attributes().is_none_or(|a| a.is_empty()), "no old item: {:?}", first.attributes());

    let second = client
        .put_item()
        .table_name(&table)
        .item("pk", s("k"))
        .item("v", n(2))
        .return_values(ReturnValue::AllOld)
        .send()
        .await
        .unwrap();
    assert_same_item(second.attributes().unwrap(), &item([("pk", s("k")), ("v", n(1))]));

    let deleted = client
        .delete_item()
        .table_name(&table)
        .key("pk", s("k"))
        .return_values(ReturnValue::AllOld)
        .send()
        .await
        .unwrap();
    assert_same_item(deleted.attributes().unwrap(), &item([("pk", s("k")), ("v", n(2))]));

    let again = client
        .delete_item()
        .table_name(&table)
        .key("pk", s("k"))
        .return_values(ReturnValue::AllOld)
        .send()
        .await
        .unwrap();
    assert!(again.attributes().is_none_or(|a| a.is_empty()));
}

#[tokio::test]
async fn put_return_values_other_than_none_or_all_old_is_validation_error() {
    let server = TestServer::start();
    let client = server.client();
    let table = hash_table(&client, "rvbad").await;
    expect_validation(
        client
            .put_item()
            .table_name(&table)
            .item("pk", s("k"))
            .return_values(ReturnValue::AllNew)
            .send()
            .await,
    );
    expect_validation(
        client
            .delete_item()
            .table_name(&table)
            .key("pk", s("k"))
            .return_values(ReturnValue::UpdatedNew)
            .send()
            .await,
    );
}

#[tokio::test]
async fn condition_success_writes_item() {
    let server = TestServer::start();
    let client = server.client();
    let table = hash_table(&client, "condok").await;
    client
        .put_item()
        .table_name(&table)
        .item("pk", s("k"))
        .item("v", n(1))
        .condition_expression("attribute_not_exists(pk)")
        .send()
        .await
        .unwrap();
    client
        .put_item()
        .table_name(&table)
        .item("pk", s("k"))
        .item("v", n(2))
        .condition_expression("v = :one AND attribute_exists(#v)")
        .expression_attribute_names("#v", "v")
        .expression_attribute_values(":one", n(1))
        .send()
        .await
        .unwrap();
    let got = client.get_item().table_name(&table).key("pk", s("k")).send().await.unwrap();
    assert_eq!(got.item().unwrap().get("v"), Some(&n(2)));

    client
        .delete_item()
        .table_name(&table)
        .key("pk", s("k"))
        .condition_expression("v BETWEEN :lo AND :hi")
        .expression_attribute_values(":lo", n(0))
        .expression_attribute_values(":hi", n(5))
        .send()
        .await
        .unwrap();
    let got = client.get_item().table_name(&table).key("pk", s("k")).send().await.unwrap();
    assert!(got.item().is_none());
}

#[tokio::test]
async fn condition_failure_leaves_item_unchanged() {
    let server = TestServer::start();
    let client = server.client();
    let table = hash_table(&client, "condfail").await;
    let original = item([("pk", s("k")), ("v", n(1)), ("tag", s("orig"))]);
    client.put_item().table_name(&table).set_item(Some(original.clone())).send().await.unwrap();

    let err = client
        .put_item()
        .table_name(&table)
        .item("pk", s("k"))
        .item("v", n(99))
        .condition_expression("attribute_not_exists(pk)")
        .send()
        .await
        .unwrap_err()
        .into_service_error();
    assert!(err.is_conditional_check_failed_exception(), "{err:?}");

    let err = client
        .delete_item()
        .table_name(&table)
        .key("pk", s("k"))
        .condition_expression("v > :v")
        .expression_attribute_values(":v", n(5))
        .send()
        .await
        .unwrap_err()
        .into_service_error();
    assert!(err.is_conditional_check_failed_exception(), "{err:?}");

    let got = client.get_item().table_name(&table).key("pk", s("k")).send().await.unwrap();
    assert_same_item(got.item().unwrap(), &original);
}

#[tokio::test]
async fn condition_on_missing_item_fails_for_attribute_exists() {
    let server = TestServer::start();
    let client = server.client();
    let table = hash_table(&client, "condmissing").await;
    let err = client
        .put_item()
        .table_name(&table)
        .item("pk", s("k"))
        .condition_expression("attribute_exists(pk)")
        .send()
        .await
        .unwrap_err()
        .into_service_error();
    assert!(err.is_conditional_check_failed_exception(), "{err:?}");
    let got = client.get_item().table_name(&table).key("pk", s("k")).send().await.unwrap();
    assert!(got.item().is_none());
}

#[tokio::test]
async fn condition_failure_returns_old_item_when_asked() {
    let server = TestServer::start();
    let client = server.client();
    let table = hash_table(&client, "condret").await;
    let original = item([("pk", s("k")), ("v", n(1))]);
    client.put_item().table_name(&table).set_item(Some(original.clone())).send().await.unwrap();

    let err = client
        .put_item()
        .table_name(&table)
        .item("pk", s("k"))
        .item("v", n(2))
        .condition_expression("v = :two")
        .expression_attribute_values(":two", n(2))
        .return_values_on_condition_check_failure(ReturnValuesOnConditionCheckFailure::AllOld)
        .send()
        .await
        .unwrap_err()
        .into_service_error();
    match err {
        aws_sdk_dynamodb::operation::put_item::PutItemError::ConditionalCheckFailedException(e) => {
            assert_same_item(e.item().expect("old item in the error"), &original);
        }
        other => panic!("expected ConditionalCheckFailedException, got {other:?}"),
    }

    // Without the flag the error carries no item.
    let err = client
        .delete_item()
        .table_name(&table)
        .key("pk", s("k"))
        .condition_expression("attribute_not_exists(v)")
        .send()
        .await
        .unwrap_err()
        .into_service_error();
    match err {
        aws_sdk_dynamodb::operation::delete_item::DeleteItemError::ConditionalCheckFailedException(e) => {
            assert!(e.item().is_none(), "{e:?}");
        }
        other => panic!("expected ConditionalCheckFailedException, got {other:?}"),
    }
}

/// A condition, its placeholder values, and whether it holds for the seeded item.
type ConditionCase = (&'static str, Vec<(&'static str, AttributeValue)>, bool);

#[tokio::test]
async fn condition_functions_evaluate_like_dynamodb() {
    let server = TestServer::start();
    let client = server.client();
    let table = hash_table(&client, "condfn").await;
    client
        .put_item()
        .table_name(&table)
        .item("pk", s("k"))
        .item("name", s("alphabet"))
        .item("tags", AttributeValue::Ss(vec!["red".into(), "blue".into()]))
        .item("lst", AttributeValue::L(vec![n(1), n(2), n(3)]))
        .item("n", n(10))
        .send()
        .await
        .unwrap();
    // Each condition is evaluated against item "k" by an update that only sets a marker.
    let holds = async |expr: &str, values: Vec<(&str, AttributeValue)>| {
        let mut req = client
            .update_item()
            .table_name(&table)
            .key("pk", s("k"))
            .update_expression("SET touched = :touched")
            .condition_expression(expr)
            .expression_attribute_values(":touched", AttributeValue::Bool(true));
        if expr.contains("#name") {
            req = req.expression_attribute_names("#name", "name");
        }
        for (k, v) in values {
            req = req.expression_attribute_values(k, v);
        }
        req.send().await
    };
    let cases: Vec<ConditionCase> = vec![
        ("begins_with(#name, :p)", vec![(":p", s("alpha"))], true),
        ("begins_with(#name, :p)", vec![(":p", s("beta"))], false),
        ("contains(#name, :p)", vec![(":p", s("pha"))], true),
        ("contains(tags, :p)", vec![(":p", s("red"))], true),
        ("contains(tags, :p)", vec![(":p", s("green"))], false),
        ("contains(lst, :p)", vec![(":p", n(2))], true),
        ("size(#name) = :n", vec![(":n", n(8))], true),
        ("size(tags) > :n", vec![(":n", n(2))], false),
        ("size(lst) = :n", vec![(":n", n(3))], true),
        ("attribute_type(n, :t)", vec![(":t", s("N"))], true),
        ("attribute_type(n, :t)", vec![(":t", s("S"))], false),
        ("n IN (:a, :b)", vec![(":a", n(1)), (":b", n(10))], true),
        ("NOT n IN (:a, :b)", vec![(":a", n(1)), (":b", n(10))], false),
        ("n <> :a OR attribute_not_exists(gone)", vec![(":a", n(10))], true),
        ("(n < :a) AND (n >= :b)", vec![(":a", n(11)), (":b", n(10))], true),
        ("lst[1] = :v", vec![(":v", n(2))], true),
        ("n = :s", vec![(":s", s("10"))], false),
        ("gone < :a", vec![(":a", n(5))], false),
    ];
    for (expr, values, expected) in cases {
        let result = holds(expr, values).await;
        match (expected, result) {
            (true, Ok(_)) => {}
            (false, Err(e)) => {
                let e = e.into_service_error();
                assert!(e.is_conditional_check_failed_exception(), "{expr}: {e:?}");
            }
            (true, Err(e)) => panic!("{expr} should hold: {e:?}"),
            (false, Ok(_)) => panic!("{expr} should not hold"),
        }
    }
}

#[tokio::test]
async fn get_item_projection_selects_nested_paths_and_list_elements() {
    let server = TestServer::start();
    let client = server.client();
    let table = hash_table(&client, "proj").await;
    client
        .put_item()
        .table_name(&table)
        .item("pk", s("k"))
        .item("top", s("t"))
        .item(
            "m",
            AttributeValue::M(item([
                ("a", AttributeValue::M(item([("b", n(1)), ("c", n(2))]))),
                ("z", s("zz")),
            ])),
        )
        .item(
            "l",
            AttributeValue::L(vec![n(10), n(20), AttributeValue::M(item([("x", s("x")), ("y", s("y"))]))]),
        )
        .item("name", s("reserved-word attribute"))
        .send()
        .await
        .unwrap();

    let got = client
        .get_item()
        .table_name(&table)
        .key("pk", s("k"))
        .projection_expression("m.a.b, l[1], l[2].y, #n")
        .expression_attribute_names("#n", "name")
        .send()
        .await
        .unwrap();
    let want = item([
        ("m", AttributeValue::M(item([("a", AttributeValue::M(item([("b", n(1))])))]))),
        ("l", AttributeValue::L(vec![n(20), AttributeValue::M(item([("y", s("y"))]))])),
        ("name", s("reserved-word attribute")),
    ]);
    assert_same_item(got.item().unwrap(), &want);

    // Paths that do not exist are simply absent.
    let got = client
        .get_item()
        .table_name(&table)
        .key("pk", s("k"))
        .projection_expression("top, nope, m.nope, l[7]")
        .send()
        .await
        .unwrap();
    assert_same_item(got.item().unwrap(), &item([("top", s("t"))]));
}

#[tokio::test]
async fn projection_with_overlapping_paths_is_validation_error() {
    let server = TestServer::start();
    let client = server.client();
    let table = hash_table(&client, "projbad").await;
    expect_validation(
        client.get_item().table_name(&table).key("pk", s("k")).projection_expression("m, m.a").send().await,
    );
}

#[tokio::test]
async fn consistent_read_sees_latest_write() {
    let server = TestServer::start();
    let client = server.client();
    let table = hash_table(&client, "consistent").await;
    for i in 0..20 {
        client.put_item().table_name(&table).item("pk", s("k")).item("v", n(i)).send().await.unwrap();
        let got = client
            .get_item()
            .table_name(&table)
            .key("pk", s("k"))
            .consistent_read(true)
            .send()
            .await
            .unwrap();
        assert_eq!(got.item().unwrap().get("v"), Some(&n(i)));
    }
}

#[tokio::test]
async fn expression_attribute_names_and_values_substitute() {
    let server = TestServer::start();
    let client = server.client();
    let table = hash_table(&client, "subst").await;
    client
        .put_item()
        .table_name(&table)
        .item("pk", s("k"))
        .item("a.b", s("dotted name"))
        .send()
        .await
        .unwrap();
    let got = client
        .get_item()
        .table_name(&table)
        .key("pk", s("k"))
        .projection_expression("#dotted")
        .set_expression_attribute_names(Some(map([("#dotted", "a.b".to_string())])))
        .send()
        .await
        .unwrap();
    assert_same_item(got.item().unwrap(), &item([("a.b", s("dotted name"))]));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn concurrent_conditional_puts_have_exactly_one_winner() {
    let server = TestServer::start();
    let client = server.client();
    let table = hash_table(&client, "race").await;
    for round in 0..10 {
        let key = format!("k{round}");
        let mut tasks = Vec::new();
        for contender in 0..6 {
            let client = client.clone();
            let table = table.clone();
            let key = key.clone();
            tasks.push(tokio::spawn(async move {
                client
                    .put_item()
                    .table_name(&table)
                    .item("pk", s(&key))
                    .item("winner", n(contender))
                    .condition_expression("attribute_not_exists(pk)")
                    .send()
                    .await
                    .map(|_| contender)
                    .map_err(|e| e.into_service_error())
            }));
        }
        let mut winners = Vec::new();
        for t in tasks {
            match t.await.unwrap() {
                Ok(c) => winners.push(c),
                Err(e) => assert!(e.is_conditional_check_failed_exception(), "{e:?}"),
            }
        }
        assert_eq!(winners.len(), 1, "round {round}: winners {winners:?}");
        let got = client.get_item().table_name(&table).key("pk", s(&key)).send().await.unwrap();
        assert_eq!(got.item().unwrap().get("winner"), Some(&n(winners[0])));
    }
}

#[tokio::test]
async fn expression_attributes_without_expression_or_unused_are_validation_errors() {
    let server = TestServer::start();
    let client = server.client();
    let table = hash_table(&client, "exprattrs").await;
    expect_validation(
        client
            .get_item()
            .table_name(&table)
            .key("pk", s("k"))
            .expression_attribute_names("#a", "a")
            .send()
            .await,
    );
    expect_validation(
        client
            .put_item()
            .table_name(&table)
            .item("pk", s("k"))
            .expression_attribute_values(":a", n(1))
            .send()
            .await,
    );
    expect_validation(
        client
            .put_item()
            .table_name(&table)
            .item("pk", s("k"))
            .condition_expression("attribute_not_exists(pk)")
            .expression_attribute_values(":unused", n(1))
            .send()
            .await,
    );
    // Placeholder names must start with '#' and ':'.
    expect_validation(
        client
            .put_item()
            .table_name(&table)
            .item("pk", s("k"))
            .condition_expression("attribute_not_exists(pk)")
            .expression_attribute_names("a", "pk")
            .send()
            .await,
    );
    let got = client.get_item().table_name(&table).key("pk", s("k")).send().await.unwrap();
    assert!(got.item().is_none());
}
