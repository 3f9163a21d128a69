//! The examples of AWS's "Using event filtering with a DynamoDB event source" page (Lambda
//! developer guide, `with-ddb-filtering`) and the DynamoDB and operator examples of "Control
//! which events Lambda sends to your function" (`invocation-eventfiltering`), run as written,
//! with the outcome each page states or implies.

use serde_json::{Value, json};

use super::FilterCriteria;

/// The sample stream record of the DynamoDB page.
fn page_record() -> Value {
    json!({
        "eventID": "1",
        "eventVersion": "1.0",
        "dynamodb": {
            "ApproximateCreationDateTime": "1678831218.0",
            "Keys": {"CustomerName": {"S": "AnyCompany Industries"}},
            "NewImage": {
                "AccountManager": {"S": "Pat Candella"},
                "PaymentTerms": {"S": "60 days"},
                "CustomerName": {"S": "AnyCompany Industries"}
            },
            "SequenceNumber": "111",
            "SizeBytes": 26,
            "StreamViewType": "NEW_IMAGE"
        }
    })
}

/// The page record as an update whose old image had another account manager.
fn page_update(old_manager: &str) -> Value {
    let mut record = page_record();
    record["dynamodb"]["OldImage"] = json!({
        "AccountManager": {"S": old_manager},
        "PaymentTerms": {"S": "60 days"},
        "CustomerName": {"S": "AnyCompany Industries"}
    });
    record["dynamodb"]["StreamViewType"] = json!("NEW_AND_OLD_IMAGES");
    record
}

/// The page's item with a list attribute, as a stream record.
fn organizations_record() -> Value {
    json!({"dynamodb": {"NewImage": {
        "UserID": {"S": "12345"},
        "Name": {"S": "John Doe"},
        "Organizations": {"L": [{"S": "Sales"}, {"S": "Marketing"}, {"S": "Support"}]}
    }}})
}

/// The multi-level fragment of the general page.
fn number_key_record(number: &str) -> Value {
    json!({"dynamodb": {"Keys": {"ID": {"S": "ABCD"}, "Number": {"N": number}}}})
}

struct Example {
    name: &'static str,
    /// The `FilterCriteria` exactly as the page writes it for the CLI (`Pattern` is a string).
    criteria: &'static str,
    record: Value,
    matches: bool,
}

fn examples() -> Vec<Example> {
    const KEYS: &str = r#"{"Filters": [{"Pattern": "{ \"dynamodb\" : { \"Keys\" : { \"CustomerName\" : { \"S\" : [ \"AnyCompany Industries\" ] } } } }"}]}"#;
    const ATTRIBUTES: &str = r#"{"Filters": [{"Pattern": "{ \"dynamodb\" : { \"NewImage\" : { \"AccountManager\" : { \"S\" : [ \"Pat Candella\", \"Shirley Rodriguez\" ] } } } }"}]}"#;
    const BOOLEAN: &str = r#"{"Filters": [{"Pattern": "{ \"dynamodb\" : { \"NewImage\" : { \"AccountManager\" : { \"S\" : [ \"Pat Candella\" ] } } } , \"dynamodb\" : { \"OldImage\" : { \"AccountManager\" : { \"S\" : [ \"Terry Whitlock\" ] } } } } "}]}"#;
    const EXISTS_INTERMEDIATE: &str = r#"{"Filters": [{"Pattern": "{ \"dynamodb\" : { \"NewImage\" : { \"Organizations\" : [ { \"exists\": true } ] } } }"}]}"#;
    const EXISTS_LEAF: &str = r#"{"Filters": [{"Pattern": "{ \"dynamodb\" : { \"NewImage\" : {\"Organizations\": {\"L\": {\"S\": [ {\"exists\": true } ] } } } } }"}]}"#;
    const NUMBER_KEY: &str = r#"{"Filters": [{"Pattern": "{ \"dynamodb\": { \"Keys\": { \"Number\": { \"N\": [ \"4567\" ] } } } }"}]}"#;
    const NUMERIC_ON_N: &str = r#"{"Filters": [{"Pattern": "{ \"dynamodb\": { \"Keys\": { \"Number\": { \"N\": [ { \"numeric\": [ \">\", 1000 ] } ] } } } }"}]}"#;

    let mut other_customer = page_record();
    other_customer["dynamodb"]["Keys"]["CustomerName"]["S"] = json!("Example Corp");
    let mut shirley = page_record();
    shirley["dynamodb"]["NewImage"]["AccountManager"]["S"] = json!("Shirley Rodriguez");
    let mut other_manager = page_record();
    other_manager["dynamodb"]["NewImage"]["AccountManager"]["S"] = json!("Jane Doe");

    vec![
        Example { name: "table key matches", criteria: KEYS, record: page_record(), matches: true },
        Example { name: "table key differs", criteria: KEYS, record: other_customer, matches: false },
        Example {
            name: "attribute, first value",
            criteria: ATTRIBUTES,
            record: page_record(),
            matches: true,
        },
        Example { name: "attribute, second value", criteria: ATTRIBUTES, record: shirley, matches: true },
        Example {
            name: "attribute, neither value",
            criteria: ATTRIBUTES,
            record: other_manager,
            matches: false,
        },
        // The page ANDs two sub-patterns by repeating the "dynamodb" key.
        Example {
            name: "boolean AND, both hold",
            criteria: BOOLEAN,
            record: page_update("Terry Whitlock"),
            matches: true,
        },
        Example {
            name: "boolean AND, old image differs",
            criteria: BOOLEAN,
            record: page_update("Jane Doe"),
            matches: false,
        },
        Example {
            name: "boolean AND, no old image",
            criteria: BOOLEAN,
            record: page_record(),
            matches: false,
        },
        // "this filter pattern would never return a match because "Organizations" is not a leaf node".
        Example {
            name: "exists on an intermediate node",
            criteria: EXISTS_INTERMEDIATE,
            record: organizations_record(),
            matches: false,
        },
        Example {
            name: "exists on the leaf, through the list",
            criteria: EXISTS_LEAF,
            record: organizations_record(),
            matches: true,
        },
        Example {
            name: "exists on the leaf, attribute absent",
            criteria: EXISTS_LEAF,
            record: page_record(),
            matches: false,
        },
        Example {
            name: "number key as a string, other value",
            criteria: NUMBER_KEY,
            record: number_key_record("1234"),
            matches: false,
        },
        Example {
            name: "number key as a string, same value",
            criteria: NUMBER_KEY,
            record: number_key_record("4567"),
            matches: true,
        },
        // "DynamoDB event filtering doesn't support the use of numeric operators".
        Example {
            name: "numeric operator on an N value",
            criteria: NUMERIC_ON_N,
            record: number_key_record("1234"),
            matches: false,
        },
    ]
}

#[test]
fn dynamodb_filtering_page_examples_have_the_documented_outcome() {
    for example in examples() {
        let criteria: Value =
            serde_json::from_str(example.criteria).unwrap_or_else(|e| panic!("{}: {e}", example.name));
        let filter = FilterCriteria::from_json(&criteria).unwrap_or_else(|e| panic!("{}: {e}", example.name));
        assert_eq!(filter.matches(&example.record), example.matches, "{}", example.name);
    }
}

#[test]
fn console_form_of_each_example_behaves_like_the_cli_form() {
    for example in examples() {
        let criteria: Value =
            serde_json::from_str(example.criteria).unwrap_or_else(|e| panic!("{}: {e}", example.name));
        let pattern = criteria["Filters"][0]["Pattern"].as_str().unwrap_or_default();
        let filter =
            FilterCriteria::from_pattern(pattern).unwrap_or_else(|e| panic!("{}: {e}", example.name));
        assert_eq!(filter.matches(&example.record), example.matches, "{}", example.name);
    }
}

#[test]
fn lambda_operator_table_rows_match_their_examples() {
    // One row per line of the "Filter rule syntax" table: (pattern, matching event, other event).
    let rows: Vec<(&str, Value, Value)> = vec![
        (r#"{"UserID": [null]}"#, json!({"UserID": null}), json!({"UserID": "u1"})),
        (r#"{"LastName": [""]}"#, json!({"LastName": ""}), json!({"LastName": "Doe"})),
        (r#"{"Name": ["Alice"]}"#, json!({"Name": "Alice"}), json!({"Name": "alice"})),
        (
            r#"{"Name": [{"equals-ignore-case": "alice"}]}"#,
            json!({"Name": "ALICE"}),
            json!({"Name": "Alicia"}),
        ),
        (
            r#"{"Location": ["New York"], "Day": ["Monday"]}"#,
            json!({"Location": "New York", "Day": "Monday"}),
            json!({"Location": "New York", "Day": "Tuesday"}),
        ),
        (
            r#"{"PaymentType": ["Credit", "Debit"]}"#,
            json!({"PaymentType": "Debit"}),
            json!({"PaymentType": "Cash"}),
        ),
        (
            r#"{"$or": [{"Location": ["New York"]}, {"Day": ["Monday"]}]}"#,
            json!({"Location": "Boston", "Day": "Monday"}),
            json!({"Location": "Boston", "Day": "Tuesday"}),
        ),
        (
            r#"{"Weather": [{"anything-but": ["Raining"]}]}"#,
            json!({"Weather": "Sunny"}),
            json!({"Weather": "Raining"}),
        ),
        (r#"{"Price": [{"numeric": ["=", 100]}]}"#, json!({"Price": 100}), json!({"Price": 101})),
        (r#"{"Price": [{"numeric": [">", 10, "<=", 20]}]}"#, json!({"Price": 20}), json!({"Price": 10})),
        (r#"{"ProductName": [{"exists": true}]}"#, json!({"ProductName": "Pen"}), json!({"Product": "Pen"})),
        (r#"{"ProductName": [{"exists": false}]}"#, json!({"Product": "Pen"}), json!({"ProductName": "Pen"})),
        (
            r#"{"Region": [{"prefix": "us-"}]}"#,
            json!({"Region": "us-east-1"}),
            json!({"Region": "eu-west-1"}),
        ),
        (
            r#"{"FileName": [{"suffix": ".png"}]}"#,
            json!({"FileName": "cat.png"}),
            json!({"FileName": "cat.jpg"}),
        ),
    ];
    for (pattern, yes, no) in rows {
        let filter = FilterCriteria::from_pattern(pattern).unwrap_or_else(|e| panic!("{pattern}: {e}"));
        assert!(filter.matches(&yes), "{pattern} should match {yes}");
        assert!(!filter.matches(&no), "{pattern} should not match {no}");
    }
    // "the filter pattern { "person": { "address": [ { "exists": true } ] } } wouldn't find a match".
    let person = json!({"person": {"name": "John Doe", "age": 30, "address": {"street": "123 Main St", "city": "Anytown", "country": "USA"}}});
    let filter = FilterCriteria::from_pattern(r#"{ "person": { "address": [ { "exists": true } ] } }"#);
    assert!(filter.is_ok_and(|f| !f.matches(&person)));
    // "{ "Metadata" : [ 1, 2 ] }": Metadata equal to 1 or 2.
    let metadata =
        FilterCriteria::from_json(&json!({"Filters": [{"Pattern": "{ \"Metadata\" : [ 1, 2 ] }"}]}));
    assert!(
        metadata
            .as_ref()
            .is_ok_and(|f| f.matches(&json!({"Metadata": 2})) && !f.matches(&json!({"Metadata": 3})))
    );
}
