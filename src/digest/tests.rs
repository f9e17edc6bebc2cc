//! WebCrypto's digests give exactly the key the pure core computes with its own SHA-256.

use sdxl_core::models::SDXL_LIGHTNING;
use sdxl_core::{validate_json, Policy};
use wasm_bindgen_test::wasm_bindgen_test;

const PNG: &[u8] = include_bytes!("../../tests/fixtures/photo-256.png");
const MASK: &[u8] = include_bytes!("../../tests/fixtures/mask-256.png");

#[wasm_bindgen_test]
async fn webcrypto_key_equals_the_core_key() {
    for body in [
        serde_json::json!({"prompt": "text only", "seed": 3}),
        serde_json::json!({"prompt": "a", "seed": 1, "image": PNG, "mask": MASK}),
    ] {
        let text = serde_json::to_vec(&body).unwrap();
        let n = validate_json(&SDXL_LIGHTNING, &text, Policy::default(), &mut || 0).unwrap();
        let ours = super::cache_key(&n).await.unwrap();
        assert_eq!(ours, sdxl_core::cache_key::cache_key(&n));
    }
}
