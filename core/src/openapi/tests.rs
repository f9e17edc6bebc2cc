//! Structure checks of the document; its validity against the OpenAPI 3.1 schema is checked by
//! a real OpenAPI validator in the end-to-end tests (tests/e2e/openapi.test.mjs).

use serde_json::Value;

use super::{document, schema_name, DocOptions};
use crate::models;
use crate::Policy;

fn doc(anonymous: bool) -> Value {
    document(&DocOptions {
        models: models::ALL,
        policy: &Policy::default(),
        anonymous,
    })
}

#[test]
fn every_model_has_its_routes_and_schemas() {
    let d = doc(true);
    assert_eq!(d["openapi"], "3.1.0");
    for spec in models::ALL {
        let name = schema_name(spec);
        assert!(d["components"]["schemas"][&name].is_object(), "{name}");
        let run = &d["paths"][format!("/ai/run/{}", spec.id)];
        assert_eq!(
            run["post"]["requestBody"]["content"]["application/json"]["schema"]["$ref"],
            format!("#/components/schemas/{name}")
        );
        let rest = &d["paths"][format!("/client/v4/accounts/{{account_id}}/ai/run/{}", spec.id)];
        assert!(rest["post"]["responses"]["200"].is_object(), "{}", spec.id);
    }
    assert!(d["paths"]["/"]["post"].is_object());
}

#[test]
fn every_reference_resolves() {
    let d = doc(false);
    let mut refs = Vec::new();
    collect_refs(&d, &mut refs);
    assert!(refs.len() > 50);
    for r in refs {
        let pointer = r.strip_prefix('#').expect("local reference");
        assert!(d.pointer(pointer).is_some(), "dangling {r}");
    }
}

#[test]
fn operation_ids_are_unique() {
    for anonymous in [true, false] {
        let d = doc(anonymous);
        let mut ids = Vec::new();
        for (path, item) in d["paths"].as_object().unwrap() {
            for (method, operation) in item.as_object().unwrap() {
                if let Some(id) = operation.get("operationId") {
                    ids.push((id.as_str().unwrap().to_owned(), format!("{method} {path}")));
                }
            }
        }
        ids.sort();
        assert!(ids.len() > 2 * models::ALL.len());
        for pair in ids.windows(2) {
            assert_ne!(pair[0].0, pair[1].0, "{} and {}", pair[0].1, pair[1].1);
        }
    }
}

#[test]
fn security_follows_allow_anonymous() {
    assert_eq!(doc(true)["security"].as_array().unwrap().len(), 2);
    assert_eq!(doc(false)["security"].as_array().unwrap().len(), 1);
}

#[test]
fn component_names_are_what_openapi_allows() {
    for spec in models::ALL {
        let name = schema_name(spec);
        assert!(
            name.chars()
                .all(|c| c.is_ascii_alphanumeric() || matches!(c, '.' | '-' | '_')),
            "{name}"
        );
    }
}

fn collect_refs(v: &Value, out: &mut Vec<String>) {
    match v {
        Value::Object(map) => {
            for (k, v) in map {
                match (k.as_str(), v) {
                    ("$ref", Value::String(s)) => out.push(s.clone()),
                    _ => collect_refs(v, out),
                }
            }
        }
        Value::Array(items) => items.iter().for_each(|v| collect_refs(v, out)),
        _ => {}
    }
}

#[test]
fn the_skeleton_is_json() {
    let skeleton: Value = serde_json::from_str(super::SKELETON).unwrap();
    assert_eq!(skeleton["openapi"], "3.1.0");
    assert!(doc(true)["info"]["version"]
        .as_str()
        .is_some_and(|v| !v.is_empty()));
}
