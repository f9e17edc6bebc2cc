//! The tables of the models this gateway serves: one table per model, read by validation, the
//! stand-in and the OpenAPI document alike.

mod flux;
mod flux2;
mod leonardo;
mod stable_diffusion;

pub use flux::FLUX_1_SCHNELL;
pub use flux2::{
    FLUX_2_DEV, FLUX_2_KLEIN_4B, FLUX_2_KLEIN_9B, MAX_REFERENCE_IMAGES, REFERENCE_IMAGES,
};
pub use leonardo::{LUCID_ORIGIN, PHOENIX_1_0};
pub use stable_diffusion::{
    DREAMSHAPER_8_LCM, SDXL_BASE, SDXL_LIGHTNING, SD_V1_5_IMG2IMG, SD_V1_5_INPAINTING,
};

use crate::model::{FieldKind, FieldSpec, IntegerDefault, ModelSpec, MAX_SAFE_INTEGER};

/// The prompt as the models without a length bound of their own take it (FLUX sets one).
const PROMPT: FieldSpec = FieldSpec {
    name: "prompt",
    kind: FieldKind::Text {
        min_chars: 1,
        max_chars: None,
    },
    required: true,
    description: "A text description of the image you want to generate",
};

/// The seed as every seeded model takes it: any integer a JS number holds exactly, drawn by the
/// gateway when absent so every result can be reproduced (and cached by what produced it).
const DRAWN_SEED: FieldSpec = FieldSpec {
    name: "seed",
    kind: FieldKind::Integer {
        min: 0,
        max: MAX_SAFE_INTEGER,
        default: IntegerDefault::Drawn,
        round_to_multiple: None,
    },
    required: false,
    description: "Random seed for reproducibility; when absent the gateway draws one and returns it in x-seed",
};

/// Every model the gateway serves; the first is the one `/` serves.
pub static ALL: &[&ModelSpec] = &[
    &SDXL_LIGHTNING,
    &SDXL_BASE,
    &DREAMSHAPER_8_LCM,
    &SD_V1_5_IMG2IMG,
    &SD_V1_5_INPAINTING,
    &FLUX_1_SCHNELL,
    &PHOENIX_1_0,
    &LUCID_ORIGIN,
    &FLUX_2_DEV,
    &FLUX_2_KLEIN_4B,
    &FLUX_2_KLEIN_9B,
];

/// The table of the model with Workers AI id `id`.
#[must_use]
pub fn by_id(id: &str) -> Option<&'static ModelSpec> {
    ALL.iter().copied().find(|m| m.id == id)
}
