//! Proves UpdateItem applies SET/REMOVE/ADD/DELETE update expressions, their functions and
//! ReturnValues exactly as DynamoDB documents, and rejects invalid updates.

use aws_sdk_dynamodb::Client;
use aws_sdk_dynamodb::types::{AttributeValue, ReturnValue};
use eddy_tests::{Item, TestServer, expect_validation, hash_table, item, n, s};

async fn get(client: &Client, table: &str, pk: &str) -> Option<Item> {
    client.get_item().table_name(table).key("pk", s(pk)).send().await.unwrap().item().cloned()
}

fn ss(values: &[&str]) -> AttributeValue {
    AttributeValue::Ss(values.iter().map(|v| v.to_string()).collect())
}

fn sorted_set(v: Option<&AttributeValue>) -> Vec<String> {
    let mut out = match v {
        Some(AttributeValue::Ss(x)) | Some(AttributeValue::Ns(x)) => x.clone(),
        other => panic!("not a string or number set: {other:?}"),
    };
    out.sort();
    out
}

/// An UpdateItem of the seeded item `k` of `table` with `expression`.
fn update_k(
    client: &Client,
    table: &str,
    expression: &str,
) -> aws_sdk_dynamodb::operation::update_item::builders::UpdateItemFluentBuilder {
    client.update_item().table_name(table).key("pk", s("k")).update_expression(expression)
}

async fn seed(client: &Client, table: &str) {
    client
        .put_item()
        .table_name(table)
        .item("pk", s("k"))
        .item("count", n(10))
        .item("name", s("old"))
        .item("lst", AttributeValue::L(vec![n(1), n(2), n(3)]))
        .item("tags", ss(&["a", "b", "c"]))
        .item("mp", AttributeValue::M(item([("inr", n(1))])))
        .send()
        .await
        .unwrap();
}

#[tokio::test]
async fn set_assigns_values_and_arithmetic() {
    let server = TestServer::start();
    let client = server.client();
    let table = hash_table(&client, "set").await;
    seed(&client, &table).await;
    update_k(
        &client,
        &table,
        "SET #c = #c + :five, newattr = :v, diff = #c - :one, mp.inr = mp.inr + :one, mp.added = :v",
    )
    .expression_attribute_names("#c", "count")
    .expression_attribute_values(":five", n(5))
    .expression_attribute_values(":one", n(1))
    .expression_attribute_values(":v", s("hello"))
    .send()
    .await
    .unwrap();
    let got = get(&client, &table, "k").await.unwrap();
    // All operands are read from the item before the update.
    assert_eq!(got.get("count"), Some(&n(15)));
    assert_eq!(got.get("diff"), Some(&n(9)));
    assert_eq!(got.get("newattr"), Some(&s("hello")));
    assert_eq!(got.get("mp"), Some(&AttributeValue::M(item([("inr", n(2)), ("added", s("hello"))]))));
}

#[tokio::test]
async fn if_not_exists_only_sets_missing_attributes() {
    let server = TestServer::start();
    let client = server.client();
    let table = hash_table(&client, "ine").await;
    seed(&client, &table).await;
    update_k(&client, &table, "SET #n = if_not_exists(#n, :d), fresh = if_not_exists(fresh, :d), #c = if_not_exists(#c, :zero) + :one")
        .expression_attribute_names("#n", "name")
        .expression_attribute_names("#c", "count")
        .expression_attribute_values(":d", s("default"))
        .expression_attribute_values(":zero", n(0))
        .expression_attribute_values(":one", n(1))
        .send()
        .await
        .unwrap();
    let got = get(&client, &table, "k").await.unwrap();
    assert_eq!(got.get("name"), Some(&s("old")));
    assert_eq!(got.get("fresh"), Some(&s("default")));
    assert_eq!(got.get("count"), Some(&n(11)));
}

#[tokio::test]
async fn list_append_and_remove_by_index() {
    let server = TestServer::start();
    let client = server.client();
    let table = hash_table(&client, "list").await;
    seed(&client, &table).await;
    update_k(&client, &table, "SET lst = list_append(lst, :tail)")
        .expression_attribute_values(":tail", AttributeValue::L(vec![n(4), n(5)]))
        .send()
        .await
        .unwrap();
    update_k(&client, &table, "SET lst = list_append(:head, lst)")
        .expression_attribute_values(":head", AttributeValue::L(vec![n(0)]))
        .send()
        .await
        .unwrap();
    assert_eq!(
        get(&client, &table, "k").await.unwrap().get("lst"),
        Some(&AttributeValue::L(vec![n(0), n(1), n(2), n(3), n(4), n(5)]))
    );

    // Removing elements shifts the rest down; indexes refer to the list before the update.
    update_k(&client, &table, "REMOVE lst[1], lst[3]").send().await.unwrap();
    assert_eq!(
        get(&client, &table, "k").await.unwrap().get("lst"),
        Some(&AttributeValue::L(vec![n(0), n(2), n(4), n(5)]))
    );

    // SET past the end appends.
    update_k(&client, &table, "SET lst[10] = :v, lst[0] = :w")
        .expression_attribute_values(":v", n(99))
        .expression_attribute_values(":w", n(-1))
        .send()
        .await
        .unwrap();
    assert_eq!(
        get(&client, &table, "k").await.unwrap().get("lst"),
        Some(&AttributeValue::L(vec![n(-1), n(2), n(4), n(5), n(99)]))
    );
}

#[tokio::test]
async fn remove_deletes_attributes_and_nested_paths() {
    let server = TestServer::start();
    let client = server.client();
    let table = hash_table(&client, "remove").await;
    seed(&client, &table).await;
    update_k(&client, &table, "REMOVE #n, mp.inr, not_there")
        .expression_attribute_names("#n", "name")
        .send()
        .await
        .unwrap();
    let got = get(&client, &table, "k").await.unwrap();
    assert!(!got.contains_key("name"));
    assert_eq!(got.get("mp"), Some(&AttributeValue::M(Default::default())));
}

#[tokio::test]
async fn add_increments_numbers_and_unions_sets() {
    let server = TestServer::start();
    let client = server.client();
    let table = hash_table(&client, "add").await;
    seed(&client, &table).await;
    update_k(&client, &table, "ADD #c :neg, tags :more, fresh_n :three, fresh_s :more")
        .expression_attribute_names("#c", "count")
        .expression_attribute_values(":neg", n(-4))
        .expression_attribute_values(":more", ss(&["c", "d"]))
        .expression_attribute_values(":three", n(3))
        .send()
        .await
        .unwrap();
    let got = get(&client, &table, "k").await.unwrap();
    assert_eq!(got.get("count"), Some(&n(6)));
    assert_eq!(got.get("fresh_n"), Some(&n(3)));
    assert_eq!(sorted_set(got.get("tags")), vec!["a", "b", "c", "d"]);
    assert_eq!(sorted_set(got.get("fresh_s")), vec!["c", "d"]);
}

#[tokio::test]
async fn add_to_wrong_type_is_validation_error() {
    let server = TestServer::start();
    let client = server.client();
    let table = hash_table(&client, "addbad").await;
    seed(&client, &table).await;
    expect_validation(
        update_k(&client, &table, "ADD #n :one")
            .expression_attribute_names("#n", "name")
            .expression_attribute_values(":one", n(1))
            .send()
            .await,
    );
    // ADD is only for numbers and sets.
    expect_validation(
        update_k(&client, &table, "ADD fresh :s").expression_attribute_values(":s", s("x")).send().await,
    );
    assert_eq!(get(&client, &table, "k").await.unwrap().get("name"), Some(&s("old")));
}

#[tokio::test]
async fn delete_removes_set_elements_and_empty_set_attribute() {
    let server = TestServer::start();
    let client = server.client();
    let table = hash_table(&client, "delete").await;
    seed(&client, &table).await;
    update_k(&client, &table, "DELETE tags :gone")
        .expression_attribute_values(":gone", ss(&["a", "z"]))
        .send()
        .await
        .unwrap();
    assert_eq!(sorted_set(get(&client, &table, "k").await.unwrap().get("tags")), vec!["b", "c"]);

    update_k(&client, &table, "DELETE tags :all")
        .expression_attribute_values(":all", ss(&["b", "c"]))
        .send()
        .await
        .unwrap();
    assert!(!get(&client, &table, "k").await.unwrap().contains_key("tags"), "empty set must disappear");
}

#[tokio::test]
async fn arithmetic_on_non_number_is_validation_error() {
    let server = TestServer::start();
    let client = server.client();
    let table = hash_table(&client, "arith").await;
    seed(&client, &table).await;
    expect_validation(
        update_k(&client, &table, "SET x = #n + :one")
            .expression_attribute_names("#n", "name")
            .expression_attribute_values(":one", n(1))
            .send()
            .await,
    );
    expect_validation(
        update_k(&client, &table, "SET x = gone + :one")
            .expression_attribute_values(":one", n(1))
            .send()
            .await,
    );
}

#[tokio::test]
async fn return_values_variants() {
    let server = TestServer::start();
    let client = server.client();
    let table = hash_table(&client, "rv").await;
    seed(&client, &table).await;
    let update = |rv: ReturnValue, value: i64| {
        update_k(&client, &table, "SET #c = :v, added = :v")
            .expression_attribute_names("#c", "count")
            .expression_attribute_values(":v", n(value))
            .return_values(rv)
            .send()
    };

    let out = update(ReturnValue::None, 20).await.unwrap();
    assert!(out.attributes().is_none_or(|a| a.is_empty()));

    let out = update(ReturnValue::UpdatedOld, 21).await.unwrap();
    // UPDATED_OLD: old values of the updated attributes only.
    assert_eq!(out.attributes().unwrap(), &item([("count", n(20)), ("added", n(20))]));

    let out = update(ReturnValue::UpdatedNew, 22).await.unwrap();
    assert_eq!(out.attributes().unwrap(), &item([("count", n(22)), ("added", n(22))]));

    let out = update(ReturnValue::AllOld, 23).await.unwrap();
    let old = out.attributes().unwrap();
    assert_eq!(old.get("count"), Some(&n(22)));
    assert_eq!(old.get("name"), Some(&s("old")));
    assert_eq!(old.get("pk"), Some(&s("k")));

    let out = update(ReturnValue::AllNew, 24).await.unwrap();
    let new = out.attributes().unwrap();
    assert_eq!(new.get("count"), Some(&n(24)));
    assert_eq!(new.get("name"), Some(&s("old")));
    assert_eq!(new.get("pk"), Some(&s("k")));
    assert_eq!(new, &get(&client, &table, "k").await.unwrap());
}

#[tokio::test]
async fn updated_old_on_new_attribute_omits_it() {
    let server = TestServer::start();
    let client = server.client();
    let table = hash_table(&client, "rvnew").await;
    seed(&client, &table).await;
    let out = update_k(&client, &table, "SET brand_new = :v, #n = :v")
        .expression_attribute_names("#n", "name")
        .expression_attribute_values(":v", s("x"))
        .return_values(ReturnValue::UpdatedOld)
        .send()
        .await
        .unwrap();
    assert_eq!(out.attributes().unwrap(), &item([("name", s("old"))]));
}

#[tokio::test]
async fn update_of_missing_item_creates_it() {
    let server = TestServer::start();
    let client = server.client();
    let table = hash_table(&client, "upsert").await;
    let out = client
        .update_item()
        .table_name(&table)
        .key("pk", s("new"))
        .update_expression("SET a = :a ADD hits :one")
        .expression_attribute_values(":a", s("x"))
        .expression_attribute_values(":one", n(1))
        .return_values(ReturnValue::AllOld)
        .send()
        .await
        .unwrap();
    assert!(out.attributes().is_none_or(|a| a.is_empty()));
    assert_eq!(
        get(&client, &table, "new").await.unwrap(),
        item([("pk", s("new")), ("a", s("x")), ("hits", n(1))])
    );
}

#[tokio::test]
async fn update_with_failed_condition_changes_nothing() {
    let server = TestServer::start();
    let client = server.client();
    let table = hash_table(&client, "updcond").await;
    seed(&client, &table).await;
    let before = get(&client, &table, "k").await.unwrap();
    let err = update_k(&client, &table, "SET #c = :v")
        .condition_expression("#c > :v")
        .expression_attribute_names("#c", "count")
        .expression_attribute_values(":v", n(100))
        .send()
        .await
        .unwrap_err()
        .into_service_error();
    assert!(err.is_conditional_check_failed_exception(), "{err:?}");
    assert_eq!(get(&client, &table, "k").await.unwrap(), before);

    let err = client
        .update_item()
        .table_name(&table)
        .key("pk", s("absent"))
        .update_expression("SET a = :v")
        .condition_expression("attribute_exists(pk)")
        .expression_attribute_values(":v", n(1))
        .send()
        .await
        .unwrap_err()
        .into_service_error();
    assert!(err.is_conditional_check_failed_exception(), "{err:?}");
    assert_eq!(get(&client, &table, "absent").await, None);
}

#[tokio::test]
async fn updating_key_attribute_is_validation_error() {
    let server = TestServer::start();
    let client = server.client();
    let table = hash_table(&client, "updkey").await;
    seed(&client, &table).await;
    expect_validation(
        update_k(&client, &table, "SET pk = :v")
            .expression_attribute_values(":v", s("other-key"))
            .send()
            .await,
    );
    expect_validation(update_k(&client, &table, "REMOVE pk").send().await);
    assert!(get(&client, &table, "k").await.is_some());
}

#[tokio::test]
async fn unused_expression_attribute_values_and_names_are_validation_errors() {
    let server = TestServer::start();
    let client = server.client();
    let table = hash_table(&client, "unused").await;
    seed(&client, &table).await;
    expect_validation(
        update_k(&client, &table, "SET a = :a")
            .expression_attribute_values(":a", n(1))
            .expression_attribute_values(":unused", n(2))
            .send()
            .await,
    );
    expect_validation(
        update_k(&client, &table, "SET a = :a")
            .expression_attribute_values(":a", n(1))
            .expression_attribute_names("#unused", "x")
            .send()
            .await,
    );
    // A placeholder used but not defined.
    expect_validation(update_k(&client, &table, "SET a = :nope").send().await);
    expect_validation(
        update_k(&client, &table, "SET #nope = :a").expression_attribute_values(":a", n(1)).send().await,
    );
    assert!(!get(&client, &table, "k").await.unwrap().contains_key("a"));
}

#[tokio::test]
async fn reserved_word_without_placeholder_is_validation_error() {
    let server = TestServer::start();
    let client = server.client();
    let table = hash_table(&client, "reserved").await;
    seed(&client, &table).await;
    expect_validation(
        update_k(&client, &table, "SET status = :v").expression_attribute_values(":v", s("x")).send().await,
    );
    expect_validation(
        client.get_item().table_name(&table).key("pk", s("k")).projection_expression("name").send().await,
    );
}

#[tokio::test]
async fn same_path_twice_or_overlapping_paths_is_validation_error() {
    let server = TestServer::start();
    let client = server.client();
    let table = hash_table(&client, "overlap").await;
    seed(&client, &table).await;
    expect_validation(
        update_k(&client, &table, "SET a = :v REMOVE a").expression_attribute_values(":v", n(1)).send().await,
    );
    expect_validation(
        update_k(&client, &table, "SET mp = :v, mp.inr = :v")
            .expression_attribute_values(":v", n(1))
            .send()
            .await,
    );
    // The same clause twice.
    expect_validation(
        update_k(&client, &table, "SET a = :v SET b = :v")
            .expression_attribute_values(":v", n(1))
            .send()
            .await,
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn concurrent_add_increments_are_not_lost() {
    let server = TestServer::start();
    let client = server.client();
    let table = hash_table(&client, "concadd").await;
    let mut tasks = Vec::new();
    for _ in 0..8 {
        let client = client.clone();
        let table = table.clone();
        tasks.push(tokio::spawn(async move {
            for _ in 0..25 {
                client
                    .update_item()
                    .table_name(&table)
                    .key("pk", s("counter"))
                    .update_expression("ADD c :one, seen :tag")
                    .expression_attribute_values(":one", n(1))
                    .expression_attribute_values(":tag", ss(&["x"]))
                    .send()
                    .await
                    .unwrap();
            }
        }));
    }
    for t in tasks {
        t.await.unwrap();
    }
    let got = get(&client, &table, "counter").await.unwrap();
    assert_eq!(got.get("c"), Some(&n(200)));
    assert_eq!(sorted_set(got.get("seen")), vec!["x"]);
}

#[tokio::test]
async fn updated_new_on_nested_path_returns_only_that_path() {
    let server = TestServer::start();
    let client = server.client();
    let table = hash_table(&client, "rvnested").await;
    seed(&client, &table).await;
    let out = update_k(&client, &table, "SET mp.inr = :v, lst[1] = :v")
        .expression_attribute_values(":v", n(42))
        .return_values(ReturnValue::UpdatedNew)
        .send()
        .await
        .unwrap();
    assert_eq!(
        out.attributes().unwrap(),
        &item([("mp", AttributeValue::M(item([("inr", n(42))]))), ("lst", AttributeValue::L(vec![n(42)]))])
    );
}

#[tokio::test]
async fn set_on_missing_intermediate_path_is_validation_error() {
    let server = TestServer::start();
    let client = server.client();
    let table = hash_table(&client, "nopath").await;
    seed(&client, &table).await;
    // The parent map does not exist, so there is nowhere to put the child.
    expect_validation(
        update_k(&client, &table, "SET nowhere.child = :v")
            .expression_attribute_values(":v", n(1))
            .send()
            .await,
    );
    // Indexing into something that is not a list.
    expect_validation(
        update_k(&client, &table, "SET mp[0] = :v").expression_attribute_values(":v", n(1)).send().await,
    );
}

#[tokio::test]
async fn update_condition_failure_returns_old_item_when_asked() {
    let server = TestServer::start();
    let client = server.client();
    let table = hash_table(&client, "updret").await;
    seed(&client, &table).await;
    let before = get(&client, &table, "k").await.unwrap();
    let err = update_k(&client, &table, "SET x = :v")
        .condition_expression("attribute_not_exists(pk)")
        .expression_attribute_values(":v", n(1))
        .return_values_on_condition_check_failure(
            aws_sdk_dynamodb::types::ReturnValuesOnConditionCheckFailure::AllOld,
        )
        .send()
        .await
        .unwrap_err()
        .into_service_error();
    match err {
        aws_sdk_dynamodb::operation::update_item::UpdateItemError::ConditionalCheckFailedException(e) => {
            assert_eq!(e.item(), Some(&before));
        }
        other => panic!("expected ConditionalCheckFailedException, got {other:?}"),
    }
}

#[tokio::test]
async fn setting_empty_set_is_validation_error() {
    let server = TestServer::start();
    let client = server.client();
    let table = hash_table(&client, "emptyset").await;
    seed(&client, &table).await;
    expect_validation(
        update_k(&client, &table, "SET x = :e")
            .expression_attribute_values(":e", AttributeValue::Ss(vec![]))
            .send()
            .await,
    );
}
