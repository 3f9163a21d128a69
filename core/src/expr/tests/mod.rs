//! Tests of the expression languages: shared fixtures, placeholders, bounds and hostile input.
//! One submodule per language holds the rest.

// A failed unwrap is a failed test.
#![allow(clippy::unwrap_used)]

use std::collections::BTreeMap;
use std::time::{Duration, Instant};

use super::*;
use crate::number::Number;
use crate::value::{AttributeValue as V, Item};

mod condition;
mod projection_and_key;
mod update;

pub(super) fn n(text: &str) -> V {
    V::N(Number::parse(text).unwrap())
}

pub(super) fn s(text: &str) -> V {
    V::S(text.to_string())
}

pub(super) fn ss(members: &[&str]) -> V {
    V::Ss(members.iter().map(|m| m.to_string()).collect())
}

pub(super) fn ns(members: &[&str]) -> V {
    V::Ns(members.iter().map(|m| Number::parse(m).unwrap()).collect())
}

pub(super) fn map(entries: &[(&str, V)]) -> V {
    V::M(entries.iter().map(|(k, v)| (k.to_string(), v.clone())).collect())
}

pub(super) fn item(entries: &[(&str, V)]) -> Item {
    entries.iter().map(|(k, v)| (k.to_string(), v.clone())).collect()
}

pub(super) fn placeholders(names: &[(&str, &str)], values: &[(&str, V)]) -> Placeholders {
    Placeholders::new(
        names.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect(),
        values.iter().map(|(k, v)| (k.to_string(), v.clone())).collect(),
    )
}

/// A sample item most condition tests read.
pub(super) fn sample() -> Item {
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

pub(super) fn values() -> Vec<(&'static str, V)> {
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
pub(super) fn check(text: &str) -> bool {
    let mut ph = placeholders(&[("#n", "num"), ("#m", "m")], &values());
    match parse_condition(text, ExpressionKind::Condition, &mut ph) {
        Ok(c) => c.evaluate(&sample()),
        Err(e) => panic!("{text}: {e}"),
    }
}

pub(super) fn condition_error(text: &str, ph: &mut Placeholders) -> String {
    match parse_condition(text, ExpressionKind::Condition, ph) {
        Ok(c) => panic!("{text}: parsed as {c:?}"),
        Err(e) => e.message().to_string(),
    }
}

pub(super) fn condition_error_with_samples(text: &str) -> String {
    condition_error(text, &mut placeholders(&[("#n", "num")], &values()))
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
