//! OpenAI's `size` field (`"1024x768"`, `"auto"`) against a model's `width` and `height` rules.
//!
//! The bounds are the model table's, checked here so that a refusal names `size` (the field the
//! client sent), not `width` or `height`; rounding to the latent grid is left to the validator,
//! exactly as for the native routes, so `size` and `width`/`height` give the same cache key.

use thiserror::Error;

use crate::model::{FieldKind, ModelSpec};

/// What `size` asks for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SizeRequest {
    /// `"auto"` or absent: the model's default (for edits, the input image's size).
    Auto,
    /// `"<width>x<height>"`, as sent, before the model's rules.
    Exact { width: i64, height: i64 },
}

/// Why a `size` cannot be used.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
pub enum SizeError {
    #[error("must be \"auto\" or WIDTHxHEIGHT in pixels, such as \"1024x768\"; got {0:?}")]
    Malformed(String),
    #[error(
        "cannot be chosen for {model}, which has no width or height; send \"auto\" or leave it out"
    )]
    FixedSize { model: &'static str },
    #[error("asks for a {side} of {value}, below the model's minimum of {min}")]
    TooSmall {
        side: &'static str,
        value: i64,
        min: i64,
    },
    #[error("asks for a {side} of {value}, above the model's maximum of {max}")]
    TooLarge {
        side: &'static str,
        value: i64,
        max: i64,
    },
}

/// Longest side text read: larger numbers are out of every model's range anyway, and this keeps
/// the parse from overflowing.
const MAX_DIGITS: usize = 6;

/// Reads `size` as sent: `auto`, or two decimal numbers joined by `x` (either case). Nothing
/// else: no spaces, signs or units, so a typo is refused, not guessed at.
///
/// # Errors
/// [`SizeError::Malformed`] for anything else.
pub fn parse_size(text: &str) -> Result<SizeRequest, SizeError> {
    if text == "auto" {
        return Ok(SizeRequest::Auto);
    }
    let malformed = || SizeError::Malformed(text.chars().take(40).collect());
    let (w, h) = text.split_once(['x', 'X']).ok_or_else(malformed)?;
    let side = |s: &str| {
        if s.is_empty() || s.len() > MAX_DIGITS || !s.bytes().all(|b| b.is_ascii_digit()) {
            None
        } else {
            s.parse::<i64>().ok()
        }
    };
    match (side(w), side(h)) {
        (Some(width), Some(height)) => Ok(SizeRequest::Exact { width, height }),
        _ => Err(malformed()),
    }
}

/// The bounds of a model's `width` (or `height`) field: `(min, max, rounding multiple)`.
#[must_use]
pub fn side_rule(spec: &ModelSpec, name: &str) -> Option<(i64, i64, Option<i64>)> {
    match spec.field(name)?.kind {
        FieldKind::Integer {
            min,
            max,
            round_to_multiple,
            ..
        } => Some((min, max, round_to_multiple)),
        _ => None,
    }
}

/// Checks an exact size against the model's `width` and `height` rules; answers it unrounded
/// (the validator rounds it as it rounds `width` and `height`).
///
/// # Errors
/// [`SizeError::FixedSize`] when the model has no size fields; out-of-range sides.
pub fn check_size(spec: &ModelSpec, width: i64, height: i64) -> Result<(i64, i64), SizeError> {
    for (side, value) in [("width", width), ("height", height)] {
        let Some((min, max, _)) = side_rule(spec, side) else {
            return Err(SizeError::FixedSize { model: spec.id });
        };
        if value < min {
            return Err(SizeError::TooSmall { side, value, min });
        }
        if value > max {
            return Err(SizeError::TooLarge { side, value, max });
        }
    }
    Ok((width, height))
}

/// The grid an edit's size is rounded to when the model sets none: Stable Diffusion's latents
/// are 1/8 of the image.
const EDIT_GRID: i64 = 8;

/// An edit's size when `size` is `auto`: the input image's, each side clamped to the model's
/// range and rounded to the nearest multiple of 8 inside it. `None` for models without a size.
#[must_use]
pub fn edit_size(spec: &ModelSpec, image_width: u32, image_height: u32) -> Option<(i64, i64)> {
    let fit = |name: &str, value: u32| {
        let (min, max, multiple) = side_rule(spec, name)?;
        let m = multiple.unwrap_or(EDIT_GRID).max(1);
        let lowest = (min + m - 1) / m * m;
        let highest = max / m * m;
        let rounded = (i64::from(value) + m / 2) / m * m;
        Some(rounded.clamp(lowest, highest.max(lowest)))
    };
    Some((fit("width", image_width)?, fit("height", image_height)?))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::models;

    fn sdxl() -> &'static ModelSpec {
        models::ALL[0]
    }

    #[test]
    fn sizes_as_clients_send_them() {
        assert_eq!(parse_size("auto"), Ok(SizeRequest::Auto));
        assert_eq!(
            parse_size("1024x768"),
            Ok(SizeRequest::Exact {
                width: 1024,
                height: 768
            })
        );
        assert_eq!(
            parse_size("512X512"),
            Ok(SizeRequest::Exact {
                width: 512,
                height: 512
            })
        );
        for bad in [
            "",
            "1024",
            "1024x",
            "x1024",
            "1024x768x2",
            " 1024x768",
            "1024 x 768",
            "-8x8",
            "+8x8",
            "1e3x1e3",
            "AUTO",
            "1024×768",
            "9999999x1",
            "1024x768px",
        ] {
            assert!(
                matches!(parse_size(bad), Err(SizeError::Malformed(_))),
                "{bad:?}"
            );
        }
    }

    #[test]
    fn sizes_meet_the_models_rules() {
        assert_eq!(check_size(sdxl(), 1024, 768), Ok((1024, 768)));
        // Rounding is the validator's: an off-grid size passes unrounded.
        assert_eq!(check_size(sdxl(), 1001, 999), Ok((1001, 999)));
        assert_eq!(
            check_size(sdxl(), 100, 1024),
            Err(SizeError::TooSmall {
                side: "width",
                value: 100,
                min: 256
            })
        );
        assert_eq!(
            check_size(sdxl(), 1024, 4096),
            Err(SizeError::TooLarge {
                side: "height",
                value: 4096,
                max: 2048
            })
        );
        let flux = models::by_id("@cf/black-forest-labs/flux-1-schnell").unwrap();
        assert!(matches!(
            check_size(flux, 1024, 1024),
            Err(SizeError::FixedSize { .. })
        ));
    }

    #[test]
    fn edits_take_the_input_images_size_clamped_and_rounded() {
        assert_eq!(edit_size(sdxl(), 640, 480), Some((640, 480)));
        assert_eq!(edit_size(sdxl(), 643, 477), Some((640, 480)));
        assert_eq!(edit_size(sdxl(), 100, 5000), Some((256, 2048)));
        assert_eq!(edit_size(sdxl(), 1, 1), Some((256, 256)));
        let flux = models::by_id("@cf/black-forest-labs/flux-1-schnell").unwrap();
        assert_eq!(edit_size(flux, 640, 480), None);
    }
}
