use super::*;
use crate::models::SDXL_LIGHTNING;

fn parse(body: &str) -> RawRequest {
    parse_json(&SDXL_LIGHTNING, body.as_bytes()).unwrap()
}

fn value(req: &mut RawRequest, name: &str) -> RawValue {
    req.take(name).unwrap()
}

#[test]
fn image_arrays_become_bytes() {
    let mut req = parse(r#"{"prompt":"a","image":[0,1,255,7.0],"mask":[]}"#);
    assert_eq!(
        value(&mut req, "image"),
        RawValue::Bytes(vec![0, 1, 255, 7])
    );
    assert_eq!(value(&mut req, "mask"), RawValue::Bytes(vec![]));
    assert_eq!(
        value(&mut req, "prompt"),
        RawValue::Json(serde_json::json!("a"))
    );
}

#[test]
fn first_bad_element_is_reported_and_parsing_continues() {
    for (array, index, problem) in [
        ("[1,2,256]", 2, ElementProblem::OutOfRange),
        ("[-1]", 0, ElementProblem::OutOfRange),
        ("[1,2.5,300]", 1, ElementProblem::NotAnInteger),
        ("[1,\"2\"]", 1, ElementProblem::NotANumber),
        ("[null]", 0, ElementProblem::NotANumber),
        ("[[1],2]", 0, ElementProblem::NotANumber),
        ("[{\"a\":1}]", 0, ElementProblem::NotANumber),
        ("[true]", 0, ElementProblem::NotANumber),
        ("[1e3]", 0, ElementProblem::OutOfRange),
    ] {
        let mut req = parse(&format!(r#"{{"image":{array},"prompt":"after"}}"#));
        assert_eq!(
            value(&mut req, "image"),
            RawValue::BadBytes(ByteArrayProblem::Element { index, problem }),
            "{array}"
        );
        assert!(req.has("prompt"), "fields after a bad array are still read");
    }
}

#[test]
fn non_arrays_in_image_fields() {
    for (json, kind) in [
        ("\"abc\"", "a string"),
        ("12", "a number"),
        ("null", "null"),
        ("{\"0\":1}", "an object"),
        ("false", "a boolean"),
    ] {
        let mut req = parse(&format!(r#"{{"mask":{json}}}"#));
        assert_eq!(
            value(&mut req, "mask"),
            RawValue::BadBytes(ByteArrayProblem::NotAnArray(kind))
        );
    }
}

#[test]
fn unknown_and_repeated_fields_are_named() {
    let req = parse(r#"{"prompt":"a","steps":4,"prompt":"b","x":{"deep":[1]},"steps":5}"#);
    assert_eq!(req.unknown, vec!["steps".to_owned(), "x".to_owned()]);
    assert_eq!(req.duplicates, vec!["prompt"]);
    assert_eq!(req.fields.len(), 1);
}

#[test]
fn body_errors() {
    let err = |body: &str| parse_json(&SDXL_LIGHTNING, body.as_bytes()).unwrap_err();
    assert!(matches!(err(""), BodyError::Empty));
    assert!(matches!(err(" \n"), BodyError::Empty));
    assert!(matches!(err("{"), BodyError::Syntax(_)));
    assert!(matches!(err("{\"prompt\":\"a\"} x"), BodyError::Syntax(_)));
    assert!(matches!(err("{\"prompt\":NaN}"), BodyError::Syntax(_)));
    assert!(matches!(err("[1,2]"), BodyError::NotAnObject("an array")));
    assert!(matches!(
        err("\"prompt\""),
        BodyError::NotAnObject("a string")
    ));
    assert!(matches!(err("null"), BodyError::NotAnObject("null")));
    assert!(matches!(err("3"), BodyError::NotAnObject("a number")));
}

#[test]
fn query_values_are_typed_like_json() {
    let mut req = parse_query(
        &SDXL_LIGHTNING,
        [
            ("prompt", "a cat"),
            ("seed", "42"),
            ("strength", "0.5"),
            ("num_steps", "4.0"),
            ("width", "wide"),
            ("image", "1,2,3"),
            ("colour", "red"),
            ("seed", "43"),
        ],
    );
    assert_eq!(
        value(&mut req, "prompt"),
        RawValue::Json(serde_json::json!("a cat"))
    );
    assert_eq!(
        value(&mut req, "seed"),
        RawValue::Json(serde_json::json!(42))
    );
    assert_eq!(
        value(&mut req, "strength"),
        RawValue::Json(serde_json::json!(0.5))
    );
    assert_eq!(
        value(&mut req, "num_steps"),
        RawValue::Json(serde_json::json!(4.0))
    );
    assert_eq!(
        value(&mut req, "width"),
        RawValue::Json(serde_json::json!("wide"))
    );
    assert_eq!(value(&mut req, "image"), RawValue::NotInQuery);
    assert_eq!(req.unknown, vec!["colour".to_owned()]);
    assert_eq!(req.duplicates, vec!["seed"]);
}
