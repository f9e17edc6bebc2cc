//! The Stable Diffusion family: five models that publish one identical JSON Schema. The fields
//! are written once; the models differ in which image inputs they require.
//!
//! The schema is tightened only where its own descriptions or JavaScript number precision demand
//! it (`num_steps` ≥ 1, `strength` within 0–1, sizes rounded to the 8-pixel latent grid).

use super::{DRAWN_SEED, PROMPT};
use crate::cost::Price;
use crate::model::{
    AdditionalFields, CrossRule, FieldKind, FieldSpec, Input, IntegerDefault, ModelSpec, Output,
};

static FIELDS: [FieldSpec; 11] = [
    PROMPT,
    FieldSpec {
        name: "negative_prompt",
        kind: FieldKind::Text {
            min_chars: 0,
            max_chars: None,
        },
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
    DRAWN_SEED,
];

/// Rules every model of the family shares.
const IMAGE_RULES: [CrossRule; 3] = [
    CrossRule::Exclusive("image", "image_b64"),
    CrossRule::RequiresOneOf {
        field: "mask",
        needs: &["image", "image_b64"],
    },
    CrossRule::SameDimensions {
        field: "mask",
        as_field: "image",
    },
];

const IMAGE_REQUIRED: CrossRule = CrossRule::RequiredAnyOf(&["image", "image_b64"]);

/// The schema says PNG; the live API has been seen answering JPEG (cloudflare-docs#21022).
const PNG_STREAM: Output = Output::ImageStream {
    documented: "image/png",
};

pub static SDXL_LIGHTNING: ModelSpec = ModelSpec {
    id: "@cf/bytedance/stable-diffusion-xl-lightning",
    input: Input::Json,
    summary: "SDXL-Lightning: high-quality 1024px images in a few steps",
    fields: &FIELDS,
    rules: &IMAGE_RULES,
    output: PNG_STREAM,
    additional_fields: AdditionalFields::Policy,
    // Its page: "high-quality 1024px images"; the live model answers 1024x1024.
    default_side: Some(1024),
    price: Price::Beta,
    planned_deprecation: None,
};

pub static SDXL_BASE: ModelSpec = ModelSpec {
    id: "@cf/stabilityai/stable-diffusion-xl-base-1.0",
    input: Input::Json,
    summary: "Stable Diffusion XL base 1.0 by Stability AI",
    fields: &FIELDS,
    rules: &IMAGE_RULES,
    output: PNG_STREAM,
    additional_fields: AdditionalFields::Policy,
    // SDXL's native resolution, which the model answers when no size is sent.
    default_side: Some(1024),
    price: Price::Beta,
    planned_deprecation: None,
};

pub static DREAMSHAPER_8_LCM: ModelSpec = ModelSpec {
    id: "@cf/lykon/dreamshaper-8-lcm",
    input: Input::Json,
    summary: "DreamShaper 8 (Stable Diffusion 1.5 fine-tune) with a latent consistency model",
    fields: &FIELDS,
    rules: &IMAGE_RULES,
    output: PNG_STREAM,
    additional_fields: AdditionalFields::Policy,
    default_side: None,
    price: Price::Beta,
    planned_deprecation: None,
};

pub static SD_V1_5_IMG2IMG: ModelSpec = ModelSpec {
    id: "@cf/runwayml/stable-diffusion-v1-5-img2img",
    input: Input::Json,
    summary: "Stable Diffusion 1.5 img2img: transforms an input image (required) by the prompt",
    fields: &FIELDS,
    rules: &[
        IMAGE_REQUIRED,
        CrossRule::Exclusive("image", "image_b64"),
        CrossRule::SameDimensions {
            field: "mask",
            as_field: "image",
        },
    ],
    output: PNG_STREAM,
    additional_fields: AdditionalFields::Policy,
    default_side: None,
    price: Price::Beta,
    planned_deprecation: None,
};

/// Without a mask the real model answers 3030 "missing required input mask_image"
/// (cloudflare-docs#21061): both the image and the mask are required.
pub static SD_V1_5_INPAINTING: ModelSpec = ModelSpec {
    id: "@cf/runwayml/stable-diffusion-v1-5-inpainting",
    input: Input::Json,
    summary: "Stable Diffusion 1.5 inpainting: repaints the white parts of a mask (both required)",
    fields: &FIELDS,
    rules: &[
        IMAGE_REQUIRED,
        CrossRule::RequiredAnyOf(&["mask"]),
        CrossRule::Exclusive("image", "image_b64"),
        CrossRule::SameDimensions {
            field: "mask",
            as_field: "image",
        },
    ],
    output: PNG_STREAM,
    additional_fields: AdditionalFields::Policy,
    default_side: None,
    price: Price::Beta,
    planned_deprecation: None,
};
