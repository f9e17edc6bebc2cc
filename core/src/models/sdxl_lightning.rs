//! `@cf/bytedance/stable-diffusion-xl-lightning`, from its published JSON Schema, tightened only
//! where the schema's own descriptions or JavaScript number precision demand it.

use crate::model::{CrossRule, FieldKind, FieldSpec, IntegerDefault, ModelSpec};

/// Largest integer a JavaScript number (and so the binding) carries exactly: 2^53 − 1.
pub const MAX_SAFE_INTEGER: i64 = (1 << 53) - 1;

pub static SDXL_LIGHTNING: ModelSpec = ModelSpec {
    id: "@cf/bytedance/stable-diffusion-xl-lightning",
    fields: &[
        FieldSpec {
            name: "prompt",
            kind: FieldKind::Text { min_chars: 1 },
            required: true,
            description: "A text description of the image you want to generate",
        },
        FieldSpec {
            name: "negative_prompt",
            kind: FieldKind::Text { min_chars: 0 },
            required: false,
            description: "Text describing elements to avoid in the generated image",
        },
        FieldSpec {
            name: "height",
            kind: FieldKind::Integer {
                min: 256,
                max: 2048,
                default: IntegerDefault::None,
                // Diffusion models work in 8-pixel latents.
                round_to_multiple: Some(8),
            },
            required: false,
            description: "The height of the generated image in pixels",
        },
        FieldSpec {
            name: "width",
            kind: FieldKind::Integer {
                min: 256,
                max: 2048,
                default: IntegerDefault::None,
                round_to_multiple: Some(8),
            },
            required: false,
            description: "The width of the generated image in pixels",
        },
        FieldSpec {
            name: "image",
            kind: FieldKind::ImageBytes,
            required: false,
            description: "For img2img: the bytes of a PNG, JPEG or WebP image as integers 0-255",
        },
        FieldSpec {
            name: "image_b64",
            kind: FieldKind::ImageBase64 { into: "image" },
            required: false,
            description: "For img2img: base64 (standard or URL-safe, padding optional, data: URL allowed) of a PNG, JPEG or WebP image",
        },
        FieldSpec {
            name: "mask",
            kind: FieldKind::ImageBytes,
            required: false,
            description: "For inpainting: the bytes of a mask image (same dimensions as the input image) as integers 0-255; white pixels are repainted",
        },
        FieldSpec {
            name: "num_steps",
            kind: FieldKind::Integer {
                min: 1,
                max: 20,
                default: IntegerDefault::Value(20),
                round_to_multiple: None,
            },
            required: false,
            description: "The number of diffusion steps; higher values can improve quality but take longer",
        },
        FieldSpec {
            name: "strength",
            kind: FieldKind::Number {
                min: Some(0.0),
                max: Some(1.0),
                default: Some(1.0),
            },
            required: false,
            description: "Between 0 and 1: how strongly to transform the input image in img2img; lower values stay closer to the input",
        },
        FieldSpec {
            name: "guidance",
            kind: FieldKind::Number {
                min: None,
                max: None,
                default: Some(7.5),
            },
            required: false,
            description: "Controls how closely the generated image should adhere to the prompt",
        },
        FieldSpec {
            name: "seed",
            kind: FieldKind::Integer {
                min: 0,
                max: MAX_SAFE_INTEGER,
                default: IntegerDefault::Drawn,
                round_to_multiple: None,
            },
            required: false,
            description: "Random seed for reproducibility; when absent the gateway draws one and returns it in x-seed",
        },
    ],
    rules: &[
        CrossRule::Exclusive("image", "image_b64"),
        CrossRule::RequiresOneOf {
            field: "mask",
            needs: &["image", "image_b64"],
        },
        CrossRule::SameDimensions {
            field: "mask",
            as_field: "image",
        },
    ],
};
