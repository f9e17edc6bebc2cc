//! The FLUX.2 family by Black Forest Labs: `flux-2-dev`, `flux-2-klein-4b`, `flux-2-klein-9b`.
//!
//! Their published JSON Schema is opaque (`{multipart: {body, contentType}}`); the fields below
//! are the ones their launch notes list (Cloudflare's changelog, 2025-11-25, 2026-01-15 and
//! 2026-01-28): `prompt`, up to four reference images `input_image_0..3` sent as binary file
//! parts, `steps` (dev only: the klein models are distilled to a fixed 4 steps and refuse
//! changes), `guidance`, `width` and `height` 256–1920 (default 1024 x 768), `seed`. Each
//! reference image can also be sent as base64 (or a `data:` URL) in `input_image_<i>_b64`, as
//! `image_b64` is for the other models; either way it is forwarded as the binary part. Or all
//! of them at once, in order, as `images`: a list of base64 strings or data URLs (in a form, the
//! field repeated, file parts or such texts), the gateway's own shorthand, forwarded as
//! `input_image_0..` like the rest.
//!
//! The gateway fills `width`, `height` and dev's `steps` when absent and forwards them, so the
//! cost of a run and its cache key are exact whatever the model's own defaults become.

use super::{DRAWN_SEED, PROMPT};
use crate::cost::Price;
use crate::model::{
    AdditionalFields, CrossRule, FieldKind, FieldSpec, Input, IntegerDefault, ModelSpec, Output,
};

/// Most reference images a FLUX.2 model takes ("supports up to 4 image inputs").
pub const MAX_REFERENCE_IMAGES: usize = 4;

/// The field names of the reference images, in the order the model reads them.
pub const REFERENCE_IMAGES: [&str; MAX_REFERENCE_IMAGES] = [
    "input_image_0",
    "input_image_1",
    "input_image_2",
    "input_image_3",
];

/// Where the prices come from.
const MODEL_PAGES: &str =
    "Workers AI's model pages (developers.cloudflare.com/workers-ai/models/<model>/), 2026-12";

const fn side(name: &'static str, default: i64, description: &'static str) -> FieldSpec {
    FieldSpec {
        name,
        kind: FieldKind::Integer {
            min: 256,
            max: 1920,
            default: IntegerDefault::Value(default),
            round_to_multiple: None,
        },
        required: false,
        description,
    }
}

const fn reference(name: &'static str) -> FieldSpec {
    FieldSpec {
        name,
        kind: FieldKind::ImageBytes,
        required: false,
        description: "A reference image (PNG, JPEG or WebP) to edit or to keep consistent with; \
                      the model reads input_image_0 first. A file part, or an array of bytes",
    }
}

const fn reference_b64(name: &'static str, into: &'static str) -> FieldSpec {
    FieldSpec {
        name,
        kind: FieldKind::ImageBase64 { into },
        required: false,
        description: "The same reference image as base64 or a data: URL (not with its array form)",
    }
}

/// `images`: the reference images as one list, in the model's order.
const IMAGES: FieldSpec = FieldSpec {
    name: "images",
    kind: FieldKind::ImageList {
        into: &REFERENCE_IMAGES,
    },
    required: false,
    description: "Up to 4 reference images in order, each base64 or a data: URL (in a form: the \
                  field repeated, as file parts), forwarded as input_image_0, input_image_1, ...; \
                  not together with input_image_*",
};

/// Every name `images` stands for, in either encoding.
const REFERENCE_FIELDS: [&str; 2 * MAX_REFERENCE_IMAGES] = [
    "input_image_0",
    "input_image_0_b64",
    "input_image_1",
    "input_image_1_b64",
    "input_image_2",
    "input_image_2_b64",
    "input_image_3",
    "input_image_3_b64",
];

const GUIDANCE: FieldSpec = FieldSpec {
    name: "guidance",
    kind: FieldKind::Number {
        min: Some(0.0),
        max: None,
        default: None,
    },
    required: false,
    description: "Guidance scale: higher values follow the prompt more closely",
};

const WIDTH: FieldSpec = side("width", 1024, "The width of the generated image in pixels");
const HEIGHT: FieldSpec = side("height", 768, "The height of the generated image in pixels");

/// The fields every FLUX.2 model takes, `steps` aside.
macro_rules! flux2_fields {
    ($steps:expr) => {
        [
            PROMPT,
            // Before the fields it stands for, which it excludes: a list and the same images
            // sent one by one normalize to the same inputs, in the same order.
            IMAGES,
            reference("input_image_0"),
            reference_b64("input_image_0_b64", "input_image_0"),
            reference("input_image_1"),
            reference_b64("input_image_1_b64", "input_image_1"),
            reference("input_image_2"),
            reference_b64("input_image_2_b64", "input_image_2"),
            reference("input_image_3"),
            reference_b64("input_image_3_b64", "input_image_3"),
            $steps,
            GUIDANCE,
            WIDTH,
            HEIGHT,
            DRAWN_SEED,
        ]
    };
}

static DEV_FIELDS: [FieldSpec; 15] = flux2_fields!(FieldSpec {
    name: "steps",
    kind: FieldKind::Integer {
        min: 1,
        max: 50,
        // The launch note's example; forwarded so the cost (per step) is known before the run.
        default: IntegerDefault::Value(25),
        round_to_multiple: None,
    },
    required: false,
    description: "The number of inference steps; more can improve quality but take longer",
});

static KLEIN_FIELDS: [FieldSpec; 15] = flux2_fields!(FieldSpec {
    name: "steps",
    kind: FieldKind::Integer {
        min: 4,
        max: 4,
        // Fixed by the model: sent only when the client sends it.
        default: IntegerDefault::None,
        round_to_multiple: None,
    },
    required: false,
    description: "Fixed at 4: the klein models are distilled to four steps and refuse other values",
});

/// One of each pair, and in order: `input_image_<i>` only after `input_image_<i-1>`; the list or
/// the fields, not both.
static RULES: [CrossRule; 11] = [
    CrossRule::ExcludesAll {
        field: "images",
        others: &REFERENCE_FIELDS,
    },
    CrossRule::Exclusive("input_image_0", "input_image_0_b64"),
    CrossRule::Exclusive("input_image_1", "input_image_1_b64"),
    CrossRule::Exclusive("input_image_2", "input_image_2_b64"),
    CrossRule::Exclusive("input_image_3", "input_image_3_b64"),
    CrossRule::RequiresOneOf {
        field: "input_image_1",
        needs: &["input_image_0", "input_image_0_b64"],
    },
    CrossRule::RequiresOneOf {
        field: "input_image_1_b64",
        needs: &["input_image_0", "input_image_0_b64"],
    },
    CrossRule::RequiresOneOf {
        field: "input_image_2",
        needs: &["input_image_1", "input_image_1_b64"],
    },
    CrossRule::RequiresOneOf {
        field: "input_image_2_b64",
        needs: &["input_image_1", "input_image_1_b64"],
    },
    CrossRule::RequiresOneOf {
        field: "input_image_3",
        needs: &["input_image_2", "input_image_2_b64"],
    },
    CrossRule::RequiresOneOf {
        field: "input_image_3_b64",
        needs: &["input_image_2", "input_image_2_b64"],
    },
];

/// What every FLUX.2 model shares: a form in, `{image}` out, the same rules.
const fn flux2(
    id: &'static str,
    summary: &'static str,
    fields: &'static [FieldSpec],
    price: Price,
) -> ModelSpec {
    ModelSpec {
        id,
        planned_deprecation: None,
        input: Input::Multipart,
        summary,
        fields,
        rules: &RULES,
        output: Output::JsonImageBase64,
        // The model reads a form; a field it does not know would be a silent no-op at best.
        additional_fields: AdditionalFields::Refused,
        default_side: None,
        price,
    }
}

pub static FLUX_2_DEV: ModelSpec = flux2(
    "@cf/black-forest-labs/flux-2-dev",
    "FLUX.2 [dev] by Black Forest Labs: detailed images, editing from up to 4 reference images",
    &DEV_FIELDS,
    Price::InputAndOutputTiles {
        input_tile_nano_usd: 210_000,
        output_tile_nano_usd: 410_000,
        per_step: true,
        source: MODEL_PAGES,
    },
);

pub static FLUX_2_KLEIN_4B: ModelSpec = flux2(
    "@cf/black-forest-labs/flux-2-klein-4b",
    "FLUX.2 [klein] 4B: fast, fixed 4 steps, editing from up to 4 reference images",
    &KLEIN_FIELDS,
    Price::InputAndOutputTiles {
        input_tile_nano_usd: 59_000,
        output_tile_nano_usd: 287_000,
        per_step: false,
        source: MODEL_PAGES,
    },
);

pub static FLUX_2_KLEIN_9B: ModelSpec = flux2(
    "@cf/black-forest-labs/flux-2-klein-9b",
    "FLUX.2 [klein] 9B: fixed 4 steps, more detail than 4B, up to 4 reference images",
    &KLEIN_FIELDS,
    // Its model page and the catalog's JSON carry no price (checked 2026-12); images and
    // tiles x steps are counted, dollars are not.
    Price::Unpublished {
        source: MODEL_PAGES,
    },
);
