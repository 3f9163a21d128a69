//! Store-level tests of secondary index maintenance, backfill and item collection limits.

use std::sync::Arc;

use crate::clock::SystemClock;
use crate::error::Error;
use crate::index::{IndexKind, IndexSpec, IndexStatus, Projection};
use crate::key::{KeyAttribute, KeySchema, PrimaryKey, ScalarType};
use crate::limits::Limits;
use crate::schema::{BillingMode, TableSpec};
use crate::store::test_support::block_on;
use crate::store::{ItemWrite, Store, TableChange, WriteAction};
use crate::value::{AttributeValue, Item};

fn attr(name: &str) -> KeyAttribute {
    KeyAttribute { name: name.into(), scalar_type: ScalarType::S }
}

fn s(v: &str) -> AttributeValue {
    AttributeValue::S(v.into())
}

fn spec(definitions: &[&str]) -> TableSpec {
    TableSpec {
        name: "things".into(),
        key_schema: KeySchema { partition: attr("pk"), sort: Some(attr("sk")) },
        attribute_definitions: definitions.iter().map(|d| attr(d)).collect(),
        billing: BillingMode::PayPerRequest,
        tags: Default::default(),
        stream: None,
        deletion_protection: false,
        table_class: "STANDARD".into(),
    }
}

fn local_index() -> IndexSpec {
    IndexSpec {
        name: "by_alt".into(),
        kind: IndexKind::Local,
        key_schema: KeySchema { partition: attr("pk"), sort: Some(attr("alt")) },
        projection: Projection::All,
        throughput: None,
    }
}

fn put(pk: &str, sk: &str, alt: &str, padding: usize) -> ItemWrite {
    let mut item = Item::new();
    item.insert("pk".into(), s(pk));
    item.insert("sk".into(), s(sk));
    item.insert("alt".into(), s(alt));
    item.insert("pad".into(), s(&"x".repeat(padding)));
    ItemWrite {
        table: "things".into(),
        key: PrimaryKey { partition: s(pk), sort: Some(s(sk)) },
        action: WriteAction::Put(item),
        condition: None,
        return_item_on_condition_failure: false,
        hops: 0,
    }
}

fn open(limits: Limits) -> (tempfile::TempDir, Store) {
    let dir = tempfile::tempdir().unwrap();
    let store = Store::open(dir.path(), limits, Arc::new(SystemClock)).unwrap();
    (dir, store)
}

#[test]
fn item_collection_over_its_limit_is_refused_and_other_partitions_are_not() {
    let limits = Limits { item_collection_bytes_max: 2_000, ..Limits::default() };
    let (_dir, store) = open(limits);
    block_on(store.create_table(spec(&["pk", "sk", "alt"]), vec![local_index()], "uuid".into())).unwrap();
    // Each item counts twice: once in the table, once in the ALL-projected local index.
    for i in 0..3 {
        block_on(store.write(put("a", &format!("{i}"), "x", 300))).unwrap();
    }
    let err = block_on(store.write(put("a", "3", "x", 300))).unwrap_err();
    assert!(matches!(err, Error::ItemCollectionSizeLimitExceeded), "{err}");
    block_on(store.write(put("b", "0", "x", 300))).unwrap();
    // Shrinking a collection is always allowed.
    block_on(store.write(put("a", "0", "x", 1))).unwrap();
    block_on(store.write(put("a", "3", "x", 300))).unwrap();
}

#[test]
fn added_global_index_backfills_existing_items_and_becomes_active() {
    let (_dir, store) = open(Limits::default());
    block_on(store.create_table(spec(&["pk", "sk"]), Vec::new(), "uuid".into())).unwrap();
    for i in 0..1000 {
        block_on(store.write(put(&format!("p{i}"), "s", if i % 2 == 0 { "even" } else { "odd" }, 1)))
            .unwrap();
    }
    let global = IndexSpec {
        name: "by_alt".into(),
        kind: IndexKind::Global,
        key_schema: KeySchema { partition: attr("alt"), sort: None },
        projection: Projection::KeysOnly,
        throughput: None,
    };
    let meta =
        block_on(store.alter_table("things", vec![TableChange::CreateIndex(global, vec![attr("alt")])]))
            .unwrap();
    assert_eq!(meta.index("by_alt").map(|i| i.status), Some(IndexStatus::Creating));
    let index_id = meta.index("by_alt").map(|i| i.id).unwrap_or_default();
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(30);
    while store.table("things").unwrap().index("by_alt").map(|i| i.status) != Some(IndexStatus::Active) {
        assert!(std::time::Instant::now() < deadline, "backfill did not finish");
        std::thread::sleep(std::time::Duration::from_millis(10));
    }
    assert_eq!(store.index_stats(index_id).unwrap().item_count, 1000);
}

#[test]
fn snapshot_pages_see_one_commit_while_writes_continue() {
    use crate::changelog::ChangeFeed;
    let (_dir, store) = open(Limits::default());
    block_on(store.create_table(spec(&["pk", "sk"]), Vec::new(), "uuid".into())).unwrap();
    for i in 0..50 {
        block_on(store.write(put(&format!("p{i:02}"), "s", "a", 10))).unwrap();
    }
    let mut snapshot = store.snapshot("things").unwrap();
    assert_eq!(snapshot.high_watermark(), store.position("things").unwrap().high_watermark);
    let mut seen = Vec::new();
    let mut pages = 0;
    while let Some(page) = snapshot.next_page(7, usize::MAX).unwrap() {
        assert!(page.len() <= 7);
        pages += 1;
        // Writes between pages: new items, changed items and deletes must not show.
        block_on(store.write(put(&format!("q{pages}"), "s", "new", 10))).unwrap();
        block_on(store.write(put(&format!("p{:02}", pages * 7 + 1), "s", "changed", 10))).unwrap();
        seen.extend(page);
    }
    assert_eq!(pages, 8);
    assert_eq!(seen.len(), 50);
    assert!(seen.iter().all(|item| item.get("alt") == Some(&s("a"))));
    assert!(store.position("things").unwrap().high_watermark > snapshot.high_watermark());
    assert!(snapshot.next_page(7, usize::MAX).unwrap().is_none());
}

mod changelog {
    use std::sync::atomic::{AtomicU64, Ordering};

    use super::*;
    use crate::changelog::{ChangeEvent, ChangeFeed};
    use crate::clock::Clock;
    use crate::expr::{ExpressionKind, Placeholders, parse_condition};
    use crate::store::transact::{TransactAction, TransactWrite};

    struct TestClock(AtomicU64);

    impl Clock for TestClock {
        fn now_millis(&self) -> u64 {
            self.0.load(Ordering::SeqCst)
        }
    }

    fn open_at(dir: &std::path::Path, clock: Arc<TestClock>) -> Store {
        Store::open(dir, Limits::default(), clock).unwrap()
    }

    fn table(store: &Store) {
        block_on(store.create_table(spec(&["pk", "sk"]), Vec::new(), "uuid".into())).unwrap();
    }

    fn delete(pk: &str) -> ItemWrite {
        ItemWrite {
            table: "things".into(),
            key: PrimaryKey { partition: s(pk), sort: Some(s("s")) },
            action: WriteAction::Delete,
            condition: None,
            return_item_on_condition_failure: false,
            hops: 0,
        }
    }

    #[test]
    fn a_record_exists_iff_a_write_changed_something() {
        let (_dir, store) = open(Limits::default());
        table(&store);
        block_on(store.write(put("a", "s", "x", 1))).unwrap();
        block_on(store.write(put("a", "s", "x", 1))).unwrap(); // the same item again: no change
        block_on(store.write(delete("missing"))).unwrap(); // nothing to delete
        let mut failing = put("a", "s", "y", 1);
        let mut placeholders = Placeholders::new(Default::default(), Default::default());
        failing.condition = Some(
            parse_condition("attribute_not_exists(pk)", ExpressionKind::Condition, &mut placeholders)
                .unwrap(),
        );
        assert!(block_on(store.write(failing)).is_err());
        block_on(store.write(put("a", "s", "y", 1))).unwrap();
        block_on(store.write(delete("a"))).unwrap();
        let records = store.read("things", 0, 100).unwrap();
        let events: Vec<ChangeEvent> = records.iter().map(|r| r.event).collect();
        assert_eq!(events, [ChangeEvent::Insert, ChangeEvent::Modify, ChangeEvent::Remove]);
        assert!(records.windows(2).all(|w| w[1].seq == w[0].seq + 1));
        assert_eq!(records[1].old.as_ref().and_then(|o| o.get("alt")), Some(&s("x")));
        assert_eq!(records[1].new.as_ref().and_then(|n| n.get("alt")), Some(&s("y")));
        assert_eq!(records[2].new, None);
        assert_eq!(store.position("things").unwrap().high_watermark, records[2].seq);
    }

    #[test]
    fn sequence_numbers_keep_rising_across_restarts_and_table_recreation() {
        let dir = tempfile::tempdir().unwrap();
        let clock = Arc::new(TestClock(AtomicU64::new(1_000)));
        let store = open_at(dir.path(), clock.clone());
        table(&store);
        block_on(store.write(put("a", "s", "x", 1))).unwrap();
        let first = store.position("things").unwrap().high_watermark;
        store.shutdown();
        let store = open_at(dir.path(), clock.clone());
        block_on(store.write(put("b", "s", "x", 1))).unwrap();
        let second = store.position("things").unwrap().high_watermark;
        assert!(second > first);
        block_on(store.delete_table("things")).unwrap();
        table(&store);
        block_on(store.write(put("c", "s", "x", 1))).unwrap();
        let records = store.read("things", 0, 10).unwrap();
        assert_eq!(records.len(), 1);
        assert!(records[0].seq > second, "a re-created table must not reuse sequence numbers");
    }

    #[test]
    fn a_transaction_records_contiguous_changes_with_one_transaction_id() {
        let (_dir, store) = open(Limits::default());
        table(&store);
        block_on(store.write(put("solo", "s", "x", 1))).unwrap();
        let actions = ["a", "b", "c"].iter().map(|pk| TransactAction::Write(put(pk, "s", "x", 1))).collect();
        block_on(store.transact_write(TransactWrite { actions, token: None })).unwrap();
        let records = store.read("things", 0, 10).unwrap();
        assert_eq!(records[0].transaction_id, None);
        let ids: Vec<Option<u64>> = records[1..].iter().map(|r| r.transaction_id).collect();
        assert!(ids.iter().all(|id| id.is_some() && *id == ids[0]), "{ids:?}");
        assert!(records.windows(2).all(|w| w[1].seq == w[0].seq + 1));
    }

    #[test]
    fn trimming_removes_only_records_older_than_retention_in_bounded_steps() {
        let dir = tempfile::tempdir().unwrap();
        let clock = Arc::new(TestClock(AtomicU64::new(1_000_000)));
        let store = open_at(dir.path(), clock.clone());
        table(&store);
        for i in 0..1500 {
            block_on(store.write(put(&format!("old{i}"), "s", "x", 1))).unwrap();
        }
        clock.0.fetch_add(Limits::default().retention.as_millis() as u64 + 1, Ordering::SeqCst);
        block_on(store.write(put("new", "s", "x", 1))).unwrap();
        let first_step = block_on(store.trim_step("things")).unwrap();
        assert_eq!(first_step, Limits::default().trim_step_records_max);
        assert_eq!(block_on(store.trim_all()).unwrap(), 500);
        let position = store.position("things").unwrap();
        assert_eq!(position.trim_horizon, position.high_watermark);
        let left = store.read("things", 0, 10).unwrap();
        assert_eq!(left.len(), 1);
        assert_eq!(left[0].keys.get("pk"), Some(&s("new")));
        assert_eq!(store.seq_at_time("things", 1_000_000).unwrap(), position.trim_horizon);
    }
}

mod consumers {
    use super::*;
    use crate::changelog::ChangeFeed;
    use crate::expr::{Placeholders, parse_update};
    use crate::number::Number;
    use crate::store::{ConsumerCommit, ConsumerStatus, StartPosition};

    fn add_total(pk: &str, amount: i64) -> ItemWrite {
        let values =
            [(":a".to_string(), AttributeValue::N(Number::parse(&amount.to_string()).unwrap()))].into();
        let mut placeholders = Placeholders::new(Default::default(), values);
        let update = parse_update("ADD amount :a", &mut placeholders).unwrap();
        ItemWrite {
            table: "totals".into(),
            key: PrimaryKey { partition: s(pk), sort: Some(s("t")) },
            action: WriteAction::Update(Some(update)),
            condition: None,
            return_item_on_condition_failure: false,
            hops: 1,
        }
    }

    fn setup() -> (tempfile::TempDir, Store) {
        let (dir, store) = open(Limits::default());
        block_on(store.create_table(spec(&["pk", "sk"]), Vec::new(), "uuid".into())).unwrap();
        let mut totals = spec(&["pk", "sk"]);
        totals.name = "totals".into();
        block_on(store.create_table(totals, Vec::new(), "uuid2".into())).unwrap();
        (dir, store)
    }

    #[test]
    fn a_consumer_commit_applies_its_writes_in_order_with_the_checkpoint() {
        let (_dir, store) = setup();
        block_on(store.create_consumer("view", "things", StartPosition::TrimHorizon)).unwrap();
        for i in 0..3 {
            block_on(store.write(put(&format!("o{i}"), "s", "x", 1))).unwrap();
        }
        let last = store.position("things").unwrap().high_watermark;
        let commit = ConsumerCommit {
            name: "view".into(),
            checkpoint: last,
            writes: vec![add_total("alice", 5), add_total("alice", 7), add_total("bob", 1)],
            state: None,
            counters: None,
        };
        block_on(store.commit_consumer(commit)).unwrap();
        let total = store
            .get_item("totals", &PrimaryKey { partition: s("alice"), sort: Some(s("t")) })
            .unwrap()
            .and_then(|i| i.get("amount").cloned());
        assert_eq!(total, Some(AttributeValue::N(Number::parse("12").unwrap())));
        assert_eq!(store.consumer("view").unwrap().checkpoint, last);
        let records = store.read("totals", 0, 10).unwrap();
        assert_eq!(records.len(), 3);
        assert!(records.iter().all(|r| r.hops == 1));
    }

    #[test]
    fn a_rejected_write_leaves_writes_and_checkpoint_untouched() {
        let (_dir, store) = setup();
        block_on(store.create_consumer("view", "things", StartPosition::TrimHorizon)).unwrap();
        block_on(store.write(put("o", "s", "x", 1))).unwrap();
        let mut bad = add_total("alice", 1);
        bad.table = "no-such-table".into();
        let commit = ConsumerCommit {
            name: "view".into(),
            checkpoint: 1,
            writes: vec![add_total("alice", 1), bad],
            state: None,
            counters: None,
        };
        let err = block_on(store.commit_consumer(commit)).unwrap_err();
        assert!(matches!(err, Error::WriteRejected { index: 1, .. }), "{err}");
        assert_eq!(store.read("totals", 0, 10).unwrap().len(), 0);
        assert_eq!(store.consumer("view").unwrap().checkpoint, 0);
        // Checkpoints never move backwards or past the high watermark.
        assert!(block_on(store.checkpoint("view", 99)).is_err());
        block_on(store.checkpoint("view", 1)).unwrap();
        assert!(block_on(store.checkpoint("view", 0)).is_err());
    }

    #[test]
    fn a_consumer_commit_saves_its_state_with_the_checkpoint() {
        let (_dir, store) = setup();
        block_on(store.create_consumer("view", "things", StartPosition::TrimHorizon)).unwrap();
        for i in 0..4 {
            block_on(store.write(put(&format!("o{i}"), "s", "x", 1))).unwrap();
        }
        let commit = |checkpoint: u64, state: Option<Vec<u8>>| ConsumerCommit {
            name: "view".into(),
            checkpoint,
            writes: vec![add_total("alice", 1)],
            state,
            counters: None,
        };
        block_on(store.commit_consumer(commit(1, Some(vec![0, 255, b'{'])))).unwrap();
        assert_eq!(store.consumer("view").unwrap().state, Some(vec![0, 255, b'{']));
        // None keeps the state; the checkpoint may stay where it is.
        block_on(store.commit_consumer(commit(1, None))).unwrap();
        assert_eq!(store.consumer("view").unwrap().state, Some(vec![0, 255, b'{']));
        // Too large: nothing of the commit happens, and the error says by how much.
        let big = vec![7u8; crate::store::consumer::CONSUMER_STATE_BYTES_MAX + 1];
        let err = block_on(store.commit_consumer(commit(3, Some(big)))).unwrap_err();
        assert!(err.to_string().contains("1048577 bytes; it may be at most 1048576"), "{err}");
        let consumer = store.consumer("view").unwrap();
        assert_eq!((consumer.checkpoint, consumer.state.as_deref()), (1, Some(&[0, 255, b'{'][..])));
        // Empty bytes clear it.
        block_on(store.commit_consumer(commit(2, Some(Vec::new())))).unwrap();
        let consumer = store.consumer("view").unwrap();
        assert_eq!((consumer.checkpoint, consumer.state), (2, None));
        let total = store
            .get_item("totals", &PrimaryKey { partition: s("alice"), sort: Some(s("t")) })
            .unwrap()
            .and_then(|i| i.get("amount").cloned());
        assert_eq!(total, Some(AttributeValue::N(Number::parse("3").unwrap())));
        // Counters are replaced apart from the state, and kept when not given.
        let counted = ConsumerCommit {
            name: "view".into(),
            checkpoint: 3,
            writes: Vec::new(),
            state: Some(vec![1]),
            counters: Some(b"{\"n\":3}".to_vec()),
        };
        block_on(store.commit_consumer(counted)).unwrap();
        block_on(store.commit_consumer(commit(4, Some(vec![2])))).unwrap();
        let consumer = store.consumer("view").unwrap();
        assert_eq!(consumer.state, Some(vec![2]));
        assert_eq!(consumer.counters.as_deref(), Some(&b"{\"n\":3}"[..]));
    }

    #[test]
    fn trim_horizon_starts_at_the_oldest_retained_record_of_a_recreated_table() {
        let (_dir, store) = setup();
        for i in 0..5 {
            block_on(store.write(put(&format!("o{i}"), "s", "x", 1))).unwrap();
        }
        block_on(store.delete_table("things")).unwrap();
        block_on(store.create_table(spec(&["pk", "sk"]), Vec::new(), "uuid3".into())).unwrap();
        let empty = block_on(store.create_consumer("early", "things", StartPosition::TrimHorizon)).unwrap();
        block_on(store.write(put("n", "s", "x", 1))).unwrap();
        let first = store.read("things", 0, 1).unwrap()[0].seq;
        assert!(first > 5, "a re-created table continues above the old sequence numbers");
        assert_eq!(empty.next_seq(), first);
        let late = block_on(store.create_consumer("late", "things", StartPosition::TrimHorizon)).unwrap();
        assert_eq!(late.next_seq(), first);
    }

    #[test]
    fn deleting_the_table_stops_its_consumers_with_a_reason() {
        let (_dir, store) = setup();
        block_on(store.create_consumer("view", "things", StartPosition::Latest)).unwrap();
        block_on(store.delete_table("things")).unwrap();
        let consumer = store.consumer("view").unwrap();
        assert!(
            matches!(consumer.status, ConsumerStatus::Stopped { ref reason } if reason.contains("things"))
        );
    }
}

#[test]
fn documents_are_durable_and_listed_by_kind() {
    let dir = tempfile::tempdir().unwrap();
    let store = Store::open(dir.path(), Limits::default(), Arc::new(SystemClock)).unwrap();
    assert!(!block_on(store.put_document("trigger", "b", b"two".to_vec())).unwrap());
    block_on(store.put_document("trigger", "a", b"one".to_vec())).unwrap();
    block_on(store.put_document("connector", "a", b"other".to_vec())).unwrap();
    assert!(block_on(store.put_document("trigger", "a", b"uno".to_vec())).unwrap());
    store.shutdown();
    let store = Store::open(dir.path(), Limits::default(), Arc::new(SystemClock)).unwrap();
    let triggers = store.documents("trigger").unwrap();
    assert_eq!(triggers, vec![("a".to_string(), b"uno".to_vec()), ("b".to_string(), b"two".to_vec())]);
    assert!(block_on(store.delete_document("trigger", "a")).unwrap());
    assert_eq!(store.document("trigger", "a").unwrap(), None);
    assert_eq!(store.document("connector", "a").unwrap(), Some(b"other".to_vec()));
}
