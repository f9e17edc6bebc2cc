//! `@cf/black-forest-labs/flux-1-schnell`: a prompt and a step count, nothing else. Its schema
//! sets `additionalProperties: false`, and the live API refuses `seed`, `width`, `height` and the
//! rest with 5006, so they are refused here before a run is paid for.

use crate::cost::{Price, PRICING_PAGE};
use crate::model::{
    AdditionalFields, FieldKind, FieldSpec, Input, IntegerDefault, ModelSpec, Output,
};

pub static FLUX_1_SCHNELL: ModelSpec = ModelSpec {
    id: "@cf/black-forest-labs/flux-1-schnell",
    input: Input::Json,
    summary: "FLUX.1 [schnell] by Black Forest Labs: 1024x1024 images in 1-8 steps",
    fields: &[
        FieldSpec {
            name: "prompt",
            kind: FieldKind::Text {
                min_chars: 1,
                max_chars: Some(2048),
            },
            required: true,
            description: "A text description of the image you want to generate",
        },
        FieldSpec {
            name: "steps",
            kind: FieldKind::Integer {
                min: 1,
                max: 8,
                // The schema's description: "Default is 4".
                default: IntegerDefault::Value(4),
                round_to_multiple: None,
            },
            required: false,
            description:
                "The number of diffusion steps; higher values can improve quality but take longer",
        },
    ],
    rules: &[],
    output: Output::JsonImageBase64,
    additional_fields: AdditionalFields::Refused,
    // It takes no size: nothing to key.
    default_side: None,
    price: Price::TilesAndSteps {
        tile_nano_usd: 52_800,
        step_nano_usd: 105_600,
        source: PRICING_PAGE,
    },
    planned_deprecation: None,
};
