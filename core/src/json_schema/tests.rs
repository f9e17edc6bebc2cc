//! The published schemas must be valid JSON Schema and must agree with the validator: every
//! sample body below is run through both, and the verdicts must match (where JSON Schema can say
//! the rule at all: image contents and sizes are beyond it, so samples use whole images).

use serde_json::{json, Value};

use super::{catalog, input_schema, BodyShape};
use crate::models::{self, FLUX_1_SCHNELL, SDXL_LIGHTNING};
use crate::{validate_json, Policy};

const PNG_256: &[u8] = include_bytes!("../../../tests/fixtures/photo-256.png");
const MASK_256: &[u8] = include_bytes!("../../../tests/fixtures/mask-256.png");

/// Bodies near every bound of every field of `spec`, valid and not.
fn samples(spec: &crate::ModelSpec) -> Vec<Value> {
    let mut base = json!({"prompt": "a quiet harbour"});
    let images = json!({"image": PNG_256, "mask": MASK_256});
    // Models that require images get them in every sample, so other rules are what is tested.
    let needs_images = spec
        .rules
        .iter()
        .any(|r| matches!(r, crate::model::CrossRule::RequiredAnyOf(_)));
    if needs_images {
        base["image"] = images["image"].clone();
        base["mask"] = images["mask"].clone();
    }
    let mut out = vec![base.clone(), json!({}), json!({"prompt": ""})];
    let with = |name: &str, v: Value| {
        let mut b = base.clone();
        b[name] = v;
        b
    };
    out.push(with("not_a_field", json!(1)));
    if needs_images {
        let mut b = base.clone();
        b.as_object_mut().unwrap().remove("image");
        out.push(b);
        let mut b = base.clone();
        b.as_object_mut().unwrap().remove("mask");
        out.push(b);
    }
    for field in spec.fields {
        let name = field.name;
        match field.kind {
            crate::model::FieldKind::Text { .. } => {
                out.push(with(name, json!("x")));
                out.push(with(name, json!(7)));
                out.push(with(name, json!("y".repeat(2049))));
            }
            crate::model::FieldKind::Integer { min, max, .. } => {
                for v in [min - 1, min, max, max + 1] {
                    out.push(with(name, json!(v)));
                }
                out.push(with(name, json!(1.5)));
                out.push(with(name, json!("12")));
            }
            crate::model::FieldKind::Number { min, max, .. } => {
                for v in [min, max].into_iter().flatten() {
                    out.push(with(name, json!(v)));
                    out.push(with(name, json!(v - 0.25)));
                    out.push(with(name, json!(v + 0.25)));
                }
                out.push(with(name, json!(null)));
            }
            crate::model::FieldKind::ImageBytes => {
                out.push(with(name, json!(PNG_256)));
                out.push(with(name, json!([256])));
                out.push(with(name, json!("nope")));
            }
            crate::model::FieldKind::ImageBase64 { .. } => {
                let b64 =
                    base64::Engine::encode(&base64::engine::general_purpose::STANDARD, PNG_256);
                let mut b = base.clone();
                b.as_object_mut().unwrap().remove("image");
                b[name] = json!(b64);
                out.push(b.clone());
                b["image"] = json!(PNG_256);
                out.push(b);
            }
            crate::model::FieldKind::ImageList { into } => {
                let b64 =
                    base64::Engine::encode(&base64::engine::general_purpose::STANDARD, PNG_256);
                for count in [0, 1, into.len(), into.len() + 1] {
                    out.push(with(name, json!(vec![b64.clone(); count])));
                }
                out.push(with(name, json!(b64)));
                out.push(with(name, json!([7])));
                let mut mixed = with(name, json!([b64]));
                mixed[into[0]] = json!(PNG_256);
                out.push(mixed);
            }
        }
    }
    out
}

#[test]
fn every_models_schema_agrees_with_the_validator() {
    let policy = Policy::default();
    for spec in models::ALL {
        let schema = input_schema(spec, &policy, BodyShape::Json);
        jsonschema::draft202012::meta::validate(&schema)
            .unwrap_or_else(|e| panic!("{}: not valid JSON Schema: {e}", spec.id));
        let validator = jsonschema::draft202012::new(&schema).unwrap();
        let mut refused = 0;
        for body in samples(spec) {
            let by_schema = validator.is_valid(&body);
            let text = serde_json::to_vec(&body).unwrap();
            let ours = validate_json(spec, &text, policy, &mut || 1);
            // Unknown fields are accepted (and named) under the default policy unless the table
            // refuses them, exactly what `additionalProperties` says.
            assert_eq!(
                by_schema,
                ours.is_ok(),
                "{}: schema says {by_schema}, validator says {ours:?} for {}",
                spec.id,
                &body.to_string()[..body.to_string().len().min(200)]
            );
            refused += usize::from(!by_schema);
        }
        assert!(
            refused > 5,
            "{}: the samples must include refusals",
            spec.id
        );
    }
}

#[test]
fn schemas_carry_bounds_defaults_and_operator_limits() {
    let policy = Policy {
        max_prompt_chars: 500,
        ..Policy::default()
    };
    let s = input_schema(&SDXL_LIGHTNING, &policy, BodyShape::Json);
    assert_eq!(s["required"], json!(["prompt"]));
    assert_eq!(s["properties"]["prompt"]["maxLength"], json!(500));
    assert_eq!(s["properties"]["num_steps"]["maximum"], json!(20));
    assert_eq!(s["properties"]["num_steps"]["default"], json!(20));
    assert_eq!(s["properties"]["guidance"]["default"], json!(7.5));
    assert_eq!(s["properties"]["image"]["type"], json!("array"));
    assert!(s.get("additionalProperties").is_none());

    let m = input_schema(&SDXL_LIGHTNING, &policy, BodyShape::Multipart);
    assert_eq!(
        m["properties"]["image"]["contentMediaType"],
        json!("image/*")
    );

    let f = input_schema(&FLUX_1_SCHNELL, &Policy::default(), BodyShape::Json);
    assert_eq!(f["additionalProperties"], json!(false));
    assert_eq!(f["properties"]["prompt"]["maxLength"], json!(2048));
    assert_eq!(f["properties"]["steps"]["default"], json!(4));
}

#[test]
fn the_catalog_lists_every_model_in_order() {
    let c = catalog(models::ALL, &Policy::default());
    let ids: Vec<&str> = c["models"]
        .as_array()
        .unwrap()
        .iter()
        .map(|m| m["id"].as_str().unwrap())
        .collect();
    let expected: Vec<&str> = models::ALL.iter().map(|m| m.id).collect();
    assert_eq!(ids, expected);
    assert_eq!(c["models"][0]["output"], json!("image/png"));
    assert_eq!(c["models"][5]["output"], json!("application/json"));
}
