//! Condition and filter expressions: every operator and function, precedence, and errors.

#![allow(clippy::unwrap_used)]

use super::*;

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

#[test]
fn not_equal_and_in_compare_whole_documents() {
    assert!(check("m <> lst"));
    assert!(check("lst[2] IN (:elem, :ten)"));
    assert!(!check("lst[1] IN (:hello, :elem)"));
}
