//! A well-behaved trigger: its response, logs and buffered write-backs come back intact, its
//! reads see the committed state overlaid with its own buffered writes, and the compile cache
//! spares a restart the compilation.

use std::sync::Arc;

use serde_json::{Value, json};

use super::{Data, MapReader, compile, guest, limits, no_items, runtime};
use crate::sandbox::{HostReader, Runtime, RuntimeConfig, WriteKind};

const BATCH: &str = r#"{"Records":[{"eventID":"1","dynamodb":{"SequenceNumber":"100"}},{"eventID":"2","dynamodb":{"SequenceNumber":"101"}}],"batchItemFailures":[{"itemIdentifier":"101"}]}"#;

fn good_module_wat() -> String {
    let data = Data::new(&[
        r#"{"TableName":"Totals","Item":{"id":{"S":"a"},"n":{"N":"1"}}}"#,
        r#"{"TableName":"Totals","Key":{"id":{"S":"a"}}}"#,
        r#"{"TableName":"Totals","Key":{"id":{"S":"a"}},"UpdateExpression":"ADD n :one","ExpressionAttributeValues":{":one":{"N":"1"}}}"#,
        r#"{"TableName":"Totals","Key":{"id":{"S":"a"}},"ConditionExpression":"attribute_exists(id)"}"#,
        r#"{"TableName":"Totals","Key":{"id":{"S":"c"}}}"#,
        r#"{"TableName":"Totals","Item":"#,
    ]);
    let body = format!(
        r#"
    (call $log (local.get 0) (local.get 1))
    (if (i32.ne (call $put {put}) (i32.const 0)) (then unreachable))
    (call $log_packed (call $get {get_a}))
    (if (i32.ne (call $update {update}) (i32.const 0)) (then unreachable))
    (call $log_packed (call $get {get_a}))
    (if (i32.ne (call $delete {delete}) (i32.const 0)) (then unreachable))
    (call $log_packed (call $get {get_a}))
    (call $log_packed (call $get {get_c}))
    (if (i32.ne (call $put {bad}) (i32.const -1)) (then unreachable))
    (call $pack (local.get 0) (local.get 1))"#,
        put = data.arg(0),
        get_a = data.arg(1),
        update = data.arg(2),
        delete = data.arg(3),
        get_c = data.arg(4),
        bad = data.arg(5),
    );
    guest(&data, &body)
}

#[test]
fn good_module_echoes_failures_logs_and_buffers_write_backs() {
    let runtime = runtime();
    let module = compile(&runtime, &good_module_wat(), limits());
    let reader = MapReader::default().with(
        "Totals",
        json!({"id": {"S": "c"}}),
        json!({"id": {"S": "c"}, "n": {"N": "7"}}),
    );
    let done = module.invoke(BATCH.as_bytes(), Arc::new(reader)).expect("invocation succeeds");

    assert_eq!(done.batch_item_failures, vec!["101".to_string()]);
    assert_eq!(done.response, serde_json::from_str::<Value>(BATCH).unwrap());
    assert_eq!(
        done.logs,
        vec![
            BATCH.to_string(),
            r#"{"Item":{"id":{"S":"a"},"n":{"N":"1"}}}"#.into(),
            r#"{"Item":{"id":{"S":"a"},"n":{"N":"1"}},"UnappliedUpdates":1}"#.into(),
            "{}".into(),
            r#"{"Item":{"id":{"S":"c"},"n":{"N":"7"}}}"#.into(),
            "eddy: put_item rejected: request is not JSON: EOF while parsing a value at line 1 column 29"
                .into(),
        ]
    );
    let kinds: Vec<_> = done.writes.iter().map(|w| w.kind).collect();
    assert_eq!(kinds, [WriteKind::Put, WriteKind::Update, WriteKind::Delete]);
    assert!(done.writes.iter().all(|w| w.table_name() == "Totals"));
    assert_eq!(done.writes[1].request["UpdateExpression"], "ADD n :one");
    assert_eq!(done.writes[2].key_or_item(), &json!({"id": {"S": "a"}}));
    assert!(done.fuel_consumed > 0);
}

/// Evaluates `ADD n :one` on `n`, the only update the good module issues.
struct AddingReader;

impl HostReader for AddingReader {
    fn get_item(&self, _table: &str, _key: &Value) -> Result<Option<Value>, String> {
        Ok(None)
    }

    fn apply_update(&self, item: Option<&Value>, _request: &Value) -> Option<Result<Option<Value>, String>> {
        let mut item = item.cloned()?;
        let n: i64 = item["n"]["N"].as_str()?.parse().ok()?;
        item["n"] = json!({"N": (n + 1).to_string()});
        Some(Ok(Some(item)))
    }
}

#[test]
fn reader_that_applies_updates_gives_read_your_writes_for_updates() {
    let runtime = runtime();
    let module = compile(&runtime, &good_module_wat(), limits());
    let done = module.invoke(BATCH.as_bytes(), Arc::new(AddingReader)).expect("invocation succeeds");
    assert_eq!(done.logs[2], r#"{"Item":{"id":{"S":"a"},"n":{"N":"2"}}}"#);
    assert_eq!(done.logs[4], "{}");
}

#[test]
fn empty_response_means_the_whole_batch_succeeded() {
    let runtime = runtime();
    let wat = guest(&Data::new(&[]), "(i64.const 0)");
    let done = compile(&runtime, &wat, limits()).invoke(b"{\"Records\":[]}", no_items()).expect("succeeds");
    assert_eq!(done.response, json!({}));
    assert!(done.batch_item_failures.is_empty() && done.logs.is_empty() && done.writes.is_empty());
}

#[test]
fn restart_loads_the_compiled_module_from_the_disk_cache() {
    let dir = tempfile::tempdir().unwrap();
    let config =
        RuntimeConfig { cache_dir: Some(dir.path().join("cache")), pool_slots: 2, ..Default::default() };
    let wat = good_module_wat();
    let first = Runtime::new(config.clone()).unwrap();
    let module = compile(&first, &wat, limits());
    assert_eq!((first.cache_hits(), first.cache_misses()), (0, 1));
    let digest = module.digest_hex();
    drop((module, first));

    let second = Runtime::new(config).unwrap();
    let module = compile(&second, &wat, limits());
    assert_eq!((second.cache_hits(), second.cache_misses()), (1, 0));
    assert_eq!(module.digest_hex(), digest);
    assert_eq!(digest.len(), 64);
    let done = module.invoke(BATCH.as_bytes(), no_items()).expect("cached module runs");
    assert_eq!(done.batch_item_failures, vec!["101".to_string()]);
}

#[test]
fn example_in_the_abi_document_runs() {
    let doc = include_str!("../../../../docs/triggers.md");
    let wat = doc.split("```wat\n").nth(1).and_then(|rest| rest.split("```").next()).expect("a wat block");
    let runtime = runtime();
    let done = compile(&runtime, wat, limits()).invoke(BATCH.as_bytes(), no_items()).expect("example runs");
    assert_eq!(done.batch_item_failures, vec!["101".to_string()]);
    assert_eq!(done.logs, vec![BATCH.to_string()]);
    assert_eq!(done.writes.len(), 1);
    assert_eq!(done.writes[0].kind, WriteKind::Update);
    assert_eq!(done.writes[0].table_name(), "Stats");
}
