//! Runs in Node under `wasm-bindgen-test-runner`: the `{multipart: {body, contentType}}` a FLUX.2
//! run is handed, read back as the binding would read it.

use js_sys::{ArrayBuffer, Reflect, Uint8Array};
use sdxl_core::models::FLUX_2_KLEIN_4B;
use sdxl_core::multipart::{form_body, Piece};
use sdxl_core::{validate_json, Policy};
use wasm_bindgen::{JsCast, JsValue};
use wasm_bindgen_futures::JsFuture;
use wasm_bindgen_test::wasm_bindgen_test;

use super::FormInputs;

const PNG: &[u8] = include_bytes!("../../tests/fixtures/photo-256.png");
const JPEG: &[u8] = include_bytes!("../../tests/fixtures/photo-64x48.jpg");
const KEY: &str = "0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef";

fn get(o: &JsValue, key: &str) -> JsValue {
    Reflect::get(o, &JsValue::from_str(key)).unwrap()
}

/// Everything a stream holds, read as `Response` reads a body.
async fn read_stream(stream: JsValue) -> Vec<u8> {
    let stream: web_sys::ReadableStream = stream.dyn_into().expect("a ReadableStream");
    let response = web_sys::Response::new_with_opt_readable_stream(Some(&stream)).unwrap();
    let buffer: ArrayBuffer = JsFuture::from(response.array_buffer().unwrap())
        .await
        .unwrap()
        .unchecked_into();
    Uint8Array::new(&buffer).to_vec()
}

#[wasm_bindgen_test]
async fn the_stream_is_the_core_body_byte_for_byte_on_every_attempt() {
    let body = serde_json::json!({
        "prompt": "the same fox, in winter",
        "input_image_0": PNG, "input_image_1": JPEG, "input_image_2": PNG, "seed": 5,
    });
    let n = validate_json(
        &FLUX_2_KLEIN_4B,
        &serde_json::to_vec(&body).unwrap(),
        Policy::default(),
        &mut || 0,
    )
    .unwrap();
    let expected: Vec<u8> = form_body(&n, KEY)
        .pieces
        .iter()
        .flat_map(|p| match p {
            Piece::Text(t) => t.as_bytes().to_vec(),
            Piece::Image(b) => b.to_vec(),
        })
        .collect();
    let form = FormInputs::new(&n, KEY).unwrap();
    assert_eq!(form.blob().size() as usize, expected.len());
    // Wasm memory grows after the body was made: a body that still pointed into it would read
    // as empty (its views detached); the Blob holds a copy of its own.
    let grown = vec![1u8; 32 << 20];
    for _ in 0..2 {
        let inputs = form.for_attempt().unwrap();
        let multipart = get(&inputs, "multipart");
        assert_eq!(
            get(&multipart, "contentType").as_string().unwrap(),
            format!("multipart/form-data; boundary=sdxl-gateway-{}", &KEY[..32])
        );
        let sent = read_stream(get(&multipart, "body")).await;
        assert_eq!(sent.len(), expected.len());
        assert!(sent == expected, "the bytes sent are the core's body");
    }
    drop(grown);
}
