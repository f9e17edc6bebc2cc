use serde_json::{json, Value};

use super::*;

const SDXL: &str = "@cf/bytedance/stable-diffusion-xl-lightning";

fn read(body: &Value, path: Option<&str>) -> Result<CreateRequest, ApiError> {
    read_create(body.to_string().as_bytes(), path, &mut || 1000)
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
    let seeds: Vec<i64> = r
        .bodies
        .iter()
        .map(|b| {
            serde_json::from_str::<Value>(b).unwrap()["seed"]
                .as_i64()
                .unwrap()
        })
        .collect();
    assert_eq!(seeds, vec![7, 8, 9]);
    for b in &r.bodies {
        let v: Value = serde_json::from_str(b).unwrap();
        assert_eq!(v["prompt"], "a cat");
        assert!(v.get("n").is_none(), "n is not the model's field");
    }
}

#[test]
fn a_seed_is_drawn_when_none_is_sent() {
    let r = read(
        &json!({"model": SDXL, "input": {"prompt": "a", "n": 2}}),
        None,
    )
    .unwrap();
    let first: Value = serde_json::from_str(&r.bodies[0]).unwrap();
    let second: Value = serde_json::from_str(&r.bodies[1]).unwrap();
    assert_eq!(
        (first["seed"].as_i64(), second["seed"].as_i64()),
        (Some(1000), Some(1001))
    );
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
        read_create(b"[1,2]", None, &mut || 0),
        Err(ApiError::Invalid(_))
    ));
    assert!(matches!(
        read_create(b"{not json", None, &mut || 0),
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

/// What `image_body` writes is what serde_json wrote of the map with `n` removed and `seed`
/// inserted, before it was written by hand.
#[test]
fn image_bodies_are_the_bytes_of_the_map_they_were() {
    let inputs = [
        json!({}),
        json!({"n": 2}),
        json!({"prompt": "a cat", "n": 3, "seed": 7}),
        json!({"a": 1, "seed": "x", "z": [1, 2.5, null]}),
        json!({"prompt": "q\"uote\\ \n\t\u{1} é 🐈", "num_steps": 4, "guidance": 7.5}),
        json!({"aaa": true, "sea": 1, "seed0": 2, "seeds": 3, "sf": 4}),
        json!({"seedz": {"n": 1, "seed": 2}, "\u{7f}key\"": "v", "ñ": 1, "N": 0}),
        json!({"image": [137, 80, 78, 71], "mask": "bWFzaw==", "strength": 0.5, "n": null}),
    ];
    for input in inputs {
        let map = input.as_object().unwrap();
        for seed in [None, Some(0), Some(-5), Some(9_007_199_254_740_991)] {
            let mut expected = map.clone();
            expected.remove("n");
            if let Some(seed) = seed {
                expected.insert("seed".into(), Value::from(seed));
            }
            assert_eq!(
                image_body(map, seed),
                Value::Object(expected).to_string(),
                "{input} {seed:?}"
            );
        }
    }
}

#[test]
fn the_echo_shortens_long_strings_at_any_depth() {
    let long = "x".repeat(ECHO_MAX_CHARS + 1);
    let mut value = json!({"a": [long.clone(), {"b": long}], "c": "short", "d": 1});
    echo(&mut value);
    let short = format!("{}... ({} characters)", "x".repeat(64), ECHO_MAX_CHARS + 1);
    assert_eq!(
        value,
        json!({"a": [short.clone(), {"b": short}], "c": "short", "d": 1})
    );
}
