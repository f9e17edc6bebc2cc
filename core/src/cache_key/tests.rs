use serde_json::json;

use super::*;
use crate::models::SDXL_LIGHTNING;
use crate::{validate_json, Policy};

const PNG: &[u8] = include_bytes!("../../../tests/fixtures/photo-64x48.png");

fn normalized(body: &serde_json::Value) -> Normalized {
    let text = serde_json::to_vec(body).unwrap();
    validate_json(&SDXL_LIGHTNING, &text, Policy::default(), &mut || 1234).unwrap()
}

fn key(body: serde_json::Value) -> String {
    cache_key(&normalized(&body))
}

#[test]
fn canonical_text_is_as_documented() {
    let n = normalized(&json!({"prompt": "a \"cat\"\n", "width": 1023, "seed": 7}));
    assert_eq!(
        canonical_text(&n),
        "sdxl-gateway cache key v1\n\
         model:@cf/bytedance/stable-diffusion-xl-lightning\n\
         prompt:str:\"a \\\"cat\\\"\\n\"\n\
         width:int:1024\n\
         num_steps:int:20\n\
         strength:num:1\n\
         guidance:num:7.5\n\
         seed:int:7\n"
    );
}

/// Golden vectors, computed independently (Python hashlib over the documented text). If one of
/// these changes, the encoding changed: bump `VERSION_LINE`.
#[test]
fn golden_vectors() {
    assert_eq!(
        key(json!({"prompt": "cyberpunk cat", "seed": 42})),
        "bbbcc1cd6ecbc22b1417822af24505a0059433129b1b37f21d325be84107260c"
    );
    assert_eq!(
        key(
            json!({"prompt": "cyberpunk cat", "negative_prompt": "blurry", "width": 768,
                   "height": 512, "num_steps": 4, "strength": 0.5, "guidance": 0, "seed": 1})
        ),
        "da8891c4d65421d71c42c5585a09e87760124cfc7fe1d4d675aa2c56d6ec5ee9"
    );
    assert_eq!(
        key(json!({"prompt": "img2img", "image": PNG, "strength": 0.25, "seed": 9})),
        "8c195b2d14b720e19a50207060a35af775f1ad003bc9e0badfd2265de328a8f0"
    );
}

#[test]
fn defaults_made_explicit_share_a_key() {
    assert_eq!(
        key(json!({"prompt": "a", "seed": 1})),
        key(json!({"prompt": "a", "seed": 1, "num_steps": 20, "strength": 1, "guidance": 7.5}))
    );
    assert_eq!(
        key(json!({"prompt": "a", "seed": 1, "num_steps": 20.0, "strength": -0.0})),
        key(json!({"prompt": "a", "seed": 1, "strength": 0}))
    );
}

#[test]
fn sizes_rounded_to_the_same_grid_share_a_key() {
    assert_eq!(
        key(json!({"prompt": "a", "seed": 1, "width": 1023})),
        key(json!({"prompt": "a", "seed": 1, "width": 1024}))
    );
}

#[test]
fn image_image_b64_and_data_url_share_a_key() {
    use base64::Engine as _;
    let b64 = base64::engine::general_purpose::STANDARD.encode(PNG);
    let from_array = key(json!({"prompt": "a", "seed": 1, "image": PNG}));
    assert_eq!(
        from_array,
        key(json!({"prompt": "a", "seed": 1, "image_b64": b64}))
    );
    assert_eq!(
        from_array,
        key(json!({"prompt": "a", "seed": 1, "image_b64": format!("data:image/png;base64,{b64}")}))
    );
}

#[test]
fn every_input_changes_the_key() {
    let base = json!({"prompt": "a", "seed": 1, "width": 512, "height": 512});
    let reference = key(base.clone());
    for (field, value) in [
        ("prompt", json!("b")),
        ("seed", json!(2)),
        ("width", json!(520)),
        ("height", json!(520)),
        ("num_steps", json!(4)),
        ("strength", json!(0.5)),
        ("guidance", json!(1)),
        ("negative_prompt", json!("x")),
        ("image", json!(PNG)),
    ] {
        let mut changed = base.clone();
        changed[field] = value;
        assert_ne!(key(changed), reference, "{field}");
    }
}

#[test]
fn ignored_fields_are_not_in_the_key() {
    assert_eq!(
        key(json!({"prompt": "a", "seed": 1})),
        key(json!({"prompt": "a", "seed": 1, "stpes": 4}))
    );
}

#[test]
fn key_shape() {
    let k = key(json!({"prompt": "a", "seed": 1}));
    assert!(is_cache_key(&k));
    assert!(!is_cache_key(&k.to_uppercase()));
    assert!(!is_cache_key(&k[1..]));
    assert!(!is_cache_key("../../etc/passwd"));
}

#[test]
fn supplied_image_digests_give_the_same_key() {
    use super::{cache_key, cache_key_with, hex};
    use sha2::{Digest, Sha256};
    let png: &[u8] = include_bytes!("../../../tests/fixtures/photo-256.png");
    let body = serde_json::json!({"prompt": "p", "seed": 1, "image": png});
    let n = crate::validate_json(
        &crate::models::SDXL_LIGHTNING,
        &serde_json::to_vec(&body).unwrap(),
        crate::Policy::default(),
        &mut || 0,
    )
    .unwrap();
    let mut asked = Vec::new();
    let with = cache_key_with(&n, &mut |name, bytes| {
        asked.push(name.to_owned());
        hex(&Sha256::digest(bytes))
    });
    assert_eq!(with, cache_key(&n));
    assert_eq!(asked, ["image"]);
    // A wrong digest is a different key: the supplied digest is really used.
    assert_ne!(
        cache_key_with(&n, &mut |_, _| "0".repeat(64)),
        cache_key(&n)
    );
}
