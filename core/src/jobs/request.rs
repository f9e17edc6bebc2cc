//! A create request (`POST /v1/predictions` or `POST /v1/models/{owner}/{name}/predictions`)
//! read into one JSON request body per image, each then validated by the model's table exactly
//! as the native routes validate it, before anything is queued: a bad request is a 4xx at once,
//! never a failed job.
//!
//! `n` in the input asks for variations: image *i* is made with seed `seed + i` (a seed is drawn
//! when none is sent), as on the OpenAI route.

use std::fmt::Write as _;

use serde_json::{Map, Value};

use super::json::push_str;
use super::webhook::WebhookEvent;
use crate::models;
use crate::openai::seeds::{seed_schedule, MAX_IMAGES};
use crate::violation::{Rule, Violation};
use crate::{ApiError, ModelSpec};

/// A create request, read.
#[derive(Debug, Clone)]
pub struct CreateRequest {
    pub model: &'static ModelSpec,
    /// One JSON request body per image, in the model's own fields.
    pub bodies: Vec<String>,
    /// The input as sent, long strings shortened (so an input image is not echoed back).
    pub input_echo: Value,
    pub webhook: Option<(String, Vec<WebhookEvent>)>,
}

/// Strings longer than this are echoed shortened.
const ECHO_MAX_CHARS: usize = 4096;

/// Reads a create request. `model_in_path` is the model of `/v1/models/{owner}/{name}/...`.
///
/// # Errors
/// A body that is not a JSON object, no known model (404), and every violation of the
/// prediction's own fields (`input`, `input.n`, `webhook`, `webhook_events_filter`); the model's
/// fields are checked afterwards, per image, by the caller.
pub fn read_create(
    body: &[u8],
    model_in_path: Option<&str>,
    draw_seed: &mut dyn FnMut() -> i64,
) -> Result<CreateRequest, ApiError> {
    let parsed: Value = serde_json::from_slice(body).map_err(|e| {
        invalid(Violation::whole_request(
            Rule::Type,
            format!("the body must be a JSON object: {e}"),
        ))
    })?;
    let Value::Object(fields) = parsed else {
        return Err(invalid(Violation::whole_request(
            Rule::Type,
            "the body must be a JSON object",
        )));
    };
    let model = model_of(model_in_path, &fields)?;
    let mut violations = Vec::new();
    let empty = Map::new();
    let input = match fields.get("input") {
        Some(Value::Object(map)) => map,
        None => {
            violations.push(Violation::new("/input", Rule::Required, "is required"));
            &empty
        }
        Some(_) => {
            violations.push(Violation::new("/input", Rule::Type, "must be an object"));
            &empty
        }
    };
    let mut input_echo = Value::Object(input.clone());
    echo(&mut input_echo);
    let n = read_n(input, &mut violations);
    let webhook = read_webhook(&fields, &mut violations);

    let seeds = match model.field("seed") {
        None if n > 1 => {
            violations.push(Violation::new(
                "/input/n",
                Rule::Maximum,
                format!(
                    "must be 1: {} takes no seed, so its images cannot vary",
                    model.id
                ),
            ));
            Vec::new()
        }
        None => Vec::new(),
        Some(_) => match input.get("seed") {
            // A seed the table refuses is reported by the table, with the image's other fields.
            Some(Value::Number(s)) if s.as_i64().is_some() => {
                let base = s.as_i64().unwrap_or_default();
                match seed_schedule(base, n) {
                    Ok(seeds) => seeds,
                    Err(e) => {
                        violations.push(Violation::new(
                            "/input/seed",
                            Rule::Maximum,
                            e.to_string(),
                        ));
                        Vec::new()
                    }
                }
            }
            Some(_) => vec![],
            None => seed_schedule(draw_seed(), n).unwrap_or_default(),
        },
    };
    if !violations.is_empty() {
        return Err(ApiError::Invalid(violations));
    }
    let bodies = if seeds.is_empty() {
        vec![image_body(input, None)]
    } else {
        seeds
            .iter()
            .map(|&seed| image_body(input, Some(seed)))
            .collect()
    };
    Ok(CreateRequest {
        model,
        bodies,
        input_echo,
        webhook,
    })
}

/// The model: the path's, else `version` or `model` in the body (`@cf/owner/name`,
/// `owner/name`, or either with a `:version` suffix, which is ignored).
fn model_of(
    model_in_path: Option<&str>,
    fields: &Map<String, Value>,
) -> Result<&'static ModelSpec, ApiError> {
    let named = match model_in_path {
        Some(m) => m.to_owned(),
        None => {
            let sent = ["version", "model"]
                .iter()
                .find_map(|name| fields.get(*name).and_then(Value::as_str));
            let Some(sent) = sent else {
                return Err(invalid(Violation::new(
                    "/version",
                    Rule::Required,
                    "is required (or 'model'): a Workers AI model id such as @cf/bytedance/stable-diffusion-xl-lightning",
                )));
            };
            let sent = sent.split(':').next().unwrap_or(sent);
            if sent.starts_with("@cf/") {
                sent.to_owned()
            } else {
                format!("@cf/{sent}")
            }
        }
    };
    models::by_id(&named).ok_or_else(|| ApiError::NoSuchModel(named.chars().take(100).collect()))
}

/// One image's request body: the input without `n` (this API's field, not the model's), with
/// `seed` set to `seed` when there is one. Written as serde_json wrote the map with `n` removed and
/// `seed` inserted (keys in sorted order, the map being a `BTreeMap`), without the map's `remove`
/// and a copy of the input per image, which weighed in the Worker's bundle.
fn image_body(input: &Map<String, Value>, seed: Option<i64>) -> String {
    let mut out = String::with_capacity(256);
    let mut first = true;
    let mut key = |out: &mut String, name: &str| {
        if !std::mem::take(&mut first) {
            out.push(',');
        }
        push_str(out, name);
        out.push(':');
    };
    let mut seed = seed;
    out.push('{');
    for (name, value) in input {
        if let Some(s) = seed.filter(|_| name.as_str() >= "seed") {
            key(&mut out, "seed");
            let _ = write!(out, "{s}");
            seed = None;
            if name == "seed" {
                continue;
            }
        }
        if name == "n" {
            continue;
        }
        key(&mut out, name);
        crate::json_text::push(&mut out, value);
    }
    if let Some(s) = seed {
        key(&mut out, "seed");
        let _ = write!(out, "{s}");
    }
    out.push('}');
    out
}

/// `n` of the input.
fn read_n(input: &Map<String, Value>, violations: &mut Vec<Violation>) -> u32 {
    match input.get("n") {
        None | Some(Value::Null) => 1,
        Some(Value::Number(n)) => match n.as_u64() {
            Some(n @ 1..=8) => u32::try_from(n).unwrap_or(1),
            _ => {
                violations.push(
                    Violation::new(
                        "/input/n",
                        Rule::Maximum,
                        format!("must be a whole number from 1 to {MAX_IMAGES}"),
                    )
                    .with_limit(MAX_IMAGES),
                );
                1
            }
        },
        Some(_) => {
            violations.push(Violation::new(
                "/input/n",
                Rule::Type,
                "must be a whole number",
            ));
            1
        }
    }
}

fn read_webhook(
    fields: &Map<String, Value>,
    violations: &mut Vec<Violation>,
) -> Option<(String, Vec<WebhookEvent>)> {
    let url = match fields.get("webhook") {
        None | Some(Value::Null) => return None,
        Some(Value::String(url))
            if (url.starts_with("https://") || url.starts_with("http://")) && url.len() <= 2048 =>
        {
            url.clone()
        }
        Some(_) => {
            violations.push(Violation::new(
                "/webhook",
                Rule::Type,
                "must be an http(s) URL of at most 2048 characters",
            ));
            return None;
        }
    };
    let events = match fields.get("webhook_events_filter") {
        None | Some(Value::Null) => WebhookEvent::ALL.to_vec(),
        Some(Value::Array(names)) => {
            let mut events = Vec::new();
            for (i, name) in names.iter().enumerate() {
                match name.as_str().and_then(WebhookEvent::named) {
                    Some(e) => events.push(e),
                    None => violations.push(Violation::new(
                        format!("/webhook_events_filter/{i}"),
                        Rule::Type,
                        "must be one of start, output, logs, completed",
                    )),
                }
            }
            events
        }
        Some(_) => {
            violations.push(Violation::new(
                "/webhook_events_filter",
                Rule::Type,
                "must be an array of event names",
            ));
            Vec::new()
        }
    };
    Some((url, events))
}

/// The input as echoed in the prediction: strings over [`ECHO_MAX_CHARS`] shortened, in place
/// (a map collected anew would link a sort of its entries into the Worker).
fn echo(value: &mut Value) {
    match value {
        Value::String(s) if s.chars().count() > ECHO_MAX_CHARS => {
            *s = format!(
                "{}... ({} characters)",
                s.chars().take(64).collect::<String>(),
                s.chars().count()
            );
        }
        Value::Array(items) => items.iter_mut().for_each(echo),
        Value::Object(map) => map.values_mut().for_each(echo),
        _ => {}
    }
}

/// A model's violations of one image's body, pointed under `/input`.
#[must_use]
pub fn under_input(error: ApiError) -> ApiError {
    match error {
        ApiError::Invalid(violations) => ApiError::Invalid(
            violations
                .into_iter()
                .map(|mut v| {
                    if v.path.starts_with('/') {
                        let quoted = format!("'{}'", v.path);
                        v.path = format!("/input{}", v.path);
                        if let Some(rest) = v.message.strip_prefix(&quoted) {
                            v.message = format!("'{}'{rest}", v.path);
                        }
                    }
                    v
                })
                .collect(),
        ),
        other => other,
    }
}

fn invalid(violation: Violation) -> ApiError {
    ApiError::Invalid(vec![violation])
}

#[cfg(test)]
mod tests;
