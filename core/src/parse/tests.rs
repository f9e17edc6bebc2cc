use super::field_names::steps_of;
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
    assert_eq!(req.unknown.in_order(), ["steps", "x"]);
    assert_eq!(req.duplicates.in_order(), [&"prompt"]);
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
    assert_eq!(req.unknown.in_order(), ["colour"]);
    assert_eq!(req.duplicates.in_order(), [&"seed"]);
}

/// A JSON body with `prompt`, then `distinct` unknown names each sent `times` times, then `seed`
/// (so a test can see the body is read to its end).
fn body_with_unknown(distinct: usize, times: usize) -> String {
    let mut body = String::from(r#"{"prompt":"a""#);
    for round in 0..times {
        for i in 0..distinct {
            body.push_str(&format!(r#","extra_{i}":{round}"#));
        }
    }
    body.push_str(r#","seed":7}"#);
    body
}

fn unknown_pairs(distinct: usize, times: usize) -> Vec<(String, String)> {
    let mut pairs = vec![("prompt".to_owned(), "a".to_owned())];
    for round in 0..times {
        for i in 0..distinct {
            pairs.push((format!("extra_{i}"), round.to_string()));
        }
    }
    pairs.push(("seed".to_owned(), "7".to_owned()));
    pairs
}

fn form_parts(distinct: usize, times: usize) -> Vec<(String, FormPart)> {
    unknown_pairs(distinct, times)
        .into_iter()
        .map(|(k, v)| (k, FormPart::Text(v)))
        .collect()
}

/// The same request read as JSON, as a form and as a query.
fn read_all_three(distinct: usize, times: usize) -> [RawRequest; 3] {
    [
        parse(&body_with_unknown(distinct, times)),
        parse_form(&SDXL_LIGHTNING, form_parts(distinct, times)),
        parse_query(&SDXL_LIGHTNING, unknown_pairs(distinct, times)),
    ]
}

#[test]
fn unknown_names_are_kept_once_each_in_first_seen_order() {
    for req in read_all_three(3, 1_000) {
        assert_eq!(req.unknown.in_order(), ["extra_0", "extra_1", "extra_2"]);
        assert!(!req.unknown.overflowed());
        assert!(req.has("seed"));
    }
}

#[test]
fn the_cap_counts_distinct_names() {
    // Exactly the cap, each name many times: not over it.
    for req in read_all_three(MAX_UNKNOWN_FIELDS, 3) {
        assert_eq!(req.unknown.len(), MAX_UNKNOWN_FIELDS);
        assert!(!req.unknown.overflowed());
    }
    // One distinct name more: over it.
    for req in read_all_three(MAX_UNKNOWN_FIELDS + 1, 1) {
        assert!(req.unknown.overflowed());
    }
}

#[test]
fn names_past_the_cap_are_not_kept_and_the_rest_is_still_read() {
    for mut req in read_all_three(5_000, 1) {
        assert!(req.unknown.overflowed());
        assert_eq!(req.unknown.len(), MAX_UNKNOWN_FIELDS, "no more names kept");
        let kept = req.unknown.in_order();
        assert_eq!(
            (kept[0].as_str(), kept[99].as_str()),
            ("extra_0", "extra_99")
        );
        assert_eq!(
            value(&mut req, "seed"),
            RawValue::Json(serde_json::json!(7)),
            "fields after the cap are still read"
        );
    }
    // And a syntax error after the cap is still found.
    let mut broken = body_with_unknown(5_000, 1);
    broken.pop();
    assert!(matches!(
        parse_json(&SDXL_LIGHTNING, broken.as_bytes()),
        Err(BodyError::Syntax(_))
    ));
}

#[test]
fn repeats_of_a_known_field_are_named_once() {
    let mut body = String::from(r#"{"prompt":"a""#);
    for _ in 0..1_000 {
        body.push_str(r#","prompt":"b","seed":1"#);
    }
    body.push('}');
    let req = parse(&body);
    assert_eq!(req.duplicates.in_order(), [&"prompt", &"seed"]);
}

/// Doubling the names must double the bookkeeping's work, not quadruple it: the steps counted are
/// the names it hashes and compares (wall time would be too noisy to tell).
#[test]
fn bookkeeping_work_grows_linearly_with_the_names() {
    let work = |distinct: usize, times: usize| -> [u64; 3] {
        let body = body_with_unknown(distinct, times);
        let (parts, pairs) = (form_parts(distinct, times), unknown_pairs(distinct, times));
        [
            steps_of(|| parse(&body)).1,
            steps_of(|| parse_form(&SDXL_LIGHTNING, parts)).1,
            steps_of(|| parse_query(&SDXL_LIGHTNING, pairs)).1,
        ]
    };
    // Under the cap, each name sent twice (a search per name would do n²/2 comparisons); and far
    // past it.
    for (distinct, times) in [(40, 2), (2_000, 1), (10_000, 1)] {
        let small = work(distinct, times);
        let double = work(2 * distinct, times);
        for (what, (small, double)) in ["json", "form", "query"]
            .iter()
            .zip(small.iter().zip(double))
        {
            assert!(*small > 0, "{what}: nothing counted");
            assert!(
                double <= small * 5 / 2,
                "{what}: {distinct} names cost {small} steps but {} cost {double}",
                2 * distinct
            );
        }
    }
}
