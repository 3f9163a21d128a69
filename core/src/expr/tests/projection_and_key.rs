//! Projection and key condition expressions.

#![allow(clippy::unwrap_used)]

use super::*;

use std::collections::BTreeSet;

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
