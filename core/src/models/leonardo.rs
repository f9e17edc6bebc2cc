//! Leonardo's partner models, from their published schemas. Seeds are drawn when absent, as for
//! the other models, so every result can be reproduced and cached by what produced it.

use super::{DRAWN_SEED, PROMPT};
use crate::cost::Price;
use crate::model::{
    AdditionalFields, CrossRule, FieldKind, FieldSpec, Input, IntegerDefault, ModelSpec, Output,
};

/// The smallest side the gateway forwards to these models. Their published schemas say
/// `minimum: 0`, but a side of 0 (or a few pixels) is no image: such a request would only fail
/// in the model after it was paid for, or come back as something not asked for. 256 is the
/// smallest side the rest of Workers AI's image family states in its schemas (the SD models),
/// and far below the sizes these models are made for (1024 and 1120 by default).
pub const MIN_SIDE: i64 = 256;

const fn side(name: &'static str, max: i64, default: i64, description: &'static str) -> FieldSpec {
    FieldSpec {
        name,
        kind: FieldKind::Integer {
            min: MIN_SIDE,
            max,
            default: IntegerDefault::Value(default),
            round_to_multiple: None,
        },
        required: false,
        description,
    }
}

const fn steps(name: &'static str, max: i64, default: IntegerDefault) -> FieldSpec {
    FieldSpec {
        name,
        kind: FieldKind::Integer {
            min: 1,
            max,
            default,
            round_to_multiple: None,
        },
        required: false,
        description:
            "The number of diffusion steps; higher values can improve quality but take longer",
    }
}

pub static PHOENIX_1_0: ModelSpec = ModelSpec {
    id: "@cf/leonardo/phoenix-1.0",
    input: Input::Json,
    summary: "Leonardo Phoenix 1.0: prompt adherence and legible text in images",
    fields: &[
        PROMPT,
        FieldSpec {
            name: "negative_prompt",
            kind: FieldKind::Text {
                min_chars: 1,
                max_chars: None,
            },
            required: false,
            description: "Text describing elements to avoid in the generated image",
        },
        FieldSpec {
            name: "guidance",
            kind: FieldKind::Number {
                min: Some(2.0),
                max: Some(10.0),
                default: Some(2.0),
            },
            required: false,
            description: "Controls how closely the generated image should adhere to the prompt",
        },
        DRAWN_SEED,
        side(
            "height",
            2048,
            1024,
            "The height of the generated image in pixels",
        ),
        side(
            "width",
            2048,
            1024,
            "The width of the generated image in pixels",
        ),
        steps("num_steps", 50, IntegerDefault::Value(25)),
    ],
    rules: &[],
    output: Output::ImageStream {
        documented: "image/jpeg",
    },
    additional_fields: AdditionalFields::Policy,
    default_side: None,
    price: Price::TilesAndSteps {
        tile_nano_usd: 5_800_000,
        step_nano_usd: 110_000,
        // Re-checked 2026-12: the catalog says $0.0058 per tile (this table had $0.00583).
        source: "the catalog's model JSON (workers-ai-models/phoenix-1.0.json): $0.0058 per 512x512 tile, $0.00011 per step",
    },
    planned_deprecation: None,
};

pub static LUCID_ORIGIN: ModelSpec = ModelSpec {
    id: "@cf/leonardo/lucid-origin",
    input: Input::Json,
    summary: "Leonardo Lucid Origin: photorealistic images with strong prompt adherence",
    fields: &[
        PROMPT,
        FieldSpec {
            name: "guidance",
            kind: FieldKind::Number {
                min: Some(0.0),
                max: Some(10.0),
                default: Some(4.5),
            },
            required: false,
            description: "Controls how closely the generated image should adhere to the prompt",
        },
        DRAWN_SEED,
        side(
            "height",
            2500,
            1120,
            "The height of the generated image in pixels",
        ),
        side(
            "width",
            2500,
            1120,
            "The width of the generated image in pixels",
        ),
        steps("num_steps", 40, IntegerDefault::None),
        steps("steps", 40, IntegerDefault::None),
    ],
    // The schema has both names for one setting; sending both would be ambiguous.
    rules: &[CrossRule::Exclusive("num_steps", "steps")],
    output: Output::JsonImageBase64,
    additional_fields: AdditionalFields::Policy,
    default_side: None,
    price: Price::TilesAndSteps {
        tile_nano_usd: 7_000_000,
        step_nano_usd: 132_000,
        source: "the model's page: $0.007 per 512x512 tile, $0.000132 per step",
    },
    planned_deprecation: None,
};
