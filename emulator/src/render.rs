//! What the stand-in draws for a validated request: the picture its inputs describe, encoded.
//! Pure, so the sizes it refuses and the inputs it reads are tested natively.

use sdxl_core::models::{FLUX_1_SCHNELL, REFERENCE_IMAGES};
use sdxl_core::{ModelSpec, Normalized};
use sha2::{Digest, Sha256};
use thiserror::Error;

use crate::codec::{self, OutputFormat};
use crate::paint::{paint, PaintRequest};

/// The size the real model draws when none is asked for.
pub const DEFAULT_SIDE: u32 = 1024;

/// The side FLUX.1 schnell always draws.
pub const FLUX_SIDE: u32 = 1024;

/// The smallest side the stand-in draws: the Leonardo schemas allow 0, which no model can draw.
pub const MIN_SIDE: u32 = 64;

/// Why a request cannot be drawn; the binding throws it as Workers AI's input error (5006).
#[derive(Debug, Clone, PartialEq, Eq, Error)]
pub enum RenderError {
    #[error("Error: '/{field}' could not be decoded: {reason}")]
    Undecodable { field: String, reason: String },
    #[error("Error: '/{field}' of {side} px is too small to draw (at least {MIN_SIDE})")]
    TooSmall { field: String, side: u32 },
}

impl RenderError {
    /// The Workers AI code it is thrown with.
    #[must_use]
    pub fn code(&self) -> u32 {
        5006
    }
}

/// Paints the picture the inputs describe and encodes it as `format`.
///
/// # Errors
/// An input image that does not decode, or a side too small to draw.
pub fn render(
    spec: &ModelSpec,
    n: &Normalized,
    format: OutputFormat,
) -> Result<Vec<u8>, RenderError> {
    let decode = |field: &str| {
        n.inputs
            .image(field)
            .map(|img| codec::decode(&img.bytes))
            .transpose()
            .map_err(|e| RenderError::Undecodable {
                field: field.to_owned(),
                reason: e.to_string(),
            })
    };
    let image = decode("image")?;
    let mask = decode("mask")?;
    // FLUX.2's reference images: each must decode, as the model would need it to; their bytes'
    // digests, in the model's order, shape the picture.
    let mut references = Vec::new();
    for field in REFERENCE_IMAGES {
        let Some(sent) = n.inputs.image(field) else {
            continue;
        };
        decode(field)?;
        references.push(Sha256::digest(sent.bytes.as_slice()).into());
    }
    let side = |field: &str| {
        if spec.id == FLUX_1_SCHNELL.id {
            return Ok(FLUX_SIDE); // FLUX.1 schnell takes no size and draws 1024x1024
        }
        let side = n
            .inputs
            .integer(field)
            .and_then(|v| u32::try_from(v).ok())
            .unwrap_or(DEFAULT_SIDE);
        if side < MIN_SIDE {
            return Err(RenderError::TooSmall {
                field: field.to_owned(),
                side,
            });
        }
        Ok(side)
    };
    let steps = n.inputs.integer("num_steps").or(n.inputs.integer("steps"));
    let request = PaintRequest {
        prompt: n.inputs.text("prompt").unwrap_or_default(),
        negative_prompt: n.inputs.text("negative_prompt"),
        width: side("width")?,
        height: side("height")?,
        num_steps: steps.and_then(|v| u32::try_from(v).ok()).unwrap_or(20),
        guidance: n.inputs.number("guidance").unwrap_or(7.5),
        strength: n.inputs.number("strength").unwrap_or(1.0),
        seed: n.seed().and_then(|s| u64::try_from(s).ok()).unwrap_or(0),
        image: image.as_ref(),
        mask: mask.as_ref(),
        references: &references,
    };
    Ok(codec::encode(&paint(&request), format))
}

#[cfg(test)]
mod tests {
    use super::*;
    use sdxl_core::{models, validate_json, Policy};

    fn normalized(spec: &'static ModelSpec, body: &str) -> Normalized {
        validate_json(spec, body.as_bytes(), Policy::default(), &mut || 7).unwrap()
    }

    fn size_of(png: &[u8]) -> (u32, u32) {
        let image = codec::decode(png).unwrap();
        (image.width, image.height)
    }

    #[test]
    fn draws_the_size_asked_for_or_the_models_default() {
        let sdxl = models::ALL[0];
        let asked = render(
            sdxl,
            &normalized(sdxl, r#"{"prompt":"a","width":256,"height":320}"#),
            OutputFormat::Png,
        )
        .unwrap();
        assert_eq!(size_of(&asked), (256, 320));
        let flux = &FLUX_1_SCHNELL;
        let fixed = render(
            flux,
            &normalized(flux, r#"{"prompt":"a"}"#),
            OutputFormat::Jpeg,
        );
        assert_eq!(size_of(&fixed.unwrap()), (FLUX_SIDE, FLUX_SIDE));
    }

    #[test]
    fn no_model_lets_through_a_side_too_small_to_draw() {
        // The gateway's tables are the first line: every model refuses sides below MIN_SIDE (the
        // Leonardo models' published minimum of 0 is no image, so their tables say 256).
        // `render` refusing them too (RenderError::TooSmall, 5006) is the stand-in's guard for
        // callers that skip the gateway.
        for spec in models::ALL
            .iter()
            .copied()
            .filter(|s| s.id != FLUX_1_SCHNELL.id)
        {
            for side in [0, MIN_SIDE - 1] {
                let body = format!(r#"{{"prompt":"a","width":{side}}}"#);
                let checked = validate_json(spec, body.as_bytes(), Policy::default(), &mut || 1);
                assert!(
                    checked.is_err(),
                    "{} lets a width of {side} through",
                    spec.id
                );
            }
        }
        let refusal = RenderError::TooSmall {
            field: "width".into(),
            side: 0,
        };
        assert_eq!(refusal.code(), 5006);
        assert_eq!(
            refusal.to_string(),
            "Error: '/width' of 0 px is too small to draw (at least 64)"
        );
    }
}
