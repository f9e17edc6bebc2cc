//! The prediction routes in `/openapi.json`: written as JSON (`openapi.json`, beside this file).

use serde_json::Value;

const PARTS: &str = include_str!("openapi.json");

/// Adds the prediction routes, their parameters, schemas and responses to `doc`.
pub fn add_to(doc: &mut Value) {
    // A test parses the parts; were they ever broken, nothing would be added, never a panic.
    let Ok(Value::Object(parts)) = serde_json::from_str::<Value>(PARTS) else {
        return;
    };
    for section in ["paths", "parameters", "schemas", "responses"] {
        let target = if section == "paths" {
            "/paths".to_owned()
        } else {
            format!("/components/{section}")
        };
        if doc.pointer(&target).is_none() {
            if let Some(components) = doc.pointer_mut("/components") {
                components[section] = Value::Object(serde_json::Map::new());
            }
        }
        if let (Some(Value::Object(from)), Some(Value::Object(into))) =
            (parts.get(section), doc.pointer_mut(&target))
        {
            into.extend(from.clone());
        }
    }
}

#[cfg(test)]
mod tests {
    use crate::models;
    use crate::openapi::{document, DocOptions};
    use crate::Policy;

    #[test]
    fn the_prediction_routes_are_documented() {
        let parts: serde_json::Value = serde_json::from_str(super::PARTS).unwrap();
        assert!(parts["paths"].is_object());
        let doc = document(&DocOptions {
            models: models::ALL,
            policy: &Policy::default(),
            anonymous: false,
        });
        for (path, method) in [
            ("/v1/predictions", "post"),
            ("/v1/models/{owner}/{name}/predictions", "post"),
            ("/v1/predictions/{id}", "get"),
            ("/v1/predictions/{id}/cancel", "post"),
        ] {
            assert!(doc["paths"][path][method].is_object(), "{path}");
        }
        assert!(doc["components"]["schemas"]["Prediction"].is_object());
        assert!(doc["components"]["parameters"]["PreferWait"].is_object());
        // Every reference of the parts resolves in the document.
        let text = super::PARTS;
        for piece in text.split("\"$ref\": \"#/").skip(1) {
            let pointer = format!("/{}", piece.split('"').next().unwrap());
            assert!(doc.pointer(&pointer).is_some(), "{pointer}");
        }
    }
}
