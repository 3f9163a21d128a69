//! Proves PartiQL through the SDK: ExecuteStatement runs SELECT (as a get, a Query or a Scan,
//! with filters and NextToken paging), INSERT, UPDATE and DELETE with DynamoDB's errors;
//! BatchExecuteStatement reports each statement's own outcome; ExecuteTransaction commits all
//! of its statements or none.

use aws_sdk_dynamodb::Client;
use aws_sdk_dynamodb::operation::execute_transaction::ExecuteTransactionError;
use aws_sdk_dynamodb::types::{
    AttributeValue, BatchStatementErrorCodeEnum, BatchStatementRequest, BillingMode, GlobalSecondaryIndex,
    KeyType, ParameterizedStatement, Projection, ProjectionType, ScalarAttributeType,
};
use eddy_tests::{
    TestServer, attr_def, expect_error, expect_validation, hash_range_table, hash_table, key_elem, n, s,
    unique_table_name,
};

async fn exec(client: &Client, statement: &str) -> Vec<eddy_tests::Item> {
    client
        .execute_statement()
        .statement(statement)
        .send()
        .await
        .unwrap_or_else(|e| panic!("{statement}: {e:?}"))
        .items
        .unwrap_or_default()
}

async fn get(client: &Client, table: &str, pk: &str) -> Option<eddy_tests::Item> {
    client.get_item().table_name(table).key("pk", s(pk)).send().await.unwrap().item
}

fn text(item: &eddy_tests::Item, name: &str) -> String {
    match item.get(name) {
        Some(AttributeValue::S(v)) | Some(AttributeValue::N(v)) => v.clone(),
        other => panic!("{name}: {other:?}"),
    }
}

#[tokio::test]
async fn insert_select_update_delete_round_trip() {
    let server = TestServer::start();
    let client = server.client();
    let table = hash_table(&client, "pq").await;

    let items = exec(
        &client,
        &format!(
            "INSERT INTO \"{table}\" VALUE {{'pk': 'a', 'n': 1, 'tags': <<'x', 'y'>>, 'm': {{'k': [1, true, null]}}, 'c': 'gone'}}"
        ),
    )
    .await;
    assert!(items.is_empty());
    let item = get(&client, &table, "a").await.expect("inserted");
    assert_eq!(item["n"], n(1));
    assert_eq!(item["tags"], AttributeValue::Ss(vec!["x".into(), "y".into()]));
    assert_eq!(
        item["m"],
        AttributeValue::M(
            [(
                "k".to_string(),
                AttributeValue::L(vec![n(1), AttributeValue::Bool(true), AttributeValue::Null(true)])
            )]
            .into()
        )
    );

    let message = expect_error(
        client
            .execute_statement()
            .statement(format!("INSERT INTO \"{table}\" VALUE {{'pk': 'a'}}"))
            .send()
            .await,
        "DuplicateItemException",
    );
    assert_eq!(message, "Duplicate primary key exists in table");

    let rows = exec(&client, &format!("SELECT pk, n FROM \"{table}\" WHERE pk = 'a'")).await;
    assert_eq!(rows.len(), 1);
    assert_eq!(rows[0].len(), 2);
    assert_eq!(rows[0]["n"], n(1));

    let rows = exec(
        &client,
        &format!("UPDATE \"{table}\" SET a = 'new' SET n = n + 1 REMOVE c WHERE pk = 'a' AND n = 1 RETURNING ALL NEW *"),
    )
    .await;
    assert_eq!(rows.len(), 1);
    assert_eq!(rows[0]["n"], n(2));
    let item = get(&client, &table, "a").await.unwrap();
    assert_eq!(item["a"], s("new"));
    assert_eq!(item["n"], n(2));
    assert!(!item.contains_key("c"));

    // The extra WHERE term is a condition; it no longer holds.
    expect_error(
        client
            .execute_statement()
            .statement(format!("UPDATE \"{table}\" SET a = 'x' WHERE pk = 'a' AND n = 1"))
            .send()
            .await,
        "ConditionalCheckFailedException",
    );
    // UPDATE never creates an item.
    expect_error(
        client
            .execute_statement()
            .statement(format!("UPDATE \"{table}\" SET a = 'x' WHERE pk = 'zz'"))
            .send()
            .await,
        "ConditionalCheckFailedException",
    );
    assert!(get(&client, &table, "zz").await.is_none());

    expect_error(
        client
            .execute_statement()
            .statement(format!("DELETE FROM \"{table}\" WHERE pk = 'a' AND n = 5"))
            .send()
            .await,
        "ConditionalCheckFailedException",
    );
    let rows =
        exec(&client, &format!("DELETE FROM \"{table}\" WHERE pk = 'a' AND n = 2 RETURNING ALL OLD *")).await;
    assert_eq!(rows[0]["a"], s("new"));
    assert!(get(&client, &table, "a").await.is_none());
}

#[tokio::test]
async fn parameters_bind_in_order() {
    let server = TestServer::start();
    let client = server.client();
    let table = hash_range_table(&client, "pq", ScalarAttributeType::N).await;

    client
        .execute_statement()
        .statement(format!("INSERT INTO \"{table}\" VALUE {{'pk': ?, 'sk': ?, 'bin': ?}}"))
        .parameters(s("p"))
        .parameters(n(7))
        .parameters(AttributeValue::B(vec![0, 1, 2].into()))
        .send()
        .await
        .unwrap();
    let out = client
        .execute_statement()
        .statement(format!("SELECT * FROM \"{table}\" WHERE pk = ? AND sk = ?"))
        .parameters(s("p"))
        .parameters(n(7))
        .send()
        .await
        .unwrap();
    let items = out.items.unwrap();
    assert_eq!(items.len(), 1);
    assert_eq!(items[0]["bin"], AttributeValue::B(vec![0, 1, 2].into()));

    let message = expect_validation(
        client.execute_statement().statement(format!("SELECT * FROM \"{table}\" WHERE pk = ?")).send().await,
    );
    assert_eq!(message, "Number of parameters in request and statement don't match.");
}

#[tokio::test]
async fn select_filters_and_pages_with_next_token() {
    let server = TestServer::start();
    let client = server.client();
    let table = hash_range_table(&client, "pq", ScalarAttributeType::N).await;
    for pk in ["p", "q"] {
        for i in 0..10 {
            let statement = format!(
                "INSERT INTO \"{table}\" VALUE {{'pk': '{pk}', 'sk': {i}, 'name': 'item-{i}', 'list': [1, 2], 'even': {}}}",
                i % 2 == 0
            );
            exec(&client, &statement).await;
        }
    }
    exec(&client, &format!("UPDATE \"{table}\" SET extra = 'yes' WHERE pk = 'p' AND sk = 3")).await;

    let sks = |items: &[eddy_tests::Item]| items.iter().map(|i| text(i, "sk")).collect::<Vec<_>>();
    let q = |cond: &str| format!("SELECT * FROM \"{table}\" WHERE {cond}");

    assert_eq!(sks(&exec(&client, &q("pk = 'p' AND sk BETWEEN 2 AND 4")).await), ["2", "3", "4"]);
    assert_eq!(sks(&exec(&client, &q("pk = 'p' AND sk >= 8")).await), ["8", "9"]);
    assert_eq!(sks(&exec(&client, &q("pk = 'p' AND even = true AND sk < 5")).await), ["0", "2", "4"]);
    assert_eq!(sks(&exec(&client, &q("pk = 'p' AND sk IN [1, 7]")).await), ["1", "7"]);
    assert_eq!(sks(&exec(&client, &q("pk = 'p' AND NOT (sk > 1)")).await), ["0", "1"]);
    assert_eq!(sks(&exec(&client, &q("pk = 'p' AND (sk = 1 OR sk = 9)")).await), ["1", "9"]);
    assert_eq!(sks(&exec(&client, &q("pk = 'p' AND begins_with(name, 'item-5')")).await), ["5"]);
    assert_eq!(sks(&exec(&client, &q("pk = 'p' AND contains(name, '-6')")).await), ["6"]);
    assert_eq!(sks(&exec(&client, &q("pk = 'p' AND attribute_exists(extra)")).await), ["3"]);
    assert_eq!(exec(&client, &q("pk = 'p' AND attribute_not_exists(extra)")).await.len(), 9);
    assert_eq!(exec(&client, &q("pk = 'p' AND extra IS MISSING")).await.len(), 9);
    assert_eq!(sks(&exec(&client, &q("pk = 'p' AND extra IS NOT MISSING")).await), ["3"]);
    assert_eq!(exec(&client, &q("pk = 'p' AND size(list) = 2")).await.len(), 10);
    // No partition key equality: a Scan over both partitions.
    assert_eq!(exec(&client, &q("sk = 4")).await.len(), 2);
    assert_eq!(exec(&client, &format!("SELECT * FROM \"{table}\"")).await.len(), 20);

    // Paging a Query: Limit counts items evaluated; NextToken resumes.
    let mut seen = Vec::new();
    let mut token: Option<String> = None;
    let mut pages = 0;
    loop {
        let out = client
            .execute_statement()
            .statement(q("pk = 'p'"))
            .limit(4)
            .set_next_token(token.clone())
            .send()
            .await
            .unwrap();
        pages += 1;
        seen.extend(sks(out.items()));
        token = out.next_token;
        if token.is_none() {
            break;
        }
        assert!(pages < 10, "paging does not end");
    }
    assert_eq!(seen, (0..10).map(|i| i.to_string()).collect::<Vec<_>>());
    assert!(pages >= 3);

    // Paging a Scan.
    let mut count = 0;
    let mut token: Option<String> = None;
    loop {
        let out = client
            .execute_statement()
            .statement(format!("SELECT pk FROM \"{table}\""))
            .limit(7)
            .set_next_token(token.clone())
            .send()
            .await
            .unwrap();
        count += out.items().len();
        token = out.next_token;
        if token.is_none() {
            break;
        }
    }
    assert_eq!(count, 20);

    let message = expect_validation(
        client.execute_statement().statement(q("pk = 'p'")).next_token("garbage!").send().await,
    );
    assert_eq!(message, "The provided NextToken is invalid");
}

#[tokio::test]
async fn batch_reports_each_statement() {
    let server = TestServer::start();
    let client = server.client();
    let table = hash_table(&client, "pq").await;
    exec(&client, &format!("INSERT INTO \"{table}\" VALUE {{'pk': 'exists', 'v': 1}}")).await;

    let statement = |text: String| BatchStatementRequest::builder().statement(text).build().unwrap();
    let out = client
        .batch_execute_statement()
        .statements(statement(format!("INSERT INTO \"{table}\" VALUE {{'pk': 'new', 'v': 2}}")))
        .statements(statement(format!("INSERT INTO \"{table}\" VALUE {{'pk': 'exists'}}")))
        .statements(statement(format!("UPDATE \"{table}\" SET v = 10 WHERE pk = 'exists'")))
        .statements(statement(format!("UPDATE \"{table}\" SET v = 10 WHERE pk = 'missing'")))
        .statements(statement(format!("DELETE FROM \"{table}\" WHERE v = 1")))
        .statements(statement("INSERT INTO \"no-such-table\" VALUE {'pk': 'x'}".to_string()))
        .send()
        .await
        .unwrap();
    let responses = out.responses();
    assert_eq!(responses.len(), 6);
    assert!(responses[0].error().is_none());
    assert_eq!(responses[0].table_name(), Some(table.as_str()));
    let code = |i: usize| responses[i].error().and_then(|e| e.code()).cloned();
    assert_eq!(code(1), Some(BatchStatementErrorCodeEnum::DuplicateItem));
    assert_eq!(responses[1].error().unwrap().message(), Some("Duplicate primary key exists in table"));
    assert!(responses[2].error().is_none());
    assert_eq!(code(3), Some(BatchStatementErrorCodeEnum::ConditionalCheckFailed));
    assert_eq!(code(4), Some(BatchStatementErrorCodeEnum::ValidationError));
    assert_eq!(
        responses[4].error().unwrap().message(),
        Some("Where clause does not contain a mandatory equality on all key attributes")
    );
    assert_eq!(code(5), Some(BatchStatementErrorCodeEnum::ResourceNotFound));
    assert_eq!(get(&client, &table, "new").await.unwrap()["v"], n(2));
    assert_eq!(get(&client, &table, "exists").await.unwrap()["v"], n(10));

    // Reads: one item per statement, by full key.
    let out = client
        .batch_execute_statement()
        .statements(statement(format!("SELECT v FROM \"{table}\" WHERE pk = 'new'")))
        .statements(statement(format!("SELECT * FROM \"{table}\" WHERE pk = 'nothing'")))
        .statements(statement(format!("SELECT * FROM \"{table}\" WHERE v = 2")))
        .send()
        .await
        .unwrap();
    let responses = out.responses();
    assert_eq!(responses[0].item().unwrap()["v"], n(2));
    assert!(responses[1].item().is_none() && responses[1].error().is_none());
    assert_eq!(
        responses[2].error().and_then(|e| e.code()),
        Some(&BatchStatementErrorCodeEnum::ValidationError)
    );

    expect_validation(
        client
            .batch_execute_statement()
            .statements(statement(format!("SELECT * FROM \"{table}\" WHERE pk = 'new'")))
            .statements(statement(format!("DELETE FROM \"{table}\" WHERE pk = 'new'")))
            .send()
            .await,
    );
    let mut too_many = client.batch_execute_statement();
    for _ in 0..26 {
        too_many = too_many.statements(statement(format!("SELECT * FROM \"{table}\" WHERE pk = 'new'")));
    }
    let message = expect_validation(too_many.send().await);
    assert!(message.contains("Member must have length less than or equal to 25"), "{message}");
}

#[tokio::test]
async fn transaction_commits_all_or_nothing() {
    let server = TestServer::start();
    let client = server.client();
    let table = hash_table(&client, "pq").await;
    exec(&client, &format!("INSERT INTO \"{table}\" VALUE {{'pk': 'acct-a', 'balance': 100}}")).await;
    exec(&client, &format!("INSERT INTO \"{table}\" VALUE {{'pk': 'acct-b', 'balance': 0}}")).await;

    let statement = |text: String, params: Vec<AttributeValue>| {
        ParameterizedStatement::builder()
            .statement(text)
            .set_parameters(Some(params).filter(|p| !p.is_empty()))
            .build()
            .unwrap()
    };
    let transfer = |amount: i64| {
        vec![
            statement(
                format!("UPDATE \"{table}\" SET balance = balance - ? WHERE pk = 'acct-a' AND balance >= ?"),
                vec![n(amount), n(amount)],
            ),
            statement(
                format!("UPDATE \"{table}\" SET balance = balance + ? WHERE pk = 'acct-b'"),
                vec![n(amount)],
            ),
            statement(
                format!("INSERT INTO \"{table}\" VALUE {{'pk': ?, 'amount': ?}}"),
                vec![s(format!("log-{amount}")), n(amount)],
            ),
        ]
    };

    client.execute_transaction().set_transact_statements(Some(transfer(30))).send().await.unwrap();
    assert_eq!(get(&client, &table, "acct-a").await.unwrap()["balance"], n(70));
    assert_eq!(get(&client, &table, "acct-b").await.unwrap()["balance"], n(30));
    assert!(get(&client, &table, "log-30").await.is_some());

    // The first condition fails: nothing is written, not even the other two statements.
    let err =
        client.execute_transaction().set_transact_statements(Some(transfer(500))).send().await.unwrap_err();
    let service = err.as_service_error().expect("service error");
    assert!(service.is_transaction_canceled_exception(), "{err:?}");
    assert_eq!(get(&client, &table, "acct-a").await.unwrap()["balance"], n(70));
    assert_eq!(get(&client, &table, "acct-b").await.unwrap()["balance"], n(30));
    assert!(get(&client, &table, "log-500").await.is_none());

    // Read transactions return one response per statement.
    let out = client
        .execute_transaction()
        .transact_statements(statement(
            format!("SELECT balance FROM \"{table}\" WHERE pk = 'acct-a'"),
            vec![],
        ))
        .transact_statements(statement(format!("SELECT * FROM \"{table}\" WHERE pk = 'none'"), vec![]))
        .send()
        .await
        .unwrap();
    let responses = out.responses();
    assert_eq!(responses.len(), 2);
    assert_eq!(responses[0].item().unwrap()["balance"], n(70));
    assert!(responses[1].item().is_none());

    // Reads and writes do not mix.
    expect_validation(
        client
            .execute_transaction()
            .transact_statements(statement(format!("SELECT * FROM \"{table}\" WHERE pk = 'acct-a'"), vec![]))
            .transact_statements(statement(format!("DELETE FROM \"{table}\" WHERE pk = 'acct-a'"), vec![]))
            .send()
            .await,
    );
}

#[tokio::test]
async fn malformed_and_unsupported_statements_are_validation_errors() {
    let server = TestServer::start();
    let client = server.client();
    let table = hash_table(&client, "pq").await;
    let run = |text: String| client.execute_statement().statement(text).send();

    let message = expect_validation(run(format!("SELECT * FROM \"{table}\" WHERE")).await);
    assert!(message.starts_with("Statement wasn't well formed, can't be processed: "), "{message}");
    let message = expect_validation(run(format!("SELECT * FROM \"{table}\" ORDER BY pk")).await);
    assert!(message.starts_with("Unsupported operation: "), "{message}");
    let message = expect_validation(run("CREATE TABLE x".to_string()).await);
    assert!(message.starts_with("Unsupported operation: "), "{message}");
    let message = expect_validation(run(format!("DELETE FROM \"{table}\" WHERE x = 1")).await);
    assert_eq!(message, "Where clause does not contain a mandatory equality on all key attributes");
    let message = expect_validation(run(format!("UPDATE \"{table}\" SET pk = 'b' WHERE pk = 'a'")).await);
    assert!(message.contains("Cannot update attribute pk"), "{message}");
    expect_error(run("SELECT * FROM \"missing-table\"".to_string()).await, "ResourceNotFoundException");
    let deep = format!("SELECT * FROM \"{table}\" WHERE {}a = 1{}", "(".repeat(3000), ")".repeat(3000));
    let message = expect_validation(run(deep).await);
    assert!(message.contains("maximum depth"), "{message}");
    let message = expect_validation(run("S".repeat(9000)).await);
    assert!(message.contains("Member must have length less than or equal to 8192"), "{message}");
}

#[tokio::test]
async fn transaction_insert_of_an_existing_item_is_a_duplicate_item() {
    let server = TestServer::start();
    let client = server.client();
    let table = hash_table(&client, "pq").await;
    exec(&client, &format!("INSERT INTO \"{table}\" VALUE {{'pk': 'a', 'n': 1}}")).await;
    exec(&client, &format!("INSERT INTO \"{table}\" VALUE {{'pk': 'b', 'n': 1}}")).await;

    let statement = |text: String| ParameterizedStatement::builder().statement(text).build().unwrap();
    let err = client
        .execute_transaction()
        .transact_statements(statement(format!("INSERT INTO \"{table}\" VALUE {{'pk': 'new'}}")))
        .transact_statements(statement(format!("INSERT INTO \"{table}\" VALUE {{'pk': 'a', 'n': 2}}")))
        .transact_statements(statement(format!("UPDATE \"{table}\" SET n = 5 WHERE pk = 'b' AND n = 9")))
        .send()
        .await
        .unwrap_err();
    let Some(ExecuteTransactionError::TransactionCanceledException(cancelled)) = err.as_service_error()
    else {
        panic!("{err:?}");
    };
    let reasons: Vec<(Option<&str>, Option<&str>)> =
        cancelled.cancellation_reasons().iter().map(|r| (r.code(), r.message())).collect();
    assert_eq!(
        reasons,
        vec![
            (Some("None"), None),
            (Some("DuplicateItem"), Some("Duplicate primary key exists in table")),
            (Some("ConditionalCheckFailed"), Some("The conditional request failed")),
        ]
    );
    let message = cancelled.message().unwrap_or_default();
    assert!(message.ends_with("[None, DuplicateItem, ConditionalCheckFailed]"), "{message}");
    assert!(get(&client, &table, "new").await.is_none());
    assert_eq!(get(&client, &table, "a").await.unwrap()["n"], n(1));
}

/// A table keyed `pk` with `by_g` (`g` S + `r` N, ALL) and `keys_g` (`g`, KEYS_ONLY).
async fn indexed_table(client: &Client) -> String {
    let name = unique_table_name("pqidx");
    let index = |index: &str, range: Option<&str>, projection: ProjectionType| {
        let mut g = GlobalSecondaryIndex::builder()
            .index_name(index)
            .key_schema(key_elem("g", KeyType::Hash))
            .projection(Projection::builder().projection_type(projection).build());
        if let Some(range) = range {
            g = g.key_schema(key_elem(range, KeyType::Range));
        }
        g.build().unwrap()
    };
    client
        .create_table()
        .table_name(&name)
        .billing_mode(BillingMode::PayPerRequest)
        .attribute_definitions(attr_def("pk", ScalarAttributeType::S))
        .attribute_definitions(attr_def("g", ScalarAttributeType::S))
        .attribute_definitions(attr_def("r", ScalarAttributeType::N))
        .key_schema(key_elem("pk", KeyType::Hash))
        .global_secondary_indexes(index("by_g", Some("r"), ProjectionType::All))
        .global_secondary_indexes(index("keys_g", None, ProjectionType::KeysOnly))
        .send()
        .await
        .unwrap_or_else(|e| panic!("create table {name}: {e:?}"));
    name
}

fn pks(items: &[eddy_tests::Item]) -> Vec<String> {
    items.iter().map(|i| text(i, "pk")).collect()
}

#[tokio::test]
async fn select_reads_a_secondary_index() {
    let server = TestServer::start();
    let client = server.client();
    let table = indexed_table(&client).await;
    for value in [
        "{'pk': 'a', 'g': 'x', 'r': 1, 'v': 1}",
        "{'pk': 'b', 'g': 'x', 'r': 2, 'v': 2}",
        "{'pk': 'c', 'g': 'y', 'r': 1, 'v': 3}",
        "{'pk': 'e', 'g': 'x', 'r': 2, 'v': 4}",
        "{'pk': 'd', 'v': 5}",
    ] {
        exec(&client, &format!("INSERT INTO \"{table}\" VALUE {value}")).await;
    }

    // An equality on the index partition key is a Query of the index, in index order.
    let rows = exec(&client, &format!("SELECT * FROM \"{table}\".\"by_g\" WHERE g = 'x'")).await;
    assert_eq!(pks(&rows[..1]), ["a"]);
    let mut rest = pks(&rows[1..]);
    rest.sort();
    assert_eq!(rest, ["b", "e"]);
    assert_eq!(rows[0]["v"], n(1));
    // Equalities on the whole index key still return every item with that key.
    let mut both =
        pks(&exec(&client, &format!("SELECT pk FROM \"{table}\".by_g WHERE g = 'x' AND r = 2")).await);
    both.sort();
    assert_eq!(both, ["b", "e"]);
    let rows = exec(&client, &format!("SELECT pk FROM \"{table}\".\"by_g\" WHERE g = 'x' AND r < 2")).await;
    assert_eq!(pks(&rows), ["a"]);
    // Without one, a Scan of the index: items without the index key are not in it.
    let mut all = pks(&exec(&client, &format!("SELECT pk FROM \"{table}\".\"by_g\"")).await);
    all.sort();
    assert_eq!(all, ["a", "b", "c", "e"]);
    let rows = exec(&client, &format!("SELECT pk FROM \"{table}\".\"by_g\" WHERE v = 3 OR pk = 'd'")).await;
    assert_eq!(pks(&rows), ["c"]);
    // A KEYS_ONLY index holds the keys only.
    let rows = exec(&client, &format!("SELECT * FROM \"{table}\".\"keys_g\" WHERE g = 'y'")).await;
    assert_eq!(rows.len(), 1);
    assert_eq!(rows[0].len(), 2, "{rows:?}");
    assert_eq!((text(&rows[0], "pk"), text(&rows[0], "g")), ("c".to_string(), "y".to_string()));

    // Limit and NextToken page through the index.
    let mut seen = Vec::new();
    let mut token: Option<String> = None;
    loop {
        let out = client
            .execute_statement()
            .statement(format!("SELECT pk FROM \"{table}\".\"by_g\" WHERE g = 'x'"))
            .limit(1)
            .set_next_token(token.take())
            .send()
            .await
            .unwrap();
        seen.extend(pks(out.items()));
        match out.next_token() {
            Some(next) => token = Some(next.to_string()),
            None => break,
        }
        assert!(seen.len() <= 3, "{seen:?}");
    }
    seen.sort();
    assert_eq!(seen, ["a", "b", "e"]);

    let run = |text: String| client.execute_statement().statement(text).send();
    let message = expect_validation(run(format!("SELECT * FROM \"{table}\".\"nope\" WHERE g = 'x'")).await);
    assert_eq!(message, "The table does not have the specified index: nope");
    let message = expect_validation(run(format!("SELECT * FROM \"{table}\".\"by_g\" WHERE g = 1")).await);
    assert!(message.contains("does not match schema type"), "{message}");
    let message = expect_validation(
        client
            .execute_statement()
            .statement(format!("SELECT * FROM \"{table}\".\"by_g\" WHERE g = 'x'"))
            .consistent_read(true)
            .send()
            .await,
    );
    assert_eq!(message, "Strongly consistent read is not supported on Global Secondary Indexes");
    for write in [
        format!("INSERT INTO \"{table}\".\"by_g\" VALUE {{'pk': 'z', 'g': 'x', 'r': 1}}"),
        format!("UPDATE \"{table}\".\"by_g\" SET v = 0 WHERE pk = 'a'"),
        format!("DELETE FROM \"{table}\".\"by_g\" WHERE pk = 'a'"),
    ] {
        let message = expect_validation(run(write.clone()).await);
        assert!(
            message.starts_with("Unsupported operation: ") && message.contains("secondary index"),
            "{write}: {message}"
        );
    }
    assert!(get(&client, &table, "z").await.is_none());
    // A transaction reads items by their table key only.
    expect_validation(
        client
            .execute_transaction()
            .transact_statements(
                ParameterizedStatement::builder()
                    .statement(format!("SELECT * FROM \"{table}\".\"by_g\" WHERE g = 'x' AND r = 1"))
                    .build()
                    .unwrap(),
            )
            .send()
            .await,
    );
}
