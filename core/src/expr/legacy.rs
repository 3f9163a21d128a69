//! The legacy (pre-expression) parameters: `Expected`, `KeyConditions`, `QueryFilter`,
//! `ScanFilter` with `ConditionalOperator`, and `AttributeUpdates`, checked with DynamoDB's
//! messages and converted into the trees the expression languages produce, so both forms
//! evaluate through one code path.
//!
//! Attribute names in these parameters are whole top-level names (`a.b` names the attribute
//! called `a.b`), and values come inline rather than through placeholders.

use std::cmp::Ordering;
use std::collections::BTreeMap;

use super::ExprError;
use super::condition::{Condition, Operand, order};
use super::key_condition::{KeyCondition, SortKeyCondition};
use super::path::DocumentPath;
use super::syntax::Comparator;
use super::update::{UpdateAction, UpdateExpression, UpdateOperand};
use crate::value::{AttributeValue, ValueType};

/// A legacy ComparisonOperator.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ComparisonOperator {
    /// `EQ`: equal (any type).
    Eq,
    /// `NE`: not equal (any type; true when the attribute is absent).
    Ne,
    /// `LE`.
    Le,
    /// `LT`.
    Lt,
    /// `GE`.
    Ge,
    /// `GT`.
    Gt,
    /// `NOT_NULL`: the attribute exists.
    NotNull,
    /// `NULL`: the attribute does not exist.
    Null,
    /// `CONTAINS`: substring, subsequence or set member.
    Contains,
    /// `NOT_CONTAINS`: the attribute exists and does not contain the value.
    NotContains,
    /// `BEGINS_WITH`.
    BeginsWith,
    /// `IN`: equal to one of the values.
    In,
    /// `BETWEEN`: within two bounds, inclusive.
    Between,
}

impl ComparisonOperator {
    /// Parses DynamoDB's name for the operator.
    pub fn parse(name: &str) -> Option<ComparisonOperator> {
        use ComparisonOperator as C;
        Some(match name {
            "EQ" => C::Eq,
            "NE" => C::Ne,
            "LE" => C::Le,
            "LT" => C::Lt,
            "GE" => C::Ge,
            "GT" => C::Gt,
            "NOT_NULL" => C::NotNull,
            "NULL" => C::Null,
            "CONTAINS" => C::Contains,
            "NOT_CONTAINS" => C::NotContains,
            "BEGINS_WITH" => C::BeginsWith,
            "IN" => C::In,
            "BETWEEN" => C::Between,
            _ => return None,
        })
    }

    /// DynamoDB's name for the operator.
    pub fn as_str(self) -> &'static str {
        use ComparisonOperator as C;
        match self {
            C::Eq => "EQ",
            C::Ne => "NE",
            C::Le => "LE",
            C::Lt => "LT",
            C::Ge => "GE",
            C::Gt => "GT",
            C::NotNull => "NOT_NULL",
            C::Null => "NULL",
            C::Contains => "CONTAINS",
            C::NotContains => "NOT_CONTAINS",
            C::BeginsWith => "BEGINS_WITH",
            C::In => "IN",
            C::Between => "BETWEEN",
        }
    }

    /// The enum value set in DynamoDB's message for an unknown operator.
    pub const VALUE_SET: &'static str =
        "[IN, NULL, BETWEEN, LT, NOT_CONTAINS, EQ, GT, NOT_NULL, NE, LE, BEGINS_WITH, GE, CONTAINS]";

    fn arity_ok(self, count: usize) -> bool {
        use ComparisonOperator as C;
        match self {
            C::NotNull | C::Null => count == 0,
            C::In => count >= 1,
            C::Between => count == 2,
            _ => count == 1,
        }
    }

    fn accepts(self, t: ValueType) -> bool {
        use ComparisonOperator as C;
        let scalar = matches!(t, ValueType::S | ValueType::N | ValueType::B);
        match self {
            C::Eq | C::Ne | C::NotNull | C::Null => true,
            C::BeginsWith => matches!(t, ValueType::S | ValueType::B),
            _ => scalar,
        }
    }
}

/// ConditionalOperator: how the conditions of one map combine.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum ConditionalOperator {
    /// Every condition must hold (the default).
    #[default]
    And,
    /// At least one condition must hold.
    Or,
}

impl ConditionalOperator {
    /// Parses `AND` or `OR`.
    pub fn parse(name: &str) -> Option<ConditionalOperator> {
        match name {
            "AND" => Some(ConditionalOperator::And),
            "OR" => Some(ConditionalOperator::Or),
            _ => None,
        }
    }
}

/// One entry of KeyConditions, QueryFilter or ScanFilter.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AttributeCondition {
    /// ComparisonOperator.
    pub operator: ComparisonOperator,
    /// AttributeValueList (empty when absent).
    pub values: Vec<AttributeValue>,
}

/// One entry of Expected, as sent: which fields are present matters to the checks.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct ExpectedCondition {
    /// Value.
    pub value: Option<AttributeValue>,
    /// Exists.
    pub exists: Option<bool>,
    /// ComparisonOperator.
    pub operator: Option<ComparisonOperator>,
    /// AttributeValueList.
    pub values: Option<Vec<AttributeValue>>,
}

/// The Action of one AttributeUpdates entry.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum AttributeUpdateAction {
    /// PUT (the default): set the attribute.
    #[default]
    Put,
    /// ADD: add to a number, union with a set, append to a list.
    Add,
    /// DELETE: remove the attribute, or remove members from a set.
    Delete,
}

impl AttributeUpdateAction {
    /// Parses `PUT`, `ADD` or `DELETE`.
    pub fn parse(name: &str) -> Option<AttributeUpdateAction> {
        match name {
            "PUT" => Some(AttributeUpdateAction::Put),
            "ADD" => Some(AttributeUpdateAction::Add),
            "DELETE" => Some(AttributeUpdateAction::Delete),
            _ => None,
        }
    }
}

/// One entry of AttributeUpdates.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AttributeUpdate {
    /// Action.
    pub action: AttributeUpdateAction,
    /// Value.
    pub value: Option<AttributeValue>,
}

fn invalid(detail: impl std::fmt::Display) -> ExprError {
    ExprError::new(format!("One or more parameter values were invalid: {detail}"))
}

/// DynamoDB's rule on ConditionalOperator: it needs a map (Expected, QueryFilter or
/// ScanFilter) of at least two conditions. `conditions` is the size of that map, if given.
pub fn check_conditional_operator(
    operator: Option<ConditionalOperator>,
    conditions: Option<usize>,
) -> Result<(), ExprError> {
    if operator.is_none() {
        return Ok(());
    }
    match conditions.unwrap_or(0) {
        0 => Err(ExprError::new("ConditionalOperator cannot be used without Filter or Expected")),
        1 => Err(ExprError::new(
            "ConditionalOperator can only be used when Filter or Expected has two or more elements",
        )),
        _ => Ok(()),
    }
}

/// Checks an operator's operands: their number, one type for all, a type the operator
/// accepts, and ordered BETWEEN bounds.
fn check_operands(operator: ComparisonOperator, values: &[AttributeValue]) -> Result<(), ExprError> {
    let name = operator.as_str();
    if !operator.arity_ok(values.len()) {
        return Err(invalid(format!("Invalid number of argument(s) for the {name} ComparisonOperator")));
    }
    if let Some(first) = values.first() {
        let t = first.value_type();
        if values.iter().any(|v| v.value_type() != t) {
            return Err(invalid("AttributeValues inside AttributeValueList must be of same type"));
        }
        if !operator.accepts(t) {
            return Err(invalid(format!(
                "ComparisonOperator {name} is not valid for {t} AttributeValue type"
            )));
        }
    }
    if let [low, high] = values
        && operator == ComparisonOperator::Between
        && order(low, high) == Some(Ordering::Greater)
    {
        return Err(ExprError::new(
            "The BETWEEN condition was provided a range where the lower bound is greater than the upper bound",
        ));
    }
    Ok(())
}

/// The condition `attribute <operator> values`, with operands already checked.
fn compare(attribute: &str, operator: ComparisonOperator, values: &[AttributeValue]) -> Condition {
    use ComparisonOperator as C;
    let path = DocumentPath::attribute(attribute);
    let subject = || Operand::Path(path.clone());
    let value = |i: usize| Operand::Value(values.get(i).cloned().unwrap_or(AttributeValue::Null));
    let cmp = |c: Comparator| Condition::Compare(c, subject(), value(0));
    match operator {
        C::Eq => cmp(Comparator::Eq),
        C::Ne => cmp(Comparator::Ne),
        C::Le => cmp(Comparator::Le),
        C::Lt => cmp(Comparator::Lt),
        C::Ge => cmp(Comparator::Ge),
        C::Gt => cmp(Comparator::Gt),
        C::NotNull => Condition::AttributeExists(path),
        C::Null => Condition::AttributeNotExists(path),
        C::Contains => Condition::Contains(subject(), value(0)),
        // DynamoDB's own conversion: an absent attribute does not satisfy NOT_CONTAINS.
        C::NotContains => Condition::And(vec![
            Condition::AttributeExists(path.clone()),
            Condition::Not(Box::new(Condition::Contains(subject(), value(0)))),
        ]),
        C::BeginsWith => Condition::BeginsWith(subject(), value(0)),
        C::In => Condition::In(subject(), values.iter().cloned().map(Operand::Value).collect()),
        C::Between => Condition::Between(subject(), value(0), value(1)),
    }
}

fn combine(mut parts: Vec<Condition>, operator: Option<ConditionalOperator>) -> Option<Condition> {
    match parts.len() {
        0 => None,
        1 => parts.pop(),
        _ => Some(match operator.unwrap_or_default() {
            ConditionalOperator::And => Condition::And(parts),
            ConditionalOperator::Or => Condition::Or(parts),
        }),
    }
}

/// QueryFilter or ScanFilter as a filter condition (`None` for an empty map).
pub fn filter_condition(
    filter: &BTreeMap<String, AttributeCondition>,
    operator: Option<ConditionalOperator>,
) -> Result<Option<Condition>, ExprError> {
    let mut parts = Vec::with_capacity(filter.len());
    for (attribute, condition) in filter {
        check_operands(condition.operator, &condition.values)?;
        parts.push(compare(attribute, condition.operator, &condition.values));
    }
    Ok(combine(parts, operator))
}

/// Expected as a condition (`None` for an empty map).
pub fn expected_condition(
    expected: &BTreeMap<String, ExpectedCondition>,
    operator: Option<ConditionalOperator>,
) -> Result<Option<Condition>, ExprError> {
    let mut parts = Vec::with_capacity(expected.len());
    for (attribute, e) in expected {
        if e.value.is_some() && e.values.is_some() {
            return Err(invalid(format!(
                "Value and AttributeValueList cannot be used together for Attribute: {attribute}"
            )));
        }
        let condition = match e.operator {
            Some(op) => {
                if e.exists.is_some() {
                    return Err(invalid(format!(
                        "Exists and ComparisonOperator cannot be used together for Attribute: {attribute}"
                    )));
                }
                let values: Vec<AttributeValue> = match (&e.values, &e.value) {
                    (Some(list), _) => list.clone(),
                    (None, Some(v)) => vec![v.clone()],
                    (None, None) => {
                        if !matches!(op, ComparisonOperator::Null | ComparisonOperator::NotNull) {
                            return Err(invalid(format!(
                                "Value or AttributeValueList must be used with ComparisonOperator: {} for Attribute: {attribute}",
                                op.as_str()
                            )));
                        }
                        Vec::new()
                    }
                };
                check_operands(op, &values)?;
                compare(attribute, op, &values)
            }
            None if e.values.is_some() => {
                return Err(invalid(format!(
                    "AttributeValueList can only be used with a ComparisonOperator for Attribute: {attribute}"
                )));
            }
            None => match (e.exists, &e.value) {
                (Some(false), None) => Condition::AttributeNotExists(DocumentPath::attribute(attribute)),
                (Some(false), Some(_)) => {
                    return Err(invalid(format!(
                        "Value cannot be used when Exists is false for Attribute: {attribute}"
                    )));
                }
                (exists, None) => {
                    let shown = if exists.is_some() { "true" } else { "null" };
                    return Err(invalid(format!(
                        "Value must be provided when Exists is {shown} for Attribute: {attribute}"
                    )));
                }
                (_, Some(v)) => compare(attribute, ComparisonOperator::Eq, std::slice::from_ref(v)),
            },
        };
        parts.push(condition);
    }
    Ok(combine(parts, operator))
}

/// KeyConditions of a Query against a key schema (the table's or an index's).
pub fn key_conditions(
    conditions: &BTreeMap<String, AttributeCondition>,
    partition_key: &str,
    sort_key: Option<&str>,
) -> Result<KeyCondition, ExprError> {
    if conditions.is_empty() || conditions.len() > 2 {
        return Err(ExprError::new("Conditions can be of length 1 or 2 only"));
    }
    for condition in conditions.values() {
        check_operands(condition.operator, &condition.values)?;
    }
    let count = conditions.len();
    let mut partition = None;
    let mut sort = None;
    for (attribute, is_partition) in [(Some(partition_key), true), (sort_key, false)] {
        let Some(attribute) = attribute else { continue };
        if is_partition && sort_key.is_none() && count > 1 {
            return Err(ExprError::new("Query key condition not supported"));
        }
        let Some(condition) = conditions.get(attribute) else {
            if is_partition || count > 1 {
                return Err(ExprError::new(format!(
                    "Query condition missed key schema element: {attribute}"
                )));
            }
            continue;
        };
        use ComparisonOperator as C;
        let v = |i: usize| condition.values.get(i).cloned().unwrap_or(AttributeValue::Null);
        let sort_condition = match condition.operator {
            C::Null | C::NotNull | C::Ne | C::Contains | C::NotContains | C::In => {
                return Err(ExprError::new("Attempted conditional constraint is not an indexable operation"));
            }
            C::Eq => SortKeyCondition::Eq(v(0)),
            C::Lt => SortKeyCondition::Lt(v(0)),
            C::Le => SortKeyCondition::Le(v(0)),
            C::Gt => SortKeyCondition::Gt(v(0)),
            C::Ge => SortKeyCondition::Ge(v(0)),
            C::BeginsWith => SortKeyCondition::BeginsWith(v(0)),
            C::Between => SortKeyCondition::Between(v(0), v(1)),
        };
        if is_partition {
            match sort_condition {
                SortKeyCondition::Eq(value) => partition = Some(value),
                _ => return Err(ExprError::new("Query key condition not supported")),
            }
        } else {
            sort = Some(sort_condition);
        }
    }
    let partition = partition.ok_or_else(|| {
        ExprError::new(format!("Query condition missed key schema element: {partition_key}"))
    })?;
    Ok(KeyCondition { partition, sort })
}

/// AttributeUpdates as an update expression. As with UpdateExpression, updating a key
/// attribute is rejected when the write is decided.
pub fn attribute_updates(updates: &BTreeMap<String, AttributeUpdate>) -> Result<UpdateExpression, ExprError> {
    let mut actions = Vec::with_capacity(updates.len());
    for (attribute, update) in updates {
        let path = DocumentPath::attribute(attribute);
        let action = match (update.action, &update.value) {
            (AttributeUpdateAction::Delete, None) => UpdateAction::Remove(path),
            (_, None) => {
                return Err(invalid("Only DELETE action is allowed when no attribute value is specified"));
            }
            (AttributeUpdateAction::Put, Some(v)) => UpdateAction::Set(path, UpdateOperand::Value(v.clone())),
            (AttributeUpdateAction::Delete, Some(v)) => {
                if !matches!(v.value_type(), ValueType::Ss | ValueType::Ns | ValueType::Bs) {
                    return Err(invalid(format!(
                        "DELETE action with value is not supported for the type {}",
                        v.value_type()
                    )));
                }
                UpdateAction::Delete(path, v.clone())
            }
            (AttributeUpdateAction::Add, Some(v)) => match v.value_type() {
                ValueType::N | ValueType::Ss | ValueType::Ns | ValueType::Bs => {
                    UpdateAction::Add(path, v.clone())
                }
                // ADD appends to a list (or creates it), which the ADD clause of an update
                // expression cannot do: `SET a = list_append(if_not_exists(a, []), v)`.
                ValueType::L => UpdateAction::Set(
                    path.clone(),
                    UpdateOperand::ListAppend(
                        Box::new(UpdateOperand::IfNotExists(
                            path,
                            Box::new(UpdateOperand::Value(AttributeValue::L(Vec::new()))),
                        )),
                        Box::new(UpdateOperand::Value(v.clone())),
                    ),
                ),
                t => return Err(invalid(format!("ADD action is not supported for the type {t}"))),
            },
        };
        actions.push(action);
    }
    UpdateExpression::from_actions(actions)
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;
    use crate::number::Number;
    use crate::value::Item;

    fn s(v: &str) -> AttributeValue {
        AttributeValue::S(v.to_string())
    }

    fn n(v: &str) -> AttributeValue {
        AttributeValue::N(Number::parse(v).unwrap())
    }

    fn cond(operator: ComparisonOperator, values: Vec<AttributeValue>) -> AttributeCondition {
        AttributeCondition { operator, values }
    }

    fn map<T>(entries: Vec<(&str, T)>) -> BTreeMap<String, T> {
        entries.into_iter().map(|(k, v)| (k.to_string(), v)).collect()
    }

    fn item(entries: Vec<(&str, AttributeValue)>) -> Item {
        entries.into_iter().map(|(k, v)| (k.to_string(), v)).collect()
    }

    #[test]
    fn arity_and_types_are_checked_with_dynamodb_messages() {
        let err = filter_condition(&map(vec![("a", cond(ComparisonOperator::Between, vec![s("x")]))]), None)
            .unwrap_err();
        assert_eq!(
            err.message(),
            "One or more parameter values were invalid: Invalid number of argument(s) for the BETWEEN ComparisonOperator"
        );
        let err = filter_condition(
            &map(vec![("a", cond(ComparisonOperator::Lt, vec![AttributeValue::Bool(true)]))]),
            None,
        )
        .unwrap_err();
        assert_eq!(
            err.message(),
            "One or more parameter values were invalid: ComparisonOperator LT is not valid for BOOL AttributeValue type"
        );
        let err =
            filter_condition(&map(vec![("a", cond(ComparisonOperator::In, vec![s("x"), n("1")]))]), None)
                .unwrap_err();
        assert_eq!(
            err.message(),
            "One or more parameter values were invalid: AttributeValues inside AttributeValueList must be of same type"
        );
        let err = filter_condition(
            &map(vec![("a", cond(ComparisonOperator::Between, vec![n("2"), n("1")]))]),
            None,
        )
        .unwrap_err();
        assert_eq!(
            err.message(),
            "The BETWEEN condition was provided a range where the lower bound is greater than the upper bound"
        );
    }

    #[test]
    fn filters_evaluate_like_their_expressions() {
        let it = item(vec![
            ("a", n("5")),
            ("s", s("hello")),
            ("set", AttributeValue::Ss(["x".to_string()].into())),
        ]);
        let check = |attr: &str, op, values: Vec<AttributeValue>| {
            filter_condition(&map(vec![(attr, cond(op, values))]), None).unwrap().unwrap().evaluate(&it)
        };
        assert!(check("a", ComparisonOperator::Between, vec![n("1"), n("5")]));
        assert!(check("a", ComparisonOperator::In, vec![n("4"), n("5")]));
        assert!(check("s", ComparisonOperator::BeginsWith, vec![s("he")]));
        assert!(check("set", ComparisonOperator::Contains, vec![s("x")]));
        assert!(check("missing", ComparisonOperator::Null, vec![]));
        assert!(check("missing", ComparisonOperator::Ne, vec![s("x")]));
        assert!(!check("missing", ComparisonOperator::NotContains, vec![s("x")]));
        assert!(check("s", ComparisonOperator::NotContains, vec![s("z")]));
        assert!(!check("a", ComparisonOperator::Gt, vec![s("1")]), "different types never order");
    }

    #[test]
    fn conditional_operator_combines_and_needs_two_conditions() {
        let filter = map(vec![
            ("a", cond(ComparisonOperator::Eq, vec![n("1")])),
            ("b", cond(ComparisonOperator::Eq, vec![n("2")])),
        ]);
        let it = item(vec![("a", n("1"))]);
        assert!(!filter_condition(&filter, None).unwrap().unwrap().evaluate(&it));
        assert!(filter_condition(&filter, Some(ConditionalOperator::Or)).unwrap().unwrap().evaluate(&it));
        assert!(check_conditional_operator(Some(ConditionalOperator::Or), Some(2)).is_ok());
        assert_eq!(
            check_conditional_operator(Some(ConditionalOperator::And), None).unwrap_err().message(),
            "ConditionalOperator cannot be used without Filter or Expected"
        );
        assert_eq!(
            check_conditional_operator(Some(ConditionalOperator::And), Some(1)).unwrap_err().message(),
            "ConditionalOperator can only be used when Filter or Expected has two or more elements"
        );
    }

    #[test]
    fn expected_follows_exists_and_value_rules() {
        let e = |value: Option<AttributeValue>, exists: Option<bool>| ExpectedCondition {
            value,
            exists,
            ..ExpectedCondition::default()
        };
        let it = item(vec![("a", n("1"))]);
        let eval = |c: ExpectedCondition| {
            expected_condition(&map(vec![("a", c)]), None).unwrap().unwrap().evaluate(&it)
        };
        assert!(eval(e(Some(n("1")), None)));
        assert!(eval(e(Some(n("1")), Some(true))));
        assert!(!eval(e(None, Some(false))));
        let message = |c: ExpectedCondition| {
            expected_condition(&map(vec![("a", c)]), None).unwrap_err().message().to_string()
        };
        assert_eq!(
            message(e(None, None)),
            "One or more parameter values were invalid: Value must be provided when Exists is null for Attribute: a"
        );
        assert_eq!(
            message(e(None, Some(true))),
            "One or more parameter values were invalid: Value must be provided when Exists is true for Attribute: a"
        );
        assert_eq!(
            message(e(Some(n("1")), Some(false))),
            "One or more parameter values were invalid: Value cannot be used when Exists is false for Attribute: a"
        );
        assert_eq!(
            message(ExpectedCondition {
                exists: Some(true),
                operator: Some(ComparisonOperator::Lt),
                ..ExpectedCondition::default()
            }),
            "One or more parameter values were invalid: Exists and ComparisonOperator cannot be used together for Attribute: a"
        );
        assert_eq!(
            message(ExpectedCondition {
                operator: Some(ComparisonOperator::Eq),
                ..ExpectedCondition::default()
            }),
            "One or more parameter values were invalid: Value or AttributeValueList must be used with ComparisonOperator: EQ for Attribute: a"
        );
        // A Value with a ComparisonOperator is a one-element AttributeValueList.
        assert!(eval(ExpectedCondition {
            value: Some(n("0")),
            operator: Some(ComparisonOperator::Gt),
            ..ExpectedCondition::default()
        }));
    }

    #[test]
    fn key_conditions_follow_dynamodb_rules() {
        let eq = |v: &str| cond(ComparisonOperator::Eq, vec![s(v)]);
        let kc = key_conditions(
            &map(vec![("pk", eq("p")), ("sk", cond(ComparisonOperator::BeginsWith, vec![s("x")]))]),
            "pk",
            Some("sk"),
        )
        .unwrap();
        assert_eq!(kc.partition, s("p"));
        assert_eq!(kc.sort, Some(SortKeyCondition::BeginsWith(s("x"))));
        let message = |c: BTreeMap<String, AttributeCondition>, sk: Option<&str>| {
            key_conditions(&c, "pk", sk).unwrap_err().message().to_string()
        };
        assert_eq!(message(map(vec![]), None), "Conditions can be of length 1 or 2 only");
        assert_eq!(
            message(map(vec![("sk", eq("x"))]), Some("sk")),
            "Query condition missed key schema element: pk"
        );
        assert_eq!(
            message(map(vec![("pk", eq("p")), ("other", eq("x"))]), Some("sk")),
            "Query condition missed key schema element: sk"
        );
        assert_eq!(
            message(map(vec![("pk", eq("p")), ("sk", eq("x"))]), None),
            "Query key condition not supported"
        );
        assert_eq!(
            message(map(vec![("pk", cond(ComparisonOperator::Gt, vec![s("p")]))]), None),
            "Query key condition not supported"
        );
        assert_eq!(
            message(map(vec![("pk", cond(ComparisonOperator::NotNull, vec![]))]), None),
            "Attempted conditional constraint is not an indexable operation"
        );
    }

    #[test]
    fn attribute_updates_apply_put_add_delete() {
        let up = |action, value| AttributeUpdate { action, value };
        let updates = map(vec![
            ("count", up(AttributeUpdateAction::Add, Some(n("2")))),
            ("gone", up(AttributeUpdateAction::Delete, None)),
            ("list", up(AttributeUpdateAction::Add, Some(AttributeValue::L(vec![n("3")])))),
            ("name", up(AttributeUpdateAction::Put, Some(s("new")))),
            ("tags", up(AttributeUpdateAction::Delete, Some(AttributeValue::Ss(["a".to_string()].into())))),
        ]);
        let before = item(vec![
            ("count", n("1")),
            ("gone", s("x")),
            ("list", AttributeValue::L(vec![n("1")])),
            ("tags", AttributeValue::Ss(["a".to_string(), "b".to_string()].into())),
        ]);
        let after = attribute_updates(&updates).unwrap().apply(&before).unwrap();
        assert_eq!(
            after,
            item(vec![
                ("count", n("3")),
                ("list", AttributeValue::L(vec![n("1"), n("3")])),
                ("name", s("new")),
                ("tags", AttributeValue::Ss(["b".to_string()].into())),
            ])
        );
        let fresh = attribute_updates(&updates).unwrap().apply(&Item::new()).unwrap();
        assert_eq!(fresh.get("list"), Some(&AttributeValue::L(vec![n("3")])));
        assert_eq!(fresh.get("count"), Some(&n("2")));
        let message =
            |u: AttributeUpdate| attribute_updates(&map(vec![("a", u)])).unwrap_err().message().to_string();
        assert_eq!(
            message(up(AttributeUpdateAction::Put, None)),
            "One or more parameter values were invalid: Only DELETE action is allowed when no attribute value is specified"
        );
        assert_eq!(
            message(up(AttributeUpdateAction::Delete, Some(n("1")))),
            "One or more parameter values were invalid: DELETE action with value is not supported for the type N"
        );
        assert_eq!(
            message(up(AttributeUpdateAction::Add, Some(s("x")))),
            "One or more parameter values were invalid: ADD action is not supported for the type S"
        );
    }
}
