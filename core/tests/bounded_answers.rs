//! Answers stay small however hostile the request: a cap on unknown fields (refused with its own
//! code), echoed names cut, and the error list cut after its first entries.

use sdxl_core::echo::{MAX_ECHOED_NAME_BYTES, TRUNCATION_MARKER};
use sdxl_core::envelope::{
    CODE_BAD_INPUT, CODE_MORE_VIOLATIONS, CODE_TOO_MANY_UNKNOWN_FIELDS, MAX_LISTED_VIOLATIONS,
};
use sdxl_core::headers::field_list;
use sdxl_core::models::{FLUX_1_SCHNELL, SDXL_LIGHTNING};
use sdxl_core::parse::MAX_UNKNOWN_FIELDS;
use sdxl_core::{
    normalize, parse_form, parse_query, validate_json, ApiError, FormPart, ModelSpec, Normalized,
    Policy, Rule,
};
use serde_json::Value;

/// A body with a prompt and the unknown `names`, written as text so the order is kept.
fn body(names: impl IntoIterator<Item = String>) -> String {
    let mut text = String::from(r#"{"prompt":"a cat""#);
    for name in names {
        text.push(',');
        text.push_str(&Value::String(name).to_string());
        text.push_str(":1");
    }
    text.push('}');
    text
}

fn numbered(n: usize) -> impl Iterator<Item = String> {
    (0..n).map(|i| format!("extra_{i}"))
}

fn validate(spec: &'static ModelSpec, body: &str) -> Result<Normalized, ApiError> {
    validate_json(spec, body.as_bytes(), Policy::default(), &mut || 7)
}

/// The envelope of a refusal, as a client reads it.
fn envelope(error: &ApiError) -> (String, Vec<Value>) {
    let text = error.envelope(Some("req")).to_json();
    let json: Value = serde_json::from_str(&text).unwrap();
    let errors = json["errors"].as_array().unwrap().clone();
    (text, errors)
}

fn refused(result: Result<Normalized, ApiError>) -> ApiError {
    match result {
        Err(e @ ApiError::Invalid(_)) => e,
        other => panic!("not refused as invalid: {other:?}"),
    }
}

#[test]
fn the_cap_on_unknown_fields_is_refused_with_its_own_code() {
    let error = refused(validate(
        &SDXL_LIGHTNING,
        &body(numbered(MAX_UNKNOWN_FIELDS + 1)),
    ));
    assert_eq!(error.status(), 400);
    let (_, errors) = envelope(&error);
    assert_eq!(errors.len(), 1, "{errors:?}");
    let cap = &errors[0];
    assert_eq!(cap["code"], CODE_TOO_MANY_UNKNOWN_FIELDS);
    assert_eq!(cap["rule"], "too_many_unknown_fields");
    assert_eq!(cap["path"], "");
    assert_eq!(cap["limit"], MAX_UNKNOWN_FIELDS);
    let message = cap["message"].as_str().unwrap();
    assert!(
        message.contains(&format!("more than {MAX_UNKNOWN_FIELDS} distinct fields"))
            && message.contains("'extra_0', 'extra_1'"),
        "{message}"
    );
}

#[test]
fn the_cap_is_on_distinct_names_and_is_itself_accepted() {
    let at_cap = validate(&SDXL_LIGHTNING, &body(numbered(MAX_UNKNOWN_FIELDS))).unwrap();
    assert_eq!(at_cap.ignored_fields.len(), MAX_UNKNOWN_FIELDS);
    // Many more fields than the cap, but few distinct names.
    let repeated = body((0..5_000).map(|i| format!("extra_{}", i % 3)));
    let n = validate(&SDXL_LIGHTNING, &repeated).unwrap();
    assert_eq!(n.ignored_fields, ["extra_0", "extra_1", "extra_2"]);
}

#[test]
fn the_cap_holds_for_forms_and_queries_too() {
    let pairs: Vec<(String, String)> = std::iter::once(("prompt".to_owned(), "a".to_owned()))
        .chain(numbered(MAX_UNKNOWN_FIELDS + 1).map(|k| (k, "1".to_owned())))
        .collect();
    let parts = pairs
        .iter()
        .map(|(k, v)| (k.clone(), FormPart::Text(v.clone())));
    for raw in [
        parse_query(&SDXL_LIGHTNING, pairs.iter().map(|(k, v)| (k, v))),
        parse_form(&SDXL_LIGHTNING, parts),
    ] {
        let error = normalize(&SDXL_LIGHTNING, raw, Policy::default(), &mut || 7)
            .map_err(ApiError::Invalid);
        let (_, errors) = envelope(&refused(error));
        assert_eq!(errors[0]["code"], CODE_TOO_MANY_UNKNOWN_FIELDS);
    }
}

#[test]
fn over_the_cap_the_reason_comes_first_beside_other_violations() {
    let mut text = body(numbered(MAX_UNKNOWN_FIELDS + 1));
    text.insert_str(1, r#""num_steps":99,"#);
    let (_, errors) = envelope(&refused(validate(&SDXL_LIGHTNING, &text)));
    let got: Vec<(&Value, &Value)> = errors.iter().map(|e| (&e["code"], &e["rule"])).collect();
    assert_eq!(
        got,
        [
            (
                &Value::from(CODE_TOO_MANY_UNKNOWN_FIELDS),
                &Value::from("too_many_unknown_fields")
            ),
            (&Value::from(CODE_BAD_INPUT), &Value::from("maximum")),
        ]
    );
}

#[test]
fn flux_with_5000_unknown_fields_answers_a_small_envelope() {
    let small = refused(validate(&FLUX_1_SCHNELL, &body(numbered(5_000))));
    let (text, errors) = envelope(&small);
    assert!(errors.len() <= MAX_LISTED_VIOLATIONS + 1);
    assert!(text.len() < 2_048, "{} bytes", text.len());
    // Twice the fields, the same answer.
    let double = refused(validate(&FLUX_1_SCHNELL, &body(numbered(10_000))));
    assert_eq!(envelope(&double).0.len(), text.len());
}

#[test]
fn flux_at_the_cap_lists_the_first_violations_then_counts_the_rest() {
    let error = refused(validate(
        &FLUX_1_SCHNELL,
        &body(numbered(MAX_UNKNOWN_FIELDS)),
    ));
    let ApiError::Invalid(violations) = &error else {
        unreachable!()
    };
    assert_eq!(
        violations.len(),
        MAX_UNKNOWN_FIELDS,
        "one per unknown field"
    );
    let (_, errors) = envelope(&error);
    assert_eq!(errors.len(), MAX_LISTED_VIOLATIONS + 1);
    assert!(errors[..MAX_LISTED_VIOLATIONS]
        .iter()
        .all(|e| e["rule"] == "unknown_field" && e["code"] == CODE_BAD_INPUT));
    assert_eq!(errors[0]["path"], "/extra_0");
    let last = &errors[MAX_LISTED_VIOLATIONS];
    assert_eq!(last["code"], CODE_MORE_VIOLATIONS);
    assert_eq!(last["rule"], "more_violations");
    assert_eq!(
        last["message"],
        format!(
            "... and {} more violations",
            MAX_UNKNOWN_FIELDS - MAX_LISTED_VIOLATIONS
        )
    );
}

/// A 100 KB name is echoed as its first bytes and a marker: in the path, the message, and the
/// refusal for too many names.
#[test]
fn long_names_are_echoed_cut() {
    let long = format!("{}/tail", "n".repeat(100 * 1024));
    let cut = format!("{}{TRUNCATION_MARKER}", "n".repeat(MAX_ECHOED_NAME_BYTES));
    let (text, errors) = envelope(&refused(validate(&FLUX_1_SCHNELL, &body([long.clone()]))));
    assert_eq!(errors[0]["rule"], "unknown_field");
    assert_eq!(errors[0]["path"], format!("/{cut}"));
    assert!(errors[0]["message"]
        .as_str()
        .unwrap()
        .starts_with(&format!("'/{cut}'")));
    assert!(text.len() < 1_024, "{} bytes", text.len());

    let names = (0..=MAX_UNKNOWN_FIELDS).map(|i| format!("{i}{}", "n".repeat(4 * 1024)));
    let (text, errors) = envelope(&refused(validate(&SDXL_LIGHTNING, &body(names))));
    assert_eq!(errors[0]["code"], CODE_TOO_MANY_UNKNOWN_FIELDS);
    assert!(text.len() < 1_024, "{} bytes", text.len());

    let accepted = validate(&SDXL_LIGHTNING, &body([long])).unwrap();
    let header = field_list(&accepted.ignored_fields);
    assert_eq!(
        header,
        format!("{}%E2%80%A6", "n".repeat(MAX_ECHOED_NAME_BYTES))
    );
}

#[test]
fn only_the_kept_names_are_forwarded_whole_to_the_ignored_list() {
    // The full names are kept (they decide what is distinct); only echoes are cut.
    let a = format!("{}a", "n".repeat(100));
    let b = format!("{}b", "n".repeat(100));
    let n = validate(&SDXL_LIGHTNING, &body([a.clone(), b.clone()])).unwrap();
    assert_eq!(n.ignored_fields, [a, b]);
}

#[test]
fn violation_rules_serialize_as_documented() {
    assert_eq!(
        serde_json::to_value(Rule::TooManyUnknownFields).unwrap(),
        "too_many_unknown_fields"
    );
    assert_eq!(
        serde_json::to_value(Rule::MoreViolations).unwrap(),
        "more_violations"
    );
}
