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
        "sdxl-gateway cache key v2\n\
         model:@cf/bytedance/stable-diffusion-xl-lightning\n\
         prompt:str:\"a \\\"cat\\\"\\n\"\n\
         height:int:1024\n\
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
        "16a1b117bf0732d6c7967a689d4847f0ebdcaa76e32238bb099692f33c65918c"
    );
    assert_eq!(
        key(
            json!({"prompt": "cyberpunk cat", "negative_prompt": "blurry", "width": 768,
                   "height": 512, "num_steps": 4, "strength": 0.5, "guidance": 0, "seed": 1})
        ),
        "84482c733824f7f3f6c60bbda01d674be7bf2b22bece6372131e9998910259ee"
    );
    assert_eq!(
        key(json!({"prompt": "img2img", "image": PNG, "strength": 0.25, "seed": 9})),
        "412f03cd957fffeaf2b0b90593336775443b8c6a030d3e3899957a43b00bddf1"
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

/// Every default the gateway knows is filled before keying: the model's own size too, though it
/// is not forwarded. Not with an input image (its size decides), nor for a model with no
/// documented size.
#[test]
fn the_models_default_size_shares_a_key_with_the_size_sent() {
    let bare = key(json!({"prompt": "p", "seed": 11}));
    assert_eq!(
        bare,
        key(json!({"prompt": "p", "seed": 11, "width": 1024, "height": 1024}))
    );
    assert_eq!(
        key(json!({"prompt": "p", "seed": 11, "width": 1024})),
        key(json!({"prompt": "p", "seed": 11, "height": 1024}))
    );
    assert_ne!(bare, key(json!({"prompt": "p", "seed": 11, "width": 512})));
    assert_ne!(
        key(json!({"prompt": "p", "seed": 11, "image": PNG})),
        key(json!({"prompt": "p", "seed": 11, "image": PNG, "width": 1024, "height": 1024}))
    );
    let text = canonical_text(&normalized(&json!({"prompt": "p", "seed": 11})));
    assert!(
        text.contains("prompt:str:\"p\"\nheight:int:1024\nwidth:int:1024\nnum_steps:int:20\n"),
        "{text}"
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

/// FLUX.2: every reference image is in the key, in its order, however it was sent.
#[test]
fn reference_images_are_keyed_each_and_in_order() {
    use crate::models::FLUX_2_KLEIN_4B;
    use base64::Engine;
    const OTHER: &[u8] = include_bytes!("../../../tests/fixtures/photo-64x48.jpg");
    let b64 = |b: &[u8]| base64::engine::general_purpose::STANDARD.encode(b);
    let key = |body: serde_json::Value| {
        let text = serde_json::to_vec(&body).unwrap();
        cache_key(&validate_json(&FLUX_2_KLEIN_4B, &text, Policy::default(), &mut || 1).unwrap())
    };
    let ab = key(json!({"prompt": "p", "seed": 3, "input_image_0": PNG, "input_image_1": OTHER}));
    let ba = key(json!({"prompt": "p", "seed": 3, "input_image_0": OTHER, "input_image_1": PNG}));
    assert_ne!(ab, ba, "swapping two reference images is another request");
    let listed = key(json!({"prompt": "p", "seed": 3, "images": [b64(PNG), b64(OTHER)]}));
    assert_eq!(
        listed, ab,
        "images: [a, b] is input_image_0 = a, input_image_1 = b"
    );
    let as_b64 = key(
        json!({"prompt": "p", "seed": 3, "input_image_0_b64": b64(PNG), "input_image_1_b64": format!("data:image/jpeg;base64,{}", b64(OTHER))}),
    );
    assert_eq!(as_b64, ab);
    let first_only = key(json!({"prompt": "p", "seed": 3, "images": [b64(PNG)]}));
    assert_ne!(first_only, ab, "a second image is in the key");
    let swapped_list = key(json!({"prompt": "p", "seed": 3, "images": [b64(OTHER), b64(PNG)]}));
    assert_eq!(swapped_list, ba);
}
