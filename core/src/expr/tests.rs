//! Tests of the expression languages: parsing, DynamoDB's messages, evaluation and updates.

// A failed unwrap is a failed test.
#![allow(clippy::unwrap_used)]

use std::collections::{BTreeMap, BTreeSet};
use std::time::{Duration, Instant};

use super::*;
use crate::number::Number;
use crate::value::{AttributeValue as V, Item};

fn n(text: &str) -> V {
    V::N(Number::parse(text).unwrap())
}

fn s(text: &str) -> V {
    V::S(text.to_string())
}

fn ss(members: &[&str]) -> V {
    V::Ss(members.iter().map(|m| m.to_string()).collect())
}

fn ns(members: &[&str]) -> V {
    V::Ns(members.iter().map(|m| Number::parse(m).unwrap()).collect())
}

fn map(entries: &[(&str, V)]) -> V {
    V::M(entries.iter().map(|(k, v)| (k.to_string(), v.clone())).collect())
}

fn item(entries: &[(&str, V)]) -> Item {
    entries.iter().map(|(k, v)| (k.to_string(), v.clone())).collect()
}

fn placeholders(names: &[(&str, &str)], values: &[(&str, V)]) -> Placeholders {
    Placeholders::new(
        names.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect(),
        values.iter().map(|(k, v)| (k.to_string(), v.clone())).collect(),
    )
}

/// A sample item most condition tests read.
fn sample() -> Item {
    item(&[
        ("pk", s("p1")),
        ("num", n("10")),
        ("str", s("hello world")),
        ("bin", V::B(vec![1, 2, 3])),
        ("flag", V::Bool(true)),
        ("nothing", V::Null),
        ("tags", ss(&["red", "blue"])),
        ("scores", ns(&["1", "2.5"])),
        ("lst", V::L(vec![s("a"), n("2"), map(&[("x", n("1"))])])),
        ("m", map(&[("nest", map(&[("deep", s("v"))])), ("cnt", n("3"))])),
    ])
}

fn values() -> Vec<(&'static str, V)> {
    vec![
        (":ten", n("10")),
        (":five", n("5")),
        (":twenty", n("20")),
        (":hello", s("hello")),
        (":world", s("world")),
        (":red", s("red")),
        (":two", n("2")),
        (":three", n("3")),
        (":b12", V::B(vec![1, 2])),
        (":b3", V::B(vec![3])),
        (":s_type", s("SS")),
        (":n_type", s("N")),
        (":bogus_type", s("XYZ")),
        (":true", V::Bool(true)),
        (":p1", s("p1")),
        (":elem", map(&[("x", n("1"))])),
    ]
}

/// Evaluates `text` against the sample item with every sample value defined.
fn check(text: &str) -> bool {
    let mut ph = placeholders(&[("#n", "num"), ("#m", "m")], &values());
    match parse_condition(text, ExpressionKind::Condition, &mut ph) {
        Ok(c) => c.evaluate(&sample()),
        Err(e) => panic!("{text}: {e}"),
    }
}

fn condition_error(text: &str, ph: &mut Placeholders) -> String {
    match parse_condition(text, ExpressionKind::Condition, ph) {
        Ok(c) => panic!("{text}: parsed as {c:?}"),
        Err(e) => e.message().to_string(),
    }
}

fn condition_error_with_samples(text: &str) -> String {
    condition_error(text, &mut placeholders(&[("#n", "num")], &values()))
}

// ---- conditions: operators ----

#[test]
fn comparisons_order_numbers_numerically_and_strings_bytewise() {
    assert!(check("num = :ten"));
    assert!(check("num <> :five"));
    assert!(check("num > :five"));
    assert!(check("num >= :ten"));
    assert!(check("num < :twenty"));
    assert!(check("num <= :ten"));
    assert!(!check("num < :ten"));
    assert!(check("str > :hello"));
    assert!(check(":hello < :world"));
    assert!(check("bin > :b12"));
    assert!(check("#n = :ten"));
}

#[test]
fn comparing_different_types_is_false_except_not_equal() {
    assert!(!check("num = :hello"));
    assert!(!check("num < :hello"));
    assert!(!check("num >= :hello"));
    assert!(check("num <> :hello"));
    assert!(!check("absent = :ten"));
    assert!(check("absent <> :ten"));
    assert!(!check("absent < :ten"));
    assert!(!check("flag > :true"));
}

#[test]
fn maps_and_lists_compare_equal_by_content() {
    assert!(check("lst[2] = :elem"));
    assert!(check("m.cnt = :three"));
    assert!(check("lst[0] <> lst[1]"));
    assert!(!check("lst[2] = m"));
}

#[test]
fn between_is_inclusive_and_typed() {
    assert!(check("num BETWEEN :five AND :twenty"));
    assert!(check("num BETWEEN :ten AND :ten"));
    assert!(!check("num BETWEEN :two AND :five"));
    assert!(!check("str BETWEEN :two AND :five"));
    assert!(!check("absent BETWEEN :two AND :five"));
}

#[test]
fn in_matches_any_listed_value() {
    assert!(check("num IN (:five, :ten)"));
    assert!(!check("num IN (:five, :twenty)"));
    assert!(check("str IN (:hello, str)"));
    assert!(!check("absent IN (:five, :ten)"));
}

#[test]
fn in_accepts_one_hundred_operands_and_rejects_more() {
    let mut vals: Vec<(String, V)> = (0..101).map(|i| (format!(":v{i}"), n(&i.to_string()))).collect();
    let lst = |k: usize| (0..k).map(|i| format!(":v{i}")).collect::<Vec<_>>().join(", ");
    let mut ph = Placeholders::new(BTreeMap::new(), vals.drain(..).collect());
    assert!(parse_condition(&format!("a IN ({})", lst(100)), ExpressionKind::Condition, &mut ph).is_ok());
    assert_eq!(
        condition_error(&format!("a IN ({})", lst(101)), &mut ph),
        "Invalid ConditionExpression: The IN operator is provided with too many operands; number of operands: 101"
    );
}

#[test]
fn logical_operators_follow_not_and_or_precedence() {
    // NOT binds tighter than AND, AND tighter than OR.
    assert!(check("num = :five OR num = :ten AND str = :hello OR flag = :true"));
    assert!(!check("num = :five OR num = :ten AND str = :hello"));
    assert!(check("(num = :five OR num = :ten) AND NOT str = :hello"));
    assert!(!check("NOT num = :ten AND num = :ten"));
    assert!(check("NOT (num = :ten AND num = :five)"));
    assert!(check("NOT NOT num = :ten"));
    assert!(check("num = :ten and not num = :five or num = :five"));
}

#[test]
fn logical_tree_shape_reflects_precedence() {
    let mut ph = placeholders(&[], &[(":v", n("1"))]);
    let c = parse_condition("a = :v OR b = :v AND NOT c = :v", ExpressionKind::Filter, &mut ph).unwrap();
    let Condition::Or(items) = c else { panic!("not an OR") };
    assert_eq!(items.len(), 2);
    assert!(matches!(items[0], Condition::Compare(Comparator::Eq, _, _)));
    let Condition::And(ands) = &items[1] else { panic!("not an AND") };
    assert!(matches!(ands[1], Condition::Not(_)));
}

#[test]
fn attribute_exists_and_not_exists_follow_nested_paths() {
    assert!(check("attribute_exists(m.nest.deep)"));
    assert!(check("attribute_exists(lst[2].x)"));
    assert!(!check("attribute_exists(lst[3])"));
    assert!(check("attribute_not_exists(m.nest.nope)"));
    assert!(check("attribute_not_exists(str.x)"));
    assert!(check("attribute_exists(#m.#n) OR attribute_exists(#m)"));
}

#[test]
fn attribute_type_checks_the_stored_type() {
    assert!(check("attribute_type(tags, :s_type)"));
    assert!(check("attribute_type(num, :n_type)"));
    assert!(!check("attribute_type(str, :n_type)"));
    assert!(!check("attribute_type(absent, :n_type)"));
}

#[test]
fn begins_with_works_on_strings_and_binary() {
    assert!(check("begins_with(str, :hello)"));
    assert!(!check("begins_with(str, :world)"));
    assert!(check("begins_with(bin, :b12)"));
    assert!(!check("begins_with(num, :hello)"));
}

#[test]
fn contains_finds_substrings_set_members_and_list_elements() {
    assert!(check("contains(str, :world)"));
    assert!(!check("contains(str, :red)"));
    assert!(check("contains(tags, :red)"));
    assert!(!check("contains(tags, :hello)"));
    assert!(check("contains(scores, :two) OR contains(lst, :two)"));
    assert!(check("contains(lst, :two)"));
    assert!(check("contains(lst, :elem)"));
    assert!(check("contains(bin, :b3)"));
    assert!(!check("contains(absent, :two)"));
}

#[test]
fn size_counts_string_binary_set_list_and_map() {
    assert!(check("size(str) = :twenty OR size(str) > :ten"));
    assert!(check("size(bin) = :three"));
    assert!(check("size(tags) = :two"));
    assert!(check("size(lst) = :three"));
    assert!(check("size(m) = :two"));
    assert!(!check("size(num) = :two"));
    assert!(!check("size(absent) = :two"));
    assert!(check("size(lst) BETWEEN :two AND :three"));
    assert!(check(":two < size(m.nest.deep) OR size(m.nest.deep) < :two"));
}

#[test]
fn parenthesized_operands_are_accepted() {
    assert!(check("(num) = :ten"));
    assert!(check("(size(str)) > :ten"));
    assert!(check("num = (:ten)"));
}

#[test]
fn keywords_and_functions_are_case_insensitive_where_dynamodb_allows() {
    assert!(check("num between :five and :twenty"));
    assert!(check("num in (:ten)"));
}

#[test]
fn missing_item_evaluates_as_empty() {
    let mut ph = placeholders(&[], &[(":v", n("1"))]);
    let c = parse_condition("attribute_not_exists(pk) AND NOT a = :v", ExpressionKind::Condition, &mut ph)
        .unwrap();
    assert!(c.evaluate(&Item::new()));
}

// ---- conditions: errors ----

#[test]
fn syntax_errors_quote_the_token_and_its_neighbours() {
    let cases = [
        ("num =", "Syntax error; token: \"<EOF>\", near: \"=\""),
        ("num = = :ten", "Syntax error; token: \"=\", near: \"= = :ten\""),
        ("num :ten", "Syntax error; token: \":ten\", near: \"num :ten\""),
        ("!!!", "Syntax error; token: \"!\", near: \"!!\""),
        ("num = :ten AND", "Syntax error; token: \"<EOF>\", near: \"AND\""),
        ("a[x] = :ten", "Syntax error; token: \"x\", near: \"[x]\""),
        ("num", "Syntax error; token: \"<EOF>\", near: \"num\""),
        ("(num = :ten", "Syntax error; token: \"<EOF>\", near: \":ten\""),
        ("_a = :ten", "Syntax error; token: \"_\", near: \"_a\""),
    ];
    for (text, detail) in cases {
        assert_eq!(
            condition_error_with_samples(text),
            format!("Invalid ConditionExpression: {detail}"),
            "{text}"
        );
    }
}

#[test]
fn empty_expressions_are_rejected_per_kind() {
    let mut ph = Placeholders::default();
    for text in ["", "   "] {
        assert_eq!(
            parse_update(text, &mut ph).unwrap_err().message(),
            "Invalid UpdateExpression: The expression can not be empty;"
        );
        assert_eq!(
            parse_condition(text, ExpressionKind::Filter, &mut ph).unwrap_err().message(),
            "Invalid FilterExpression: The expression can not be empty;"
        );
        assert_eq!(
            parse_projection(text, &mut ph).unwrap_err().message(),
            "Invalid ProjectionExpression: The expression can not be empty;"
        );
        assert_eq!(
            parse_key_condition(text, &mut ph, "pk", None).unwrap_err().message(),
            "Invalid KeyConditionExpression: The expression can not be empty;"
        );
    }
}

#[test]
fn reserved_words_need_placeholders() {
    assert_eq!(
        condition_error_with_samples("total = :ten"),
        "Invalid ConditionExpression: Attribute name is a reserved keyword; reserved keyword: total"
    );
    assert_eq!(
        condition_error_with_samples("a.Name = :ten"),
        "Invalid ConditionExpression: Attribute name is a reserved keyword; reserved keyword: Name"
    );
    let mut ph = placeholders(&[("#t", "total")], &[(":v", n("1"))]);
    assert!(parse_condition("#t = :v", ExpressionKind::Condition, &mut ph).is_ok());
}

#[test]
fn undefined_placeholders_are_named() {
    assert_eq!(
        condition_error_with_samples("num = :nope"),
        "Invalid ConditionExpression: An expression attribute value used in expression is not defined; \
         attribute value: :nope"
    );
    assert_eq!(
        condition_error_with_samples("#nope.x = :ten"),
        "Invalid ConditionExpression: An expression attribute name used in the document path is not defined; \
         attribute name: #nope"
    );
    // Names and values share a rank in conditions: the first in the text wins.
    assert_eq!(
        condition_error_with_samples("a = :nope AND #nope = :ten"),
        "Invalid ConditionExpression: An expression attribute value used in expression is not defined; \
         attribute value: :nope"
    );
}

#[test]
fn functions_in_the_wrong_place_are_rejected() {
    assert_eq!(
        condition_error_with_samples("size(str)"),
        "Invalid ConditionExpression: The function is not allowed to be used this way in an expression; \
         function: size"
    );
    assert_eq!(
        condition_error_with_samples("begins_with(str, :hello) = :true"),
        "Invalid ConditionExpression: The function is not allowed to be used this way in an expression; \
         function: begins_with"
    );
    assert_eq!(
        condition_error_with_samples("contains(attribute_exists(a), :ten)"),
        "Invalid ConditionExpression: The function is not allowed to be used this way in an expression; \
         function: attribute_exists"
    );
    assert_eq!(
        condition_error_with_samples("if_not_exists(a, :ten) = :ten"),
        "Invalid ConditionExpression: Invalid function name; function: if_not_exists"
    );
    assert_eq!(
        condition_error_with_samples("attribute_exists(:ten)"),
        "Invalid ConditionExpression: Operator or function requires a document path; operator or function: \
         attribute_exists"
    );
}

#[test]
fn function_operands_are_counted_and_typed() {
    assert_eq!(
        condition_error_with_samples("begins_with(str)"),
        "Invalid ConditionExpression: Incorrect number of operands for operator or function; operator or \
         function: begins_with, number of operands: 1"
    );
    assert_eq!(
        condition_error_with_samples("begins_with(str, :ten)"),
        "Invalid ConditionExpression: Incorrect operand type for operator or function; operator or function: \
         begins_with, operand type: N"
    );
    assert_eq!(
        condition_error_with_samples("size(:ten) = :ten"),
        "Invalid ConditionExpression: Incorrect operand type for operator or function; operator or function: \
         size, operand type: N"
    );
    assert_eq!(
        condition_error_with_samples("attribute_type(str, :bogus_type)"),
        "Invalid ConditionExpression: Invalid attribute type name found; type: XYZ, valid types: \
         {B,NULL,SS,BOOL,L,BS,N,NS,S,M}"
    );
    assert_eq!(
        condition_error_with_samples("attribute_type(str, :ten)"),
        "Invalid ConditionExpression: Incorrect operand type for operator or function; operator or function: \
         attribute_type, operand type: N"
    );
}

#[test]
fn static_operand_errors_name_dynamodb_details() {
    assert_eq!(
        condition_error_with_samples("num = num"),
        "Invalid ConditionExpression: The first operand must be distinct from the remaining operands for this \
         operator or function; operator: =, first operand: [num]"
    );
    assert_eq!(
        condition_error_with_samples("num BETWEEN :twenty AND :five"),
        "Invalid ConditionExpression: The BETWEEN operator requires upper bound to be greater than or equal to \
         lower bound; lower bound operand: AttributeValue: {N:20}, upper bound operand: AttributeValue: {N:5}"
    );
    assert_eq!(
        condition_error_with_samples("num BETWEEN :five AND :hello"),
        "Invalid ConditionExpression: The BETWEEN operator requires same data type for lower and upper bounds; \
         lower bound operand: AttributeValue: {N:5}, upper bound operand: AttributeValue: {S:hello}"
    );
    assert_eq!(
        condition_error_with_samples("((num = :ten))"),
        "Invalid ConditionExpression: The expression has redundant parentheses;"
    );
    assert_eq!(
        condition_error_with_samples("nope(a) = :ten"),
        "Invalid ConditionExpression: Invalid function name; function: nope"
    );
}

#[test]
fn error_ranks_follow_dynamodb_order() {
    // An unknown function outranks a reserved word, which outranks an undefined value.
    assert_eq!(
        condition_error_with_samples("total = :nope AND nope(a) = :ten"),
        "Invalid ConditionExpression: Invalid function name; function: nope"
    );
    assert_eq!(
        condition_error_with_samples("a = :nope AND total = :ten"),
        "Invalid ConditionExpression: Attribute name is a reserved keyword; reserved keyword: total"
    );
}

// ---- bounds ----

#[test]
fn deep_nesting_fails_fast_without_overflowing_the_stack() {
    let mut ph = placeholders(&[], &[(":v", n("1"))]);
    let start = Instant::now();
    let huge = "(".repeat(100_000);
    let err = parse_condition(&huge, ExpressionKind::Condition, &mut ph).unwrap_err();
    assert!(err.message().starts_with("Invalid ConditionExpression: Expression size has exceeded"), "{err}");
    // Within the size limit, the nesting bound stops the parser.
    for text in [
        "(".repeat(4000),
        format!("{}a = :v", "NOT ".repeat(1000)),
        format!("{}a{}", "size(".repeat(800), ")"),
    ] {
        let err = parse_condition(&text, ExpressionKind::Condition, &mut ph).unwrap_err();
        assert!(err.message().contains("nesting depth limit"), "{err}");
    }
    let err =
        parse_update(&format!("SET a = {}:v{}", "list_append(".repeat(200), ", :v)".repeat(200)), &mut ph)
            .unwrap_err();
    assert!(err.message().contains("nesting depth limit"), "{err}");
    assert!(start.elapsed() < Duration::from_secs(2));
}

#[test]
fn nesting_within_the_bound_is_accepted() {
    let mut ph = placeholders(&[], &[(":v", n("1"))]);
    let mut text = "a = :v".to_string();
    for _ in 0..(NESTING_DEPTH_MAX - 1) {
        text = format!("(a = :v AND {text})");
    }
    let c = parse_condition(&text, ExpressionKind::Condition, &mut ph).unwrap();
    assert!(!c.evaluate(&Item::new()));
}

#[test]
fn expression_size_and_operator_count_are_bounded() {
    let mut ph = placeholders(&[], &[(":v", n("1"))]);
    let long = format!("a = :v{}", " ".repeat(EXPRESSION_BYTES_MAX));
    assert_eq!(
        parse_condition(&long, ExpressionKind::Filter, &mut ph).unwrap_err().message(),
        format!(
            "Invalid FilterExpression: Expression size has exceeded the maximum allowed size; expression size: {}",
            long.len()
        )
    );
    let many = vec!["a = :v"; 151].join(" OR ");
    let err = parse_condition(&many, ExpressionKind::Filter, &mut ph).unwrap_err();
    assert!(err.message().contains("too many operators"), "{err}");
    let fine = vec!["a = :v"; 150].join(" OR ");
    assert!(parse_condition(&fine, ExpressionKind::Filter, &mut ph).is_ok());
}

#[test]
fn document_paths_deeper_than_32_levels_are_rejected() {
    let mut ph = Placeholders::default();
    let ok = vec!["a"; 32].join(".");
    assert!(parse_projection(&ok, &mut ph).is_ok());
    let deep = vec!["a"; 33].join(".");
    assert_eq!(
        parse_projection(&deep, &mut ph).unwrap_err().message(),
        "Invalid ProjectionExpression: The document path has too many nesting levels; nesting levels: 33"
    );
}

// ---- placeholders ----

#[test]
fn unused_placeholders_are_reported_names_first() {
    let mut ph = placeholders(&[("#a", "a"), ("#b", "b"), ("#c", "c")], &[(":v", n("1")), (":w", n("2"))]);
    parse_condition("#a = :v", ExpressionKind::Condition, &mut ph).unwrap();
    assert_eq!(
        ph.check_all_used().unwrap_err().message(),
        "Value provided in ExpressionAttributeNames unused in expressions: keys: {#b, #c}"
    );
    parse_projection("#b, #c", &mut ph).unwrap();
    assert_eq!(
        ph.check_all_used().unwrap_err().message(),
        "Value provided in ExpressionAttributeValues unused in expressions: keys: {:w}"
    );
    parse_update("SET x = :w", &mut ph).unwrap();
    assert!(ph.check_all_used().is_ok());
}

// ---- update ----

fn update(text: &str, ph: &mut Placeholders) -> UpdateExpression {
    parse_update(text, ph).unwrap_or_else(|e| panic!("{text}: {e}"))
}

fn apply(text: &str, before: &Item, values: &[(&str, V)]) -> Result<Item, ExprError> {
    let mut ph = placeholders(&[("#n", "num")], values);
    update(text, &mut ph).apply(before)
}

fn update_error(text: &str, values: &[(&str, V)]) -> String {
    let mut ph = placeholders(&[("#n", "num")], values);
    parse_update(text, &mut ph).unwrap_err().message().to_string()
}

#[test]
fn set_writes_top_level_and_nested_values() {
    let before = item(&[("m", map(&[("a", n("1"))])), ("l", V::L(vec![n("0"), n("1")]))]);
    let after = apply("SET x = :v, m.b = :v, l[1] = :v", &before, &[(":v", s("new"))]).unwrap();
    assert_eq!(
        after,
        item(&[
            ("x", s("new")),
            ("m", map(&[("a", n("1")), ("b", s("new"))])),
            ("l", V::L(vec![n("0"), s("new")]))
        ])
    );
}

#[test]
fn set_arithmetic_adds_and_subtracts_numbers() {
    let before = item(&[("num", n("10")), ("rest", n("2.5"))]);
    let after =
        apply("SET num = num + :v, rest = :v - rest, z = #n - :v", &before, &[(":v", n("1"))]).unwrap();
    assert_eq!(after.get("num"), Some(&n("11")));
    assert_eq!(after.get("rest"), Some(&n("-1.5")));
    assert_eq!(after.get("z"), Some(&n("9")));
}

#[test]
fn set_arithmetic_on_non_numbers_is_an_operand_type_error() {
    let before = item(&[("str", s("x"))]);
    assert_eq!(
        apply("SET a = str + :v", &before, &[(":v", n("1"))]).unwrap_err().message(),
        "An operand in the update expression has an incorrect data type"
    );
    assert_eq!(
        update_error("SET a = b + :v", &[(":v", s("x"))]),
        "Invalid UpdateExpression: Incorrect operand type for operator or function; operator or function: +, \
         operand type: S"
    );
}

#[test]
fn set_arithmetic_reports_number_overflow() {
    let before = item(&[("big", n("9.9999999999999999999999999999999999999E+125"))]);
    assert_eq!(
        apply("SET big = big + :v", &before, &[(":v", n("1E+125"))]).unwrap_err().message(),
        "Number overflow. Attempting to store a number with magnitude larger than supported range"
    );
}

#[test]
fn set_reading_a_missing_attribute_fails() {
    assert_eq!(
        apply("SET a = b", &Item::new(), &[]).unwrap_err().message(),
        "The provided expression refers to an attribute that does not exist in the item"
    );
    assert_eq!(
        apply("SET a = b + :v", &Item::new(), &[(":v", n("1"))]).unwrap_err().message(),
        "The provided expression refers to an attribute that does not exist in the item"
    );
}

#[test]
fn set_operands_read_the_item_before_the_update() {
    let before = item(&[("a", n("1")), ("b", n("2"))]);
    let after = apply("SET a = b, b = a", &before, &[]).unwrap();
    assert_eq!(after, item(&[("a", n("2")), ("b", n("1"))]));
}

#[test]
fn if_not_exists_keeps_existing_values() {
    let before = item(&[("a", n("5"))]);
    let after = apply(
        "SET a = if_not_exists(a, :zero) + :one, b = if_not_exists(b, :zero) + :one",
        &before,
        &[(":zero", n("0")), (":one", n("1"))],
    )
    .unwrap();
    assert_eq!(after, item(&[("a", n("6")), ("b", n("1"))]));
    assert_eq!(
        update_error("SET a = if_not_exists(:zero, a)", &[(":zero", n("0"))]),
        "Invalid UpdateExpression: Operator or function requires a document path; operator or function: \
         if_not_exists"
    );
}

#[test]
fn list_append_concatenates_in_both_orders() {
    let before = item(&[("l", V::L(vec![n("1"), n("2")]))]);
    let vals = [(":new", V::L(vec![n("3")])), (":empty", V::L(vec![]))];
    let after = apply("SET l = list_append(l, :new)", &before, &vals).unwrap();
    assert_eq!(after.get("l"), Some(&V::L(vec![n("1"), n("2"), n("3")])));
    let after = apply("SET l = list_append(:new, l)", &before, &vals).unwrap();
    assert_eq!(after.get("l"), Some(&V::L(vec![n("3"), n("1"), n("2")])));
    let after = apply("SET k = list_append(if_not_exists(k, :empty), :new)", &before, &vals).unwrap();
    assert_eq!(after.get("k"), Some(&V::L(vec![n("3")])));
    assert_eq!(
        apply("SET l = list_append(l, :new)", &item(&[("l", s("x"))]), &vals).unwrap_err().message(),
        "An operand in the update expression has an incorrect data type"
    );
    assert_eq!(
        update_error("SET l = list_append(l, :s)", &[(":s", s("x"))]),
        "Invalid UpdateExpression: Incorrect operand type for operator or function; operator or function: \
         list_append, operand type: S"
    );
    assert_eq!(
        update_error("SET l = list_append(l)", &[]),
        "Invalid UpdateExpression: Incorrect number of operands for operator or function; operator or function: \
         list_append, number of operands: 1"
    );
}

#[test]
fn set_past_the_end_of_a_list_appends_in_index_order() {
    let before = item(&[("l", V::L(vec![n("0")]))]);
    let after = apply("SET l[9] = :b, l[5] = :a", &before, &[(":a", s("a")), (":b", s("b"))]).unwrap();
    assert_eq!(after.get("l"), Some(&V::L(vec![n("0"), s("a"), s("b")])));
}

#[test]
fn set_under_a_missing_or_wrong_parent_is_invalid_for_update() {
    let before = item(&[("s", s("x")), ("l", V::L(vec![]))]);
    for text in ["SET absent.a = :v", "SET s.a = :v", "SET s[0] = :v", "SET l.a = :v", "SET l[0].a = :v"] {
        assert_eq!(
            apply(text, &before, &[(":v", n("1"))]).unwrap_err().message(),
            "The document path provided in the update expression is invalid for update",
            "{text}"
        );
    }
}

#[test]
fn remove_of_list_indexes_uses_original_positions_and_shifts_the_rest() {
    let before = item(&[("l", V::L(vec![s("a"), s("b"), s("c"), s("d"), s("e")]))]);
    let after = apply("REMOVE l[1], l[3]", &before, &[]).unwrap();
    assert_eq!(after.get("l"), Some(&V::L(vec![s("a"), s("c"), s("e")])));
    let after = apply("REMOVE l[0], l[9]", &before, &[]).unwrap();
    assert_eq!(after.get("l"), Some(&V::L(vec![s("b"), s("c"), s("d"), s("e")])));
    let after = apply("SET l[2] = :x REMOVE l[0]", &before, &[(":x", s("x"))]).unwrap();
    assert_eq!(after.get("l"), Some(&V::L(vec![s("b"), s("x"), s("d"), s("e")])));
}

#[test]
fn remove_deletes_attributes_and_map_keys() {
    let before = item(&[("a", n("1")), ("m", map(&[("x", n("1")), ("y", n("2"))]))]);
    let after = apply("REMOVE a, m.x, nope, m.nope", &before, &[]).unwrap();
    assert_eq!(after, item(&[("m", map(&[("y", n("2"))]))]));
}

#[test]
fn add_increments_numbers_and_unions_sets() {
    let before = item(&[("num", n("10")), ("tags", ss(&["a"]))]);
    let after = apply(
        "ADD num :one, tags :more, fresh :one, newset :more",
        &before,
        &[(":one", n("1")), (":more", ss(&["a", "b"]))],
    )
    .unwrap();
    assert_eq!(after.get("num"), Some(&n("11")));
    assert_eq!(after.get("tags"), Some(&ss(&["a", "b"])));
    assert_eq!(after.get("fresh"), Some(&n("1")));
    assert_eq!(after.get("newset"), Some(&ss(&["a", "b"])));
    assert_eq!(
        apply("ADD tags :one", &before, &[(":one", n("1"))]).unwrap_err().message(),
        "An operand in the update expression has an incorrect data type"
    );
    assert_eq!(
        apply("ADD tags :nums", &before, &[(":nums", ns(&["1"]))]).unwrap_err().message(),
        "An operand in the update expression has an incorrect data type"
    );
    assert_eq!(
        update_error("ADD a :s", &[(":s", s("x"))]),
        "Invalid UpdateExpression: Incorrect operand type for operator or function; operator: ADD, operand type: \
         STRING"
    );
}

#[test]
fn delete_removes_set_members_and_empty_sets() {
    let before = item(&[("tags", ss(&["a", "b"])), ("nums", ns(&["1", "2"]))]);
    let after = apply("DELETE tags :a, nums :one", &before, &[(":a", ss(&["a", "z"])), (":one", ns(&["1"]))])
        .unwrap();
    assert_eq!(after.get("tags"), Some(&ss(&["b"])));
    assert_eq!(after.get("nums"), Some(&ns(&["2"])));
    let after = apply("DELETE tags :all, absent :all", &before, &[(":all", ss(&["a", "b"]))]).unwrap();
    assert_eq!(after.get("tags"), None);
    assert_eq!(
        apply("DELETE tags :one", &before, &[(":one", ns(&["1"]))]).unwrap_err().message(),
        "An operand in the update expression has an incorrect data type"
    );
    assert_eq!(
        update_error("DELETE tags :n", &[(":n", n("1"))]),
        "Invalid UpdateExpression: Incorrect operand type for operator or function; operator: DELETE, operand \
         type: NUMBER"
    );
}

#[test]
fn clauses_come_in_any_order_and_case_but_only_once() {
    let before = item(&[("a", n("1")), ("b", n("2")), ("tags", ss(&["x"]))]);
    let after = apply(
        "remove a ADD b :one set c = :one delete tags :x",
        &before,
        &[(":one", n("1")), (":x", ss(&["x"]))],
    )
    .unwrap();
    assert_eq!(after, item(&[("b", n("3")), ("c", n("1"))]));
    assert_eq!(
        update_error("SET a = :v REMOVE b SET c = :v", &[(":v", n("1"))]),
        "Invalid UpdateExpression: The \"SET\" section can only be used once in an update expression;"
    );
}

#[test]
fn update_syntax_errors_quote_dynamodb_context() {
    assert_eq!(
        update_error("SET", &[]),
        "Invalid UpdateExpression: Syntax error; token: \"<EOF>\", near: \"SET\""
    );
    assert_eq!(
        update_error("SET a = b + - :v", &[(":v", n("1"))]),
        "Invalid UpdateExpression: Syntax error; token: \"-\", near: \"+ - :v\""
    );
    assert_eq!(
        update_error("SET numx = numx / :v", &[(":v", n("1"))]),
        "Invalid UpdateExpression: Syntax error; token: \"/\", near: \"numx / :v\""
    );
    assert_eq!(
        update_error("SET _123 = :v", &[]),
        "Invalid UpdateExpression: Syntax error; token: \"_\", near: \"SET _123\""
    );
    assert_eq!(
        update_error("ADD a b", &[]),
        "Invalid UpdateExpression: Syntax error; token: \"b\", near: \"a b\""
    );
    assert_eq!(
        update_error("SET a = size(b)", &[]),
        "Invalid UpdateExpression: Invalid function name; function: size"
    );
}

#[test]
fn update_paths_that_overlap_or_conflict_are_rejected() {
    assert_eq!(
        update_error("SET a = :v REMOVE a.b", &[(":v", n("1"))]),
        "Invalid UpdateExpression: Two document paths overlap with each other; must remove or rewrite one of \
         these paths; path one: [a], path two: [a, b]"
    );
    assert_eq!(
        update_error("SET a = :v, a = :v", &[(":v", n("1"))]),
        "Invalid UpdateExpression: Two document paths overlap with each other; must remove or rewrite one of \
         these paths; path one: [a], path two: [a]"
    );
    assert_eq!(
        update_error("SET a.b = :v, a[1] = :v", &[(":v", n("1"))]),
        "Invalid UpdateExpression: Two document paths conflict with each other; must remove or rewrite one of \
         these paths; path one: [a, b], path two: [a, [1]]"
    );
    assert_eq!(
        update_error("SET #n = :v REMOVE num", &[(":v", n("1"))]),
        "Invalid UpdateExpression: Two document paths overlap with each other; must remove or rewrite one of \
         these paths; path one: [num], path two: [num]"
    );
}

#[test]
fn update_errors_follow_dynamodb_order() {
    // Reserved words before undefined names, undefined names before overlaps.
    assert_eq!(
        update_error("SET #x = :v, total = :v", &[(":v", n("1"))]),
        "Invalid UpdateExpression: Attribute name is a reserved keyword; reserved keyword: total"
    );
    assert_eq!(
        update_error("SET a = :nope, a = #x", &[]),
        "Invalid UpdateExpression: An expression attribute name used in the document path is not defined; \
         attribute name: #x"
    );
}

#[test]
fn update_reports_written_attributes_and_paths() {
    let mut ph = placeholders(&[], &[(":v", n("1")), (":s", ss(&["x"]))]);
    let u = update("SET a.b = :v, c = :v REMOVE a.d, l[0] ADD n :v DELETE s :s", &mut ph);
    assert_eq!(u.top_level_attributes().collect::<Vec<_>>(), vec!["a", "c", "l", "n", "s"]);
    let before = item(&[
        ("a", map(&[("b", n("0")), ("d", n("9")), ("e", n("7"))])),
        ("l", V::L(vec![n("5"), n("6")])),
        ("rest", n("1")),
    ]);
    let after = u.apply(&before).unwrap();
    let paths = u.updated_paths();
    assert_eq!(
        paths.apply(&before),
        item(&[("a", map(&[("b", n("0")), ("d", n("9"))])), ("l", V::L(vec![n("5")]))])
    );
    assert_eq!(
        paths.apply(&after),
        item(&[("a", map(&[("b", n("1"))])), ("c", n("1")), ("l", V::L(vec![n("6")])), ("n", n("1"))])
    );
}

// ---- projection ----

#[test]
fn projection_keeps_nested_structure_and_list_order() {
    let mut ph = placeholders(&[("#m", "m")], &[]);
    let p = parse_projection("pk, #m.nest.deep, lst[2].x, lst[0], absent, m.cnt", &mut ph).unwrap();
    let got = p.apply(&sample());
    assert_eq!(
        got,
        item(&[
            ("pk", s("p1")),
            ("m", map(&[("nest", map(&[("deep", s("v"))])), ("cnt", n("3"))])),
            ("lst", V::L(vec![s("a"), map(&[("x", n("1"))])])),
        ])
    );
    assert_eq!(p.top_level_attributes().collect::<Vec<_>>(), vec!["pk", "m", "lst", "absent"]);
}

#[test]
fn projection_rejects_overlaps_reserved_words_and_bad_syntax() {
    let mut ph = Placeholders::default();
    let err =
        |text: &str, ph: &mut Placeholders| parse_projection(text, ph).unwrap_err().message().to_string();
    assert_eq!(
        err("a, a.b", &mut ph),
        "Invalid ProjectionExpression: Two document paths overlap with each other; must remove or rewrite one of \
         these paths; path one: [a], path two: [a, b]"
    );
    assert_eq!(
        err("a, Status", &mut ph),
        "Invalid ProjectionExpression: Attribute name is a reserved keyword; reserved keyword: Status"
    );
    assert_eq!(
        err("a b", &mut ph),
        "Invalid ProjectionExpression: Syntax error; token: \"b\", near: \"a b\""
    );
    assert_eq!(
        err("a,", &mut ph),
        "Invalid ProjectionExpression: Syntax error; token: \"<EOF>\", near: \",\""
    );
    assert_eq!(
        err("#x", &mut ph),
        "Invalid ProjectionExpression: An expression attribute name used in the document path is not defined; \
         attribute name: #x"
    );
}

#[test]
fn projection_from_attribute_names_selects_whole_attributes() {
    let p = Projection::from_attribute_names(["pk".to_string(), "m".to_string(), "nope".to_string()]);
    let got = p.apply(&sample());
    assert_eq!(got.keys().cloned().collect::<BTreeSet<_>>(), ["m", "pk"].map(String::from).into());
    assert_eq!(got.get("m"), sample().get("m"));
}

// ---- key conditions ----

fn key(text: &str, sort_key: Option<&str>) -> Result<KeyCondition, ExprError> {
    let mut ph = placeholders(
        &[("#pk", "pk")],
        &[(":p", s("p1")), (":a", s("a")), (":z", s("z")), (":n", n("1")), (":m", n("5"))],
    );
    parse_key_condition(text, &mut ph, "pk", sort_key)
}

fn key_error(text: &str) -> String {
    key(text, Some("sk")).unwrap_err().message().to_string()
}

#[test]
fn key_condition_accepts_partition_equality_and_one_sort_condition() {
    let k = key("pk = :p", Some("sk")).unwrap();
    assert_eq!(k, KeyCondition { partition: s("p1"), sort: None });
    let cases = [
        ("#pk = :p AND sk = :a", SortKeyCondition::Eq(s("a"))),
        ("sk < :a AND pk = :p", SortKeyCondition::Lt(s("a"))),
        ("pk = :p AND sk <= :a", SortKeyCondition::Le(s("a"))),
        ("pk = :p AND sk > :a", SortKeyCondition::Gt(s("a"))),
        ("pk = :p AND sk >= :a", SortKeyCondition::Ge(s("a"))),
        ("pk = :p AND :a < sk", SortKeyCondition::Gt(s("a"))),
        ("pk = :p AND sk BETWEEN :a AND :z", SortKeyCondition::Between(s("a"), s("z"))),
        ("pk = :p AND begins_with(sk, :a)", SortKeyCondition::BeginsWith(s("a"))),
        ("(pk = :p) AND (sk = :a)", SortKeyCondition::Eq(s("a"))),
    ];
    for (text, want) in cases {
        let k = key(text, Some("sk")).unwrap_or_else(|e| panic!("{text}: {e}"));
        assert_eq!(k.partition, s("p1"), "{text}");
        assert_eq!(k.sort, Some(want), "{text}");
    }
}

#[test]
fn key_condition_rejects_unsupported_shapes_with_dynamodb_messages() {
    let cases = [
        ("pk = :p OR sk = :a", "Invalid operator used in KeyConditionExpression: OR"),
        ("NOT pk = :p", "Invalid operator used in KeyConditionExpression: NOT"),
        ("pk IN (:p)", "Invalid operator used in KeyConditionExpression: IN"),
        ("pk <> :p", "Invalid operator used in KeyConditionExpression: <>"),
        ("pk = :p AND contains(sk, :a)", "Invalid operator used in KeyConditionExpression: contains"),
        ("attribute_exists(pk)", "Invalid operator used in KeyConditionExpression: attribute_exists"),
        ("pk = :p AND size(sk) > :n", "KeyConditionExpressions cannot contain nested operations"),
        ("pk = :p AND sk.x = :a", "KeyConditionExpressions cannot have conditions on nested attributes"),
        (
            "pk = sk",
            "Invalid condition in KeyConditionExpression: Multiple attribute names used in one condition",
        ),
        ("pk = :p AND :a = :z", "Invalid condition in KeyConditionExpression: No key attribute specified"),
        (
            "pk = :p AND sk = :a AND sk = :z",
            "KeyConditionExpressions must only contain one condition per key",
        ),
        ("sk = :a", "Query condition missed key schema element: pk"),
        ("pk > :p", "Query key condition not supported"),
        ("pk = :p AND rest = :a", "Query condition missed key schema element: sk"),
        (
            "pk = :p AND :a BETWEEN sk AND :z",
            "Invalid condition in KeyConditionExpression: BETWEEN operator must have the key attribute as its first operand",
        ),
        (
            "pk = :p AND begins_with(sk, :n)",
            "Invalid KeyConditionExpression: Incorrect operand type for operator or function; operator or function: \
             begins_with, operand type: N",
        ),
        (
            "pk = :p AND sk BETWEEN :m AND :n",
            "Invalid KeyConditionExpression: The BETWEEN operator requires upper bound to be greater than or equal to lower bound; lower bound operand: AttributeValue: {N:5}, upper bound operand: AttributeValue: {N:1}",
        ),
        ("pk = :p AND", "Invalid KeyConditionExpression: Syntax error; token: \"<EOF>\", near: \"AND\""),
    ];
    for (text, want) in cases {
        assert_eq!(key_error(text), want, "{text}");
    }
    assert_eq!(key("pk = :p AND sk = :a", None).unwrap_err().message(), "Query key condition not supported");
}

// ---- hostile input ----

mod fuzz {
    use super::*;
    use proptest::prelude::*;

    /// Fragments that make up plausible and implausible expressions.
    fn fragment() -> impl Strategy<Value = &'static str> {
        prop::sample::select(vec![
            "a",
            "b.c",
            "l[0]",
            "#n",
            ":v",
            ":s",
            "(",
            ")",
            "[",
            "]",
            ",",
            ".",
            "=",
            "<>",
            "<",
            ">=",
            "+",
            "-",
            " AND ",
            " OR ",
            "NOT ",
            " BETWEEN ",
            " IN ",
            "size(",
            "contains(",
            "begins_with(",
            "attribute_exists(",
            "attribute_type(",
            "if_not_exists(",
            "list_append(",
            "SET ",
            "REMOVE ",
            "ADD ",
            "DELETE ",
            "total",
            "!",
            "_",
            "9",
            "é",
            " ",
        ])
    }

    proptest! {
        #![proptest_config(ProptestConfig { cases: 2000, ..ProptestConfig::default() })]

        #[test]
        fn any_input_parses_or_fails_with_a_message(parts in prop::collection::vec(fragment(), 0..40)) {
            let text: String = parts.concat();
            let mut ph = placeholders(&[("#n", "num")], &[(":v", n("1")), (":s", ss(&["x"]))]);
            if let Ok(c) = parse_condition(&text, ExpressionKind::Filter, &mut ph) {
                c.evaluate(&sample());
            }
            if let Ok(u) = parse_update(&text, &mut ph) {
                let _ = u.apply(&sample());
                u.updated_paths().apply(&sample());
            }
            if let Ok(p) = parse_projection(&text, &mut ph) {
                p.apply(&sample());
            }
            let _ = parse_key_condition(&text, &mut ph, "pk", Some("sk"));
            for result in [
                parse_condition(&text, ExpressionKind::Condition, &mut ph).err(),
                parse_update(&text, &mut ph).err(),
                parse_projection(&text, &mut ph).err(),
            ]
            .into_iter()
            .flatten()
            {
                prop_assert!(!result.message().is_empty());
            }
        }
    }
}

#[test]
fn not_equal_and_in_compare_whole_documents() {
    assert!(check("m <> lst"));
    assert!(check("lst[2] IN (:elem, :ten)"));
    assert!(!check("lst[1] IN (:hello, :elem)"));
}

#[test]
fn update_of_the_same_list_element_twice_overlaps() {
    assert_eq!(
        update_error("SET l[0] = :v REMOVE l[0]", &[(":v", n("1"))]),
        "Invalid UpdateExpression: Two document paths overlap with each other; must remove or rewrite one of \
         these paths; path one: [l, [0]], path two: [l, [0]]"
    );
    let mut ph = placeholders(&[], &[(":v", n("1"))]);
    assert!(parse_update("SET l[0] = :v REMOVE l[1]", &mut ph).is_ok());
}

#[test]
fn nested_add_and_delete_write_inside_maps() {
    let before = item(&[("m", map(&[("n", n("1")), ("s", ss(&["a", "b"]))]))]);
    let after =
        apply("ADD m.n :one DELETE m.s :a", &before, &[(":one", n("1")), (":a", ss(&["a"]))]).unwrap();
    assert_eq!(after, item(&[("m", map(&[("n", n("2")), ("s", ss(&["b"]))]))]));
    assert_eq!(
        apply("ADD absent.n :one", &before, &[(":one", n("1"))]).unwrap_err().message(),
        "The document path provided in the update expression is invalid for update"
    );
}
