//! Proves malformed or out-of-limit requests get DynamoDB's error types (ValidationException,
//! ResourceNotFoundException, SerializationException, UnknownOperationException) and that the
//! server keeps answering afterwards.

use aws_sdk_dynamodb::types::{AttributeValue, ScalarAttributeType};
use eddy_tests::{TestServer, b, error_type, expect_validation, hash_range_table, hash_table, n, s};

#[tokio::test]
async fn missing_key_attributes_are_validation_errors() {
    let server = TestServer::start();
    let client = server.client();
    let table = hash_range_table(&client, "nokey", ScalarAttributeType::S).await;
    expect_validation(client.put_item().table_name(&table).item("pk", s("a")).item("v", n(1)).send().await);
    expect_validation(client.put_item().table_name(&table).item("sk", s("a")).send().await);
    expect_validation(client.get_item().table_name(&table).key("pk", s("a")).send().await);
    expect_validation(client.delete_item().table_name(&table).key("pk", s("a")).send().await);
    // A key with an extra attribute is not a key.
    expect_validation(
        client
            .get_item()
            .table_name(&table)
            .key("pk", s("a"))
            .key("sk", s("b"))
            .key("x", s("c"))
            .send()
            .await,
    );
    expect_validation(
        client
            .update_item()
            .table_name(&table)
            .key("pk", s("a"))
            .update_expression("SET v = :v")
            .expression_attribute_values(":v", n(1))
            .send()
            .await,
    );
}

#[tokio::test]
async fn key_type_mismatch_is_validation_error() {
    let server = TestServer::start();
    let client = server.client();
    let table = hash_range_table(&client, "keytype", ScalarAttributeType::N).await;
    expect_validation(client.put_item().table_name(&table).item("pk", n(1)).item("sk", n(1)).send().await);
    expect_validation(
        client.put_item().table_name(&table).item("pk", s("a")).item("sk", s("1")).send().await,
    );
    expect_validation(
        client.get_item().table_name(&table).key("pk", b(vec![1u8])).key("sk", n(1)).send().await,
    );
    expect_validation(
        client
            .put_item()
            .table_name(&table)
            .item("pk", AttributeValue::Ss(vec!["a".into()]))
            .item("sk", n(1))
            .send()
            .await,
    );
}

#[tokio::test]
async fn item_over_400_kb_is_rejected_and_just_under_is_accepted() {
    let server = TestServer::start();
    let client = server.client();
    let table = hash_table(&client, "size").await;
    // Size = attribute name lengths + value lengths; 400 KB = 409,600 bytes.
    client
        .put_item()
        .table_name(&table)
        .item("pk", s("ok"))
        .item("d", s("x".repeat(409_000)))
        .send()
        .await
        .unwrap_or_else(|e| panic!("409,000 byte item must be accepted: {e:?}"));
    expect_validation(
        client
            .put_item()
            .table_name(&table)
            .item("pk", s("big"))
            .item("d", s("x".repeat(409_700)))
            .send()
            .await,
    );
    // Size counts UTF-8 bytes, not characters: 140,000 three-byte characters is 420,000 bytes.
    expect_validation(
        client
            .put_item()
            .table_name(&table)
            .item("pk", s("wide"))
            .item("d", s("€".repeat(140_000)))
            .send()
            .await,
    );
    // An update that would grow the item past the limit is rejected too.
    expect_validation(
        client
            .update_item()
            .table_name(&table)
            .key("pk", s("ok"))
            .update_expression("SET more = :m")
            .expression_attribute_values(":m", s("y".repeat(2_000)))
            .send()
            .await,
    );
    let got = client.get_item().table_name(&table).key("pk", s("big")).send().await.unwrap();
    assert!(got.item().is_none());
    let got = client.get_item().table_name(&table).key("pk", s("ok")).send().await.unwrap();
    assert!(!got.item().unwrap().contains_key("more"));
}

#[tokio::test]
async fn partition_key_over_2048_bytes_is_rejected() {
    let server = TestServer::start();
    let client = server.client();
    let table = hash_table(&client, "pklen").await;
    client.put_item().table_name(&table).item("pk", s("p".repeat(2048))).send().await.unwrap();
    expect_validation(client.put_item().table_name(&table).item("pk", s("p".repeat(2049))).send().await);
    expect_validation(client.get_item().table_name(&table).key("pk", s("p".repeat(2049))).send().await);
}

#[tokio::test]
async fn sort_key_over_1024_bytes_is_rejected() {
    let server = TestServer::start();
    let client = server.client();
    let table = hash_range_table(&client, "sklen", ScalarAttributeType::B).await;
    client
        .put_item()
        .table_name(&table)
        .item("pk", s("p"))
        .item("sk", b(vec![7u8; 1024]))
        .send()
        .await
        .unwrap();
    expect_validation(
        client.put_item().table_name(&table).item("pk", s("p")).item("sk", b(vec![7u8; 1025])).send().await,
    );
}

#[tokio::test]
async fn empty_key_values_are_rejected() {
    let server = TestServer::start();
    let client = server.client();
    let table = hash_range_table(&client, "emptykey", ScalarAttributeType::B).await;
    expect_validation(
        client.put_item().table_name(&table).item("pk", s("")).item("sk", b(vec![1u8])).send().await,
    );
    expect_validation(
        client.put_item().table_name(&table).item("pk", s("a")).item("sk", b(Vec::<u8>::new())).send().await,
    );
    expect_validation(
        client.get_item().table_name(&table).key("pk", s("")).key("sk", b(vec![1u8])).send().await,
    );
}

#[tokio::test]
async fn invalid_expression_syntax_is_validation_error() {
    let server = TestServer::start();
    let client = server.client();
    let table = hash_table(&client, "syntax").await;
    for cond in ["attribute_exists(", "a = = :v", "a = :v AND", "no_such_function(a)", ")", "", "a <> "] {
        let result = client
            .put_item()
            .table_name(&table)
            .item("pk", s("k"))
            .condition_expression(cond)
            .expression_attribute_values(":v", n(1))
            .send()
            .await;
        assert_eq!(
            result.as_ref().err().and_then(eddy_tests::error_code),
            Some("ValidationException"),
            "{cond:?}: {result:?}"
        );
    }
    for update in ["SET", "SET a", "SET a = ", "FROB a", "SET a = :v,", "REMOVE a[x]"] {
        let result = client
            .update_item()
            .table_name(&table)
            .key("pk", s("k"))
            .update_expression(update)
            .expression_attribute_values(":v", n(1))
            .send()
            .await;
        assert_eq!(
            result.as_ref().err().and_then(eddy_tests::error_code),
            Some("ValidationException"),
            "{update:?}: {result:?}"
        );
    }
    let got = client.get_item().table_name(&table).key("pk", s("k")).send().await.unwrap();
    assert!(got.item().is_none());
}

#[tokio::test]
async fn deeply_nested_expression_is_rejected_and_server_keeps_answering() {
    let server = TestServer::start();
    let client = server.client();
    let table = hash_table(&client, "nest").await;
    let depth = 50_000;
    let cond = format!("{}a = :v{}", "(".repeat(depth), ")".repeat(depth));
    expect_validation(
        client
            .put_item()
            .table_name(&table)
            .item("pk", s("k"))
            .condition_expression(&cond)
            .expression_attribute_values(":v", n(1))
            .send()
            .await,
    );
    let open_only = "(".repeat(depth);
    expect_validation(client.scan().table_name(&table).filter_expression(&open_only).send().await);
    let nots = format!("{}a = :v", "NOT ".repeat(depth));
    expect_validation(
        client
            .put_item()
            .table_name(&table)
            .item("pk", s("k"))
            .condition_expression(&nots)
            .expression_attribute_values(":v", n(1))
            .send()
            .await,
    );
    let path = format!("a{}", "[0]".repeat(depth));
    expect_validation(
        client.get_item().table_name(&table).key("pk", s("k")).projection_expression(&path).send().await,
    );

    // Still alive and correct.
    client.put_item().table_name(&table).item("pk", s("alive")).send().await.unwrap();
    let got = client.get_item().table_name(&table).key("pk", s("alive")).send().await.unwrap();
    assert!(got.item().is_some());
}

#[tokio::test]
async fn deeply_nested_item_is_rejected_and_server_keeps_answering() {
    let server = TestServer::start();
    let client = server.client();
    let table = hash_table(&client, "nestitem").await;
    // DynamoDB allows 32 levels of nesting.
    let mut value = n(1);
    for _ in 0..40 {
        value = AttributeValue::L(vec![value]);
    }
    expect_validation(
        client.put_item().table_name(&table).item("pk", s("k")).item("deep", value).send().await,
    );
    let mut ok = n(1);
    for _ in 0..10 {
        ok = AttributeValue::M([("x".to_string(), ok)].into_iter().collect());
    }
    client.put_item().table_name(&table).item("pk", s("k")).item("deep", ok).send().await.unwrap();
}

#[tokio::test]
async fn operations_on_missing_table_are_resource_not_found() {
    let server = TestServer::start();
    let client = server.client();
    let t = "no-such-table";
    let e = client.get_item().table_name(t).key("pk", s("a")).send().await.unwrap_err().into_service_error();
    assert!(e.is_resource_not_found_exception(), "{e:?}");
    let e = client.put_item().table_name(t).item("pk", s("a")).send().await.unwrap_err().into_service_error();
    assert!(e.is_resource_not_found_exception(), "{e:?}");
    let e =
        client.delete_item().table_name(t).key("pk", s("a")).send().await.unwrap_err().into_service_error();
    assert!(e.is_resource_not_found_exception(), "{e:?}");
    let e = client
        .update_item()
        .table_name(t)
        .key("pk", s("a"))
        .update_expression("SET v = :v")
        .expression_attribute_values(":v", n(1))
        .send()
        .await
        .unwrap_err()
        .into_service_error();
    assert!(e.is_resource_not_found_exception(), "{e:?}");
    let e = client
        .query()
        .table_name(t)
        .key_condition_expression("pk = :p")
        .expression_attribute_values(":p", s("a"))
        .send()
        .await
        .unwrap_err()
        .into_service_error();
    assert!(e.is_resource_not_found_exception(), "{e:?}");
    let e = client.scan().table_name(t).send().await.unwrap_err().into_service_error();
    assert!(e.is_resource_not_found_exception(), "{e:?}");
    let e = client.describe_table().table_name(t).send().await.unwrap_err().into_service_error();
    assert!(e.is_resource_not_found_exception(), "{e:?}");
    let e = client.delete_table().table_name(t).send().await.unwrap_err().into_service_error();
    assert!(e.is_resource_not_found_exception(), "{e:?}");
}

#[tokio::test]
async fn bad_json_is_serialization_exception() {
    let server = TestServer::start();
    for body in ["{not json", "[1,2,3", "{\"TableName\": }"] {
        let (status, response) = server.raw_post(Some("DynamoDB_20120810.PutItem"), body);
        assert_eq!(status, 400, "{body}: {response}");
        let kind = error_type(&response);
        assert!(kind.ends_with("#SerializationException"), "{body}: __type {kind:?} in {response}");
    }
    // A well-formed body of the wrong shape is a serialization problem too.
    let (status, response) = server.raw_post(Some("DynamoDB_20120810.GetItem"), "{\"TableName\": 5}");
    assert_eq!(status, 400, "{response}");
    let kind = error_type(&response);
    assert!(
        kind.ends_with("#SerializationException") || kind.ends_with("#ValidationException"),
        "__type {kind:?} in {response}"
    );
}

#[tokio::test]
async fn unknown_operation_is_unknown_operation_exception() {
    let server = TestServer::start();
    for target in ["DynamoDB_20120810.Frobnicate", "NotAService.PutItem"] {
        let (status, response) = server.raw_post(Some(target), "{}");
        assert_eq!(status, 400, "{target}: {response}");
        let kind = error_type(&response);
        assert!(kind.ends_with("UnknownOperationException"), "{target}: __type {kind:?} in {response}");
    }
    // The server still answers a well-formed request.
    let (status, response) = server.raw_post(Some("DynamoDB_20120810.ListTables"), "{}");
    assert_eq!(status, 200, "{response}");
    assert!(response.contains("TableNames"), "{response}");
}

#[tokio::test]
async fn missing_target_header_is_rejected() {
    let server = TestServer::start();
    let (status, response) = server.raw_post(None, "{}");
    assert_eq!(status, 400, "{response}");
    assert!(!error_type(&response).is_empty(), "error body with __type: {response}");
}

#[tokio::test]
async fn raw_error_bodies_use_dynamodb_type_names() {
    let server = TestServer::start();
    let (status, response) =
        server.raw_post(Some("DynamoDB_20120810.DescribeTable"), "{\"TableName\": \"no-such-table\"}");
    assert_eq!(status, 400, "{response}");
    assert_eq!(
        error_type(&response),
        "com.amazonaws.dynamodb.v20120810#ResourceNotFoundException",
        "{response}"
    );
    let (status, response) =
        server.raw_post(Some("DynamoDB_20120810.DescribeTable"), "{\"TableName\": \"x\"}");
    assert_eq!(status, 400, "{response}");
    assert!(error_type(&response).ends_with("#ValidationException"), "{response}");
}

#[tokio::test]
async fn expression_over_4_kb_is_validation_error() {
    let server = TestServer::start();
    let client = server.client();
    let table = hash_table(&client, "exprlen").await;
    // 4 KB is the documented maximum length of any expression string.
    let long_name = "a".repeat(255);
    let clauses: Vec<String> = (0..20).map(|i| format!("attribute_not_exists({long_name}{i})")).collect();
    let cond = clauses.join(" AND ");
    assert!(cond.len() > 4096);
    expect_validation(
        client.put_item().table_name(&table).item("pk", s("k")).condition_expression(&cond).send().await,
    );
    let short: Vec<String> = (0..10).map(|i| format!("attribute_not_exists({long_name}{i})")).collect();
    let cond = short.join(" AND ");
    assert!(cond.len() < 4096);
    client.put_item().table_name(&table).item("pk", s("k")).condition_expression(&cond).send().await.unwrap();
}

#[tokio::test]
async fn attribute_name_limits_are_enforced() {
    let server = TestServer::start();
    let client = server.client();
    let table = hash_table(&client, "attrname").await;
    // Top-level attribute names may be up to 64 KB; empty names are invalid.
    expect_validation(client.put_item().table_name(&table).item("pk", s("k")).item("", s("v")).send().await);
    client
        .put_item()
        .table_name(&table)
        .item("pk", s("k"))
        .item("n".repeat(1000), s("v"))
        .send()
        .await
        .unwrap();
}
