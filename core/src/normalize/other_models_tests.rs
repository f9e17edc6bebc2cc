//! The rows that differ between model tables: required images, refused extra fields, per-model
//! bounds and defaults.

use serde_json::json;

use crate::inputs::{InputValue, Normalized};
use crate::model::ModelSpec;
use crate::models::{
    self, DREAMSHAPER_8_LCM, FLUX_1_SCHNELL, LUCID_ORIGIN, PHOENIX_1_0, SDXL_BASE, SD_V1_5_IMG2IMG,
    SD_V1_5_INPAINTING,
};
use crate::violation::Rule;
use crate::{validate_json, ApiError, Policy};

const PNG_256: &[u8] = include_bytes!("../../../tests/fixtures/photo-256.png");
const MASK_256: &[u8] = include_bytes!("../../../tests/fixtures/mask-256.png");

fn run(spec: &'static ModelSpec, body: &serde_json::Value) -> Result<Normalized, ApiError> {
    let text = serde_json::to_vec(body).unwrap();
    validate_json(spec, &text, Policy::default(), &mut || 7)
}

fn accept(spec: &'static ModelSpec, body: serde_json::Value) -> Vec<(&'static str, InputValue)> {
    match run(spec, &body) {
        Ok(n) => n.inputs.iter().map(|(k, v)| (k, v.clone())).collect(),
        Err(e) => panic!("{} refused {body}: {e:?}", spec.id),
    }
}

fn refusal(spec: &'static ModelSpec, body: serde_json::Value) -> Vec<(String, Rule, String)> {
    match run(spec, &body) {
        Err(ApiError::Invalid(v)) => v.into_iter().map(|v| (v.path, v.rule, v.message)).collect(),
        other => panic!("{} did not refuse {body}: {other:?}", spec.id),
    }
}

#[test]
fn every_model_is_found_by_its_id_and_ids_are_unique() {
    assert_eq!(models::ALL.len(), 11);
    for spec in models::ALL {
        assert_eq!(models::by_id(spec.id), Some(*spec));
        assert_eq!(models::ALL.iter().filter(|m| m.id == spec.id).count(), 1);
        // Every table's cross rules name fields the table has.
        let rules = format!("{:?}", spec.rules);
        for word in rules.split('"').skip(1).step_by(2) {
            assert!(spec.field(word).is_some(), "{}: rule names {word}", spec.id);
        }
    }
    assert_eq!(models::by_id("@cf/nobody/no-such-model"), None);
}

#[test]
fn text_to_image_models_of_the_sd_family_need_only_a_prompt() {
    for spec in [&SDXL_BASE, &DREAMSHAPER_8_LCM] {
        let inputs = accept(spec, json!({"prompt": "a lighthouse"}));
        let names: Vec<&str> = inputs.iter().map(|(k, _)| *k).collect();
        assert_eq!(
            names,
            ["prompt", "num_steps", "strength", "guidance", "seed"]
        );
    }
}

#[test]
fn img2img_requires_an_image_in_either_encoding() {
    let refused = refusal(&SD_V1_5_IMG2IMG, json!({"prompt": "x"}));
    assert_eq!(refused.len(), 1);
    assert_eq!(
        (refused[0].0.as_str(), refused[0].1),
        ("/image", Rule::Required)
    );
    assert!(refused[0].2.contains("'/image_b64'"), "{}", refused[0].2);

    accept(&SD_V1_5_IMG2IMG, json!({"prompt": "x", "image": PNG_256}));
    let b64 = base64::Engine::encode(&base64::engine::general_purpose::STANDARD, PNG_256);
    let inputs = accept(&SD_V1_5_IMG2IMG, json!({"prompt": "x", "image_b64": b64}));
    assert!(inputs
        .iter()
        .any(|(k, v)| *k == "image" && matches!(v, InputValue::Image(_))));
}

#[test]
fn inpainting_requires_image_and_mask() {
    let refused = refusal(&SD_V1_5_INPAINTING, json!({"prompt": "x"}));
    let got: Vec<(&str, Rule)> = refused.iter().map(|(p, r, _)| (p.as_str(), *r)).collect();
    assert_eq!(got, [("/image", Rule::Required), ("/mask", Rule::Required)]);

    let refused = refusal(
        &SD_V1_5_INPAINTING,
        json!({"prompt": "x", "image": PNG_256}),
    );
    assert_eq!(
        (refused[0].0.as_str(), refused[0].1),
        ("/mask", Rule::Required)
    );

    accept(
        &SD_V1_5_INPAINTING,
        json!({"prompt": "x", "image": PNG_256, "mask": MASK_256}),
    );
}

#[test]
fn flux_takes_prompt_and_steps_only() {
    let inputs = accept(&FLUX_1_SCHNELL, json!({"prompt": "a fox"}));
    assert_eq!(
        inputs,
        [
            ("prompt", InputValue::Text("a fox".into())),
            ("steps", InputValue::Integer(4)),
        ]
    );
    // The live API answers 5006 "Additional or unevaluated properties '/seed'" for these.
    let refused = refusal(
        &FLUX_1_SCHNELL,
        json!({"prompt": "a fox", "seed": 1, "width": 512}),
    );
    let got: Vec<(&str, Rule)> = refused.iter().map(|(p, r, _)| (p.as_str(), *r)).collect();
    assert_eq!(
        got,
        [
            ("/seed", Rule::UnknownField),
            ("/width", Rule::UnknownField)
        ]
    );
    assert!(
        refused[0].2.contains("accepts only prompt, steps"),
        "{}",
        refused[0].2
    );

    let refused = refusal(&FLUX_1_SCHNELL, json!({"prompt": "a", "steps": 9}));
    assert_eq!(refused[0].1, Rule::Maximum);
    let long = "p".repeat(2049);
    let refused = refusal(&FLUX_1_SCHNELL, json!({ "prompt": long }));
    assert_eq!(
        (refused[0].0.as_str(), refused[0].1),
        ("/prompt", Rule::MaxLength)
    );
    accept(&FLUX_1_SCHNELL, json!({ "prompt": "p".repeat(2048) }));
}

#[test]
fn phoenix_defaults_and_bounds() {
    let inputs = accept(&PHOENIX_1_0, json!({"prompt": "a sign saying hello"}));
    assert_eq!(
        inputs,
        [
            ("prompt", InputValue::Text("a sign saying hello".into())),
            ("guidance", InputValue::Number(2.0)),
            ("seed", InputValue::Integer(7)),
            ("height", InputValue::Integer(1024)),
            ("width", InputValue::Integer(1024)),
            ("num_steps", InputValue::Integer(25)),
        ]
    );
    let refused = refusal(
        &PHOENIX_1_0,
        json!({"prompt": "x", "guidance": 1.5, "num_steps": 51, "negative_prompt": ""}),
    );
    let got: Vec<(&str, Rule)> = refused.iter().map(|(p, r, _)| (p.as_str(), *r)).collect();
    assert_eq!(
        got,
        [
            ("/negative_prompt", Rule::MinLength),
            ("/guidance", Rule::Minimum),
            ("/num_steps", Rule::Maximum),
        ]
    );
}

#[test]
fn lucid_origin_has_two_names_for_steps_but_takes_one() {
    let inputs = accept(&LUCID_ORIGIN, json!({"prompt": "x", "steps": 30}));
    assert!(inputs.contains(&("steps", InputValue::Integer(30))));
    assert!(inputs.contains(&("width", InputValue::Integer(1120))));
    assert!(!inputs.iter().any(|(k, _)| *k == "num_steps"));
    let refused = refusal(
        &LUCID_ORIGIN,
        json!({"prompt": "x", "steps": 30, "num_steps": 30}),
    );
    assert_eq!(
        (refused[0].0.as_str(), refused[0].1),
        ("/steps", Rule::Exclusive)
    );
    let refused = refusal(&LUCID_ORIGIN, json!({"prompt": "x", "width": 2501}));
    assert_eq!(refused[0].1, Rule::Maximum);
}

/// The published schemas say `minimum: 0` for Phoenix's and Lucid Origin's sides; a side below
/// what the model makes must not reach a paid run.
#[test]
fn leonardo_sides_below_what_the_model_takes_are_refused() {
    for spec in [&PHOENIX_1_0, &LUCID_ORIGIN] {
        for side in ["width", "height"] {
            for too_small in [0, 1, 8, 255] {
                let refused = refusal(spec, json!({"prompt": "x", side: too_small}));
                assert_eq!(
                    (refused[0].0.as_str(), refused[0].1, refused.len()),
                    (format!("/{side}").as_str(), Rule::Minimum, 1),
                    "{} {side} {too_small}",
                    spec.id
                );
                assert!(refused[0].2.ends_with("must be >= 256"), "{}", refused[0].2);
            }
            let inputs = accept(spec, json!({"prompt": "x", side: 256}));
            assert!(
                inputs.contains(&(side, InputValue::Integer(256))),
                "{}",
                spec.id
            );
        }
    }
}
