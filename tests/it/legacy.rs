//! Proves the legacy parameters (Expected with ConditionalOperator, AttributeUpdates,
//! KeyConditions, QueryFilter, ScanFilter) give the same items, attributes and errors as their
//! expression forms, and that DynamoDB's rules on mixing them with expressions hold.

use aws_sdk_dynamodb::Client;
use aws_sdk_dynamodb::types::{
    AttributeAction, AttributeValue, AttributeValueUpdate, ComparisonOperator, Condition,
    ConditionalOperator, ExpectedAttributeValue, ReturnValue, ScalarAttributeType,
};
use eddy_tests::{Item, TestServer, expect_error, expect_validation, hash_range_table, hash_table, n, s};

fn cond(op: ComparisonOperator, values: Vec<AttributeValue>) -> Condition {
    Condition::builder().comparison_operator(op).set_attribute_value_list(Some(values)).build().unwrap()
}

fn expect_value(v: AttributeValue) -> ExpectedAttributeValue {
    ExpectedAttributeValue::builder().value(v).build()
}

fn expect_op(op: ComparisonOperator, values: Vec<AttributeValue>) -> ExpectedAttributeValue {
    ExpectedAttributeValue::builder().comparison_operator(op).set_attribute_value_list(Some(values)).build()
}

fn update(action: AttributeAction, value: Option<AttributeValue>) -> AttributeValueUpdate {
    AttributeValueUpdate::builder().action(action).set_value(value).build()
}

async fn get(client: &Client, table: &str, pk: &str) -> Option<Item> {
    client.get_item().table_name(table).key("pk", s(pk)).send().await.unwrap().item().cloned()
}

async fn seed(client: &Client, table: &str, pk: &str) {
    client
        .put_item()
        .table_name(table)
        .item("pk", s(pk))
        .item("count", n(10))
        .item("name", s("old"))
        .item("tags", AttributeValue::Ss(vec!["a".into(), "b".into()]))
        .item("lst", AttributeValue::L(vec![n(1)]))
        .send()
        .await
        .unwrap();
}

/// An Expected map, its ConditionalOperator, the equivalent ConditionExpression, and whether
/// the condition holds on the seeded item.
type ExpectedCase<'a> = (Vec<(&'a str, ExpectedAttributeValue)>, Option<ConditionalOperator>, &'a str, bool);

#[tokio::test]
async fn expected_checks_like_condition_expression() {
    let server = TestServer::start();
    let client = server.client();
    let table = hash_table(&client, "exp").await;
    seed(&client, &table, "k").await;

    // Each case: the legacy form and the expression form must both pass or both fail.
    let cases: Vec<ExpectedCase> = vec![
        (vec![("count", expect_value(n(10)))], None, "#c = :a", true),
        (vec![("count", expect_value(n(11)))], None, "#c = :a", false),
        (
            vec![("name", ExpectedAttributeValue::builder().exists(false).build())],
            None,
            "attribute_not_exists(#n)",
            false,
        ),
        (
            vec![("nope", ExpectedAttributeValue::builder().exists(false).build())],
            None,
            "attribute_not_exists(nope)",
            true,
        ),
        (vec![("count", expect_op(ComparisonOperator::Gt, vec![n(5)]))], None, "#c > :a", true),
        (
            vec![("count", expect_op(ComparisonOperator::Between, vec![n(1), n(9)]))],
            None,
            "#c BETWEEN :a AND :b",
            false,
        ),
        (
            vec![("tags", expect_op(ComparisonOperator::Contains, vec![s("a")]))],
            None,
            "contains(tags, :a)",
            true,
        ),
        (
            vec![("count", expect_value(n(1))), ("name", expect_value(s("old")))],
            Some(ConditionalOperator::Or),
            "#c = :a OR #n = :b",
            true,
        ),
        (
            vec![("count", expect_value(n(1))), ("name", expect_value(s("old")))],
            Some(ConditionalOperator::And),
            "#c = :a AND #n = :b",
            false,
        ),
    ];
    for (expected, op, expression, passes) in cases {
        // Each form runs against the same seeded item (a successful put leaves only the key).
        seed(&client, &table, "k").await;
        let mut legacy = client.put_item().table_name(&table).item("pk", s("k"));
        let mut values = Vec::new();
        for (name, e) in expected {
            values.extend(e.attribute_value_list().iter().cloned());
            values.extend(e.value().cloned());
            legacy = legacy.expected(name, e);
        }
        let legacy_result = legacy.set_conditional_operator(op).send().await;
        seed(&client, &table, "k").await;
        let mut modern =
            client.delete_item().table_name(&table).key("pk", s("k")).condition_expression(expression);
        for (placeholder, v) in [":a", ":b"].into_iter().zip(values) {
            if expression.contains(placeholder) {
                modern = modern.expression_attribute_values(placeholder, v);
            }
        }
        for (placeholder, name) in [("#c", "count"), ("#n", "name")] {
            if expression.contains(placeholder) {
                modern = modern.expression_attribute_names(placeholder, name);
            }
        }
        let modern_result = modern.send().await;
        if passes {
            legacy_result.unwrap_or_else(|e| panic!("{expression}: legacy form failed: {e:?}"));
            modern_result.unwrap_or_else(|e| panic!("{expression}: expression form failed: {e:?}"));
        } else {
            expect_error(legacy_result, "ConditionalCheckFailedException");
            expect_error(modern_result, "ConditionalCheckFailedException");
        }
    }
}

#[tokio::test]
async fn attribute_updates_match_update_expression() {
    let server = TestServer::start();
    let client = server.client();
    let table = hash_table(&client, "au").await;
    seed(&client, &table, "legacy").await;
    seed(&client, &table, "modern").await;
    let legacy = client
        .update_item()
        .table_name(&table)
        .key("pk", s("legacy"))
        .attribute_updates("count", update(AttributeAction::Add, Some(n(5))))
        .attribute_updates("name", update(AttributeAction::Put, Some(s("new"))))
        .attribute_updates(
            "tags",
            update(AttributeAction::Delete, Some(AttributeValue::Ss(vec!["a".into()]))),
        )
        .attribute_updates("lst", update(AttributeAction::Delete, None))
        .attribute_updates("fresh", update(AttributeAction::Add, Some(n(1))))
        .expected("name", expect_value(s("old")))
        .return_values(ReturnValue::UpdatedNew)
        .send()
        .await
        .unwrap();
    let modern = client
        .update_item()
        .table_name(&table)
        .key("pk", s("modern"))
        .update_expression("ADD #c :five, fresh :one SET #n = :new DELETE tags :a REMOVE lst")
        .condition_expression("#n = :old")
        .expression_attribute_names("#c", "count")
        .expression_attribute_names("#n", "name")
        .expression_attribute_values(":five", n(5))
        .expression_attribute_values(":one", n(1))
        .expression_attribute_values(":new", s("new"))
        .expression_attribute_values(":old", s("old"))
        .expression_attribute_values(":a", AttributeValue::Ss(vec!["a".into()]))
        .return_values(ReturnValue::UpdatedNew)
        .send()
        .await
        .unwrap();
    assert_eq!(legacy.attributes(), modern.attributes());
    let mut a = get(&client, &table, "legacy").await.unwrap();
    let mut b = get(&client, &table, "modern").await.unwrap();
    a.remove("pk");
    b.remove("pk");
    assert_eq!(a, b);
    assert_eq!(a.get("count"), Some(&n(15)));
    assert!(!a.contains_key("lst"));

    // ADD appends to a list, and creates it when absent (no expression ADD does this).
    client
        .update_item()
        .table_name(&table)
        .key("pk", s("legacy"))
        .attribute_updates("fresh_list", update(AttributeAction::Add, Some(AttributeValue::L(vec![n(7)]))))
        .send()
        .await
        .unwrap();
    client
        .update_item()
        .table_name(&table)
        .key("pk", s("legacy"))
        .attribute_updates("fresh_list", update(AttributeAction::Add, Some(AttributeValue::L(vec![n(8)]))))
        .send()
        .await
        .unwrap();
    let got = get(&client, &table, "legacy").await.unwrap();
    assert_eq!(got.get("fresh_list"), Some(&AttributeValue::L(vec![n(7), n(8)])));

    // A failed Expected leaves the item as it was.
    let err = client
        .update_item()
        .table_name(&table)
        .key("pk", s("legacy"))
        .attribute_updates("name", update(AttributeAction::Put, Some(s("other"))))
        .expected("name", expect_value(s("old")))
        .send()
        .await;
    expect_error(err, "ConditionalCheckFailedException");
    assert_eq!(get(&client, &table, "legacy").await.unwrap().get("name"), Some(&s("new")));

    // Key attributes cannot be updated, as with UpdateExpression.
    let message = expect_validation(
        client
            .update_item()
            .table_name(&table)
            .key("pk", s("legacy"))
            .attribute_updates("pk", update(AttributeAction::Put, Some(s("x"))))
            .send()
            .await,
    );
    assert_eq!(
        message,
        "One or more parameter values were invalid: Cannot update attribute pk. This attribute is part of the key"
    );
    let message = expect_validation(
        client
            .update_item()
            .table_name(&table)
            .key("pk", s("legacy"))
            .attribute_updates("name", update(AttributeAction::Add, Some(s("x"))))
            .send()
            .await,
    );
    assert_eq!(
        message,
        "One or more parameter values were invalid: ADD action is not supported for the type S"
    );
}

/// A range table: partition "p" with sk 0..10 and `v` = sk * 10, `odd` on odd sort keys.
async fn numbers_table(client: &Client) -> String {
    let table = hash_range_table(client, "kc", ScalarAttributeType::N).await;
    for i in 0..10 {
        let mut put =
            client.put_item().table_name(&table).item("pk", s("p")).item("sk", n(i)).item("v", n(i * 10));
        if i % 2 == 1 {
            put = put.item("odd", AttributeValue::Bool(true));
        }
        put.send().await.unwrap();
    }
    table
}

#[tokio::test]
async fn key_conditions_and_query_filter_match_expressions() {
    let server = TestServer::start();
    let client = server.client();
    let table = numbers_table(&client).await;
    let legacy = client
        .query()
        .table_name(&table)
        .key_conditions("pk", cond(ComparisonOperator::Eq, vec![s("p")]))
        .key_conditions("sk", cond(ComparisonOperator::Between, vec![n(2), n(8)]))
        .query_filter("v", cond(ComparisonOperator::Ge, vec![n(40)]))
        .query_filter("odd", cond(ComparisonOperator::NotNull, vec![]))
        .conditional_operator(ConditionalOperator::And)
        .attributes_to_get("sk")
        .attributes_to_get("v")
        .scan_index_forward(false)
        .send()
        .await
        .unwrap();
    let modern = client
        .query()
        .table_name(&table)
        .key_condition_expression("pk = :p AND sk BETWEEN :lo AND :hi")
        .filter_expression("v >= :v AND attribute_exists(odd)")
        .projection_expression("sk, v")
        .expression_attribute_values(":p", s("p"))
        .expression_attribute_values(":lo", n(2))
        .expression_attribute_values(":hi", n(8))
        .expression_attribute_values(":v", n(40))
        .scan_index_forward(false)
        .send()
        .await
        .unwrap();
    assert_eq!(legacy.items(), modern.items());
    assert_eq!((legacy.count(), legacy.scanned_count()), (modern.count(), modern.scanned_count()));
    assert_eq!(
        legacy.items().iter().map(|i| i.get("sk").cloned().unwrap()).collect::<Vec<_>>(),
        vec![n(7), n(5)]
    );

    // KeyConditions may go with FilterExpression: only KeyConditionExpression excludes it.
    let mixed = client
        .query()
        .table_name(&table)
        .key_conditions("pk", cond(ComparisonOperator::Eq, vec![s("p")]))
        .key_conditions("sk", cond(ComparisonOperator::Lt, vec![n(3)]))
        .filter_expression("v > :z")
        .expression_attribute_values(":z", n(0))
        .send()
        .await
        .unwrap();
    assert_eq!(mixed.count(), 2);

    let cases: Vec<(Vec<(&str, Condition)>, &str)> = vec![
        (
            vec![("sk", cond(ComparisonOperator::Eq, vec![n(1)]))],
            "Query condition missed key schema element: pk",
        ),
        (vec![("pk", cond(ComparisonOperator::Gt, vec![s("p")]))], "Query key condition not supported"),
        (
            vec![
                ("pk", cond(ComparisonOperator::Eq, vec![s("p")])),
                ("sk", cond(ComparisonOperator::In, vec![n(1)])),
            ],
            "Attempted conditional constraint is not an indexable operation",
        ),
        (
            vec![("pk", cond(ComparisonOperator::Eq, vec![n(1)]))],
            "One or more parameter values were invalid: Condition parameter type does not match schema type",
        ),
        (
            vec![
                ("pk", cond(ComparisonOperator::Eq, vec![s("p")])),
                ("sk", cond(ComparisonOperator::Between, vec![n(1)])),
            ],
            "One or more parameter values were invalid: Invalid number of argument(s) for the BETWEEN ComparisonOperator",
        ),
    ];
    for (conditions, expected) in cases {
        let mut q = client.query().table_name(&table);
        for (name, c) in conditions {
            q = q.key_conditions(name, c);
        }
        assert_eq!(expect_validation(q.send().await), expected);
    }
    let message = expect_validation(
        client
            .query()
            .table_name(&table)
            .key_conditions("pk", cond(ComparisonOperator::Eq, vec![s("p")]))
            .query_filter("sk", cond(ComparisonOperator::Eq, vec![n(1)]))
            .send()
            .await,
    );
    assert_eq!(message, "QueryFilter can only contain non-primary key attributes: Primary key attribute: sk");
}

#[tokio::test]
async fn scan_filter_matches_filter_expression() {
    let server = TestServer::start();
    let client = server.client();
    let table = numbers_table(&client).await;
    let legacy = client
        .scan()
        .table_name(&table)
        .scan_filter("v", cond(ComparisonOperator::In, vec![n(10), n(20), n(90)]))
        .scan_filter("odd", cond(ComparisonOperator::Null, vec![]))
        .conditional_operator(ConditionalOperator::Or)
        .send()
        .await
        .unwrap();
    let modern = client
        .scan()
        .table_name(&table)
        .filter_expression("v IN (:a, :b, :c) OR attribute_not_exists(odd)")
        .expression_attribute_values(":a", n(10))
        .expression_attribute_values(":b", n(20))
        .expression_attribute_values(":c", n(90))
        .send()
        .await
        .unwrap();
    assert_eq!(legacy.items(), modern.items());
    assert_eq!(legacy.count(), 7, "five even sort keys plus 1 and 9");

    // NOT_CONTAINS is false where the attribute is absent (DynamoDB's conversion).
    let not_contains = client
        .scan()
        .table_name(&table)
        .scan_filter("odd", cond(ComparisonOperator::NotContains, vec![s("x")]))
        .send()
        .await
        .unwrap();
    assert_eq!(not_contains.count(), 5, "the five items with `odd` match, the five without do not");
    let message = expect_validation(
        client
            .scan()
            .table_name(&table)
            .scan_filter("v", cond(ComparisonOperator::Lt, vec![AttributeValue::Bool(true)]))
            .send()
            .await,
    );
    assert_eq!(
        message,
        "One or more parameter values were invalid: ComparisonOperator LT is not valid for BOOL AttributeValue type"
    );
}

#[tokio::test]
async fn mixing_and_conditional_operator_rules() {
    let server = TestServer::start();
    let client = server.client();
    let table = hash_table(&client, "mix").await;
    seed(&client, &table, "k").await;

    let message = expect_validation(
        client
            .put_item()
            .table_name(&table)
            .item("pk", s("k"))
            .expected("count", expect_value(n(10)))
            .condition_expression("attribute_exists(pk)")
            .send()
            .await,
    );
    assert_eq!(
        message,
        "Can not use both expression and non-expression parameters in the same request: Non-expression parameters: {Expected} Expression parameters: {ConditionExpression}"
    );
    let message = expect_validation(
        client
            .update_item()
            .table_name(&table)
            .key("pk", s("k"))
            .attribute_updates("a", update(AttributeAction::Put, Some(s("v"))))
            .expected("count", expect_value(n(10)))
            .conditional_operator(ConditionalOperator::And)
            .update_expression("SET a = :v")
            .condition_expression("attribute_exists(pk)")
            .expression_attribute_values(":v", s("x"))
            .send()
            .await,
    );
    assert_eq!(
        message,
        "Can not use both expression and non-expression parameters in the same request: Non-expression parameters: {AttributeUpdates, Expected, ConditionalOperator} Expression parameters: {UpdateExpression, ConditionExpression}"
    );
    let message = expect_validation(
        client
            .query()
            .table_name(&table)
            .key_conditions("pk", cond(ComparisonOperator::Eq, vec![s("k")]))
            .attributes_to_get("name")
            .key_condition_expression("pk = :p")
            .expression_attribute_values(":p", s("k"))
            .send()
            .await,
    );
    assert_eq!(
        message,
        "Can not use both expression and non-expression parameters in the same request: Non-expression parameters: {AttributesToGet, KeyConditions} Expression parameters: {KeyConditionExpression}"
    );
    let message = expect_validation(
        client
            .scan()
            .table_name(&table)
            .scan_filter("count", cond(ComparisonOperator::Eq, vec![n(1)]))
            .projection_expression("pk")
            .send()
            .await,
    );
    assert_eq!(
        message,
        "Can not use both expression and non-expression parameters in the same request: Non-expression parameters: {ScanFilter} Expression parameters: {ProjectionExpression}"
    );

    let message = expect_validation(
        client
            .delete_item()
            .table_name(&table)
            .key("pk", s("k"))
            .conditional_operator(ConditionalOperator::Or)
            .send()
            .await,
    );
    assert_eq!(message, "ConditionalOperator cannot be used without Filter or Expected");
    let message = expect_validation(
        client
            .scan()
            .table_name(&table)
            .scan_filter("count", cond(ComparisonOperator::Eq, vec![n(1)]))
            .conditional_operator(ConditionalOperator::And)
            .send()
            .await,
    );
    assert_eq!(
        message,
        "ConditionalOperator can only be used when Filter or Expected has two or more elements"
    );
    let message = expect_validation(
        client
            .put_item()
            .table_name(&table)
            .item("pk", s("k"))
            .expected("count", ExpectedAttributeValue::builder().exists(true).build())
            .send()
            .await,
    );
    assert_eq!(
        message,
        "One or more parameter values were invalid: Value must be provided when Exists is true for Attribute: count"
    );
    let message = expect_validation(
        client
            .put_item()
            .table_name(&table)
            .item("pk", s("k"))
            .expected("count", expect_op(ComparisonOperator::Between, vec![n(1)]))
            .send()
            .await,
    );
    assert_eq!(
        message,
        "One or more parameter values were invalid: Invalid number of argument(s) for the BETWEEN ComparisonOperator"
    );
    // Placeholders need an expression to go with.
    let message = expect_validation(
        client
            .put_item()
            .table_name(&table)
            .item("pk", s("k"))
            .expected("count", expect_value(n(10)))
            .expression_attribute_names("#c", "count")
            .send()
            .await,
    );
    assert_eq!(message, "ExpressionAttributeNames can only be specified when using expressions");
    // Nothing above wrote anything.
    assert_eq!(get(&client, &table, "k").await.unwrap().get("count"), Some(&n(10)));
}
