//! Each limit stops a misbehaving guest with its own precise error, and the module, the engine
//! and other modules keep working afterwards.

use std::sync::Arc;
use std::time::Duration;

use super::{Data, MapReader, compile, echo_after, guest, limits, no_items, runtime};
use crate::sandbox::{InvocationError, Limits};

const BATCH: &[u8] = br#"{"Records":[]}"#;

const INFINITE_LOOP: &str = "(loop $forever (br $forever))";

#[test]
fn infinite_loop_runs_out_of_fuel() {
    let runtime = runtime();
    let module = compile(&runtime, &echo_after(INFINITE_LOOP), limits());
    let error = module.invoke(BATCH, no_items()).unwrap_err();
    assert_eq!(error, InvocationError::FuelExhausted { fuel: 50_000_000 });
    assert!(error.to_string().contains("ran out of fuel after 50000000 units"), "{error}");
}

#[test]
fn fuel_cheap_loop_hits_the_deadline_first() {
    let runtime = runtime();
    let deadline = Duration::from_millis(50);
    let limits = Limits { fuel_per_invocation: u64::MAX / 2, deadline, ..limits() };
    let module = compile(&runtime, &echo_after(INFINITE_LOOP), limits);
    match module.invoke(BATCH, no_items()).unwrap_err() {
        InvocationError::DeadlineExceeded { deadline: d, after } => {
            assert_eq!(d, deadline);
            assert!(after >= deadline, "stopped after {after:?}");
        }
        other => panic!("expected DeadlineExceeded, got {other}"),
    }
}

#[test]
fn loop_over_a_slow_host_call_hits_the_deadline() {
    let runtime = runtime();
    let data = Data::new(&[r#"{"TableName":"T","Key":{"id":{"S":"x"}}}"#]);
    let body = format!("(loop $again (drop (call $get {})) (br $again)) (i64.const 0)", data.arg(0));
    let deadline = Duration::from_millis(100);
    let module = compile(&runtime, &guest(&data, &body), Limits { deadline, ..limits() });
    let slow = MapReader { delay: Duration::from_millis(20), ..MapReader::default() };
    let error = module.invoke(BATCH, Arc::new(slow)).unwrap_err();
    assert!(matches!(error, InvocationError::DeadlineExceeded { after, .. } if after >= deadline), "{error}");
}

#[test]
fn memory_bomb_hits_the_memory_limit() {
    let runtime = runtime();
    let bomb = "(loop $more (drop (memory.grow (i32.const 16))) (br $more))";
    let module = compile(&runtime, &echo_after(bomb), limits());
    let error = module.invoke(BATCH, no_items()).unwrap_err();
    assert!(
        matches!(error, InvocationError::MemoryLimit { what: "memory (bytes)", max: 4_194_304, requested }
            if requested > 4_194_304),
        "{error}"
    );
}

#[test]
fn unreachable_is_a_trap_with_its_cause() {
    let runtime = runtime();
    let module = compile(&runtime, &echo_after("unreachable"), limits());
    let error = module.invoke(BATCH, no_items()).unwrap_err();
    assert_eq!(error, InvocationError::Trap("wasm `unreachable` instruction executed".into()));
}

#[test]
fn out_of_bounds_load_is_a_trap() {
    let runtime = runtime();
    let module = compile(&runtime, &echo_after("(drop (i32.load (i32.const -4)))"), limits());
    let error = module.invoke(BATCH, no_items()).unwrap_err();
    assert!(matches!(&error, InvocationError::Trap(m) if m.contains("out of bounds")), "{error}");
}

#[test]
fn unbounded_recursion_is_a_stack_overflow_trap() {
    let runtime = runtime();
    let wat = echo_after("").replace(
        "(func $pack",
        "(func $deep (param i32) (call $deep (i32.add (local.get 0) (i32.const 1))))\n  (func $pack",
    );
    let wat = wat.replace("(local $i i32)\n", "(local $i i32)\n    (call $deep (i32.const 0))\n");
    let error = compile(&runtime, &wat, limits()).invoke(BATCH, no_items()).unwrap_err();
    assert!(matches!(&error, InvocationError::Trap(m) if m.contains("call stack exhausted")), "{error}");
}

#[test]
fn oversized_output_is_refused_before_it_is_copied() {
    let runtime = runtime();
    let limits = Limits { output_bytes_max: 1000, ..limits() };
    let wat = guest(&Data::new(&[]), "(call $pack (i32.const 0) (i32.const 1001))");
    let error = compile(&runtime, &wat, limits).invoke(BATCH, no_items()).unwrap_err();
    assert_eq!(error, InvocationError::OutputTooLarge { bytes: 1001, max: 1000 });
}

#[test]
fn response_outside_guest_memory_is_a_bad_response() {
    let runtime = runtime();
    let wat = guest(&Data::new(&[]), "(call $pack (i32.const 131000) (i32.const 1000))");
    let error = compile(&runtime, &wat, limits()).invoke(BATCH, no_items()).unwrap_err();
    assert!(
        matches!(&error, InvocationError::BadResponse(m) if m.contains("outside guest memory")),
        "{error}"
    );
}

#[test]
fn response_that_is_not_json_is_a_bad_response() {
    let runtime = runtime();
    let data = Data::new(&["not json"]);
    let wat = guest(&data, &format!("(call $pack {})", data.arg(0)));
    let error = compile(&runtime, &wat, limits()).invoke(BATCH, no_items()).unwrap_err();
    assert!(matches!(&error, InvocationError::BadResponse(m) if m.starts_with("not JSON")), "{error}");

    let data = Data::new(&[r#"{"batchItemFailures":[{"itemIdentifier":7}]}"#]);
    let wat = guest(&data, &format!("(call $pack {})", data.arg(0)));
    let error = compile(&runtime, &wat, limits()).invoke(BATCH, no_items()).unwrap_err();
    assert!(matches!(&error, InvocationError::BadResponse(m) if m.contains("itemIdentifier")), "{error}");
}

#[test]
fn negative_result_fails_the_whole_batch_with_the_guest_code() {
    let runtime = runtime();
    let wat = guest(&Data::new(&[]), "(i64.const -7)");
    let error = compile(&runtime, &wat, limits()).invoke(BATCH, no_items()).unwrap_err();
    assert_eq!(error, InvocationError::GuestFailed { code: -7 });
}

#[test]
fn too_many_logs_stop_the_invocation() {
    let runtime = runtime();
    let limits = Limits { log_bytes_max: 1000, ..limits() };
    let data = Data::new(&["0123456789"]);
    let body = format!("(loop $again (call $log {}) (br $again)) (i64.const 0)", data.arg(0));
    let error = compile(&runtime, &guest(&data, &body), limits).invoke(BATCH, no_items()).unwrap_err();
    assert_eq!(error, InvocationError::LogTooLarge { max: 1000 });
}

#[test]
fn too_many_write_backs_stop_the_invocation() {
    let runtime = runtime();
    let limits = Limits { writes_max: 10, ..limits() };
    let data = Data::new(&[r#"{"TableName":"T","Key":{"id":{"S":"x"}}}"#]);
    let body = format!("(loop $again (drop (call $delete {})) (br $again)) (i64.const 0)", data.arg(0));
    let error = compile(&runtime, &guest(&data, &body), limits).invoke(BATCH, no_items()).unwrap_err();
    assert_eq!(error, InvocationError::TooManyWrites { writes_max: 10, bytes_max: 16 * 1024 * 1024 });
}

#[test]
fn host_call_outside_guest_memory_is_a_bad_host_call() {
    let runtime = runtime();
    let body = "(call $log (i32.const 131000) (i32.const 5000)) (i64.const 0)";
    let error =
        compile(&runtime, &guest(&Data::new(&[]), body), limits()).invoke(BATCH, no_items()).unwrap_err();
    assert!(
        matches!(&error, InvocationError::BadHostCall(m) if m.contains("log: buffer 131000+5000")),
        "{error}"
    );
}

#[test]
fn batch_above_the_input_limit_is_refused() {
    let runtime = runtime();
    let limits = Limits { input_bytes_max: 10, ..limits() };
    let error = compile(&runtime, &echo_after(""), limits).invoke(BATCH, no_items()).unwrap_err();
    assert_eq!(error, InvocationError::InputTooLarge { bytes: BATCH.len(), max: 10 });
}

#[test]
fn reader_failure_fails_the_invocation() {
    struct Broken;
    impl crate::sandbox::HostReader for Broken {
        fn get_item(&self, _: &str, _: &serde_json::Value) -> Result<Option<serde_json::Value>, String> {
            Err("disk on fire".into())
        }
    }
    let runtime = runtime();
    let data = Data::new(&[r#"{"TableName":"T","Key":{"id":{"S":"x"}}}"#]);
    let body = format!("(drop (call $get {})) (i64.const 0)", data.arg(0));
    let error =
        compile(&runtime, &guest(&data, &body), limits()).invoke(BATCH, Arc::new(Broken)).unwrap_err();
    assert_eq!(error, InvocationError::HostRead("disk on fire".into()));
}

#[test]
fn failed_invocations_leave_the_module_and_the_engine_usable() {
    let runtime = runtime();
    let echo = compile(&runtime, &echo_after(""), limits());
    let bomb = compile(
        &runtime,
        &echo_after("(loop $more (drop (memory.grow (i32.const 16))) (br $more))"),
        limits(),
    );
    let trap = compile(&runtime, &echo_after("unreachable"), limits());
    let spin = compile(&runtime, &echo_after(INFINITE_LOOP), limits());
    for _ in 0..3 {
        assert!(matches!(bomb.invoke(BATCH, no_items()), Err(InvocationError::MemoryLimit { .. })));
        assert!(matches!(trap.invoke(BATCH, no_items()), Err(InvocationError::Trap(_))));
        assert!(matches!(spin.invoke(BATCH, no_items()), Err(InvocationError::FuelExhausted { .. })));
        assert_eq!(
            echo.invoke(BATCH, no_items()).expect("echo still works").response,
            serde_json::json!({"Records": []})
        );
    }
    // Each invocation gets a fresh instance: state written by one batch is gone in the next.
    let counter = guest(
        &Data::new(&[]),
        "(i32.store (i32.const 0) (i32.add (i32.load (i32.const 0)) (i32.const 1)))
         (if (i32.ne (i32.load (i32.const 0)) (i32.const 1)) (then unreachable))
         (i64.const 0)",
    );
    let counter = compile(&runtime, &counter, limits());
    for _ in 0..3 {
        counter.invoke(BATCH, no_items()).expect("fresh memory every time");
    }
}
