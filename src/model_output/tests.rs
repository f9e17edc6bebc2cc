//! The model's answer as the binding hands it over: streams and JSON objects.

use base64::Engine as _;
use js_sys::{Object, Reflect, Uint8Array};
use sdxl_core::{ApiError, ImageFormat};
use wasm_bindgen::JsValue;
use wasm_bindgen_test::wasm_bindgen_test;

use super::read_image;

const PNG: &[u8] = include_bytes!("../../tests/fixtures/photo-256.png");
const JPEG: &[u8] = include_bytes!("../../tests/fixtures/photo-64x48.jpg");

fn stream_of(bytes: &[u8]) -> JsValue {
    let mut bytes = bytes.to_vec();
    let response = web_sys::Response::new_with_opt_u8_array(Some(&mut bytes)).unwrap();
    response.body().unwrap().into()
}

fn json_answer(image: &str) -> JsValue {
    let object = Object::new();
    Reflect::set(&object, &"image".into(), &image.into()).unwrap();
    object.into()
}

#[wasm_bindgen_test]
async fn a_stream_of_png_bytes_is_a_png() {
    let image = read_image(stream_of(PNG)).await.unwrap();
    assert_eq!(image.format, ImageFormat::Png);
    assert_eq!(Uint8Array::new(&image.bytes.buffer()).to_vec(), PNG);
}

#[wasm_bindgen_test]
async fn a_json_answer_with_base64_is_decoded_to_its_bytes() {
    let encoded = base64::engine::general_purpose::STANDARD.encode(JPEG);
    let image = read_image(json_answer(&encoded)).await.unwrap();
    assert_eq!(image.format, ImageFormat::Jpeg);
    assert_eq!(image.bytes.to_vec(), JPEG);
}

#[wasm_bindgen_test]
async fn json_answers_without_a_whole_image_are_refused() {
    let half = base64::engine::general_purpose::STANDARD.encode(&JPEG[..JPEG.len() / 2]);
    assert!(matches!(
        read_image(json_answer(&half)).await,
        Err(ApiError::Incomplete(_))
    ));
    assert!(matches!(
        read_image(json_answer("bm90IGFuIGltYWdl")).await,
        Err(ApiError::NotAnImage)
    ));
    assert!(matches!(
        read_image(Object::new().into()).await,
        Err(ApiError::NotAnImage)
    ));
}
