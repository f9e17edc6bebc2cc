//! A model table as JSON Schema (2020-12, the dialect of OpenAPI 3.1): what `/models` and
//! `/openapi.json` publish. Generated from the same table the validator reads, with the
//! operator's limits applied, so the documentation can never drift from what is enforced.

use serde_json::{json, Map, Value};

use crate::model::{AdditionalFields, CrossRule, FieldKind, FieldSpec, IntegerDefault, ModelSpec};
use crate::Policy;

/// How image fields travel in a request body.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum BodyShape {
    /// `application/json`: images as arrays of bytes or base64 strings.
    Json,
    /// `multipart/form-data`: images as files, every other value as text.
    Multipart,
}

/// The input schema of `spec` for bodies of `shape`, with `policy`'s limits.
#[must_use]
pub fn input_schema(spec: &ModelSpec, policy: &Policy, shape: BodyShape) -> Value {
    let mut properties = Map::new();
    for field in spec.fields {
        properties.insert(field.name.to_owned(), field_schema(field, policy, shape));
    }
    let required: Vec<&str> = spec
        .fields
        .iter()
        .filter(|f| f.required)
        .map(|f| f.name)
        .collect();
    let mut schema = json!({
        "type": "object",
        "description": spec.summary,
        "properties": properties,
        "required": required,
    });
    if spec.additional_fields == AdditionalFields::Refused {
        schema["additionalProperties"] = Value::Bool(false);
    }
    let all_of: Vec<Value> = spec.rules.iter().filter_map(rule_schema).collect();
    if !all_of.is_empty() {
        schema["allOf"] = Value::Array(all_of);
    }
    schema
}

fn field_schema(field: &FieldSpec, policy: &Policy, shape: BodyShape) -> Value {
    let mut s = match field.kind {
        FieldKind::Text {
            min_chars,
            max_chars,
        } => {
            let max = max_chars.map_or(policy.max_prompt_chars, |m| m.min(policy.max_prompt_chars));
            json!({"type": "string", "minLength": min_chars, "maxLength": max})
        }
        FieldKind::Integer {
            min, max, default, ..
        } => {
            let mut s = json!({"type": "integer", "minimum": min, "maximum": max});
            if let IntegerDefault::Value(v) = default {
                s["default"] = json!(v);
            }
            s
        }
        FieldKind::Number { min, max, default } => {
            let mut s = json!({"type": "number"});
            if let Some(v) = min {
                s["minimum"] = json!(v);
            }
            if let Some(v) = max {
                s["maximum"] = json!(v);
            }
            if let Some(v) = default {
                s["default"] = json!(v);
            }
            s
        }
        FieldKind::ImageBytes => match shape {
            BodyShape::Json => json!({
                "type": "array",
                "items": {"type": "integer", "minimum": 0, "maximum": 255},
            }),
            BodyShape::Multipart => json!({"type": "string", "contentMediaType": "image/*"}),
        },
        FieldKind::ImageBase64 { .. } => json!({
            "type": "string",
            "contentEncoding": "base64",
            "contentMediaType": "image/*",
        }),
        FieldKind::ImageList { into } => {
            let item = match shape {
                BodyShape::Json => json!({
                    "type": "string",
                    "contentEncoding": "base64",
                    "contentMediaType": "image/*",
                }),
                BodyShape::Multipart => json!({"type": "string", "contentMediaType": "image/*"}),
            };
            json!({"type": "array", "items": item, "maxItems": into.len()})
        }
    };
    s["description"] = Value::String(field.description.to_owned());
    s
}

fn rule_schema(rule: &CrossRule) -> Option<Value> {
    match rule {
        CrossRule::Exclusive(a, b) => Some(json!({"not": {"required": [a, b]}})),
        CrossRule::RequiresOneOf { field, needs } => Some(json!({
            "if": {"required": [field]},
            "then": {"anyOf": needs.iter().map(|n| json!({"required": [n]})).collect::<Vec<_>>()},
        })),
        CrossRule::ExcludesAll { field, others } => Some(json!({
            "if": {"required": [field]},
            "then": {"not": {"anyOf": others.iter().map(|n| json!({"required": [n]})).collect::<Vec<_>>()}},
        })),
        CrossRule::RequiredAnyOf(fields) => Some(json!({
            "anyOf": fields.iter().map(|n| json!({"required": [n]})).collect::<Vec<_>>(),
        })),
        // Beyond JSON Schema: stated in the mask field's description instead.
        CrossRule::SameDimensions { .. } => None,
    }
}

/// What `GET /models` answers: every model with its input schema (JSON bodies).
#[must_use]
pub fn catalog(models: &[&ModelSpec], policy: &Policy) -> Value {
    let models: Vec<Value> = models
        .iter()
        .map(|spec| {
            json!({
                "id": spec.id,
                "summary": spec.summary,
                "output": output_type(spec),
                "planned_deprecation_date": spec.planned_deprecation,
                "input_schema": input_schema(spec, policy, BodyShape::Json),
            })
        })
        .collect();
    json!({ "models": models })
}

/// The content type the model's documentation promises (the bytes decide what is served).
#[must_use]
pub fn output_type(spec: &ModelSpec) -> &'static str {
    match spec.output {
        crate::model::Output::ImageStream { documented } => documented,
        crate::model::Output::JsonImageBase64 => "application/json",
    }
}

// The checks use the `jsonschema` crate, a native-only dev-dependency (see core/Cargo.toml).
#[cfg(all(test, not(target_arch = "wasm32")))]
mod tests;
