//! Transactions (TransactWriteItems, TransactGetItems): every action is decided against the
//! state inside the writer's transaction, and the mutations are applied only if every action
//! passed; otherwise nothing is applied and each action's [`CancellationReason`] is returned in
//! request order. ClientRequestTokens make retries idempotent: a committed transaction's token is
//! recorded in the same redb transaction as its writes.

use std::collections::HashSet;

use redb::{ReadableTable, WriteTransaction};
use sha2::{Digest, Sha256};

use crate::codec;
use crate::error::{CancellationReason, Error};
use crate::expr::Condition;
use crate::key::PrimaryKey;
use crate::limits::Limits;
use crate::store::catalog::Tables;
use crate::store::decide::{self, Mutation};
use crate::store::{ItemWrite, WriteAction, WriteOutcome, layout};
use crate::value::{Item, item_size_bytes};

/// A TransactWriteItems request: up to `Limits::transact_actions_max` actions on distinct
/// items, committed all together or not at all.
#[derive(Debug)]
pub struct TransactWrite {
    /// The actions, in request order.
    pub actions: Vec<TransactAction>,
    /// ClientRequestToken: a retry with the same token and the same actions within
    /// `Limits::idempotency_window` of the commit writes nothing again.
    pub token: Option<String>,
}

/// One action of a [`TransactWrite`].
#[derive(Debug)]
pub enum TransactAction {
    /// Put, Update or Delete, with its optional condition.
    Write(ItemWrite),
    /// A PartiQL INSERT: a write whose condition guards that no item has its key, so a failed
    /// condition is reported as [`CancellationReason::DuplicateItem`].
    Insert(ItemWrite),
    /// ConditionCheck: the condition must hold; the item is not changed.
    Check(ConditionCheck),
}

/// A ConditionCheck action.
#[derive(Debug)]
pub struct ConditionCheck {
    /// Table name.
    pub table: String,
    /// The item's key, checked against the table's key schema.
    pub key: PrimaryKey,
    /// ConditionExpression, evaluated against the current item (empty when absent).
    pub condition: Condition,
    /// ReturnValuesOnConditionCheckFailure = ALL_OLD.
    pub return_item_on_condition_failure: bool,
}

impl TransactAction {
    fn table(&self) -> &str {
        match self {
            TransactAction::Write(w) | TransactAction::Insert(w) => &w.table,
            TransactAction::Check(c) => &c.table,
        }
    }

    fn key(&self) -> &PrimaryKey {
        match self {
            TransactAction::Write(w) | TransactAction::Insert(w) => &w.key,
            TransactAction::Check(c) => &c.key,
        }
    }
}

/// A ClientRequestToken with the hash of the request it was given with.
#[derive(Debug)]
pub(crate) struct Token {
    pub name: String,
    pub request_hash: [u8; 32],
}

/// Checks the rules a transaction breaks before looking at any item: the number of actions, one
/// action per item, the aggregate size.
pub(crate) fn validate_write(actions: &[TransactAction], limits: &Limits) -> Result<(), Error> {
    check_count(actions.len(), limits)?;
    check_distinct(actions.iter().map(|a| (a.table(), a.key())))?;
    let bytes: usize = actions
        .iter()
        .map(|a| match a {
            TransactAction::Write(ItemWrite { action: WriteAction::Put(item), .. })
            | TransactAction::Insert(ItemWrite { action: WriteAction::Put(item), .. }) => {
                item_size_bytes(item)
            }
            other => other.key().encode().len(),
        })
        .sum();
    if bytes > limits.transact_request_bytes_max {
        return Err(Error::validation(format!(
            "Transaction request cannot be larger than {} MB",
            limits.transact_request_bytes_max / (1024 * 1024)
        )));
    }
    Ok(())
}

/// Checks a TransactGetItems request: the number of gets, one get per item.
pub(crate) fn validate_get(gets: &[(String, PrimaryKey)], limits: &Limits) -> Result<(), Error> {
    check_count(gets.len(), limits)?;
    check_distinct(gets.iter().map(|(table, key)| (table.as_str(), key)))
}

fn check_count(count: usize, limits: &Limits) -> Result<(), Error> {
    if count == 0 {
        return Err(Error::validation(
            "1 validation error detected: Value at 'transactItems' failed to satisfy constraint: Member must have length greater than or equal to 1",
        ));
    }
    if count > limits.transact_actions_max {
        return Err(Error::validation(format!(
            "1 validation error detected: Value at 'transactItems' failed to satisfy constraint: Member must have length less than or equal to {}",
            limits.transact_actions_max
        )));
    }
    Ok(())
}

fn check_distinct<'a>(items: impl Iterator<Item = (&'a str, &'a PrimaryKey)>) -> Result<(), Error> {
    let mut seen = HashSet::new();
    for (table, key) in items {
        if !seen.insert((table, key.encode())) {
            return Err(Error::validation(
                "Transaction request cannot include multiple operations on one item",
            ));
        }
    }
    Ok(())
}

/// The SHA-256 of the request's canonical form: tables, encoded keys, encoded put items, and the
/// checked expression trees (placeholders resolved), so that two requests that mean the same
/// thing hash the same whatever their JSON order or placeholder names.
pub(crate) fn request_hash(actions: &[TransactAction]) -> [u8; 32] {
    fn field(hasher: &mut Sha256, bytes: &[u8]) {
        hasher.update((bytes.len() as u64).to_le_bytes());
        hasher.update(bytes);
    }
    let mut hasher = Sha256::new();
    for action in actions {
        field(&mut hasher, action.table().as_bytes());
        field(&mut hasher, &action.key().encode());
        match action {
            TransactAction::Write(write) | TransactAction::Insert(write) => {
                if matches!(action, TransactAction::Insert(_)) {
                    field(&mut hasher, b"insert");
                }
                match &write.action {
                    WriteAction::Put(item) => {
                        field(&mut hasher, b"put");
                        field(&mut hasher, &codec::encode_item(item));
                    }
                    WriteAction::Update(update) => {
                        field(&mut hasher, b"update");
                        field(&mut hasher, format!("{update:?}").as_bytes());
                    }
                    WriteAction::Delete => field(&mut hasher, b"delete"),
                }
                field(&mut hasher, format!("{:?}", write.condition).as_bytes());
                field(&mut hasher, &[u8::from(write.return_item_on_condition_failure)]);
            }
            TransactAction::Check(check) => {
                field(&mut hasher, b"check");
                field(&mut hasher, format!("{:?}", check.condition).as_bytes());
                field(&mut hasher, &[u8::from(check.return_item_on_condition_failure)]);
            }
        }
    }
    hasher.finalize().into()
}

/// What the writer does with a transaction.
#[derive(Debug)]
pub(crate) enum Decision {
    /// A retry of a committed transaction: answer without writing anything.
    Replay(Vec<WriteOutcome>),
    /// Rejected as a whole; nothing is applied.
    Rejected(Error),
    /// Every action passed: apply the mutations, in action order.
    Apply {
        /// The Put, Update and Delete actions' mutations.
        mutations: Vec<Mutation>,
        /// Per action: `None` for a write (its outcome comes from its mutation), or the item a
        /// ConditionCheck found.
        checked: Vec<Option<Option<Item>>>,
    },
}

/// Decides a transaction inside the writer's transaction. `Err` only for storage failures.
pub(crate) fn decide(
    txn: &WriteTransaction,
    tables: &Tables,
    actions: &[TransactAction],
    token: Option<&Token>,
    limits: &Limits,
    now_millis: u64,
) -> Result<Decision, Error> {
    if let Some(token) = token
        && let Some(replayed) = replay(txn, token, limits, now_millis)?
    {
        return Ok(replayed);
    }
    let mut mutations = Vec::new();
    let mut checked = Vec::with_capacity(actions.len());
    let mut reasons = Vec::with_capacity(actions.len());
    let mut cancelled = false;
    for action in actions {
        let decided = match action {
            TransactAction::Write(write) | TransactAction::Insert(write) => {
                decide::decide_write(txn, tables, write, limits).map(|m| {
                    mutations.push(m);
                    checked.push(None);
                })
            }
            TransactAction::Check(check) => decide_check(txn, tables, check).map(|item| {
                checked.push(Some(item));
            }),
        };
        let reason = match decided {
            Ok(()) => CancellationReason::None,
            Err(Error::ConditionalCheckFailed { .. }) if matches!(action, TransactAction::Insert(_)) => {
                CancellationReason::DuplicateItem
            }
            Err(Error::ConditionalCheckFailed { item }) => {
                CancellationReason::ConditionalCheckFailed { item }
            }
            Err(Error::Validation { message }) => CancellationReason::ValidationError { message },
            Err(e @ (Error::Storage(_) | Error::Corrupt(_))) => return Err(e),
            // A table deleted since the request was checked fails the request as a whole, as
            // DynamoDB does for a missing table.
            Err(other) => return Ok(Decision::Rejected(other)),
        };
        cancelled |= reason != CancellationReason::None;
        reasons.push(reason);
    }
    if cancelled {
        return Ok(Decision::Rejected(Error::TransactionCanceled { reasons }));
    }
    Ok(Decision::Apply { mutations, checked })
}

/// Evaluates a ConditionCheck; returns the item it found.
fn decide_check(
    txn: &WriteTransaction,
    tables: &Tables,
    check: &ConditionCheck,
) -> Result<Option<Item>, Error> {
    let meta = decide::table(tables, &check.table)?;
    let current = decide::read_item(txn, meta.id, &check.key.encode())?;
    let empty = Item::new();
    if !check.condition.evaluate(current.as_ref().unwrap_or(&empty)) {
        let item = if check.return_item_on_condition_failure { current } else { None };
        return Err(Error::ConditionalCheckFailed { item });
    }
    Ok(current)
}

/// Puts the per-action outcomes together: writes from their mutations, checks from the item
/// they found (unchanged, so before and after are the same).
pub(crate) fn outcomes(checked: Vec<Option<Option<Item>>>, applied: Vec<WriteOutcome>) -> Vec<WriteOutcome> {
    let mut applied = applied.into_iter();
    checked
        .into_iter()
        .map(|check| match check {
            None => applied.next().unwrap_or_default(),
            Some(item) => WriteOutcome { old: item.clone(), new: item },
        })
        .collect()
}

/// A live record of the token: the same request replays (one empty outcome per action, as the
/// images belong to the first commit), a different one is a mismatch.
fn replay(
    txn: &WriteTransaction,
    token: &Token,
    limits: &Limits,
    now_millis: u64,
) -> Result<Option<Decision>, Error> {
    let tokens = txn.open_table(layout::TRANSACT_TOKENS)?;
    let Some(entry) = tokens.get(token.name.as_str())? else {
        return Ok(None);
    };
    let (hash, committed_at, actions) = entry.value();
    if expired(committed_at, limits, now_millis) {
        return Ok(None);
    }
    if hash != token.request_hash {
        return Ok(Some(Decision::Rejected(Error::IdempotentParameterMismatch)));
    }
    let count = usize::try_from(actions).map_err(|_| Error::Corrupt("transact token action count".into()))?;
    Ok(Some(Decision::Replay(vec![WriteOutcome::default(); count])))
}

fn expired(committed_at: u64, limits: &Limits, now_millis: u64) -> bool {
    let window = u64::try_from(limits.idempotency_window.as_millis()).unwrap_or(u64::MAX);
    now_millis.saturating_sub(committed_at) >= window
}

/// Records a committed transaction's token, then removes a bounded number of expired tokens.
pub(crate) fn record(
    txn: &WriteTransaction,
    token: &Token,
    actions: usize,
    limits: &Limits,
    now_millis: u64,
) -> Result<(), Error> {
    let mut tokens = txn.open_table(layout::TRANSACT_TOKENS)?;
    let mut ages = txn.open_table(layout::TRANSACT_TOKEN_AGES)?;
    let previous = tokens
        .insert(token.name.as_str(), (token.request_hash.as_slice(), now_millis, actions as u64))?
        .map(|g| g.value().1);
    if let Some(previous_at) = previous {
        ages.remove((previous_at, token.name.as_str()))?;
    }
    ages.insert((now_millis, token.name.as_str()), ())?;
    let mut stale = Vec::new();
    for entry in ages.iter()?.take(limits.idempotency_trim_tokens_max) {
        let (key, _) = entry?;
        let (committed_at, name) = key.value();
        if !expired(committed_at, limits, now_millis) {
            break;
        }
        stale.push((committed_at, name.to_string()));
    }
    for (committed_at, name) in stale {
        ages.remove((committed_at, name.as_str()))?;
        tokens.remove(name.as_str())?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;
    use std::sync::atomic::{AtomicU64, Ordering};

    use super::*;
    use crate::clock::Clock;
    use crate::expr::{ExpressionKind, Placeholders, parse_condition, parse_update};
    use crate::key::{KeyAttribute, KeySchema, ScalarType};
    use crate::schema::{BillingMode, TableSpec};
    use crate::store::Store;
    use crate::value::AttributeValue;

    struct TestClock(AtomicU64);

    impl Clock for TestClock {
        fn now_millis(&self) -> u64 {
            self.0.load(Ordering::SeqCst)
        }
    }

    use crate::store::test_support::block_on;

    fn s(v: &str) -> AttributeValue {
        AttributeValue::S(v.into())
    }

    fn n(v: i64) -> AttributeValue {
        AttributeValue::N(crate::number::Number::parse(&v.to_string()).unwrap())
    }

    fn key(pk: &str) -> PrimaryKey {
        let schema = schema();
        let item = Item::from([("pk".to_string(), s(pk))]);
        schema.key_of_item(&item, &Limits::default()).unwrap()
    }

    fn schema() -> KeySchema {
        KeySchema { partition: KeyAttribute { name: "pk".into(), scalar_type: ScalarType::S }, sort: None }
    }

    fn condition(text: &str, values: &[(&str, AttributeValue)]) -> Condition {
        let mut placeholders = Placeholders::new(
            Default::default(),
            values.iter().map(|(k, v)| (k.to_string(), v.clone())).collect(),
        );
        parse_condition(text, ExpressionKind::Condition, &mut placeholders).unwrap()
    }

    fn put(pk: &str, extra: &[(&str, AttributeValue)], cond: Option<Condition>) -> TransactAction {
        let mut item = Item::from([("pk".to_string(), s(pk))]);
        item.extend(extra.iter().map(|(k, v)| (k.to_string(), v.clone())));
        TransactAction::Write(ItemWrite {
            table: "tbl".into(),
            key: key(pk),
            action: WriteAction::Put(item),
            condition: cond,
            return_item_on_condition_failure: true,
            hops: 0,
        })
    }

    fn add(pk: &str, by: i64) -> TransactAction {
        let mut placeholders = Placeholders::new(Default::default(), [(":d".to_string(), n(by))].into());
        let update = parse_update("ADD c :d", &mut placeholders).unwrap();
        TransactAction::Write(ItemWrite {
            table: "tbl".into(),
            key: key(pk),
            action: WriteAction::Update(Some(update)),
            condition: None,
            return_item_on_condition_failure: false,
            hops: 0,
        })
    }

    fn check(pk: &str, cond: Condition) -> TransactAction {
        TransactAction::Check(ConditionCheck {
            table: "tbl".into(),
            key: key(pk),
            condition: cond,
            return_item_on_condition_failure: false,
        })
    }

    fn store() -> (tempfile::TempDir, Store, Arc<TestClock>) {
        let dir = tempfile::tempdir().unwrap();
        let clock = Arc::new(TestClock(AtomicU64::new(1_000_000)));
        let store = Store::open(dir.path(), Limits::default(), clock.clone()).unwrap();
        let spec = TableSpec {
            name: "tbl".into(),
            key_schema: schema(),
            attribute_definitions: vec![schema().partition],
            billing: BillingMode::PayPerRequest,
            tags: Default::default(),
            stream: None,
            deletion_protection: false,
            table_class: "STANDARD".into(),
        };
        block_on(store.create_table(spec, Vec::new(), "uuid".into())).unwrap();
        (dir, store, clock)
    }

    fn write(actions: Vec<TransactAction>, token: Option<&str>) -> TransactWrite {
        TransactWrite { actions, token: token.map(str::to_string) }
    }

    fn counter(store: &Store, pk: &str) -> Option<AttributeValue> {
        store.get_item("tbl", &key(pk)).unwrap().and_then(|i| i.get("c").cloned())
    }

    #[test]
    fn one_failed_condition_cancels_every_action_with_reasons_in_order() {
        let (_dir, store, _clock) = store();
        block_on(store.transact_write(write(vec![put("a", &[("v", n(1))], None)], None))).unwrap();
        let fails = condition("attribute_not_exists(pk)", &[]);
        let actions = vec![add("b", 1), put("a", &[("v", n(2))], Some(fails))];
        let err = block_on(store.transact_write(write(actions, None))).unwrap_err();
        let Error::TransactionCanceled { reasons } = &err else { panic!("{err:?}") };
        assert_eq!(reasons.len(), 2);
        assert_eq!(reasons[0], CancellationReason::None);
        let CancellationReason::ConditionalCheckFailed { item: Some(item) } = &reasons[1] else {
            panic!("{reasons:?}")
        };
        assert_eq!(item.get("v"), Some(&n(1)));
        assert_eq!(
            err.to_string(),
            "Transaction cancelled, please refer cancellation reasons for specific reasons [None, ConditionalCheckFailed]"
        );
        assert_eq!(counter(&store, "b"), None, "the passing action was not applied");
        assert_eq!(store.get_item("tbl", &key("a")).unwrap().unwrap().get("v"), Some(&n(1)));
    }

    #[test]
    fn condition_checks_write_nothing_and_validation_errors_are_reasons() {
        let (_dir, store, _clock) = store();
        block_on(store.transact_write(write(vec![put("a", &[("c", s("text"))], None)], None))).unwrap();
        let holds = condition("attribute_exists(pk)", &[]);
        let outcomes = block_on(store.transact_write(write(vec![check("a", holds)], None))).unwrap();
        assert_eq!(outcomes.len(), 1);
        assert_eq!(outcomes[0].old, outcomes[0].new);
        // ADD to a string fails only once the item is read: a ValidationError reason.
        let err = block_on(store.transact_write(write(vec![add("a", 1), add("z", 1)], None))).unwrap_err();
        let Error::TransactionCanceled { reasons } = err else { panic!() };
        assert!(matches!(reasons[0], CancellationReason::ValidationError { .. }), "{reasons:?}");
        assert_eq!(reasons[1], CancellationReason::None);
        assert_eq!(counter(&store, "z"), None);
    }

    #[test]
    fn duplicate_items_and_too_many_actions_are_rejected_before_deciding() {
        let (_dir, store, _clock) = store();
        let err = block_on(store.transact_write(write(vec![add("a", 1), add("a", 2)], None))).unwrap_err();
        assert_eq!(err.to_string(), "Transaction request cannot include multiple operations on one item");
        let many = (0..101).map(|i| add(&format!("k{i}"), 1)).collect();
        let err = block_on(store.transact_write(write(many, None))).unwrap_err();
        assert!(err.to_string().contains("Member must have length less than or equal to 100"), "{err}");
        let err = store.transact_get(&[("tbl".into(), key("a")), ("tbl".into(), key("a"))]).unwrap_err();
        assert_eq!(err.to_string(), "Transaction request cannot include multiple operations on one item");
    }

    #[test]
    fn a_token_replays_within_the_window_and_expires_after_it() {
        let (_dir, store, clock) = store();
        block_on(store.transact_write(write(vec![add("a", 1)], Some("tok")))).unwrap();
        let replayed = block_on(store.transact_write(write(vec![add("a", 1)], Some("tok")))).unwrap();
        assert_eq!(replayed.len(), 1);
        assert_eq!(counter(&store, "a"), Some(n(1)), "the retry wrote nothing");
        let err = block_on(store.transact_write(write(vec![add("a", 2)], Some("tok")))).unwrap_err();
        assert!(matches!(err, Error::IdempotentParameterMismatch), "{err:?}");
        clock.0.fetch_add(10 * 60 * 1000, Ordering::SeqCst);
        block_on(store.transact_write(write(vec![add("a", 2)], Some("tok")))).unwrap();
        assert_eq!(counter(&store, "a"), Some(n(3)), "an expired token is a new request");
    }

    #[test]
    fn a_cancelled_transaction_does_not_use_up_its_token() {
        let (_dir, store, _clock) = store();
        let fails = condition("attribute_exists(pk)", &[]);
        let err =
            block_on(store.transact_write(write(vec![check("a", fails.clone())], Some("tok")))).unwrap_err();
        assert!(matches!(err, Error::TransactionCanceled { .. }));
        block_on(store.transact_write(write(vec![put("a", &[], None)], None))).unwrap();
        block_on(store.transact_write(write(vec![check("a", fails)], Some("tok")))).unwrap();
    }

    #[test]
    fn expired_tokens_are_trimmed_in_bounded_batches() {
        let (_dir, store, clock) = store();
        let trim = store.limits().idempotency_trim_tokens_max;
        for i in 0..trim + 10 {
            block_on(store.transact_write(write(vec![add("a", 1)], Some(&format!("old{i}"))))).unwrap();
        }
        clock.0.fetch_add(10 * 60 * 1000, Ordering::SeqCst);
        block_on(store.transact_write(write(vec![add("a", 1)], Some("new")))).unwrap();
        let count = || {
            let txn = redb::ReadableDatabase::begin_read(&*store.inner.db).unwrap();
            let tokens = txn.open_table(layout::TRANSACT_TOKENS).unwrap();
            let ages = txn.open_table(layout::TRANSACT_TOKEN_AGES).unwrap();
            (
                redb::ReadableTableMetadata::len(&tokens).unwrap(),
                redb::ReadableTableMetadata::len(&ages).unwrap(),
            )
        };
        let n_total = (trim + 11) as u64;
        assert_eq!(count(), (n_total - trim as u64, n_total - trim as u64));
        block_on(store.transact_write(write(vec![add("a", 1)], Some("newer")))).unwrap();
        assert_eq!(count(), (2, 2), "the rest of the expired tokens go with the next commit");
    }

    #[test]
    fn the_request_hash_ignores_placeholder_names() {
        let a = condition("v = :x", &[(":x", n(1))]);
        let b = condition("v = :y", &[(":y", n(1))]);
        let c = condition("v = :y", &[(":y", n(2))]);
        assert_eq!(request_hash(&[check("a", a)]), request_hash(&[check("a", b)]));
        assert_ne!(
            request_hash(&[check("a", condition("v = :y", &[(":y", n(1))]))]),
            request_hash(&[check("a", c)])
        );
    }
}
