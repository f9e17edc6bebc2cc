//! img2img and inpainting without `width` / `height`: on the gateway's own routes the input
//! image's size (clamped, rounded to 8); through the REST drop-in nothing is added, as Workers AI
//! would get it.

use std::io::Cursor;

use serde_json::json;

use crate::inputs::Normalized;
use crate::model::ModelSpec;
use crate::models::{PHOENIX_1_0, SDXL_LIGHTNING, SD_V1_5_IMG2IMG, SD_V1_5_INPAINTING};
use crate::violation::Rule;
use crate::{validate_json, ApiError, Policy};

const PNG_CORRUPT: &[u8] = include_bytes!("../../../tests/fixtures/photo-64x48-corrupt.png");

/// A grey PNG of `width` x `height`, encoded by an independent encoder.
fn png(width: u32, height: u32) -> Vec<u8> {
    let mut out = Cursor::new(Vec::new());
    ::image::GrayImage::from_pixel(width, height, ::image::Luma([128]))
        .write_to(&mut out, ::image::ImageFormat::Png)
        .unwrap();
    out.into_inner()
}

fn b64(bytes: &[u8]) -> String {
    use base64::Engine as _;
    base64::engine::general_purpose::STANDARD.encode(bytes)
}

fn own_route() -> Policy {
    Policy {
        size_from_input: true,
        ..Policy::default()
    }
}

fn run(spec: &'static ModelSpec, body: &serde_json::Value, policy: Policy) -> Normalized {
    let text = serde_json::to_vec(body).unwrap();
    match validate_json(spec, &text, policy, &mut || 7) {
        Ok(n) => n,
        Err(e) => panic!("{} refused {body}: {e:?}", spec.id),
    }
}

fn size(n: &Normalized) -> (Option<i64>, Option<i64>) {
    (n.inputs.integer("width"), n.inputs.integer("height"))
}

#[test]
fn own_routes_answer_the_input_images_size_clamped_and_rounded() {
    for ((w, h), expected) in [
        ((803, 605), (800, 608)),   // rounded to the nearest multiple of 8
        ((1024, 768), (1024, 768)), // kept
        ((64, 48), (256, 256)),     // clamped up to the model's 256
        ((2100, 300), (2048, 304)), // clamped down to 2048; 300 rounds half up to 304
    ] {
        let image = png(w, h);
        let body = json!({"prompt": "a", "image_b64": b64(&image), "strength": 0.5});
        let n = run(&SDXL_LIGHTNING, &body, own_route());
        assert_eq!(size(&n), (Some(expected.0), Some(expected.1)), "{w}x{h}");
    }
}

#[test]
fn sizes_come_in_table_order_so_the_key_is_the_same_as_sent_explicitly() {
    let image = png(803, 605);
    let implicit = run(
        &SD_V1_5_IMG2IMG,
        &json!({"prompt": "a", "image_b64": b64(&image)}),
        own_route(),
    );
    let explicit = run(
        &SD_V1_5_IMG2IMG,
        &json!({"prompt": "a", "image_b64": b64(&image), "width": 800, "height": 608}),
        own_route(),
    );
    assert_eq!(implicit.inputs, explicit.inputs);
    let names: Vec<&str> = implicit.inputs.iter().map(|(n, _)| n).collect();
    let mut table: Vec<&str> = SD_V1_5_IMG2IMG
        .fields
        .iter()
        .map(|f| {
            if f.name == "image_b64" {
                "image"
            } else {
                f.name
            }
        })
        .filter(|n| names.contains(n))
        .collect();
    table.dedup(); // `image` and `image_b64` are forwarded as one `image`
    assert_eq!(names, table);
}

#[test]
fn a_side_that_is_sent_wins_and_the_other_comes_from_the_image() {
    let image = png(803, 605);
    let n = run(
        &SDXL_LIGHTNING,
        &json!({"prompt": "a", "image_b64": b64(&image), "width": 512}),
        own_route(),
    );
    assert_eq!(size(&n), (Some(512), Some(608)));
}

#[test]
fn inpainting_takes_the_size_of_its_image() {
    let image = png(512, 384);
    let mask = png(512, 384);
    let n = run(
        &SD_V1_5_INPAINTING,
        &json!({"prompt": "a", "image_b64": b64(&image), "mask": mask}),
        own_route(),
    );
    assert_eq!(size(&n), (Some(512), Some(384)));
}

#[test]
fn the_rest_drop_in_and_text_to_image_add_nothing() {
    let image = png(803, 605);
    let body = json!({"prompt": "a", "image_b64": b64(&image)});
    let rest = run(&SDXL_LIGHTNING, &body, Policy::default());
    assert_eq!(
        size(&rest),
        (None, None),
        "REST: forwarded as Workers AI gets it"
    );
    let text_only = run(&SDXL_LIGHTNING, &json!({"prompt": "a"}), own_route());
    assert_eq!(
        size(&text_only),
        (None, None),
        "no input image: the model's default"
    );
    // Models whose sizes have a default of their own keep it.
    let phoenix = run(&PHOENIX_1_0, &json!({"prompt": "a"}), own_route());
    assert_eq!(size(&phoenix), (Some(1024), Some(1024)));
}

#[test]
fn a_png_with_a_damaged_body_is_refused_before_the_run_with_its_path() {
    let body = json!({"prompt": "a", "image_b64": b64(PNG_CORRUPT)});
    let text = serde_json::to_vec(&body).unwrap();
    let Err(ApiError::Invalid(v)) = validate_json(&SDXL_LIGHTNING, &text, own_route(), &mut || 7)
    else {
        panic!("a corrupt PNG was accepted");
    };
    assert_eq!(v.len(), 1);
    assert_eq!((v[0].path.as_str(), v[0].rule), ("/image_b64", Rule::Image));
    assert!(v[0].message.contains("CRC"), "{}", v[0].message);
    let as_array = json!({"prompt": "a", "image": PNG_CORRUPT});
    let text = serde_json::to_vec(&as_array).unwrap();
    let Err(ApiError::Invalid(v)) = validate_json(&SDXL_LIGHTNING, &text, own_route(), &mut || 7)
    else {
        panic!("a corrupt PNG was accepted");
    };
    assert_eq!((v[0].path.as_str(), v[0].rule), ("/image", Rule::Image));
}
