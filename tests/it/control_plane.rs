//! Proves the table control plane (create, describe, list, update, delete, tags) answers like
//! DynamoDB, including its validation errors and its refusal to silently ignore unsupported
//! features.

use std::collections::BTreeSet;

use aws_sdk_dynamodb::types::{
    BillingMode, GlobalSecondaryIndex, KeyType, Projection, ProjectionType, ProvisionedThroughput,
    ScalarAttributeType, TableStatus, Tag, TimeToLiveSpecification, TimeToLiveStatus,
};
use eddy_tests::{
    TestServer, attr_def, create_table, expect_validation, hash_table, key_elem, unique_table_name,
};

fn throughput(read: i64, write: i64) -> ProvisionedThroughput {
    ProvisionedThroughput::builder().read_capacity_units(read).write_capacity_units(write).build().unwrap()
}

#[tokio::test]
async fn create_table_returns_description_with_arn() {
    let server = TestServer::start();
    let client = server.client();
    let name = unique_table_name("create");
    let out = client
        .create_table()
        .table_name(&name)
        .billing_mode(BillingMode::PayPerRequest)
        .attribute_definitions(attr_def("pk", ScalarAttributeType::S))
        .attribute_definitions(attr_def("sk", ScalarAttributeType::N))
        .key_schema(key_elem("pk", KeyType::Hash))
        .key_schema(key_elem("sk", KeyType::Range))
        .send()
        .await
        .unwrap();
    let desc = out.table_description().expect("TableDescription");
    assert_eq!(desc.table_name(), Some(name.as_str()));
    assert_eq!(
        desc.table_arn(),
        Some(format!("arn:aws:dynamodb:us-east-1:000000000000:table/{name}").as_str())
    );
    assert!(
        matches!(desc.table_status(), Some(TableStatus::Creating) | Some(TableStatus::Active)),
        "status {:?}",
        desc.table_status()
    );
    assert_eq!(desc.key_schema().len(), 2);
    assert!(desc.table_id().is_some(), "TableId is returned");
}

#[tokio::test]
async fn creating_existing_table_is_resource_in_use() {
    let server = TestServer::start();
    let client = server.client();
    let name = hash_table(&client, "dup").await;
    let err = client
        .create_table()
        .table_name(&name)
        .billing_mode(BillingMode::PayPerRequest)
        .attribute_definitions(attr_def("pk", ScalarAttributeType::S))
        .key_schema(key_elem("pk", KeyType::Hash))
        .send()
        .await
        .unwrap_err()
        .into_service_error();
    assert!(err.is_resource_in_use_exception(), "{err:?}");
}

#[tokio::test]
async fn describe_table_reports_schema_status_and_billing() {
    let server = TestServer::start();
    let client = server.client();
    let name = unique_table_name("describe");
    create_table(&client, &name, ("pk", ScalarAttributeType::S), Some(("sk", ScalarAttributeType::B))).await;
    let out = client.describe_table().table_name(&name).send().await.unwrap();
    let t = out.table().expect("Table");
    assert_eq!(t.table_name(), Some(name.as_str()));
    assert_eq!(t.table_status(), Some(&TableStatus::Active));
    assert_eq!(t.table_arn(), Some(format!("arn:aws:dynamodb:us-east-1:000000000000:table/{name}").as_str()));

    let keys: Vec<(&str, &KeyType)> =
        t.key_schema().iter().map(|k| (k.attribute_name(), k.key_type())).collect();
    assert_eq!(keys, vec![("pk", &KeyType::Hash), ("sk", &KeyType::Range)]);
    let mut attrs: Vec<(&str, &ScalarAttributeType)> =
        t.attribute_definitions().iter().map(|a| (a.attribute_name(), a.attribute_type())).collect();
    attrs.sort();
    assert_eq!(attrs, vec![("pk", &ScalarAttributeType::S), ("sk", &ScalarAttributeType::B)]);

    assert_eq!(t.item_count(), Some(0));
    assert_eq!(t.table_size_bytes(), Some(0));
    let created = t.creation_date_time().expect("CreationDateTime");
    let now = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap().as_secs() as i64;
    assert!((created.secs() - now).abs() < 600, "CreationDateTime {created:?} is near now ({now})");
    assert_eq!(t.billing_mode_summary().and_then(|b| b.billing_mode()), Some(&BillingMode::PayPerRequest));
    let pt = t.provisioned_throughput().expect("ProvisionedThroughput");
    assert_eq!(pt.read_capacity_units(), Some(0));
    assert_eq!(pt.write_capacity_units(), Some(0));
}

#[tokio::test]
async fn describe_provisioned_table_reports_throughput() {
    let server = TestServer::start();
    let client = server.client();
    let name = unique_table_name("prov");
    client
        .create_table()
        .table_name(&name)
        .billing_mode(BillingMode::Provisioned)
        .provisioned_throughput(throughput(7, 3))
        .attribute_definitions(attr_def("pk", ScalarAttributeType::S))
        .key_schema(key_elem("pk", KeyType::Hash))
        .send()
        .await
        .unwrap();
    let out = client.describe_table().table_name(&name).send().await.unwrap();
    let t = out.table().unwrap();
    let pt = t.provisioned_throughput().expect("ProvisionedThroughput");
    assert_eq!(pt.read_capacity_units(), Some(7));
    assert_eq!(pt.write_capacity_units(), Some(3));
    if let Some(mode) = t.billing_mode_summary().and_then(|b| b.billing_mode()) {
        assert_eq!(mode, &BillingMode::Provisioned);
    }
}

#[tokio::test]
async fn list_tables_paginates_with_limit_and_exclusive_start() {
    let server = TestServer::start();
    let client = server.client();
    let mut created = BTreeSet::new();
    for _ in 0..5 {
        created.insert(hash_table(&client, "list").await);
    }

    let mut seen = Vec::new();
    let mut start: Option<String> = None;
    for _ in 0..10 {
        let out =
            client.list_tables().limit(2).set_exclusive_start_table_name(start.clone()).send().await.unwrap();
        assert!(out.table_names().len() <= 2, "page larger than Limit: {:?}", out.table_names());
        seen.extend(out.table_names().iter().cloned());
        match out.last_evaluated_table_name() {
            Some(last) => {
                assert_eq!(Some(last), out.table_names().last().map(String::as_str));
                start = Some(last.to_string());
            }
            None => break,
        }
    }
    let unique: BTreeSet<String> = seen.iter().cloned().collect();
    assert_eq!(unique.len(), seen.len(), "a table was listed twice: {seen:?}");
    assert_eq!(unique, created);

    let all = client.list_tables().send().await.unwrap();
    let all: BTreeSet<String> = all.table_names().iter().cloned().collect();
    assert_eq!(all, created);
}

#[tokio::test]
async fn list_tables_limit_out_of_range_is_validation_error() {
    let server = TestServer::start();
    let client = server.client();
    expect_validation(client.list_tables().limit(0).send().await);
    expect_validation(client.list_tables().limit(101).send().await);
}

#[tokio::test]
async fn deleted_table_is_not_found() {
    let server = TestServer::start();
    let client = server.client();
    let name = hash_table(&client, "del").await;
    let out = client.delete_table().table_name(&name).send().await.unwrap();
    assert_eq!(out.table_description().and_then(|d| d.table_name()), Some(name.as_str()));

    let err = client.describe_table().table_name(&name).send().await.unwrap_err().into_service_error();
    assert!(err.is_resource_not_found_exception(), "{err:?}");
    let err = client.delete_table().table_name(&name).send().await.unwrap_err().into_service_error();
    assert!(err.is_resource_not_found_exception(), "{err:?}");
    let list = client.list_tables().send().await.unwrap();
    assert!(!list.table_names().contains(&name));
}

#[tokio::test]
async fn deleted_table_can_be_recreated_empty() {
    let server = TestServer::start();
    let client = server.client();
    let name = hash_table(&client, "recreate").await;
    client.put_item().table_name(&name).item("pk", eddy_tests::s("a")).send().await.unwrap();
    client.delete_table().table_name(&name).send().await.unwrap();
    create_table(&client, &name, ("pk", ScalarAttributeType::S), None).await;
    let got = client.get_item().table_name(&name).key("pk", eddy_tests::s("a")).send().await.unwrap();
    assert!(got.item().is_none(), "item survived table deletion: {:?}", got.item());
}

#[tokio::test]
async fn update_table_switches_billing_mode_and_throughput() {
    let server = TestServer::start();
    let client = server.client();
    let name = hash_table(&client, "upd").await;
    let out = client
        .update_table()
        .table_name(&name)
        .billing_mode(BillingMode::Provisioned)
        .provisioned_throughput(throughput(11, 13))
        .send()
        .await
        .unwrap();
    assert!(out.table_description().is_some());
    let t = client.describe_table().table_name(&name).send().await.unwrap();
    let t = t.table().unwrap();
    assert_eq!(t.billing_mode_summary().and_then(|b| b.billing_mode()), Some(&BillingMode::Provisioned));
    let pt = t.provisioned_throughput().unwrap();
    assert_eq!((pt.read_capacity_units(), pt.write_capacity_units()), (Some(11), Some(13)));

    client.update_table().table_name(&name).provisioned_throughput(throughput(21, 23)).send().await.unwrap();
    let t = client.describe_table().table_name(&name).send().await.unwrap();
    let pt = t.table().unwrap().provisioned_throughput().unwrap();
    assert_eq!((pt.read_capacity_units(), pt.write_capacity_units()), (Some(21), Some(23)));
}

#[tokio::test]
async fn update_table_to_provisioned_without_throughput_is_validation_error() {
    let server = TestServer::start();
    let client = server.client();
    let name = hash_table(&client, "updbad").await;
    expect_validation(
        client.update_table().table_name(&name).billing_mode(BillingMode::Provisioned).send().await,
    );
}

#[tokio::test]
async fn update_missing_table_is_not_found() {
    let server = TestServer::start();
    let client = server.client();
    let err = client
        .update_table()
        .table_name("no-such-table")
        .billing_mode(BillingMode::PayPerRequest)
        .send()
        .await
        .unwrap_err()
        .into_service_error();
    assert!(err.is_resource_not_found_exception(), "{err:?}");
}

#[tokio::test]
async fn tags_are_added_listed_and_removed() {
    let server = TestServer::start();
    let client = server.client();
    let name = hash_table(&client, "tags").await;
    let arn = format!("arn:aws:dynamodb:us-east-1:000000000000:table/{name}");
    let tag = |k: &str, v: &str| Tag::builder().key(k).value(v).build().unwrap();

    let listed = client.list_tags_of_resource().resource_arn(&arn).send().await.unwrap();
    assert!(listed.tags().is_empty());

    client
        .tag_resource()
        .resource_arn(&arn)
        .tags(tag("env", "test"))
        .tags(tag("team", "storage"))
        .send()
        .await
        .unwrap();
    // Tagging an existing key overwrites its value.
    client.tag_resource().resource_arn(&arn).tags(tag("env", "prod")).send().await.unwrap();
    let listed = client.list_tags_of_resource().resource_arn(&arn).send().await.unwrap();
    let mut tags: Vec<(&str, &str)> = listed.tags().iter().map(|t| (t.key(), t.value())).collect();
    tags.sort();
    assert_eq!(tags, vec![("env", "prod"), ("team", "storage")]);

    client.untag_resource().resource_arn(&arn).tag_keys("env").send().await.unwrap();
    let listed = client.list_tags_of_resource().resource_arn(&arn).send().await.unwrap();
    let tags: Vec<(&str, &str)> = listed.tags().iter().map(|t| (t.key(), t.value())).collect();
    assert_eq!(tags, vec![("team", "storage")]);
}

#[tokio::test]
async fn tagging_missing_table_is_not_found() {
    let server = TestServer::start();
    let client = server.client();
    let arn = "arn:aws:dynamodb:us-east-1:000000000000:table/no-such-table";
    let err = client
        .tag_resource()
        .resource_arn(arn)
        .tags(Tag::builder().key("k").value("v").build().unwrap())
        .send()
        .await
        .unwrap_err()
        .into_service_error();
    assert!(err.is_resource_not_found_exception(), "{err:?}");
    let err = client.list_tags_of_resource().resource_arn(arn).send().await.unwrap_err().into_service_error();
    assert!(err.is_resource_not_found_exception(), "{err:?}");
}

async fn create_hash_named(client: &aws_sdk_dynamodb::Client, name: &str) -> Result<(), String> {
    client
        .create_table()
        .table_name(name)
        .billing_mode(BillingMode::PayPerRequest)
        .attribute_definitions(attr_def("pk", ScalarAttributeType::S))
        .key_schema(key_elem("pk", KeyType::Hash))
        .send()
        .await
        .map(|_| ())
        .map_err(|e| format!("{e:?}"))
}

#[tokio::test]
async fn table_names_follow_dynamodb_rules() {
    let server = TestServer::start();
    let client = server.client();
    // Valid: 3 to 255 characters of [a-zA-Z0-9_.-].
    create_hash_named(&client, "abc").await.unwrap();
    create_hash_named(&client, "A_b.c-9").await.unwrap();
    create_hash_named(&client, &"x".repeat(255)).await.unwrap();

    // (An empty name is refused by the SDK before it is sent.)
    for bad in ["ab", "has space", "slash/name", "colon:name", "ünicode", &"y".repeat(256)] {
        let result = client
            .create_table()
            .table_name(bad)
            .billing_mode(BillingMode::PayPerRequest)
            .attribute_definitions(attr_def("pk", ScalarAttributeType::S))
            .key_schema(key_elem("pk", KeyType::Hash))
            .send()
            .await;
        expect_validation(result);
    }
}

#[tokio::test]
async fn key_schema_must_match_attribute_definitions() {
    let server = TestServer::start();
    let client = server.client();
    // Key attribute without a definition.
    expect_validation(
        client
            .create_table()
            .table_name(unique_table_name("ks"))
            .billing_mode(BillingMode::PayPerRequest)
            .attribute_definitions(attr_def("other", ScalarAttributeType::S))
            .key_schema(key_elem("pk", KeyType::Hash))
            .send()
            .await,
    );
    // A definition that no key (and no index) uses.
    expect_validation(
        client
            .create_table()
            .table_name(unique_table_name("ks"))
            .billing_mode(BillingMode::PayPerRequest)
            .attribute_definitions(attr_def("pk", ScalarAttributeType::S))
            .attribute_definitions(attr_def("extra", ScalarAttributeType::S))
            .key_schema(key_elem("pk", KeyType::Hash))
            .send()
            .await,
    );
    // Two hash keys.
    expect_validation(
        client
            .create_table()
            .table_name(unique_table_name("ks"))
            .billing_mode(BillingMode::PayPerRequest)
            .attribute_definitions(attr_def("a", ScalarAttributeType::S))
            .attribute_definitions(attr_def("b", ScalarAttributeType::S))
            .key_schema(key_elem("a", KeyType::Hash))
            .key_schema(key_elem("b", KeyType::Hash))
            .send()
            .await,
    );
    // Range key only.
    expect_validation(
        client
            .create_table()
            .table_name(unique_table_name("ks"))
            .billing_mode(BillingMode::PayPerRequest)
            .attribute_definitions(attr_def("a", ScalarAttributeType::S))
            .key_schema(key_elem("a", KeyType::Range))
            .send()
            .await,
    );
    assert!(client.list_tables().send().await.unwrap().table_names().is_empty());
}

#[tokio::test]
async fn provisioned_table_requires_throughput() {
    let server = TestServer::start();
    let client = server.client();
    // PROVISIONED is the default billing mode.
    expect_validation(
        client
            .create_table()
            .table_name(unique_table_name("nopt"))
            .attribute_definitions(attr_def("pk", ScalarAttributeType::S))
            .key_schema(key_elem("pk", KeyType::Hash))
            .send()
            .await,
    );
    expect_validation(
        client
            .create_table()
            .table_name(unique_table_name("nopt"))
            .billing_mode(BillingMode::Provisioned)
            .attribute_definitions(attr_def("pk", ScalarAttributeType::S))
            .key_schema(key_elem("pk", KeyType::Hash))
            .send()
            .await,
    );
    // And on-demand tables must not carry throughput.
    expect_validation(
        client
            .create_table()
            .table_name(unique_table_name("nopt"))
            .billing_mode(BillingMode::PayPerRequest)
            .provisioned_throughput(throughput(1, 1))
            .attribute_definitions(attr_def("pk", ScalarAttributeType::S))
            .key_schema(key_elem("pk", KeyType::Hash))
            .send()
            .await,
    );
}

#[tokio::test]
async fn global_secondary_index_is_honoured_or_rejected() {
    let server = TestServer::start();
    let client = server.client();
    let name = unique_table_name("gsi");
    let gsi = GlobalSecondaryIndex::builder()
        .index_name("by_g")
        .key_schema(key_elem("g", KeyType::Hash))
        .projection(Projection::builder().projection_type(ProjectionType::All).build())
        .build()
        .unwrap();
    let result = client
        .create_table()
        .table_name(&name)
        .billing_mode(BillingMode::PayPerRequest)
        .attribute_definitions(attr_def("pk", ScalarAttributeType::S))
        .attribute_definitions(attr_def("g", ScalarAttributeType::S))
        .key_schema(key_elem("pk", KeyType::Hash))
        .global_secondary_indexes(gsi)
        .send()
        .await;
    match result {
        Ok(_) => {
            let t = client.describe_table().table_name(&name).send().await.unwrap();
            let names: Vec<_> =
                t.table().unwrap().global_secondary_indexes().iter().filter_map(|g| g.index_name()).collect();
            assert_eq!(names, vec!["by_g"], "the index was accepted but is not described");
        }
        Err(err) => {
            expect_validation::<(), _, _>(Err(err));
        }
    }
}

#[tokio::test]
async fn time_to_live_is_honoured_or_rejected() {
    let server = TestServer::start();
    let client = server.client();
    let name = hash_table(&client, "ttl").await;
    let spec = TimeToLiveSpecification::builder().enabled(true).attribute_name("expires").build().unwrap();
    match client.update_time_to_live().table_name(&name).time_to_live_specification(spec).send().await {
        Ok(_) => {
            let d = client.describe_time_to_live().table_name(&name).send().await.unwrap();
            let d = d.time_to_live_description().expect("TimeToLiveDescription");
            assert!(
                matches!(
                    d.time_to_live_status(),
                    Some(TimeToLiveStatus::Enabled) | Some(TimeToLiveStatus::Enabling)
                ),
                "{d:?}"
            );
            assert_eq!(d.attribute_name(), Some("expires"));
        }
        Err(err) => {
            expect_validation::<(), _, _>(Err(err));
        }
    }
}

#[tokio::test]
async fn key_attribute_types_are_limited_to_s_n_b() {
    let server = TestServer::start();
    let client = server.client();
    expect_validation(
        client
            .create_table()
            .table_name(unique_table_name("bool"))
            .billing_mode(BillingMode::PayPerRequest)
            .attribute_definitions(attr_def("pk", ScalarAttributeType::from("BOOL")))
            .key_schema(key_elem("pk", KeyType::Hash))
            .send()
            .await,
    );
}
