//! OpenAI's fields beyond the model's own: `quality` (mapped to the model's steps),
//! `background`, `output_compression`, `stream`, `partial_images`, and the ones accepted with
//! nothing to do (`moderation`, `style`, `input_fidelity`, `user`), whose values are still
//! checked so that a typo is refused rather than passed over.
//!
//! Each rule answers `Err(detail)`, the sentence after the field's name; `request.rs` makes it a
//! violation of that field.

use crate::model::{FieldKind, FieldSpec, ModelSpec};
use crate::violation::Rule;

/// `quality`, with DALL·E 3's `standard` and `hd` read as `medium` and `high`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Quality {
    /// The model's own default steps.
    #[default]
    Auto,
    Low,
    Medium,
    High,
}

impl Quality {
    /// The level `text` names.
    ///
    /// # Errors
    /// The values it may take, for anything else.
    pub fn parse(text: &str) -> Result<Quality, String> {
        Ok(match text {
            "auto" => Quality::Auto,
            "low" => Quality::Low,
            "medium" | "standard" => Quality::Medium,
            "high" | "hd" => Quality::High,
            other => return Err(not_one_of(QUALITIES, other)),
        })
    }

    /// Its name in answers.
    #[must_use]
    pub fn name(self) -> &'static str {
        match self {
            Quality::Auto => "auto",
            Quality::Low => "low",
            Quality::Medium => "medium",
            Quality::High => "high",
        }
    }
}

const QUALITIES: &[&str] = &["low", "medium", "high", "auto", "standard", "hd"];

/// A model's step fields, in the order `quality` picks one.
pub const STEP_FIELDS: [&str; 2] = ["num_steps", "steps"];

/// The steps `quality` asks of `spec`, and the field they go in: a quarter, half or all of the
/// step field's maximum (rounded up, kept within its range, so a model whose steps are fixed
/// keeps them). `None` for `auto` (the model's default) and for a model without a step field.
#[must_use]
pub fn quality_steps(spec: &ModelSpec, quality: Quality) -> Option<(&'static FieldSpec, i64)> {
    let (field, min, max) = STEP_FIELDS.iter().find_map(|name| {
        let field = spec.field(name)?;
        match field.kind {
            FieldKind::Integer { min, max, .. } => Some((field, min, max)),
            _ => None,
        }
    })?;
    let steps = match quality {
        Quality::Auto => return None,
        Quality::Low => (max + 3) / 4,
        Quality::Medium => (max + 1) / 2,
        Quality::High => max,
    };
    Some((field, steps.max(min).min(max)))
}

/// `background`: these models paint every pixel, so `transparent` cannot be honoured.
///
/// # Errors
/// The rule broken and why.
pub fn check_background(text: &str) -> Result<(), (Rule, String)> {
    match text {
        "opaque" | "auto" => Ok(()),
        "transparent" => Err((
            Rule::Unsupported,
            "cannot be \"transparent\": these models make opaque images only (no alpha channel); send \"opaque\" or \"auto\"".into(),
        )),
        other => Err((Rule::Type, not_one_of(&["opaque", "auto"], other))),
    }
}

/// `output_compression`, 0 to 100: the answer is the model's own bytes, never re-encoded, so
/// only 100 (no further compression, OpenAI's default) can be honoured.
///
/// # Errors
/// The rule broken and why.
pub fn check_output_compression(number: f64) -> Result<(), (Rule, String)> {
    if number.fract() != 0.0 || !(0.0..=100.0).contains(&number) {
        return Err((Rule::Type, "must be an integer from 0 to 100".into()));
    }
    if number < 100.0 {
        return Err((
            Rule::Unsupported,
            "must be 100 (or absent): this gateway answers the model's own bytes and does not re-encode them at another compression".into(),
        ));
    }
    Ok(())
}

/// `partial_images`, 0 to 3: accepted, though no partial image is ever sent (the models answer
/// whole images only).
///
/// # Errors
/// The rule broken and why.
pub fn check_partial_images(number: f64) -> Result<u8, (Rule, String)> {
    if number.fract() != 0.0 || !(0.0..=3.0).contains(&number) {
        return Err((Rule::Type, "must be an integer from 0 to 3".into()));
    }
    #[allow(clippy::cast_possible_truncation, clippy::cast_sign_loss)]
    let partials = number as u8; // an integer within 0..=3
    Ok(partials)
}

/// OpenAI's fields with nothing to do here, and the values each may take (`None`: any string).
/// Accepted and named in `x-ignored-fields`: the gateway applies no moderation of its own
/// (Workers AI's applies whatever is sent), the models have no style setting, and no step of an
/// edit weighs the input's features apart from `strength`.
pub const ACCEPTED: [(&str, Option<&[&str]>); 4] = [
    ("moderation", Some(&["auto", "low"])),
    ("style", Some(&["vivid", "natural"])),
    ("input_fidelity", Some(&["high", "low"])),
    ("user", None),
];

/// An accepted field's value against its values.
///
/// # Errors
/// The values it may take.
pub fn check_accepted(allowed: Option<&[&str]>, text: &str) -> Result<(), String> {
    match allowed {
        Some(values) if !values.contains(&text) => Err(not_one_of(values, text)),
        _ => Ok(()),
    }
}

fn not_one_of(values: &[&str], got: &str) -> String {
    let quoted: Vec<String> = values.iter().map(|v| format!("{v:?}")).collect();
    format!(
        "must be one of {}, not {:?}",
        quoted.join(", "),
        got.chars().take(40).collect::<String>()
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::models;

    fn steps(spec: &ModelSpec, quality: &str) -> Option<(&'static str, i64)> {
        quality_steps(spec, Quality::parse(quality).unwrap()).map(|(f, s)| (f.name, s))
    }

    #[test]
    fn quality_is_a_share_of_the_step_range() {
        let sdxl = &models::SDXL_LIGHTNING;
        assert_eq!(steps(sdxl, "low"), Some(("num_steps", 5)));
        assert_eq!(steps(sdxl, "medium"), Some(("num_steps", 10)));
        assert_eq!(steps(sdxl, "standard"), Some(("num_steps", 10)));
        assert_eq!(steps(sdxl, "high"), Some(("num_steps", 20)));
        assert_eq!(steps(sdxl, "hd"), Some(("num_steps", 20)));
        assert_eq!(steps(sdxl, "auto"), None, "the model's default");
        let flux = &models::FLUX_1_SCHNELL;
        assert_eq!(steps(flux, "low"), Some(("steps", 2)));
        assert_eq!(steps(flux, "medium"), Some(("steps", 4)));
        assert_eq!(steps(flux, "high"), Some(("steps", 8)));
        assert_eq!(steps(&models::PHOENIX_1_0, "low"), Some(("num_steps", 13)));
        assert_eq!(steps(&models::PHOENIX_1_0, "high"), Some(("num_steps", 50)));
        // Two names for one setting: num_steps is chosen.
        assert_eq!(
            steps(&models::LUCID_ORIGIN, "medium"),
            Some(("num_steps", 20))
        );
    }

    #[test]
    fn every_model_gets_steps_within_its_range() {
        for spec in models::ALL {
            for level in [Quality::Low, Quality::Medium, Quality::High] {
                if let Some((field, steps)) = quality_steps(spec, level) {
                    let FieldKind::Integer { min, max, .. } = field.kind else {
                        panic!("{}: not an integer", spec.id)
                    };
                    assert!((min..=max).contains(&steps), "{} {level:?}", spec.id);
                }
            }
        }
    }

    #[test]
    fn fixed_steps_stay_fixed_and_models_without_steps_take_none() {
        let fixed = ModelSpec {
            fields: &[FieldSpec {
                name: "steps",
                kind: FieldKind::Integer {
                    min: 4,
                    max: 4,
                    default: crate::model::IntegerDefault::Value(4),
                    round_to_multiple: None,
                },
                required: false,
                description: "",
            }],
            ..models::FLUX_1_SCHNELL
        };
        let none = ModelSpec {
            fields: &[],
            ..models::FLUX_1_SCHNELL
        };
        for level in ["low", "medium", "high"] {
            assert_eq!(steps(&fixed, level), Some(("steps", 4)), "{level}");
            assert_eq!(steps(&none, level), None, "{level}");
        }
    }

    /// docs/openai.md's table says what the code does, model by model.
    #[test]
    fn the_quality_table_in_the_docs_is_the_mapping() {
        let doc = include_str!("../../../docs/openai.md");
        for spec in models::ALL {
            let Some((field, _)) = quality_steps(spec, Quality::High) else {
                continue;
            };
            let FieldKind::Integer { min, max, .. } = field.kind else {
                continue;
            };
            let [low, medium, high] = [Quality::Low, Quality::Medium, Quality::High]
                .map(|q| quality_steps(spec, q).map_or(0, |(_, steps)| steps));
            let row = format!(
                "| `{}` | `{}` {min}–{max} | {low} | {medium} | {high} |",
                spec.id, field.name
            );
            assert!(doc.contains(&row), "docs/openai.md lacks the row {row}");
        }
    }

    #[test]
    fn an_unknown_quality_lists_the_values() {
        let err = Quality::parse("ultra").unwrap_err();
        assert!(err.contains("\"low\"") && err.contains("\"hd\"") && err.contains("ultra"));
    }

    #[test]
    fn transparent_is_refused_with_its_reason() {
        assert!(check_background("opaque").is_ok());
        assert!(check_background("auto").is_ok());
        let (rule, why) = check_background("transparent").unwrap_err();
        assert_eq!(rule, Rule::Unsupported);
        assert!(why.contains("opaque images only"), "{why}");
        assert_eq!(check_background("clear").unwrap_err().0, Rule::Type);
    }

    #[test]
    fn only_full_output_compression_is_honoured() {
        assert!(check_output_compression(100.0).is_ok());
        assert_eq!(
            check_output_compression(80.0).unwrap_err().0,
            Rule::Unsupported
        );
        for bad in [101.0, -1.0, 99.5] {
            assert_eq!(check_output_compression(bad).unwrap_err().0, Rule::Type);
        }
    }

    #[test]
    fn partial_images_are_zero_to_three() {
        assert_eq!(check_partial_images(2.0), Ok(2));
        assert!(check_partial_images(4.0).is_err());
        assert!(check_partial_images(1.5).is_err());
    }

    #[test]
    fn accepted_fields_still_check_their_values() {
        let values = |name| ACCEPTED.iter().find(|(n, _)| *n == name).unwrap().1;
        assert!(check_accepted(values("moderation"), "low").is_ok());
        assert!(check_accepted(values("moderation"), "none").is_err());
        assert!(check_accepted(values("style"), "vivid").is_ok());
        assert!(check_accepted(values("input_fidelity"), "medium").is_err());
        assert!(check_accepted(values("user"), "anyone").is_ok());
    }
}
