//! Many threads invoke different modules at once on one runtime, misbehaving ones included,
//! and each invocation gets its own answer; plus a measurement of what an invocation costs.

use std::sync::Arc;
use std::time::Instant;

use serde_json::json;

use super::{Data, compile, echo_after, guest, limits, no_items, runtime};
use crate::sandbox::{InvocationError, Runtime, RuntimeConfig};

#[test]
fn two_modules_invoked_from_many_threads_at_once() {
    let runtime = runtime();
    let echo = compile(&runtime, &echo_after(""), limits());
    let data = Data::new(&[r#"{"TableName":"Log","Item":{"id":{"S":"x"}}}"#]);
    let writer = compile(
        &runtime,
        &guest(
            &data,
            &format!(
                "(drop (call $put {})) (call $log (local.get 0) (local.get 1)) (i64.const 0)",
                data.arg(0)
            ),
        ),
        limits(),
    );
    let spin = compile(&runtime, &echo_after("(loop $forever (br $forever))"), limits());
    std::thread::scope(|scope| {
        for thread in 0..6 {
            let (echo, writer, spin) = (&echo, &writer, &spin);
            scope.spawn(move || {
                for round in 0..50 {
                    let batch = json!({"Records": [], "thread": thread, "round": round}).to_string();
                    let done = echo.invoke(batch.as_bytes(), no_items()).expect("echo succeeds");
                    assert_eq!(done.response["thread"], thread);
                    assert_eq!(done.response["round"], round);
                    let done = writer.invoke(batch.as_bytes(), no_items()).expect("writer succeeds");
                    assert_eq!(done.logs, vec![batch.clone()]);
                    assert_eq!(done.writes.len(), 1);
                    if round % 10 == 0 {
                        let error = spin.invoke(batch.as_bytes(), no_items()).unwrap_err();
                        assert!(matches!(error, InvocationError::FuelExhausted { .. }));
                    }
                }
            });
        }
    });
}

#[test]
fn more_concurrent_invocations_than_pool_slots_are_refused_not_queued() {
    let runtime = Runtime::new(RuntimeConfig { pool_slots: 1, ..RuntimeConfig::default() }).unwrap();
    let data = Data::new(&[r#"{"TableName":"T","Key":{"id":{"S":"x"}}}"#]);
    let body = format!("(drop (call $get {})) (i64.const 0)", data.arg(0));
    let module = compile(&runtime, &guest(&data, &body), limits());
    let slow =
        Arc::new(super::MapReader { delay: std::time::Duration::from_millis(300), ..Default::default() });
    std::thread::scope(|scope| {
        let busy = scope.spawn(|| module.invoke(b"{}", slow.clone()));
        std::thread::sleep(std::time::Duration::from_millis(100));
        let error = module.invoke(b"{}", no_items()).unwrap_err();
        assert_eq!(error, InvocationError::PoolExhausted { slots: 1 });
        busy.join().unwrap().expect("the slot holder finishes");
    });
    module.invoke(b"{}", no_items()).expect("the slot is free again");
}

/// Prints what one invocation costs; run with `--ignored --nocapture`. No assertion on time.
#[test]
#[ignore = "measurement, not a test"]
fn measure_invoke_cost() {
    let runtime = runtime();
    let noop = compile(&runtime, &guest(&Data::new(&[]), "(i64.const 0)"), limits());
    let echo = compile(&runtime, &echo_after(""), limits());
    let batch = json!({"Records": (0..100).map(|i| json!({"eventID": i.to_string(), "dynamodb": {"SequenceNumber": i.to_string()}})).collect::<Vec<_>>()}).to_string();
    for (name, module, input) in
        [("no-op, empty batch", &noop, "{\"Records\":[]}"), ("echo, 100 records", &echo, batch.as_str())]
    {
        for _ in 0..1000 {
            module.invoke(input.as_bytes(), no_items()).unwrap();
        }
        let rounds = 20_000;
        let started = Instant::now();
        for _ in 0..rounds {
            module.invoke(input.as_bytes(), no_items()).unwrap();
        }
        let each = started.elapsed() / rounds;
        println!("{name} ({} input bytes): {each:?} per invocation", input.len());
    }
}
