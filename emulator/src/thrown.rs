//! What the stand-in throws, shaped as the real binding throws it (workerd's `ai-api.ts`): the
//! service's refusals as `AiError` with the message `"<code>: <reason>"`, what the binding
//! refuses itself, before any request leaves, as `AiInternalError` with the bare sentence.

use sdxl_core::{ApiError, Rule};

/// A thrown error's `name` and `message`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Thrown {
    pub name: &'static str,
    pub message: String,
}

impl Thrown {
    /// A refusal of the service, with its Workers AI code.
    #[must_use]
    pub fn service(code: u32, reason: &str) -> Thrown {
        Thrown {
            name: "AiError",
            message: format!("{code}: {reason}"),
        }
    }

    /// A refusal of the binding itself, before any request (no code: the service never saw it).
    #[must_use]
    pub fn binding(message: impl Into<String>) -> Thrown {
        Thrown {
            name: "AiInternalError",
            message: message.into(),
        }
    }

    /// Inputs the model's table refuses: 5006, the first violation in the service's wording.
    #[must_use]
    pub fn invalid(error: &ApiError) -> Thrown {
        Thrown::service(5006, &format!("Error: {}", first_reason(error)))
    }
}

fn first_reason(error: &ApiError) -> String {
    match error {
        // The real API's wording for fields a closed schema does not have.
        ApiError::Invalid(violations) => violations
            .first()
            .map(|v| match v.rule {
                Rule::UnknownField => format!(
                    "Additional or unevaluated properties '{}' at '/' not allowed",
                    v.path
                ),
                _ => v.message.clone(),
            })
            .unwrap_or_default(),
        other => other.to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use sdxl_core::{models, validate_json, Policy};

    #[test]
    fn a_closed_schemas_unknown_field_reads_as_the_service_words_it() {
        let refused = validate_json(
            &models::FLUX_1_SCHNELL,
            br#"{"prompt":"a","seed":1}"#,
            Policy::default(),
            &mut || 1,
        )
        .unwrap_err();
        assert_eq!(
            Thrown::invalid(&refused),
            Thrown {
                name: "AiError",
                message: "5006: Error: Additional or unevaluated properties '/seed' at '/' not \
                          allowed"
                    .into()
            }
        );
        assert_eq!(Thrown::binding("x").name, "AiInternalError");
    }
}
