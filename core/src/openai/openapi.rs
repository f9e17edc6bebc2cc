//! The OpenAI routes in `/openapi.json`: written as JSON (`openapi.json`, beside this file), with
//! the model ids filled in from the tables.

use serde_json::{json, Value};

use crate::model::ModelSpec;

const PARTS: &str = include_str!("openapi.json");

/// Adds the OpenAI routes, their schemas and responses to `doc`.
pub fn add_to(doc: &mut Value, models: &[&ModelSpec]) {
    // A test parses the parts; were they ever broken, nothing would be added, never a panic.
    // `from_slice`, as the Worker's other JSON: `from_str` would be a second parser in the bundle.
    let Ok(Value::Object(parts)) = serde_json::from_slice::<Value>(PARTS.as_bytes()) else {
        return;
    };
    for (section, target) in [
        ("paths", "/paths"),
        ("schemas", "/components/schemas"),
        ("responses", "/components/responses"),
    ] {
        if let (Some(Value::Object(from)), Some(Value::Object(into))) =
            (parts.get(section), doc.pointer_mut(target))
        {
            into.extend(from.clone());
        }
    }
    let ids: Vec<&str> = models.iter().map(|m| m.id).collect();
    if let Some(id) = doc.pointer_mut("/components/schemas/OpenAiModelId") {
        id["enum"] = json!(ids);
        if let Some(first) = ids.first() {
            id["default"] = json!(first);
        }
    }
}

#[cfg(test)]
mod tests {
    use crate::models;
    use crate::openapi::{document, DocOptions};
    use crate::Policy;

    #[test]
    fn the_openai_routes_are_documented() {
        let parts: serde_json::Value = serde_json::from_str(super::PARTS).unwrap();
        assert!(parts["paths"].is_object());
        let doc = document(&DocOptions {
            models: models::ALL,
            policy: &Policy::default(),
            anonymous: false,
        });
        for path in [
            "/v1/images/generations",
            "/v1/images/edits",
            "/v1/models",
            "/v1/models/{model}",
        ] {
            assert!(doc["paths"][path].is_object(), "{path}");
        }
        let ids = &doc["components"]["schemas"]["OpenAiModelId"]["enum"];
        assert_eq!(ids.as_array().unwrap().len(), models::ALL.len());
        // The native documents are still there.
        assert!(doc["paths"]["/models"].is_object());
    }
}
