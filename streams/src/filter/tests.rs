//! Unit tests of matching: each operator, AND/OR, event arrays, absent fields, numeric ranges
//! (including DynamoDB number strings) and `$or`.

use serde_json::{Value, json};

use super::{FilterCriteria, FilterError, PatternProblem};

fn matches(pattern: &str, event: &Value) -> bool {
    FilterCriteria::from_pattern(pattern).unwrap_or_else(|e| panic!("{pattern}: {e}")).matches(event)
}

fn record() -> Value {
    json!({
        "eventID": "1",
        "eventName": "INSERT",
        "eventVersion": "1.1",
        "eventSource": "aws:dynamodb",
        "dynamodb": {
            "Keys": {"pk": {"S": "order#1"}},
            "NewImage": {
                "pk": {"S": "order#1"},
                "status": {"S": "open"},
                "n": {"N": "5"},
                "tags": {"SS": ["red", "blue"]},
                "scores": {"NS": ["1", "20"]},
                "paid": {"BOOL": false},
                "note": {"NULL": true},
                "empty": {"S": ""},
                "lines": {"L": [{"M": {"sku": {"S": "A1"}, "qty": {"N": "2"}}}, {"M": {"sku": {"S": "B2"}, "qty": {"N": "7"}}}]}
            },
            "SequenceNumber": "111",
            "SizeBytes": 26,
            "StreamViewType": "NEW_IMAGE"
        }
    })
}

#[test]
fn exact_string_matches_only_the_same_string() {
    let r = record();
    assert!(matches(r#"{"eventName": ["INSERT"]}"#, &r));
    assert!(!matches(r#"{"eventName": ["insert"]}"#, &r));
    assert!(matches(r#"{"dynamodb": {"NewImage": {"status": {"S": ["open"]}}}}"#, &r));
    assert!(!matches(r#"{"dynamodb": {"NewImage": {"status": {"S": ["closed"]}}}}"#, &r));
}

#[test]
fn exact_number_boolean_and_null_match_their_own_json_type() {
    let event = json!({"size": 26, "ratio": 300.0, "flag": true, "gone": null, "text": "26"});
    assert!(matches(r#"{"size": [26]}"#, &event));
    assert!(!matches(r#"{"size": ["26"]}"#, &event), "a string never equals a number");
    assert!(!matches(r#"{"text": [26]}"#, &event));
    assert!(!matches(r#"{"ratio": [300]}"#, &event), "300 and 300.0 are different numbers to Lambda");
    assert!(matches(r#"{"ratio": [300.0]}"#, &event));
    assert!(matches(r#"{"flag": [true]}"#, &event));
    assert!(!matches(r#"{"flag": [false]}"#, &event));
    assert!(!matches(r#"{"flag": ["true"]}"#, &event));
    assert!(matches(r#"{"gone": [null]}"#, &event));
    assert!(!matches(r#"{"missing": [null]}"#, &event), "null matches a null value, not an absent field");
    assert!(matches(r#"{"dynamodb": {"NewImage": {"paid": {"BOOL": [false]}}}}"#, &record()));
    assert!(matches(r#"{"dynamodb": {"NewImage": {"note": {"NULL": [true]}}}}"#, &record()));
}

#[test]
fn empty_string_matches_only_the_empty_string() {
    let r = record();
    assert!(matches(r#"{"dynamodb": {"NewImage": {"empty": {"S": [""]}}}}"#, &r));
    assert!(!matches(r#"{"dynamodb": {"NewImage": {"status": {"S": [""]}}}}"#, &r));
    assert!(!matches(r#"{"dynamodb": {"NewImage": {"absent": {"S": [""]}}}}"#, &r));
}

#[test]
fn prefix_and_suffix_match_strings_only() {
    let r = record();
    assert!(matches(r#"{"dynamodb": {"Keys": {"pk": {"S": [{"prefix": "order#"}]}}}}"#, &r));
    assert!(!matches(r#"{"dynamodb": {"Keys": {"pk": {"S": [{"prefix": "Order#"}]}}}}"#, &r));
    assert!(matches(r##"{"dynamodb": {"Keys": {"pk": {"S": [{"suffix": "#1"}]}}}}"##, &r));
    assert!(!matches(r##"{"dynamodb": {"Keys": {"pk": {"S": [{"suffix": "#2"}]}}}}"##, &r));
    assert!(matches(r#"{"eventName": [{"prefix": ""}]}"#, &r), "the empty prefix matches any string");
    assert!(!matches(r#"{"dynamodb": {"SizeBytes": [{"prefix": "2"}]}}"#, &r), "numbers are not strings");
    assert!(!matches(r#"{"dynamodb": {"SizeBytes": [{"suffix": "6"}]}}"#, &r));
}

#[test]
fn ignore_case_variants_fold_case_on_both_sides() {
    let r = record();
    assert!(matches(r#"{"eventName": [{"equals-ignore-case": "insert"}]}"#, &r));
    assert!(!matches(r#"{"eventName": [{"equals-ignore-case": "inser"}]}"#, &r));
    assert!(matches(
        r#"{"dynamodb": {"Keys": {"pk": {"S": [{"prefix": {"equals-ignore-case": "ORDER#"}}]}}}}"#,
        &r
    ));
    assert!(matches(r#"{"eventSource": [{"suffix": {"equals-ignore-case": "DynamoDB"}}]}"#, &r));
    assert!(!matches(r#"{"eventSource": [{"suffix": {"equals-ignore-case": "s3"}}]}"#, &r));
    assert!(!matches(r#"{"dynamodb": {"SizeBytes": [{"equals-ignore-case": "26"}]}}"#, &r));
}

#[test]
fn anything_but_excludes_listed_values_and_needs_a_present_leaf() {
    let r = record();
    assert!(matches(r#"{"eventName": [{"anything-but": ["REMOVE", "MODIFY"]}]}"#, &r));
    assert!(!matches(r#"{"eventName": [{"anything-but": ["INSERT", "MODIFY"]}]}"#, &r));
    assert!(!matches(r#"{"eventName": [{"anything-but": "INSERT"}]}"#, &r));
    assert!(matches(r#"{"dynamodb": {"SizeBytes": [{"anything-but": 25}]}}"#, &r));
    assert!(!matches(r#"{"dynamodb": {"SizeBytes": [{"anything-but": [26, 27]}]}}"#, &r));
    assert!(!matches(r#"{"nothere": [{"anything-but": ["x"]}]}"#, &r), "an absent field is not 'anything'");
    assert!(!matches(r#"{"dynamodb": [{"anything-but": ["x"]}]}"#, &r), "an object is not a leaf");
}

#[test]
fn numeric_compares_json_numbers_with_every_comparison() {
    let event = json!({"price": 15, "neg": -2.5, "text": "15"});
    for (pattern, expected) in [
        (r#"{"price": [{"numeric": ["=", 15]}]}"#, true),
        (r#"{"price": [{"numeric": ["=", 15.0]}]}"#, true),
        (r#"{"price": [{"numeric": ["=", 16]}]}"#, false),
        (r#"{"price": [{"numeric": ["<", 15]}]}"#, false),
        (r#"{"price": [{"numeric": ["<=", 15]}]}"#, true),
        (r#"{"price": [{"numeric": [">", 15]}]}"#, false),
        (r#"{"price": [{"numeric": [">=", 15]}]}"#, true),
        (r#"{"price": [{"numeric": [">", 10, "<=", 20]}]}"#, true),
        (r#"{"price": [{"numeric": [">", 10, "<", 15]}]}"#, false),
        (r#"{"price": [{"numeric": ["<", 20, ">=", 15]}]}"#, true),
        (r#"{"neg": [{"numeric": [">", -3, "<", -2]}]}"#, true),
        (r#"{"neg": [{"numeric": [">=", -2.5e0, "<", 0]}]}"#, true),
        (r#"{"text": [{"numeric": [">", 0]}]}"#, false),
        (r#"{"absent": [{"numeric": [">", 0]}]}"#, false),
    ] {
        assert_eq!(matches(pattern, &event), expected, "{pattern}");
    }
    let huge = json!({"price": 6.0e9});
    assert!(!matches(r#"{"price": [{"numeric": [">", 0]}]}"#, &huge), "beyond 5.0e9 is not compared");
}

#[test]
fn numeric_on_dynamodb_number_strings_follows_lambda_by_default() {
    let r = record();
    let pattern = r#"{"dynamodb": {"NewImage": {"n": {"N": [{"numeric": [">", 3]}]}}}}"#;
    // Lambda: "DynamoDB event filtering doesn't support the use of numeric operators".
    assert!(!matches(pattern, &r));
    let widened = FilterCriteria::from_pattern(pattern).map(FilterCriteria::with_dynamodb_numbers);
    assert!(widened.as_ref().is_ok_and(|f| f.matches(&r)));
}

#[test]
fn numeric_ranges_on_dynamodb_number_strings_when_enabled() {
    let r = record();
    let check = |pattern: &str| {
        FilterCriteria::from_pattern(pattern)
            .unwrap_or_else(|e| panic!("{pattern}: {e}"))
            .with_dynamodb_numbers()
            .matches(&r)
    };
    assert!(check(r#"{"dynamodb": {"NewImage": {"n": {"N": [{"numeric": [">=", 2, "<", 10]}]}}}}"#));
    assert!(check(r#"{"dynamodb": {"NewImage": {"n": {"N": [{"numeric": ["=", 5]}]}}}}"#));
    assert!(!check(r#"{"dynamodb": {"NewImage": {"n": {"N": [{"numeric": ["<", 5]}]}}}}"#));
    assert!(!check(r#"{"dynamodb": {"NewImage": {"n": {"N": [{"numeric": [">", 5, "<=", 9]}]}}}}"#));
    // A number set matches if any member is in range.
    assert!(check(r#"{"dynamodb": {"NewImage": {"scores": {"NS": [{"numeric": [">", 10]}]}}}}"#));
    assert!(!check(r#"{"dynamodb": {"NewImage": {"scores": {"NS": [{"numeric": [">", 20]}]}}}}"#));
    // Only N and NS values are read as numbers: a numeric-looking S stays a string.
    assert!(!check(r#"{"dynamodb": {"SequenceNumber": [{"numeric": [">", 0]}]}}"#));
    // Numbers inside lists of maps, through crushed arrays.
    assert!(check(
        r#"{"dynamodb": {"NewImage": {"lines": {"L": {"M": {"qty": {"N": [{"numeric": [">", 5]}]}}}}}}}"#
    ));
    let odd = json!({"v": {"N": "not-a-number"}, "w": {"N": "NaN"}, "x": {"N": "1e400"}});
    for pattern in [
        r#"{"v": {"N": [{"numeric": [">", 0]}]}}"#,
        r#"{"w": {"N": [{"numeric": [">", 0]}]}}"#,
        r#"{"x": {"N": [{"numeric": [">", 0]}]}}"#,
    ] {
        let filter = FilterCriteria::from_pattern(pattern).map(FilterCriteria::with_dynamodb_numbers);
        assert!(filter.is_ok_and(|f| !f.matches(&odd)), "{pattern}");
    }
}

#[test]
fn exists_true_needs_a_leaf_and_exists_false_needs_none() {
    let r = record();
    assert!(matches(r#"{"dynamodb": {"NewImage": {"status": {"S": [{"exists": true}]}}}}"#, &r));
    assert!(!matches(r#"{"dynamodb": {"NewImage": {"status": {"S": [{"exists": false}]}}}}"#, &r));
    assert!(!matches(r#"{"dynamodb": {"OldImage": {"status": {"S": [{"exists": true}]}}}}"#, &r));
    assert!(matches(r#"{"dynamodb": {"OldImage": {"status": {"S": [{"exists": false}]}}}}"#, &r));
    // Intermediate nodes are not leaves: exists:true never sees them, exists:false always passes.
    assert!(!matches(r#"{"dynamodb": {"NewImage": {"status": [{"exists": true}]}}}"#, &r));
    assert!(matches(r#"{"dynamodb": {"NewImage": {"status": [{"exists": false}]}}}"#, &r));
    // A null value is a present leaf.
    assert!(matches(r#"{"gone": [{"exists": true}]}"#, &json!({"gone": null})));
    // An empty array holds no leaf.
    assert!(matches(r#"{"list": [{"exists": false}]}"#, &json!({"list": []})));
    assert!(!matches(r#"{"list": [{"exists": true}]}"#, &json!({"list": []})));
}

#[test]
fn missing_fields_fail_every_matcher_except_exists_false() {
    let event = json!({"a": 1});
    for pattern in [
        r#"{"b": ["x"]}"#,
        r#"{"b": [null]}"#,
        r#"{"b": [""]}"#,
        r#"{"b": [{"prefix": ""}]}"#,
        r#"{"b": [{"anything-but": "x"}]}"#,
        r#"{"b": [{"numeric": [">", 0]}]}"#,
        r#"{"b": [{"exists": true}]}"#,
        r#"{"b": {"c": ["x"]}}"#,
    ] {
        assert!(!matches(pattern, &event), "{pattern}");
    }
    assert!(matches(r#"{"b": [{"exists": false}]}"#, &event));
    assert!(matches(r#"{"b": {"c": [{"exists": false}]}}"#, &event));
    assert!(matches(r#"{"a": {"c": [{"exists": false}]}}"#, &event), "below a scalar nothing exists");
    assert!(matches(r#"{"b": ["x", {"exists": false}]}"#, &event), "values in one array are ORed");
}

#[test]
fn fields_are_anded_and_values_are_ored() {
    let r = record();
    assert!(matches(
        r#"{"eventName": ["INSERT", "MODIFY"], "dynamodb": {"StreamViewType": ["NEW_IMAGE"]}}"#,
        &r
    ));
    assert!(!matches(r#"{"eventName": ["INSERT"], "dynamodb": {"StreamViewType": ["KEYS_ONLY"]}}"#, &r));
    assert!(matches(r#"{"eventName": ["REMOVE", {"prefix": "INS"}]}"#, &r));
    assert!(matches(
        r#"{"dynamodb": {"NewImage": {"status": {"S": ["open"]}, "n": {"N": ["5"]}}, "Keys": {"pk": {"S": ["order#1"]}}}}"#,
        &r
    ));
    assert!(!matches(r#"{"dynamodb": {"NewImage": {"status": {"S": ["open"]}, "n": {"N": ["6"]}}}}"#, &r));
}

#[test]
fn duplicate_keys_are_all_required() {
    let r = record();
    let both = r#"{"dynamodb": {"NewImage": {"status": {"S": ["open"]}}}, "dynamodb": {"Keys": {"pk": {"S": ["order#1"]}}}}"#;
    assert!(matches(both, &r));
    let second_fails = r#"{"dynamodb": {"NewImage": {"status": {"S": ["open"]}}}, "dynamodb": {"Keys": {"pk": {"S": ["x"]}}}}"#;
    assert!(!matches(second_fails, &r));
    let first_fails = r#"{"dynamodb": {"NewImage": {"status": {"S": ["x"]}}}, "dynamodb": {"Keys": {"pk": {"S": ["order#1"]}}}}"#;
    assert!(!matches(first_fails, &r));
}

#[test]
fn event_arrays_match_if_any_element_matches() {
    let r = record();
    assert!(matches(r#"{"dynamodb": {"NewImage": {"tags": {"SS": ["blue"]}}}}"#, &r));
    assert!(matches(r#"{"dynamodb": {"NewImage": {"tags": {"SS": ["green", "red"]}}}}"#, &r));
    assert!(!matches(r#"{"dynamodb": {"NewImage": {"tags": {"SS": ["green"]}}}}"#, &r));
    assert!(matches(r#"{"dynamodb": {"NewImage": {"tags": {"SS": [{"anything-but": "red"}]}}}}"#, &r));
    assert!(matches(r#"{"a": [3]}"#, &json!({"a": [[1, 2], [[3]]]})), "nested arrays are opened");
}

#[test]
fn fields_inside_one_array_element_must_match_together() {
    let r = record();
    let same =
        r#"{"dynamodb": {"NewImage": {"lines": {"L": {"M": {"sku": {"S": ["B2"]}, "qty": {"N": ["7"]}}}}}}}"#;
    assert!(matches(same, &r));
    let across =
        r#"{"dynamodb": {"NewImage": {"lines": {"L": {"M": {"sku": {"S": ["A1"]}, "qty": {"N": ["7"]}}}}}}}"#;
    assert!(!matches(across, &r), "A1 and qty 7 come from different list elements");
}

#[test]
fn or_takes_any_alternative_and_combines_with_and() {
    let r = record();
    let pattern = r#"{"eventName": ["INSERT"], "$or": [{"eventSource": ["aws:s3"]}, {"dynamodb": {"Keys": {"pk": {"S": ["order#1"]}}}}]}"#;
    assert!(matches(pattern, &r));
    let none = r#"{"$or": [{"eventSource": ["aws:s3"]}, {"eventName": ["REMOVE"]}]}"#;
    assert!(!matches(none, &r));
    let and_fails =
        r#"{"eventName": ["REMOVE"], "$or": [{"eventSource": ["aws:dynamodb"]}, {"eventID": ["1"]}]}"#;
    assert!(!matches(and_fails, &r));
    let nested = r#"{"dynamodb": {"NewImage": {"$or": [{"status": {"S": ["closed"]}}, {"$or": [{"n": {"N": ["4"]}}, {"n": {"N": ["5"]}}]}]}}}"#;
    assert!(matches(nested, &r));
    let inner_and = r#"{"$or": [{"eventName": ["MODIFY"]}, {"eventName": ["INSERT"], "eventID": ["2"]}]}"#;
    assert!(!matches(inner_and, &r));
}

#[test]
fn or_with_fewer_than_two_objects_is_an_ordinary_field_name() {
    // event-ruler only treats "$or" as OR for an array of two or more objects.
    assert!(matches(r#"{"$or": ["x"]}"#, &json!({"$or": "x"})));
    assert!(!matches(r#"{"$or": ["x"]}"#, &json!({"other": "x"})));
    assert!(matches(r#"{"$or": {"a": ["b"]}}"#, &json!({"$or": {"a": "b"}})));
    // A single object is then an ordinary list of allowed values holding an unknown matcher.
    assert!(matches!(
        FilterCriteria::from_pattern(r#"{"$or": [{"a": ["b"]}]}"#),
        Err(FilterError::InvalidPattern { problem: PatternProblem::UnknownOperator { .. }, .. })
    ));
}

#[test]
fn criteria_filters_are_ored_and_empty_criteria_matches_everything() {
    let r = record();
    let criteria = json!({"Filters": [
        {"Pattern": r#"{"eventName": ["REMOVE"]}"#},
        {"Pattern": r#"{"dynamodb": {"NewImage": {"status": {"S": ["open"]}}}}"#}
    ]});
    let filter = FilterCriteria::from_json(&criteria).unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(filter.len(), 2);
    assert!(filter.matches(&r));
    let neither = json!({"Filters": [{"Pattern": r#"{"eventName": ["REMOVE"]}"#}, {"Pattern": r#"{"eventName": ["MODIFY"]}"#}]});
    assert!(FilterCriteria::from_json(&neither).is_ok_and(|f| !f.matches(&r)));
    for empty in [json!({}), json!({"Filters": []}), json!({"Filters": null})] {
        let filter = FilterCriteria::from_json(&empty);
        assert!(filter.as_ref().is_ok_and(|f| f.is_empty() && f.matches(&r)), "{empty}: {filter:?}");
    }
}

#[test]
fn deeply_nested_events_do_not_exhaust_the_stack() {
    let mut event = json!("x");
    for _ in 0..100_000 {
        event = Value::Array(vec![event]);
    }
    // Not `json!`: it would serialize the nested value recursively.
    let event = Value::Object(std::iter::once(("a".to_owned(), event)).collect());
    assert!(matches(r#"{"a": ["x"]}"#, &event));
    assert!(matches(r#"{"a": {"b": [{"exists": false}]}}"#, &event));
    // Value's recursive drop would overflow; unwind it by hand.
    let mut stack = vec![event];
    while let Some(mut value) = stack.pop() {
        match &mut value {
            Value::Array(items) => stack.append(items),
            Value::Object(map) => stack.extend(std::mem::take(map).into_iter().map(|(_, v)| v)),
            _ => {}
        }
    }
}

#[test]
fn the_boundaries_of_numeric_ranges_are_accepted() {
    for pattern in [
        r#"{"a": [{"numeric": [">=", -5.0e9, "<=", 5.0e9]}]}"#,
        r#"{"a": [{"numeric": ["=", 0]}]}"#,
        r#"{"a": [{"numeric": [">", 1, "<", 1.000001]}]}"#,
    ] {
        assert!(FilterCriteria::from_pattern(pattern).is_ok(), "{pattern}");
    }
    assert!(matches(r#"{"a": [{"numeric": [">=", -5.0e9, "<=", 5.0e9]}]}"#, &json!({"a": 5_000_000_000u64})));
}

#[test]
fn docs_filters_md_examples_match_its_record() {
    let record = json!({
        "eventName": "MODIFY",
        "dynamodb": {
            "Keys": {"pk": {"S": "order#17"}},
            "NewImage": {"pk": {"S": "order#17"}, "status": {"S": "open"}, "n": {"N": "5"}, "tags": {"SS": ["red", "blue"]}},
            "OldImage": {"pk": {"S": "order#17"}, "status": {"S": "draft"}, "n": {"N": "4"}},
            "SizeBytes": 26,
            "StreamViewType": "NEW_AND_OLD_IMAGES"
        }
    });
    for pattern in [
        r#"{"eventName": ["INSERT", "MODIFY"], "dynamodb": {"NewImage": {"status": {"S": ["open"]}}}}"#,
        r#"{"eventName": ["MODIFY"]}"#,
        r#"{"$or": [{"eventName": ["INSERT"]}, {"dynamodb": {"Keys": {"pk": {"S": ["order#17"]}}}}]}"#,
        r#"{"eventName": [{"anything-but": ["REMOVE"]}]}"#,
        r#"{"dynamodb": {"Keys": {"pk": {"S": [{"prefix": "order#"}]}}}}"#,
        r#"{"dynamodb": {"Keys": {"pk": {"S": [{"prefix": {"equals-ignore-case": "ORDER#"}}]}}}}"#,
        r##"{"dynamodb": {"Keys": {"pk": {"S": [{"suffix": "#17"}]}}}}"##,
        r#"{"eventName": [{"suffix": {"equals-ignore-case": "ify"}}]}"#,
        r#"{"eventName": [{"equals-ignore-case": "modify"}]}"#,
        r#"{"dynamodb": {"SizeBytes": [{"numeric": [">", 10, "<=", 30]}]}}"#,
        r#"{"dynamodb": {"SizeBytes": [{"numeric": ["=", 26]}]}}"#,
        r#"{"dynamodb": {"OldImage": {"status": {"S": [{"exists": true}]}}}}"#,
        r#"{"dynamodb": {"NewImage": {"deletedAt": {"S": [{"exists": false}]}}}}"#,
        r#"{"dynamodb": {"NewImage": {"tags": {"SS": ["blue"]}}}}"#,
        r#"{"dynamodb": {"NewImage": {"n": {"N": ["5"]}}}}"#,
    ] {
        assert!(matches(pattern, &record), "{pattern}");
    }
    let numeric = r#"{"dynamodb": {"NewImage": {"n": {"N": [{"numeric": [">", 3]}]}}}}"#;
    assert!(!matches(numeric, &record));
    assert!(FilterCriteria::from_pattern(numeric).is_ok_and(|f| f.with_dynamodb_numbers().matches(&record)));
    assert!(!matches(r#"{"dynamodb": {"NewImage": {"status": [{"exists": true}]}}}"#, &record));
}
