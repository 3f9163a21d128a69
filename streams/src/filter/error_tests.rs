//! Unit tests of refusals: each criteria and pattern error, the filter, length and depth limits,
//! and the messages users see.

use serde_json::json;

use super::{FILTERS_MAX, FilterCriteria, FilterError, PATTERN_CHARS_MAX, PATTERN_DEPTH_MAX, PatternProblem};

fn problem(pattern: &str) -> PatternProblem {
    match FilterCriteria::from_pattern(pattern) {
        Err(FilterError::InvalidPattern { problem, .. }) => problem,
        other => panic!("{pattern}: expected InvalidPattern, got {other:?}"),
    }
}

#[test]
fn criteria_shape_errors_are_precise() {
    let pattern = r#"{"a": ["b"]}"#;
    let cases = [
        (json!([]), FilterError::CriteriaNotAnObject),
        (json!({"Filters": {}}), FilterError::FiltersNotAnArray),
        (json!({"Filters": ["x"]}), FilterError::FilterNotAnObject { filter: 0 }),
        (json!({"Filters": [{"Pattern": pattern}, {}]}), FilterError::PatternNotAString { filter: 1 }),
        (json!({"Filters": [{"Pattern": {"a": ["b"]}}]}), FilterError::PatternNotAString { filter: 0 }),
    ];
    for (criteria, expected) in cases {
        assert_eq!(FilterCriteria::from_json(&criteria), Err(expected), "{criteria}");
    }
}

#[test]
fn more_than_the_filter_limit_is_refused() {
    let filters = |n: usize| json!({"Filters": vec![json!({"Pattern": r#"{"a": ["b"]}"#}); n]});
    assert!(FilterCriteria::from_json(&filters(FILTERS_MAX)).is_ok());
    assert_eq!(
        FilterCriteria::from_json(&filters(FILTERS_MAX + 1)),
        Err(FilterError::TooManyFilters { count: 6, max: 5 })
    );
}

#[test]
fn pattern_length_is_bounded_in_characters() {
    let at_limit = format!(r#"{{"a": ["{}"]}}"#, "é".repeat(PATTERN_CHARS_MAX - 11));
    assert_eq!(at_limit.chars().count(), PATTERN_CHARS_MAX);
    assert!(FilterCriteria::from_pattern(&at_limit).is_ok(), "the limit counts characters, not bytes");
    let over = format!(r#"{{"a": ["{}"]}}"#, "x".repeat(PATTERN_CHARS_MAX - 10));
    let error =
        FilterCriteria::from_json(&json!({"Filters": [{"Pattern": r#"{"a": ["b"]}"#}, {"Pattern": over}]}));
    assert_eq!(error, Err(FilterError::PatternTooLong { filter: 1, chars: 4097, max: 4096 }));
    let message = error.map(|_| ()).unwrap_err().to_string();
    assert!(message.contains("'filterCriteria.filters.2.member.pattern'"), "{message}");
}

#[test]
fn a_hundred_thousand_deep_pattern_fails_fast() {
    let depth = 100_000;
    let pattern = format!("{}[\"x\"]{}", r#"{"a":"#.repeat(depth), "}".repeat(depth));
    let started = std::time::Instant::now();
    let error = FilterCriteria::from_pattern(&pattern);
    assert!(matches!(error, Err(FilterError::PatternTooLong { .. })), "{error:?}");
    assert!(started.elapsed() < std::time::Duration::from_secs(1));
}

#[test]
fn nesting_deeper_than_the_limit_is_refused_before_the_parser_limit() {
    let nest = |depth: usize| format!("{}[\"x\"]{}", r#"{"a":"#.repeat(depth), "}".repeat(depth));
    // `depth` objects plus the leaf array: PATTERN_DEPTH_MAX containers in all is accepted.
    assert!(FilterCriteria::from_pattern(&nest(PATTERN_DEPTH_MAX - 1)).is_ok());
    assert_eq!(
        FilterCriteria::from_pattern(&nest(PATTERN_DEPTH_MAX)),
        Err(FilterError::PatternTooDeep { filter: 0, max: PATTERN_DEPTH_MAX })
    );
    assert_eq!(
        FilterCriteria::from_pattern(&nest(500)),
        Err(FilterError::PatternTooDeep { filter: 0, max: PATTERN_DEPTH_MAX })
    );
    let arrays = format!("{{\"a\": {}{}}}", "[".repeat(300), "]".repeat(300));
    assert_eq!(
        FilterCriteria::from_pattern(&arrays),
        Err(FilterError::PatternTooDeep { filter: 0, max: PATTERN_DEPTH_MAX })
    );
}

#[test]
fn malformed_json_is_refused_with_the_parser_position() {
    for pattern in ["", "{", r#"{"a": ["b"]"#, r#"{"a": ["b"]} x"#, r#"{'a': ['b']}"#, r#"{"a": [01]}"#] {
        match FilterCriteria::from_pattern(pattern) {
            Err(FilterError::PatternNotJson { filter: 0, reason }) => {
                assert!(reason.contains("column"), "{reason}")
            }
            other => panic!("{pattern:?}: {other:?}"),
        }
    }
    let message = FilterCriteria::from_pattern("{").map(|_| ()).unwrap_err().to_string();
    assert!(message.starts_with("Invalid filter pattern definition."), "{message}");
}

#[test]
fn every_grammar_error_has_its_own_problem() {
    use PatternProblem as P;
    let unsupported = |operator: &str| P::UnsupportedOperator { operator: operator.into() };
    let operand = |operator: &'static str, expected: &'static str| P::InvalidOperand { operator, expected };
    let affix = "a string or {\"equals-ignore-case\": \"...\"}";
    let anything = "a string, a number, or a list of strings or of numbers";
    let cases: Vec<(&str, PatternProblem)> = vec![
        (r#"["a"]"#, P::NotAnObject),
        (r#""a""#, P::NotAnObject),
        ("{}", P::EmptyObject),
        (r#"{"a": {}}"#, P::EmptyObject),
        (r#"{"a": []}"#, P::EmptyArray),
        (r#"{"a": "b"}"#, P::NotArrayOrObject),
        (r#"{"a": 1}"#, P::NotArrayOrObject),
        (r#"{"a": null}"#, P::NotArrayOrObject),
        (r#"{"a": [["b"]]}"#, P::NestedArray),
        (r#"{"a": [{}]}"#, P::OperatorCount { keys: 0 }),
        (r#"{"a": [{"prefix": "x", "suffix": "y"}]}"#, P::OperatorCount { keys: 2 }),
        (r#"{"a": [{"prefx": "x"}]}"#, P::UnknownOperator { operator: "prefx".into() }),
        (r#"{"a": [{"wildcard": "*.png"}]}"#, unsupported("wildcard")),
        (r#"{"a": [{"cidr": "10.0.0.0/24"}]}"#, unsupported("cidr")),
        (r#"{"a": [{"anything-but": {"prefix": "x"}}]}"#, unsupported("anything-but/prefix")),
        (r#"{"a": [{"anything-but": {"suffix": "x"}}]}"#, unsupported("anything-but/suffix")),
        (
            r#"{"a": [{"anything-but": {"equals-ignore-case": "x"}}]}"#,
            unsupported("anything-but/equals-ignore-case"),
        ),
        (r#"{"a": [{"anything-but": {"wildcard": "x*"}}]}"#, unsupported("anything-but/wildcard")),
        (r#"{"a": [{"anything-but": {"other": "x"}}]}"#, operand("anything-but", anything)),
        (r#"{"a": [{"anything-but": true}]}"#, operand("anything-but", anything)),
        (r#"{"a": [{"anything-but": [null]}]}"#, operand("anything-but", anything)),
        (r#"{"a": [{"anything-but": []}]}"#, P::EmptyArray),
        (r#"{"a": [{"anything-but": ["x", 1]}]}"#, P::MixedAnythingBut),
        (r#"{"a": [{"prefix": 1}]}"#, operand("prefix", affix)),
        (r#"{"a": [{"prefix": {"equals-ignore-case": 1}}]}"#, operand("prefix", affix)),
        (r#"{"a": [{"suffix": ["x"]}]}"#, operand("suffix", affix)),
        (r#"{"a": [{"equals-ignore-case": ["x"]}]}"#, operand("equals-ignore-case", "a string")),
        (r#"{"a": [{"exists": "true"}]}"#, operand("exists", "true or false")),
        (r#"{"a": [{"numeric": 5}]}"#, operand("numeric", "an array such as [\">\", 0, \"<=\", 5]")),
        (r#"{"a": [{"numeric": []}]}"#, P::NumericShape),
        (r#"{"a": [{"numeric": [">", 1, "<", 5, "=", 3]}]}"#, P::NumericShape),
        (r#"{"a": [{"numeric": [1, ">"]}]}"#, P::NumericShape),
        (r#"{"a": [{"numeric": ["!=", 1]}]}"#, P::NumericComparison { comparison: "!=".into() }),
        (r#"{"a": [{"numeric": [">"]}]}"#, P::NumericOperand { comparison: ">" }),
        (r#"{"a": [{"numeric": [">", "1"]}]}"#, P::NumericOperand { comparison: ">" }),
        (r#"{"a": [{"numeric": [">", 1, "<"]}]}"#, P::NumericOperand { comparison: "<" }),
        (r#"{"a": [{"numeric": [">", 1, ">=", 2]}]}"#, P::NumericShape),
        (r#"{"a": [{"numeric": ["<", 1, "<=", 2]}]}"#, P::NumericShape),
        (r#"{"a": [{"numeric": ["=", 1, "<", 2]}]}"#, P::NumericShape),
        (r#"{"a": [{"numeric": [">", 1, "=", 2]}]}"#, P::NumericShape),
        (r#"{"a": [{"numeric": [">", 5, "<", 5]}]}"#, P::NumericEmptyRange),
        (r#"{"a": [{"numeric": [">=", 9, "<=", 1]}]}"#, P::NumericEmptyRange),
        (r#"{"a": [{"numeric": [">", 5.1e9]}]}"#, P::NumericOutOfRange),
        (r#"{"a": [{"numeric": ["<", -6e9]}]}"#, P::NumericOutOfRange),
    ];
    for (pattern, expected) in cases {
        assert_eq!(problem(pattern), expected, "{pattern}");
    }
}

#[test]
fn grammar_errors_name_the_filter_and_the_field_path() {
    let criteria = json!({"Filters": [
        {"Pattern": r#"{"a": ["b"]}"#},
        {"Pattern": r#"{"dynamodb": {"NewImage": {"n": {"N": [{"numeric": [">", "3"]}]}}}}"#}
    ]});
    let error = FilterCriteria::from_json(&criteria);
    assert_eq!(
        error,
        Err(FilterError::InvalidPattern {
            filter: 1,
            path: "dynamodb.NewImage.n.N".into(),
            problem: PatternProblem::NumericOperand { comparison: ">" },
        })
    );
    assert_eq!(
        error.map(|_| ()).unwrap_err().to_string(),
        "Invalid filter pattern definition. Filters[1] at `dynamodb.NewImage.n.N`: numeric comparison > must \
         be followed by a number."
    );
    let in_or = FilterCriteria::from_pattern(r#"{"x": {"$or": [{"a": ["b"]}, {"c": [{"bogus": 1}]}]}}"#);
    assert!(
        matches!(in_or, Err(FilterError::InvalidPattern { ref path, .. }) if path == "x.$or.c"),
        "{in_or:?}"
    );
}
