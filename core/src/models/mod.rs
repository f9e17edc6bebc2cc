//! The tables of the models this gateway serves.

mod sdxl_lightning;

pub use sdxl_lightning::SDXL_LIGHTNING;

use crate::model::ModelSpec;

/// Every model the gateway serves.
pub static ALL: &[&ModelSpec] = &[&SDXL_LIGHTNING];

/// The table of the model with Workers AI id `id`.
#[must_use]
pub fn by_id(id: &str) -> Option<&'static ModelSpec> {
    ALL.iter().copied().find(|m| m.id == id)
}
