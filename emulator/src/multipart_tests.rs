use serde_json::json;

use super::*;
use crate::codec::{self, OutputFormat};
use crate::paint::{paint, PaintRequest};
use crate::render::render;
use sdxl_core::models::{FLUX_2_DEV, FLUX_2_KLEIN_4B, FLUX_2_KLEIN_9B, SDXL_LIGHTNING};

const CONTENT_TYPE: &str = "multipart/form-data; boundary=----x";

fn png(seed: u64) -> Vec<u8> {
    let picture = paint(&PaintRequest {
        prompt: "a reference",
        negative_prompt: None,
        width: 32,
        height: 24,
        num_steps: 4,
        guidance: 7.5,
        strength: 1.0,
        seed,
        image: None,
        mask: None,
        references: &[],
    });
    codec::encode(&picture, OutputFormat::Png)
}

type Parts = Vec<(String, FormPart)>;

fn text(name: &str, value: &str) -> (String, FormPart) {
    (name.to_owned(), FormPart::Text(value.to_owned()))
}

fn file(name: &str, bytes: Vec<u8>) -> (String, FormPart) {
    (name.to_owned(), FormPart::File(bytes))
}

fn run(spec: &'static ModelSpec, parts: Parts) -> Result<Normalized, Thrown> {
    let form = read_form(spec, CONTENT_TYPE, parts);
    validate(spec, form.raw, &mut || 7)
}

fn refusal(spec: &'static ModelSpec, parts: Parts) -> String {
    let thrown = run(spec, parts).unwrap_err();
    assert_eq!(thrown.name, "AiError");
    thrown.message
}

#[test]
fn a_prompt_alone_runs_with_the_tables_defaults() {
    let n = run(&FLUX_2_DEV, vec![text("prompt", "a lighthouse")]).unwrap();
    assert_eq!(n.inputs.text("prompt"), Some("a lighthouse"));
    assert_eq!(n.inputs.integer("width"), Some(1024));
    assert_eq!(n.inputs.integer("height"), Some(768));
    assert_eq!(n.inputs.integer("steps"), Some(25));
    let klein = run(&FLUX_2_KLEIN_4B, vec![text("prompt", "a")]).unwrap();
    assert_eq!(
        klein.inputs.integer("steps"),
        None,
        "klein's 4 steps are the model's"
    );
}

#[test]
fn the_model_refuses_what_its_table_refuses() {
    let prompt = || text("prompt", "a");
    let cases: Vec<(&'static ModelSpec, Parts, &str)> = vec![
        (
            &FLUX_2_DEV,
            vec![prompt(), file("input_image0", png(1))],
            "5006: Error: Additional or unevaluated properties '/input_image0' at '/' not allowed",
        ),
        (
            &FLUX_2_KLEIN_4B,
            vec![prompt(), text("steps", "8")],
            "5006: Error: '/steps' must be <= 4",
        ),
        (
            &FLUX_2_KLEIN_9B,
            vec![prompt(), text("steps", "3")],
            "5006: Error: '/steps' must be >= 4",
        ),
        (
            &FLUX_2_DEV,
            vec![prompt(), text("width", "2048")],
            "5006: Error: '/width' must be <= 1920",
        ),
        (
            &FLUX_2_DEV,
            vec![text("width", "512")],
            "5006: Error: '/prompt' is required",
        ),
        (
            &FLUX_2_DEV,
            vec![prompt(), text("input_image_0", "aGVsbG8=")],
            "5006: Error: '/input_image_0' must be a file part of the form (or, in a JSON body, \
             an array of integers 0-255)",
        ),
        (
            &FLUX_2_DEV,
            vec![prompt(), file("input_image_1", png(1))],
            // The rule is the gateway's table's, so it names the gateway's alias too.
            "5006: Error: '/input_image_1' is only valid together with '/input_image_0' or \
             '/input_image_0_b64'",
        ),
    ];
    for (spec, parts, expected) in cases {
        assert_eq!(refusal(spec, parts), expected, "{}", spec.id);
    }
}

#[test]
fn five_images_are_refused_for_the_fifth() {
    let mut parts = vec![text("prompt", "a")];
    parts.extend((0..5).map(|i| file(&format!("input_image_{i}"), png(i))));
    assert_eq!(
        refusal(&FLUX_2_KLEIN_9B, parts),
        "5006: Error: Additional or unevaluated properties '/input_image_4' at '/' not allowed"
    );
}

#[test]
fn the_gateways_base64_aliases_are_not_the_models_fields() {
    assert!(
        FLUX_2_DEV.field("input_image_0_b64").is_some(),
        "the gateway's table has it"
    );
    let message = refusal(
        &FLUX_2_DEV,
        vec![text("prompt", "a"), text("input_image_0_b64", "aGVsbG8=")],
    );
    assert_eq!(
        message,
        "5006: Error: Additional or unevaluated properties '/input_image_0_b64' at '/' not allowed"
    );
}

#[test]
fn an_image_part_that_is_no_image_is_refused() {
    let message = refusal(
        &FLUX_2_DEV,
        vec![
            text("prompt", "a"),
            file("input_image_0", b"GIF89a....".to_vec()),
        ],
    );
    assert!(
        message.starts_with("5006: Error: '/input_image_0' "),
        "{message}"
    );
    let mut cut = png(1);
    cut.truncate(cut.len() - 40);
    let message = refusal(
        &FLUX_2_DEV,
        vec![text("prompt", "a"), file("input_image_0", cut)],
    );
    assert!(
        message.starts_with("5006: Error: '/input_image_0' "),
        "{message}"
    );
}

#[test]
fn the_picture_depends_on_the_seed_and_on_the_references_in_order() {
    let draw = |parts: Parts| {
        let n = run(&FLUX_2_DEV, parts).unwrap();
        render(&FLUX_2_DEV, &n, OutputFormat::Png).unwrap()
    };
    let form = |seed: &str, order: &[u64]| {
        let mut parts = vec![
            text("prompt", "a"),
            text("seed", seed),
            text("width", "256"),
        ];
        parts.push(text("height", "256"));
        for (i, which) in order.iter().enumerate() {
            parts.push(file(&format!("input_image_{i}"), png(*which)));
        }
        parts
    };
    let plain = draw(form("1", &[]));
    assert_eq!(plain, draw(form("1", &[])), "deterministic");
    let pictures = [
        plain,
        draw(form("2", &[])),
        draw(form("1", &[1, 2, 3])),
        draw(form("1", &[3, 2, 1])),
        draw(form("1", &[1, 2])),
    ];
    for (i, a) in pictures.iter().enumerate() {
        for b in &pictures[i + 1..] {
            assert_ne!(a, b);
        }
    }
    let decoded = codec::decode(&pictures[0]).unwrap();
    assert_eq!((decoded.width, decoded.height), (256, 256));
}

#[test]
fn the_ledger_record_says_what_was_sent_in_order() {
    let image = png(1);
    let form = read_form(
        &FLUX_2_DEV,
        "multipart/form-data; boundary=\"b\"",
        vec![
            text("prompt", "a fox"),
            file("input_image_0", image.clone()),
            file("input_image_1", b"abc".to_vec()),
            text("seed", "3"),
        ],
    );
    assert_eq!(form.prompt, "a fox");
    let received = form.received;
    assert!(received.boundary);
    assert_eq!(
        received.fields,
        ["prompt", "input_image_0", "input_image_1", "seed"]
    );
    assert_eq!(received.files[0].bytes, image.len());
    assert_eq!(
        received.files[1],
        FilePart {
            field: "input_image_1".into(),
            bytes: 3,
            // FIPS 180-2's test vector for "abc".
            sha256: "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad".into(),
        }
    );
    let json = serde_json::to_value(&received).unwrap();
    assert_eq!(json["files"][1]["field"], "input_image_1");
    assert_eq!(json["content_type"], "multipart/form-data; boundary=\"b\"");
}

#[test]
fn boundaries_are_found_quoted_or_not() {
    assert_eq!(boundary_of(CONTENT_TYPE), Some("----x"));
    assert_eq!(
        boundary_of("multipart/form-data;BOUNDARY=\"a b\""),
        Some("a b")
    );
    assert_eq!(boundary_of("multipart/form-data"), None);
    assert_eq!(boundary_of("multipart/form-data; boundary="), None);
    assert_eq!(boundary_of("multipart/form-data; charset=utf-8"), None);
}

fn call<'a>(
    spec: &'static ModelSpec,
    stream_keys: &'a [String],
    other_keys: &'a [String],
    through_ai_gateway: bool,
    content_type: Option<&'a str>,
) -> Result<&'a str, Thrown> {
    check_stream_call(&StreamCall {
        spec,
        stream_keys,
        other_keys,
        through_ai_gateway,
        content_type,
    })
    .map_err(|r| r.thrown())
}

#[test]
fn stream_calls_are_refused_as_the_binding_and_the_service_refuse_them() {
    let one = ["multipart".to_owned()];
    let none: [String; 0] = [];
    assert_eq!(
        call(&FLUX_2_DEV, &one, &none, false, Some(CONTENT_TYPE)),
        Ok(CONTENT_TYPE)
    );
    let binding = |message: &str| Err(Thrown::binding(message));
    let service = |message: &str| Err(Thrown::service(5006, message));
    let two = ["multipart".to_owned(), "image".to_owned()];
    assert_eq!(
        call(&FLUX_2_DEV, &two, &none, false, Some(CONTENT_TYPE)),
        binding(
            "Multiple ReadableStreams are not supported. Found streams in keys: [multipart, image]"
        )
    );
    assert_eq!(
        call(&FLUX_2_DEV, &one, &none, true, Some(CONTENT_TYPE)),
        binding("AI Gateway does not support ReadableStreams yet.")
    );
    assert_eq!(
        call(&FLUX_2_DEV, &one, &none, false, None),
        binding("Content-Type is required with ReadableStream inputs")
    );
    assert_eq!(
        call(&SDXL_LIGHTNING, &one, &none, false, Some(CONTENT_TYPE)),
        service(
            "Error: @cf/bytedance/stable-diffusion-xl-lightning takes its inputs as a JSON \
             object, not as a multipart body"
        )
    );
    assert_eq!(
        call(
            &FLUX_2_DEV,
            &one,
            &["prompt".to_owned()],
            false,
            Some(CONTENT_TYPE)
        ),
        service("Error: Additional or unevaluated properties '/prompt' at '/' not allowed")
    );
    assert_eq!(
        call(&FLUX_2_DEV, &one, &none, false, Some("multipart/form-data")),
        service("Error: the multipart content type 'multipart/form-data' has no boundary")
    );
    assert_eq!(
        call(&FLUX_2_DEV, &one, &none, false, Some("application/json")),
        service(
            "Error: the multipart content type must be multipart/form-data, not 'application/json'"
        )
    );
}

#[test]
fn json_inputs_of_a_multipart_model_are_refused_by_its_schema() {
    let refused = |inputs: serde_json::Value| refuse_json_inputs(&inputs).thrown().message;
    assert_eq!(
        refused(json!({"prompt": "a"})),
        "5006: Error: required properties at '/' are 'multipart'"
    );
    assert_eq!(
        refused(json!({"multipart": {"contentType": CONTENT_TYPE}, "prompt": "a"})),
        "5006: Error: Additional or unevaluated properties '/prompt' at '/' not allowed"
    );
    assert_eq!(
        refused(json!({"multipart": "a form"})),
        "5006: Error: Type mismatch of '/multipart', 'string' not in 'object'"
    );
    assert_eq!(
        refused(json!({"multipart": {}})),
        "5006: Error: required properties at '/multipart' are 'body', 'contentType'"
    );
    assert_eq!(
        refused(json!({"multipart": {"body": "x", "contentType": CONTENT_TYPE}})),
        "5006: Error: Type mismatch of '/multipart/body', 'string' not in 'object'"
    );
    assert_eq!(
        refused(json!({"multipart": {"body": {}, "contentType": 1}})),
        "5006: Error: Type mismatch of '/multipart/contentType', 'number' not in 'string'"
    );
    // A FormData or a Blob passed as the body: JSON makes it `{}`.
    assert!(
        refused(json!({"multipart": {"body": {}, "contentType": CONTENT_TYPE}}))
            .starts_with("5006: Error: '/multipart/body' is not a stream")
    );
}
