//! `GET /openapi.json`: an OpenAPI 3.1 document of every route, generated from the model tables
//! (through [`crate::json_schema`]) so it documents exactly what is enforced.

use serde_json::{json, Map, Value};

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

/// The whole document.
#[must_use]
pub fn document(options: &DocOptions<'_>) -> Value {
    let mut paths = Map::new();
    let mut schemas = Map::new();
    for spec in options.models {
        let name = schema_name(spec);
        schemas.insert(
            name.clone(),
            input_schema(spec, options.policy, BodyShape::Json),
        );
        schemas.insert(
            format!("{name}.multipart"),
            input_schema(spec, options.policy, BodyShape::Multipart),
        );
        paths.insert(format!("/ai/run/{}", spec.id), gateway_path(spec, &name));
        paths.insert(
            format!("/client/v4/accounts/{{account_id}}/ai/run/{}", spec.id),
            rest_path(spec, &name),
        );
    }
    if let Some(default) = options.models.first() {
        let mut root = gateway_path(default, &schema_name(default));
        root["description"] = json!(format!(
            "The default model, {}. In a browser (`Accept: text/html`, no query) this is the playground page.",
            default.id
        ));
        paths.insert("/".into(), root);
    }
    paths.insert("/images/{key}".into(), permalink_path());
    paths.insert("/models".into(), models_path());
    paths.insert(
        "/openapi.json".into(),
        json!({"get": {
            "operationId": "openapi",
            "summary": "This document",
            "security": [],
            "responses": {"200": {"description": "OpenAPI 3.1", "content": {"application/json": {"schema": {"type": "object"}}}}},
        }}),
    );
    schemas.insert("Envelope".into(), envelope_schema());
    schemas.insert("ImageResult".into(), image_result_schema());

    let security = if options.anonymous {
        json!([{"bearer": []}, {}])
    } else {
        json!([{"bearer": []}])
    };
    json!({
        "openapi": "3.1.0",
        "info": {
            "title": "Workers AI image gateway",
            "version": env!("CARGO_PKG_VERSION"),
            "description": "A validated, caching gateway in front of the Workers AI text-to-image models. Every refusal is a Cloudflare v4 envelope naming each offending field by JSON pointer, rule and limit.",
        },
        "servers": [{"url": "/"}],
        "security": security,
        "paths": paths,
        "components": {
            "schemas": schemas,
            "responses": error_responses(),
            "securitySchemes": {"bearer": {"type": "http", "scheme": "bearer", "description": "One of the tokens in API_TOKENS"}},
        },
    })
}

fn schema_ref(name: &str) -> Value {
    json!({"$ref": format!("#/components/schemas/{name}")})
}

/// The statuses every generating route can answer besides success.
const ERROR_STATUSES: [(&str, &str); 11] = [
    ("400", "The request breaks the model's input schema (5006, every violation listed) or its body is unreadable (3003)"),
    ("401", "Missing or unknown API token (10000)"),
    ("404", "No such route (7000)"),
    ("413", "Body over MAX_BODY_BYTES (3006)"),
    ("415", "A body in a media type the route does not take (3004)"),
    ("429", "Over the rate limit (3021) or the model's own limit; see Retry-After"),
    ("500", "The gateway is misconfigured"),
    ("502", "The model answered something that is not a whole image (3043)"),
    ("503", "The model is out of capacity (3040); see Retry-After"),
    ("504", "The model did not answer within AI_TIMEOUT_MS (3007)"),
    ("405", "Method not allowed on this path (7001)"),
];

fn error_responses() -> Value {
    let mut out = Map::new();
    for (status, description) in ERROR_STATUSES {
        out.insert(
            format!("E{status}"),
            json!({
                "description": description,
                "content": {"application/json": {"schema": schema_ref("Envelope")}},
            }),
        );
    }
    Value::Object(out)
}

fn with_errors(mut responses: Map<String, Value>) -> Value {
    for (status, _) in ERROR_STATUSES {
        responses.insert(
            status.into(),
            json!({"$ref": format!("#/components/responses/E{status}")}),
        );
    }
    Value::Object(responses)
}

fn image_headers() -> Value {
    json!({
        "ETag": {"description": "The cache key, quoted; send it back in If-None-Match", "schema": {"type": "string"}},
        "x-seed": {"description": "The seed the image was made with (drawn when none was sent)", "schema": {"type": "string"}},
        "x-cache": {"description": "HIT, MISS or BYPASS", "schema": {"type": "string", "enum": ["HIT", "MISS", "BYPASS"]}},
        "x-cache-tier": {"description": "On hits: memory, cache-api, r2 or in-flight", "schema": {"type": "string"}},
        "x-ignored-fields": {"description": "Fields the model does not have, accepted and not forwarded", "schema": {"type": "string"}},
    })
}

fn image_content() -> Value {
    let bytes = |t: &str| json!({"schema": {"type": "string", "contentMediaType": t}});
    json!({
        "image/png": bytes("image/png"),
        "image/jpeg": bytes("image/jpeg"),
        "image/webp": bytes("image/webp"),
    })
}

/// `/ai/run/<model>` (and `/`): bytes by default, the JSON envelope on `Accept: application/json`.
fn gateway_path(spec: &ModelSpec, name: &str) -> Value {
    let mut content = image_content();
    content["application/json"] = json!({"schema": {
        "allOf": [schema_ref("Envelope"), {"properties": {"result": schema_ref("ImageResult")}}],
    }});
    let mut ok = Map::new();
    ok.insert(
        "200".into(),
        json!({
            "description": "The image, in the type its bytes are (whatever the model's docs claim); or, with Accept: application/json, the envelope with the image in base64",
            "headers": image_headers(),
            "content": content,
        }),
    );
    ok.insert(
        "304".into(),
        json!({"description": "If-None-Match named this exact image"}),
    );
    let responses = with_errors(ok);
    let query = query_parameters(spec);
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
                },
            },
            "responses": responses,
        },
        "get": {
            "operationId": format!("query.{name}"),
            "summary": format!("Generate with {} from a query string (images must be POSTed)", spec.id),
            "parameters": query,
            "responses": responses,
        },
    })
}

fn query_parameters(spec: &ModelSpec) -> Value {
    let schema = input_schema(spec, &Policy::default(), BodyShape::Json);
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
    let mut ok = Map::new();
    let success = match spec.output {
        Output::ImageStream { .. } => json!({
            "description": "The image bytes, as the REST API answers",
            "headers": image_headers(),
            "content": image_content(),
        }),
        Output::JsonImageBase64 => json!({
            "description": "The v4 envelope with the image in base64, as the REST API answers",
            "headers": image_headers(),
            "content": {"application/json": {"schema": {
                "allOf": [schema_ref("Envelope"), {"properties": {"result": {
                    "type": "object",
                    "properties": {"image": {"type": "string", "contentEncoding": "base64"}},
                    "required": ["image"],
                }}}],
            }}},
        }),
    };
    ok.insert("200".into(), success);
    json!({
        "post": {
            "operationId": format!("rest.{name}"),
            "summary": format!("Workers AI REST API drop-in for {}", spec.id),
            "parameters": [{"name": "account_id", "in": "path", "required": true, "schema": {"type": "string"}, "description": "Any account id; the gateway serves one account"}],
            "requestBody": {
                "required": true,
                "content": {"application/json": {"schema": schema_ref(name)}},
            },
            "responses": with_errors(ok),
        },
    })
}

fn permalink_path() -> Value {
    let mut ok = Map::new();
    ok.insert(
        "200".into(),
        json!({"description": "A stored image", "headers": image_headers(), "content": image_content()}),
    );
    ok.insert(
        "304".into(),
        json!({"description": "If-None-Match named this image"}),
    );
    json!({"get": {
        "operationId": "image",
        "summary": "An image already generated, by its cache key (the ETag of its response)",
        "security": [],
        "parameters": [{"name": "key", "in": "path", "required": true, "schema": {"type": "string", "pattern": "^[0-9a-f]{64}$"}}],
        "responses": with_errors(ok),
    }})
}

fn models_path() -> Value {
    json!({"get": {
        "operationId": "models",
        "summary": "Every model served, with its input schema",
        "security": [],
        "responses": {"200": {"description": "The catalog", "content": {"application/json": {"schema": {
            "type": "object",
            "properties": {"models": {"type": "array", "items": {
                "type": "object",
                "properties": {
                    "id": {"type": "string"},
                    "summary": {"type": "string"},
                    "output": {"type": "string"},
                    "input_schema": {"type": "object"},
                },
                "required": ["id", "summary", "output", "input_schema"],
            }}},
            "required": ["models"],
        }}}}},
    }})
}

fn envelope_schema() -> Value {
    json!({
        "type": "object",
        "description": "The Cloudflare v4 envelope",
        "properties": {
            "success": {"type": "boolean"},
            "errors": {"type": "array", "items": {
                "type": "object",
                "properties": {
                    "code": {"type": "integer", "description": "Workers AI / Cloudflare API code, e.g. 5006 for schema violations"},
                    "message": {"type": "string"},
                    "path": {"type": "string", "description": "JSON pointer of the offending value"},
                    "rule": {"type": "string", "description": "The rule broken, e.g. maximum, required, unknown_field"},
                    "limit": {"description": "The bound the rule sets"},
                },
                "required": ["code", "message"],
            }},
            "messages": {"type": "array", "items": {"type": "string"}},
            "result": {},
            "request_id": {"type": "string"},
        },
        "required": ["success", "errors", "messages", "result"],
    })
}

fn image_result_schema() -> Value {
    json!({
        "type": "object",
        "properties": {
            "image": {"type": "string", "contentEncoding": "base64"},
            "content_type": {"type": "string", "enum": ["image/png", "image/jpeg", "image/webp"]},
            "seed": {"type": ["integer", "null"]},
        },
        "required": ["image", "content_type", "seed"],
    })
}

#[cfg(test)]
mod tests;
