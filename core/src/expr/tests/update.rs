//! Update expressions: each clause, functions, list indexes, overlaps, and errors.

#![allow(clippy::unwrap_used)]

use super::*;

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

#[test]
fn remove_under_a_missing_parent_fails_unless_the_item_is_absent() {
    let before = item(&[("a", s("hello")), ("b", V::L(vec![s("hi")]))]);
    for text in ["REMOVE a.c", "REMOVE b.c", "REMOVE c.c", "REMOVE a[0]", "REMOVE c[0]"] {
        assert_eq!(
            apply(text, &before, &[]).unwrap_err().message(),
            "The document path provided in the update expression is invalid for update",
            "{text}"
        );
        assert_eq!(apply(text, &Item::new(), &[]).unwrap(), Item::new(), "{text}");
    }
    assert_eq!(
        apply("SET c.c = :v", &Item::new(), &[(":v", n("1"))]).unwrap_err().message(),
        "The document path provided in the update expression is invalid for update"
    );
}

#[test]
fn set_of_several_indexes_past_the_end_appends_by_element_number() {
    let before = item(&[("a", V::L(vec![s("one"), s("two"), s("three"), s("hello")]))]);
    let vals = [(":v1", s("a1")), (":v2", s("a2")), (":v3", s("a3")), (":v4", s("a4"))];
    let after = apply("SET a[84] = :v1, a[37] = :v2, a[17] = :v3, a[50] = :v4", &before, &vals).unwrap();
    let want: Vec<V> =
        ["one", "two", "three", "hello", "a3", "a2", "a4", "a1"].iter().map(|x| s(x)).collect();
    assert_eq!(after.get("a"), Some(&V::L(want)));
    let before = item(&[("a", V::L([2, 3, 4, 5, 6, 7].iter().map(|x| n(&x.to_string())).collect()))]);
    let after = apply("REMOVE a[1] SET a[3] = :v", &before, &[(":v", n("17"))]).unwrap();
    let want: Vec<V> = [2, 4, 17, 6, 7].iter().map(|x| n(&x.to_string())).collect();
    assert_eq!(after.get("a"), Some(&V::L(want)));
}
