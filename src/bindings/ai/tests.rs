//! The options argument `AI.run` receives, as JS sees it.

use js_sys::JSON;
use wasm_bindgen_test::wasm_bindgen_test;

use super::run_options;

#[wasm_bindgen_test]
fn no_gateway_passes_no_options() {
    assert!(run_options(None, "k").is_undefined());
}

#[wasm_bindgen_test]
fn a_gateway_id_becomes_the_gateway_option() {
    let options = run_options(Some("my-gateway"), "abc123");
    let text = JSON::stringify(&options).unwrap().as_string().unwrap();
    let parsed: serde_json::Value = serde_json::from_str(&text).unwrap();
    assert_eq!(
        parsed,
        serde_json::json!({"gateway": {"id": "my-gateway", "skipCache": true, "metadata": {"cache_key": "abc123"}}})
    );
}
