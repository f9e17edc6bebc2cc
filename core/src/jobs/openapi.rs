//! The prediction routes in `/openapi.json`: written as JSON (`openapi.json`, beside this file).

use serde_json::Value;

const PARTS: &str = include_str!("openapi.json");

/// Adds the prediction routes, their parameters, schemas and responses to `doc`.
pub fn add_to(doc: &mut Value) {
    // A test parses the parts; were they ever broken, nothing would be added, never a panic.
    // `from_slice`, as the Worker's other JSON: `from_str` would be a second parser in the bundle.
    let Ok(Value::Object(parts)) = serde_json::from_slice::<Value>(PARTS.as_bytes()) else {
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
    use serde_json::json;

    /// The parts land in a document's paths and components (that every reference of the whole
    /// document resolves, and operation ids are unique, is checked in `crate::openapi`'s tests).
    #[test]
    fn the_prediction_routes_are_added() {
        let mut doc = json!({"paths": {}, "components": {"schemas": {}, "responses": {}}});
        super::add_to(&mut doc);
        for (path, method, id) in [
            ("/v1/predictions", "post", "predictions.create"),
            (
                "/v1/models/{owner}/{name}/predictions",
                "post",
                "predictions.createForModel",
            ),
            ("/v1/predictions/{id}", "get", "predictions.get"),
            ("/v1/predictions/{id}/cancel", "post", "predictions.cancel"),
        ] {
            assert_eq!(doc["paths"][path][method]["operationId"], id, "{path}");
        }
        assert!(doc["components"]["schemas"]["Prediction"].is_object());
        assert!(doc["components"]["responses"]["Prediction"].is_object());
        assert!(doc["components"]["parameters"]["PreferWait"].is_object());
    }
}
