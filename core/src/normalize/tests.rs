//! Every row of the contract, accepted and refused, with the exact error paths.

use serde_json::json;

use crate::image::ImageFormat;
use crate::inputs::{InputValue, Normalized};
use crate::models::SDXL_LIGHTNING;
use crate::violation::{Rule, Violation};
use crate::{validate_json, ApiError, Policy, UnknownFields};

const PNG_64X48: &[u8] = include_bytes!("../../../tests/fixtures/photo-64x48.png");
const JPEG_64X48: &[u8] = include_bytes!("../../../tests/fixtures/photo-64x48.jpg");
const WEBP_64X48: &[u8] = include_bytes!("../../../tests/fixtures/photo-64x48.webp");
const PNG_256: &[u8] = include_bytes!("../../../tests/fixtures/photo-256.png");
const MASK_256: &[u8] = include_bytes!("../../../tests/fixtures/mask-256.png");
const MASK_128: &[u8] = include_bytes!("../../../tests/fixtures/mask-128.png");

const DRAWN_SEED: i64 = 4_242;

fn run(body: &serde_json::Value, policy: Policy) -> Result<Normalized, ApiError> {
    let text = serde_json::to_vec(body).unwrap();
    validate_json(&SDXL_LIGHTNING, &text, policy, &mut || DRAWN_SEED)
}

fn accept(body: serde_json::Value) -> Normalized {
    match run(&body, Policy::default()) {
        Ok(n) => n,
        Err(e) => panic!("{body} was refused: {e:?}"),
    }
}

fn refuse(body: serde_json::Value) -> Vec<Violation> {
    match run(&body, Policy::default()) {
        Err(ApiError::Invalid(v)) => v,
        other => panic!("{body} was not refused as invalid: {other:?}"),
    }
}

/// The `(path, rule)` pairs of a refusal.
fn paths(body: serde_json::Value) -> Vec<(String, Rule)> {
    refuse(body).into_iter().map(|v| (v.path, v.rule)).collect()
}

fn one(path: &str, rule: Rule) -> Vec<(String, Rule)> {
    vec![(path.to_owned(), rule)]
}

fn bytes_json(bytes: &[u8]) -> serde_json::Value {
    json!(bytes)
}

#[test]
fn minimal_request_gets_every_default() {
    let n = accept(json!({"prompt": "cyberpunk cat"}));
    let got: Vec<(&str, &InputValue)> = n.inputs.iter().collect();
    assert_eq!(
        got,
        vec![
            ("prompt", &InputValue::Text("cyberpunk cat".into())),
            ("num_steps", &InputValue::Integer(20)),
            ("strength", &InputValue::Number(1.0)),
            ("guidance", &InputValue::Number(7.5)),
            ("seed", &InputValue::Integer(DRAWN_SEED)),
        ]
    );
    assert!(n.seed_drawn);
    assert!(n.ignored_fields.is_empty());
}

#[test]
fn prompt_rows() {
    assert_eq!(paths(json!({})), one("/prompt", Rule::Required));
    assert_eq!(
        paths(json!({"prompt": ""})),
        one("/prompt", Rule::MinLength)
    );
    assert_eq!(paths(json!({"prompt": 5})), one("/prompt", Rule::Type));
    assert_eq!(paths(json!({"prompt": null})), one("/prompt", Rule::Type));
    assert_eq!(paths(json!({"prompt": ["a"]})), one("/prompt", Rule::Type));
    // One character is enough, counted as a code point, not a byte.
    assert_eq!(
        accept(json!({"prompt": "é"})).inputs.text("prompt"),
        Some("é")
    );
    let v = refuse(json!({"prompt": ""}));
    assert_eq!(v[0].message, "'/prompt' must have at least 1 character");
    assert_eq!(v[0].limit, Some(json!(1)));
}

#[test]
fn negative_prompt_rows() {
    let n = accept(json!({"prompt": "a", "negative_prompt": ""}));
    assert_eq!(n.inputs.text("negative_prompt"), Some(""));
    assert_eq!(
        paths(json!({"prompt": "a", "negative_prompt": false})),
        one("/negative_prompt", Rule::Type)
    );
}

#[test]
fn width_and_height_rows() {
    for side in ["width", "height"] {
        let path = format!("/{side}");
        let with = |v: serde_json::Value| json!({"prompt": "a", side: v});
        assert_eq!(accept(with(json!(256))).inputs.integer(side), Some(256));
        assert_eq!(accept(with(json!(2048))).inputs.integer(side), Some(2048));
        assert_eq!(accept(with(json!(1024.0))).inputs.integer(side), Some(1024));
        assert_eq!(paths(with(json!(255))), one(&path, Rule::Minimum));
        assert_eq!(paths(with(json!(2049))), one(&path, Rule::Maximum));
        assert_eq!(paths(with(json!(512.5))), one(&path, Rule::Integer));
        assert_eq!(paths(with(json!("512"))), one(&path, Rule::Type));
        assert_eq!(paths(with(json!(-1))), one(&path, Rule::Minimum));
        assert_eq!(paths(with(json!(1e300))), one(&path, Rule::Maximum));
        let v = refuse(with(json!(4096)));
        assert_eq!(v[0].limit, Some(json!(2048)));
        assert_eq!(v[0].message, format!("'{path}' must be <= 2048"));
    }
}

#[test]
fn sizes_are_rounded_to_the_nearest_multiple_of_8() {
    for (sent, forwarded) in [
        (256, 256),
        (257, 256),
        (259, 256),
        (260, 264),
        (1023, 1024),
        (1020, 1024),
        (1019, 1016),
        (2047, 2048),
        (2044, 2048),
    ] {
        let n = accept(json!({"prompt": "a", "width": sent, "height": sent}));
        assert_eq!(n.inputs.integer("width"), Some(forwarded), "{sent}");
        assert_eq!(n.inputs.integer("height"), Some(forwarded), "{sent}");
    }
}

#[test]
fn num_steps_rows() {
    let with = |v: serde_json::Value| json!({"prompt": "a", "num_steps": v});
    assert_eq!(accept(with(json!(1))).inputs.integer("num_steps"), Some(1));
    assert_eq!(
        accept(with(json!(20))).inputs.integer("num_steps"),
        Some(20)
    );
    assert_eq!(
        accept(with(json!(4.0))).inputs.integer("num_steps"),
        Some(4)
    );
    assert_eq!(paths(with(json!(0))), one("/num_steps", Rule::Minimum));
    assert_eq!(paths(with(json!(21))), one("/num_steps", Rule::Maximum));
    assert_eq!(paths(with(json!(20.5))), one("/num_steps", Rule::Integer));
    assert_eq!(paths(with(json!("20"))), one("/num_steps", Rule::Type));
    assert_eq!(paths(with(json!(true))), one("/num_steps", Rule::Type));
}

#[test]
fn strength_rows() {
    let with = |v: serde_json::Value| json!({"prompt": "a", "strength": v});
    assert_eq!(accept(with(json!(0))).inputs.number("strength"), Some(0.0));
    assert_eq!(accept(with(json!(1))).inputs.number("strength"), Some(1.0));
    assert_eq!(
        accept(with(json!(0.25))).inputs.number("strength"),
        Some(0.25)
    );
    assert_eq!(paths(with(json!(-0.01))), one("/strength", Rule::Minimum));
    assert_eq!(paths(with(json!(1.01))), one("/strength", Rule::Maximum));
    assert_eq!(paths(with(json!("0.5"))), one("/strength", Rule::Type));
}

#[test]
fn guidance_rows() {
    let with = |v: serde_json::Value| json!({"prompt": "a", "guidance": v});
    assert_eq!(accept(with(json!(0))).inputs.number("guidance"), Some(0.0));
    assert_eq!(
        accept(with(json!(-3.5))).inputs.number("guidance"),
        Some(-3.5)
    );
    assert_eq!(
        accept(with(json!(1e10))).inputs.number("guidance"),
        Some(1e10)
    );
    assert_eq!(paths(with(json!(null))), one("/guidance", Rule::Type));
    // Infinity cannot be written in JSON; an overflowing literal is a syntax error, not a 500.
    let body = br#"{"prompt":"a","guidance":1e999}"#;
    assert!(matches!(
        validate_json(&SDXL_LIGHTNING, body, Policy::default(), &mut || 0),
        Err(ApiError::Body(_))
    ));
}

#[test]
fn seed_rows() {
    let with = |v: serde_json::Value| json!({"prompt": "a", "seed": v});
    let n = accept(with(json!(0)));
    assert_eq!((n.seed(), n.seed_drawn), (Some(0), false));
    let max = (1_i64 << 53) - 1;
    assert_eq!(accept(with(json!(max))).seed(), Some(max));
    assert_eq!(accept(with(json!(42.0))).seed(), Some(42));
    assert_eq!(paths(with(json!(max + 1))), one("/seed", Rule::Maximum));
    assert_eq!(paths(with(json!(u64::MAX))), one("/seed", Rule::Maximum));
    assert_eq!(paths(with(json!(-1))), one("/seed", Rule::Minimum));
    assert_eq!(paths(with(json!(1.5))), one("/seed", Rule::Integer));
    assert_eq!(paths(with(json!("7"))), one("/seed", Rule::Type));
}

#[test]
fn image_rows() {
    for (bytes, format) in [
        (PNG_64X48, ImageFormat::Png),
        (JPEG_64X48, ImageFormat::Jpeg),
        (WEBP_64X48, ImageFormat::Webp),
    ] {
        let n = accept(json!({"prompt": "a", "image": bytes_json(bytes)}));
        let img = n.inputs.image("image").unwrap();
        assert_eq!(&*img.bytes, bytes);
        assert_eq!(
            (img.info.format, img.info.width, img.info.height),
            (format, 64, 48)
        );
    }
    let with = |v: serde_json::Value| json!({"prompt": "a", "image": v});
    assert_eq!(paths(with(json!([]))), one("/image", Rule::Image));
    assert_eq!(paths(with(json!([1, 2, 3]))), one("/image", Rule::Image));
    assert_eq!(
        paths(with(bytes_json(&PNG_64X48[..30]))),
        one("/image", Rule::Image)
    );
    assert_eq!(
        paths(with(json!([137, 80, 256]))),
        one("/image/2", Rule::Maximum)
    );
    assert_eq!(
        paths(with(json!([137, 80.5]))),
        one("/image/1", Rule::Integer)
    );
    assert_eq!(paths(with(json!([137, "80"]))), one("/image/1", Rule::Type));
    assert_eq!(
        paths(with(json!("iVBORw0KGgo="))),
        one("/image", Rule::Type)
    );
    let v = refuse(with(json!([1, 2, 3])));
    assert_eq!(v[0].message, "'/image' is not a PNG, JPEG or WebP image");
}

#[test]
fn image_b64_rows_and_equivalence_with_image() {
    use base64::Engine as _;
    let std = base64::engine::general_purpose::STANDARD.encode(PNG_64X48);
    let url = base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(PNG_64X48);
    let data_url = format!("data:image/png;base64,{std}");
    let from_array = accept(json!({"prompt": "a", "image": bytes_json(PNG_64X48), "seed": 1}));
    for text in [&std, &url, &data_url] {
        let n = accept(json!({"prompt": "a", "image_b64": text, "seed": 1}));
        assert_eq!(
            n.inputs, from_array.inputs,
            "image_b64 is forwarded as image"
        );
        assert!(n.inputs.get("image_b64").is_none());
    }
    let with = |v: serde_json::Value| json!({"prompt": "a", "image_b64": v});
    assert_eq!(
        paths(with(json!("not base64!"))),
        one("/image_b64", Rule::Base64)
    );
    assert_eq!(paths(with(json!(""))), one("/image_b64", Rule::Base64));
    assert_eq!(
        paths(with(json!("aGVsbG8="))),
        one("/image_b64", Rule::Image)
    );
    assert_eq!(paths(with(json!([1, 2]))), one("/image_b64", Rule::Type));
}

#[test]
fn image_and_image_b64_together_are_ambiguous() {
    use base64::Engine as _;
    let b64 = base64::engine::general_purpose::STANDARD.encode(PNG_64X48);
    assert_eq!(
        paths(json!({"prompt": "a", "image": bytes_json(PNG_64X48), "image_b64": b64})),
        one("/image_b64", Rule::Exclusive)
    );
}

#[test]
fn mask_rows() {
    let n = accept(json!({
        "prompt": "a", "image": bytes_json(PNG_256), "mask": bytes_json(MASK_256)
    }));
    assert_eq!(&*n.inputs.image("mask").unwrap().bytes, MASK_256);
    assert_eq!(
        paths(json!({"prompt": "a", "mask": bytes_json(MASK_256)})),
        one("/mask", Rule::Requires)
    );
    assert_eq!(
        paths(json!({"prompt": "a", "image": bytes_json(PNG_256), "mask": bytes_json(MASK_128)})),
        one("/mask", Rule::SameDimensions)
    );
    let v =
        refuse(json!({"prompt": "a", "image": bytes_json(PNG_256), "mask": bytes_json(MASK_128)}));
    assert_eq!(
        v[0].message,
        "'/mask' must have the same dimensions as the input image (256x256), not 128x128"
    );
    assert_eq!(
        paths(json!({"prompt": "a", "image": bytes_json(PNG_256), "mask": [1, 2]})),
        one("/mask", Rule::Image)
    );
    assert_eq!(
        paths(json!({"prompt": "a", "image": bytes_json(PNG_256), "mask": [300]})),
        one("/mask/0", Rule::Maximum)
    );
}

#[test]
fn every_violation_is_listed_in_table_order() {
    let got = paths(json!({
        "prompt": "", "width": 100, "height": 3000, "num_steps": 25, "strength": 2,
        "guidance": "high", "seed": -5, "mask": [1]
    }));
    assert_eq!(
        got,
        vec![
            ("/prompt".into(), Rule::MinLength),
            ("/height".into(), Rule::Maximum),
            ("/width".into(), Rule::Minimum),
            ("/mask".into(), Rule::Image),
            ("/num_steps".into(), Rule::Maximum),
            ("/strength".into(), Rule::Maximum),
            ("/guidance".into(), Rule::Type),
            ("/seed".into(), Rule::Minimum),
            ("/mask".into(), Rule::Requires),
        ]
    );
}

#[test]
fn unknown_fields_are_ignored_and_named_or_refused() {
    // Written as text so the fields keep the order they are sent in.
    let body: &[u8] = br#"{"prompt": "a", "steps": 4, "a/b": 1}"#;
    let n = validate_json(&SDXL_LIGHTNING, body, Policy::default(), &mut || 0).unwrap();
    assert_eq!(n.ignored_fields, vec!["steps".to_owned(), "a/b".to_owned()]);
    assert!(n.inputs.get("steps").is_none());
    let strict = Policy {
        unknown_fields: UnknownFields::Reject,
        ..Policy::default()
    };
    match validate_json(&SDXL_LIGHTNING, body, strict, &mut || 0) {
        Err(ApiError::Invalid(v)) => {
            let got: Vec<_> = v.iter().map(|v| (v.path.as_str(), v.rule)).collect();
            assert_eq!(
                got,
                vec![
                    ("/steps", Rule::UnknownField),
                    ("/a~1b", Rule::UnknownField)
                ]
            );
        }
        other => panic!("not refused: {other:?}"),
    }
}

#[test]
fn repeated_fields_are_refused() {
    let body = br#"{"prompt":"a","seed":1,"seed":2}"#;
    match validate_json(&SDXL_LIGHTNING, body, Policy::default(), &mut || 0) {
        Err(ApiError::Invalid(v)) => {
            assert_eq!((v[0].path.as_str(), v[0].rule), ("/seed", Rule::Duplicate));
        }
        other => panic!("not refused: {other:?}"),
    }
}

#[test]
fn seed_is_drawn_only_when_absent() {
    let mut calls = 0;
    let body = br#"{"prompt":"a","seed":9}"#;
    let n = validate_json(&SDXL_LIGHTNING, body, Policy::default(), &mut || {
        calls += 1;
        7
    })
    .unwrap();
    assert_eq!((n.seed(), calls), (Some(9), 0));
}

#[test]
fn a_query_string_meets_the_same_rules_and_key_as_json() {
    use crate::cache_key::cache_key;
    use crate::normalize::normalize;
    use crate::parse::parse_query;
    let from_query = |pairs: &[(&str, &str)]| {
        normalize(
            &SDXL_LIGHTNING,
            parse_query(&SDXL_LIGHTNING, pairs.iter().copied()),
            Policy::default(),
            &mut || DRAWN_SEED,
        )
    };
    let q = from_query(&[("prompt", "a cat"), ("seed", "7"), ("width", "1023")]).unwrap();
    let j = accept(json!({"prompt": "a cat", "seed": 7, "width": 1023}));
    assert_eq!(q.inputs, j.inputs);
    assert_eq!(cache_key(&q), cache_key(&j));

    let refused = from_query(&[
        ("prompt", ""),
        ("seed", "x"),
        ("num_steps", "21"),
        ("mask", "1"),
    ])
    .unwrap_err();
    let got: Vec<_> = refused.iter().map(|v| (v.path.as_str(), v.rule)).collect();
    assert_eq!(
        got,
        vec![
            ("/prompt", Rule::MinLength),
            ("/mask", Rule::NotInQuery),
            ("/num_steps", Rule::Maximum),
            ("/seed", Rule::Type),
            ("/mask", Rule::Requires),
        ]
    );
    assert_eq!(
        refused[3].message,
        "'/seed' must be an integer, not a string"
    );
}

#[test]
fn a_form_meets_the_same_rules_and_key_as_json() {
    use crate::cache_key::cache_key;
    use crate::normalize::normalize;
    use crate::parse::{parse_form, FormPart};
    let text = |s: &str| FormPart::Text(s.to_owned());
    let file = |bytes: &[u8]| FormPart::File(bytes.to_vec());
    let from_form = |parts: Vec<(&str, FormPart)>| {
        normalize(
            &SDXL_LIGHTNING,
            parse_form(&SDXL_LIGHTNING, parts),
            Policy::default(),
            &mut || DRAWN_SEED,
        )
    };
    let f = from_form(vec![
        ("prompt", text("a cat")),
        ("seed", text("7")),
        ("strength", text("0.5")),
        // What a browser sends for inputs left empty: they are absent, not invalid.
        ("negative_prompt", text("")),
        ("width", text("")),
        ("image", file(PNG_256)),
        ("mask", file(MASK_256)),
    ])
    .unwrap();
    let j = accept(json!({
        "prompt": "a cat", "seed": 7, "strength": 0.5,
        "image": bytes_json(PNG_256), "mask": bytes_json(MASK_256),
    }));
    assert_eq!(f.inputs, j.inputs);
    assert_eq!(cache_key(&f), cache_key(&j));
    // The image as base64 text in a form is the same request again.
    let b64 = base64::Engine::encode(&base64::engine::general_purpose::STANDARD, PNG_256);
    let b = from_form(vec![
        ("prompt", text("a cat")),
        ("seed", text("7")),
        ("strength", text("0.5")),
        ("image_b64", text(&b64)),
        ("mask", file(MASK_256)),
    ])
    .unwrap();
    assert_eq!(cache_key(&b), cache_key(&j));

    let refused = from_form(vec![
        ("prompt", file(b"a prompt from a file")),
        ("image", text("[1,2,3]")),
        ("guidance", file(&[0xff, 0xfe])),
        ("seed", text("1.5")),
    ])
    .unwrap_err();
    let got: Vec<_> = refused.iter().map(|v| (v.path.as_str(), v.rule)).collect();
    assert_eq!(
        got,
        vec![
            ("/image", Rule::Type),
            ("/guidance", Rule::Type),
            ("/seed", Rule::Integer),
        ]
    );
    assert!(
        refused[0].message.contains("file part"),
        "{}",
        refused[0].message
    );
}

#[test]
fn operator_limits_on_text_and_pixels() {
    let policy = Policy {
        max_prompt_chars: 5,
        max_image_pixels: 64 * 47,
        ..Policy::default()
    };
    let refused = |body: serde_json::Value| match run(&body, policy) {
        Err(ApiError::Invalid(v)) => v.into_iter().map(|v| (v.path, v.rule)).collect::<Vec<_>>(),
        other => panic!("not refused: {other:?}"),
    };
    assert!(
        run(&json!({"prompt": "ééééé"}), policy).is_ok(),
        "5 characters, 10 bytes"
    );
    assert_eq!(
        refused(json!({"prompt": "abcdef"})),
        one("/prompt", Rule::MaxLength)
    );
    assert_eq!(
        refused(json!({"prompt": "a", "negative_prompt": "abcdef"})),
        one("/negative_prompt", Rule::MaxLength)
    );
    assert_eq!(
        refused(json!({"prompt": "a", "image": bytes_json(PNG_64X48)})),
        one("/image", Rule::MaxPixels)
    );
    let roomy = Policy {
        max_image_pixels: 64 * 48,
        ..policy
    };
    assert!(run(
        &json!({"prompt": "a", "image": bytes_json(PNG_64X48)}),
        roomy
    )
    .is_ok());
    // The defaults: 2048 characters, 4096x4096 pixels.
    assert!(run(&json!({"prompt": "a".repeat(2048)}), Policy::default()).is_ok());
    assert!(run(&json!({"prompt": "a".repeat(2049)}), Policy::default()).is_err());
}

/// `model` is the one field that picks what runs: never ignored, so a caller who meant another
/// model does not get this one's image.
#[test]
fn a_body_that_names_a_model_is_refused_not_ignored() {
    let spec = &crate::models::SDXL_LIGHTNING;
    let found = crate::validate_json(
        spec,
        br#"{"prompt": "p", "model": "@cf/black-forest-labs/flux-1-schnell"}"#,
        Policy::default(),
        &mut || 1,
    )
    .unwrap_err();
    let ApiError::Invalid(violations) = found else {
        panic!("a violation list");
    };
    assert_eq!(violations.len(), 1);
    assert_eq!(violations[0].path, "/model");
    assert!(
        violations[0].message.contains("/ai/run/"),
        "{}",
        violations[0].message
    );
    // Another unknown field is still ignored.
    let fine = crate::validate_json(
        spec,
        br#"{"prompt": "p", "style": 1}"#,
        Policy::default(),
        &mut || 1,
    );
    assert_eq!(fine.unwrap().ignored_fields, ["style"]);
}

#[test]
fn a_string_sent_as_image_points_to_image_b64() {
    let found = crate::validate_json(
        &crate::models::SDXL_LIGHTNING,
        br#"{"prompt": "p", "image": "data:image/png;base64,iVBORw0KGgo="}"#,
        Policy::default(),
        &mut || 1,
    )
    .unwrap_err();
    let ApiError::Invalid(violations) = found else {
        panic!("a violation list");
    };
    assert_eq!(violations[0].path, "/image");
    assert!(
        violations[0].message.contains("image_b64"),
        "{}",
        violations[0].message
    );
}
