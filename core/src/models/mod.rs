//! The tables of the models this gateway serves: one table per model, read by validation, the
//! stand-in and the OpenAPI document alike.

mod flux;
mod leonardo;
mod stable_diffusion;

pub use flux::FLUX_1_SCHNELL;
pub use leonardo::{LUCID_ORIGIN, PHOENIX_1_0};
pub use stable_diffusion::{
    DREAMSHAPER_8_LCM, SDXL_BASE, SDXL_LIGHTNING, SD_V1_5_IMG2IMG, SD_V1_5_INPAINTING,
};

use crate::model::ModelSpec;

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
];

/// The table of the model with Workers AI id `id`.
#[must_use]
pub fn by_id(id: &str) -> Option<&'static ModelSpec> {
    ALL.iter().copied().find(|m| m.id == id)
}
