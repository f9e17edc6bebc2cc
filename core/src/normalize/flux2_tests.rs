//! The FLUX.2 tables: defaults forwarded, the klein models' fixed steps, reference images in
//! either encoding, one of each pair and in order.

use base64::Engine;
use serde_json::json;

use crate::inputs::{InputValue, Normalized};
use crate::model::{Input, ModelSpec};
use crate::models::{FLUX_2_DEV, FLUX_2_KLEIN_4B, FLUX_2_KLEIN_9B};
use crate::violation::Rule;
use crate::{validate_json, ApiError, Policy};

const PNG_256: &[u8] = include_bytes!("../../../tests/fixtures/photo-256.png");

fn run(spec: &'static ModelSpec, body: &serde_json::Value) -> Result<Normalized, ApiError> {
    let text = serde_json::to_vec(body).unwrap();
    validate_json(spec, &text, Policy::default(), &mut || 7)
}

fn names(n: &Normalized) -> Vec<&'static str> {
    n.inputs.iter().map(|(k, _)| k).collect()
}

fn rules(spec: &'static ModelSpec, body: serde_json::Value) -> Vec<(String, Rule)> {
    match run(spec, &body) {
        Err(ApiError::Invalid(v)) => v.into_iter().map(|v| (v.path, v.rule)).collect(),
        other => panic!("{} did not refuse {body}: {other:?}", spec.id),
    }
}

#[test]
fn every_flux2_model_takes_a_form() {
    for spec in [&FLUX_2_DEV, &FLUX_2_KLEIN_4B, &FLUX_2_KLEIN_9B] {
        assert_eq!(spec.input, Input::Multipart, "{}", spec.id);
    }
}

#[test]
fn a_prompt_alone_gets_the_size_and_dev_its_steps() {
    let dev = run(&FLUX_2_DEV, &json!({"prompt": "a fox"})).unwrap();
    assert_eq!(
        names(&dev),
        ["prompt", "steps", "width", "height", "seed"],
        "defaults forwarded in table order"
    );
    assert_eq!(dev.inputs.integer("steps"), Some(25));
    assert_eq!(dev.inputs.integer("width"), Some(1024));
    assert_eq!(dev.inputs.integer("height"), Some(768));
    assert!(dev.seed_drawn);
    // The klein models fix their steps: nothing to forward unless the client sends it.
    let klein = run(&FLUX_2_KLEIN_4B, &json!({"prompt": "a fox"})).unwrap();
    assert_eq!(names(&klein), ["prompt", "width", "height", "seed"]);
}

#[test]
fn klein_refuses_steps_other_than_four() {
    for spec in [&FLUX_2_KLEIN_4B, &FLUX_2_KLEIN_9B] {
        assert_eq!(
            rules(spec, json!({"prompt": "a", "steps": 8})),
            [("/steps".to_owned(), Rule::Maximum)]
        );
        assert_eq!(
            rules(spec, json!({"prompt": "a", "steps": 1})),
            [("/steps".to_owned(), Rule::Minimum)]
        );
        let four = run(spec, &json!({"prompt": "a", "steps": 4})).unwrap();
        assert_eq!(four.inputs.integer("steps"), Some(4));
    }
    assert_eq!(
        rules(&FLUX_2_DEV, json!({"prompt": "a", "steps": 51})),
        [("/steps".to_owned(), Rule::Maximum)]
    );
}

#[test]
fn sides_are_bounded_256_to_1920() {
    assert_eq!(
        rules(
            &FLUX_2_DEV,
            json!({"prompt": "a", "width": 1921, "height": 255})
        ),
        [
            ("/width".to_owned(), Rule::Maximum),
            ("/height".to_owned(), Rule::Minimum)
        ]
    );
}

#[test]
fn reference_images_come_as_bytes_or_base64_and_are_forwarded_under_one_name() {
    let b64 = base64::engine::general_purpose::STANDARD.encode(PNG_256);
    let body = json!({
        "prompt": "the same fox, in winter",
        "input_image_0": PNG_256,
        "input_image_1_b64": format!("data:image/png;base64,{b64}"),
    });
    let n = run(&FLUX_2_KLEIN_4B, &body).unwrap();
    assert_eq!(
        names(&n),
        [
            "prompt",
            "input_image_0",
            "input_image_1",
            "width",
            "height",
            "seed"
        ]
    );
    for name in ["input_image_0", "input_image_1"] {
        let Some(InputValue::Image(image)) = n.inputs.get(name) else {
            panic!("{name} is not an image");
        };
        assert_eq!(&image.bytes[..], PNG_256);
        assert_eq!((image.info.width, image.info.height), (256, 256));
    }
}

#[test]
fn reference_images_are_one_of_each_pair_and_in_order() {
    let b64 = base64::engine::general_purpose::STANDARD.encode(PNG_256);
    let both = rules(
        &FLUX_2_DEV,
        json!({"prompt": "a", "input_image_0": PNG_256, "input_image_0_b64": b64}),
    );
    assert_eq!(both.len(), 1, "{both:?}");
    assert_eq!(both[0].1, Rule::Exclusive);
    let gap = rules(
        &FLUX_2_DEV,
        json!({"prompt": "a", "input_image_0": PNG_256, "input_image_2": PNG_256}),
    );
    assert_eq!(gap, [("/input_image_2".to_owned(), Rule::Requires)]);
}

#[test]
fn fields_outside_the_form_are_refused() {
    assert_eq!(
        rules(&FLUX_2_KLEIN_9B, json!({"prompt": "a", "num_steps": 4})),
        [("/num_steps".to_owned(), Rule::UnknownField)]
    );
}

#[test]
fn a_reference_image_that_is_not_an_image_is_refused_by_name() {
    let got = rules(
        &FLUX_2_KLEIN_4B,
        json!({"prompt": "a", "input_image_0": [1, 2, 3]}),
    );
    assert_eq!(got.len(), 1, "{got:?}");
    assert_eq!(got[0].0, "/input_image_0");
}

const JPEG: &[u8] = include_bytes!("../../../tests/fixtures/photo-64x48.jpg");

fn b64(bytes: &[u8]) -> String {
    base64::engine::general_purpose::STANDARD.encode(bytes)
}

#[test]
fn an_images_list_is_the_same_request_as_the_fields_one_by_one() {
    let listed = run(
        &FLUX_2_KLEIN_4B,
        &json!({"prompt": "p", "images": [b64(PNG_256), format!("data:image/jpeg;base64,{}", b64(JPEG))]}),
    )
    .unwrap();
    let fields = run(
        &FLUX_2_KLEIN_4B,
        &json!({"prompt": "p", "input_image_0": PNG_256, "input_image_1_b64": b64(JPEG)}),
    )
    .unwrap();
    assert_eq!(
        names(&listed),
        [
            "prompt",
            "input_image_0",
            "input_image_1",
            "width",
            "height",
            "seed"
        ]
    );
    assert_eq!(listed.inputs, fields.inputs);
    assert_eq!(
        &listed.inputs.image("input_image_1").unwrap().bytes[..],
        JPEG
    );
}

#[test]
fn the_images_list_is_decoded_as_it_is_read() {
    use crate::parse::{parse_json_fast, parse_json_with_serde, with_base64_decoded, RawValue};
    let body = serde_json::to_vec(&json!({
        "prompt": "p",
        "images": [b64(PNG_256), format!("data:image/jpeg;base64,{}", b64(JPEG))],
        "seed": 1,
    }))
    .unwrap();
    for window in [16, 64, 1 << 20] {
        let fast = parse_json_fast(&FLUX_2_KLEIN_4B, &body[..], window)
            .expect("the fast path reads a list of base64 strings")
            .unwrap();
        let Some((_, RawValue::List { items, sent: 2 })) =
            fast.fields.iter().find(|(f, _)| f.name == "images")
        else {
            panic!("no list: {fast:?}");
        };
        assert!(
            matches!(&items[..], [RawValue::DecodedBase64(a, _), RawValue::DecodedBase64(b, _)] if a == PNG_256 && b == JPEG)
        );
        let serde = parse_json_with_serde(&FLUX_2_KLEIN_4B, &body).unwrap();
        assert_eq!(with_base64_decoded(fast), with_base64_decoded(serde));
    }
    // More than the field takes: left to the serde path, which keeps four and counts the rest.
    let five =
        serde_json::to_vec(&json!({"prompt": "p", "images": vec![b64(PNG_256); 5]})).unwrap();
    assert!(parse_json_fast(&FLUX_2_KLEIN_4B, &five[..], 64).is_none());
    let raw = parse_json_with_serde(&FLUX_2_KLEIN_4B, &five).unwrap();
    assert!(matches!(
        raw.fields.iter().find(|(f, _)| f.name == "images"),
        Some((_, RawValue::List { items, sent: 5 })) if items.len() == 4
    ));
}

#[test]
fn a_fifth_image_is_refused_naming_images() {
    let got = rules(
        &FLUX_2_DEV,
        json!({"prompt": "p", "images": vec![b64(PNG_256); 5]}),
    );
    assert_eq!(got, [("/images".to_owned(), Rule::MaxItems)]);
    let four = run(
        &FLUX_2_DEV,
        &json!({"prompt": "p", "images": vec![b64(PNG_256); 4]}),
    )
    .unwrap();
    assert!(four.inputs.image("input_image_3").is_some());
}

#[test]
fn images_and_input_image_fields_are_one_way_or_the_other() {
    for other in ["input_image_0", "input_image_2_b64"] {
        let mut body = json!({"prompt": "p", "images": [b64(PNG_256)]});
        body[other] = if other.ends_with("_b64") {
            json!(b64(PNG_256))
        } else {
            json!(PNG_256)
        };
        let got = rules(&FLUX_2_KLEIN_9B, body);
        assert!(
            got.contains(&("/images".to_owned(), Rule::Exclusive)),
            "{other}: {got:?}"
        );
    }
}

#[test]
fn each_listed_image_is_refused_under_its_index() {
    assert_eq!(
        rules(
            &FLUX_2_KLEIN_4B,
            json!({"prompt": "p", "images": [b64(PNG_256), 7, "!!", b64(b"not an image")]})
        ),
        [
            ("/images/1".to_owned(), Rule::Type),
            ("/images/2".to_owned(), Rule::Base64),
            ("/images/3".to_owned(), Rule::Image),
        ]
    );
    assert_eq!(
        rules(
            &FLUX_2_KLEIN_4B,
            json!({"prompt": "p", "images": b64(PNG_256)})
        ),
        [("/images".to_owned(), Rule::Type)]
    );
    let none = run(&FLUX_2_KLEIN_4B, &json!({"prompt": "p", "images": []})).unwrap();
    assert_eq!(names(&none), ["prompt", "width", "height", "seed"]);
}

#[test]
fn repeated_images_parts_of_a_form_or_query_are_the_list() {
    use crate::parse::{parse_form, parse_query};
    use crate::FormPart;
    let fields = run(
        &FLUX_2_KLEIN_4B,
        &json!({"prompt": "p", "input_image_0": PNG_256, "input_image_1": JPEG}),
    )
    .unwrap();
    let form = parse_form(
        &FLUX_2_KLEIN_4B,
        [
            ("prompt", FormPart::Text("p".into())),
            ("images", FormPart::File(PNG_256.to_vec())),
            ("images", FormPart::Text(b64(JPEG))),
        ],
    );
    let form = crate::normalize(&FLUX_2_KLEIN_4B, form, Policy::default(), &mut || 7).unwrap();
    assert_eq!(form.inputs, fields.inputs);
    let query = parse_query(
        &FLUX_2_KLEIN_4B,
        [
            ("prompt", "p".to_owned()),
            ("images", b64(PNG_256)),
            ("images", b64(JPEG)),
        ],
    );
    let query = crate::normalize(&FLUX_2_KLEIN_4B, query, Policy::default(), &mut || 7).unwrap();
    assert_eq!(query.inputs, fields.inputs);
    let five = parse_form(
        &FLUX_2_KLEIN_4B,
        (0..5).map(|_| ("images", FormPart::File(PNG_256.to_vec()))),
    );
    let refused = crate::normalize(&FLUX_2_KLEIN_4B, five, Policy::default(), &mut || 7);
    let paths: Vec<String> = refused.unwrap_err().into_iter().map(|v| v.path).collect();
    assert_eq!(paths, ["/prompt", "/images"]);
}
