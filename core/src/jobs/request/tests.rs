use serde_json::{json, Value};

use super::*;

const SDXL: &str = "@cf/bytedance/stable-diffusion-xl-lightning";

/// `read_create` of `body`'s text, which lives as long as the test (leaked: tests are short).
fn read(body: &Value, path: Option<&str>) -> Result<CreateRequest<'static>, ApiError> {
    let text: &'static str = Box::leak(body.to_string().into_boxed_str());
    read_create(text.as_bytes(), path, true, &mut || 1000)
}

fn paths(error: &ApiError) -> Vec<String> {
    match error {
        ApiError::Invalid(v) => v.iter().map(|v| v.path.clone()).collect(),
        other => panic!("not a violation list: {other:?}"),
    }
}

#[test]
fn n_variations_get_consecutive_seeds() {
    let r = read(
        &json!({"version": SDXL, "input": {"prompt": "a cat", "seed": 7, "n": 3}}),
        None,
    )
    .unwrap();
    assert_eq!(r.model.id, SDXL);
    assert_eq!(r.seeds, vec![7, 8, 9]);
    assert_eq!(r.images(), 3);
    for variant in 0..r.images() {
        let raw = model_input(r.model, r.input.as_bytes(), r.seed_of(variant)).unwrap();
        let seed = raw.fields.iter().find(|(f, _)| f.name == "seed");
        assert_eq!(
            seed.map(|(_, v)| v.clone()),
            Some(RawValue::Json(Value::from(7 + variant as i64)))
        );
        assert!(raw.has("prompt"));
        assert!(raw.unknown.is_empty(), "n is not the model's field");
        assert!(
            raw.duplicates.is_empty(),
            "the seed is replaced, not repeated"
        );
    }
}

#[test]
fn a_seed_is_drawn_when_none_is_sent() {
    let r = read(
        &json!({"model": SDXL, "input": {"prompt": "a", "n": 2}}),
        None,
    )
    .unwrap();
    assert_eq!(r.seeds, vec![1000, 1001]);
}

#[test]
fn the_model_comes_from_the_path_or_the_body_in_any_spelling() {
    let input = json!({"input": {"prompt": "a"}});
    assert_eq!(read(&input, Some(SDXL)).unwrap().model.id, SDXL);
    for name in [
        SDXL,
        "bytedance/stable-diffusion-xl-lightning",
        "bytedance/stable-diffusion-xl-lightning:5599ed30",
    ] {
        let r = read(&json!({"version": name, "input": {"prompt": "a"}}), None).unwrap();
        assert_eq!(r.model.id, SDXL, "{name}");
    }
    assert!(matches!(
        read(&json!({"version": "acme/nothing", "input": {}}), None),
        Err(ApiError::NoSuchModel(m)) if m == "@cf/acme/nothing"
    ));
    assert_eq!(
        paths(&read(&json!({"input": {"prompt": "a"}}), None).unwrap_err()),
        vec!["/version"]
    );
}

#[test]
fn the_predictions_own_fields_are_checked_together() {
    let e = read(
        &json!({"version": SDXL, "input": {"prompt": "a", "n": 9},
                "webhook": "ftp://x", "webhook_events_filter": ["completed", "done"]}),
        None,
    )
    .unwrap_err();
    assert_eq!(paths(&e), vec!["/input/n", "/webhook"]);
    let e = read(
        &json!({"version": SDXL, "input": {"prompt": "a"},
                "webhook": "https://sink.example/h", "webhook_events_filter": ["completed", "done"]}),
        None,
    )
    .unwrap_err();
    assert_eq!(paths(&e), vec!["/webhook_events_filter/1"]);
    assert_eq!(
        paths(&read(&json!({"version": SDXL}), None).unwrap_err()),
        vec!["/input"]
    );
    assert_eq!(
        paths(&read(&json!({"version": SDXL, "input": [1]}), None).unwrap_err()),
        vec!["/input"]
    );
    assert!(matches!(
        read_create(b"[1,2]", None, true, &mut || 0),
        Err(ApiError::Invalid(_))
    ));
    assert!(matches!(
        read_create(b"{not json", None, true, &mut || 0),
        Err(ApiError::Invalid(_))
    ));
}

#[test]
fn the_webhook_and_its_filter_are_kept() {
    let r = read(
        &json!({"version": SDXL, "input": {"prompt": "a"},
                "webhook": "https://sink.example/h", "webhook_events_filter": ["completed"]}),
        None,
    )
    .unwrap();
    assert_eq!(
        r.webhook,
        Some((
            "https://sink.example/h".into(),
            vec![WebhookEvent::Completed]
        ))
    );
    let r = read(
        &json!({"version": SDXL, "input": {"prompt": "a"}, "webhook": "http://127.0.0.1:9/h"}),
        None,
    )
    .unwrap();
    assert_eq!(r.webhook.unwrap().1, WebhookEvent::ALL.to_vec());
}

#[test]
fn seeds_past_javascripts_exact_integers_are_refused() {
    let e = read(
        &json!({"version": SDXL, "input": {"prompt": "a", "seed": crate::model::MAX_SAFE_INTEGER, "n": 2}}),
        None,
    )
    .unwrap_err();
    assert_eq!(paths(&e), vec!["/input/seed"]);
}

#[test]
fn long_strings_are_not_echoed_whole() {
    let image = "A".repeat(10_000);
    let r = read(
        &json!({"version": SDXL, "input": {"prompt": "a", "image_b64": image}}),
        None,
    )
    .unwrap();
    let echoed = r.input_echo["image_b64"].as_str().unwrap();
    assert!(
        echoed.len() < 200 && echoed.ends_with("(10000 characters)"),
        "{echoed}"
    );
    assert_eq!(r.input_echo["prompt"], "a");
}

#[test]
fn model_violations_point_under_input() {
    let e = crate::validate_json(
        crate::models::by_id(SDXL).unwrap(),
        br#"{"prompt": "", "num_steps": 99}"#,
        crate::Policy::default(),
        &mut || 0,
    )
    .unwrap_err();
    let e = under_input(e);
    assert!(
        paths(&e).iter().all(|p| p.starts_with("/input/")),
        "{:?}",
        paths(&e)
    );
}

/// A create padded with a large array (beside the input or inside it) builds no tree of it:
/// the input stays the body's own text, and the echo says how large the padding was.
#[test]
fn padding_is_never_parsed_into_values() {
    let zeros = format!("[{}0]", "0,".repeat(200_000));
    let body = format!(
        r#"{{"version": "{SDXL}", "padding": {zeros}, "input": {{"prompt": "a", "n": 8, "pad": {zeros}}}}}"#
    );
    let r = read_create(body.as_bytes(), None, true, &mut || 5).unwrap();
    assert_eq!(r.images(), 8);
    assert!(r.input.contains("\"pad\""));
    assert_eq!(
        r.input_echo["pad"],
        Value::from(format!("[0,0,0,0,0,0,0,0,0,0,0,0,0,0,0,0,0,0,0,0,0,0,0,0,0,0,0,0,0,0,0,0... ({} bytes of JSON)", zeros.len()))
    );
    assert_eq!(r.input_echo["prompt"], "a");
    // Where the padding is an unknown field of the model, the table reads past it.
    let raw = model_input(r.model, r.input.as_bytes(), r.seed_of(7)).unwrap();
    assert_eq!(raw.unknown.in_order(), [&"pad".to_owned()]);
}

#[test]
fn a_large_value_where_the_create_reads_a_small_one_is_refused_by_name() {
    let zeros = format!("[{}0]", "0,".repeat(40_000));
    let body =
        format!(r#"{{"version": "{SDXL}", "webhook": {zeros}, "input": {{"prompt": "a"}}}}"#);
    let e = read_create(body.as_bytes(), None, true, &mut || 5).unwrap_err();
    assert_eq!(paths(&e), vec!["/webhook"]);
    let body = format!(r#"{{"version": "{SDXL}", "input": {{"prompt": "a", "n": {zeros}}}}}"#);
    let e = read_create(body.as_bytes(), None, true, &mut || 5).unwrap_err();
    assert_eq!(paths(&e), vec!["/input/n"]);
}

#[test]
fn webhook_urls_are_checked_at_create_by_the_deployments_rule() {
    let body =
        |url: &str| json!({"version": SDXL, "input": {"prompt": "a"}, "webhook": url}).to_string();
    let local = body("http://127.0.0.1:9/h");
    assert!(read_create(local.as_bytes(), None, true, &mut || 1).is_ok());
    let e = read_create(local.as_bytes(), None, false, &mut || 1).unwrap_err();
    assert_eq!(paths(&e), vec!["/webhook"]);
    let fine = body("https://hooks.example.com/h");
    assert!(read_create(fine.as_bytes(), None, false, &mut || 1).is_ok());
}

/// Found by fuzzing: a seed written as a float (`7.0`, which the tables take as a whole number)
/// lost `n`; a long name or a number written back longer than it came grew the echo unbounded.
#[test]
fn a_whole_float_seed_keeps_n_and_the_echo_stays_bounded() {
    let r = read(
        &json!({"version": SDXL, "input": {"prompt": "a", "seed": 7.0, "n": 3}}),
        None,
    )
    .unwrap();
    assert_eq!(r.seeds, vec![7, 8, 9]);
    let text =
        format!(r#"{{"version": "{SDXL}", "input": {{"prompt": "a", "seed": 1.5e3, "n": 2}}}}"#);
    assert_eq!(
        read_create(text.as_bytes(), None, true, &mut || 1)
            .unwrap()
            .seeds,
        vec![1500, 1501]
    );

    let mut input = String::from("{\"prompt\":\"a\"");
    input.push_str(&format!(",\"{}\":1", "x".repeat(6000)));
    input.push_str(&format!(",\"grows\":[{}1e15]", "1e15,".repeat(400)));
    for i in 0..10 {
        input.push_str(&format!(",\"s{i}\":\"{}\"", "y".repeat(4000)));
    }
    input.push('}');
    let body = format!(r#"{{"version": "{SDXL}", "input": {input}}}"#);
    let r = read_create(body.as_bytes(), None, true, &mut || 1).unwrap();
    let echoed = r.input_echo.to_string();
    assert!(echoed.len() < 20 * 1024, "{} bytes", echoed.len());
    assert!(r
        .input_echo
        .as_object()
        .unwrap()
        .keys()
        .all(|k| k.chars().count() <= 64));
    assert!(r.input_echo["..."]
        .as_str()
        .unwrap()
        .ends_with("more fields not echoed"));
}
