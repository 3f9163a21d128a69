//! Parser and lowering tests: every statement form, each error, and hostile nesting.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::collections::BTreeMap;

use super::*;
use crate::expr::{
    Comparator, Condition, DocumentPath, Operand, PathElement, SortKeyCondition, UpdateAction,
};
use crate::key::{KeyAttribute, KeySchema, ScalarType};
use crate::limits::Limits;
use crate::number::Number;
use crate::store::WriteAction;
use crate::value::{AttributeValue, Item};

fn s(v: &str) -> AttributeValue {
    AttributeValue::S(v.to_string())
}

fn n(v: &str) -> AttributeValue {
    AttributeValue::N(Number::parse(v).unwrap())
}

fn path(name: &str) -> DocumentPath {
    DocumentPath::attribute(name)
}

fn lit(v: AttributeValue) -> Box<Expr> {
    Box::new(Expr::Literal(v))
}

fn err(text: &str) -> String {
    parse(text).unwrap_err().message().to_string()
}

fn hash_schema() -> KeySchema {
    KeySchema { partition: KeyAttribute { name: "pk".into(), scalar_type: ScalarType::S }, sort: None }
}

fn range_schema() -> KeySchema {
    KeySchema {
        partition: KeyAttribute { name: "pk".into(), scalar_type: ScalarType::S },
        sort: Some(KeyAttribute { name: "sk".into(), scalar_type: ScalarType::N }),
    }
}

fn plan_of(text: &str, params: &[AttributeValue], schema: &KeySchema) -> Result<Plan, crate::Error> {
    plan(&parse(text).unwrap(), params, schema, &Limits::default())
}

fn read(text: &str, schema: &KeySchema) -> ReadPlan {
    match plan_of(text, &[], schema).unwrap() {
        Plan::Read(r) => r,
        other => panic!("not a read: {other:?}"),
    }
}

fn write(text: &str, params: &[AttributeValue], schema: &KeySchema) -> WritePlan {
    match plan_of(text, params, schema).unwrap() {
        Plan::Write(w) => w,
        other => panic!("not a write: {other:?}"),
    }
}

#[test]
fn select_star_without_where() {
    let st = parse(r#"SELECT * FROM "Music""#).unwrap();
    assert_eq!(
        st.kind,
        StatementKind::Select(Select { projection: None, table: "Music".into(), index: None, filter: None })
    );
    assert_eq!(st.parameters, 0);
    assert!(st.is_read());
    assert_eq!(st.table(), "Music");
    assert_eq!(st.index(), None);
}

#[test]
fn select_names_a_secondary_index_after_the_table() {
    let st = parse(r#"SELECT * FROM "Music"."by-artist" WHERE artist = 'x'"#).unwrap();
    let StatementKind::Select(sel) = &st.kind else { panic!("{st:?}") };
    assert_eq!(sel.table, "Music");
    assert_eq!(sel.index.as_deref(), Some("by-artist"));
    assert!(sel.filter.is_some());
    assert_eq!(st.table(), "Music");
    assert_eq!(st.index(), Some("by-artist"));

    let st = parse("select a from t.idx").unwrap();
    assert_eq!((st.table(), st.index()), ("t", Some("idx")));
    let st = parse("SELECT * FROM t.\"i x\";").unwrap();
    assert_eq!((st.table(), st.index()), ("t", Some("i x")));
}

#[test]
fn writes_on_a_secondary_index_are_rejected() {
    let cases = [
        ("INSERT INTO \"t\".\"idx\" VALUE {'pk': 'a'}", "INSERT"),
        ("UPDATE \"t\".\"idx\" SET a = 1 WHERE pk = 'a'", "UPDATE"),
        ("DELETE FROM t.idx WHERE pk = 'a'", "DELETE"),
    ];
    for (text, statement) in cases {
        let message = err(text);
        assert_eq!(
            message,
            format!("Unsupported operation: {statement} on a secondary index; write to the table instead"),
            "{text}"
        );
    }
}

#[test]
fn select_projection_paths_and_bare_table() {
    let st = parse("select a, \"b c\", m.x[2].y, m['k'] from t;").unwrap();
    let StatementKind::Select(sel) = st.kind else { panic!() };
    let nested = DocumentPath::from_elements(vec![
        PathElement::Attribute("m".into()),
        PathElement::Attribute("x".into()),
        PathElement::Index(2),
        PathElement::Attribute("y".into()),
    ])
    .unwrap();
    let keyed = DocumentPath::from_elements(vec![
        PathElement::Attribute("m".into()),
        PathElement::Attribute("k".into()),
    ])
    .unwrap();
    assert_eq!(sel.projection, Some(vec![path("a"), path("b c"), nested, keyed]));
    assert_eq!(sel.table, "t");
}

#[test]
fn where_operators_and_precedence() {
    let st = parse(
        "SELECT * FROM t WHERE a = 1 OR NOT b <> 'x' AND c BETWEEN 1 AND 5 AND d IN [1, 2] \
         AND e NOT IN (3) AND f IS MISSING AND g IS NOT NULL AND begins_with(h, 'p') AND size(i) >= -2.5",
    )
    .unwrap();
    let StatementKind::Select(sel) = st.kind else { panic!() };
    let Some(Expr::Or(or)) = sel.filter else { panic!("{:?}", sel.filter) };
    assert_eq!(or[0], Expr::Compare(Comparator::Eq, Box::new(Expr::Path(path("a"))), lit(n("1"))));
    let Expr::And(and) = &or[1] else { panic!() };
    assert_eq!(and.len(), 8);
    assert_eq!(
        and[0],
        Expr::Not(Box::new(Expr::Compare(Comparator::Ne, Box::new(Expr::Path(path("b"))), lit(s("x")))))
    );
    assert!(matches!(and[1], Expr::Between(..)));
    assert!(matches!(&and[2], Expr::In(_, list) if list.len() == 2));
    assert!(matches!(&and[3], Expr::Not(inner) if matches!(**inner, Expr::In(..))));
    assert!(matches!(and[4], Expr::Is { missing: true, negated: false, .. }));
    assert!(matches!(and[5], Expr::Is { missing: false, negated: true, .. }));
    assert!(matches!(&and[6], Expr::Call(name, args) if name == "begins_with" && args.len() == 2));
    assert_eq!(
        and[7],
        Expr::Compare(
            Comparator::Ge,
            Box::new(Expr::Call("size".into(), vec![Expr::Path(path("i"))])),
            lit(n("-2.5"))
        )
    );
}

#[test]
fn literals_of_every_kind() {
    let st = parse(
        "INSERT INTO \"t\" VALUE {'pk': 'it''s', 'n': 1e3, 'b': true, 'f': FALSE, 'z': null, \
         'l': [1, 'two', [3]], 'm': {'x': {}}, 'ss': <<'a', 'b'>>, 'ns': <<1, 2>>, 'p': ?}",
    )
    .unwrap();
    assert_eq!(st.parameters, 1);
    let w = write(
        "INSERT INTO \"t\" VALUE {'pk': 'it''s', 'n': 1e3, 'b': true, 'f': FALSE, 'z': null, \
         'l': [1, 'two', [3]], 'm': {'x': {}}, 'ss': <<'a', 'b', 'a'>>, 'ns': <<1, 2>>, 'p': ?}",
        &[AttributeValue::B(vec![1, 2])],
        &hash_schema(),
    );
    let WriteAction::Put(item) = &w.write.action else { panic!() };
    assert_eq!(item["pk"], s("it's"));
    assert_eq!(item["n"], n("1000"));
    assert_eq!(item["b"], AttributeValue::Bool(true));
    assert_eq!(item["f"], AttributeValue::Bool(false));
    assert_eq!(item["z"], AttributeValue::Null);
    assert_eq!(item["l"], AttributeValue::L(vec![n("1"), s("two"), AttributeValue::L(vec![n("3")])]));
    assert_eq!(
        item["m"],
        AttributeValue::M(BTreeMap::from([("x".to_string(), AttributeValue::M(BTreeMap::new()))]))
    );
    assert_eq!(item["ss"], AttributeValue::Ss(["a".to_string(), "b".to_string()].into()));
    assert_eq!(
        item["ns"],
        AttributeValue::Ns([Number::parse("1").unwrap(), Number::parse("2").unwrap()].into())
    );
    assert_eq!(item["p"], AttributeValue::B(vec![1, 2]));
    assert_eq!(w.kind, WriteKind::Insert);
    assert_eq!(w.write.condition, Some(Condition::AttributeNotExists(path("pk"))));
}

#[test]
fn update_with_set_remove_and_condition() {
    let st = parse("UPDATE \"t\" SET a = 1 SET b = b + 1, c = list_append(c, [?]) REMOVE d, e.f WHERE pk = 'k' AND v > 2 RETURNING ALL NEW *").unwrap();
    let StatementKind::Update(u) = &st.kind else { panic!() };
    assert_eq!(u.actions.len(), 5);
    assert_eq!(u.returning, Some(Returning::AllNew));
    let w = write(
        "UPDATE \"t\" SET a = 1 SET b = b + 1, c = list_append(c, [?]) REMOVE d WHERE pk = 'k' AND v > 2",
        &[s("x")],
        &hash_schema(),
    );
    assert_eq!(w.kind, WriteKind::Update);
    assert_eq!(w.write.key.partition, s("k"));
    assert_eq!(
        w.write.condition,
        Some(Condition::And(vec![
            Condition::AttributeExists(path("pk")),
            Condition::Compare(Comparator::Gt, Operand::Path(path("v")), Operand::Value(n("2"))),
        ]))
    );
    let WriteAction::Update(Some(update)) = &w.write.action else { panic!() };
    assert_eq!(update.actions().len(), 4);
    assert_eq!(update.actions()[3], UpdateAction::Remove(path("d")));
}

#[test]
fn update_set_add_and_set_delete_become_add_and_delete() {
    let w = write(
        "UPDATE t SET s = set_add(s, <<'x'>>) SET r = set_delete(r, <<1>>) WHERE pk = 'k'",
        &[],
        &hash_schema(),
    );
    let WriteAction::Update(Some(update)) = &w.write.action else { panic!() };
    assert!(matches!(update.actions()[0], UpdateAction::Add(..)));
    assert!(matches!(update.actions()[1], UpdateAction::Delete(..)));
}

#[test]
fn update_overlapping_paths_are_rejected() {
    let e = plan_of("UPDATE t SET a = 1 REMOVE a WHERE pk = 'k'", &[], &hash_schema()).unwrap_err();
    assert!(e.to_string().contains("Two document paths overlap"), "{e}");
}

#[test]
fn delete_with_key_and_condition() {
    let w = write(
        "DELETE FROM t WHERE sk = 5 AND pk = ? AND attribute_exists(x) RETURNING ALL OLD *",
        &[s("p")],
        &range_schema(),
    );
    assert_eq!(w.kind, WriteKind::Delete);
    assert_eq!(w.write.key.partition, s("p"));
    assert_eq!(w.write.key.sort, Some(n("5")));
    assert_eq!(w.write.condition, Some(Condition::AttributeExists(path("x"))));
    assert_eq!(w.returning, Some(Returning::AllOld));
    let w = write("DELETE FROM t WHERE pk = 'p'", &[], &hash_schema());
    assert_eq!(w.write.condition, None);
}

#[test]
fn writes_must_name_the_full_key() {
    for text in [
        "DELETE FROM t WHERE pk = 'p'",
        "UPDATE t SET a = 1 WHERE pk = 'p' OR sk = 1",
        "DELETE FROM t WHERE pk > 'p' AND sk = 1",
    ] {
        let e = plan_of(text, &[], &range_schema()).unwrap_err();
        assert_eq!(
            e.to_string(),
            "Where clause does not contain a mandatory equality on all key attributes",
            "{text}"
        );
    }
}

#[test]
fn select_access_paths() {
    let r = read("SELECT * FROM t WHERE pk = 'a'", &hash_schema());
    assert!(matches!(r.access, Access::Get(_)));
    assert!(r.options.filter.is_none());

    let r = read("SELECT * FROM t WHERE pk = 'a' AND sk = 3 AND x = 1", &range_schema());
    assert!(matches!(r.access, Access::Get(ref k) if k.sort == Some(n("3"))));
    assert!(r.options.filter.is_some());

    let r = read("SELECT a FROM t WHERE 'a' = pk AND 3 < sk AND x = 1", &range_schema());
    let Access::Query(kc) = &r.access else { panic!("{:?}", r.access) };
    assert_eq!(kc.partition, s("a"));
    assert_eq!(kc.sort, Some(SortKeyCondition::Gt(n("3"))));
    assert_eq!(
        r.options.filter,
        Some(Condition::Compare(Comparator::Eq, Operand::Path(path("x")), Operand::Value(n("1"))))
    );
    assert!(r.options.projection.is_some());

    let r = read("SELECT * FROM t WHERE pk = 'a' AND sk BETWEEN 1 AND 2", &range_schema());
    assert!(matches!(&r.access, Access::Query(kc) if matches!(kc.sort, Some(SortKeyCondition::Between(..)))));
    assert!(r.options.filter.is_none());

    let r = read("SELECT * FROM t WHERE pk = 'a' OR pk = 'b'", &hash_schema());
    assert!(matches!(r.access, Access::Scan));
    assert!(matches!(r.options.filter, Some(Condition::Or(_))));

    let r = read("SELECT * FROM t WHERE x IS MISSING", &hash_schema());
    assert!(matches!(r.access, Access::Scan));
    assert_eq!(r.options.filter, Some(Condition::AttributeNotExists(path("x"))));
}

/// An index keyed `g` (S) and `r` (N), as a GSI on a table keyed `pk` could be.
fn index_schema() -> KeySchema {
    KeySchema {
        partition: KeyAttribute { name: "g".into(), scalar_type: ScalarType::S },
        sort: Some(KeyAttribute { name: "r".into(), scalar_type: ScalarType::N }),
    }
}

#[test]
fn select_on_an_index_plans_with_the_index_key_and_never_reads_one_item() {
    let r = read("SELECT * FROM t.i WHERE g = 'x'", &index_schema());
    assert_eq!((r.table.as_str(), r.index.as_deref()), ("t", Some("i")));
    let Access::Query(kc) = &r.access else { panic!("{:?}", r.access) };
    assert_eq!((&kc.partition, &kc.sort), (&s("x"), &None));
    assert!(r.options.filter.is_none());

    // Equalities on the whole index key still read a partition: index keys are not unique.
    let r = read("SELECT * FROM t.i WHERE g = 'x' AND r = 2 AND v = 1", &index_schema());
    let Access::Query(kc) = &r.access else { panic!("{:?}", r.access) };
    assert_eq!(kc.sort, Some(SortKeyCondition::Eq(n("2"))));
    assert_eq!(
        r.options.filter,
        Some(Condition::Compare(Comparator::Eq, Operand::Path(path("v")), Operand::Value(n("1"))))
    );
    let hash_index =
        KeySchema { partition: KeyAttribute { name: "g".into(), scalar_type: ScalarType::S }, sort: None };
    let r = read("SELECT * FROM t.i WHERE g = 'x'", &hash_index);
    assert!(matches!(&r.access, Access::Query(kc) if kc.sort.is_none()), "{:?}", r.access);

    let r = read("SELECT * FROM t.i WHERE g = 'x' AND r BETWEEN 1 AND 5", &index_schema());
    assert!(matches!(&r.access, Access::Query(kc) if matches!(kc.sort, Some(SortKeyCondition::Between(..)))));

    // The table's key is an ordinary attribute of the index: a Scan of the index with a filter.
    let r = read("SELECT * FROM t.i WHERE pk = 'a'", &index_schema());
    assert!(matches!(r.access, Access::Scan));
    assert!(r.options.filter.is_some());
    let r = read("SELECT * FROM t.i", &index_schema());
    assert!(matches!(r.access, Access::Scan));
    assert_eq!(r.index.as_deref(), Some("i"));

    let e = plan_of("SELECT * FROM t.i WHERE g = 1", &[], &index_schema()).unwrap_err();
    assert!(e.to_string().contains("does not match schema type"), "{e}");

    // The same statement on the table reads one item.
    let r = read("SELECT * FROM t WHERE pk = 'a'", &hash_schema());
    assert!(matches!(r.access, Access::Get(_)));
    assert_eq!(r.index, None);
}

#[test]
fn select_partition_key_of_wrong_type_is_rejected() {
    let e = plan_of("SELECT * FROM t WHERE pk = 1 AND sk > 1", &[], &range_schema()).unwrap_err();
    assert!(e.to_string().contains("does not match schema type"), "{e}");
}

#[test]
fn parameter_count_must_match() {
    let e = plan_of("SELECT * FROM t WHERE pk = ?", &[], &hash_schema()).unwrap_err();
    assert_eq!(e.to_string(), "Number of parameters in request and statement don't match.");
    let e = plan_of("SELECT * FROM t", &[s("x")], &hash_schema()).unwrap_err();
    assert_eq!(e.to_string(), "Number of parameters in request and statement don't match.");
}

#[test]
fn insert_needs_a_map_with_the_key() {
    let e = plan_of("INSERT INTO t VALUE [1]", &[], &hash_schema()).unwrap_err();
    assert!(e.to_string().starts_with("Statement wasn't well formed"), "{e}");
    let e = plan_of("INSERT INTO t VALUE {'a': 1}", &[], &hash_schema()).unwrap_err();
    assert_eq!(e.to_string(), "One or more parameter values were invalid: Missing the key pk in the item");
    let e = plan_of("INSERT INTO t VALUE {'pk': 'a', 's': <<>>}", &[], &hash_schema()).unwrap_err();
    assert!(e.to_string().contains("empty set"), "{e}");
    let e = plan_of("INSERT INTO t VALUE {'pk': 'a', 's': <<1, 'x'>>}", &[], &hash_schema()).unwrap_err();
    assert!(e.to_string().contains("A set must contain"), "{e}");
}

#[test]
fn syntax_errors_name_the_problem() {
    let cases = [
        ("SELECT * FROM", "Expected a table name but found end of statement at column 14"),
        ("SELECT * FROM t WHERE", "Unexpected end of statement at column 22"),
        ("SELECT * FROM t WHERE a = 'x", "Unterminated quoted text at column 27"),
        ("SELECT * FROM t WHERE a = #", "Unexpected character '#' at column 27"),
        ("SELECT * FROM t extra", "Unexpected 'extra' at column 17"),
        ("INSERT INTO t VALUE {a: 1}", "Expected a string literal as a map key but found 'a' at column 22"),
        ("INSERT INTO t VALUE {'a': 1, 'a': 2}", "Duplicate map key 'a'"),
        ("UPDATE t WHERE pk = 'a'", "Expected SET or REMOVE but found 'WHERE' at column 10"),
        ("UPDATE t SET a = 1", "Expected 'WHERE' but found end of statement at column 19"),
        ("DELETE FROM t", "Expected 'WHERE' but found end of statement at column 14"),
        ("SELECT * FROM t WHERE a IN 1", "Expected '[' or '(' but found '1' at column 28"),
        ("SELECT * FROM t WHERE a IS 1", "Expected MISSING or NULL but found '1' at column 28"),
        ("HELLO", "Expected SELECT, INSERT, UPDATE or DELETE but found 'HELLO' at column 1"),
        ("SELECT * FROM t WHERE a = 1.2.3", "Invalid number '1.2.3'"),
        ("SELECT * FROM \"t\".?", "Expected an index name but found '?' at column 19"),
        ("SELECT * FROM t.", "Expected an index name but found end of statement at column 17"),
        ("SELECT * FROM t.i.j", "Unexpected '.' at column 18"),
    ];
    for (text, detail) in cases {
        let message = err(text);
        let want = format!("Statement wasn't well formed, can't be processed: {detail}");
        assert!(message.starts_with(&want), "{text}: {message}");
    }
}

#[test]
fn unsupported_statements_say_so() {
    let cases = [
        ("CREATE TABLE t", "CREATE statements are not supported"),
        ("SELECT * FROM t ORDER BY pk", "ORDER BY is not supported"),
        ("INSERT INTO t VALUES {'pk': 'a'}", "INSERT with VALUES"),
        ("INSERT INTO t VALUE {'pk': 'a'}, {'pk': 'b'}", "more than one item"),
        ("DELETE FROM t WHERE pk = 'a' RETURNING ALL NEW *", "DELETE can only return ALL OLD *"),
        ("EXISTS(SELECT * FROM t)", "EXISTS"),
    ];
    for (text, detail) in cases {
        let message = err(text);
        assert!(message.starts_with("Unsupported operation: "), "{text}: {message}");
        assert!(message.contains(detail), "{text}: {message}");
    }
    let e = plan_of("SELECT * FROM t WHERE foo(a)", &[], &hash_schema()).unwrap_err();
    assert_eq!(e.to_string(), "Unsupported operation: function foo");
}

#[test]
fn deep_nesting_fails_fast_without_overflowing_the_stack() {
    for (open, close) in [("(", ")"), ("[", "]"), ("NOT ", ""), ("{'a': ", "}"), ("size(", ")")] {
        let depth = 100_000;
        let text = format!("SELECT * FROM t WHERE {}a = 1{}", open.repeat(depth), close.repeat(depth));
        let started = std::time::Instant::now();
        let message = err(&text);
        assert!(message.contains("nesting exceeds the maximum depth of 100"), "{open}: {message}");
        assert!(started.elapsed() < std::time::Duration::from_secs(5));
    }
    // Just inside the bound parses.
    let text = format!("SELECT * FROM t WHERE {}a = 1{}", "(".repeat(40), ")".repeat(40));
    assert!(parse(&text).is_ok());
}

#[test]
fn comments_and_case_are_ignored() {
    let st = parse("select *\n-- all of it\nfrom \"T\" where \"pk\" = 'a'").unwrap();
    assert_eq!(st.table(), "T");
    let item: Item = Item::new();
    assert!(item.is_empty());
}
