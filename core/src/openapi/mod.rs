//! `GET /openapi.json`: an OpenAPI 3.1 document of every route, generated from the model tables
//! (through [`crate::json_schema`]) so it documents exactly what is enforced.

use serde_json::{json, Value};

use crate::json_schema::{input_schema, BodyShape};
use crate::model::{FieldKind, ModelSpec, Output};
use crate::Policy;

/// What the document depends on besides the tables.
#[derive(Debug, Clone, Copy)]
pub struct DocOptions<'a> {
    pub models: &'a [&'a ModelSpec],
    pub policy: &'a Policy,
    /// True when requests without a token are served (`ALLOW_ANONYMOUS`).
    pub anonymous: bool,
}

/// The component name of a model's input schema: `bytedance.stable-diffusion-xl-lightning`.
#[must_use]
pub fn schema_name(spec: &ModelSpec) -> String {
    let id = spec.id.strip_prefix("@cf/").unwrap_or(spec.id);
    id.replace('/', ".")
}

/// The parts of the document that do not depend on the tables: written as JSON, not built by
/// code (building them with `json!` cost ~45 KB of Wasm).
const SKELETON: &str = include_str!("skeleton.json");

/// The whole document.
#[must_use]
pub fn document(options: &DocOptions<'_>) -> Value {
    // A test parses the skeleton; were it ever broken, the document would be `null`, not a panic.
    // `from_slice`, as the Worker's other JSON: `from_str` would be a second parser in the bundle.
    let mut doc: Value = serde_json::from_slice(SKELETON.as_bytes()).unwrap_or_default();
    doc["info"]["version"] = json!(env!("CARGO_PKG_VERSION"));
    doc["security"] = if options.anonymous {
        json!([{"bearer": []}, {}])
    } else {
        json!([{"bearer": []}])
    };
    for (status, description) in ERROR_STATUSES {
        doc["components"]["responses"][format!("E{status}")] = json!({
            "description": description,
            "content": {"application/json": {"schema": schema_ref("Envelope")}},
        });
    }
    add_errors(&mut doc["paths"]["/images/{id}"]["get"]["responses"]);
    for spec in options.models {
        let name = schema_name(spec);
        let schemas = &mut doc["components"]["schemas"];
        schemas[&name] = input_schema(spec, options.policy, BodyShape::Json);
        schemas[format!("{name}.multipart")] =
            input_schema(spec, options.policy, BodyShape::Multipart);
        let paths = &mut doc["paths"];
        paths[format!("/ai/run/{}", spec.id)] = gateway_path(spec, &name, options.policy);
        paths[format!("/client/v4/accounts/{{account_id}}/ai/run/{}", spec.id)] =
            rest_path(spec, &name);
    }
    if let Some(default) = options.models.first() {
        let mut root = gateway_path(default, &schema_name(default), options.policy);
        root["description"] = json!(format!(
            "The default model, {}. In a browser (`Accept: text/html`, no query) this is the playground page.",
            default.id
        ));
        // The same operations as the default model's own route, so ids of their own: operation
        // ids are unique within a document (OpenAPI 3.1 §4.8.10.1), and generators name methods
        // by them.
        root["post"]["operationId"] = json!("run.default");
        root["get"]["operationId"] = json!("query.default");
        doc["paths"]["/"] = root;
    }
    crate::openai::openapi::add_to(&mut doc, options.models);
    crate::jobs::openapi::add_to(&mut doc);
    doc
}

fn schema_ref(name: &str) -> Value {
    json!({"$ref": format!("#/components/schemas/{name}")})
}

fn response_ref(name: &str) -> Value {
    json!({"$ref": format!("#/components/responses/{name}")})
}

/// The statuses every generating route can answer besides success.
const ERROR_STATUSES: [(&str, &str); 11] = [
    ("400", "The request breaks the model's input schema (5006, every violation listed), names no such model (5007), or its body is unreadable (3003)"),
    ("401", "Missing or unknown API token (10000)"),
    ("404", "No such route (7000)"),
    ("405", "Method not allowed on this path (7001)"),
    ("413", "Body over MAX_BODY_BYTES (3006)"),
    ("415", "A body in a media type the route does not take (3004)"),
    ("429", "Over the rate limit (3021) or the model's own limit; see Retry-After"),
    ("500", "The gateway is misconfigured"),
    ("502", "The model answered something that is not a whole image (3043)"),
    ("503", "The model is out of capacity (3040); see Retry-After"),
    ("504", "The model did not answer within AI_TIMEOUT_MS (3007)"),
];

fn add_errors(responses: &mut Value) {
    for (status, _) in ERROR_STATUSES {
        responses[status] = response_ref(&format!("E{status}"));
    }
}

/// `/ai/run/<model>` (and `/`): bytes by default, the JSON envelope on `Accept: application/json`.
fn gateway_path(spec: &ModelSpec, name: &str, policy: &Policy) -> Value {
    let mut responses = json!({
        "200": response_ref("ImageOrEnvelope"),
        "304": response_ref("NotModified"),
    });
    add_errors(&mut responses);
    json!({
        "summary": spec.summary,
        "post": {
            "operationId": format!("run.{name}"),
            "summary": format!("Generate with {}", spec.id),
            "requestBody": {
                "required": true,
                "content": {
                    "application/json": {"schema": schema_ref(name)},
                    "multipart/form-data": {"schema": schema_ref(&format!("{name}.multipart"))},
                    "application/x-www-form-urlencoded": {"schema": schema_ref(name)},
                },
            },
            "responses": responses,
        },
        "get": {
            "operationId": format!("query.{name}"),
            "summary": format!("Generate with {} from a query string (byte arrays must be POSTed)", spec.id),
            "parameters": query_parameters(spec, policy),
            "responses": responses,
        },
    })
}

fn query_parameters(spec: &ModelSpec, policy: &Policy) -> Value {
    let schema = input_schema(spec, policy, BodyShape::Json);
    let params: Vec<Value> = spec
        .fields
        .iter()
        .filter(|f| !matches!(f.kind, FieldKind::ImageBytes))
        .map(|f| {
            json!({
                "name": f.name,
                "in": "query",
                "required": f.required,
                "schema": schema["properties"][f.name],
            })
        })
        .collect();
    Value::Array(params)
}

/// The Workers AI REST API's own route: raw bytes for image-stream models, the envelope with
/// `result.image` for JSON models, whatever `Accept` says (the official SDK always sends
/// `Accept: application/json`).
fn rest_path(spec: &ModelSpec, name: &str) -> Value {
    let success = match spec.output {
        Output::ImageStream { .. } => "Image",
        Output::JsonImageBase64 => "RestEnvelope",
    };
    let mut responses = json!({ "200": response_ref(success) });
    add_errors(&mut responses);
    json!({
        "post": {
            "operationId": format!("rest.{name}"),
            "summary": format!("Workers AI REST API drop-in for {}", spec.id),
            "parameters": [{"name": "account_id", "in": "path", "required": true, "schema": {"type": "string"}, "description": "Any account id; the gateway serves one account"}],
            "requestBody": {
                "required": true,
                "content": {"application/json": {"schema": schema_ref(name)}},
            },
            "responses": responses,
        },
    })
}

#[cfg(test)]
mod tests;
