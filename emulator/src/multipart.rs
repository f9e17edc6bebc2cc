//! The FLUX.2 family's input, `{multipart: {body, contentType}}`, as the stand-in reads it: the
//! calls refused before the form is read and the words they are refused with, then the form (once
//! the runtime has split it into parts, `multipart_run`) read by the model's table, and what the
//! ledger keeps of it for tests. Pure, so every refusal is tested natively.

use serde::Serialize;
use serde_json::Value;
use sha2::{Digest, Sha256};
use thiserror::Error;

use sdxl_core::model::{FieldKind, Input};
use sdxl_core::parse::media_type_essence;
use sdxl_core::{
    normalize, parse_form, ApiError, FormPart, ModelSpec, Normalized, Policy, RawRequest,
};

use crate::thrown::Thrown;

/// A call whose `inputs` carry a stream, as workerd's binding finds one
/// (`findReadableStreamKeys`): a key whose value is a `ReadableStream` or an object with one as
/// its `body`. The binding sends that stream as the request's body under `contentType`, whatever
/// its key is called, and the other keys beside it.
#[derive(Debug)]
pub struct StreamCall<'a> {
    pub spec: &'static ModelSpec,
    pub stream_keys: &'a [String],
    pub other_keys: &'a [String],
    /// `options.gateway.id` is set: the run would go through AI Gateway.
    pub through_ai_gateway: bool,
    /// `contentType` as the binding reads it: `None` when it is falsy.
    pub content_type: Option<&'a str>,
}

/// Why a multipart call is refused before its form is read, or why its body is not a form.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
pub enum Refusal {
    // The binding's own refusals (workerd's `ai-api.ts`), word for word.
    #[error("Multiple ReadableStreams are not supported. Found streams in keys: [{}]", .0.join(", "))]
    MultipleStreams(Vec<String>),
    #[error("AI Gateway does not support ReadableStreams yet.")]
    ThroughAiGateway,
    #[error("Content-Type is required with ReadableStream inputs")]
    NoContentType,
    // The service's schema, `{multipart: {body: object, contentType: string}}`, in the wording
    // of its other 5006 refusals.
    #[error("Error: required properties at '{at}' are {}", quoted(.missing))]
    Required {
        at: &'static str,
        missing: Vec<&'static str>,
    },
    #[error("Error: Type mismatch of '{path}', '{sent}' not in '{expected}'")]
    TypeMismatch {
        path: &'static str,
        sent: &'static str,
        expected: &'static str,
    },
    #[error("Error: Additional or unevaluated properties '/{0}' at '/' not allowed")]
    Additional(String),
    // What the model could not read (no published wording: the stand-in's own).
    #[error(
        "Error: '/multipart/body' is not a stream; send the form's bytes as a ReadableStream \
         (new Response(form).body)"
    )]
    BodyNotAStream,
    #[error("Error: {0} takes its inputs as a JSON object, not as a multipart body")]
    NotMultipartModel(&'static str),
    #[error("Error: the multipart content type must be multipart/form-data, not '{0}'")]
    NotFormData(String),
    #[error("Error: the multipart content type '{0}' has no boundary")]
    NoBoundary(String),
    #[error("Error: the multipart body is not a valid multipart/form-data body: {0}")]
    Unparsable(String),
}

impl Refusal {
    /// The error the caller sees.
    #[must_use]
    pub fn thrown(&self) -> Thrown {
        match self {
            Refusal::MultipleStreams(_) | Refusal::ThroughAiGateway | Refusal::NoContentType => {
                Thrown::binding(self.to_string())
            }
            _ => Thrown::service(5006, &self.to_string()),
        }
    }
}

fn quoted(names: &[&str]) -> String {
    names
        .iter()
        .map(|n| format!("'{n}'"))
        .collect::<Vec<_>>()
        .join(", ")
}

/// Checks a call with a stream before anything is read; `Ok` holds the content type to parse.
///
/// # Errors
/// What the binding refuses itself, then what the service refuses of the call's shape.
pub fn check_stream_call<'a>(call: &StreamCall<'a>) -> Result<&'a str, Refusal> {
    if call.stream_keys.len() > 1 {
        return Err(Refusal::MultipleStreams(call.stream_keys.to_vec()));
    }
    if call.through_ai_gateway {
        return Err(Refusal::ThroughAiGateway);
    }
    let content_type = call.content_type.ok_or(Refusal::NoContentType)?;
    if call.spec.input != Input::Multipart {
        return Err(Refusal::NotMultipartModel(call.spec.id));
    }
    // The binding sends these beside the stream (`userInputs`); the form is the model's whole
    // input, so the stand-in refuses them rather than guess what the service does with them.
    if let Some(key) = call.other_keys.first() {
        return Err(Refusal::Additional(key.clone()));
    }
    if media_type_essence(content_type) != "multipart/form-data" {
        return Err(Refusal::NotFormData(content_type.to_owned()));
    }
    if boundary_of(content_type).is_none() {
        return Err(Refusal::NoBoundary(content_type.to_owned()));
    }
    Ok(content_type)
}

/// Why the JSON inputs of a multipart model (no stream in them) cannot run: the first rule of its
/// schema they break, or, when they meet it (a `body` that is an object but no stream, such as a
/// `FormData`, which JSON makes `{}`), that the body is no stream.
#[must_use]
pub fn refuse_json_inputs(inputs: &Value) -> Refusal {
    let Some(root) = inputs.as_object() else {
        return mismatch("/", inputs, "object");
    };
    let Some(multipart) = root.get("multipart") else {
        return Refusal::Required {
            at: "/",
            missing: vec!["multipart"],
        };
    };
    if let Some(extra) = root.keys().find(|k| *k != "multipart") {
        return Refusal::Additional(extra.clone());
    }
    let Some(fields) = multipart.as_object() else {
        return mismatch("/multipart", multipart, "object");
    };
    let missing: Vec<&'static str> = ["body", "contentType"]
        .into_iter()
        .filter(|k| !fields.contains_key(*k))
        .collect();
    if !missing.is_empty() {
        return Refusal::Required {
            at: "/multipart",
            missing,
        };
    }
    match (&fields["contentType"], &fields["body"]) {
        (Value::String(_), Value::Object(_)) => Refusal::BodyNotAStream,
        (Value::String(_), body) => mismatch("/multipart/body", body, "object"),
        (content_type, _) => mismatch("/multipart/contentType", content_type, "string"),
    }
}

fn mismatch(path: &'static str, sent: &Value, expected: &'static str) -> Refusal {
    let sent = match sent {
        Value::Null => "null",
        Value::Bool(_) => "boolean",
        Value::Number(_) => "number",
        Value::String(_) => "string",
        Value::Array(_) => "array",
        Value::Object(_) => "object",
    };
    Refusal::TypeMismatch {
        path,
        sent,
        expected,
    }
}

/// The `boundary` parameter of a content type, unquoted, if it has a non-empty one.
#[must_use]
pub fn boundary_of(content_type: &str) -> Option<&str> {
    content_type.split(';').skip(1).find_map(|parameter| {
        let (name, value) = parameter.split_once('=')?;
        let value = value.trim();
        let value = value
            .strip_prefix('"')
            .and_then(|v| v.strip_suffix('"'))
            .unwrap_or(value);
        (name.trim().eq_ignore_ascii_case("boundary") && !value.is_empty()).then_some(value)
    })
}

/// What a multipart run received, as the ledger keeps it (`last_multipart` in
/// `GET /__standin/stats`), so that tests can see what the caller sent.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Received {
    /// `contentType` as sent.
    pub content_type: String,
    /// Whether it carries a non-empty `boundary` parameter.
    pub boundary: bool,
    /// Every part's name, in the order sent.
    pub fields: Vec<String>,
    /// The file parts (the images), in the order sent.
    pub files: Vec<FilePart>,
}

/// One file part of a form.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct FilePart {
    pub field: String,
    /// Its length in bytes.
    pub bytes: usize,
    /// The SHA-256 of its bytes, in lower-case hex.
    pub sha256: String,
}

/// A form read for a model.
#[derive(Debug)]
pub struct Form {
    /// The `prompt` part's text ("" if none): the key the ledger counts the run under.
    pub prompt: String,
    /// The parts by the model's table, for `sdxl_core::normalize`.
    pub raw: RawRequest,
    pub received: Received,
}

/// Reads the parts of a form (as the runtime split it) by `spec`'s table. The model's own form
/// has only the table's binary image fields: its base64 aliases (`FieldKind::ImageBase64`,
/// `input_image_<i>_b64`) are the gateway's, decoded and forwarded as binary parts, so a part
/// named after one is a field the model does not have.
#[must_use]
pub fn read_form(
    spec: &'static ModelSpec,
    content_type: &str,
    parts: Vec<(String, FormPart)>,
) -> Form {
    let mut received = Received {
        content_type: content_type.to_owned(),
        boundary: boundary_of(content_type).is_some(),
        fields: Vec::with_capacity(parts.len()),
        files: Vec::new(),
    };
    let mut prompt = None;
    for (name, part) in &parts {
        received.fields.push(name.clone());
        match part {
            FormPart::File(bytes) => received.files.push(FilePart {
                field: name.clone(),
                bytes: bytes.len(),
                sha256: hex(&Sha256::digest(bytes)),
            }),
            FormPart::Text(text) if name == "prompt" && prompt.is_none() => {
                prompt = Some(text.clone());
            }
            FormPart::Text(_) => {}
        }
    }
    let (aliases, model_parts): (Vec<_>, Vec<_>) = parts
        .into_iter()
        .partition(|(name, _)| is_gateway_alias(spec, name));
    let mut raw = parse_form(spec, model_parts);
    for (name, _) in aliases {
        raw.unknown.note(name);
    }
    Form {
        prompt: prompt.unwrap_or_default(),
        raw,
        received,
    }
}

/// Checks a form's fields by the model's table, as a JSON model's inputs are checked.
///
/// # Errors
/// The first violation, thrown as the service's 5006.
pub fn validate(
    spec: &'static ModelSpec,
    raw: RawRequest,
    draw_seed: &mut dyn FnMut() -> i64,
) -> Result<Normalized, Thrown> {
    normalize(spec, raw, Policy::default(), draw_seed)
        .map_err(|violations| Thrown::invalid(&ApiError::Invalid(violations)))
}

fn is_gateway_alias(spec: &ModelSpec, name: &str) -> bool {
    matches!(
        spec.field(name).map(|f| &f.kind),
        Some(FieldKind::ImageBase64 { .. })
    )
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

#[cfg(test)]
#[path = "multipart_tests.rs"]
mod tests;
