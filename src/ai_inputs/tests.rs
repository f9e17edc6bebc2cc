//! Runs in Node under `wasm-bindgen-test-runner`: the object `AI.run` receives.

use js_sys::{Array, Object, Reflect, JSON};
use sdxl_core::models::SDXL_LIGHTNING;
use sdxl_core::{validate_json, Policy};
use wasm_bindgen::{JsCast, JsValue};
use wasm_bindgen_test::wasm_bindgen_test;

use super::{to_js, ImageEncoding};
use crate::base64_js::tests::btoa;

const PNG: &[u8] = include_bytes!("../../tests/fixtures/photo-64x48.png");
const MASK: &[u8] = include_bytes!("../../tests/fixtures/mask-256.png");
const PNG_256: &[u8] = include_bytes!("../../tests/fixtures/photo-256.png");

/// The inputs with images as number arrays (`AI_IMAGE_ENCODING = "array"`).
fn inputs_for(body: &serde_json::Value) -> Object {
    inputs_encoded(body, ImageEncoding::Array)
}

fn inputs_encoded(body: &serde_json::Value, encoding: ImageEncoding) -> Object {
    let text = serde_json::to_vec(body).unwrap();
    let n = validate_json(&SDXL_LIGHTNING, &text, Policy::default(), &mut || 77).unwrap();
    to_js(&n.inputs, encoding).unwrap()
}

fn get(o: &Object, key: &str) -> JsValue {
    Reflect::get(o, &JsValue::from_str(key)).unwrap()
}

fn assert_number_array_equals(value: &JsValue, bytes: &[u8]) {
    assert!(Array::is_array(value), "a JS Array, not a typed array");
    let array: &Array = value.unchecked_ref();
    assert_eq!(array.length() as usize, bytes.len());
    for (i, byte) in bytes.iter().enumerate() {
        assert_eq!(
            array.get(i as u32).as_f64(),
            Some(f64::from(*byte)),
            "element {i}"
        );
    }
}

#[wasm_bindgen_test]
fn is_a_plain_object_with_defaults_present() {
    let o = inputs_for(&serde_json::json!({"prompt": "cyberpunk cat"}));
    let plain_prototype = Object::get_prototype_of(&Object::new());
    assert!(Object::is(&Object::get_prototype_of(&o), &plain_prototype));
    assert!(!o.is_instance_of::<js_sys::Map>());
    let json: serde_json::Value =
        serde_json::from_str(&String::from(JSON::stringify(&o).unwrap())).unwrap();
    assert_eq!(
        json,
        serde_json::json!({
            "prompt": "cyberpunk cat", "num_steps": 20, "strength": 1, "guidance": 7.5, "seed": 77
        })
    );
}

#[wasm_bindgen_test]
fn image_is_an_array_of_numbers_equal_to_the_input_bytes() {
    let o = inputs_for(&serde_json::json!({"prompt": "a", "image": PNG, "strength": 0.5}));
    assert_number_array_equals(&get(&o, "image"), PNG);
    assert_eq!(get(&o, "strength").as_f64(), Some(0.5));
}

#[wasm_bindgen_test]
fn image_b64_is_forwarded_as_an_image_array() {
    let b64 = btoa(PNG);
    let o = inputs_for(&serde_json::json!({"prompt": "a", "image_b64": b64}));
    assert_number_array_equals(&get(&o, "image"), PNG);
    assert!(get(&o, "image_b64").is_undefined());
}

#[wasm_bindgen_test]
fn mask_is_an_array_too() {
    let o = inputs_for(&serde_json::json!({"prompt": "a", "image": PNG_256, "mask": MASK}));
    assert_number_array_equals(&get(&o, "mask"), MASK);
    assert_number_array_equals(&get(&o, "image"), PNG_256);
}

#[wasm_bindgen_test]
fn by_default_the_image_goes_as_image_b64_and_the_mask_as_an_array() {
    let body = serde_json::json!({"prompt": "a", "image": PNG_256, "mask": MASK});
    let o = inputs_encoded(&body, ImageEncoding::Base64);
    assert!(get(&o, "image").is_undefined());
    // Decoded by JS's own atob, not by the code under test.
    let atob = js_sys::Reflect::get(&js_sys::global(), &"atob".into()).unwrap();
    let f: &js_sys::Function = atob.unchecked_ref();
    let binary = f
        .call1(&JsValue::NULL, &get(&o, "image_b64"))
        .unwrap()
        .as_string()
        .unwrap();
    let decoded: Vec<u8> = binary.chars().map(|c| c as u8).collect();
    assert_eq!(decoded, PNG_256);
    assert_number_array_equals(&get(&o, "mask"), MASK);
}

#[wasm_bindgen_test]
fn large_seeds_stay_exact() {
    let max = (1_i64 << 53) - 1;
    let o = inputs_for(&serde_json::json!({"prompt": "a", "seed": max, "width": 1023}));
    assert_eq!(get(&o, "seed").as_f64(), Some(max as f64));
    assert_eq!(get(&o, "width").as_f64(), Some(1024.0));
}
